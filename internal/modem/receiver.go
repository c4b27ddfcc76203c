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
	// After is the clock (default time.After).
	After func(time.Duration) <-chan time.Time
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
}

type delReq struct {
	ctx   context.Context
	msg   Message
	reply chan error
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
	req := delReq{ctx: ctx, msg: m, reply: make(chan error, 1)}
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
	s := NewSession(port, SessionConfig{Timeout: r.cfg.CommandTimeout, Sleep: r.sleep})
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

	l := &loop{r: r, s: s, emitted: map[string]bool{}}
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

// loop is the state of one working session, owned by Run's goroutine.
type loop struct {
	r       *Receiver
	s       *Session
	asm     *assembler
	queue   []Message       // complete messages not yet handed over
	emitted map[string]bool // IDs handed over or queued in this session
}

// scan lists the whole storage and queues every message not yet handed over
// in this session.
func (l *loop) scan(ctx context.Context) error {
	slots, perrs, err := l.s.list(ctx)
	if err != nil {
		return fmt.Errorf("scan stored SMS: %w", err)
	}
	for _, e := range perrs {
		l.r.cfg.Log.Warn("unreadable line in SMS listing", "err", e)
	}
	l.asm = newAssembler()
	for _, st := range slots {
		if st.received() || st.stat < 0 {
			l.take(st)
		}
	}
	return nil
}

func (l *loop) take(st stored) {
	if st.stat < 0 && isSubmit(st.pdu) {
		return // no stat field, and a message stored to be sent: not ours
	}
	m, ok := l.asm.add(st)
	if !ok || l.emitted[m.ID] {
		return
	}
	l.emitted[m.ID] = true
	l.queue = append(l.queue, m)
}

func (l *loop) run(ctx context.Context) error {
	health := l.r.cfg.After(l.r.cfg.HealthInterval)
	for {
		var out chan<- Message
		var next Message
		if len(l.queue) > 0 {
			out, next = l.r.out, l.queue[0]
		} else if !l.r.scannedDone {
			l.r.scannedDone = true
			close(l.r.scanned)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-l.s.Closed():
			return ErrClosed
		case <-l.s.Resets():
			return ErrModemReset
		case out <- next:
			l.queue = l.queue[1:]
		case idx := <-l.s.Indications():
			if err := l.indicated(ctx, idx); err != nil {
				return err
			}
		case ack := <-l.r.alive:
			close(ack)
		case req := <-l.r.del:
			err := l.remove(req.ctx, req.msg)
			req.reply <- err
			if isSessionFatal(err) && ctx.Err() == nil && req.ctx.Err() == nil {
				return err
			}
		case <-health:
			health = l.r.cfg.After(l.r.cfg.HealthInterval)
			if err := l.s.Ping(ctx); err != nil {
				return fmt.Errorf("health check: %w", err)
			}
			// A modem that restarted without a boot line has lost its
			// indication settings.
			if on, err := l.s.IndicationsOn(ctx); isSessionFatal(err) {
				return fmt.Errorf("health check: %w", err)
			} else if err == nil && !on {
				l.r.cfg.Log.Warn("modem lost its new-message indication setting; restoring it")
				if err := l.s.enableIndications(ctx); err != nil {
					return fmt.Errorf("health check: %w", err)
				}
			}
			l.r.checkNetwork(ctx, l.s)
			if err := l.scan(ctx); err != nil {
				return err
			}
		}
	}
}

// indicated reads the slot a +CMTI announced.
func (l *loop) indicated(ctx context.Context, idx int) error {
	if idx < 0 {
		return l.scan(ctx)
	}
	st, found, err := l.s.read(ctx, idx)
	switch {
	case isSessionFatal(err):
		return err
	case err != nil:
		// The slot could not be read; the next scan will list it.
		l.r.cfg.Log.Warn("could not read announced SMS", "index", idx, "err", err)
		return nil
	case !found || !(st.received() || st.stat < 0):
		return nil
	}
	l.take(st)
	return nil
}

func (l *loop) remove(ctx context.Context, m Message) error {
	for _, idx := range m.Indexes {
		if err := l.s.remove(ctx, idx); err != nil {
			return fmt.Errorf("delete SMS %s: %w", m.ID, err)
		}
	}
	l.asm.forget(m.Indexes)
	delete(l.emitted, m.ID)
	return nil
}
