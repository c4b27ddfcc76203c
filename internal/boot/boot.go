// Package boot is the agent's activation flow: the state machine of DESIGN.md
// from power-on to "bound". It decides; it does no I/O of its own. The flag
// store, the service platform, the modem's inbox, the display and the clock
// are handed in through Deps as the small interfaces declared here.
//
// Ownership: Run runs in its caller's goroutine and starts exactly one more,
// the inbox's Run, which it cancels and waits for before returning.
package boot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"bindpay/internal/confirm"
	"bindpay/internal/display"
	"bindpay/internal/flagstore"
	"bindpay/internal/modem"
	"bindpay/internal/platform"
)

// FlagStore keeps the durable binding record.
type FlagStore interface {
	// Load returns the record for terminalID ("" accepts any terminal's),
	// flagstore.ErrNotFound when there is none and flagstore.ErrCorrupt when
	// one was found unusable (and moved aside).
	Load(terminalID string) (flagstore.Record, error)
	// Save writes the record durably; it returns only once it is on flash.
	Save(r flagstore.Record) error
	// Quarantine moves the record aside: the flow found it unusable (why
	// says how).
	Quarantine(why string) error
}

// Ledger keeps what must outlive a restart and a reset: the nonces the
// platform issued, the nonces already used, and the log of rejected SMS.
type Ledger interface {
	Nonces() (flagstore.Nonces, error)
	Issue(nonce string) error
	// ConsumeIssued ends the activation: every issued nonce and the extra
	// ones become consumed.
	ConsumeIssued(extra ...string) error
	LogRejected(e flagstore.InboxEntry) error
}

// Platform is the operator's service platform, reached over HTTP (PS domain).
type Platform interface {
	Binding(ctx context.Context, terminalID string) (platform.Binding, error)
}

// Inbox is the terminal's modem seen as a store of received SMS (CS domain).
type Inbox interface {
	// Run owns the modem until ctx ends.
	Run(ctx context.Context) error
	// Messages delivers each stored message; again after a re-initialisation
	// until it is deleted.
	Messages() <-chan modem.Message
	// Delete removes a message from the modem's storage (an accepted
	// confirmation, once the record is durable).
	Delete(ctx context.Context, m modem.Message) error
	// Discard removes a rejected message only when a second read of its
	// slots gives the same bytes (DESIGN's rule 4: delete only when
	// certain); otherwise the fresh message is delivered again and the
	// error wraps modem.ErrChanged.
	Discard(ctx context.Context, m modem.Message) error
	// IMEI waits for the modem to answer and returns its IMEI.
	IMEI(ctx context.Context) (string, error)
	// Scanned is closed once every message found by the first scan of the
	// modem's storage has been delivered.
	Scanned() <-chan struct{}
}

// Display shows the user where the activation stands.
type Display interface {
	Show(s display.Screen) error
}

// Clock is the time source; tests inject a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// Config is what the flow needs to know of the configuration.
type Config struct {
	// TerminalID is this terminal's ID; empty means "use the modem's IMEI".
	TerminalID string
	// Senders is the allowlist of numbers a confirmation may come from.
	Senders confirm.Allowlist
	// Key is the terminal key (nil when none is configured). With a key, a
	// signed confirmation carrying a nonce this terminal was issued is
	// accepted without asking the platform.
	Key []byte
	// FallbackTo and FallbackBody are shown when the platform cannot be
	// reached; "{tid}" in FallbackBody is replaced by the terminal ID.
	FallbackTo, FallbackBody string
	// PollInterval is how often the platform is asked again while waiting
	// (default 5 min), RetryMin the first backoff after a failed query
	// (default 5 s); NextPoll says how they combine with jitter,
	// Retry-After and a long unbound stay.
	PollInterval, RetryMin time.Duration
	// Rand returns a uniform value in [0, 1) for jitter; nil: math/rand/v2.
	Rand func() float64
}

// Heartbeat lets a watchdog ask whether the flow is making progress: the
// flow answers from every place it waits (for a message, a re-poll, a save
// retry), so a flow stuck inside a call (a display write, a file system)
// does not answer. The zero value is not usable: NewHeartbeat.
type Heartbeat struct{ c chan chan struct{} }

// NewHeartbeat returns a Heartbeat for Deps.Heartbeat.
func NewHeartbeat() *Heartbeat { return &Heartbeat{c: make(chan chan struct{})} }

// Alive returns nil once the flow has answered, or ctx's error wrapped.
func (h *Heartbeat) Alive(ctx context.Context) error {
	ack := make(chan struct{})
	select {
	case h.c <- ack:
	case <-ctx.Done():
		return fmt.Errorf("activation flow not answering: %w", ctx.Err())
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("activation flow not answering: %w", ctx.Err())
	}
}

// beats is the channel the flow answers on; nil (never ready) without a
// Heartbeat.
func (h *Heartbeat) beats() chan chan struct{} {
	if h == nil {
		return nil
	}
	return h.c
}

// Deps are the flow's collaborators.
type Deps struct {
	Flags    FlagStore
	Ledger   Ledger // required: the nonces and the inbox log
	Platform Platform
	Inbox    Inbox
	Display  Display
	Clock    Clock
	Log      *slog.Logger
	// Status, when set, is told a one-line status at each change of state
	// (the service manager shows it).
	Status func(status string)
	// Ready, when set, is called once, when the first screen that is not
	// "checking" is up: the service has started.
	Ready func()
	// Heartbeat, when set, is answered wherever the flow waits.
	Heartbeat *Heartbeat
}

// Outcome is how Run ended.
type Outcome struct {
	Record flagstore.Record
	// AlreadyBound: the record was there at start; nothing else was done.
	AlreadyBound bool
}

// Run takes the terminal from power-on to bound. It returns when the terminal
// is bound (with a durable record), when ctx ends (ctx's error), or on an
// error that retrying in this process cannot fix (the state directory cannot
// be written: the confirmation then stays in the modem for the next start).
func Run(ctx context.Context, cfg Config, d Deps) (Outcome, error) {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Status == nil {
		d.Status = func(string) {}
	}
	if d.Ready == nil {
		d.Ready = func() {}
	}
	if d.Ledger == nil {
		return Outcome{}, errors.New("boot: no ledger (Deps.Ledger is required)")
	}
	cfg = withDefaults(cfg)

	// Power-on: a valid record means bound, at once, with no I/O beyond it.
	if rec, ok, err := loadFlag(d, cfg.TerminalID, cfg.Key); err != nil || ok {
		return Outcome{Record: rec, AlreadyBound: ok}, err
	}

	// The inbox runs until the flow ends; should it fail for good, the flow
	// ends with its error.
	ctx, cancel := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := d.Inbox.Run(ctx); err != nil && ctx.Err() == nil {
			cancel(fmt.Errorf("modem: %w", err))
		}
	}()
	defer func() {
		cancel(nil)
		wg.Wait()
	}()

	f := &flow{cfg: cfg, d: d, tid: cfg.TerminalID, held: map[string]modem.Message{}}
	out, err := f.run(ctx)
	if err != nil && ctx.Err() != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(cause, context.DeadlineExceeded) {
			return Outcome{}, cause
		}
	}
	return out, err
}

func withDefaults(c Config) Config {
	if c.PollInterval <= 0 {
		c.PollInterval = 5 * time.Minute
	}
	if c.RetryMin <= 0 {
		c.RetryMin = 5 * time.Second
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	if c.FallbackBody == "" {
		c.FallbackBody = "BIND {tid}"
	}
	return c
}

// loadFlag reads the record and judges it with CheckRecord. A corrupt
// record was moved aside by the store; one for another terminal or with a
// proof that does not verify is moved aside here; an unproven one is left
// for the next binding to replace. Each is reported and the terminal counts
// as not bound.
func loadFlag(d Deps, tid string, key []byte) (flagstore.Record, bool, error) {
	rec, err := d.Flags.Load(tid)
	switch {
	case errors.Is(err, flagstore.ErrNotFound):
		return flagstore.Record{}, false, nil
	case errors.Is(err, flagstore.ErrCorrupt):
		d.Log.Warn("binding record unusable; continuing as not bound", "err", err)
		return flagstore.Record{}, false, nil
	case err != nil:
		return flagstore.Record{}, false, fmt.Errorf("read binding record: %w", err)
	}
	switch v, why := CheckRecord(rec, tid, key); v {
	case RecordForeign:
		d.Log.Warn("binding record not this terminal's; continuing as not bound", "err", d.Flags.Quarantine(why))
		return flagstore.Record{}, false, nil
	case RecordUnproven:
		d.Log.Warn("binding record without proof; asking the service platform to prove the binding", "why", why)
		return flagstore.Record{}, false, nil
	}
	return rec, true, nil
}

// flow is the state of one run; owned by Run's goroutine.
type flow struct {
	cfg Config
	d   Deps
	tid string

	held map[string]modem.Message // confirmations waiting for the platform's word

	screen  display.Screen // what is shown now
	ready   bool           // Ready was called
	poll    PollState      // what the next query's time depends on
	unbound time.Time      // since when the platform has answered "not bound", zero if not
	retry   bool           // a message is held: ask the platform again soon

	lastPlatformErr string // the platform failure last logged, "" when it answers
	lastLedgerErr   string // the ledger failure last logged
	done            *bound // set when judging held messages bound the terminal
}

// bound ends the flow: the record is durable.
type bound struct{ rec flagstore.Record }

// scanWait bounds how long the start waits for the modem's first scan before
// asking the platform anyway (a modem that is absent or still booting is
// retried in the background and its messages judged when they come).
const scanWait = 20 * time.Second

func (f *flow) run(ctx context.Context) (Outcome, error) {
	f.show(display.Screen{State: display.StateChecking, TerminalID: f.tid})
	f.setStatus("checking the binding with the service platform")
	if f.tid == "" {
		f.setStatus("waiting for the modem to give its IMEI (the terminal ID)")
		imei, err := f.d.Inbox.IMEI(ctx)
		if err != nil {
			return Outcome{}, err
		}
		f.tid = imei
		f.d.Log.Info("terminal ID taken from the modem's IMEI", "terminal_id", f.tid)
	}

	// A confirmation that arrived while the agent was down is honoured first.
	if b, err := f.drainScan(ctx); b != nil || err != nil {
		return f.outcome(b, err)
	}
	next, b, err := f.query(ctx)
	if b != nil || err != nil {
		return f.outcome(b, err)
	}
	wake := f.d.Clock.After(next)
	for {
		select {
		case <-ctx.Done():
			return Outcome{}, ctx.Err()
		case ack := <-f.d.Heartbeat.beats():
			close(ack)
		case m := <-f.d.Inbox.Messages():
			b, err := f.judge(ctx, m, NotAsked, nil)
			if b != nil || err != nil {
				return f.outcome(b, err)
			}
			if f.retry {
				f.retry = false
				wake = f.d.Clock.After(f.nextPoll())
			}
		case <-wake:
			next, b, err := f.query(ctx)
			if b != nil || err != nil {
				return f.outcome(b, err)
			}
			wake = f.d.Clock.After(next)
		}
	}
}

// drainScan judges the messages found by the first scan of the modem.
func (f *flow) drainScan(ctx context.Context) (*bound, error) {
	timeout := f.d.Clock.After(scanWait)
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case ack := <-f.d.Heartbeat.beats():
			close(ack)
		case <-f.d.Inbox.Scanned():
			return nil, nil
		case m := <-f.d.Inbox.Messages():
			if b, err := f.judge(ctx, m, NotAsked, nil); b != nil || err != nil {
				return b, err
			}
		case <-timeout:
			f.d.Log.Warn("modem has not listed its stored SMS yet; asking the platform meanwhile", "waited", scanWait)
			return nil, nil
		}
	}
}

func (f *flow) outcome(b *bound, err error) (Outcome, error) {
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{Record: b.rec}, nil
}

// query asks the platform once and acts on the answer. It returns when to
// ask again, or the binding when the platform says the terminal is bound.
func (f *flow) query(ctx context.Context) (time.Duration, *bound, error) {
	f.retry = false // whatever this query schedules serves held messages too
	ans, word, err := f.ask(ctx)
	switch {
	case err != nil && ctx.Err() != nil:
		return 0, nil, ctx.Err()
	case errors.Is(err, platform.ErrUnknownTerminal):
		f.show(display.Screen{State: display.StateUnknown, TerminalID: f.tid})
		f.setStatus("terminal " + f.tid + " unknown to the platform; contact support")
		return f.nextPoll(), nil, f.rejudgeHeld(ctx, word, nil)
	case err != nil:
		if f.screen.State != display.StatePrompt {
			f.prompt(f.cfg.FallbackTo, strings.ReplaceAll(f.cfg.FallbackBody, "{tid}", f.tid), true)
		}
		return f.nextPoll(), nil, nil
	}
	if ans.Bound {
		b, err := f.bind(ctx, f.platformRecord(ans), nil, platformNonces(ans)...)
		return 0, b, err
	}
	f.prompt(ans.Activation.SMSTo, ans.Activation.SMSBody, false)
	// Confirmations held while the platform was silent are judged again now.
	if err := f.rejudgeHeld(ctx, word, &ans); err != nil || f.done != nil {
		return 0, f.done, err
	}
	return f.nextPoll(), nil, nil
}

// rejudgeHeld judges the held confirmations again with the platform's word.
// A binding ends the flow: it is left in f.done.
func (f *flow) rejudgeHeld(ctx context.Context, word Word, ans *platform.Binding) error {
	for id, m := range f.held {
		delete(f.held, id)
		b, err := f.judge(ctx, m, word, ans)
		if err != nil {
			return err
		}
		if b != nil {
			f.done = b
			return nil
		}
	}
	return nil
}

// ask queries the platform once. It returns the answer, the platform's word
// for judging an SMS, and the error. Only the flow talks to the platform,
// and only here: every answer's nonce is recorded, and every failure
// logged once per change.
func (f *flow) ask(ctx context.Context) (platform.Binding, Word, error) {
	ans, err := f.d.Platform.Binding(ctx, f.tid)
	if ctx.Err() == nil {
		f.notePoll(ans, err)
	}
	if err == nil && ans.Bound && f.cfg.Key != nil {
		// The client checked the token; the flow does not bind on less.
		if cerr := platform.CheckToken(ans.Token, f.tid, ans.MSISDN, f.cfg.Key); cerr != nil {
			err = fmt.Errorf("%w: bound answer without a valid token: %w", platform.ErrBadResponse, cerr)
		}
	}
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return platform.Binding{}, NotAsked, err
	case errors.Is(err, platform.ErrUnknownTerminal):
		f.platformReachable()
		f.d.Log.Warn("terminal unknown to the service platform", "terminal_id", f.tid, "err", err)
		return platform.Binding{}, NotBound, err
	default:
		// Once per change of error: a platform down for hours must not fill
		// the flash with the same line.
		msg := "service platform unreachable; showing the fallback prompt"
		switch {
		case errors.Is(err, platform.ErrUnverified):
			msg = "service platform's answer not believed: it is not signed with this terminal's key (a captive portal, a proxy or an attacker answered?); showing the fallback prompt"
		case errors.Is(err, platform.ErrBadResponse):
			msg = "service platform's answer refused: it breaks the protocol's rules; showing the fallback prompt"
		case errors.Is(err, platform.ErrRedirect):
			msg = "service platform answered with a redirect, which is never followed; showing the fallback prompt"
		}
		if e := err.Error(); e != f.lastPlatformErr {
			f.lastPlatformErr = e
			f.d.Log.Warn(msg, "err", err)
		} else {
			f.d.Log.Debug("service platform still unreachable", "err", err)
		}
		return platform.Binding{}, Unreachable, err
	}
	f.platformReachable()
	if ans.Bound {
		return ans, Bound, nil
	}
	if n := ans.Activation.Nonce; n != "" {
		if err := f.d.Ledger.Issue(n); err != nil {
			f.d.Log.Warn("could not record the issued nonce; its confirmation will need the platform's word", "nonce", n, "err", err)
		}
	}
	return ans, NotBound, nil
}

func (f *flow) platformReachable() {
	if f.lastPlatformErr != "" {
		f.lastPlatformErr = ""
		f.d.Log.Info("service platform reachable again")
	}
}

// platformRecord is the record of a binding the platform proved.
func (f *flow) platformRecord(ans platform.Binding) flagstore.Record {
	r := flagstore.Record{TerminalID: f.tid, MSISDN: ans.MSISDN, Source: flagstore.SourcePlatform, BoundAt: f.boundAt(ans.BoundAt), Token: ans.Token}
	if tok, err := confirm.Parse(ans.Token); err == nil {
		r.Nonce = tok.Nonce
	}
	return r
}

// platformNonces is the nonce of a bound answer's token, consumed with the
// binding like an SMS's.
func platformNonces(ans platform.Binding) []string {
	if tok, err := confirm.Parse(ans.Token); err == nil && tok.Nonce != "" {
		return []string{tok.Nonce}
	}
	return nil
}

// knowledge is what the flow knows for judging an SMS.
func (f *flow) knowledge(word Word) Knowledge {
	n, err := f.d.Ledger.Nonces()
	if err != nil {
		if e := err.Error(); e != f.lastLedgerErr {
			f.lastLedgerErr = e
			f.d.Log.Warn("nonce ledger unusable; confirmations will need the platform's word", "err", err)
		}
	}
	return Knowledge{TerminalID: f.tid, Senders: f.cfg.Senders, Key: f.cfg.Key, Nonces: n, Platform: word}
}

// nextPoll is when to ask the platform again (NextPoll over what the
// flow knows).
func (f *flow) nextPoll() time.Duration {
	st := f.poll
	if st.Answered && !f.unbound.IsZero() {
		st.UnboundFor = f.d.Clock.Now().Sub(f.unbound)
	}
	return NextPoll(PollPolicy{Interval: f.cfg.PollInterval, RetryMin: f.cfg.RetryMin}, st, f.cfg.Rand)
}

// notePoll records the outcome of one query for nextPoll.
func (f *flow) notePoll(ans platform.Binding, err error) {
	var se *platform.StatusError
	switch {
	case err == nil || errors.Is(err, platform.ErrUnknownTerminal):
		f.poll = PollState{Answered: true, RetryAfter: ans.RetryAfter}
		if err == nil && !ans.Bound && f.unbound.IsZero() {
			f.unbound = f.d.Clock.Now()
		}
	case errors.As(err, &se):
		f.poll = PollState{Failures: f.poll.Failures + 1, RetryAfter: se.RetryAfter}
	default:
		f.poll = PollState{Failures: f.poll.Failures + 1}
	}
}

func (f *flow) boundAt(t time.Time) time.Time {
	if t.IsZero() {
		return f.d.Clock.Now().UTC()
	}
	return t.UTC()
}

func (f *flow) prompt(to, body string, offline bool) {
	f.show(display.Screen{State: display.StatePrompt, TerminalID: f.tid, SMSTo: to, SMSBody: body, Offline: offline})
	status := fmt.Sprintf("not activated: waiting for confirmation SMS (user texts %q to %s)", body, to)
	if offline {
		status += "; service platform unreachable, fallback shown"
	}
	f.setStatus(status)
}

// judge assesses one message with what the flow knows and carries out the
// verdict. word and ans are the platform's fresh word and answer when the
// caller has them; judge asks the platform when the verdict needs it.
func (f *flow) judge(ctx context.Context, m modem.Message, word Word, ans *platform.Binding) (*bound, error) {
	if _, ok := f.held[m.ID]; ok && word == NotAsked {
		return nil, nil // found again by a re-scan; still waiting for the platform
	}
	if word == NotAsked {
		f.d.Log.Info("SMS received", "sms", m.ID, "from", m.Sender, "alphanumeric", m.SenderAlpha, "slots", m.Indexes)
	}
	a := Assess(m, f.knowledge(word))
	switch a.Verdict {
	case Accept:
		f.d.Log.Info("confirmation accepted", "sms", m.ID, "why", a.Reason, "nonce", a.Token.Nonce)
		return f.bind(ctx, flagstore.Record{
			TerminalID: f.tid, MSISDN: a.Token.MSISDN, Source: flagstore.SourceSMS,
			BoundAt: f.d.Clock.Now().UTC(), Nonce: a.Token.Nonce, Token: a.Token.String(),
		}, &m, a.Token.Nonce)
	case AcceptByPlatform:
		if ans == nil { // a Bound word always comes with its answer
			return nil, errors.New("boot: platform's bound answer missing")
		}
		f.d.Log.Info("confirmation accepted", "sms", m.ID, "why", a.Reason)
		return f.bind(ctx, f.platformRecord(*ans), &m, append(platformNonces(*ans), a.Token.Nonce)...)
	case Hold:
		f.d.Log.Warn("confirmation SMS kept until the service platform can confirm it", "sms", m.ID, "why", a.Reason)
		f.held[m.ID] = m
		f.retry = true
		return nil, nil
	case AskPlatform:
		b, w, err := f.ask(ctx)
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if w != Bound {
			return f.judge(ctx, m, w, nil)
		}
		// The platform proves the binding: the terminal is bound whatever
		// this SMS turns out to be.
		if done, err := f.judge(ctx, m, Bound, &b); done != nil || err != nil {
			return done, err
		}
		return f.bind(ctx, f.platformRecord(b), nil, platformNonces(b)...)
	}
	return f.reject(ctx, m, a.Reason)
}

// reject logs why a message is not an accepted confirmation, records it in
// the inbox log and deletes it, so that foreign SMS never fill the modem's
// storage.
func (f *flow) reject(ctx context.Context, m modem.Message, reason string) (*bound, error) {
	f.d.Log.Warn("SMS rejected", "sms", m.ID, "from", m.Sender, "reason", reason, "text", clip(m.Text, 160))
	when := m.Time
	if when.IsZero() {
		when = f.d.Clock.Now()
	}
	if err := f.d.Ledger.LogRejected(flagstore.InboxEntry{Time: when, From: m.Sender, Reason: reason, Text: m.Text}); err != nil {
		f.d.Log.Warn("could not record the rejected SMS in the inbox log", "err", err)
	}
	ctx, cancel := context.WithTimeout(ctx, deleteTimeout)
	defer cancel()
	switch err := f.d.Inbox.Discard(ctx, m); {
	case errors.Is(err, modem.ErrChanged):
		f.d.Log.Info("rejected SMS not deleted: a second read gave other bytes; it is judged again", "sms", m.ID, "err", err)
	case err != nil:
		f.d.Log.Warn("could not delete the rejected SMS from the modem; it will be handled again", "sms", m.ID, "err", err)
	}
	return nil, nil
}

// bind makes the record durable and only then deletes the confirmation from
// the modem: a power cut in between leaves the SMS for the next boot, whose
// fast path finds the record anyway. The binding ends the activation: every
// nonce issued for it, and the ones given, are consumed.
func (f *flow) bind(ctx context.Context, rec flagstore.Record, m *modem.Message, nonces ...string) (*bound, error) {
	if err := f.save(ctx, rec); err != nil {
		return nil, err
	}
	f.d.Log.Info("binding record written and synced", "terminal_id", rec.TerminalID, "msisdn", rec.MSISDN, "source", rec.Source)
	// A replay of this confirmation, or a stale one for this activation,
	// also after a reset, is rejected. (Should this write fail, `reset`
	// consumes the record's nonce before removing it.)
	if err := f.d.Ledger.ConsumeIssued(nonces...); err != nil {
		f.d.Log.Warn("could not record the activation's nonces as used", "err", err)
	}
	if m != nil {
		f.d.Log.Info("deleting the confirmation from the modem", "sms", m.ID, "slots", m.Indexes)
		f.delete(ctx, *m)
	}
	for _, h := range f.held {
		f.delete(ctx, h)
	}
	f.show(display.Screen{State: display.StateBound, TerminalID: f.tid, MSISDN: rec.MSISDN})
	f.setStatus("activated, bound to " + rec.MSISDN)
	return &bound{rec: rec}, nil
}

// Save retry backoff: from saveRetryMin, doubling, at most saveRetryMax.
const (
	saveRetryMin = 5 * time.Second
	saveRetryMax = 5 * time.Minute
)

// save makes the record durable, retrying with backoff for as long as it
// takes (a read-only or full flash): the terminal is bound, the agent stays
// up showing that it could not save it, and the confirmation stays in the
// modem meanwhile. Exiting instead would restart the agent every few
// seconds for ever. It returns only nil or ctx's error.
func (f *flow) save(ctx context.Context, rec flagstore.Record) error {
	delay, last := saveRetryMin, ""
	for {
		err := f.d.Flags.Save(rec)
		if err == nil {
			if last != "" {
				f.d.Log.Info("binding record saved after all")
			}
			return nil
		}
		if e := err.Error(); e != last {
			last = e
			f.d.Log.Error("bound, but the binding record cannot be saved; retrying (the confirmation stays in the modem): free or fix the state directory", "err", err)
			f.show(display.Screen{State: display.StateError, TerminalID: f.tid, MSISDN: rec.MSISDN,
				Error: "activated (bound to " + rec.MSISDN + "), but the binding could not be saved: " + err.Error()})
			f.setStatus("activated, bound to " + rec.MSISDN + ", but the binding record cannot be saved; retrying")
		}
		wait := f.d.Clock.After(delay/2 + time.Duration(float64(delay/2)*f.cfg.Rand()))
		delay = min(2*delay, saveRetryMax)
	waiting:
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case ack := <-f.d.Heartbeat.beats():
				close(ack)
			case <-wait:
				break waiting
			}
		}
	}
}

// deleteTimeout bounds one deletion; a message left behind is found again by
// a later scan and judged again.
const deleteTimeout = 30 * time.Second

func (f *flow) delete(ctx context.Context, m modem.Message) {
	ctx, cancel := context.WithTimeout(ctx, deleteTimeout)
	defer cancel()
	if err := f.d.Inbox.Delete(ctx, m); err != nil {
		f.d.Log.Warn("could not delete SMS from the modem; it will be handled again", "sms", m.ID, "err", err)
	}
}

func (f *flow) show(s display.Screen) {
	if s == f.screen {
		return
	}
	f.screen = s
	if err := f.d.Display.Show(s); err != nil {
		f.d.Log.Warn("display failed", "err", err)
	}
	if !f.ready && s.State != display.StateChecking {
		f.ready = true
		f.d.Ready()
	}
}

func (f *flow) setStatus(s string) { f.d.Status(s) }

// clip shortens s to at most n runes for a log line.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
