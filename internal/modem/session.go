package modem

import (
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
)

// Session is one AT session on one open port. Its methods are called from
// one goroutine at a time (the Receiver's loop); package at serialises the
// commands anyway.
type Session struct {
	at      *at.AT
	filter  *lineFilter
	timeout time.Duration
	sleep   func(ctx context.Context, d time.Duration) error

	cmti     chan int      // storage indexes from +CMTI; -1 when unparseable
	resets   chan struct{} // a boot line (RDY) arrived: the modem restarted
	stop     chan struct{} // closed by Stop: indication handlers give up
	stopOnce sync.Once
}

// SessionConfig tunes a Session; zero values take the defaults.
type SessionConfig struct {
	// Timeout bounds each AT command (default 5 s).
	Timeout time.Duration
	// Now and Sleep are the clock (defaults: time.Now and a timer that ends
	// with ctx).
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
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
	s := &Session{
		timeout: cfg.Timeout,
		sleep:   cfg.Sleep,
		cmti:    make(chan int),
		resets:  make(chan struct{}, 1),
		stop:    make(chan struct{}),
		filter:  newLineFilter(rw, cfg.Now),
	}
	s.at = at.New(struct {
		io.Reader
		io.Writer
	}{s.filter, rw},
		at.WithTimeout(cfg.Timeout),
		// Exact, colon-terminated prefixes: "+CMT" would match "+CMTI:"
		// (MODEM-NOTES pitfall 6).
		at.WithIndication("+CMTI:", s.onCMTI),
		at.WithIndication("RDY", s.onReset))
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

// onCMTI runs in a goroutine of package at's: it only hands the index over
// (MODEM-NOTES pitfall 5) and gives up when the session stops.
func (s *Session) onCMTI(lines []string) {
	idx, err := parseCMTI(lines[0])
	if err != nil {
		idx = -1 // the owner re-scans the storage instead
	}
	select {
	case s.cmti <- idx:
	case <-s.stop:
	}
}

// onReset notes that the modem printed its boot line again: it has
// restarted and forgotten its settings.
func (s *Session) onReset([]string) {
	select {
	case s.resets <- struct{}{}:
	default: // one pending reset is enough
	}
}

// Resets delivers a value when the modem restarted during the session.
func (s *Session) Resets() <-chan struct{} { return s.resets }

// parseCMTI parses `+CMTI: "SM",3` (memory name optional or unquoted).
func parseCMTI(line string) (int, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), "+CMTI:")
	if !ok {
		return 0, fmt.Errorf("not a +CMTI line: %q", line)
	}
	fields := strings.Split(rest, ",")
	n, err := strconv.Atoi(strings.TrimSpace(fields[len(fields)-1]))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad +CMTI index: %q", line)
	}
	return n, nil
}

// Indications delivers the storage index of each new message the modem
// announces.
func (s *Session) Indications() <-chan int { return s.cmti }

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
	return fmt.Errorf("resynchronise: %w (%v)", ErrUnresponsive, err)
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
		return fmt.Errorf("%w: PDU mode: %v", ErrUnsupported, err)
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
			return fmt.Errorf("%w: new-message indications (AT+CNMI): %v", ErrUnsupported, err)
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

// listTimeout bounds AT+CMGL: a full SIM (tens of messages) takes about a
// second at 115200 baud and far longer at 9600.
const listTimeout = 30 * time.Second

// list returns every stored message, read or unread (AT+CMGL=4): a message
// read just before a crash has stat 1 and must still be seen. Slots that
// cannot be parsed are returned as errors.
func (s *Session) list(ctx context.Context) ([]stored, []error, error) {
	info, err := s.command(ctx, "+CMGL=4", listTimeout)
	if err != nil {
		return nil, nil, err
	}
	slots, perrs := parseListing(info)
	return slots, perrs, nil
}

// read reads one slot (AT+CMGR). An empty slot (+CMS ERROR: 321) gives
// found == false.
func (s *Session) read(ctx context.Context, index int) (st stored, found bool, err error) {
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
	info, err := s.command(ctx, "+CPMS?", s.timeout)
	if err != nil {
		return 0, 0, err
	}
	// +CPMS: "SM",3,30,"SM",3,30,"SM",3,30 — the third memory receives.
	fields := strings.Split(prefixed(info, "+CPMS:"), ",")
	if len(fields) < 3 {
		return 0, 0, fmt.Errorf("AT+CPMS?: unexpected reply %q", info)
	}
	i := 0
	if len(fields) >= 9 {
		i = 6
	}
	used, err1 := strconv.Atoi(strings.TrimSpace(fields[i+1]))
	total, err2 := strconv.Atoi(strings.TrimSpace(fields[i+2]))
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("AT+CPMS?: unexpected reply %q", info)
	}
	return used, total, nil
}
