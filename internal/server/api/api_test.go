package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/confirm"
	"bindpay/internal/server/activation"
	"bindpay/internal/server/outbox"
	"bindpay/internal/server/store"
)

// DESIGN.md's protocol v2 vectors.
var (
	vectorMaster = []byte("example master key")
	vectorDate   = "2026-11-25T20:00:00Z"
	vectorPath   = "/v1/terminals/STB0012345678/binding"
)

type fixture struct {
	st  store.Store
	h   http.Handler
	now time.Time
	ob  *outbox.Worker
}

func newFixture(t *testing.T, allowUnsigned bool) *fixture {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "p.db"), true)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, now: time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)}
	now := func() time.Time { return f.now }
	f.ob = outbox.New(outbox.Config{Store: st, Owner: "test", Lease: time.Minute, Poll: time.Hour, LinkTimeout: time.Second,
		RetryInitial: time.Second, RetryMax: time.Minute, Now: now})
	act := activation.New(activation.Config{Store: st, MasterKey: vectorMaster, From: "10658000", OSSTimeout: time.Second,
		RetryInitial: time.Minute, RetryMax: time.Hour, DedupWindow: 10 * time.Minute, Validity: time.Hour, Poll: time.Hour, Now: now})
	f.h = New(Deps{Store: st, MasterKey: vectorMaster, SMSFrom: "10658000", NonceTTL: time.Hour, AllowUnsigned: allowUnsigned,
		CallbackKey: "cb-key", AdminToken: "admin-token", Activation: act, Outbox: f.ob, Now: now,
		NewNonce: func() string { return "q8x3k2" }})
	return f
}

func (f *fixture) do(t *testing.T, r *http.Request) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, r)
	res := rec.Result()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(b)
}

func signedQuery(tid, date string) *http.Request {
	path := "/v1/terminals/" + tid + "/binding"
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.Header.Set("X-Bindpay-Date", date)
	r.Header.Set("Authorization", confirm.AuthorizationHeader(confirm.DeriveKey(vectorMaster, tid), "GET", path, date))
	return r
}

func TestBindingVectors(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, false)
	_, _, err := f.st.Enrol(ctx, store.Enrolment{TerminalID: "STB0012345678"}, f.now)
	require.NoError(t, err)

	res, body := f.do(t, signedQuery("STB0012345678", vectorDate))
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Equal(t, `{"terminal_id":"STB0012345678","bound":false,"activation":{"sms_to":"10658000","sms_body":"BIND STB0012345678","nonce":"q8x3k2"}}`, body)
	assert.Equal(t, "BPH1 e8f8e9d40da71661f9dfd9c32452b49d3230cf203bc2a17b5616ee0533ec7e63", res.Header.Get(confirm.SignatureHeader))

	tm, err := f.st.Terminal(ctx, "STB0012345678")
	require.NoError(t, err)
	version := tm.Version
	_, again := f.do(t, signedQuery("STB0012345678", vectorDate))
	assert.Equal(t, body, again, "a stable nonce")
	tm, err = f.st.Terminal(ctx, "STB0012345678")
	require.NoError(t, err)
	assert.Equal(t, version, tm.Version, "a second query is a pure read")

	tm.State, tm.MSISDN, tm.MSISDNMasked = store.TerminalBound, "+8613800138000", "138****8000"
	tm.BoundAt = f.now
	tm.Token = "BP1 t=STB0012345678 m=138****8000 n=q8x3k2 s=FWC0YGwf5vt1dIPLmlT2ww"
	_, err = f.st.UpdateTerminal(ctx, tm, f.now)
	require.NoError(t, err)
	res, body = f.do(t, signedQuery("STB0012345678", vectorDate))
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, `{"terminal_id":"STB0012345678","bound":true,"msisdn":"138****8000","bound_at":"2026-11-25T20:00:00Z","token":"BP1 t=STB0012345678 m=138****8000 n=q8x3k2 s=FWC0YGwf5vt1dIPLmlT2ww"}`, body)
	assert.Equal(t, "BPH1 53a1a85f96cb20b04b9c3e91f34f93c7e48965c82bc7d9c3c5cab70db6ca2ed2", res.Header.Get(confirm.SignatureHeader))
}

func TestBindingRefusals(t *testing.T) {
	f := newFixture(t, false)
	cases := []struct {
		name string
		req  func() *http.Request
	}{
		{"unsigned", func() *http.Request { return httptest.NewRequest(http.MethodGet, vectorPath, nil) }},
		{"date too old", func() *http.Request { return signedQuery("STB0012345678", "2026-11-25T19:54:59Z") }},
		{"date too new", func() *http.Request { return signedQuery("STB0012345678", "2026-11-25T20:05:01Z") }},
		{"date not RFC 3339", func() *http.Request { return signedQuery("STB0012345678", "Wed, 25 Nov 2026 20:00:00 GMT") }},
		{"bad signature", func() *http.Request {
			r := signedQuery("STB0012345678", vectorDate)
			r.Header.Set("Authorization", "BPH1 "+strings.Repeat("0", 64))
			return r
		}},
		{"another terminal's key", func() *http.Request {
			r := signedQuery("STB0012345678", vectorDate)
			r.Header.Set("Authorization", signedQuery("STB9", vectorDate).Header.Get("Authorization"))
			return r
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, body := f.do(t, c.req())
			assert.Equal(t, http.StatusUnauthorized, res.StatusCode, body)
			assert.Equal(t, "Wed, 25 Nov 2026 20:00:00 GMT", res.Header.Get("Date"), "our clock, for the agent's offset")
			assert.Empty(t, res.Header.Get(confirm.SignatureHeader))
			assert.Contains(t, body, `"code":"unauthorized"`)
		})
	}
	res, _ := f.do(t, signedQuery("STB0012345678", "2026-11-25T19:55:00Z"))
	assert.Equal(t, http.StatusNotFound, res.StatusCode, "5 minutes off is still accepted (then: not enrolled)")
}

func TestBindingNeverEnrolledIsSigned404(t *testing.T) {
	f := newFixture(t, false)
	res, body := f.do(t, signedQuery("STB0012345678", vectorDate))
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	key := confirm.DeriveKey(vectorMaster, "STB0012345678")
	assert.True(t, confirm.VerifyAnswer(key, 404, vectorPath, vectorDate, []byte(body), res.Header.Get(confirm.SignatureHeader)))
}

func TestBindingUnsignedAllowed(t *testing.T) {
	f := newFixture(t, true)
	_, _, err := f.st.Enrol(context.Background(), store.Enrolment{TerminalID: "STB1"}, f.now)
	require.NoError(t, err)
	res, body := f.do(t, httptest.NewRequest(http.MethodGet, "/v1/terminals/STB1/binding", nil))
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Contains(t, body, `"bound":false`)
	res, _ = f.do(t, signedQuery("STB1", "2020-01-01T00:00:00Z"))
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "a signed request is always checked")
}

func TestNonceExpiresAndIsReplaced(t *testing.T) {
	f := newFixture(t, true)
	_, _, err := f.st.Enrol(context.Background(), store.Enrolment{TerminalID: "STB1"}, f.now)
	require.NoError(t, err)
	n := 0
	f.h = New(Deps{Store: f.st, MasterKey: vectorMaster, SMSFrom: "10658000", NonceTTL: time.Hour, AllowUnsigned: true,
		Now: func() time.Time { return f.now }, NewNonce: func() string { n++; return "nonce" + string(rune('0'+n)) }})
	_, b1 := f.do(t, httptest.NewRequest(http.MethodGet, "/v1/terminals/STB1/binding", nil))
	f.now = f.now.Add(59 * time.Minute)
	_, b2 := f.do(t, httptest.NewRequest(http.MethodGet, "/v1/terminals/STB1/binding", nil))
	f.now = f.now.Add(time.Minute)
	_, b3 := f.do(t, httptest.NewRequest(http.MethodGet, "/v1/terminals/STB1/binding", nil))
	assert.Contains(t, b1, `"nonce":"nonce1"`)
	assert.Equal(t, b1, b2)
	assert.Contains(t, b3, `"nonce":"nonce2"`, "a new nonce once the old one expired")
}

func moRequest(method string, v url.Values, key string) *http.Request {
	q := url.Values{}
	if key != "" {
		q.Set("key", key)
	}
	if method == http.MethodGet {
		for k, vs := range v {
			q[k] = vs
		}
		return httptest.NewRequest(method, "/v1/sms/mo?"+q.Encode(), nil)
	}
	r := httptest.NewRequest(method, "/v1/sms/mo?"+q.Encode(), strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func TestMOAndDLR(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, false)
	_, _, err := f.st.Enrol(ctx, store.Enrolment{TerminalID: "STB1", SIMMSISDN: "+8614700000001"}, f.now)
	require.NoError(t, err)
	mo := url.Values{"from": {"+8613800138000"}, "to": {"10658000"}, "text": {"BIND stb1"}, "id": {"k-1"}}

	res, _ := f.do(t, moRequest(http.MethodGet, url.Values{"from": {"+8613800138000"}, "to": {"10658000"}, "text": {"BIND STB1"}}, ""))
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "no callback key")
	res, _ = f.do(t, moRequest(http.MethodGet, url.Values{"from": {"+8613800138000"}, "text": {"BIND STB1"}}, "wrong"))
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "a wrong callback key")
	tm, err := f.st.Terminal(ctx, "STB1")
	require.NoError(t, err)
	assert.Equal(t, store.TerminalUnbound, tm.State, "an unauthenticated MO changes nothing")
	res, body := f.do(t, moRequest(http.MethodGet, url.Values{"to": {"10658000"}}, "cb-key"))
	assert.Equal(t, http.StatusBadRequest, res.StatusCode, body)

	res, body = f.do(t, moRequest(http.MethodPost, mo, "cb-key"))
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Contains(t, body, `"status":"activated"`)
	r := moRequest(http.MethodGet, url.Values{"from": {"+8613800138000"}, "to": {"10658000"}, "text": {"BIND stb1"}, "id": {"k-1"}}, "")
	r.Header.Set("Authorization", "Bearer cb-key")
	res, body = f.do(t, r)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Contains(t, body, `"status":"duplicate"`)

	msgs, err := f.st.Messages(ctx, "STB1")
	require.NoError(t, err)
	var conf store.Message
	for _, m := range msgs {
		if m.Kind == store.KindConfirmation {
			conf = m
		}
	}
	require.Len(t, conf.Parts, 2, "one confirmation, two parts")

	dlr := func(q string) (*http.Response, string) {
		return f.do(t, httptest.NewRequest(http.MethodGet, "/v1/sms/dlr?"+q, nil))
	}
	res, _ = dlr("part=1&type=1")
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	res, _ = dlr("key=cb-key&part=x&type=1")
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	res, _ = dlr("key=cb-key&part=999999&type=1")
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	for _, p := range conf.Parts {
		res, body = dlr("key=cb-key&part=" + itoa(p.ID) + "&type=1")
		require.Equal(t, http.StatusOK, res.StatusCode, body)
	}
	got, err := f.st.Message(ctx, conf.ID)
	require.NoError(t, err)
	assert.Equal(t, store.PartDelivered, got.Parts[0].State)
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
