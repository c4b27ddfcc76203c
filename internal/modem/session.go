package modem

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	// ErrNotConnected: no working session at the moment (a Delete while the
	// port is being reopened).
	ErrNotConnected = errors.New("modem not connected")
)

// Session is one AT session on one open port. Its methods are called from
// one goroutine at a time (the Receiver's loop); package at serialises the
// commands anyway.
type Session struct {
	at      *at.AT
	timeout time.Duration

	cmti     chan int      // storage indexes from +CMTI; -1 when unparseable
	stop     chan struct{} // closed by Stop: indication handlers give up
	stopOnce sync.Once
}

// NewSession starts an AT session on rw. The +CMTI indication is registered
// before anything is read, so that a URC the modem sends before the first
// command is not lost (MODEM-NOTES pitfall 7).
func NewSession(rw io.ReadWriter, timeout time.Duration) *Session {
	s := &Session{
		timeout: timeout,
		cmti:    make(chan int),
		stop:    make(chan struct{}),
	}
	s.at = at.New(rw,
		at.WithTimeout(timeout),
		at.WithIndication("+CMTI:", s.onCMTI))
	return s
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
		return nil, fmt.Errorf("AT%s: %w (no reply in %v)", cmd, ErrUnresponsive, timeout)
	case errors.Is(err, at.ErrClosed):
		return nil, fmt.Errorf("AT%s: %w", cmd, ErrClosed)
	default:
		return info, fmt.Errorf("AT%s: %w", cmd, err)
	}
}

// Init brings the modem into the state the agent needs: echo off, numeric
// errors, SIM ready, PDU mode, SIM storage, and new messages stored and
// announced with +CMTI.
func (s *Session) Init(ctx context.Context) error {
	// at.Init escapes any half-typed command and turns echo off.
	if err := s.at.Init(at.WithCmds("E0")); err != nil {
		switch {
		case errors.Is(err, at.ErrDeadlineExceeded):
			return fmt.Errorf("initialise modem: %w (no reply to ATE0)", ErrUnresponsive)
		case errors.Is(err, at.ErrClosed):
			return fmt.Errorf("initialise modem: %w", ErrClosed)
		}
		return fmt.Errorf("initialise modem: %w", err)
	}
	// Numeric +CME/+CMS errors; not fatal where unsupported.
	if _, err := s.command(ctx, "+CMEE=1", s.timeout); isSessionFatal(err) {
		return err
	}
	return nil
}

// Configure checks the SIM and sets up SMS reception. It runs after Init
// (and after the IMEI was read, which works without a SIM).
func (s *Session) Configure(ctx context.Context) error {
	info, err := s.command(ctx, "+CPIN?", s.timeout)
	if err != nil {
		if isSessionFatal(err) {
			return err
		}
		return fmt.Errorf("%w: %v (is a SIM inserted?)", ErrSIM, err)
	}
	if state := prefixed(info, "+CPIN:"); state != "READY" {
		if state == "" {
			state = "no answer"
		}
		return fmt.Errorf("%w: %s (unlock the SIM or disable its PIN)", ErrSIM, state)
	}
	if _, err := s.command(ctx, "+CMGF=0", s.timeout); err != nil {
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
	// Store new messages and announce them with +CMTI. Mode 2 buffers
	// indications while the link is busy; some modems only accept mode 1.
	var cnmiErr error
	for _, cmd := range []string{"+CNMI=2,1,0,0,0", "+CNMI=1,1,0,0,0"} {
		if _, cnmiErr = s.command(ctx, cmd, s.timeout); cnmiErr == nil || isSessionFatal(cnmiErr) {
			break
		}
	}
	if cnmiErr != nil {
		if isSessionFatal(cnmiErr) {
			return cnmiErr
		}
		return fmt.Errorf("%w: new-message indications: %v", ErrUnsupported, cnmiErr)
	}
	return nil
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
