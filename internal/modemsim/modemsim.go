package modemsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
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
)

// Defaults of the simulated modem.
const (
	DefaultIMEI     = "861234567890123"
	DefaultIMSI     = "460001234567890"
	DefaultICCID    = "89860012345678901234"
	DefaultCapacity = 30
	DefaultSMSC     = "+8613800100500"
)

// maxLine bounds a command line, as a modem's input buffer does; a longer
// line is answered with ERROR.
const maxLine = 2048

// config holds everything that can vary between simulated modems. Vendor
// profiles and fault injection are meant to grow here.
type config struct {
	imei, imsi, iccid             string
	capacity                      int
	logf                          func(format string, args ...any)
	manufacturer, model, revision string
	smsc                          string
	operator                      string
}

func defaultConfig() config {
	return config{
		imei:         DefaultIMEI,
		imsi:         DefaultIMSI,
		iccid:        DefaultICCID,
		capacity:     DefaultCapacity,
		manufacturer: "Quectel",
		model:        "EC20F",
		revision:     "EC20CEFAGR06A09M4G",
		smsc:         DefaultSMSC,
		operator:     "CHINA MOBILE",
	}
}

// Option configures a Modem.
type Option func(*config)

// WithIMEI sets the IMEI answered to AT+CGSN (default DefaultIMEI).
func WithIMEI(s string) Option { return func(c *config) { c.imei = s } }

// WithIMSI sets the IMSI answered to AT+CIMI (default DefaultIMSI).
func WithIMSI(s string) Option { return func(c *config) { c.imsi = s } }

// WithICCID sets the SIM's ICCID answered to AT+CCID (default DefaultICCID).
func WithICCID(s string) Option { return func(c *config) { c.iccid = s } }

// WithCapacity sets the number of SM storage slots (default 30).
func WithCapacity(n int) Option { return func(c *config) { c.capacity = n } }

// WithLog logs the traffic (each line received, each write) for debugging.
// logf is called only from the Modem's goroutine, never after Close returns.
func WithLog(logf func(format string, args ...any)) Option {
	return func(c *config) { c.logf = logf }
}

// Slot is an occupied SM storage slot.
type Slot struct {
	Index int    // 1-based storage index
	Stat  int    // 0 REC UNREAD, 1 REC READ
	PDU   string // PDU-mode hex (SMSC + TPDU), upper case as a modem lists it
}

// Modem is a simulated AT modem on a pty. Its methods are safe for
// concurrent use.
type Modem struct {
	master *os.File // non-blocking, owned by the server goroutine; closed by Close
	slave  *os.File // held open so the master never sees EIO between clients
	path   string
	logf   func(format string, args ...any)

	done chan struct{} // closed when the server goroutine has exited

	mu       sync.Mutex
	st       *state
	pending  []string      // indications queued by Deliver, written by the server
	changed  chan struct{} // closed and replaced whenever a command is recorded
	closed   bool
	quit     chan struct{} // closed by Close, ends WaitFor
	serveErr error         // why the server stopped, if not because of Close

	closeOnce sync.Once
	closeErr  error

	// Used only by the server goroutine.
	line     []byte
	overflow bool
}

// New opens a pty, puts its slave in raw mode and starts the modem's serving
// goroutine. Close releases it all.
func New(opts ...Option) (*Modem, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.capacity < 1 {
		return nil, fmt.Errorf("modemsim: capacity %d: must be at least 1", cfg.capacity)
	}
	master, slave, err := openPTY()
	if err != nil {
		return nil, err
	}
	m := &Modem{
		master:  master,
		slave:   slave,
		path:    slave.Name(),
		logf:    cfg.logf,
		done:    make(chan struct{}),
		st:      newState(cfg),
		changed: make(chan struct{}),
		quit:    make(chan struct{}),
	}
	go m.serve()
	return m, nil
}

// openPTY opens a pty with a raw slave and a non-blocking, pollable master.
func openPTY() (master, slave *os.File, err error) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("modemsim: open pty: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tty.Close()
		}
	}()
	// Fd puts ptmx in blocking mode; the duplicate shares the open file
	// description, so set it non-blocking only afterwards.
	fd, err := unix.Dup(int(ptmx.Fd()))
	_ = ptmx.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("modemsim: dup pty master: %w", err)
	}
	if err = unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		return nil, nil, fmt.Errorf("modemsim: pty master non-blocking: %w", err)
	}
	master = os.NewFile(uintptr(fd), "/dev/ptmx")
	// A deadline only works on a file registered with the poller; Deliver
	// and Close rely on it.
	if err = master.SetReadDeadline(time.Time{}); err != nil {
		_ = master.Close()
		return nil, nil, fmt.Errorf("modemsim: pty master is not pollable: %w", err)
	}
	if err = makeRaw(int(tty.Fd())); err != nil {
		_ = master.Close()
		return nil, nil, fmt.Errorf("modemsim: raw mode on %s: %w", tty.Name(), err)
	}
	return master, tty, nil
}

// Path returns the pty slave's device path, which the client opens.
func (m *Modem) Path() string { return m.path }

// Close stops the serving goroutine, waits for it to exit, and closes the
// pty. A client with the port open sees it hang up. Close is idempotent;
// later calls return the first call's result.
func (m *Modem) Close() error {
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.closed = true
		close(m.quit)
		m.mu.Unlock()
		// The master is pollable: closing it wakes the server's Read or
		// Write, and the descriptor is released when that call returns.
		errMaster := m.master.Close()
		<-m.done
		errSlave := m.slave.Close()
		m.mu.Lock()
		serveErr := m.serveErr
		m.mu.Unlock()
		m.closeErr = errors.Join(serveErr, errMaster, errSlave)
	})
	return m.closeErr
}

// Store puts PDUs into free slots with stat 0 (REC UNREAD) without any
// indication, as if they had arrived while the host was not listening. It
// returns the indexes used. All PDUs are validated first; when storage fills
// up, the PDUs that fit are stored and ErrStorageFull is returned with their
// indexes.
func (m *Modem) Store(pduHex ...string) ([]int, error) {
	idx, _, err := m.store(false, pduHex)
	return idx, err
}

// Deliver stores PDUs as Store does and, when AT+CNMI enabled new-message
// indications (<mt>=1), has the modem send `+CMTI: "SM",<index>` for each.
// A PDU that finds the storage full is dropped, and ErrStorageFull returned.
func (m *Modem) Deliver(pduHex ...string) ([]int, error) {
	idx, wake, err := m.store(true, pduHex)
	if wake {
		// Interrupt the server's Read so that it writes the indications.
		_ = m.master.SetReadDeadline(time.Now())
	}
	return idx, err
}

func (m *Modem) store(indicate bool, pduHex []string) (idx []int, wake bool, err error) {
	msgs := make([]message, len(pduHex))
	for i, h := range pduHex {
		msg, err := parsePDU(h)
		if err != nil {
			return nil, false, fmt.Errorf("store pdu %d: %w", i+1, err)
		}
		msgs[i] = msg
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, false, ErrClosed
	}
	for i, msg := range msgs {
		n, ok := m.st.put(msg)
		if !ok {
			return idx, wake, fmt.Errorf("store pdu %d of %d: %w", i+1, len(msgs), ErrStorageFull)
		}
		idx = append(idx, n)
		if indicate && m.st.indicationsOn() {
			m.pending = append(m.pending, fmt.Sprintf("\r\n+CMTI: \"SM\",%d\r\n", n))
			wake = true
		}
	}
	return idx, wake, nil
}

// Stored returns a snapshot of the occupied slots, sorted by index.
func (m *Modem) Stored() []Slot {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st.slotsSnapshot()
}

// Commands returns every command line received so far, in order, as sent
// (for example "AT+CMGD=1"), without line endings. Blank lines and the ESC
// lines that at.Init sends are not included.
func (m *Modem) Commands() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.st.cmds)
}

// WaitFor waits until pred(Commands()) is true, ctx ends, or the modem is
// closed (ErrClosed). pred is called without locks held, once at first and
// again after each new command. A command is recorded once it has been
// executed, so when pred sees it its effect is visible in Stored.
func (m *Modem) WaitFor(ctx context.Context, pred func(cmds []string) bool) error {
	for {
		m.mu.Lock()
		cmds := slices.Clone(m.st.cmds)
		changed := m.changed
		m.mu.Unlock()
		if pred(cmds) {
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

// serve is the Modem's one goroutine: it reads command lines from the
// master, executes them, and writes replies and queued indications.
func (m *Modem) serve() {
	defer close(m.done)
	buf := make([]byte, 1024)
	for {
		// Clear a wake-up deadline before looking at the queue: a Deliver
		// that queues after this sets the deadline again and interrupts
		// the Read below.
		if err := m.master.SetReadDeadline(time.Time{}); err != nil {
			m.stop(err)
			return
		}
		if err := m.flushIndications(); err != nil {
			m.stop(err)
			return
		}
		n, err := m.master.Read(buf)
		if n > 0 {
			if werr := m.feed(buf[:n]); werr != nil {
				m.stop(werr)
				return
			}
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			m.stop(err)
			return
		}
	}
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
func (m *Modem) feed(p []byte) error {
	for _, b := range p {
		switch b {
		case '\r', '\n':
			line, overflow := string(m.line), m.overflow
			m.line, m.overflow = m.line[:0], false
			if err := m.handleLine(line, overflow); err != nil {
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

func (m *Modem) handleLine(line string, overflow bool) error {
	if !overflow && isBlank(line) {
		return nil
	}
	if m.logf != nil {
		m.logf("modemsim: rx %q", line)
	}
	// Indications queued before this line arrived go out before its reply.
	if err := m.flushIndications(); err != nil {
		return err
	}
	m.mu.Lock()
	var reply string
	if overflow {
		reply = m.st.overflowReply(line)
	} else {
		reply = m.st.execLine(line)
	}
	close(m.changed)
	m.changed = make(chan struct{})
	m.mu.Unlock()
	if err := m.write(reply); err != nil {
		return err
	}
	return m.flushIndications()
}

func (m *Modem) flushIndications() error {
	m.mu.Lock()
	pending := m.pending
	m.pending = nil
	m.mu.Unlock()
	for _, s := range pending {
		if err := m.write(s); err != nil {
			return err
		}
	}
	return nil
}

// write sends bytes to the client. Every byte the modem emits goes through
// here, and only the server goroutine calls it.
func (m *Modem) write(s string) error {
	if m.logf != nil {
		m.logf("modemsim: tx %q", s)
	}
	_, err := io.WriteString(m.master, s)
	return err
}

func isBlank(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' && s[i] != '\t' {
			return false
		}
	}
	return true
}
