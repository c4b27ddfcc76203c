// Package outbox sends the platform's MT messages: a small table-driven
// outbox in the store (messages and their parts), worked by [Worker]. A
// worker claims due messages with a lease (two nodes never send one
// message at the same time: SKIP LOCKED on PostgreSQL, the write lock on
// SQLite), hands each pending part to the link, and records what the SMS
// centre said; a failure is retried with backoff until the message's
// validity period ends, then it expires. Delivery receipts ([Worker.Receipt])
// move parts to delivered or failed. Sent at least once, never lost: a
// crash between the link's acceptance and our record means the part goes
// again, which the single-use nonce in the token makes harmless.
//
// The worker's only goroutine is the caller's, in Run; Notify may be
// called from any goroutine.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"bindpay/internal/server/link"
	"bindpay/internal/server/number"
	"bindpay/internal/server/store"
	"bindpay/internal/smsenc"
)

// Config configures a Worker.
type Config struct {
	Store        store.Store
	Link         link.Link
	Owner        string        // this node's lease name (host:pid)
	Lease        time.Duration // longer than LinkTimeout × parts
	Poll         time.Duration // how often to look for due work without a Notify
	LinkTimeout  time.Duration // per part
	RetryInitial time.Duration
	RetryMax     time.Duration
	Batch        int
	Now          func() time.Time
	Log          *slog.Logger
}

// Worker sends queued messages.
type Worker struct {
	cfg  Config
	wake chan struct{}
}

// New returns a Worker.
func New(cfg Config) *Worker {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Batch < 1 {
		cfg.Batch = 16
	}
	return &Worker{cfg: cfg, wake: make(chan struct{}, 1)}
}

// Notify tells the worker that messages were queued; it never blocks.
func (w *Worker) Notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run works the outbox until ctx ends; the message in hand is finished
// (or its lease left to expire) first.
func (w *Worker) Run(ctx context.Context) error {
	t := time.NewTicker(w.cfg.Poll)
	defer t.Stop()
	for {
		n, err := w.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			w.cfg.Log.Error("outbox", "err", err)
		}
		if n == w.cfg.Batch {
			continue // more may be due
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-w.wake:
		}
	}
}

// RunOnce claims one batch of due messages and works it; it returns how
// many messages it claimed.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	if err := w.expireSent(ctx); err != nil {
		return 0, err
	}
	ms, err := w.cfg.Store.ClaimMessages(ctx, w.cfg.Owner, w.cfg.Now(), w.cfg.Lease, w.cfg.Batch)
	if err != nil {
		return 0, fmt.Errorf("outbox: claim: %w", err)
	}
	for _, m := range ms {
		if err := w.send(ctx, m); err != nil {
			if ctx.Err() != nil {
				return len(ms), nil // shutting down: the lease runs out and another node (or the next start) goes on
			}
			w.cfg.Log.Warn("outbox: message not sent", "message", m.ID, "kind", m.Kind, "terminal", m.TerminalID, "err", err)
		}
	}
	return len(ms), nil
}

// send works one claimed message.
func (w *Worker) send(ctx context.Context, m store.Message) error {
	now := w.cfg.Now()
	if !now.Before(m.ValidUntil) {
		return w.finish(ctx, m, store.MessageExpired, "validity period over before the SMS centre accepted it", store.PartExpired)
	}
	for _, p := range m.Parts {
		if p.State != store.PartPending {
			continue
		}
		// Each part gets a whole lease: a long message never outlives it
		// while this worker is still sending.
		if err := w.cfg.Store.RenewLease(ctx, m.ID, w.cfg.Owner, w.cfg.Now().Add(w.cfg.Lease)); err != nil {
			return err
		}
		sctx, cancel := context.WithTimeout(ctx, w.cfg.LinkTimeout)
		res, err := w.cfg.Link.Send(sctx, link.Part{ID: p.ID, MessageID: m.ID, From: m.From, To: m.To, Text: p.Text,
			Concat: smsenc.Concat{Ref: byte(m.ID), Seq: p.Seq, Total: len(m.Parts)}})
		cancel()
		if errors.Is(err, link.ErrRejected) {
			return w.finish(ctx, m, store.MessageFailed, err.Error(), store.PartFailed)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return w.retry(ctx, m, err)
		}
		p.SMSCID, p.State = res.SMSCID, store.PartAccepted
		if res.Delivered {
			p.State = store.PartDelivered
		}
		if err := w.cfg.Store.UpdatePart(ctx, p, w.cfg.Now()); err != nil {
			return err
		}
	}
	return w.settle(ctx, m.ID, w.cfg.Owner, "")
}

// retry releases the message for a later attempt.
func (w *Worker) retry(ctx context.Context, m store.Message, cause error) error {
	now := w.cfg.Now()
	m.Attempts++
	m.NextAttempt = now.Add(backoff(m.Attempts, w.cfg.RetryInitial, w.cfg.RetryMax))
	m.LastError, m.LeaseOwner, m.LeaseUntil = cause.Error(), "", time.Time{}
	if err := w.cfg.Store.UpdateMessage(ctx, m, w.cfg.Owner, now); err != nil {
		return err
	}
	return fmt.Errorf("outbox: message %d, attempt %d (next at %s): %w", m.ID, m.Attempts, m.NextAttempt.Format(time.RFC3339), cause)
}

// finish ends a message whose pending parts get partState.
func (w *Worker) finish(ctx context.Context, m store.Message, state store.MessageState, why string, partState store.PartState) error {
	now := w.cfg.Now()
	for _, p := range m.Parts {
		if p.State == store.PartPending {
			p.State = partState
			if err := w.cfg.Store.UpdatePart(ctx, p, now); err != nil {
				return err
			}
		}
	}
	return w.settle(ctx, m.ID, w.cfg.Owner, why)
}

// settle recomputes a message's state from its parts, in one transaction
// with the message's row locked (receipts do the same), releases the lease
// and audits a confirmation's change. owner "" settles whoever holds it.
func (w *Worker) settle(ctx context.Context, id int64, owner, why string) error {
	now := w.cfg.Now()
	return w.cfg.Store.Update(ctx, func(tx store.Tx) error {
		m, err := tx.Message(ctx, id)
		if err != nil {
			return err
		}
		state := Aggregate(m.Parts)
		if state == m.State && owner == "" {
			return nil
		}
		was := m.State
		m.State = state
		if owner != "" {
			m.Attempts++
			m.LeaseOwner, m.LeaseUntil = "", time.Time{}
		}
		if why != "" {
			m.LastError = why
		}
		if err := tx.UpdateMessage(ctx, m, owner, now); err != nil {
			return err
		}
		if state == was || m.Kind != store.KindConfirmation || m.TerminalID == "" {
			return nil
		}
		detail := fmt.Sprintf("message %d to SIM %s, %d part(s)", m.ID, number.Mask(m.To), len(m.Parts))
		if why != "" {
			detail += ": " + why
		}
		return tx.Audit(ctx, store.AuditEntry{At: now, TerminalID: m.TerminalID, Actor: "outbox", Event: "confirmation_" + string(state), Detail: detail})
	})
}

// expireSent ends messages the SMS centre accepted but never reported
// delivered within their validity period: their accepted parts expire.
func (w *Worker) expireSent(ctx context.Context) error {
	ids, err := w.cfg.Store.SentPastValidity(ctx, w.cfg.Now(), w.cfg.Batch)
	if err != nil {
		return fmt.Errorf("outbox: expiry: %w", err)
	}
	for _, id := range ids {
		err := w.cfg.Store.Update(ctx, func(tx store.Tx) error {
			m, err := tx.Message(ctx, id)
			if err != nil || m.State != store.MessageSent {
				return err
			}
			for _, p := range m.Parts {
				if p.State == store.PartAccepted {
					p.State = store.PartExpired
					if err := tx.UpdatePart(ctx, p, w.cfg.Now()); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("outbox: expire message %d: %w", id, err)
		}
		if err := w.settle(ctx, id, "", "no delivery receipt within the validity period"); err != nil {
			return fmt.Errorf("outbox: expire message %d: %w", id, err)
		}
	}
	return nil
}

// Aggregate is a message's state from its parts' states: queued while a
// part is pending; failed when a part failed; expired when a part expired;
// delivered when all are; else sent.
func Aggregate(parts []store.Part) store.MessageState {
	var pending, failed, expired, delivered int
	for _, p := range parts {
		switch p.State {
		case store.PartPending:
			pending++
		case store.PartFailed:
			failed++
		case store.PartExpired:
			expired++
		case store.PartDelivered:
			delivered++
		}
	}
	switch {
	case failed > 0:
		return store.MessageFailed
	case expired > 0:
		return store.MessageExpired
	case pending > 0:
		return store.MessageQueued
	case delivered == len(parts):
		return store.MessageDelivered
	default:
		return store.MessageSent
	}
}

// Kannel's delivery report types (dlr-mask bits, the %d of dlr-url).
const (
	DLRDelivered    = 1
	DLRFailed       = 2
	DLRBuffered     = 4
	DLRSMSCAccepted = 8
	DLRSMSCRejected = 16
)

// ErrUnknownPart: a receipt names a part we never sent.
var ErrUnknownPart = errors.New("unknown message part")

// Receipt applies a delivery receipt of Kannel type typ to part id. Types
// that are not final (buffered, accepted) change nothing; a part already
// final stays as it is.
func (w *Worker) Receipt(ctx context.Context, id int64, typ int) error {
	var next store.PartState
	switch {
	case typ&DLRDelivered != 0:
		next = store.PartDelivered
	case typ&(DLRFailed|DLRSMSCRejected) != 0:
		next = store.PartFailed
	default:
		return nil
	}
	p, err := w.cfg.Store.Part(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("outbox: receipt for part %d: %w", id, ErrUnknownPart)
	}
	if err != nil {
		return err
	}
	msgID := p.MessageID
	// Lock order everywhere: the message, then its parts.
	err = w.cfg.Store.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Message(ctx, msgID); err != nil {
			return err
		}
		p, err := tx.Part(ctx, id)
		if err != nil {
			return err
		}
		if p.State != store.PartAccepted && p.State != store.PartPending {
			msgID = 0
			return nil
		}
		p.State = next
		return tx.UpdatePart(ctx, p, w.cfg.Now())
	})
	if err != nil || msgID == 0 {
		return err
	}
	return w.settle(ctx, msgID, "", "")
}

func backoff(n int, initial, max time.Duration) time.Duration {
	d := initial
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}
