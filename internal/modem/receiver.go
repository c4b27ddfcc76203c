package modem

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Why the receiver asks for slots to be freed, and why Discard declined.
// A Message whose Err wraps one of the first four is an eviction candidate:
// its Err reads as the reason for the inbox log, its Indexes are the slots
// to free, and the caller removes it with Receiver.Discard (never Delete).
var (
	// ErrIncomplete: the parts of a concatenated message stayed incomplete
	// for Config.PartialTTL, or storage is over 80 % full and this is the
	// oldest incomplete message.
	ErrIncomplete = errors.New("incomplete message")
	// ErrDuplicatePart: a part of a concatenated message was stored twice;
	// the candidate is the older slot.
	ErrDuplicatePart = errors.New("duplicate part of a message")
	// ErrDraft: with storage full, a slot holding a message stored to be
	// sent (stat 2/3: a draft, never a received SMS).
	ErrDraft = errors.New("message stored to be sent, not received")
	// ErrUnparseable: with storage full, a slot the modem lists whose
	// message cannot be read, however often it is read.
	ErrUnparseable = errors.New("storage slot cannot be read")
	// ErrChanged: Discard read a slot again and it did not hold the bytes
	// the message was built from; nothing was deleted and what the slot now
	// holds is delivered again on Messages.
	ErrChanged = errors.New("stored message changed since it was delivered")
)

// Config configures a Receiver. Zero durations take the defaults.
type Config struct {
	// Open opens the modem's port. It is called again, with backoff, after
	// the port was closed or a session failed.
	Open func(ctx context.Context) (io.ReadWriteCloser, error)
	// CommandTimeout bounds each AT command (default 5 s).
	CommandTimeout time.Duration
	// HealthInterval is how often an idle session checks that the modem
	// answers and re-scans the storage, catching a lost +CMTI
	// (default 5 min).
	HealthInterval time.Duration
	// BackoffMin and BackoffMax bound the jittered, doubling delay between
	// attempts to (re)open the modem (defaults 1 s and 60 s).
	BackoffMin, BackoffMax time.Duration
	// PartialTTL is how long the parts of a concatenated message may stay
	// incomplete before they are given up (default 24 h). The time counts
	// from when this process first saw the oldest part: a restart starts
	// it again (the 80 % rule still frees a filling storage at once).
	PartialTTL time.Duration
	// Baud is the port's speed; it bounds how long a listing of the whole
	// storage may take (default 115200).
	Baud int
	// After and Now are the clock (defaults time.After and time.Now).
	After func(time.Duration) <-chan time.Time
	Now   func() time.Time
	// Log receives state changes of the modem, each once (default: discard).
	Log *slog.Logger
}

// Receiver delivers each complete SMS stored in the modem: those found by the
// scan at every (re)initialisation and those announced while it runs. It
// reopens the port and re-initialises the modem whenever the session fails.
type Receiver struct {
	cfg   Config
	out   chan Message
	del   chan delReq
	alive chan chan struct{} // liveness probes, answered by Run's goroutine

	imeiOnce sync.Once
	imeiSet  chan struct{}
	imei     string // written once before imeiSet is closed

	scanned     chan struct{} // closed once the first scan was handed over
	scannedDone bool          // owned by Run's goroutine

	lastErr string            // the last state reported; owned by Run's goroutine
	notes   map[string]string // conditions reported once each; owned by Run's goroutine
	// seen is when this process first saw each stored slot (by slotKey),
	// for Config.PartialTTL; pruned to the slots present at every scan.
	// Owned by Run's goroutine.
	seen map[string]time.Time
}

type delReq struct {
	ctx     context.Context
	msg     Message
	discard bool // Discard: delete only what still holds the same bytes
	reply   chan error
}

// NewReceiver returns a Receiver; nothing happens until Run.
func NewReceiver(cfg Config) *Receiver {
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = 5 * time.Second
	}
	if cfg.HealthInterval <= 0 {
		cfg.HealthInterval = 5 * time.Minute
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = time.Second
	}
	if cfg.BackoffMax < cfg.BackoffMin {
		cfg.BackoffMax = max(60*time.Second, cfg.BackoffMin)
	}
	if cfg.After == nil {
		cfg.After = time.After
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PartialTTL <= 0 {
		cfg.PartialTTL = 24 * time.Hour
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Receiver{
		lastErr: "not opened yet",
		cfg:     cfg,
		out:     make(chan Message),
		alive:   make(chan chan struct{}),
		del:     make(chan delReq),
		imeiSet: make(chan struct{}),
		scanned: make(chan struct{}),
		notes:   map[string]string{},
		seen:    map[string]time.Time{},
	}
}

// Messages delivers complete messages. A message may be delivered again
// after the modem was re-initialised, until it is deleted.
func (r *Receiver) Messages() <-chan Message { return r.out }

// IMEI waits until the modem has answered once and returns its IMEI.
func (r *Receiver) IMEI(ctx context.Context) (string, error) {
	select {
	case <-r.imeiSet:
		return r.imei, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Scanned is closed once every message found by the first successful scan of
// the storage has been delivered on Messages.
func (r *Receiver) Scanned() <-chan struct{} { return r.scanned }

// Alive returns nil once Run's goroutine has answered, proving the modem
// loop is not stuck; it is what the service manager's watchdog is fed from.
func (r *Receiver) Alive(ctx context.Context) error {
	ack := make(chan struct{})
	select {
	case r.alive <- ack:
	case <-ctx.Done():
		return fmt.Errorf("modem loop not answering: %w", ctx.Err())
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("modem loop not answering: %w", ctx.Err())
	}
}

// Delete removes every part of m from the modem's storage. Call it only once
// the outcome of m is durable.
func (r *Receiver) Delete(ctx context.Context, m Message) error {
	return r.request(ctx, delReq{ctx: ctx, msg: m, reply: make(chan error, 1)})
}

// Discard removes m from the modem's storage only when that is certain to
// remove what m was built from (DESIGN "Acceptance" rule 4): it reads every
// slot of m again with AT+CMGR and deletes them (AT+CMGD) only when each
// gives the same bytes, or is already empty. When a slot reads differently,
// nothing is deleted, what the slots now hold is delivered again on
// Messages to be judged again, and the error wraps ErrChanged. Use it for
// rejected messages and eviction candidates; m must have come from this
// Receiver's Messages.
func (r *Receiver) Discard(ctx context.Context, m Message) error {
	return r.request(ctx, delReq{ctx: ctx, msg: m, discard: true, reply: make(chan error, 1)})
}

func (r *Receiver) request(ctx context.Context, req delReq) error {
	m := req.msg
	select {
	case r.del <- req:
	case <-ctx.Done():
		return fmt.Errorf("delete SMS %s: %w", m.ID, ctx.Err())
	}
	select {
	case err := <-req.reply:
		return err
	case <-ctx.Done():
		return fmt.Errorf("delete SMS %s: %w", m.ID, ctx.Err())
	}
}

// Run owns the modem until ctx ends; it returns ctx's error. Failures are
// logged once per change of state and retried with backoff, except one
// wrapping ErrPermanent, which only a restart of the process can cure: Run
// returns it.
func (r *Receiver) Run(ctx context.Context) error {
	backoff := r.cfg.BackoffMin
	for {
		worked, err := r.session(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrPermanent) {
			return err
		}
		if worked {
			backoff = r.cfg.BackoffMin
		}
		r.report(err)
		// Full jitter in [backoff/2, backoff): many boxes rebooting after a
		// power cut do not retry in step.
		d := backoff/2 + rand.N(backoff/2+1)
		if err := r.pause(ctx, d); err != nil {
			return err
		}
		backoff = min(backoff*2, r.cfg.BackoffMax)
	}
}

// report logs a change of the modem's state: an error once until it changes,
// and recovery once.
func (r *Receiver) report(err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if msg == r.lastErr {
		return
	}
	r.lastErr = msg
	if err != nil {
		r.cfg.Log.Warn("modem unavailable, retrying", "err", err)
	} else {
		r.cfg.Log.Info("modem ready")
	}
}

// sleep waits d on the Receiver's clock, or until ctx ends. A booting
// modem is waited for in such sleeps: liveness probes are answered.
func (r *Receiver) sleep(ctx context.Context, d time.Duration) error {
	wake := r.cfg.After(d)
	for {
		select {
		case <-wake:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case ack := <-r.alive:
			close(ack)
		}
	}
}

// note logs a condition of the modem once each time it changes; msg "" is
// the condition cleared.
func (r *Receiver) note(key, msg string) {
	if r.notes[key] == msg {
		return
	}
	was := r.notes[key]
	r.notes[key] = msg
	switch {
	case msg != "":
		r.cfg.Log.Warn(msg)
	case was != "":
		r.cfg.Log.Info(key + " back to normal")
	}
}

// checkNetwork reports, once per change, what keeps SMS from arriving:
// no registration on the network, or a full SIM storage (the modem then
// drops new messages without a word).
func (r *Receiver) checkNetwork(ctx context.Context, s *Session) {
	if st, err := s.Registration(ctx); err == nil {
		msg := ""
		if st != 1 && st != 5 {
			msg = fmt.Sprintf("modem not registered on the network (+CREG stat %d): SMS arrive once it is; check the antenna, the SIM and coverage", st)
		}
		r.note("network registration", msg)
	}
	if used, total, err := s.Storage(ctx); err == nil {
		msg := ""
		if total > 0 && used >= total {
			msg = fmt.Sprintf("SIM message storage full (%d of %d): new SMS are dropped until messages are deleted", used, total)
		}
		r.note("SIM storage", msg)
	}
}

// pause waits d, answering Delete requests with ErrNotConnected meanwhile.
func (r *Receiver) pause(ctx context.Context, d time.Duration) error {
	wake := r.cfg.After(d)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
			return nil
		case req := <-r.del:
			req.reply <- fmt.Errorf("delete SMS %s: %w", req.msg.ID, ErrNotConnected)
		case ack := <-r.alive:
			close(ack)
		}
	}
}

// session runs one session on a freshly opened port until it fails or ctx
// ends. worked says whether the modem got initialised.
func (r *Receiver) session(ctx context.Context) (worked bool, err error) {
	port, err := r.cfg.Open(ctx)
	if err != nil {
		return false, err
	}
	defer port.Close()
	s := NewSession(port, SessionConfig{Timeout: r.cfg.CommandTimeout, Sleep: r.sleep, Baud: r.cfg.Baud})
	defer s.Stop()

	if err := s.Init(ctx); err != nil {
		return false, err
	}
	if err := r.identify(ctx, s); err != nil {
		return false, err
	}
	if err := s.Configure(ctx); err != nil {
		return false, err
	}
	// Boot lines (RDY) seen so far were the modem starting up; one seen
	// from now on means it restarted and forgot its settings.
	select {
	case <-s.Resets():
	default:
	}
	r.report(nil)
	r.checkNetwork(ctx, s)

	l := newLoop(r, s)
	if err := l.scan(ctx); err != nil {
		return true, err
	}
	return true, l.run(ctx)
}

func (r *Receiver) identify(ctx context.Context, s *Session) error {
	select {
	case <-r.imeiSet:
		return nil
	default:
	}
	imei, err := s.IMEI(ctx)
	if err != nil {
		if isSessionFatal(err) {
			return err
		}
		// Not every modem answers AT+CGSN; only a terminal that takes its
		// ID from the IMEI needs it, and it will wait for IMEI forever.
		r.cfg.Log.Warn("modem did not give its IMEI", "err", err)
		return nil
	}
	r.imeiOnce.Do(func() {
		r.imei = imei
		close(r.imeiSet)
	})
	return nil
}
