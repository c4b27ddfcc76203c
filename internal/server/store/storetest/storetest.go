// Package storetest is the one conformance suite of store.Store: the same
// tests run against every implementation (SQLite and PostgreSQL), as
// tailscale runs one store test over each of its stores. It is imported
// only by tests.
package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/server/store"
)

// NewDB returns the store URL of a fresh, empty database for one test; the
// database is removed by t.Cleanup.
type NewDB func(t *testing.T) string

// t0 is the suite's clock: microsecond precision, as stored.
var t0 = time.Date(2026, 11, 25, 20, 0, 0, 123456000, time.UTC)

// Run runs the conformance suite; kind is the Store.Kind it expects.
func Run(t *testing.T, kind string, newDB NewDB) {
	open := func(t *testing.T) store.Store {
		t.Helper()
		s, err := store.Open(context.Background(), newDB(t), true)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		require.Equal(t, kind, s.Kind())
		return s
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Enrol", testEnrol},
		{"UpdateTerminal", testUpdateTerminal},
		{"IssueNonce", testIssueNonce},
		{"AddMO", testAddMO},
		{"Activations", testActivations},
		{"UpdateRollsBack", testUpdateRollsBack},
		{"BindOnce", testBindOnce},
		{"Outbox", testOutbox},
		{"ClaimConcurrently", testClaimConcurrently},
		{"Audit", testAudit},
	}
	t.Run("Schema", func(t *testing.T) { testSchema(t, newDB(t)) })
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func testSchema(t *testing.T, u string) {
	ctx := context.Background()
	_, err := store.Open(ctx, u, false)
	require.ErrorIs(t, err, store.ErrSchema, "an empty database is refused without migrate")
	assert.Contains(t, err.Error(), "schema version 0, this build wants 1")
	assert.Contains(t, err.Error(), "bindpay-platform migrate")

	s, err := store.Open(ctx, u, true)
	require.NoError(t, err)
	cur, want, err := s.SchemaVersion(ctx)
	require.NoError(t, err)
	assert.Equal(t, want, cur)
	require.NoError(t, s.Migrate(ctx), "migrating again is a no-op")
	require.NoError(t, s.Close())

	s, err = store.Open(ctx, u, false)
	require.NoError(t, err, "a current schema opens without migrate")
	require.NoError(t, s.Close())

	// A database migrated by a newer build is refused too.
	kind, dsn, err := store.ParseURL(u)
	require.NoError(t, err)
	db, err := sql.Open(map[string]string{"sqlite": "sqlite", "postgres": "pgx"}[kind], dsn)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "INSERT INTO goose_db_version (version_id, is_applied) VALUES (99, TRUE)")
	require.NoError(t, err)
	require.NoError(t, db.Close())
	_, err = store.Open(ctx, u, false)
	require.ErrorIs(t, err, store.ErrSchema)
	assert.Contains(t, err.Error(), "schema version 99, this build wants 1")
	assert.Contains(t, err.Error(), "older than the database")
}

func testEnrol(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, err := s.Terminal(ctx, "STB1")
	require.ErrorIs(t, err, store.ErrNotFound)

	tm, changed, err := s.Enrol(ctx, store.Enrolment{TerminalID: "STB1", SIMMSISDN: "+8614700000001"}, t0)
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Equal(t, store.Terminal{
		ID: "STB1", KeyVersion: 1, SIMMSISDN: "+8614700000001", State: store.TerminalUnbound,
		EnrolledAt: t0, UpdatedAt: t0, Version: 1,
	}, tm)

	again, changed, err := s.Enrol(ctx, store.Enrolment{TerminalID: "STB1", KeyVersion: 1, SIMMSISDN: "+8614700000001"}, t0.Add(time.Hour))
	require.NoError(t, err)
	assert.False(t, changed, "enrolling the same row again changes nothing")
	assert.Equal(t, tm, again)

	upd, changed, err := s.Enrol(ctx, store.Enrolment{TerminalID: "STB1", KeyVersion: 2}, t0.Add(time.Hour))
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Equal(t, 2, upd.KeyVersion)
	assert.Equal(t, "", upd.SIMMSISDN)
	assert.Equal(t, int64(2), upd.Version)
	assert.Equal(t, t0, upd.EnrolledAt)

	_, _, err = s.Enrol(ctx, store.Enrolment{TerminalID: "stb1"}, t0)
	require.ErrorIs(t, err, store.ErrConflict, "an ID differing only in case is another terminal's")

	got, err := s.TerminalFold(ctx, "sTb1")
	require.NoError(t, err)
	assert.Equal(t, "STB1", got.ID)
	_, err = s.Terminal(ctx, "stb1")
	require.ErrorIs(t, err, store.ErrNotFound, "Terminal compares exactly")
}

func testUpdateTerminal(t *testing.T, s store.Store) {
	ctx := context.Background()
	tm, _, err := s.Enrol(ctx, store.Enrolment{TerminalID: "STB2"}, t0)
	require.NoError(t, err)

	bound := tm
	bound.State, bound.MSISDN, bound.MSISDNMasked = store.TerminalBound, "+8613800138000", "138****8000"
	bound.BoundAt, bound.Token = t0.Add(time.Minute), "BP1 t=STB2 m=138****8000 s=x"
	got, err := s.UpdateTerminal(ctx, bound, t0.Add(time.Minute))
	require.NoError(t, err)
	assert.Equal(t, int64(2), got.Version)

	read, err := s.Terminal(ctx, "STB2")
	require.NoError(t, err)
	assert.Equal(t, got, read)

	_, err = s.UpdateTerminal(ctx, bound, t0.Add(2*time.Minute)) // still Version 1
	require.ErrorIs(t, err, store.ErrConflict, "a stale version is refused")

	_, err = s.UpdateTerminal(ctx, store.Terminal{ID: "nobody", Version: 1}, t0)
	require.Error(t, err)
}

func testIssueNonce(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, _, err := s.Enrol(ctx, store.Enrolment{TerminalID: "STB3"}, t0)
	require.NoError(t, err)

	tm, err := s.IssueNonce(ctx, "STB3", "first", t0, t0.Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, "first", tm.Nonce)
	assert.Equal(t, t0.Add(time.Hour), tm.NonceExpires)

	tm, err = s.IssueNonce(ctx, "STB3", "second", t0.Add(59*time.Minute), t0.Add(2*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, "first", tm.Nonce, "a nonce that has not expired stays")

	tm, err = s.IssueNonce(ctx, "STB3", "third", t0.Add(time.Hour), t0.Add(3*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, "third", tm.Nonce, "an expired nonce is replaced")

	_, err = s.IssueNonce(ctx, "nobody", "x", t0, t0.Add(time.Hour))
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testAddMO(t *testing.T, s store.Store) {
	ctx := context.Background()
	const window = 10 * time.Minute
	add := func(m store.MO) (store.MO, bool) {
		t.Helper()
		var (
			got store.MO
			dup bool
		)
		require.NoError(t, s.Update(ctx, func(tx store.Tx) error {
			var err error
			got, dup, err = tx.AddMO(ctx, m, window)
			return err
		}))
		return got, dup
	}
	first, dup := add(store.MO{SMSCID: "a1", From: "+8613800138000", To: "10658000", Text: "BIND STB1", ReceivedAt: t0})
	require.False(t, dup)
	require.NotZero(t, first.ID)

	again, dup := add(store.MO{SMSCID: "a1", From: "+8613800138000", To: "10658000", Text: "BIND STB1", ReceivedAt: t0.Add(time.Hour)})
	assert.True(t, dup, "the same SMSC id is a duplicate, however late")
	assert.Equal(t, first, again)

	noID, dup := add(store.MO{From: "+8613800138000", To: "10658000", Text: "BIND STB1", ReceivedAt: t0.Add(window - time.Second)})
	assert.True(t, dup, "the same sender and text within the window is a duplicate")
	assert.Equal(t, first.ID, noID.ID)

	otherID, dup := add(store.MO{SMSCID: "a2", From: "+8613800138000", To: "10658000", Text: "BIND STB1", ReceivedAt: t0.Add(time.Minute)})
	assert.True(t, dup, "the same sender and text within the window is a duplicate even with another id")
	assert.Equal(t, first.ID, otherID.ID)

	late, dup := add(store.MO{From: "+8613800138000", To: "10658000", Text: "BIND STB1", ReceivedAt: t0.Add(window + time.Second)})
	assert.False(t, dup, "after the window the same text is a new request")
	assert.NotEqual(t, first.ID, late.ID)

	_, dup = add(store.MO{From: "+8613800138000", To: "10658000", Text: "BIND STB2", ReceivedAt: t0.Add(window + 2*time.Second)})
	assert.False(t, dup, "other text")
	_, dup = add(store.MO{From: "+8613900139000", To: "10658000", Text: "BIND STB1", ReceivedAt: t0.Add(window + 3*time.Second)})
	assert.False(t, dup, "other sender")

	n, err := s.PruneMO(ctx, t0.Add(window))
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "only the first MO is older")
	_, dup = add(store.MO{SMSCID: "a1", From: "+8613700137000", To: "10658000", Text: "x", ReceivedAt: t0.Add(2 * time.Hour)})
	assert.False(t, dup, "a pruned id is forgotten")
}

func testActivations(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, _, err := s.Enrol(ctx, store.Enrolment{TerminalID: "STB4"}, t0)
	require.NoError(t, err)
	mk := func(next time.Time, state store.ActivationState) store.Activation {
		t.Helper()
		a, err := s.CreateActivation(ctx, store.Activation{
			TerminalID: "STB4", MSISDN: "+8613800138000", Nonce: "q8x3k2", MOID: 7, Lang: "zh-CN",
			State: state, NextAttempt: next, CreatedAt: t0,
		})
		require.NoError(t, err)
		return a
	}
	a1 := mk(t0.Add(2*time.Minute), store.ActivationPending)
	a2 := mk(t0.Add(time.Minute), store.ActivationPending)
	mk(t0, store.ActivationRefused)
	mk(t0.Add(time.Hour), store.ActivationPending)

	got, err := s.Activation(ctx, a1.ID)
	require.NoError(t, err)
	assert.Equal(t, a1, got)
	assert.Equal(t, int64(1), got.Version)
	_, err = s.Activation(ctx, 999999)
	require.ErrorIs(t, err, store.ErrNotFound)

	due, err := s.DueActivations(ctx, t0.Add(5*time.Minute), 10)
	require.NoError(t, err)
	require.Len(t, due, 2, "pending and due only")
	assert.Equal(t, []int64{a2.ID, a1.ID}, []int64{due[0].ID, due[1].ID}, "earliest attempt first")
	due, err = s.DueActivations(ctx, t0.Add(5*time.Minute), 1)
	require.NoError(t, err)
	assert.Len(t, due, 1, "limit")

	a1.State, a1.Reason, a1.Attempts = store.ActivationActivated, "ok", 1
	upd, err := s.UpdateActivation(ctx, a1, t0.Add(3*time.Minute))
	require.NoError(t, err)
	assert.Equal(t, int64(2), upd.Version)
	_, err = s.UpdateActivation(ctx, a1, t0.Add(4*time.Minute))
	require.ErrorIs(t, err, store.ErrConflict)

	all, err := s.Activations(ctx, "STB4")
	require.NoError(t, err)
	require.Len(t, all, 4)
	assert.Equal(t, upd, all[0])
}

func testUpdateRollsBack(t *testing.T, s store.Store) {
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		if _, _, err := tx.Enrol(ctx, store.Enrolment{TerminalID: "STB5"}, t0); err != nil {
			return err
		}
		if err := tx.Audit(ctx, store.AuditEntry{At: t0, TerminalID: "STB5", Actor: "cli", Event: "enrolled"}); err != nil {
			return err
		}
		return fmt.Errorf("later step: %w", boom)
	})
	require.ErrorIs(t, err, boom, "fn's error comes back")
	_, err = s.Terminal(ctx, "STB5")
	require.ErrorIs(t, err, store.ErrNotFound, "nothing of a failed transaction stays")
	log, err := s.AuditLog(ctx, "STB5", 10)
	require.NoError(t, err)
	assert.Empty(t, log)
}

// testBindOnce: concurrent transactions that each bind an unbound terminal
// and queue a confirmation; the row lock lets exactly one do it.
func testBindOnce(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, _, err := s.Enrol(ctx, store.Enrolment{TerminalID: "STB6"}, t0)
	require.NoError(t, err)
	const workers = 6
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		binds int
		errs  []error
	)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Update(ctx, func(tx store.Tx) error {
				tm, err := tx.Terminal(ctx, "STB6")
				if err != nil {
					return err
				}
				if tm.State == store.TerminalBound {
					return nil
				}
				tm.State, tm.MSISDN = store.TerminalBound, fmt.Sprintf("+861380013800%d", i)
				if _, err := tx.UpdateTerminal(ctx, tm, t0); err != nil {
					return err
				}
				if _, err := tx.Enqueue(ctx, store.Message{TerminalID: "STB6", Kind: store.KindConfirmation,
					From: "10658000", To: "+8614700000006", Text: "x", ValidUntil: t0.Add(time.Hour), CreatedAt: t0,
					Parts: []store.Part{{Text: "x"}}}); err != nil {
					return err
				}
				mu.Lock()
				binds++
				mu.Unlock()
				return nil
			})
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Empty(t, errs)
	assert.Equal(t, 1, binds, "exactly one transaction saw the terminal unbound")
	msgs, err := s.Messages(ctx, "STB6")
	require.NoError(t, err)
	assert.Len(t, msgs, 1, "one confirmation")
}

func testOutbox(t *testing.T, s store.Store) {
	ctx := context.Background()
	m, err := s.Enqueue(ctx, store.Message{
		TerminalID: "STB7", ActivationID: 3, Kind: store.KindConfirmation, From: "10658000", To: "+8614700000007",
		Text: "part one part two", NextAttempt: t0, ValidUntil: t0.Add(24 * time.Hour), CreatedAt: t0,
		Parts: []store.Part{{Text: "part one "}, {Text: "part two"}},
	})
	require.NoError(t, err)
	require.Len(t, m.Parts, 2)
	assert.Equal(t, store.MessageQueued, m.State)
	assert.Equal(t, []int{1, 2}, []int{m.Parts[0].Seq, m.Parts[1].Seq})
	assert.Equal(t, store.PartPending, m.Parts[1].State)

	got, err := s.Message(ctx, m.ID)
	require.NoError(t, err)
	assert.Equal(t, m, got)

	later, err := s.Enqueue(ctx, store.Message{TerminalID: "STB7", Kind: store.KindReply, From: "10658000",
		To: "+8613800138000", Text: "r", NextAttempt: t0.Add(time.Hour), ValidUntil: t0.Add(2 * time.Hour), CreatedAt: t0,
		Parts: []store.Part{{Text: "r"}}})
	require.NoError(t, err)

	claimed, err := s.ClaimMessages(ctx, "node-a", t0.Add(time.Second), time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, claimed, 1, "only the due message")
	assert.Equal(t, m.ID, claimed[0].ID)
	assert.Equal(t, "node-a", claimed[0].LeaseOwner)
	assert.Equal(t, t0.Add(time.Second+time.Minute), claimed[0].LeaseUntil)
	assert.Len(t, claimed[0].Parts, 2)

	none, err := s.ClaimMessages(ctx, "node-b", t0.Add(30*time.Second), time.Minute, 10)
	require.NoError(t, err)
	assert.Empty(t, none, "a leased message is not claimed again while the lease runs")

	stolen, err := s.ClaimMessages(ctx, "node-b", t0.Add(2*time.Minute), time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, stolen, 1, "an expired lease is taken over")

	require.ErrorIs(t, s.RenewLease(ctx, m.ID, "node-a", t0.Add(time.Hour)), store.ErrLeaseLost, "node-b holds it now")
	require.NoError(t, s.RenewLease(ctx, m.ID, "node-b", t0.Add(3*time.Minute+30*time.Second)))
	none, err = s.ClaimMessages(ctx, "node-c", t0.Add(3*time.Minute), time.Minute, 10)
	require.NoError(t, err)
	assert.Empty(t, none, "a renewed lease holds past its first end")

	msg := claimed[0]
	msg.Attempts, msg.LastError = 1, "link down"
	err = s.UpdateMessage(ctx, msg, "node-a", t0.Add(2*time.Minute))
	require.ErrorIs(t, err, store.ErrLeaseLost)

	p := stolen[0].Parts[0]
	p.SMSCID, p.State = "smsc-1", store.PartAccepted
	require.NoError(t, s.UpdatePart(ctx, p, t0.Add(2*time.Minute)))
	gotPart, err := s.Part(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, "smsc-1", gotPart.SMSCID)
	assert.Equal(t, store.PartAccepted, gotPart.State)
	assert.Equal(t, t0.Add(2*time.Minute), gotPart.UpdatedAt)
	_, err = s.Part(ctx, 999999)
	require.ErrorIs(t, err, store.ErrNotFound)

	done := stolen[0]
	done.State, done.LeaseOwner, done.LeaseUntil, done.Attempts = store.MessageSent, "", time.Time{}, 1
	require.NoError(t, s.UpdateMessage(ctx, done, "node-b", t0.Add(2*time.Minute)))
	none, err = s.ClaimMessages(ctx, "node-c", t0.Add(30*time.Minute), time.Minute, 10)
	require.NoError(t, err)
	assert.Empty(t, none, "a sent message is no longer work")

	all, err := s.Messages(ctx, "STB7")
	require.NoError(t, err)
	require.Len(t, all, 2)
	assert.Equal(t, store.MessageSent, all[0].State)
	assert.Equal(t, later.ID, all[1].ID)

	past, err := s.SentPastValidity(ctx, t0.Add(23*time.Hour), 10)
	require.NoError(t, err)
	assert.Empty(t, past, "still valid")
	past, err = s.SentPastValidity(ctx, t0.Add(24*time.Hour), 10)
	require.NoError(t, err)
	assert.Equal(t, []int64{m.ID}, past, "sent and past its validity; the queued one is not listed")

	cancelled := all[1]
	cancelled.State = store.MessageCancelled
	require.NoError(t, s.UpdateMessage(ctx, cancelled, "", t0.Add(time.Minute)), "an operator needs no lease")
	err = s.UpdateMessage(ctx, store.Message{ID: 999999}, "", t0)
	require.ErrorIs(t, err, store.ErrNotFound)
}

// testClaimConcurrently: claimers racing over many due messages never get
// one message twice, and together get them all.
func testClaimConcurrently(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 30
	for i := range n {
		_, err := s.Enqueue(ctx, store.Message{TerminalID: "STB8", Kind: store.KindReply, From: "10658000",
			To: "+8613800138000", Text: fmt.Sprint(i), NextAttempt: t0, ValidUntil: t0.Add(time.Hour), CreatedAt: t0,
			Parts: []store.Part{{Text: fmt.Sprint(i)}}})
		require.NoError(t, err)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = map[int64]string{}
		errs []error
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("node-%d", w)
			for range n {
				ms, err := s.ClaimMessages(ctx, owner, t0.Add(time.Second), time.Hour, 3)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				for _, m := range ms {
					if prev, ok := seen[m.ID]; ok {
						errs = append(errs, fmt.Errorf("message %d claimed by %s and %s", m.ID, prev, owner))
					}
					seen[m.ID] = owner
				}
				mu.Unlock()
				if err != nil || len(ms) == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	require.Empty(t, errs)
	assert.Len(t, seen, n, "every message claimed once")
}

func testAudit(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i, ev := range []string{"enrolled", "queried", "bound", "confirmation_sent"} {
		require.NoError(t, s.Audit(ctx, store.AuditEntry{At: t0.Add(time.Duration(i) * time.Second), TerminalID: "STB9",
			Actor: "api", Event: ev, Detail: "detail " + ev}))
	}
	require.NoError(t, s.Audit(ctx, store.AuditEntry{At: t0, TerminalID: "OTHER", Actor: "cli", Event: "enrolled"}))

	log, err := s.AuditLog(ctx, "STB9", 10)
	require.NoError(t, err)
	require.Len(t, log, 4)
	assert.Equal(t, "enrolled", log[0].Event)
	assert.Equal(t, "confirmation_sent", log[3].Event)
	assert.Equal(t, t0.Add(3*time.Second), log[3].At)
	assert.Less(t, log[0].Seq, log[1].Seq)

	latest, err := s.AuditLog(ctx, "STB9", 2)
	require.NoError(t, err)
	require.Len(t, latest, 2)
	assert.Equal(t, []string{"bound", "confirmation_sent"}, []string{latest[0].Event, latest[1].Event}, "the latest, oldest first")
}
