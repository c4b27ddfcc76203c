package platform

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	tid      = "STB0012345678"
	vecToken = "BP1 t=STB0012345678 m=138****8000 n=q8x3k2 s=FWC0YGwf5vt1dIPLmlT2ww"
)

// request is what the fake platform saw.
type request struct {
	method, escapedPath, rawQuery string
	date, auth, accept            string
}

// fakePlatform answers every request with one canned status and body, and
// records the requests.
type fakePlatform struct {
	status int
	body   string

	mu   sync.Mutex
	seen []request
}

func (f *fakePlatform) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.seen = append(f.seen, request{
		method:      r.Method,
		escapedPath: r.URL.EscapedPath(),
		rawQuery:    r.URL.RawQuery,
		date:        r.Header.Get(HeaderDate),
		auth:        r.Header.Get(HeaderAuthorization),
		accept:      r.Header.Get("Accept"),
	})
	f.mu.Unlock()
	w.WriteHeader(f.status)
	_, _ = io.WriteString(w, f.body)
}

func (f *fakePlatform) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.seen...)
}

func serve(t *testing.T, status int, body string) (*fakePlatform, *httptest.Server) {
	t.Helper()
	fp := &fakePlatform{status: status, body: body}
	srv := httptest.NewServer(fp)
	t.Cleanup(srv.Close)
	return fp, srv
}

const (
	notBoundBody = `{"terminal_id":"STB0012345678","bound":false,"activation":{"sms_to":"10658000","sms_body":"BIND STB0012345678","nonce":"q8x3k2"}}`
	boundBody    = `{"terminal_id":"STB0012345678","bound":true,"msisdn":"138****8000","bound_at":"2026-11-25T20:00:00Z","token":"BP1 t=STB0012345678 m=138****8000 n=q8x3k2 s=FWC0YGwf5vt1dIPLmlT2ww"}`
)

func TestBindingAnswers(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   Binding
	}{
		{
			name: "not bound", status: 200, body: notBoundBody,
			want: Binding{TerminalID: tid, Activation: &Activation{SMSTo: "10658000", SMSBody: "BIND STB0012345678", Nonce: "q8x3k2"}},
		},
		{
			name: "not bound without nonce", status: 200,
			body: `{"terminal_id":"STB0012345678","bound":false,"activation":{"sms_to":"10658000","sms_body":"KT STB0012345678"}}`,
			want: Binding{TerminalID: tid, Activation: &Activation{SMSTo: "10658000", SMSBody: "KT STB0012345678"}},
		},
		{
			name: "bound", status: 200, body: boundBody,
			want: Binding{TerminalID: tid, Bound: true, MSISDN: "138****8000", BoundAt: time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC), Token: vecToken},
		},
		{
			name: "bound without bound_at, unknown fields ignored, no token without a key", status: 200,
			body: `{"terminal_id":"STB0012345678","bound":true,"msisdn":"138****8000","plan":"gold"}`,
			want: Binding{TerminalID: tid, Bound: true, MSISDN: "138****8000"},
		},
		{
			name: "other 2xx status", status: 203, body: boundBody,
			want: Binding{TerminalID: tid, Bound: true, MSISDN: "138****8000", BoundAt: time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC), Token: vecToken},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fp, srv := serve(t, tc.status, tc.body)
			c := &Client{BaseURL: srv.URL}
			got, err := c.Binding(context.Background(), tid)
			require.NoError(t, err, "answer %d %s", tc.status, tc.body)
			assert.Equal(t, tc.want, got, "answer %s", tc.body)

			reqs := fp.requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, http.MethodGet, reqs[0].method)
			assert.Equal(t, "/v1/terminals/STB0012345678/binding", reqs[0].escapedPath)
			assert.Equal(t, "application/json", reqs[0].accept)
		})
	}
}

func TestBindingErrors(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		wantIs   error  // sentinel, or nil when wantCode is set
		wantCode int    // StatusError code
		wantText string // part of the error text
	}{
		{"404 unknown terminal", 404, `{"error":"no such terminal"}`, ErrUnknownTerminal, 0, `"STB0012345678" is not registered`},
		{"500 with body", 500, "database on fire\n", nil, 500, `platform answered 500: "database on fire"`},
		{"503 empty body", 503, "", nil, 503, "platform answered 503"},
		{"oversized", 200, `{"terminal_id":"` + strings.Repeat("x", MaxBody) + `"}`, ErrBadResponse, 0, "oversized"},
		{"malformed JSON", 200, `{"terminal_id":`, ErrBadResponse, 0, "malformed JSON"},
		{"html instead of JSON", 200, `<html>captive portal</html>`, ErrBadResponse, 0, "malformed JSON"},
		{"trailing garbage", 200, notBoundBody + "x", ErrBadResponse, 0, "malformed JSON"},
		{"empty body", 200, "", ErrBadResponse, 0, "malformed JSON"},
		{"mismatched terminal id", 200, strings.Replace(boundBody, tid, "STB9999999999", 1), ErrBadResponse, 0, `about terminal "STB9999999999"`},
		{"missing terminal id", 200, `{"bound":true,"msisdn":"138****8000"}`, ErrBadResponse, 0, `about terminal ""`},
		{"not bound without activation", 200, `{"terminal_id":"STB0012345678","bound":false}`, ErrBadResponse, 0, "no activation"},
		{"not bound, empty sms_to", 200, `{"terminal_id":"STB0012345678","bound":false,"activation":{"sms_to":"","sms_body":"BIND x"}}`, ErrBadResponse, 0, "sms_to"},
		{"not bound, empty sms_body", 200, `{"terminal_id":"STB0012345678","bound":false,"activation":{"sms_to":"10658000","sms_body":""}}`, ErrBadResponse, 0, "sms_body is empty"},
		{"premium number with letters", 200, `{"terminal_id":"STB0012345678","bound":false,"activation":{"sms_to":"1065x","sms_body":"BIND x"}}`, ErrBadResponse, 0, "sms_to"},
		{"newline in sms_body", 200, `{"terminal_id":"STB0012345678","bound":false,"activation":{"sms_to":"10658000","sms_body":"BIND x\nREADY=1"}}`, ErrBadResponse, 0, "control"},
		{"bad nonce", 200, `{"terminal_id":"STB0012345678","bound":false,"activation":{"sms_to":"10658000","sms_body":"BIND x","nonce":"a b"}}`, ErrBadResponse, 0, "nonce"},
		{"newline in msisdn", 200, `{"terminal_id":"STB0012345678","bound":true,"msisdn":"138****8000\nREADY=1"}`, ErrBadResponse, 0, "msisdn"},
		{"token for another terminal", 200, strings.Replace(boundBody, "t=STB0012345678", "t=STB0012345679", 1), ErrBadResponse, 0, "for terminal"},
		{"token for another number", 200, strings.Replace(boundBody, "m=138****8000", "m=139****8000", 1), ErrBadResponse, 0, "for number"},
		{"token malformed", 200, strings.Replace(boundBody, "s=FWC0", "s=", 1), ErrBadResponse, 0, "token"},
		{"bound without msisdn", 200, `{"terminal_id":"STB0012345678","bound":true}`, ErrBadResponse, 0, "without msisdn"},
		{"bound is a string", 200, `{"terminal_id":"STB0012345678","bound":"yes"}`, ErrBadResponse, 0, "malformed JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, srv := serve(t, tc.status, tc.body)
			c := &Client{BaseURL: srv.URL}
			got, err := c.Binding(context.Background(), tid)
			require.Error(t, err, "answer %d %.80q: got %+v, want an error", tc.status, tc.body, got)
			assert.Zero(t, got, "Binding returned with an error")
			assert.Contains(t, err.Error(), srv.URL, "error should name the platform URL")
			assert.Contains(t, err.Error(), tc.wantText)
			if tc.wantIs != nil {
				assert.ErrorIs(t, err, tc.wantIs)
			}
			var se *StatusError
			if tc.wantCode != 0 {
				require.ErrorAs(t, err, &se)
				assert.Equal(t, tc.wantCode, se.Code)
				assert.Equal(t, strings.TrimSpace(tc.body), se.Body)
			} else {
				assert.False(t, errors.As(err, &se), "got a StatusError for a %d answer", tc.status)
			}
		})
	}
}

func TestStatusErrorBodyTruncated(t *testing.T) {
	// 255 ASCII bytes then a 3-byte rune: cutting at 256 would split it.
	body := strings.Repeat("a", 255) + "错" + strings.Repeat("b", 1000)
	_, srv := serve(t, 502, body)
	_, err := (&Client{BaseURL: srv.URL}).Binding(context.Background(), tid)
	var se *StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 502, se.Code)
	assert.LessOrEqual(t, len(se.Body), 256, "body kept: %d bytes", len(se.Body))
	assert.Equal(t, strings.Repeat("a", 255), se.Body, "a rune cut in half must be dropped")
}

func TestBindingContextCancelled(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := (&Client{BaseURL: srv.URL}).Binding(ctx, tid)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
		assert.Contains(t, err.Error(), "query platform "+srv.URL)
	case <-time.After(10 * time.Second):
		t.Fatal("Binding did not return after its context was cancelled")
	}
}

func TestBindingAlreadyCancelledContext(t *testing.T) {
	fp, srv := serve(t, 200, boundBody)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := (&Client{BaseURL: srv.URL}).Binding(ctx, tid)
	require.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, fp.requests(), "no request should be sent on a cancelled context")
}

func TestBindingTransportError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	_, err := (&Client{BaseURL: url}).Binding(context.Background(), tid)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "query platform "+url+"/v1/terminals/STB0012345678/binding: "), "got %q", err)
}

func TestBindingBadInput(t *testing.T) {
	tests := []struct {
		name, base, terminal, want string
	}{
		{"empty terminal id", "http://127.0.0.1:1", "", "terminal ID"},
		{"terminal id with a slash", "http://127.0.0.1:1", "STB/1", "terminal ID"},
		{"no scheme", "bind.example.net", tid, "want https://"},
		{"host:port without scheme", "127.0.0.1:8080", tid, "want https://"},
		{"ftp scheme", "ftp://example.net", tid, "want https://"},
		{"no host", "http://", tid, "want https://"},
		{"empty base", "", tid, "want https://"},
		{"query in base", "http://127.0.0.1:1/?x=1", tid, "query or fragment"},
		{"unparsable", "http://[::1", tid, "platform url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := (&Client{BaseURL: tc.base}).Binding(context.Background(), tc.terminal)
			require.Error(t, err, "base %q terminal %q", tc.base, tc.terminal)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestErrorRedactsPassword(t *testing.T) {
	_, srv := serve(t, 500, "no")
	base := strings.Replace(srv.URL, "http://", "http://user:s3cret@", 1)
	_, err := (&Client{BaseURL: base}).Binding(context.Background(), tid)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cret")
}
