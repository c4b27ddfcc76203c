package activation

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/confirm"
	"bindpay/internal/server/store"
)

var master = []byte("example master key")

// scriptOSS answers with the decision or error its fn gives.
type scriptOSS struct {
	mu    sync.Mutex
	calls int
	fn    func() (OSSDecision, error)
}

func (o *scriptOSS) Check(ctx context.Context, tid, msisdn string) (OSSDecision, error) {
	o.mu.Lock()
	o.calls++
	fn := o.fn
	o.mu.Unlock()
	return fn()
}

type fixture struct {
	st  store.Store
	svc *Service
	now time.Time
}

func newFixture(t *testing.T, oss OSS) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "p.db"), true)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, now: time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)}
	f.svc = New(Config{Store: st, MasterKey: master, From: "10658000", OSS: oss, OSSTimeout: time.Second,
		RetryInitial: time.Minute, RetryMax: time.Hour, DedupWindow: 10 * time.Minute, Validity: 24 * time.Hour,
		Poll: time.Second, Now: func() time.Time { return f.now }})
	return f
}

func (f *fixture) enrol(t *testing.T, tid, sim string) {
	t.Helper()
	_, _, err := f.st.Enrol(context.Background(), store.Enrolment{TerminalID: tid, SIMMSISDN: sim}, f.now)
	require.NoError(t, err)
}

func (f *fixture) messages(t *testing.T, tid string) (confirmations, replies []store.Message) {
	t.Helper()
	ms, err := f.st.Messages(context.Background(), tid)
	require.NoError(t, err)
	for _, m := range ms {
		if m.Kind == store.KindConfirmation {
			confirmations = append(confirmations, m)
		} else {
			replies = append(replies, m)
		}
	}
	return confirmations, replies
}

func TestActivateOnceForAnMODeliveredTwice(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	f.enrol(t, "STB0012345678", "+8614700000001")
	_, err := f.st.IssueNonce(ctx, "STB0012345678", "q8x3k2", f.now, f.now.Add(time.Hour))
	require.NoError(t, err)

	mo := MO{SMSCID: "kannel-1", From: "13800138000", To: "10658000", Text: "bind stb0012345678"}
	res, err := f.svc.ReceiveMO(ctx, mo)
	require.NoError(t, err)
	assert.Equal(t, OutcomeActivated, res.Outcome)
	f.now = f.now.Add(time.Minute)
	res, err = f.svc.ReceiveMO(ctx, mo)
	require.NoError(t, err)
	assert.Equal(t, OutcomeDuplicate, res.Outcome, "the same id again")
	mo.SMSCID = ""
	res, err = f.svc.ReceiveMO(ctx, mo)
	require.NoError(t, err)
	assert.Equal(t, OutcomeDuplicate, res.Outcome, "the same sender and text within the window")

	tm, err := f.st.Terminal(ctx, "STB0012345678")
	require.NoError(t, err)
	assert.Equal(t, store.TerminalBound, tm.State)
	assert.Equal(t, "+8613800138000", tm.MSISDN)
	assert.Equal(t, "138****8000", tm.MSISDNMasked)
	assert.Equal(t, "BP1 t=STB0012345678 m=138****8000 n=q8x3k2 s=FWC0YGwf5vt1dIPLmlT2ww", tm.Token, "DESIGN.md's vector")
	assert.Empty(t, tm.Nonce, "the binding consumed the nonce")

	confs, replies := f.messages(t, "STB0012345678")
	require.Len(t, confs, 1, "one confirmation")
	c := confs[0]
	assert.Equal(t, "+8614700000001", c.To, "to the terminal's SIM")
	assert.Equal(t, "10658000", c.From)
	assert.Equal(t, "【号码绑定支付】终端STB0012345678已开通，绑定号码138****8000。BP1 t=STB0012345678 m=138****8000 n=q8x3k2 s=FWC0YGwf5vt1dIPLmlT2ww", c.Text)
	require.Len(t, c.Parts, 2, "two concatenated UCS2 parts")
	tok, err := confirm.Find(c.Text)
	require.NoError(t, err)
	assert.True(t, confirm.Verify(confirm.DeriveKey(master, "STB0012345678"), tok))
	require.Len(t, replies, 1)
	assert.Equal(t, "+8613800138000", replies[0].To, "the reply goes to the MO's sender")
	assert.Equal(t, ReplyText("zh-CN", ReplyActivated, "STB0012345678", ""), replies[0].Text)

	log, err := f.st.AuditLog(ctx, "STB0012345678", 10)
	require.NoError(t, err)
	var events []string
	for _, e := range log {
		events = append(events, e.Event)
		assert.NotContains(t, e.Detail, "13800138000", "no full number in the audit log")
	}
	assert.Equal(t, []string{"activation_requested", "bound"}, events)
}

func TestOSSTimeoutLeavesPendingThenCompletes(t *testing.T) {
	ctx := context.Background()
	oss := &scriptOSS{fn: func() (OSSDecision, error) { return OSSDecision{}, context.DeadlineExceeded }}
	f := newFixture(t, oss)
	f.enrol(t, "STB1", "+8614700000001")

	res, err := f.svc.ReceiveMO(ctx, MO{SMSCID: "1", From: "+8613800138000", To: "10658000", Text: "BIND STB1"})
	require.NoError(t, err, "the MO is durable: the gateway is acknowledged")
	assert.Equal(t, OutcomePending, res.Outcome)
	a, err := f.st.Activation(ctx, res.ActivationID)
	require.NoError(t, err)
	assert.Equal(t, store.ActivationPending, a.State)
	assert.Equal(t, 1, a.Attempts)
	assert.Equal(t, f.now.Add(time.Minute), a.NextAttempt)
	tm, err := f.st.Terminal(ctx, "STB1")
	require.NoError(t, err)
	assert.Equal(t, store.TerminalUnbound, tm.State, "nothing half-done")
	confs, replies := f.messages(t, "STB1")
	assert.Empty(t, confs)
	assert.Empty(t, replies)

	n, err := f.svc.RunDue(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "not due before its backoff")

	f.now = f.now.Add(time.Minute)
	n, err = f.svc.RunDue(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	a, err = f.st.Activation(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, 2, a.Attempts)
	assert.Equal(t, f.now.Add(2*time.Minute), a.NextAttempt, "backoff doubles")

	oss.mu.Lock()
	oss.fn = func() (OSSDecision, error) { return OSSDecision{Allow: true}, nil }
	oss.mu.Unlock()
	f.now = f.now.Add(2 * time.Minute)
	_, err = f.svc.RunDue(ctx)
	require.NoError(t, err)
	a, err = f.st.Activation(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, store.ActivationActivated, a.State, "it completes when the OSS recovers")
	confs, _ = f.messages(t, "STB1")
	assert.Len(t, confs, 1)
	log, err := f.st.AuditLog(ctx, "STB1", 10)
	require.NoError(t, err)
	var events []string
	for _, e := range log {
		events = append(events, e.Event)
	}
	assert.Equal(t, []string{"activation_requested", "oss_unavailable", "bound"}, events, "one audit entry for the outage, not one per retry")
}

func TestOutcomes(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name      string
		oss       func() (OSSDecision, error)
		sim       string
		bound     string // number the terminal is bound to first
		text      string
		from      string
		outcome   Outcome
		reply     string // reply kind, "" none
		confirmTo string
	}{
		{"unknown terminal", nil, "+8614700000001", "", "BIND NOSUCH", "+8613800138000", OutcomeUnknown, ReplyUnknown, ""},
		{"malformed", nil, "+8614700000001", "", "hello", "+8613800138000", OutcomeMalformed, ReplyMalformed, ""},
		{"refused by policy", func() (OSSDecision, error) { return OSSDecision{Allow: false, Reason: "arrears"}, nil },
			"+8614700000001", "", "BIND STB1", "+8613800138000", OutcomeRefused, ReplyRefused, ""},
		{"bound to another number", nil, "+8614700000001", "+8613900139000", "BIND STB1", "+8613800138000", OutcomeBoundOther, ReplyBoundOther, ""},
		{"no SIM number", nil, "", "", "BIND STB1", "+8613800138000", OutcomeFailed, ReplyFailed, ""},
		{"SIM from the OSS", func() (OSSDecision, error) { return OSSDecision{Allow: true, TerminalMSISDN: "14700000009"}, nil },
			"", "", "BIND STB1", "+8613800138000", OutcomeActivated, ReplyActivated, "+8614700000009"},
		{"already bound to this number: confirmed again", nil, "+8614700000001", "+8613800138000", "BIND STB1", "+8613800138000",
			OutcomeActivated, ReplyActivated, "+8614700000001"},
		{"sender not a phone", nil, "+8614700000001", "", "BIND STB1", "BindPay", OutcomeIgnored, "", ""},
		{"english for a foreign phone", nil, "+8614700000001", "", "BIND NOSUCH", "+447700900123", OutcomeUnknown, ReplyUnknown, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var oss OSS
			if c.oss != nil {
				oss = &scriptOSS{fn: c.oss}
			}
			f := newFixture(t, oss)
			f.enrol(t, "STB1", c.sim)
			if c.bound != "" {
				tm, err := f.st.Terminal(ctx, "STB1")
				require.NoError(t, err)
				tm.State, tm.MSISDN, tm.MSISDNMasked, tm.Token = store.TerminalBound, c.bound, "bound", "BP1 t=STB1 m=x s=y"
				_, err = f.st.UpdateTerminal(ctx, tm, f.now)
				require.NoError(t, err)
			}
			res, err := f.svc.ReceiveMO(ctx, MO{SMSCID: "1", From: c.from, To: "10658000", Text: c.text})
			require.NoError(t, err)
			assert.Equal(t, c.outcome, res.Outcome)

			tid := "STB1"
			if c.outcome == OutcomeUnknown || c.outcome == OutcomeMalformed {
				tid = "" // replies about no terminal
			}
			confs, replies := f.messages(t, tid)
			if c.reply == "" {
				assert.Empty(t, replies)
			} else {
				require.Len(t, replies, 1)
				lang := Lang(replies[0].To, "zh-CN")
				typed := ""
				if w := strings.Fields(c.text); len(w) > 1 {
					typed = w[1]
				}
				assert.Equal(t, ReplyText(lang, c.reply, typed, map[bool]string{true: "arrears"}[c.reply == ReplyRefused]), replies[0].Text)
			}
			if c.confirmTo == "" {
				assert.Empty(t, confs)
			} else {
				require.Len(t, confs, 1)
				assert.Equal(t, c.confirmTo, confs[0].To)
			}
			tm, err := f.st.Terminal(ctx, "STB1")
			require.NoError(t, err)
			if c.outcome != OutcomeActivated {
				assert.Equal(t, c.bound, tm.MSISDN, "the binding did not change")
			}
		})
	}
}

func TestHTTPOSS(t *testing.T) {
	var got map[string]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, json.NewDecoder(r.Body).Decode(&got))
		switch got["terminal_id"] {
		case "OK":
			_, _ = w.Write([]byte(`{"allow":true,"terminal_msisdn":"+8614700000001"}`))
		case "NO":
			_, _ = w.Write([]byte(`{"allow":false,"reason":"arrears"}`))
		case "BAD":
			_, _ = w.Write([]byte(`{"reason":"no allow"}`))
		case "SLOW":
			<-r.Context().Done()
		default:
			http.Error(w, "down", http.StatusBadGateway)
		}
	}))
	t.Cleanup(srv.Close)
	oss := HTTPOSS{URL: srv.URL, Client: srv.Client()}
	ctx := context.Background()

	d, err := oss.Check(ctx, "OK", "+8613800138000")
	require.NoError(t, err)
	assert.Equal(t, OSSDecision{Allow: true, TerminalMSISDN: "+8614700000001"}, d)
	assert.Equal(t, map[string]string{"terminal_id": "OK", "msisdn": "+8613800138000"}, got)
	d, err = oss.Check(ctx, "NO", "+8613800138000")
	require.NoError(t, err)
	assert.Equal(t, OSSDecision{Reason: "arrears"}, d)
	_, err = oss.Check(ctx, "BAD", "+8613800138000")
	assert.ErrorContains(t, err, "malformed answer")
	_, err = oss.Check(ctx, "DOWN", "+8613800138000")
	assert.ErrorContains(t, err, "502")
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = oss.Check(tctx, "SLOW", "+8613800138000")
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "a slow OSS times out: %v", err)
}

func TestAdminOperations(t *testing.T) {
	ctx := context.Background()
	oss := &scriptOSS{fn: func() (OSSDecision, error) { return OSSDecision{}, errors.New("down") }}
	f := newFixture(t, oss)
	f.enrol(t, "STB1", "+8614700000001")
	res, err := f.svc.ReceiveMO(ctx, MO{SMSCID: "1", From: "+8613800138000", To: "10658000", Text: "BIND STB1"})
	require.NoError(t, err)
	a, err := f.st.Activation(ctx, res.ActivationID)
	require.NoError(t, err)

	_, err = f.svc.Cancel(ctx, a.ID, a.Version-1, "admin")
	require.ErrorIs(t, err, store.ErrConflict, "a stale version")
	c, err := f.svc.Cancel(ctx, a.ID, a.Version, "admin")
	require.NoError(t, err)
	assert.Equal(t, store.ActivationCancelled, c.State)
	_, err = f.svc.Cancel(ctx, a.ID, c.Version, "admin")
	require.ErrorIs(t, err, ErrNotPending)
	oss.fn = func() (OSSDecision, error) { return OSSDecision{Allow: true}, nil }
	f.now = f.now.Add(time.Hour)
	_, err = f.svc.RunDue(ctx)
	require.NoError(t, err)
	tm, err := f.st.Terminal(ctx, "STB1")
	require.NoError(t, err)
	assert.Equal(t, store.TerminalUnbound, tm.State, "a cancelled activation never binds")

	err = f.svc.Resend(ctx, "STB1", "admin")
	require.ErrorIs(t, err, ErrNotBound)
	f.now = f.now.Add(time.Hour)
	_, err = f.svc.ReceiveMO(ctx, MO{SMSCID: "2", From: "+8613800138000", To: "10658000", Text: "BIND STB1"})
	require.NoError(t, err)
	require.NoError(t, f.svc.Resend(ctx, "STB1", "admin"))
	confs, _ := f.messages(t, "STB1")
	require.Len(t, confs, 2)
	assert.Equal(t, confs[0].Text, confs[1].Text)

	tm, err = f.st.Terminal(ctx, "STB1")
	require.NoError(t, err)
	_, err = f.svc.Unbind(ctx, "STB1", tm.Version+1, "admin")
	require.ErrorIs(t, err, store.ErrConflict)
	un, err := f.svc.Unbind(ctx, "STB1", tm.Version, "admin")
	require.NoError(t, err)
	assert.Equal(t, store.TerminalUnbound, un.State)
	assert.Empty(t, un.Token)
}

// TestOSSStepIsClaimed: while one node runs an activation's OSS step,
// another node's retry loop leaves it alone, until the claim runs out.
func TestOSSStepIsClaimed(t *testing.T) {
	ctx := context.Background()
	oss := &scriptOSS{}
	f := newFixture(t, oss)
	f.enrol(t, "STB1", "+8614700000001")
	var seen []int
	oss.fn = func() (OSSDecision, error) {
		saved := f.now
		f.now = f.now.Add(f.svc.claim() - time.Second)
		n, err := f.svc.RunDue(ctx) // another node's loop, during the call
		require.NoError(t, err)
		seen = append(seen, n)
		f.now = saved
		return OSSDecision{Allow: true}, nil
	}
	res, err := f.svc.ReceiveMO(ctx, MO{SMSCID: "1", From: "+8613800138000", To: "10658000", Text: "BIND STB1"})
	require.NoError(t, err)
	assert.Equal(t, OutcomeActivated, res.Outcome)
	assert.Equal(t, []int{0}, seen, "the claimed activation was not taken by the other loop")
	assert.Equal(t, 1, oss.calls, "one OSS call")
}
