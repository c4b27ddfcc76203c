package netsim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/pdumode"

	"bindpay/internal/confirm"
	"bindpay/internal/modemsim"
	"bindpay/internal/server/activation"
	"bindpay/internal/server/number"
)

const (
	tid       = "STB0012345678" // DESIGN.md's test vector terminal
	otherTID  = "STB0099999999"
	phoneNum  = "13800138000"
	masterKey = "example master key"
)

var testNow = time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)

var nonceRE = regexp.MustCompile(`^[a-z0-9]{6,8}$`)

// fakeSIM is a scripted Deliverer: each Deliver call's PDUs go to got.
type fakeSIM struct {
	got  chan []string
	next int
}

func newFakeSIM() *fakeSIM { return &fakeSIM{got: make(chan []string, 16)} }

func (f *fakeSIM) Deliver(pdus ...string) ([]int, error) {
	slots := make([]int, len(pdus))
	for i := range slots {
		slots[i] = f.next
		f.next++
	}
	f.got <- pdus
	return slots, nil
}

// receive waits for one whole message: the sim link delivers it part by
// part, one Deliver call each. The timeout only guards against a hang.
func (f *fakeSIM) receive(t *testing.T) []string {
	t.Helper()
	c := sms.NewCollector()
	defer c.Close()
	var pdus []string
	for {
		select {
		case p := <-f.got:
			for _, h := range p {
				pdus = append(pdus, h)
				pm, err := pdumode.UnmarshalHexString(h)
				require.NoError(t, err)
				tp, err := sms.Unmarshal(pm.TPDU, sms.AsMT)
				require.NoError(t, err)
				segs, err := c.Collect(*tp)
				require.NoError(t, err)
				if segs != nil {
					return pdus
				}
			}
		case <-time.After(10 * time.Second):
			require.FailNow(t, "no whole SMS delivered to the SIM", "parts so far %q", pdus)
			return nil
		}
	}
}

// requireNothing fails if a delivery is already there. Only meaningful once
// the Network is closed or its deliveries are known to be done.
func (f *fakeSIM) requireNothing(t *testing.T) {
	t.Helper()
	select {
	case p := <-f.got:
		require.FailNow(t, "unexpected SMS delivered", "PDUs %q", p)
	default:
	}
}

// logRecorder collects the trace.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) Logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logRecorder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// clock starts at testNow and moves a millisecond at each reading, as
// time does between the platform's steps.
type clock struct{ ticks atomic.Int64 }

func (c *clock) now() time.Time {
	return testNow.Add(time.Duration(c.ticks.Add(1)-1) * time.Millisecond)
}

type fixture struct {
	clock clock
	net   *Network
	sims  map[string]*fakeSIM
	log   *logRecorder
	srv   *httptest.Server
}

func newFixture(t *testing.T, mod func(*Config)) *fixture {
	t.Helper()
	f := &fixture{sims: map[string]*fakeSIM{tid: newFakeSIM(), otherTID: newFakeSIM()}, log: &logRecorder{}}
	cfg := Config{
		MasterKey: []byte(masterKey),
		Now:       f.clock.now,
		Logf:      f.log.Logf,
	}
	if mod != nil {
		mod(&cfg)
	}
	f.net = New(cfg)
	t.Cleanup(f.net.Close)
	for id, sim := range f.sims {
		f.net.AddTerminal(id, sim)
	}
	f.srv = httptest.NewServer(f.net.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

// get queries the service platform, with headers, and decodes the answer.
func (f *fixture) get(t *testing.T, path string, hdr map[string]string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := f.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body), "GET %s", path)
	return resp.StatusCode, body
}

func (f *fixture) post(t *testing.T, path, body string) (int, map[string]any) {
	t.Helper()
	resp, err := f.srv.Client().Post(f.srv.URL+path, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var m map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&m), "POST %s %s", path, body)
	return resp.StatusCode, m
}

func bindingPath(id string) string { return "/v1/terminals/" + id + "/binding" }

// decodeSMS reassembles SMS-DELIVER PDUs into sender and text.
func decodeSMS(t *testing.T, pdus []string) (from, text string) {
	t.Helper()
	c := sms.NewCollector()
	defer c.Close()
	for i, h := range pdus {
		p, err := pdumode.UnmarshalHexString(h)
		require.NoError(t, err, "PDU %d %q", i, h)
		tp, err := sms.Unmarshal(p.TPDU, sms.AsMT)
		require.NoError(t, err, "TPDU %d %q", i, h)
		segs, err := c.Collect(*tp)
		require.NoError(t, err, "collect PDU %d", i)
		if segs == nil {
			require.Less(t, i, len(pdus)-1, "message incomplete after all %d PDUs", len(pdus))
			continue
		}
		require.Equal(t, len(pdus)-1, i, "message complete before the last PDU")
		b, err := sms.Decode(segs)
		require.NoError(t, err)
		return segs[0].OA.Number(), string(b)
	}
	require.FailNow(t, "no PDUs")
	return "", ""
}

func TestBindingQuery(t *testing.T) {
	f := newFixture(t, nil)
	require.NoError(t, f.net.PhoneSend(context.Background(), "+86 138-0013-8000", DefaultServiceNumber, "BIND "+otherTID))
	f.sims[otherTID].receive(t)

	tests := []struct {
		name   string
		tid    string
		status int
		check  func(t *testing.T, body map[string]any)
	}{
		{"unknown", "STB404", http.StatusNotFound, func(t *testing.T, body map[string]any) {
			assert.Equal(t, "unknown_terminal", body["code"])
			assert.Contains(t, body["message"], "STB404")
		}},
		{"unbound", tid, http.StatusOK, func(t *testing.T, body map[string]any) {
			assert.Equal(t, tid, body["terminal_id"])
			assert.Equal(t, false, body["bound"])
			act, ok := body["activation"].(map[string]any)
			require.True(t, ok, "activation: got %v", body)
			assert.Equal(t, DefaultServiceNumber, act["sms_to"])
			assert.Equal(t, "BIND "+tid, act["sms_body"])
			assert.Regexp(t, nonceRE, act["nonce"])
			assert.NotContains(t, body, "msisdn")
		}},
		{"bound", otherTID, http.StatusOK, func(t *testing.T, body map[string]any) {
			assert.Equal(t, otherTID, body["terminal_id"])
			assert.Equal(t, true, body["bound"])
			assert.Equal(t, "138****8000", body["msisdn"], "only the masked number reaches a terminal")
			assert.Equal(t, "2026-11-25T20:00:00Z", body["bound_at"])
			assert.NotContains(t, body, "activation")
			tok, err := confirm.Parse(body["token"].(string))
			require.NoError(t, err, "the bound answer carries its token")
			assert.Equal(t, otherTID, tok.TerminalID)
			assert.Equal(t, "138****8000", tok.MSISDN)
			assert.True(t, confirm.Verify(confirm.DeriveKey([]byte(masterKey), otherTID), tok), "token signed with the terminal's key")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := f.get(t, bindingPath(tc.tid), nil)
			require.Equal(t, tc.status, status, "GET %s: body %v", tc.tid, body)
			tc.check(t, body)
		})
	}
}

// Protocol v2: one nonce per terminal, stable until a binding consumes it,
// so that repeated queries are pure reads; the confirmation carries the
// terminal's current nonce, whatever the MO names (the platform's
// TokenNonce: a nonce consumed by an earlier binding is never reused).
func TestNonceStableUntilConsumed(t *testing.T) {
	f := newFixture(t, nil)
	nonceOf := func() string {
		status, body := f.get(t, bindingPath(tid), nil)
		require.Equal(t, http.StatusOK, status)
		n := body["activation"].(map[string]any)["nonce"].(string)
		require.Regexp(t, nonceRE, n)
		return n
	}
	first := nonceOf()
	for range 5 {
		require.Equal(t, first, nonceOf(), "a repeated query gives the same nonce")
	}
	bind := func(moNonce string) string {
		require.NoError(t, f.net.PhoneSend(context.Background(), phoneNum, DefaultServiceNumber, strings.TrimSpace("BIND "+tid+" "+moNonce)))
		_, text := decodeSMS(t, f.sims[tid].receive(t))
		tok, err := confirm.Find(text)
		require.NoError(t, err, "text %q", text)
		return tok.Nonce
	}
	assert.Equal(t, first, bind(strings.ToUpper(first)), "the MO's nonce, in any case")
	f.net.Unbind(tid)
	second := nonceOf()
	assert.NotEqual(t, first, second, "the binding consumed the first nonce")
	assert.Equal(t, second, bind("zzzzzz"), "a nonce never issued: the current one instead")
	f.net.Unbind(tid)
	third := nonceOf()
	assert.Equal(t, third, bind(""), "no nonce in the MO: the current one")
	f.net.Unbind(tid)
	fourth := nonceOf()
	assert.Equal(t, fourth, bind(first), "a nonce consumed by an earlier binding: the current one instead")
}

// A terminal that never asked holds no nonce: the confirmation's token
// then carries none (the agent binds on it only through its next query,
// whose answer carries the same token), and the MO's nonce, never issued,
// is not confirmed.
func TestNoNonceWhenNoneIssued(t *testing.T) {
	f := newFixture(t, nil)
	require.NoError(t, f.net.PhoneSend(context.Background(), phoneNum, DefaultServiceNumber, "BIND "+tid+" abcdef"))
	_, text := decodeSMS(t, f.sims[tid].receive(t))
	tok, err := confirm.Find(text)
	require.NoError(t, err)
	assert.Empty(t, tok.Nonce, "a nonce never issued must not be confirmed")
	status, body := f.get(t, bindingPath(tid), nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, tok.String(), body["token"], "the query's proof is the SMS's token")
}

func TestSignedRequests(t *testing.T) {
	// DESIGN.md's test vector: master "example master key", tid
	// STB0012345678, this date and path.
	const (
		date      = "2026-11-25T20:00:00Z"
		vectorSig = "BPH1 e02d9e3db23cba259f85417f465b95c5f4c007c83355bd14d0dc0a877724de3a"
	)
	key := confirm.DeriveKey([]byte(masterKey), tid)
	signed := func(id string, k []byte, date string) map[string]string {
		return map[string]string{
			"X-Bindpay-Date": date,
			"Authorization":  confirm.AuthorizationHeader(k, http.MethodGet, bindingPath(id), date),
		}
	}
	stale := testNow.Add(-6 * time.Minute).Format(time.RFC3339)
	future := testNow.Add(6 * time.Minute).Format(time.RFC3339)
	recent := testNow.Add(-4 * time.Minute).Format(time.RFC3339)

	tests := []struct {
		name     string
		required bool
		tid      string
		hdr      map[string]string
		status   int
	}{
		{"unsigned, not required", false, tid, nil, http.StatusOK},
		{"unsigned, required", true, tid, nil, http.StatusUnauthorized},
		{"test vector", true, tid, map[string]string{"X-Bindpay-Date": date, "Authorization": vectorSig}, http.StatusOK},
		{"signed, not required", false, tid, signed(tid, key, date), http.StatusOK},
		{"date 4 minutes old", true, tid, signed(tid, key, recent), http.StatusOK},
		{"bad signature", true, tid, map[string]string{"X-Bindpay-Date": date, "Authorization": "BPH1 " + strings.Repeat("00", 32)}, http.StatusUnauthorized},
		{"bad signature, not required", false, tid, map[string]string{"X-Bindpay-Date": date, "Authorization": "BPH1 " + strings.Repeat("00", 32)}, http.StatusUnauthorized},
		{"another terminal's key", true, tid, signed(tid, confirm.DeriveKey([]byte(masterKey), otherTID), date), http.StatusUnauthorized},
		{"signed for another path", true, otherTID, signed(tid, key, date), http.StatusUnauthorized},
		{"stale date", true, tid, signed(tid, key, stale), http.StatusUnauthorized},
		{"stale date, not required", false, tid, signed(tid, key, stale), http.StatusUnauthorized},
		{"date in the future", true, tid, signed(tid, key, future), http.StatusUnauthorized},
		{"date not RFC 3339", true, tid, signed(tid, key, "Wed, 25 Nov 2026 20:00:00 GMT"), http.StatusUnauthorized},
		{"no date", true, tid, map[string]string{"Authorization": vectorSig}, http.StatusUnauthorized},
		{"signed, unknown terminal", true, "STB404", signed("STB404", confirm.DeriveKey([]byte(masterKey), "STB404"), date), http.StatusNotFound},
		{"unsigned, unknown terminal, required", true, "STB404", nil, http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.RequireSignedRequests = tc.required })
			status, body := f.get(t, bindingPath(tc.tid), tc.hdr)
			require.Equal(t, tc.status, status, "headers %v: body %v", tc.hdr, body)
			if status == http.StatusUnauthorized {
				assert.Equal(t, "unauthorized", body["code"])
				assert.NotEmpty(t, body["message"])
			}
		})
	}
}

func TestPhoneSMS(t *testing.T) {
	tests := []struct {
		name   string
		req    string
		status int
		code   string // JSON error code when not 202
		bound  string // the terminal bound by an accepted MO
		msisdn string
	}{
		{"plain", `{"from":"13800138000","to":"10658000","body":"BIND STB0012345678"}`, 202, "", tid, "+86" + phoneNum},
		{"lower case", `{"from":"13800138000","to":"10658000","body":"bind stb0012345678"}`, 202, "", tid, "+86" + phoneNum},
		{"extra spaces", `{"from":"13800138000","to":"10658000","body":"  Bind \t STB0012345678   "}`, 202, "", tid, "+86" + phoneNum},
		{"ideographic space", `{"from":"13800138000","to":"10658000","body":"BIND\u3000STB0012345678"}`, 202, "", tid, "+86" + phoneNum},
		{"with nonce", `{"from":"13800138000","to":"10658000","body":"BIND STB0012345678 q8x3k2"}`, 202, "", tid, "+86" + phoneNum},
		{"international sender", `{"from":"+8613912345678","to":"10658000","body":"BIND STB0012345678"}`, 202, "", tid, "+8613912345678"},
		{"service number with +86", `{"from":"13800138000","to":"+8610658000","body":"BIND STB0012345678"}`, 202, "", tid, "+86" + phoneNum},
		{"other terminal", `{"from":"13800138000","to":"10658000","body":"BIND STB0099999999"}`, 202, "", otherTID, "+86" + phoneNum},
		{"wrong destination", `{"from":"13800138000","to":"10086","body":"BIND STB0012345678"}`, 422, "wrong_number", "", ""},
		{"no destination", `{"from":"13800138000","body":"BIND STB0012345678"}`, 422, "wrong_number", "", ""},
		{"unknown terminal", `{"from":"13800138000","to":"10658000","body":"BIND STB404"}`, 404, "unknown_terminal", "", ""},
		{"garbage", `{"from":"13800138000","to":"10658000","body":"hello, is this the bank?"}`, 422, "malformed", "", ""},
		{"keyword only", `{"from":"13800138000","to":"10658000","body":"BIND"}`, 422, "malformed", "", ""},
		{"empty body", `{"from":"13800138000","to":"10658000","body":""}`, 422, "malformed", "", ""},
		{"too many words", `{"from":"13800138000","to":"10658000","body":"BIND STB0012345678 q8x3k2 please"}`, 422, "malformed", "", ""},
		{"other keyword", `{"from":"13800138000","to":"10658000","body":"BINDSTB0012345678"}`, 422, "malformed", "", ""},
		{"alphanumeric sender", `{"from":"BindPay","to":"10658000","body":"BIND STB0012345678"}`, 422, "bad_sender", "", ""},
		{"no sender", `{"to":"10658000","body":"BIND STB0012345678"}`, 422, "bad_sender", "", ""},
		{"not JSON", `BIND STB0012345678`, 400, "bad_request", "", ""},
		{"trailing data", `{"from":"13800138000","to":"10658000","body":"BIND STB0012345678"} {}`, 400, "bad_request", "", ""},
		{"oversized", `{"from":"13800138000","to":"10658000","body":"` + strings.Repeat("x", maxBody) + `"}`, 400, "bad_request", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			status, body := f.post(t, "/v1/phone/sms", tc.req)
			require.Equal(t, tc.status, status, "POST %s: body %v", tc.req, body)
			if tc.status != http.StatusAccepted {
				assert.Equal(t, tc.code, body["code"], "body %v", body)
				assert.NotEmpty(t, body["message"])
				f.net.Close() // no delivery may be pending
				f.sims[tid].requireNothing(t)
				f.sims[otherTID].requireNothing(t)
				for _, id := range []string{tid, otherTID} {
					bound, _ := f.net.Binding(id)
					assert.False(t, bound, "terminal %s bound by a refused MO", id)
				}
				return
			}
			assert.Equal(t, tc.bound, body["terminal_id"])
			assert.Equal(t, number.Mask(tc.msisdn), body["msisdn"])
			bound, msisdn := f.net.Binding(tc.bound)
			assert.True(t, bound)
			assert.Equal(t, tc.msisdn, msisdn)
			f.sims[tc.bound].receive(t)
		})
	}
}

func TestConfirmationDelivered(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.ConfirmSender = "1065800001" })
	status, body := f.get(t, bindingPath(tid), nil)
	require.Equal(t, http.StatusOK, status)
	nonce := body["activation"].(map[string]any)["nonce"].(string)

	require.NoError(t, f.net.PhoneSend(context.Background(), phoneNum, DefaultServiceNumber, "BIND "+tid))
	pdus := f.sims[tid].receive(t)
	require.Len(t, pdus, 2, "the confirmation comes in two concatenated parts")
	from, text := decodeSMS(t, pdus)
	assert.Equal(t, "1065800001", from)
	assert.Contains(t, text, "【号码绑定支付】终端"+tid+"已开通，绑定号码138****8000。")
	assert.Equal(t, f.net.ConfirmationText(tid, "138****8000", nonce), text, "ConfirmationText is the platform's text")
	require.Eventually(t, func() bool { return len(f.net.PhoneInbox(phoneNum)) == 1 }, 10*time.Second, 10*time.Millisecond, "the phone gets its reply")
	assert.Equal(t, activation.ReplyText("zh-CN", activation.ReplyActivated, tid, ""), f.net.PhoneInbox(phoneNum)[0].Text)

	tok, err := confirm.Find(text)
	require.NoError(t, err, "text %q", text)
	assert.Equal(t, tid, tok.TerminalID)
	assert.Equal(t, "138****8000", tok.MSISDN)
	assert.Equal(t, nonce, tok.Nonce)
	assert.True(t, confirm.Verify(confirm.DeriveKey([]byte(masterKey), tid), tok), "token %s", tok)
	assert.False(t, confirm.Verify(confirm.DeriveKey([]byte(masterKey), otherTID), tok), "verifies with another terminal's key")

	status, body = f.get(t, bindingPath(tid), nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, true, body["bound"])
	assert.Equal(t, "138****8000", body["msisdn"])

	f.net.Close()
	f.sims[tid].requireNothing(t)
	f.sims[otherTID].requireNothing(t)
	trace := f.log.String()
	for _, want := range []string{
		"SMS centre: MO from " + phoneNum + " to 10658000",
		"SMS centre: MO netsim-1 to the platform: activated",
		"SMS centre: MT to terminal " + tid + " (SIM 147****",
		"from 1065800001, part 2",
		"SMS centre: MT to phone 138****8000 from 1065800001",
	} {
		assert.Contains(t, trace, want)
	}
}

func TestConfirmationTextNeedsTwoParts(t *testing.T) {
	n := New(Config{MasterKey: []byte(masterKey)})
	defer n.Close()
	for _, nonce := range []string{"", "q8x3k2", "abcd1234"} {
		text := n.ConfirmationText(tid, "138****8000", nonce)
		pdus, err := modemsim.EncodeDeliver(DefaultServiceNumber, text, testNow, 1)
		require.NoError(t, err)
		assert.Len(t, pdus, 2, "nonce %q: text %q", nonce, text)
	}
	// DESIGN.md's token test vector.
	assert.True(t, strings.HasSuffix(n.ConfirmationText(tid, "138****8000", "q8x3k2"),
		"。BP1 t=STB0012345678 m=138****8000 n=q8x3k2 s=FWC0YGwf5vt1dIPLmlT2ww"))
}

// The platform refuses to bind a bound terminal to another number (its
// reply tells the phone so); once the operator unbinds, the other number
// binds.
func TestRebindRefusedUntilUnbound(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	require.NoError(t, f.net.PhoneSend(ctx, phoneNum, DefaultServiceNumber, "BIND "+tid))
	f.sims[tid].receive(t)
	require.ErrorIs(t, f.net.PhoneSend(ctx, "13912345678", DefaultServiceNumber, "BIND "+tid), ErrBoundOther)
	bound, msisdn := f.net.Binding(tid)
	assert.True(t, bound)
	assert.Equal(t, "+86"+phoneNum, msisdn, "the binding is unchanged")
	require.Eventually(t, func() bool { return len(f.net.PhoneInbox("13912345678")) == 1 }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, activation.ReplyText("zh-CN", activation.ReplyBoundOther, tid, ""), f.net.PhoneInbox("13912345678")[0].Text)
	status, body := f.post(t, "/v1/phone/sms", `{"from":"13912345678","to":"10658000","body":"BIND STB0012345678"}`)
	assert.Equal(t, http.StatusConflict, status)
	assert.Equal(t, "bound_other", body["code"])

	f.net.Unbind(tid)
	bound, msisdn = f.net.Binding(tid)
	assert.False(t, bound)
	assert.Empty(t, msisdn)
	status, body = f.get(t, bindingPath(tid), nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, false, body["bound"])

	require.NoError(t, f.net.PhoneSend(ctx, "13912345678", DefaultServiceNumber, "BIND "+tid))
	_, text := decodeSMS(t, f.sims[tid].receive(t))
	tok, err := confirm.Find(text)
	require.NoError(t, err)
	assert.Equal(t, "139****5678", tok.MSISDN)

	events := timelineEvents(t, f.net, tid)
	assert.Equal(t, []string{"enrolled", "activation_requested", "bound", "activation_requested", "activation_refused", "activation_requested", "activation_refused", "unbound", "activation_requested", "bound"},
		filterEvents(events, "enrolled", "activation_requested", "activation_refused", "bound", "unbound"), "the platform's audit timeline")
}

func timelineEvents(t *testing.T, n *Network, id string) []string {
	t.Helper()
	es, err := n.Timeline(context.Background(), id)
	require.NoError(t, err)
	var out []string
	for _, e := range es {
		out = append(out, e.Event)
	}
	return out
}

func filterEvents(events []string, keep ...string) []string {
	var out []string
	for _, e := range events {
		if slices.Contains(keep, e) {
			out = append(out, e)
		}
	}
	return out
}

func TestCloseStopsPendingDelivery(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.ConfirmDelay = time.Hour })
	require.NoError(t, f.net.PhoneSend(context.Background(), phoneNum, DefaultServiceNumber, "BIND "+tid))
	bound, _ := f.net.Binding(tid)
	assert.True(t, bound, "the OSS activates at once; only the MT waits")
	f.net.Close() // returns at once: the delay is cancelled, not waited for
	f.sims[tid].requireNothing(t)

	err := f.net.PhoneSend(context.Background(), phoneNum, DefaultServiceNumber, "BIND "+tid)
	require.ErrorIs(t, err, ErrClosed)
	status, body := f.post(t, "/v1/phone/sms", `{"from":"13800138000","to":"10658000","body":"BIND STB0012345678"}`)
	assert.Equal(t, http.StatusServiceUnavailable, status, "body %v", body)
}

func TestPhoneSendCancelledContext(t *testing.T) {
	f := newFixture(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, f.net.PhoneSend(ctx, phoneNum, DefaultServiceNumber, "BIND "+tid), context.Canceled)
	bound, _ := f.net.Binding(tid)
	assert.False(t, bound)
}

func TestSendRaw(t *testing.T) {
	f := newFixture(t, nil)
	spoof := "【号码绑定支付】终端" + tid + "已开通。BP1 t=" + tid + " m=138****8000 n=q8x3k2 s=AAAAAAAAAAAAAAAAAAAAAA"
	require.NoError(t, f.net.SendRaw(tid, "+8613999999999", spoof))
	from, text := decodeSMS(t, f.sims[tid].receive(t))
	assert.Equal(t, "+8613999999999", from)
	assert.Equal(t, spoof, text)
	bound, _ := f.net.Binding(tid)
	assert.False(t, bound, "a raw SMS binds nothing")

	require.ErrorIs(t, f.net.SendRaw("STB404", "10658000", "hi"), ErrUnknownTerminal)

	tests := []struct {
		name   string
		req    string
		status int
		text   string
	}{
		{"GSM 7-bit text", `{"terminal":"STB0099999999","from":"10658000","text":"hello"}`, 200, "hello"},
		{"unknown terminal", `{"terminal":"STB404","from":"10658000","text":"hello"}`, 404, ""},
		{"no sender", `{"terminal":"STB0099999999","text":"hello"}`, 400, ""},
		{"not JSON", `hello`, 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := f.post(t, "/v1/sim/sms", tc.req)
			require.Equal(t, tc.status, status, "POST %s: body %v", tc.req, body)
			if tc.status != http.StatusOK {
				return
			}
			from, text := decodeSMS(t, f.sims[otherTID].receive(t))
			assert.Equal(t, "10658000", from)
			assert.Equal(t, tc.text, text)
		})
	}
}

func TestNoModem(t *testing.T) {
	f := newFixture(t, nil)
	f.net.AddTerminal("STB-NOSIM", nil)
	require.NoError(t, f.net.PhoneSend(context.Background(), phoneNum, DefaultServiceNumber, "BIND STB-NOSIM"))
	require.Eventually(t, func() bool { return strings.Contains(f.log.String(), "terminal STB-NOSIM: terminal has no modem") }, 10*time.Second, 10*time.Millisecond,
		"the SMS centre refuses the part, the platform's outbox says so; trace:\n%s", f.log)
	require.ErrorIs(t, f.net.SendRaw("STB-NOSIM", "10658000", "hi"), ErrNoModem)
}

func TestUnknownEndpoint(t *testing.T) {
	f := newFixture(t, nil)
	status, body := f.get(t, "/v1/nothing", nil)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, "not_found", body["code"])
	status, body = f.post(t, bindingPath(tid), `{}`)
	assert.Equal(t, http.StatusNotFound, status, "body %v", body)
	assert.Equal(t, "not_found", body["code"])
}

func TestNewRequiresMasterKey(t *testing.T) {
	assert.Panics(t, func() { New(Config{}) })
}

// TestDeliversIntoModemsim runs the SMS platform against the real simulated
// modem: the confirmation lands in its SIM storage, ready for the agent.
func TestDeliversIntoModemsim(t *testing.T) {
	m, err := modemsim.New()
	require.NoError(t, err)
	defer m.Close()
	n := New(Config{MasterKey: []byte(masterKey)})
	n.AddTerminal(tid, m)
	defer n.Close()
	require.NoError(t, n.PhoneSend(context.Background(), phoneNum, DefaultServiceNumber, "BIND "+tid))
	require.Eventually(t, func() bool { return len(m.Stored()) == 2 }, 10*time.Second, 10*time.Millisecond, "both parts land in the SIM")

	slots := m.Stored()
	pdus := []string{slots[0].PDU, slots[1].PDU}
	from, text := decodeSMS(t, pdus)
	assert.Equal(t, DefaultServiceNumber, from)
	tok, err := confirm.Find(text)
	require.NoError(t, err, "text %q", text)
	assert.True(t, confirm.Verify(confirm.DeriveKey([]byte(masterKey), tid), tok))
}

func TestSIMNumber(t *testing.T) {
	tests := []struct{ name, tid string }{
		{"design vector", tid},
		{"other", otherTID},
		{"IMEI", "861234567890123"},
	}
	seen := map[string]string{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := SIMNumber(tc.tid)
			assert.Regexp(t, `^\+86147[0-9]{8}$`, got)
			assert.Equal(t, got, SIMNumber(tc.tid), "stable")
			e, err := number.E164(got)
			require.NoError(t, err)
			assert.Equal(t, got, e, "already E.164")
			assert.NotContains(t, seen, got, "distinct from %s", seen[got])
			seen[got] = tc.tid
		})
	}
}

// AddTerminal enrols once: again, it replaces the modem and keeps the
// binding.
func TestAddTerminalAgainKeepsBinding(t *testing.T) {
	f := newFixture(t, nil)
	require.NoError(t, f.net.PhoneSend(context.Background(), phoneNum, DefaultServiceNumber, "BIND "+tid))
	f.sims[tid].receive(t)
	again := newFakeSIM()
	f.net.AddTerminal(tid, again)
	bound, _ := f.net.Binding(tid)
	assert.True(t, bound)
	require.NoError(t, f.net.SendRaw(tid, "10658000", "hello"))
	_, text := decodeSMS(t, again.receive(t))
	assert.Equal(t, "hello", text)
	assert.Equal(t, []string{"enrolled"}, filterEvents(timelineEvents(t, f.net, tid), "enrolled"), "enrolled once")
}

// The admin API of the platform is there when a token is configured.
func TestAdminAPI(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.AdminToken = "s3cret" })
	require.NoError(t, f.net.PhoneSend(context.Background(), phoneNum, DefaultServiceNumber, "BIND "+tid))
	status, _ := f.get(t, "/v1/admin/terminals/"+tid, nil)
	assert.Equal(t, http.StatusUnauthorized, status)
	status, body := f.get(t, "/v1/admin/terminals/"+tid, map[string]string{"Authorization": "Bearer s3cret"})
	require.Equal(t, http.StatusOK, status, "body %v", body)
	assert.Equal(t, "bound", body["state"])
	assert.Equal(t, SIMNumber(tid), body["sim_msisdn"])
	assert.NotEmpty(t, body["timeline"])
}
