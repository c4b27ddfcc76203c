package modemsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Errors returned by the Modem. Callers test them with errors.Is.
var (
	// ErrClosed is returned by methods called after Close.
	ErrClosed = errors.New("modemsim: modem closed")
	// ErrStorageFull is returned by Store and Deliver when no free slot is
	// left: the message is dropped, as a real network's would be.
	ErrStorageFull = errors.New("modemsim: SM storage full")
	// ErrInvalidPDU is returned by Store and Deliver for a string that is not
	// a PDU-mode hex PDU (SMSC address followed by a TPDU).
	ErrInvalidPDU = errors.New("modemsim: invalid PDU")
	// ErrUnplugged is returned by Unplug when the modem is already unplugged.
	ErrUnplugged = errors.New("modemsim: modem unplugged")
	// ErrPlugged is returned by Replug when the modem is plugged in.
	ErrPlugged = errors.New("modemsim: modem already plugged in")
)

// linkName is the name of the stable symlink in the Modem's directory, like
// the udev rule's /dev/bindpay-modem on a real box.
const linkName = "bindpay-modem"

// Slot is an occupied SM storage slot.
type Slot struct {
	Index int    // storage index as the modem reports it (see WithIndexBase)
	Stat  int    // 0 REC UNREAD, 1 REC READ
	PDU   string // PDU-mode hex (SMSC + TPDU), upper case as a modem lists it
}

// Status is a snapshot of the simulated modem's condition, for tests that
// wait for a fault or a window to take effect (WaitStatus).
type Status struct {
	Plugged  bool   // false between Unplug and Replug
	Device   string // the pty slave Path points to; "" while unplugged
	Hung     bool
	PowerOns int    // power-ons so far, counted once their first boot lines are out: 1 after New, +1 per Reset and Replug
	Echo     bool   // echo is on
	CNMI     [5]int // the +CNMI settings
	SIM      string // SIMReady, SIMPIN or SIMNotInserted
	SIMBusy  bool   // within the WithSIMBusyFor window
	SMSReady bool   // the WithSMSReadyAfter window is over
}

// port is one pty: the modem as one USB enumeration presents it.
type port struct {
	master *os.File      // non-blocking, used by the server only; closed by Unplug or Close
	slave  *os.File      // held open so the master never sees EIO between clients
	dev    string        // the slave's path, /dev/pts/N
	gone   chan struct{} // closed when the port is unplugged or the Modem closed
}

type actionKind int

const (
	actLine  actionKind = iota // an unsolicited line, framed with line endings
	actRaw                     // bytes written as they are
	actReset                   // the modem restarts
)

// action is work handed to the server goroutine.
type action struct {
	kind actionKind
	text string
}

// Modem is a simulated AT modem on a pty. Its methods are safe for
// concurrent use.
type Modem struct {
	cfg  config
	dir  string // private directory holding the symlink
	path string // dir/bindpay-modem → the current pty slave
	logf func(format string, args ...any)

	done chan struct{} // closed when the server goroutine has exited

	plugMu sync.Mutex // serialises Unplug, Replug and Close

	mu       sync.Mutex
	st       *state
	port     *port         // nil while unplugged
	plugged  chan struct{} // closed by Replug; the server waits on it while unplugged
	queue    []action      // for the server, in order
	hung     bool
	powerOns int
	changed  chan struct{} // closed and replaced on every recorded command or status change
	closed   bool
	quit     chan struct{} // closed by Close
	serveErr error         // why the server stopped, if not because of Close

	closeOnce sync.Once
	closeErr  error

	// Used only by the server goroutine.
	line         []byte
	overflow     bool
	noise        *noiser
	idle         *noiser
	simBusyUntil time.Time // zero when no window is running
	smsReadyAt   time.Time
	boot         []bootLine // boot lines not yet written
	lastTx       time.Time
	paceTimer    *time.Timer
}

// New opens a pty, puts its slave in raw mode, links Path to it and starts
// the modem's serving goroutine, which powers the modem on. Close releases
// it all.
func New(opts ...Option) (*Modem, error) {
	cfg, err := buildConfig(opts)
	if err != nil {
		return nil, fmt.Errorf("modemsim: %w", err)
	}
	dir, err := os.MkdirTemp("", "modemsim-")
	if err != nil {
		return nil, fmt.Errorf("modemsim: %w", err)
	}
	p, err := openPort()
	if err == nil {
		err = os.Symlink(p.dev, filepath.Join(dir, linkName))
		if err != nil {
			p.close()
		}
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("modemsim: %w", err)
	}
	idleCfg := cfg.noise
	if len(idleCfg.urcs) == 0 {
		idleCfg.urcs = defaultURCs
	}
	m := &Modem{
		cfg:     cfg,
		dir:     dir,
		path:    filepath.Join(dir, linkName),
		logf:    cfg.logf,
		done:    make(chan struct{}),
		st:      newState(cfg),
		port:    p,
		plugged: make(chan struct{}),
		queue:   []action{{kind: actReset}},
		changed: make(chan struct{}),
		quit:    make(chan struct{}),
		noise:   newNoiser(cfg.noise, cfg.lineEnding, 0),
		idle:    newNoiser(idleCfg, cfg.lineEnding, 1),
	}
	close(m.plugged)
	go m.serve()
	return m, nil
}

// Path returns the modem's device path, which the client opens: a symlink
// in a private directory to the current pty slave, stable across Unplug
// and Replug, and absent between them.
func (m *Modem) Path() string { return m.path }

// Device returns the pty slave that Path currently links to, or "" while
// the modem is unplugged.
func (m *Modem) Device() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.port == nil {
		return ""
	}
	return m.port.dev
}

// Close stops the serving goroutine, waits for it to exit, closes the pty
// and removes Path. A client with the port open sees it hang up. Close is
// idempotent; later calls return the first call's result.
func (m *Modem) Close() error {
	m.closeOnce.Do(func() {
		m.plugMu.Lock()
		defer m.plugMu.Unlock()
		m.mu.Lock()
		m.closed = true
		close(m.quit)
		p := m.port
		m.port = nil
		if p != nil {
			close(p.gone)
		}
		m.mu.Unlock()
		// The master is pollable: closing it wakes the server's Read or
		// Write, and returns once the descriptor is really closed.
		var errMaster, errSlave error
		if p != nil {
			errMaster = p.master.Close()
		}
		<-m.done
		if p != nil {
			errSlave = p.slave.Close()
		}
		errDir := os.RemoveAll(m.dir)
		m.mu.Lock()
		serveErr := m.serveErr
		m.mu.Unlock()
		m.closeErr = errors.Join(serveErr, errMaster, errSlave, errDir)
	})
	return m.closeErr
}

// Store puts PDUs into free slots with stat 0 (REC UNREAD) without any
// indication, as if they had arrived while the host was not listening. It
// returns the indexes used. All PDUs are validated first; when storage fills
// up, the PDUs that fit are stored and ErrStorageFull is returned with their
// indexes.
func (m *Modem) Store(pduHex ...string) ([]int, error) {
	return m.store(false, pduHex)
}

// Deliver stores PDUs as Store does and, when AT+CNMI enabled new-message
// indications (<mt>=1), has the modem send `+CMTI: "SM",<index>` for each.
// A PDU that finds the storage full is dropped, without +CMTI, and
// ErrStorageFull returned; the modem then writes its memory-full URC if it
// has one (WithMemoryFullURC). While the modem is hung or unplugged the
// messages are stored and their indications lost.
func (m *Modem) Deliver(pduHex ...string) ([]int, error) {
	return m.store(true, pduHex)
}

func (m *Modem) store(indicate bool, pduHex []string) ([]int, error) {
	msgs := make([]message, len(pduHex))
	for i, h := range pduHex {
		msg, err := parsePDU(h)
		if err != nil {
			return nil, fmt.Errorf("store pdu %d: %w", i+1, err)
		}
		msgs[i] = msg
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	var idx []int
	var err error
	listening := indicate && m.port != nil && !m.hung
	queued := false
	for i, msg := range msgs {
		n, ok := m.st.put(msg)
		if !ok {
			if listening && m.cfg.memFullURC != "" {
				m.queue = append(m.queue, action{kind: actLine, text: m.cfg.memFullURC})
				queued = true
			}
			err = fmt.Errorf("store pdu %d of %d: %w", i+1, len(msgs), ErrStorageFull)
			break
		}
		idx = append(idx, n)
		if listening && m.st.indicationsOn() {
			m.queue = append(m.queue, action{kind: actLine, text: cmti(n)})
			queued = true
		}
	}
	p := m.port
	m.mu.Unlock()
	if queued {
		wake(p)
	}
	return idx, err
}

// wake interrupts the server's Read on p so that it looks at its queue.
// The master is registered with the poller, so a deadline in the past
// ends a blocked Read at once.
func wake(p *port) {
	if p != nil {
		_ = p.master.SetReadDeadline(time.Unix(1, 0))
	}
}

// Stored returns a snapshot of the occupied slots, sorted by index.
func (m *Modem) Stored() []Slot {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st.slotsSnapshot()
}

// Commands returns every command line received so far, in order, as sent
// (for example "AT+CMGD=1"), without line endings. Blank lines and the ESC
// lines that at.Init sends are not included. Lines received while the
// modem was hung are included although they were not executed.
func (m *Modem) Commands() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.st.cmds)
}

// Status returns a snapshot of the modem's condition.
func (m *Modem) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.statusLocked()
}

func (m *Modem) statusLocked() Status {
	s := Status{
		Plugged:  m.port != nil,
		Hung:     m.hung,
		PowerOns: m.powerOns,
		Echo:     m.st.echo,
		CNMI:     m.st.cnmi,
		SIM:      m.st.sim,
		SIMBusy:  m.st.simBusy,
		SMSReady: m.st.smsReady,
	}
	if m.port != nil {
		s.Device = m.port.dev
	}
	return s
}

// WaitFor waits until pred(Commands()) is true, ctx ends, or the modem is
// closed (ErrClosed). pred is called without locks held, once at first and
// again after each change. A command is recorded once it has been
// executed, so when pred sees it its effect is visible in Stored.
func (m *Modem) WaitFor(ctx context.Context, pred func(cmds []string) bool) error {
	return waitUntil(ctx, m, func() []string { return slices.Clone(m.st.cmds) }, pred)
}

// WaitStatus waits until pred(Status()) is true, ctx ends, or the modem is
// closed (ErrClosed). pred is called without locks held, once at first and
// again after each change.
func (m *Modem) WaitStatus(ctx context.Context, pred func(Status) bool) error {
	return waitUntil(ctx, m, m.statusLocked, pred)
}

// waitUntil waits until pred holds for a snapshot taken with m.mu held.
func waitUntil[T any](ctx context.Context, m *Modem, snapshot func() T, pred func(T) bool) error {
	for {
		m.mu.Lock()
		v, changed := snapshot(), m.changed
		m.mu.Unlock()
		if pred(v) {
			return nil
		}
		select {
		case <-changed:
		case <-m.quit:
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// broadcastLocked wakes the waiters. m.mu must be held.
func (m *Modem) broadcastLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// serve is the Modem's one goroutine: for each port in turn it reads
// command lines from the master, executes them, and writes replies,
// queued lines and boot lines.
func (m *Modem) serve() {
	defer close(m.done)
	m.paceTimer = time.NewTimer(time.Hour)
	m.paceTimer.Stop()
	for {
		m.mu.Lock()
		p, plugged, closed := m.port, m.plugged, m.closed
		m.mu.Unlock()
		if closed {
			return
		}
		if p == nil {
			select {
			case <-plugged:
			case <-m.quit:
			}
			continue
		}
		err := m.servePort(p)
		select {
		case <-p.gone: // unplugged or closed: not a failure
			continue
		default:
		}
		m.stop(err)
		return
	}
}

// servePort serves one pty until it fails or goes away.
func (m *Modem) servePort(p *port) error {
	buf := make([]byte, 1024)
	m.line, m.overflow = m.line[:0], false
	for {
		if err := m.step(p, time.Now()); err != nil {
			return err
		}
		// Set the deadline before looking at the queue: a request queued
		// after the look sets a deadline in the past after this one, and
		// so interrupts the Read below.
		if err := p.master.SetReadDeadline(m.nextDeadline()); err != nil {
			return err
		}
		if m.pending(p) {
			continue
		}
		n, err := p.master.Read(buf)
		if n > 0 {
			if m.cfg.observe != nil {
				now := time.Now()
				m.cfg.observe(true, now, now, buf[:n])
			}
			if werr := m.feed(p, buf[:n]); werr != nil {
				return werr
			}
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
	}
}

// pending reports whether the queue holds work the server can do now on p.
func (m *Modem) pending(p *port) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.port != p {
		return true // step tells the server to let p go
	}
	if !m.hung {
		return len(m.queue) > 0
	}
	return slices.ContainsFunc(m.queue, func(a action) bool { return a.kind == actReset })
}

// nextDeadline is when the server must next wake on its own: the end of a
// window, or the time for an idle URC. Zero when there is nothing.
func (m *Modem) nextDeadline() time.Time {
	var d time.Time
	earliest := func(t time.Time) {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	earliest(m.simBusyUntil)
	earliest(m.smsReadyAt)
	if m.cfg.idleURCEvery > 0 {
		earliest(m.lastTx.Add(m.cfg.idleURCEvery))
	}
	return d
}

// step does what is due at now: windows that end, queued actions, boot
// lines whose time has come, an idle URC.
func (m *Modem) step(p *port, now time.Time) error {
	m.mu.Lock()
	if m.port != p {
		// Unplugged, perhaps already replugged: the queue belongs to the
		// next port.
		m.mu.Unlock()
		return errPortGone
	}
	changed := false
	if !m.simBusyUntil.IsZero() && !now.Before(m.simBusyUntil) {
		m.simBusyUntil, m.st.simBusy, changed = time.Time{}, false, true
	}
	if !m.smsReadyAt.IsZero() && !now.Before(m.smsReadyAt) {
		m.smsReadyAt, m.st.smsReady, changed = time.Time{}, true, true
	}
	if changed {
		m.broadcastLocked()
	}
	var actions []action
	if i := slices.IndexFunc(m.queue, func(a action) bool { return a.kind == actReset }); m.hung && i >= 0 {
		// A hung modem writes nothing, but a restart un-hangs it; what was
		// queued before the restart is lost with the old power cycle.
		actions, m.queue = m.queue[i:], nil
	} else if !m.hung {
		actions, m.queue = m.queue, nil
	}
	m.mu.Unlock()

	for len(actions) > 0 {
		if actions[0].kind == actReset {
			if err := m.powerOn(p, now); err != nil {
				return err
			}
			actions = actions[1:]
			continue
		}
		n := 1
		for n < len(actions) && actions[n].kind != actReset {
			n++
		}
		if err := m.writeLines(p, actions[:n]); err != nil {
			return err
		}
		actions = actions[n:]
	}
	if err := m.writeBootLines(p); err != nil {
		return err
	}
	if m.cfg.idleURCEvery > 0 && !now.Before(m.lastTx.Add(m.cfg.idleURCEvery)) {
		m.mu.Lock()
		hung, curc := m.hung, m.st.curc
		m.mu.Unlock()
		if hung || curc == 0 {
			m.lastTx = now // nothing to say; look again a period later
			return nil
		}
		return m.write(p, frameLine(m.cfg.lineEnding, m.idle.urc()))
	}
	return nil
}

// bootLine is a line the modem writes as it starts, once its gate opens.
type bootLine struct {
	text string
	gate gate
}

type gate int

const (
	gateNone gate = iota // at power-on
	gateSIM              // once the SIM is no longer busy ("+CPIN: …")
	gateSMS              // once SMS is ready and the SIM usable ("SMS Ready")
)

// isSMSReadyLine reports whether a boot line announces SMS readiness.
func isSMSReadyLine(l string) bool {
	u := strings.ToUpper(l)
	return strings.Contains(u, "SMS READY") || strings.Contains(u, "SMS DONE")
}

// bootPlan gives each boot line its gate: a +CPIN line waits for the SIM,
// an SMS-ready line for SMS, and every line for the lines before it. A
// "+CPIN: READY" line reports the SIM's actual state.
func bootPlan(lines []string, sim string) []bootLine {
	out := make([]bootLine, 0, len(lines))
	g := gateNone
	for _, l := range lines {
		switch {
		case isSMSReadyLine(l):
			g = max(g, gateSMS)
		case strings.HasPrefix(strings.ToUpper(l), "+CPIN:"):
			g = max(g, gateSIM)
			if strings.EqualFold(l, "+CPIN: READY") {
				l = "+CPIN: " + sim
			}
		}
		out = append(out, bootLine{text: l, gate: g})
	}
	return out
}

// powerOn restarts the modem: settings and windows start afresh, partial
// input is forgotten, and the boot lines that are due go out.
func (m *Modem) powerOn(p *port, now time.Time) error {
	m.mu.Lock()
	m.st.powerOn()
	m.hung = false
	m.boot = bootPlan(m.cfg.bootLines, m.st.sim)
	m.mu.Unlock()
	m.line, m.overflow = m.line[:0], false
	m.simBusyUntil, m.smsReadyAt = time.Time{}, time.Time{}
	if m.cfg.simBusyFor > 0 {
		m.simBusyUntil = now.Add(m.cfg.simBusyFor)
	}
	if m.cfg.smsReadyAfter > 0 {
		m.smsReadyAt = now.Add(m.cfg.smsReadyAfter)
	}
	m.lastTx = now
	err := m.writeBootLines(p)
	// Counted once the first boot lines are out, so that a test that
	// waits for the count finds them ahead of its next command.
	m.mu.Lock()
	m.powerOns++
	m.broadcastLocked()
	m.mu.Unlock()
	return err
}

// writeBootLines writes the boot lines whose gates are open, in order.
func (m *Modem) writeBootLines(p *port) error {
	if len(m.boot) == 0 {
		return nil
	}
	m.mu.Lock()
	open := func(g gate) bool {
		switch g {
		case gateSIM:
			return !m.st.simBusy
		case gateSMS:
			return m.st.smsReady && !m.st.simBusy && m.st.sim == SIMReady
		}
		return true
	}
	hung := m.hung
	n := 0
	for n < len(m.boot) && open(m.boot[n].gate) {
		n++
	}
	m.mu.Unlock()
	if hung || n == 0 {
		return nil
	}
	lines := make([]action, n)
	for i, b := range m.boot[:n] {
		lines[i] = action{kind: actLine, text: b.text}
	}
	m.boot = m.boot[n:]
	return m.writeLines(p, lines)
}

// writeLines writes unsolicited lines and raw bytes in one write, with a
// noise opportunity before each and after the last.
func (m *Modem) writeLines(p *port, lines []action) error {
	urcsOn := m.urcsOn()
	var b strings.Builder
	for _, l := range lines {
		m.noise.inject(&b, urcsOn)
		if l.kind == actRaw {
			b.WriteString(l.text)
		} else {
			b.WriteString(frameLine(m.cfg.lineEnding, l.text))
		}
	}
	m.noise.inject(&b, urcsOn)
	return m.write(p, b.String())
}

func (m *Modem) urcsOn() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st.curc != 0
}

// stop records why the server stopped, unless it stopped because of Close.
func (m *Modem) stop(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.serveErr = fmt.Errorf("modemsim: serve %s: %w", m.path, err)
	if m.logf != nil {
		m.logf("%v", m.serveErr)
	}
}

// feed splits input into command lines and handles each one.
func (m *Modem) feed(p *port, in []byte) error {
	for _, b := range in {
		switch b {
		case '\r', '\n':
			line, overflow := string(m.line), m.overflow
			m.line, m.overflow = m.line[:0], false
			if err := m.handleLine(p, line, overflow); err != nil {
				return err
			}
		case 0x1b: // ESC discards what came before it on the line.
			m.line, m.overflow = m.line[:0], false
		default:
			if len(m.line) >= maxLine {
				m.overflow = true
				continue
			}
			m.line = append(m.line, b)
		}
	}
	return nil
}

func (m *Modem) handleLine(p *port, line string, overflow bool) error {
	if !overflow && isBlank(line) {
		return nil
	}
	if m.logf != nil {
		m.logf("modemsim: rx %q", line)
	}
	// Windows that ended and lines queued before this line arrived take
	// effect, or go out, before its reply.
	if err := m.step(p, time.Now()); err != nil {
		return err
	}
	m.mu.Lock()
	if m.hung {
		m.st.cmds = append(m.st.cmds, line)
		m.broadcastLocked()
		m.mu.Unlock()
		return nil
	}
	var r reply
	if overflow {
		r = m.st.overflowReply(line)
	} else {
		r = m.st.execLine(line)
	}
	urcsOn := m.st.curc != 0
	m.broadcastLocked()
	m.mu.Unlock()
	text := r.frame(m.cfg.lineEnding, func(b *strings.Builder) { m.noise.inject(b, urcsOn) })
	if err := m.write(p, text); err != nil {
		return err
	}
	// A PIN entered may have let the remaining boot lines go.
	return m.step(p, time.Now())
}

// errPortGone ends a paced write when the port is unplugged or the Modem
// closed; serve tells it from a failure by p.gone.
var errPortGone = errors.New("port gone")

// write sends bytes to the client. Every byte the modem emits goes through
// here, and only the server goroutine calls it. With WithBaud the bytes are
// released at the pace of the simulated UART; Unplug and Close interrupt
// the wait.
func (m *Modem) write(p *port, s string) error {
	if s == "" {
		return nil
	}
	if m.logf != nil {
		m.logf("modemsim: tx %q", s)
	}
	start := time.Now()
	defer func() { m.lastTx = time.Now() }()
	if m.cfg.baud <= 0 {
		_, err := io.WriteString(p.master, s)
		m.observeWrite(err, start, s)
		return err
	}
	prev := 0
	for _, c := range paceChunks(len(s), m.cfg.baud) {
		if d := time.Until(start.Add(c.at)); d > 0 {
			m.paceTimer.Reset(d)
			select {
			case <-m.paceTimer.C:
			case <-p.gone:
				m.paceTimer.Stop()
				return errPortGone
			}
		}
		if _, err := io.WriteString(p.master, s[prev:c.end]); err != nil {
			return err
		}
		prev = c.end
	}
	m.observeWrite(nil, start, s)
	return nil
}

// observeWrite reports a write that began at start and has just ended to
// the WithObserver function, if any.
func (m *Modem) observeWrite(err error, start time.Time, s string) {
	if m.cfg.observe != nil && err == nil {
		m.cfg.observe(false, start, time.Now(), []byte(s))
	}
}

func isBlank(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' && s[i] != '\t' {
			return false
		}
	}
	return true
}
