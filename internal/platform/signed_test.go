package platform

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/confirm"
)

// vecKey is DESIGN.md's terminal key for STB0012345678.
func vecKey(t *testing.T) []byte {
	t.Helper()
	k, err := hex.DecodeString("82583d3b77d3cddbf5183ac3cf45aaaab9c750d470e3ce8a292ca6a49900e1c8")
	require.NoError(t, err)
	return k
}

// signingPlatform answers as a protocol-v2 platform with key: it checks the
// request's signature and date (±5 min of its own clock) and signs its
// answer; forge replaces the signature, skew shifts its clock.
type signingPlatform struct {
	key     []byte
	status  int
	body    string
	forge   string // non-empty: sent as X-Bindpay-Signature instead of the real one
	unsign  bool   // send no signature at all
	now     func() time.Time
	headers map[string]string

	mu    *sync.Mutex
	dates *[]string
}

func (p *signingPlatform) init() {
	if p.mu == nil {
		p.mu, p.dates = &sync.Mutex{}, new([]string)
	}
}

func (p *signingPlatform) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	date := r.Header.Get(HeaderDate)
	p.mu.Lock()
	*p.dates = append(*p.dates, date)
	p.mu.Unlock()
	d, err := time.Parse(time.RFC3339, date)
	now := p.now()
	if err != nil || d.Sub(now).Abs() > 5*time.Minute || !confirm.VerifyRequest(p.key, r.Method, r.URL.EscapedPath(), date, r.Header.Get(HeaderAuthorization)) {
		w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	for k, v := range p.headers {
		w.Header().Set(k, v)
	}
	switch {
	case p.unsign:
	case p.forge != "":
		w.Header().Set(HeaderSignature, p.forge)
	default:
		w.Header().Set(HeaderSignature, confirm.AnswerHeader(p.key, p.status, r.URL.EscapedPath(), date, []byte(p.body)))
	}
	w.WriteHeader(p.status)
	_, _ = io.WriteString(w, p.body)
}

func (p *signingPlatform) seenDates() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), *p.dates...)
}

var vecNow = func() time.Time { return time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC) }

func TestBindingSignedBothWays(t *testing.T) {
	key := vecKey(t)
	other := confirm.DeriveKey([]byte("another master"), tid)
	tests := []struct {
		name    string
		p       signingPlatform
		want    Binding
		wantErr error
	}{
		{name: "not bound", p: signingPlatform{status: 200, body: notBoundBody},
			want: Binding{TerminalID: tid, Activation: &Activation{SMSTo: "10658000", SMSBody: "BIND STB0012345678", Nonce: "q8x3k2"}}},
		{name: "bound with its token", p: signingPlatform{status: 200, body: boundBody},
			want: Binding{TerminalID: tid, Bound: true, MSISDN: "138****8000", BoundAt: vecNow(), Token: vecToken}},
		{name: "unsigned bound", p: signingPlatform{status: 200, body: boundBody, unsign: true}, wantErr: ErrUnverified},
		{name: "forged bound", p: signingPlatform{status: 200, body: boundBody, forge: confirm.AnswerHeader(other, 200, "/v1/terminals/STB0012345678/binding", "2026-11-25T20:00:00Z", []byte(boundBody))}, wantErr: ErrUnverified},
		{name: "signature of another body", p: signingPlatform{status: 200, body: notBoundBody, forge: "BPH1 53a1a85f96cb20b04b9c3e91f34f93c7e48965c82bc7d9c3c5cab70db6ca2ed2"}, wantErr: ErrUnverified},
		{name: "unsigned prompt", p: signingPlatform{status: 200, body: notBoundBody, unsign: true}, wantErr: ErrUnverified},
		{name: "garbage signature", p: signingPlatform{status: 200, body: notBoundBody, forge: "BPH1 zz"}, wantErr: ErrUnverified},
		{name: "unsigned 404", p: signingPlatform{status: 404, body: "", unsign: true}, wantErr: ErrUnverified},
		{name: "signed 404", p: signingPlatform{status: 404, body: `{"error":"unknown"}`}, wantErr: ErrUnknownTerminal},
		{name: "signed bound without token", p: signingPlatform{status: 200, body: `{"terminal_id":"STB0012345678","bound":true,"msisdn":"138****8000"}`}, wantErr: ErrBadResponse},
		{name: "signed bound, token signed with another key", p: signingPlatform{status: 200,
			body: `{"terminal_id":"STB0012345678","bound":true,"msisdn":"138****8000","token":"` + confirm.Sign(other, confirm.Token{TerminalID: tid, MSISDN: "138****8000"}).String() + `"}`}, wantErr: ErrBadResponse},
		{name: "signed bound, token without signature", p: signingPlatform{status: 200,
			body: `{"terminal_id":"STB0012345678","bound":true,"msisdn":"138****8000","token":"BP1 t=STB0012345678 m=138****8000"}`}, wantErr: ErrBadResponse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			p.key, p.now = key, vecNow
			p.init()
			srv := httptest.NewServer(&p)
			t.Cleanup(srv.Close)
			c := &Client{BaseURL: srv.URL, Key: key, Now: vecNow}
			got, err := c.Binding(context.Background(), tid)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr, "got %+v", got)
				assert.Zero(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, []string{"2026-11-25T20:00:00Z"}, p.seenDates(), "one request, dated by the injected clock in UTC")
		})
	}
}

func TestBindingDesignVectorRequest(t *testing.T) {
	key := vecKey(t)
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get(HeaderAuthorization)
		w.Header().Set(HeaderSignature, "BPH1 53a1a85f96cb20b04b9c3e91f34f93c7e48965c82bc7d9c3c5cab70db6ca2ed2")
		_, _ = io.WriteString(w, boundBody[:strings.Index(boundBody, `,"bound_at"`)]+`,"bound_at":"2026-11-25T20:00:00Z","token":"`+vecToken+`"}`)
	}))
	t.Cleanup(srv.Close)
	got, err := (&Client{BaseURL: srv.URL, Key: key, Now: vecNow}).Binding(context.Background(), tid)
	require.NoError(t, err, "DESIGN's bound answer with DESIGN's signature must verify")
	assert.Equal(t, "BPH1 e02d9e3db23cba259f85417f465b95c5f4c007c83355bd14d0dc0a877724de3a", auth)
	assert.True(t, got.Bound)
}

func TestBindingCorrectsClockSkewOnce(t *testing.T) {
	key := vecKey(t)
	platformNow := func() time.Time { return vecNow().Add(2 * time.Hour) } // the terminal's clock is 2 h slow
	p := &signingPlatform{key: key, status: 200, body: notBoundBody, now: platformNow}
	p.init()
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	var skews []time.Duration
	c := &Client{BaseURL: srv.URL, Key: key, Now: vecNow, OnSkew: func(d time.Duration) { skews = append(skews, d) }}

	_, err := c.Binding(context.Background(), tid)
	require.NoError(t, err, "the second request, with the corrected date, must succeed")
	assert.Equal(t, []time.Duration{2 * time.Hour}, skews, "OnSkew once, with the offset")
	assert.Equal(t, []string{"2026-11-25T20:00:00Z", "2026-11-25T22:00:00Z"}, p.seenDates())

	_, err = c.Binding(context.Background(), tid)
	require.NoError(t, err)
	assert.Len(t, skews, 1, "a known offset is not reported again")
	assert.Equal(t, "2026-11-25T22:00:00Z", p.seenDates()[2], "the offset stays applied")
}

func TestBinding401WithWrongKeyIsNotRetriedForever(t *testing.T) {
	p := &signingPlatform{key: confirm.DeriveKey([]byte("other"), tid), status: 200, body: notBoundBody, now: vecNow}
	p.init()
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	_, err := (&Client{BaseURL: srv.URL, Key: vecKey(t), Now: vecNow}).Binding(context.Background(), tid)
	var se *StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 401, se.Code)
	assert.Contains(t, err.Error(), "check platform.key_file")
	assert.Len(t, p.seenDates(), 1, "no retry when the dates agree")
}

func TestBindingRedirectRefused(t *testing.T) {
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the redirect was followed")
	}))
	t.Cleanup(evil.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, evil.URL+"/v1/terminals/"+tid+"/binding", http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	hc, err := NewHTTPClient("", 5*time.Second)
	require.NoError(t, err)
	_, err = (&Client{BaseURL: srv.URL, HTTP: hc}).Binding(context.Background(), tid)
	require.ErrorIs(t, err, ErrRedirect)
	assert.Contains(t, err.Error(), evil.URL, "the error names the Location")
	// The default client refuses too.
	_, err = (&Client{BaseURL: srv.URL}).Binding(context.Background(), tid)
	require.ErrorIs(t, err, ErrRedirect)
}

func TestBindingRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name, header string
		status       int
		want         time.Duration
	}{
		{"503 seconds", "120", 503, 2 * time.Minute},
		{"429 capped", "86400", 429, time.Hour},
		{"503 date", vecNow().Add(10 * time.Minute).Format(http.TimeFormat), 503, 10 * time.Minute},
		{"503 garbage", "soon", 503, 0},
		{"200 seconds", "60", 200, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", tc.header)
				w.WriteHeader(tc.status)
				if tc.status == 200 {
					_, _ = io.WriteString(w, notBoundBody)
				}
			}))
			t.Cleanup(srv.Close)
			b, err := (&Client{BaseURL: srv.URL, Now: vecNow}).Binding(context.Background(), tid)
			if tc.status == 200 {
				require.NoError(t, err)
				assert.Equal(t, tc.want, b.RetryAfter)
				return
			}
			var se *StatusError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tc.want, se.RetryAfter)
		})
	}
}

func TestBindingHeadersBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Junk", strings.Repeat("j", 2*MaxHeaderBytes))
		_, _ = io.WriteString(w, notBoundBody)
	}))
	t.Cleanup(srv.Close)
	_, err := (&Client{BaseURL: srv.URL}).Binding(context.Background(), tid)
	require.Error(t, err, "an answer with oversized headers must be refused")
}

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		url           string
		allowInsecure bool
		insecure, ok  bool
	}{
		{"https://bind.example.net", false, false, true},
		{"https://bind.example.net/prefix/", false, false, true},
		{"http://127.0.0.1:8080", false, false, true},
		{"http://127.9.9.9", false, false, true},
		{"http://[::1]:80", false, false, true},
		{"http://localhost:8080", false, false, true},
		{"http://LOCALHOST", false, false, true},
		{"http://bind.example.net", false, false, false},
		{"http://10.0.0.1", false, false, false},
		{"http://localhost.example.net", false, false, false},
		{"http://bind.example.net", true, true, true},
		{"ftp://bind.example.net", true, false, false},
		{"bind.example.net", false, false, false},
		{"https://", false, false, false},
		{"https://x/?q=1", false, false, false},
	} {
		t.Run(tc.url, func(t *testing.T) {
			insecure, err := CheckURL(tc.url, tc.allowInsecure)
			if !tc.ok {
				require.Error(t, err, "CheckURL(%q, %v)", tc.url, tc.allowInsecure)
				assert.Contains(t, err.Error(), tc.url[:min(len(tc.url), 12)], "the error names the URL")
				return
			}
			require.NoError(t, err, "CheckURL(%q, %v)", tc.url, tc.allowInsecure)
			assert.Equal(t, tc.insecure, insecure)
		})
	}
}

func TestNewHTTPClientCAFile(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, notBoundBody)
	}))
	t.Cleanup(srv.Close)

	// Without the server's CA: an x509 error.
	hc, err := NewHTTPClient("", 5*time.Second)
	require.NoError(t, err)
	_, err = (&Client{BaseURL: srv.URL, HTTP: hc}).Binding(context.Background(), tid)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "x509")

	// With it in platform.ca_file: trusted.
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644))
	hc, err = NewHTTPClient(ca, 5*time.Second)
	require.NoError(t, err)
	require.IsType(t, &tls.Config{}, hc.Transport.(*http.Transport).TLSClientConfig)
	_, err = (&Client{BaseURL: srv.URL, HTTP: hc}).Binding(context.Background(), tid)
	require.NoError(t, err)

	// A file without a certificate is refused, naming it.
	junk := filepath.Join(t.TempDir(), "junk.pem")
	require.NoError(t, os.WriteFile(junk, []byte("not pem"), 0o644))
	_, err = NewHTTPClient(junk, time.Second)
	require.ErrorContains(t, err, junk)
}
