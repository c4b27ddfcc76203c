// Package activation carries an activation SMS from the phone to a
// binding: the MO is recorded (idempotently), parsed, and turned into a
// pending activation in one transaction, so that the gateway is
// acknowledged only once that is durable; then the OSS step (an optional
// policy call with a timeout) decides, and the binding, the confirmation
// MT, the reply to the phone and the audit entry are committed in one
// more transaction. An OSS that fails or times out leaves the activation
// pending; it is retried with backoff by [Service.Run]. A node running an
// activation's OSS step holds a claim on it (its next attempt pushed past
// the OSS timeout), so that the retry loops of other nodes leave it alone
// unless the node dies.
//
// The rules are pure functions (ParseMO, Decide, TokenNonce, Backoff,
// Lang, ReplyText), table-tested; the Service only sequences them around
// the store. Its only goroutine is the caller's, in Run.
package activation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"bindpay/internal/confirm"
	"bindpay/internal/server/number"
	"bindpay/internal/server/store"
	"bindpay/internal/smsenc"
)

// OSS is the operator's policy: may this number pay on this terminal?
type OSS interface {
	Check(ctx context.Context, terminalID, msisdn string) (OSSDecision, error)
}

// Config configures a Service.
type Config struct {
	Store        store.Store
	MasterKey    []byte
	From         string // the short code MTs come from (sms.from)
	Lang         string // default reply language (sms.lang)
	OSS          OSS    // nil: every activation is allowed
	OSSTimeout   time.Duration
	RetryInitial time.Duration // OSS retry backoff
	RetryMax     time.Duration
	DedupWindow  time.Duration // mo.dedup_window
	Validity     time.Duration // of the MTs queued (outbox.validity)
	Poll         time.Duration // how often Run looks for due activations
	Now          func() time.Time
	Log          *slog.Logger
	Notify       func() // tells the outbox new MTs are queued; may be nil
}

// Service runs activations.
type Service struct{ cfg Config }

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Notify == nil {
		cfg.Notify = func() {}
	}
	if cfg.Lang == "" {
		cfg.Lang = "zh-CN"
	}
	return &Service{cfg: cfg}
}

// Outcome is what an MO led to.
type Outcome string

// Outcomes of ReceiveMO and Process.
const (
	OutcomeDuplicate  Outcome = "duplicate"        // seen before: nothing new
	OutcomeIgnored    Outcome = "ignored"          // not for us (sender not a phone, another number)
	OutcomeMalformed  Outcome = "malformed"        // not "BIND <tid>": help replied
	OutcomeUnknown    Outcome = "unknown_terminal" // replied
	OutcomeBoundOther Outcome = "bound_other"      // refused, replied
	OutcomePending    Outcome = "pending"          // waiting for the OSS step
	OutcomeActivated  Outcome = "activated"        // bound, confirmation queued, replied
	OutcomeRefused    Outcome = "refused"          // by the OSS's policy, replied
	OutcomeFailed     Outcome = "failed"           // no SIM number, replied
	OutcomeCancelled  Outcome = "cancelled"        // by an operator before the OSS step
)

// Result is what happened to an MO.
type Result struct {
	Outcome      Outcome
	ActivationID int64
	Detail       string
}

// MO is an MO as the gateway or link hands it over.
type MO struct {
	SMSCID   string
	From, To string
	Text     string
}

// ReceiveMO records an MO and what follows from it, in one transaction,
// then runs the OSS step for a new activation at once (a failure there
// leaves it pending, which is still a success here). When it returns nil,
// the MO is durable and the gateway may be acknowledged.
func (s *Service) ReceiveMO(ctx context.Context, in MO) (Result, error) {
	now := s.cfg.Now()
	sender, err := number.E164(in.From)
	if err != nil {
		s.cfg.Log.Info("MO ignored: sender is not a phone number", "from", in.From)
		return Result{Outcome: OutcomeIgnored, Detail: "sender is not a phone number"}, nil
	}
	if to := confirm.NormalizeNumber(in.To); to != "" && !strings.HasPrefix(to, confirm.NormalizeNumber(s.cfg.From)) {
		s.cfg.Log.Info("MO ignored: not to the activation number", "to", in.To, "from", number.Mask(sender))
		return Result{Outcome: OutcomeIgnored, Detail: "not sent to " + s.cfg.From}, nil
	}
	lang := Lang(sender, s.cfg.Lang)
	var res Result
	err = s.cfg.Store.Update(ctx, func(tx store.Tx) error {
		res = Result{}
		mo, dup, err := tx.AddMO(ctx, store.MO{SMSCID: in.SMSCID, From: sender, To: in.To, Text: in.Text, ReceivedAt: now}, s.cfg.DedupWindow)
		if err != nil {
			return err
		}
		if dup {
			res = Result{Outcome: OutcomeDuplicate, Detail: fmt.Sprintf("same as MO %d", mo.ID)}
			return nil
		}
		req, ok := ParseMO(in.Text)
		if !ok {
			res = Result{Outcome: OutcomeMalformed}
			return s.reply(ctx, tx, "", 0, sender, lang, ReplyMalformed, "", "", now)
		}
		t, err := tx.TerminalFold(ctx, req.TerminalID)
		if errors.Is(err, store.ErrNotFound) {
			res = Result{Outcome: OutcomeUnknown}
			return s.reply(ctx, tx, "", 0, sender, lang, ReplyUnknown, req.TerminalID, "", now)
		}
		if err != nil {
			return err
		}
		// Claimed by this node's inline OSS step below; should this process
		// die before it is done, the retry loop of any node takes it up
		// once the claim has run out.
		a := store.Activation{TerminalID: t.ID, MSISDN: sender, Nonce: req.Nonce, MOID: mo.ID, Lang: lang,
			State: store.ActivationPending, NextAttempt: now.Add(s.claim()), CreatedAt: now}
		if t.State == store.TerminalBound && t.MSISDN != sender {
			a.State, a.Reason = store.ActivationRefused, "bound to another number"
		}
		if a, err = tx.CreateActivation(ctx, a); err != nil {
			return err
		}
		res.ActivationID = a.ID
		if err := tx.Audit(ctx, store.AuditEntry{At: now, TerminalID: t.ID, Actor: "mo", Event: "activation_requested",
			Detail: fmt.Sprintf("activation %d from %s (MO %d)", a.ID, number.Mask(sender), mo.ID)}); err != nil {
			return err
		}
		if a.State == store.ActivationRefused {
			res.Outcome = OutcomeBoundOther
			if err := tx.Audit(ctx, store.AuditEntry{At: now, TerminalID: t.ID, Actor: "mo", Event: "activation_refused",
				Detail: fmt.Sprintf("activation %d: bound to %s, not %s", a.ID, t.MSISDNMasked, number.Mask(sender))}); err != nil {
				return err
			}
			return s.reply(ctx, tx, t.ID, a.ID, sender, lang, ReplyBoundOther, t.ID, "", now)
		}
		res.Outcome = OutcomePending
		return nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("activation: receive MO from %s: %w", number.Mask(sender), err)
	}
	s.cfg.Notify()
	if res.Outcome != OutcomePending {
		return res, nil
	}
	a, err := s.Process(ctx, res.ActivationID)
	if err != nil {
		s.cfg.Log.Warn("OSS step failed; the activation stays pending and is retried", "activation", res.ActivationID, "err", err)
		return res, nil
	}
	res.Outcome, res.Detail = outcomeOf(a), a.Reason
	return res, nil
}

func outcomeOf(a store.Activation) Outcome {
	switch a.State {
	case store.ActivationActivated:
		return OutcomeActivated
	case store.ActivationRefused:
		return OutcomeRefused
	case store.ActivationFailed:
		return OutcomeFailed
	case store.ActivationCancelled:
		return OutcomeCancelled
	default:
		return OutcomePending
	}
}

// Process runs the OSS step for a pending activation and commits its
// outcome; for an activation that is no longer pending it does nothing.
// An OSS error is returned after the activation was rescheduled.
func (s *Service) Process(ctx context.Context, id int64) (store.Activation, error) {
	a, err := s.cfg.Store.Activation(ctx, id)
	if err != nil || a.State != store.ActivationPending {
		return a, err
	}
	var dec *OSSDecision
	if s.cfg.OSS != nil {
		octx, cancel := context.WithTimeout(ctx, s.cfg.OSSTimeout)
		d, err := s.cfg.OSS.Check(octx, a.TerminalID, a.MSISDN)
		cancel()
		if err != nil {
			return s.reschedule(ctx, a, err)
		}
		if d.TerminalMSISDN != "" {
			if d.TerminalMSISDN, err = number.E164(d.TerminalMSISDN); err != nil {
				return s.reschedule(ctx, a, fmt.Errorf("oss: terminal_msisdn: %w", err))
			}
		}
		dec = &d
	}
	now := s.cfg.Now()
	err = s.cfg.Store.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.Activation(ctx, id)
		if err != nil {
			return err
		}
		if cur.State != store.ActivationPending {
			a = cur
			return nil // done by another node, or cancelled, meanwhile
		}
		t, err := tx.Terminal(ctx, cur.TerminalID)
		if err != nil {
			return err
		}
		a, err = s.commit(ctx, tx, t, cur, dec, now)
		return err
	})
	if err != nil {
		return store.Activation{}, fmt.Errorf("activation %d: %w", id, err)
	}
	s.cfg.Notify()
	return a, nil
}

// commit carries out the Decide verdict inside the transaction.
func (s *Service) commit(ctx context.Context, tx store.Tx, t store.Terminal, a store.Activation, dec *OSSDecision, now time.Time) (store.Activation, error) {
	verdict, simTo := Decide(t, a, dec)
	audit := func(event, detail string) error {
		return tx.Audit(ctx, store.AuditEntry{At: now, TerminalID: t.ID, Actor: "oss", Event: event,
			Detail: fmt.Sprintf("activation %d: %s", a.ID, detail)})
	}
	finish := func(state store.ActivationState, reason, reply, replyDetail string) (store.Activation, error) {
		a.State, a.Reason = state, reason
		a.Attempts++
		a, err := tx.UpdateActivation(ctx, a, now)
		if err != nil {
			return a, err
		}
		return a, s.reply(ctx, tx, t.ID, a.ID, a.MSISDN, a.Lang, reply, t.ID, replyDetail, now)
	}
	switch verdict {
	case BoundOther:
		if err := audit("activation_refused", "bound to "+t.MSISDNMasked+", not "+number.Mask(a.MSISDN)); err != nil {
			return a, err
		}
		return finish(store.ActivationRefused, "bound to another number", ReplyBoundOther, "")
	case Refuse:
		if err := audit("activation_refused", "refused by the OSS: "+dec.Reason); err != nil {
			return a, err
		}
		return finish(store.ActivationRefused, "refused by policy: "+dec.Reason, ReplyRefused, dec.Reason)
	case NoSIM:
		if err := audit("activation_failed", "no SIM number for the terminal (enrol sim_msisdn, or have the OSS answer terminal_msisdn)"); err != nil {
			return a, err
		}
		return finish(store.ActivationFailed, "no SIM number to send the confirmation to", ReplyFailed, "")
	}
	if verdict == Bind {
		masked := number.Mask(a.MSISDN)
		tok := confirm.Sign(confirm.DeriveKey(s.cfg.MasterKey, t.ID),
			confirm.Token{TerminalID: t.ID, MSISDN: masked, Nonce: TokenNonce(t, now)})
		t.State, t.MSISDN, t.MSISDNMasked, t.BoundAt, t.Token = store.TerminalBound, a.MSISDN, masked, now, tok.String()
		t.Nonce, t.NonceExpires = "", time.Time{} // consumed by the binding
		var err error
		if t, err = tx.UpdateTerminal(ctx, t, now); err != nil {
			return a, err
		}
		if err := audit("bound", "bound to "+masked+"; confirmation to SIM "+number.Mask(simTo)); err != nil {
			return a, err
		}
	} else if err := audit("confirmed_again", "already bound to "+t.MSISDNMasked+"; confirmation sent again"); err != nil {
		return a, err
	}
	if simTo != "" {
		if err := s.enqueue(ctx, tx, store.Message{TerminalID: t.ID, ActivationID: a.ID, Kind: store.KindConfirmation,
			To: simTo, Text: ConfirmationText(t.ID, t.MSISDNMasked, t.Token)}, now); err != nil {
			return a, err
		}
	}
	return finish(store.ActivationActivated, "", ReplyActivated, "")
}

// reschedule records a failed OSS attempt; the activation stays pending.
func (s *Service) reschedule(ctx context.Context, a store.Activation, cause error) (store.Activation, error) {
	now := s.cfg.Now()
	err := s.cfg.Store.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.Activation(ctx, a.ID)
		if err != nil || cur.State != store.ActivationPending {
			return err
		}
		cur.Attempts++
		cur.NextAttempt = now.Add(Backoff(cur.Attempts, s.cfg.RetryInitial, s.cfg.RetryMax))
		cur.Reason = "OSS: " + cause.Error()
		if a, err = tx.UpdateActivation(ctx, cur, now); err != nil {
			return err
		}
		if cur.Attempts == 1 { // once, not at every retry
			return tx.Audit(ctx, store.AuditEntry{At: now, TerminalID: cur.TerminalID, Actor: "oss", Event: "oss_unavailable",
				Detail: fmt.Sprintf("activation %d stays pending: %v", cur.ID, cause)})
		}
		return nil
	})
	if err != nil {
		return a, fmt.Errorf("activation %d: reschedule after %v: %w", a.ID, cause, err)
	}
	return a, fmt.Errorf("activation %d: %w", a.ID, cause)
}

// reply queues an SMS to the phone.
func (s *Service) reply(ctx context.Context, tx store.Tx, tid string, actID int64, to, lang, kind, typedTID, detail string, now time.Time) error {
	return s.enqueue(ctx, tx, store.Message{TerminalID: tid, ActivationID: actID, Kind: store.KindReply, To: to,
		Text: ReplyText(lang, kind, typedTID, detail)}, now)
}

func (s *Service) enqueue(ctx context.Context, tx store.Tx, m store.Message, now time.Time) error {
	parts, err := smsenc.Split(m.Text)
	if err != nil {
		return err
	}
	m.From, m.State, m.NextAttempt, m.ValidUntil, m.CreatedAt = s.cfg.From, store.MessageQueued, now, now.Add(s.cfg.Validity), now
	for _, p := range parts {
		m.Parts = append(m.Parts, store.Part{Text: p})
	}
	_, err = tx.Enqueue(ctx, m)
	return err
}

// Resend queues the confirmation of a bound terminal again (admin).
func (s *Service) Resend(ctx context.Context, tid, actor string) error {
	now := s.cfg.Now()
	err := s.cfg.Store.Update(ctx, func(tx store.Tx) error {
		t, err := tx.Terminal(ctx, tid)
		if err != nil {
			return err
		}
		if t.State != store.TerminalBound {
			return fmt.Errorf("terminal %s is not bound: %w", tid, ErrNotBound)
		}
		to := t.SIMMSISDN
		if to == "" {
			msgs, err := tx.Messages(ctx, tid)
			if err != nil {
				return err
			}
			for _, m := range msgs {
				if m.Kind == store.KindConfirmation {
					to = m.To // the last number a confirmation went to
				}
			}
		}
		if to == "" {
			return fmt.Errorf("terminal %s: no SIM number known: %w", tid, ErrNoSIM)
		}
		if err := s.enqueue(ctx, tx, store.Message{TerminalID: t.ID, Kind: store.KindConfirmation, To: to,
			Text: ConfirmationText(t.ID, t.MSISDNMasked, t.Token)}, now); err != nil {
			return err
		}
		return tx.Audit(ctx, store.AuditEntry{At: now, TerminalID: t.ID, Actor: actor, Event: "confirmation_resent",
			Detail: "to SIM " + number.Mask(to)})
	})
	if err != nil {
		return fmt.Errorf("activation: resend to %s: %w", tid, err)
	}
	s.cfg.Notify()
	return nil
}

// Cancel cancels a pending activation (admin); version is the one the
// operator saw (store.ErrConflict when it changed).
func (s *Service) Cancel(ctx context.Context, id, version int64, actor string) (store.Activation, error) {
	now := s.cfg.Now()
	var a store.Activation
	err := s.cfg.Store.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.Activation(ctx, id)
		if err != nil {
			return err
		}
		if cur.Version != version {
			return fmt.Errorf("activation %d is at version %d, not %d: %w", id, cur.Version, version, store.ErrConflict)
		}
		if cur.State != store.ActivationPending {
			return fmt.Errorf("activation %d is %s: %w", id, cur.State, ErrNotPending)
		}
		cur.State, cur.Reason = store.ActivationCancelled, "cancelled by "+actor
		if a, err = tx.UpdateActivation(ctx, cur, now); err != nil {
			return err
		}
		return tx.Audit(ctx, store.AuditEntry{At: now, TerminalID: cur.TerminalID, Actor: actor, Event: "activation_cancelled",
			Detail: fmt.Sprintf("activation %d", id)})
	})
	if err != nil {
		return store.Activation{}, fmt.Errorf("activation: cancel %d: %w", id, err)
	}
	return a, nil
}

// Unbind removes a terminal's binding (admin); version is the terminal's
// as the operator saw it (store.ErrConflict when it changed). The
// terminal then asks for activation again at its next query, with a new
// nonce: the old token's nonce was consumed by the binding.
func (s *Service) Unbind(ctx context.Context, tid string, version int64, actor string) (store.Terminal, error) {
	now := s.cfg.Now()
	var t store.Terminal
	err := s.cfg.Store.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.Terminal(ctx, tid)
		if err != nil {
			return err
		}
		if cur.Version != version {
			return fmt.Errorf("terminal %s is at version %d, not %d: %w", tid, cur.Version, version, store.ErrConflict)
		}
		if cur.State != store.TerminalBound {
			return fmt.Errorf("terminal %s: %w", tid, ErrNotBound)
		}
		was := cur.MSISDNMasked
		cur.State, cur.MSISDN, cur.MSISDNMasked, cur.BoundAt, cur.Token = store.TerminalUnbound, "", "", time.Time{}, ""
		cur.Nonce, cur.NonceExpires = "", time.Time{}
		if t, err = tx.UpdateTerminal(ctx, cur, now); err != nil {
			return err
		}
		return tx.Audit(ctx, store.AuditEntry{At: now, TerminalID: tid, Actor: actor, Event: "unbound", Detail: "was bound to " + was})
	})
	if err != nil {
		return store.Terminal{}, fmt.Errorf("activation: unbind %s: %w", tid, err)
	}
	return t, nil
}

// Sentinel errors of the admin operations.
var (
	ErrNotBound   = errors.New("not bound")
	ErrNoSIM      = errors.New("no SIM number")
	ErrNotPending = errors.New("activation is not pending")
)

// claim is how long a node holds an activation it is running the OSS
// step of: other nodes' retry loops leave it alone meanwhile.
func (s *Service) claim() time.Duration { return 2*s.cfg.OSSTimeout + 10*time.Second }

// RunDue claims the due pending activations (rows another node is
// claiming are skipped), runs their OSS step once, and returns how many it
// tried.
func (s *Service) RunDue(ctx context.Context) (int, error) {
	var due []store.Activation
	err := s.cfg.Store.Update(ctx, func(tx store.Tx) error {
		now := s.cfg.Now()
		list, err := tx.DueActivations(ctx, now, 32)
		if err != nil {
			return err
		}
		due = due[:0]
		for _, a := range list {
			a.NextAttempt = now.Add(s.claim())
			if a, err = tx.UpdateActivation(ctx, a, now); err != nil {
				return err
			}
			due = append(due, a)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("activation: due: %w", err)
	}
	for _, a := range due {
		if _, err := s.Process(ctx, a.ID); err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			s.cfg.Log.Warn("OSS step failed; retried later", "activation", a.ID, "terminal", a.TerminalID, "err", err)
		}
	}
	return len(due), nil
}

// Run retries due activations every Poll until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		if _, err := s.RunDue(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Log.Error("activation retries", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// HTTPOSS is the oss.url policy call: POST {"terminal_id","msisdn"} as
// JSON, answer {"allow": bool, "reason": "…", "terminal_msisdn": "…"}.
type HTTPOSS struct {
	URL    string
	Client *http.Client
}

// Check asks the OSS. Anything but a 2xx with a well-formed answer is an
// error (the activation stays pending).
func (o HTTPOSS) Check(ctx context.Context, terminalID, msisdn string) (OSSDecision, error) {
	body, _ := json.Marshal(map[string]string{"terminal_id": terminalID, "msisdn": msisdn})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL, bytes.NewReader(body))
	if err != nil {
		return OSSDecision{}, fmt.Errorf("oss: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	c := o.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return OSSDecision{}, fmt.Errorf("oss: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	if err != nil {
		return OSSDecision{}, fmt.Errorf("oss: read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return OSSDecision{}, fmt.Errorf("oss: %s: %.200s", resp.Status, b)
	}
	var ans struct {
		Allow          *bool  `json:"allow"`
		Reason         string `json:"reason"`
		TerminalMSISDN string `json:"terminal_msisdn"`
	}
	if err := json.Unmarshal(b, &ans); err != nil || ans.Allow == nil {
		return OSSDecision{}, fmt.Errorf("oss: malformed answer %.200q: want {\"allow\": true|false, \"reason\": \"…\"}", b)
	}
	return OSSDecision{Allow: *ans.Allow, Reason: ans.Reason, TerminalMSISDN: ans.TerminalMSISDN}, nil
}
