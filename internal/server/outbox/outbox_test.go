package outbox

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/server/link"
	"bindpay/internal/server/store"
)

// scriptLink records every part sent and fails while err is set.
type scriptLink struct {
	mu        sync.Mutex
	sent      map[int64]int // part id → times sent
	order     []link.Part
	err       error
	delivered bool
}

func (l *scriptLink) Send(ctx context.Context, p link.Part) (link.Result, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return link.Result{}, l.err
	}
	l.sent[p.ID]++
	l.order = append(l.order, p)
	return link.Result{SMSCID: fmt.Sprintf("smsc-%d", p.ID), Delivered: l.delivered}, nil
}

type fixture struct {
	st   store.Store
	link *scriptLink
	now  time.Time
	w    *Worker
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "p.db"), true)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, link: &scriptLink{sent: map[int64]int{}}, now: time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)}
	f.w = f.worker("node-a")
	return f
}

func (f *fixture) worker(owner string) *Worker {
	return New(Config{Store: f.st, Link: f.link, Owner: owner, Lease: time.Minute, Poll: time.Hour, LinkTimeout: time.Second,
		RetryInitial: 5 * time.Second, RetryMax: time.Minute, Batch: 4, Now: func() time.Time { return f.now }})
}

func (f *fixture) enqueue(t *testing.T, kind string, parts ...string) store.Message {
	t.Helper()
	m := store.Message{TerminalID: "STB1", Kind: kind, From: "10658000", To: "+8614700000001", NextAttempt: f.now,
		ValidUntil: f.now.Add(time.Hour), CreatedAt: f.now}
	for _, p := range parts {
		m.Text += p
		m.Parts = append(m.Parts, store.Part{Text: p})
	}
	m, err := f.st.Enqueue(context.Background(), m)
	require.NoError(t, err)
	return m
}

func (f *fixture) message(t *testing.T, id int64) store.Message {
	t.Helper()
	m, err := f.st.Message(context.Background(), id)
	require.NoError(t, err)
	return m
}

func (f *fixture) events(t *testing.T) []string {
	t.Helper()
	log, err := f.st.AuditLog(context.Background(), "STB1", 20)
	require.NoError(t, err)
	var out []string
	for _, e := range log {
		out = append(out, e.Event)
	}
	return out
}

func TestSendAndReceipts(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	m := f.enqueue(t, store.KindConfirmation, "part one ", "part two")

	n, err := f.w.RunOnce(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	require.Len(t, f.link.order, 2)
	assert.Equal(t, []int{1, 2}, []int{f.link.order[0].Concat.Seq, f.link.order[1].Concat.Seq})
	assert.Equal(t, 2, f.link.order[0].Concat.Total)
	assert.Equal(t, f.link.order[0].Concat.Ref, f.link.order[1].Concat.Ref, "one reference for the message")
	got := f.message(t, m.ID)
	assert.Equal(t, store.MessageSent, got.State)
	assert.Empty(t, got.LeaseOwner, "the lease is released")
	assert.Equal(t, "smsc-"+fmt.Sprint(got.Parts[0].ID), got.Parts[0].SMSCID)
	assert.Equal(t, store.PartAccepted, got.Parts[1].State)

	n, err = f.w.RunOnce(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "a sent message is not sent again")

	require.NoError(t, f.w.Receipt(ctx, got.Parts[0].ID, DLRSMSCAccepted))
	require.NoError(t, f.w.Receipt(ctx, got.Parts[0].ID, DLRDelivered))
	assert.Equal(t, store.MessageSent, f.message(t, m.ID).State, "one part delivered is not the message")
	require.NoError(t, f.w.Receipt(ctx, got.Parts[1].ID, DLRDelivered))
	assert.Equal(t, store.MessageDelivered, f.message(t, m.ID).State)
	require.NoError(t, f.w.Receipt(ctx, got.Parts[1].ID, DLRFailed), "a late receipt for a final part")
	assert.Equal(t, store.MessageDelivered, f.message(t, m.ID).State, "a final part stays final")

	err = f.w.Receipt(ctx, 999999, DLRDelivered)
	require.ErrorIs(t, err, ErrUnknownPart)
	assert.Equal(t, []string{"confirmation_sent", "confirmation_delivered"}, f.events(t))
}

func TestRetryThenExpire(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	m := f.enqueue(t, store.KindConfirmation, "x")
	f.link.err = errors.New("gateway down")

	_, err := f.w.RunOnce(ctx)
	require.NoError(t, err)
	got := f.message(t, m.ID)
	assert.Equal(t, store.MessageQueued, got.State)
	assert.Equal(t, 1, got.Attempts)
	assert.Equal(t, f.now.Add(5*time.Second), got.NextAttempt)
	assert.Equal(t, "gateway down", got.LastError)
	assert.Empty(t, got.LeaseOwner)

	f.now = f.now.Add(5 * time.Second)
	_, err = f.w.RunOnce(ctx)
	require.NoError(t, err)
	got = f.message(t, m.ID)
	assert.Equal(t, 2, got.Attempts)
	assert.Equal(t, f.now.Add(10*time.Second), got.NextAttempt, "backoff doubles")

	f.now = m.ValidUntil
	_, err = f.w.RunOnce(ctx)
	require.NoError(t, err)
	got = f.message(t, m.ID)
	assert.Equal(t, store.MessageExpired, got.State)
	assert.Equal(t, store.PartExpired, got.Parts[0].State)
	assert.Empty(t, f.link.sent, "never sent")
	assert.Equal(t, []string{"confirmation_expired"}, f.events(t))
}

func TestSentButNeverDeliveredExpires(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	m := f.enqueue(t, store.KindConfirmation, "a", "b")
	_, err := f.w.RunOnce(ctx)
	require.NoError(t, err)
	got := f.message(t, m.ID)
	require.Equal(t, store.MessageSent, got.State)
	require.NoError(t, f.w.Receipt(ctx, got.Parts[0].ID, DLRDelivered))

	f.now = m.ValidUntil
	_, err = f.w.RunOnce(ctx)
	require.NoError(t, err)
	got = f.message(t, m.ID)
	assert.Equal(t, store.MessageExpired, got.State)
	assert.Equal(t, []store.PartState{store.PartDelivered, store.PartExpired}, []store.PartState{got.Parts[0].State, got.Parts[1].State})
	assert.Equal(t, []string{"confirmation_sent", "confirmation_expired"}, f.events(t))
}

func TestRejectedFails(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	m := f.enqueue(t, store.KindReply, "x")
	f.link.err = fmt.Errorf("invalid receiver: %w", link.ErrRejected)
	_, err := f.w.RunOnce(ctx)
	require.NoError(t, err)
	got := f.message(t, m.ID)
	assert.Equal(t, store.MessageFailed, got.State)
	assert.Equal(t, store.PartFailed, got.Parts[0].State)
	assert.Empty(t, f.events(t), "replies are not audited")
}

func TestInProcessLinkDelivers(t *testing.T) {
	f := newFixture(t)
	f.link.delivered = true
	m := f.enqueue(t, store.KindConfirmation, "a", "b")
	_, err := f.w.RunOnce(context.Background())
	require.NoError(t, err)
	assert.Equal(t, store.MessageDelivered, f.message(t, m.ID).State)
}

// TestTwoWorkersNeverSendTwice: workers of two nodes over one store send
// every part exactly once.
func TestTwoWorkersNeverSendTwice(t *testing.T) {
	f := newFixture(t)
	for i := range 12 {
		f.enqueue(t, store.KindReply, fmt.Sprint(i), "b")
	}
	var wg sync.WaitGroup
	for _, w := range []*Worker{f.worker("node-a"), f.worker("node-b")} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, err := w.RunOnce(context.Background())
				if err != nil || n == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	assert.Len(t, f.link.sent, 24)
	for id, n := range f.link.sent {
		assert.Equal(t, 1, n, "part %d sent %d times", id, n)
	}
}

func TestRunStopsAndWakes(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.w.Run(ctx) }()
	m := f.enqueue(t, store.KindReply, "x")
	f.w.Notify()
	require.Eventually(t, func() bool { return f.message(t, m.ID).State == store.MessageSent }, 10*time.Second, 10*time.Millisecond,
		"Notify wakes the worker long before its poll")
	cancel()
	require.NoError(t, <-done)
}

func TestAggregate(t *testing.T) {
	p := func(states ...store.PartState) []store.Part {
		var out []store.Part
		for _, s := range states {
			out = append(out, store.Part{State: s})
		}
		return out
	}
	cases := []struct {
		name  string
		parts []store.Part
		want  store.MessageState
	}{
		{"pending", p(store.PartAccepted, store.PartPending), store.MessageQueued},
		{"sent", p(store.PartAccepted, store.PartDelivered), store.MessageSent},
		{"delivered", p(store.PartDelivered, store.PartDelivered), store.MessageDelivered},
		{"failed wins", p(store.PartDelivered, store.PartFailed), store.MessageFailed},
		{"expired", p(store.PartExpired, store.PartExpired), store.MessageExpired},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { assert.Equal(t, c.want, Aggregate(c.parts)) })
	}
}
