package modem

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/warthog618/modem/at"
)

// Errors of a session. A person reads them in the agent's log, so each says
// what the modem did.
var (
	// ErrClosed: the port was closed or vanished (unplugged, re-enumerated).
	ErrClosed = errors.New("modem port closed")
	// ErrUnresponsive: a command got no final result in time. The session is
	// then suspect (a late reply would complete the next command) and must
	// be replaced.
	ErrUnresponsive = errors.New("modem not answering")
	// ErrSIM: the SIM is missing, locked or not ready.
	ErrSIM = errors.New("SIM not ready")
	// ErrUnsupported: the modem refused a command the agent needs.
	ErrUnsupported = errors.New("modem refused a required command")
	// ErrModemReset: the modem restarted during the session (it printed its
	// boot line again) and forgot its settings.
	ErrModemReset = errors.New("modem restarted")
	// ErrPermanent marks an Open error that retrying in this process
	// cannot cure (the service manager's device policy was fixed before the
	// serial driver appeared): Receiver.Run returns it.
	ErrPermanent = errors.New("needs a restart of the agent")
	// ErrNotConnected: no working session at the moment (a Delete while the
	// port is being reopened).
	ErrNotConnected = errors.New("modem not connected")
	// ErrReplyTooLong: a reply went past maxReplyLines or maxReplyBytes and
	// was cut; what it said is not complete.
	ErrReplyTooLong = errors.New("modem reply too long, cut")
	// ErrLength: the PDU of a slot does not have the length its +CMGL or
	// +CMGR header gives, again and again: it was not read correctly.
	ErrLength = errors.New("PDU length differs from its header")
)

// Session is one AT session on one open port. Its methods are called from
// one goroutine at a time (the Receiver's loop); package at serialises the
// commands anyway.
type Session struct {
	at      *at.AT
	filter  *lineFilter
	timeout time.Duration
	baud    int
	sleep   func(ctx context.Context, d time.Duration) error

	// +CMTI indications, coalesced: the filter's goroutine records them
	// under mu and signals wake (a buffer of one); the owner takes them all
	// at once with takeIndications. However many lines arrive, this holds
	// at most maxPendingIndexes indexes.
	mu      sync.Mutex
	pending pendingIndications
	readMem string // the storage AT+CMGR reads (mem1), as AT+CPMS? names it
	slots   int    // the storage's size as AT+CPMS? last said; 0 unknown
	wake    chan struct{}

	resets   chan struct{} // a boot line (RDY) arrived: the modem restarted
	stop     chan struct{} // closed by Stop
	stopOnce sync.Once
}

// maxPendingIndexes bounds the distinct indexes remembered between two
// takes; more mean a re-scan instead.
const maxPendingIndexes = 64

// maxIndex is the largest storage index believed; a +CMTI naming a larger
// one is garbled.
const maxIndex = 9999

// pendingIndications is what +CMTI lines announced since the owner last
// looked.
type pendingIndications struct {
	Indexes []int // distinct, in order of arrival
	// Rescan: the storage must be listed again: more distinct indexes than
	// maxPendingIndexes, a garbled line or one naming another storage.
	Rescan bool
	// Garbled is the last unparseable +CMTI line; Foreign the last storage
	// named that is not the one the agent reads (for the log).
	Garbled, Foreign string
}

// SessionConfig tunes a Session; zero values take the defaults.
type SessionConfig struct {
	// Timeout bounds each AT command (default 5 s).
	Timeout time.Duration
	// Now and Sleep are the clock (defaults: time.Now and a timer that ends
	// with ctx).
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Baud is the port's speed, which bounds how long a listing of the
	// whole storage takes (default 115200).
	Baud int
}

// NewSession starts an AT session on rw. The indications are registered
// before anything is read, so that a URC the modem sends before the first
// command is not lost (MODEM-NOTES pitfall 7).
func NewSession(rw io.ReadWriter, cfg SessionConfig) *Session {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleepCtx
	}
	if cfg.Baud <= 0 {
		cfg.Baud = 115200
	}
	s := &Session{
		timeout: cfg.Timeout,
		baud:    cfg.Baud,
		sleep:   cfg.Sleep,
		readMem: "SM",
		wake:    make(chan struct{}, 1),
		resets:  make(chan struct{}, 1),
		stop:    make(chan struct{}),
	}
	// The filter takes the indications out of the stream before package at
	// sees them (it would start a goroutine per line), so none is lost
	// before the first command either (MODEM-NOTES pitfall 7).
	s.filter = newLineFilter(rw, cfg.Now, s.onURC)
	s.at = at.New(struct {
		io.Reader
		io.Writer
	}{s.filter, writer{w: rw, f: s.filter}},
		at.WithTimeout(cfg.Timeout))
	return s
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// onURC is offered every line by the filter, in package at's reader
// goroutine; it takes the lines the agent acts on and never blocks.
// Exact, colon-terminated prefixes: "+CMT" would match "+CMTI:"
// (MODEM-NOTES pitfall 6).
func (s *Session) onURC(line []byte) bool {
	switch {
	case bytes.HasPrefix(line, []byte("+CMTI:")):
		s.filter.countIndication()
		s.onCMTI(line)
		return true
	case bytes.HasPrefix(line, []byte("RDY")):
		// The modem printed its boot line again: it has restarted and
		// forgotten its settings.
		select {
		case s.resets <- struct{}{}:
		default: // one pending reset is enough
		}
		return true
	}
	return false
}

// onCMTI records one +CMTI line: repeats of an index collapse, and a line
// that cannot be read by index asks for a re-scan. It allocates nothing
// for a repeat, so a storm of them costs no memory.
func (s *Session) onCMTI(line []byte) {
	mem, idx, ok := cutCMTI(line)
	s.mu.Lock()
	p := &s.pending
	switch {
	case !ok || idx > maxIndex:
		p.Rescan = true
		if p.Garbled == "" {
			p.Garbled = string(line)
		}
	case len(mem) > 0 && !bytes.EqualFold(mem, []byte(s.readMem)):
		// The message is in another storage: AT+CMGR=idx would read slot
		// idx of the one the agent reads, another message or none.
		p.Rescan = true
		if p.Foreign == "" {
			p.Foreign = string(mem)
		}
	case slices.Contains(p.Indexes, idx):
	case len(p.Indexes) >= maxPendingIndexes:
		p.Rescan, p.Indexes = true, nil
	default:
		p.Indexes = append(p.Indexes, idx)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default: // the owner has not looked yet; it will see this one too
	}
}

// takeIndications returns what +CMTI lines announced since the last call.
func (s *Session) takeIndications() pendingIndications {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pending
	s.pending = pendingIndications{}
	return p
}

// Resets delivers a value when the modem restarted during the session.
func (s *Session) Resets() <-chan struct{} { return s.resets }

// parseCMTI parses `+CMTI: "SM",3` into its storage ("SM"; "" when the
// modem leaves it out) and index. The name may be unquoted.
func parseCMTI(line string) (mem string, index int, err error) {
	m, n, ok := cutCMTI([]byte(line))
	if !ok {
		return "", 0, fmt.Errorf("bad +CMTI line: %q", line)
	}
	return string(m), n, nil
}

// cutCMTI is parseCMTI without allocating: mem is a part of line.
func cutCMTI(line []byte) (mem []byte, index int, ok bool) {
	rest, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("+CMTI:"))
	if !ok {
		return nil, 0, false
	}
	num := rest
	if i := bytes.IndexByte(rest, ','); i >= 0 {
		mem, num = bytes.TrimSpace(rest[:i]), rest[i+1:]
		if q, ok := bytes.CutPrefix(mem, []byte(`"`)); ok {
			if mem, ok = bytes.CutSuffix(q, []byte(`"`)); !ok {
				return nil, 0, false
			}
		}
		if len(mem) == 0 || len(mem) > 4 {
			return nil, 0, false
		}
		for _, c := range mem {
			if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
				return nil, 0, false
			}
		}
	}
	num = bytes.TrimSpace(num)
	if len(num) == 0 || len(num) > 6 {
		return nil, 0, false
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return nil, 0, false
		}
		index = index*10 + int(c-'0')
	}
	return mem, index, true
}

// Indications is signalled when +CMTI lines arrived; takeIndications says
// what they announced.
func (s *Session) Indications() <-chan struct{} { return s.wake }

// Anomalies is signalled when the line filter dropped something new
// (over-long lines, a reply cut); Dropped says what.
func (s *Session) Anomalies() <-chan struct{} { return s.filter.anomaly }

// Dropped returns what the line filter dropped in this session so far.
func (s *Session) Dropped() filterStats { return s.filter.counts() }

// Closed is closed when the port is gone.
func (s *Session) Closed() <-chan struct{} { return s.at.Closed() }

// Stop releases the indication handlers. The caller closes the port, which
// ends package at's goroutines.
func (s *Session) Stop() { s.stopOnce.Do(func() { close(s.stop) }) }

// command issues one AT command (without the "AT") and maps the library's
// errors onto ours.
func (s *Session) command(ctx context.Context, cmd string, timeout time.Duration) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	info, err := s.at.Command(cmd, at.WithTimeout(timeout))
	if s.filter.takeTruncated() && err == nil {
		return nil, fmt.Errorf("AT%s: %w (over %d lines or %d bytes)", cmd, ErrReplyTooLong, maxReplyLines, maxReplyBytes)
	}
	switch {
	case err == nil:
		return info, nil
	case errors.Is(err, at.ErrDeadlineExceeded):
		// Some modems answer a query and never send the final OK
		// ("+CPIN: READY" alone). The answer is usable once the line is
		// known to be in step again; anything else means the session can
		// no longer be trusted: a late reply would complete the next
		// command (MODEM-NOTES pitfall 2).
		if id := cmdID(cmd); id != "" && prefixed(info, id+":") != "" {
			if rerr := s.resync(ctx); rerr == nil {
				return info, nil
			}
		}
		return nil, fmt.Errorf("AT%s: %w (no reply in %v)", cmd, ErrUnresponsive, timeout)
	case errors.Is(err, at.ErrClosed):
		return nil, fmt.Errorf("AT%s: %w", cmd, ErrClosed)
	default:
		return info, fmt.Errorf("AT%s: %w", cmd, err)
	}
}

// cmdID is the part of a command its information lines are prefixed with:
// "+CPIN" for "+CPIN?".
func cmdID(cmd string) string {
	if i := strings.IndexAny(cmd, "=?"); i >= 0 {
		return cmd[:i]
	}
	return cmd
}

// Quiet-line resynchronisation (MODEM-NOTES "After a crash or a reopen").
const (
	quietGap   = 150 * time.Millisecond // the line counts as quiet after this
	quietLimit = 3 * time.Second        // a chattering modem is not waited for longer
	quietPoll  = 50 * time.Millisecond
)

// waitQuiet waits until the modem has sent nothing for quietGap (at most
// quietLimit). Package at drops whatever arrives while no command is
// pending, so a reply still on its way from before is discarded.
func (s *Session) waitQuiet(ctx context.Context) error {
	for waited := time.Duration(0); waited < quietLimit; waited += quietPoll {
		if s.filter.quietFor() >= quietGap {
			return nil
		}
		if err := s.sleep(ctx, quietPoll); err != nil {
			return err
		}
	}
	return nil
}

// resync brings the command stream back in step: wait for quiet, then AT
// until a clean OK.
func (s *Session) resync(ctx context.Context) error {
	if err := s.waitQuiet(ctx); err != nil {
		return err
	}
	var err error
	for range 3 {
		if _, err = s.at.Command("", at.WithTimeout(s.timeout)); err == nil {
			return nil
		}
		if errors.Is(err, at.ErrClosed) {
			return fmt.Errorf("resynchronise: %w", ErrClosed)
		}
	}
	return fmt.Errorf("resynchronise: %w (%w)", ErrUnresponsive, err)
}

// Init brings the modem into a known state: any half-typed command
// escaped, stale output from before the port was (re)opened drained, echo
// off, numeric errors.
func (s *Session) Init(ctx context.Context) error {
	s.at.Escape()
	if err := s.waitQuiet(ctx); err != nil {
		return err
	}
	// at.Init escapes again and turns echo off.
	if err := s.at.Init(at.WithCmds("E0")); err != nil {
		switch {
		case errors.Is(err, at.ErrDeadlineExceeded):
			return fmt.Errorf("initialise modem: %w (no reply to ATE0)", ErrUnresponsive)
		case errors.Is(err, at.ErrClosed):
			return fmt.Errorf("initialise modem: %w", ErrClosed)
		}
		return fmt.Errorf("initialise modem: %w", err)
	}
	// A clean OK proves the command stream is in step.
	if err := s.resync(ctx); err != nil {
		return fmt.Errorf("initialise modem: %w", err)
	}
	// Numeric +CME/+CMS errors; not fatal where unsupported.
	if _, err := s.command(ctx, "+CMEE=1", s.timeout); isSessionFatal(err) {
		return err
	}
	return nil
}

// readyWait bounds how long Configure waits for a modem that is still
// booting (SIM busy, SMS subsystem not ready) before reporting it.
const readyWait = 60 * time.Second

// readyPoll is the pause between two attempts while the modem boots.
const readyPoll = time.Second

// Configure checks the SIM and sets up SMS reception: PDU mode, SIM storage,
// and every new message stored and announced with +CMTI. It runs after Init
// (and after the IMEI was read, which works without a SIM). A modem that is
// still booting is waited for.
func (s *Session) Configure(ctx context.Context) error {
	if err := s.waitSIM(ctx); err != nil {
		return err
	}
	// The SMS commands answer ERROR until the modem's SMS service is up
	// ("SMS Ready", "+QIND: SMS DONE").
	if err := s.retryWhileBooting(ctx, "+CMGF=0"); err != nil {
		if isSessionFatal(err) {
			return err
		}
		return fmt.Errorf("%w: PDU mode: %w", ErrUnsupported, err)
	}
	// Use SIM storage for reading, writing and receiving. Some modems only
	// know their default: carry on with it.
	if _, err := s.command(ctx, `+CPMS="SM","SM","SM"`, s.timeout); isSessionFatal(err) {
		return err
	}
	return s.enableIndications(ctx)
}

// waitSIM waits for the SIM to be ready; a SIM that is missing or locked is
// reported at once.
func (s *Session) waitSIM(ctx context.Context) error {
	var last error
	for waited := time.Duration(0); ; waited += readyPoll {
		info, err := s.command(ctx, "+CPIN?", s.timeout)
		if isSessionFatal(err) {
			return err
		}
		state := prefixed(info, "+CPIN:")
		switch {
		case err == nil && state == "READY":
			return nil
		case err == nil && state != "":
			return fmt.Errorf("%w: %s (%s)", ErrSIM, state, simAdvice(state))
		case isCMEError(err, "10"):
			return fmt.Errorf("%w: no SIM inserted (insert the operator's SIM and restart the modem)", ErrSIM)
		case isCMEError(err, "11"), isCMEError(err, "12"):
			return fmt.Errorf("%w: SIM is locked by a PIN or PUK (unlock it or disable its PIN)", ErrSIM)
		}
		// SIM busy (+CME ERROR: 14), plain ERROR or no state yet: the
		// modem is still reading the SIM.
		last = err
		if waited >= readyWait {
			if last == nil {
				last = errors.New("no +CPIN state in reply")
			}
			return fmt.Errorf("%w: not ready after %v: %v (is a SIM inserted?)", ErrSIM, readyWait, last)
		}
		if err := s.sleep(ctx, readyPoll); err != nil {
			return err
		}
	}
}

func simAdvice(state string) string {
	switch {
	case strings.Contains(state, "PUK"):
		return "the SIM is blocked: unblock it with its PUK in a phone"
	case strings.Contains(state, "PIN"):
		return "the SIM asks for a PIN: disable the PIN in a phone"
	}
	return "the SIM is not ready"
}

func isCMEError(err error, code string) bool {
	var e at.CMEError
	return errors.As(err, &e) && strings.TrimSpace(string(e)) == code
}

// retryWhileBooting issues cmd until it succeeds, for at most readyWait.
func (s *Session) retryWhileBooting(ctx context.Context, cmd string) error {
	for waited := time.Duration(0); ; waited += readyPoll {
		_, err := s.command(ctx, cmd, s.timeout)
		if err == nil || isSessionFatal(err) || waited >= readyWait {
			return err
		}
		if err := s.sleep(ctx, readyPoll); err != nil {
			return err
		}
	}
}

// enableIndications turns on new-message indications: every SMS stored and
// announced with +CMTI. The settings the modem accepts are read from
// AT+CNMI=? where it answers; mode 2 (indications buffered while the link
// is busy) is preferred, mode 1 accepted.
func (s *Session) enableIndications(ctx context.Context) error {
	var cands []string
	if info, err := s.command(ctx, "+CNMI=?", s.timeout); err == nil {
		cands = cnmiCandidates(prefixed(info, "+CNMI:"))
	} else if isSessionFatal(err) {
		return err
	}
	for _, c := range []string{"2,1,0,0,0", "1,1,0,0,0"} {
		if !slices.Contains(cands, c) {
			cands = append(cands, c)
		}
	}
	var err error
	for waited := time.Duration(0); ; waited += readyPoll {
		for _, c := range cands {
			if _, err = s.command(ctx, "+CNMI="+c, s.timeout); err == nil || isSessionFatal(err) {
				return err
			}
		}
		if waited >= readyWait {
			return fmt.Errorf("%w: new-message indications (AT+CNMI): %w", ErrUnsupported, err)
		}
		if err := s.sleep(ctx, readyPoll); err != nil {
			return err
		}
	}
}

// cnmiCandidates turns an AT+CNMI=? answer such as
// "(0-2),(0-3),(0,2),(0-2),(0,1)" into the settings to try, best first.
func cnmiCandidates(ranges string) []string {
	groups := parseRanges(ranges)
	if len(groups) < 2 || !slices.Contains(groups[1], 1) {
		return nil // no stored-and-indicated delivery (mt 1) listed
	}
	pick := func(i int) int { // 0 where allowed, else the smallest listed
		if i >= len(groups) || len(groups[i]) == 0 || slices.Contains(groups[i], 0) {
			return 0
		}
		return slices.Min(groups[i])
	}
	var out []string
	for _, mode := range []int{2, 1, 3} {
		if slices.Contains(groups[0], mode) {
			out = append(out, fmt.Sprintf("%d,1,%d,%d,%d", mode, pick(2), pick(3), pick(4)))
		}
	}
	return out
}

// parseRanges parses "(0-2),(0,1),(0)" into [[0 1 2] [0 1] [0]].
func parseRanges(s string) [][]int {
	var groups [][]int
	for {
		open := strings.IndexByte(s, '(')
		if open < 0 {
			return groups
		}
		end := strings.IndexByte(s[open:], ')')
		if end < 0 {
			return groups
		}
		var g []int
		for _, part := range strings.Split(s[open+1:open+end], ",") {
			lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
			a, err1 := strconv.Atoi(strings.TrimSpace(lo))
			b := a
			var err2 error
			if isRange {
				b, err2 = strconv.Atoi(strings.TrimSpace(hi))
			}
			if err1 != nil || err2 != nil || b < a || b-a > 16 {
				continue
			}
			for v := a; v <= b; v++ {
				g = append(g, v)
			}
		}
		groups = append(groups, g)
		s = s[open+end+1:]
	}
}

// IndicationsOn reports whether the modem still has +CMTI indications on
// (AT+CNMI?): a modem that restarted without saying so has lost them.
func (s *Session) IndicationsOn(ctx context.Context) (bool, error) {
	info, err := s.command(ctx, "+CNMI?", s.timeout)
	if err != nil {
		return false, err
	}
	fields := strings.Split(prefixed(info, "+CNMI:"), ",")
	if len(fields) < 2 {
		return true, nil // unreadable answer: do not churn
	}
	return strings.TrimSpace(fields[1]) == "1", nil
}

// isSessionFatal reports whether err means the session can no longer be
// trusted (rather than the modem refusing one command).
func isSessionFatal(err error) bool {
	return err != nil && (errors.Is(err, ErrUnresponsive) || errors.Is(err, ErrClosed) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}

// prefixed returns the value of the first info line with the prefix, trimmed.
func prefixed(info []string, prefix string) string {
	for _, l := range info {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), prefix); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// IMEI reads the modem's IMEI (AT+CGSN).
func (s *Session) IMEI(ctx context.Context) (string, error) {
	info, err := s.command(ctx, "+CGSN", s.timeout)
	if err != nil {
		return "", err
	}
	for _, l := range info {
		v := strings.Trim(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "+CGSN:")), `"`)
		if len(v) >= 14 && len(v) <= 17 && strings.Trim(v, "0123456789") == "" {
			return v, nil
		}
	}
	return "", fmt.Errorf("AT+CGSN: no IMEI in reply %q", info)
}

// Ping checks that the modem answers.
func (s *Session) Ping(ctx context.Context) error {
	_, err := s.command(ctx, "", s.timeout)
	return err
}

// listTimeout bounds AT+CMGL=4: the time the modem needs to send the whole
// storage (each slot a header and a PDU line of at most maxLine bytes, ten
// bits a byte at the port's speed), twice over, plus a base for the
// modem's own work. A SIM of 30 at 115200 baud gets about 13 s; 255 slots at
// 9600 baud about 8 min, which that listing can really take.
func listTimeout(slots, baud int) time.Duration {
	if slots <= 0 {
		slots = 255 // not known yet: the largest SIM
	}
	wire := time.Duration(slots) * 2 * maxLine * 10 * time.Second / time.Duration(baud)
	return 10*time.Second + 2*wire
}

// readTries bounds the reads of one slot whose PDU does not have the length
// its header gives.
const readTries = 3

// list returns every stored message, read or unread (AT+CMGL=4): a message
// read just before a crash has stat 1 and must still be seen. A slot whose
// PDU does not match the length in its header, or whose PDU line is
// missing, was not read correctly: it is read again with AT+CMGR before
// anything is made of it. Slots that still cannot be read are returned in
// bad, lines that name no slot as errors.
func (s *Session) list(ctx context.Context) (slots []stored, bad []badSlot, perrs []error, err error) {
	s.mu.Lock()
	n := s.slots
	s.mu.Unlock()
	info, err := s.command(ctx, "+CMGL=4", listTimeout(n, s.baud))
	if err != nil {
		return nil, nil, nil, err
	}
	listed, perrs := parseListing(info)
	for _, st := range listed {
		if st.lengthOK() {
			slots = append(slots, st)
			continue
		}
		again, found, rerr := s.read(ctx, st.index)
		switch {
		case isSessionFatal(rerr):
			return nil, nil, nil, rerr
		case rerr != nil:
			bad = append(bad, badSlot{index: st.index, stat: st.stat, err: rerr})
		case found:
			slots = append(slots, again)
		}
	}
	return slots, bad, perrs, nil
}

// badSlot is a storage slot that the modem lists but whose message cannot
// be read.
type badSlot struct {
	index, stat int
	err         error
}

// read reads one slot (AT+CMGR), again while its PDU does not have the
// length its header gives (at most readTries times: a bit error on the line
// is not a message). An empty slot (+CMS ERROR: 321) gives found == false.
func (s *Session) read(ctx context.Context, index int) (st stored, found bool, err error) {
	for try := 1; ; try++ {
		st, found, err = s.readOnce(ctx, index)
		if err != nil || !found || st.lengthOK() {
			return st, found, err
		}
		if try == readTries {
			return stored{}, false, fmt.Errorf("AT+CMGR=%d: %w (%d octets, header says %d; read %d times)",
				index, ErrLength, st.tpduLen(), st.length, readTries)
		}
	}
}

func (s *Session) readOnce(ctx context.Context, index int) (st stored, found bool, err error) {
	info, err := s.command(ctx, "+CMGR="+strconv.Itoa(index), s.timeout)
	if err != nil {
		var cms at.CMSError
		if errors.As(err, &cms) && string(cms) == "321" {
			return stored{}, false, nil
		}
		return stored{}, false, err
	}
	st, err = parseRead(index, info)
	if err != nil {
		return stored{}, false, fmt.Errorf("AT+CMGR=%d: %w", index, err)
	}
	return st, true, nil
}

// remove deletes one slot (AT+CMGD). An already empty slot is not an error.
func (s *Session) remove(ctx context.Context, index int) error {
	_, err := s.command(ctx, "+CMGD="+strconv.Itoa(index), s.timeout)
	var cms at.CMSError
	if errors.As(err, &cms) && string(cms) == "321" {
		return nil
	}
	return err
}

// Registration returns the network registration status (AT+CREG?): 1 home,
// 5 roaming, 0 not searching, 2 searching, 3 denied.
func (s *Session) Registration(ctx context.Context) (int, error) {
	info, err := s.command(ctx, "+CREG?", s.timeout)
	if err != nil {
		return 0, err
	}
	fields := strings.Split(prefixed(info, "+CREG:"), ",")
	if len(fields) < 2 {
		return 0, fmt.Errorf("AT+CREG?: unexpected reply %q", info)
	}
	return strconv.Atoi(strings.TrimSpace(fields[1]))
}

// Storage returns the messages stored and the capacity of the memory new
// messages go to (AT+CPMS?).
func (s *Session) Storage(ctx context.Context) (used, total int, err error) {
	st, err := s.storage(ctx)
	return st.used, st.total, err
}

// storageState is an AT+CPMS? answer: the memory read and deleted (mem1)
// and the fill of the memory new messages go to (mem3).
type storageState struct {
	readMem     string
	used, total int
}

func (s *Session) storage(ctx context.Context) (storageState, error) {
	info, err := s.command(ctx, "+CPMS?", s.timeout)
	if err != nil {
		return storageState{}, err
	}
	st, err := parseCPMS(prefixed(info, "+CPMS:"))
	if err != nil {
		return storageState{}, fmt.Errorf("AT+CPMS?: %w (reply %q)", err, info)
	}
	s.mu.Lock()
	if st.readMem != "" {
		s.readMem = st.readMem
	}
	s.slots = st.total
	s.mu.Unlock()
	return st, nil
}

// parseCPMS parses `"SM",3,30,"SM",3,30,"SM",3,30` (or the short form of
// one memory, or numbers without names): the third memory receives.
func parseCPMS(v string) (storageState, error) {
	fields := strings.Split(v, ",")
	var st storageState
	if len(fields) < 3 {
		return st, errors.New("unexpected reply")
	}
	st.readMem = strings.ToUpper(strings.Trim(strings.TrimSpace(fields[0]), `"`))
	if _, err := strconv.Atoi(st.readMem); err == nil {
		st.readMem = "" // numbers only: no names given
		fields = append([]string{""}, fields...)
	}
	i := 0
	if len(fields) >= 9 {
		i = 6
	}
	used, err1 := strconv.Atoi(strings.TrimSpace(fields[i+1]))
	total, err2 := strconv.Atoi(strings.TrimSpace(fields[i+2]))
	if err1 != nil || err2 != nil || used < 0 || total < 0 {
		return st, errors.New("unexpected reply")
	}
	st.used, st.total = used, total
	return st, nil
}
