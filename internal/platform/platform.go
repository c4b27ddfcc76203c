// Package platform is the terminal's client for the operator's service
// platform over the PS (packet data) domain, protocol version 2: one GET
// that asks whether the terminal is bound and, when it is not, what the user
// must text to bind it.
//
//	GET {base}/v1/terminals/{tid}/binding
//
// With a terminal key both directions are signed (DESIGN.md, Protocols):
// the request carries X-Bindpay-Date and "Authorization: BPH1 <hex HMAC>",
// and an answer (200 or 404) is believed only with a valid
// X-Bindpay-Signature over its status, the path, the request's date and the
// exact body bytes; anything else is ErrUnverified. A 401 carrying the
// platform's Date makes the client correct its clock offset and ask once
// more (Client.OnSkew is told). Redirects are never followed (ErrRedirect).
//
// Every answer is checked before it is believed: bodies are read through a
// 64 KiB limit; every string is checked with package confirm's field rules;
// a bound answer's BP1 token must be for this terminal and number and, with
// a key, carry a valid signature. An answer that breaks a rule is an
// ErrBadResponse. A Client has no goroutines of its own; each Binding call
// is at most two HTTP exchanges bound to its context.
package platform

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"bindpay/internal/confirm"
)

// MaxBody is the largest answer body read; a real one is a few hundred bytes.
const MaxBody = 64 << 10

// MaxHeaderBytes bounds the answer's headers (http.Transport's
// MaxResponseHeaderBytes in NewHTTPClient).
const MaxHeaderBytes = 16 << 10

// maxErrorBody is how much of a non-2xx body a StatusError keeps.
const maxErrorBody = 256

// DefaultTimeout bounds a whole exchange when Client.HTTP is nil.
const DefaultTimeout = 15 * time.Second

// MaxRetryAfter caps a platform's Retry-After (DESIGN.md: at most 1 h).
const MaxRetryAfter = time.Hour

// minSkew is the smallest clock difference a 401's Date corrects: below it,
// the 401 is not about the date.
const minSkew = 30 * time.Second

// Header names of the signed exchange.
const (
	HeaderDate          = "X-Bindpay-Date"
	HeaderAuthorization = "Authorization"
	HeaderSignature     = confirm.SignatureHeader
)

// Errors reported by Binding; test with errors.Is.
var (
	// ErrUnknownTerminal: the platform answered 404 (signed, with a key),
	// it does not know this terminal ID. Retrying soon will not help; a
	// person must register it.
	ErrUnknownTerminal = errors.New("terminal unknown to the service platform")
	// ErrBadResponse: the platform answered 2xx with something that is not
	// a usable binding answer (malformed, oversized, about another terminal,
	// a field that breaks the protocol's rules, a bound answer without a
	// valid token).
	ErrBadResponse = errors.New("bad answer from the service platform")
	// ErrUnverified: with a terminal key, the answer did not carry a valid
	// X-Bindpay-Signature. It is not believed: whoever answered is not the
	// platform (a captive portal, a proxy, an attacker) or does not know
	// this terminal's key.
	ErrUnverified = errors.New("unverified answer (no valid X-Bindpay-Signature)")
	// ErrRedirect: the platform URL answered with a redirect, which is never
	// followed.
	ErrRedirect = errors.New("redirect refused")
)

// Activation says what the user must text to bind the terminal. The
// terminal shows SMSTo and SMSBody verbatim: the grammar is the platform's.
type Activation struct {
	SMSTo   string `json:"sms_to"`
	SMSBody string `json:"sms_body"`
	Nonce   string `json:"nonce"` // optional; carried back in the confirmation SMS
}

// Binding is the platform's answer for one terminal.
type Binding struct {
	TerminalID string      `json:"terminal_id"`
	Bound      bool        `json:"bound"`
	MSISDN     string      `json:"msisdn,omitempty"`   // masked, when bound
	BoundAt    time.Time   `json:"bound_at,omitempty"` // when bound; may be zero
	Token      string      `json:"token,omitempty"`    // when bound: the BP1 token that proves it
	Activation *Activation `json:"activation,omitempty"`
	// RetryAfter is the platform's Retry-After on a 200, capped at
	// MaxRetryAfter; zero when it sent none.
	RetryAfter time.Duration `json:"-"`
}

// StatusError is a non-2xx answer other than a believed 404.
type StatusError struct {
	Code int
	Body string // the start of the body, at most 256 bytes, valid UTF-8
	// RetryAfter is the answer's Retry-After (429, 503), capped at
	// MaxRetryAfter; zero when none was sent.
	RetryAfter time.Duration

	serverOffset *time.Duration // a 401's Date minus the local time of the request
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("platform answered %d", e.Code)
	if e.Code == http.StatusUnauthorized {
		s += " (request signature refused: check platform.key_file and the clock)"
	}
	if e.Body != "" {
		s += ": " + strconv.Quote(e.Body)
	}
	return s
}

// Client queries the service platform. The zero value is not usable:
// BaseURL is required. Fields must not change once Binding is called.
type Client struct {
	BaseURL string           // e.g. https://bind.example.net; a path prefix is kept
	HTTP    *http.Client     // nil: NewHTTPClient("") with DefaultTimeout
	Key     []byte           // terminal key; nil or empty: requests are unsigned, answers unverified
	Now     func() time.Time // nil: time.Now
	// OnSkew, when set, is called when a 401's Date shows that this clock
	// is off, with the offset now applied to request dates (platform time
	// minus local time).
	OnSkew func(offset time.Duration)

	mu     sync.Mutex
	offset time.Duration // added to Now for request dates
}

// NewHTTPClient returns the HTTP client the agent queries the platform
// with: no redirects followed, answer headers bounded, one connection per
// query (the platform is asked again minutes later, when a kept-alive
// connection would long be gone), and the system's roots plus those in
// caFile (a PEM bundle; "" for none) for TLS.
func NewHTTPClient(caFile string, timeout time.Duration) (*http.Client, error) {
	tr := &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            (&net.Dialer{Timeout: timeout}).DialContext,
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: MaxHeaderBytes,
		DisableKeepAlives:      true,
		ForceAttemptHTTP2:      false,
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("platform.ca_file: %w", err)
		}
		roots, err := x509.SystemCertPool()
		if err != nil || roots == nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("platform.ca_file %s: no PEM certificate in it", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{
		Timeout:       timeout,
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// CheckURL checks a platform base URL against the transport rule of
// DESIGN.md: https://, or http:// to a loopback host (127.0.0.0/8, ::1,
// localhost) or when allowInsecure is set. insecure reports a plain-http URL
// to another host (allowed only with allowInsecure): the caller warns.
func CheckURL(raw string, allowInsecure bool) (insecure bool, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return false, fmt.Errorf("%q: %w (want https:// and a host)", raw, err)
	}
	if u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false, fmt.Errorf("%q: want https:// and a host", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return false, fmt.Errorf("%q: must not have a query or fragment", raw)
	}
	if u.Scheme == "https" || IsLoopback(u.Hostname()) {
		return false, nil
	}
	if !allowInsecure {
		return false, fmt.Errorf("%q: plain http to a host that is not loopback; use https:// (or set platform.allow_insecure_http = true to accept an unencrypted link)", raw)
	}
	return true, nil
}

// IsLoopback reports whether host names this machine: localhost, an
// address in 127.0.0.0/8, or ::1.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Binding asks the platform whether terminalID is bound. It returns an
// error wrapping ErrUnknownTerminal on a believed 404, ErrUnverified for an
// answer without a valid signature (with a key), ErrRedirect for a 3xx, a
// *StatusError for any other non-2xx answer, ErrBadResponse for an unusable
// 2xx answer, and the transport's error (which wraps ctx.Err() on
// cancellation) otherwise.
func (c *Client) Binding(ctx context.Context, terminalID string) (Binding, error) {
	if err := confirm.CheckTerminalID(terminalID); err != nil {
		return Binding{}, fmt.Errorf("query platform: %w", err)
	}
	u, err := c.endpoint(terminalID)
	if err != nil {
		return Binding{}, err
	}
	where := u.Redacted()
	b, err := c.exchange(ctx, u, terminalID)
	var se *StatusError
	if errors.As(err, &se) && se.Code == http.StatusUnauthorized && c.correctedClock(se) {
		b, err = c.exchange(ctx, u, terminalID)
	}
	if err != nil {
		return Binding{}, fmt.Errorf("query platform %s: %w", where, err)
	}
	return b, nil
}

// correctedClock applies the clock offset a 401 carried, if it is new and
// large enough to explain the refusal. It reports whether to ask again.
func (c *Client) correctedClock(se *StatusError) bool {
	if len(c.Key) == 0 || se.serverOffset == nil {
		return false
	}
	off := *se.serverOffset
	c.mu.Lock()
	changed := (off - c.offset).Abs() >= minSkew
	if changed {
		c.offset = off.Round(time.Second)
	}
	c.mu.Unlock()
	if changed && c.OnSkew != nil {
		c.OnSkew(off.Round(time.Second))
	}
	return changed
}

// exchange sends one request and judges its answer.
func (c *Client) exchange(ctx context.Context, u *url.URL, terminalID string) (Binding, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Binding{}, err
	}
	req.Header.Set("Accept", "application/json")
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	local := now()
	c.mu.Lock()
	offset := c.offset
	c.mu.Unlock()
	date := local.Add(offset).UTC().Format(time.RFC3339)
	path := u.EscapedPath()
	if len(c.Key) > 0 {
		req.Header.Set(HeaderDate, date)
		req.Header.Set(HeaderAuthorization, confirm.AuthorizationHeader(c.Key, http.MethodGet, path, date))
	}
	hc := c.HTTP
	if hc == nil {
		if hc, err = NewHTTPClient("", DefaultTimeout); err != nil {
			return Binding{}, err
		}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Binding{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return Binding{}, fmt.Errorf("read answer: %w", err)
	}
	status := resp.StatusCode
	signed := len(c.Key) == 0 || confirm.VerifyAnswer(c.Key, status, path, date, body, resp.Header.Get(HeaderSignature))
	switch {
	case status >= 300 && status <= 399:
		return Binding{}, fmt.Errorf("%w: platform answered %d to %s; fix platform.url", ErrRedirect, status, clipQuote([]byte(resp.Header.Get("Location")), 200))
	case len(body) > MaxBody:
		return Binding{}, fmt.Errorf("%w: oversized answer (more than %d bytes)", ErrBadResponse, MaxBody)
	case status == http.StatusNotFound && signed:
		return Binding{}, fmt.Errorf("%w: %q is not registered (contact the operator's support)", ErrUnknownTerminal, terminalID)
	case (status == http.StatusNotFound || status >= 200 && status <= 299) && !signed:
		return Binding{}, fmt.Errorf("%w: status %d; check platform.url and platform.key_file", ErrUnverified, status)
	case status < 200 || status > 299:
		se := &StatusError{Code: status, Body: truncate(body, maxErrorBody), RetryAfter: retryAfter(resp.Header, local)}
		if status == http.StatusUnauthorized {
			if t, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
				// Date has whole seconds: compare with whole seconds.
				off := t.Sub(local.Truncate(time.Second))
				se.serverOffset = &off
			}
		}
		return Binding{}, se
	}
	b, err := parse(body, terminalID, c.Key)
	if err != nil {
		return Binding{}, err
	}
	b.RetryAfter = retryAfter(resp.Header, local)
	return b, nil
}

// retryAfter reads a Retry-After header (seconds or an HTTP date), capped at
// MaxRetryAfter; 0 when absent or unreadable.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), MaxRetryAfter)
}

// endpoint builds the request URL, keeping any path prefix of BaseURL and
// escaping the terminal ID as one path segment.
func (c *Client) endpoint(terminalID string) (*url.URL, error) {
	base, err := url.Parse(c.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("platform url %q: %w (want https:// and a host)", c.BaseURL, err)
	}
	if (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("platform url %q: want https:// and a host", c.BaseURL)
	}
	if base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("platform url %q: must not have a query or fragment", c.BaseURL)
	}
	escaped := strings.TrimRight(base.EscapedPath(), "/") + "/v1/terminals/" + url.PathEscape(terminalID) + "/binding"
	path, err := url.PathUnescape(escaped)
	if err != nil {
		return nil, fmt.Errorf("platform url %q: %w", c.BaseURL, err)
	}
	u := *base
	u.Path, u.RawPath = path, escaped
	return &u, nil
}

// parse decodes and checks a 2xx body: every field against the protocol's
// rules, and a bound answer's token against this terminal (and key).
func parse(body []byte, terminalID string, key []byte) (Binding, error) {
	var b Binding
	if err := json.Unmarshal(body, &b); err != nil {
		return Binding{}, fmt.Errorf("%w: malformed JSON: %v (body starts %s)", ErrBadResponse, err, clipQuote(body, 64))
	}
	bad := func(format string, args ...any) (Binding, error) {
		return Binding{}, fmt.Errorf("%w: %s", ErrBadResponse, fmt.Sprintf(format, args...))
	}
	if b.TerminalID != terminalID {
		return bad("answer is about terminal %s, asked about %q", clipQuote([]byte(b.TerminalID), 64), terminalID)
	}
	if !b.Bound {
		a := b.Activation
		if a == nil {
			return bad("not bound and no activation instructions")
		}
		if err := confirm.CheckSMSTo(a.SMSTo); err != nil {
			return bad("%v", err)
		}
		if err := confirm.CheckSMSBody(a.SMSBody); err != nil {
			return bad("%v", err)
		}
		if a.Nonce != "" {
			if err := confirm.CheckNonce(a.Nonce); err != nil {
				return bad("%v", err)
			}
		}
		return b, nil
	}
	b.Activation = nil
	if b.MSISDN == "" {
		return bad("bound without msisdn")
	}
	if err := confirm.CheckMaskedMSISDN(b.MSISDN); err != nil {
		return bad("%v", err)
	}
	if b.Token == "" {
		if len(key) > 0 {
			return bad("bound without a token: with a terminal key, a binding needs its proof")
		}
		return b, nil
	}
	if err := CheckToken(b.Token, terminalID, b.MSISDN, key); err != nil {
		return bad("token: %v", err)
	}
	return b, nil
}

// CheckToken checks a BP1 token that proves a binding: exactly one token,
// for terminalID and the bound number msisdn, with a nonce (if any) of the
// protocol's form, and, with a key, a valid signature. The flow checks a
// stored record's token with it too.
func CheckToken(token, terminalID, msisdn string, key []byte) error {
	tok, err := confirm.Parse(token)
	if err != nil {
		return err
	}
	switch {
	case tok.TerminalID != terminalID:
		return fmt.Errorf("for terminal %s, not %q", clipQuote([]byte(tok.TerminalID), 40), terminalID)
	case tok.MSISDN != msisdn:
		return fmt.Errorf("for number %s, not %q", clipQuote([]byte(tok.MSISDN), 40), msisdn)
	case tok.Nonce != "" && confirm.CheckNonce(tok.Nonce) != nil:
		return confirm.CheckNonce(tok.Nonce)
	case len(key) > 0 && !confirm.Verify(key, tok):
		return errors.New("signature does not verify with this terminal's key")
	}
	return nil
}

// clipQuote quotes at most n bytes of b, valid UTF-8, for an error message.
func clipQuote(b []byte, n int) string {
	return strconv.Quote(truncate(b, n))
}

// truncate returns at most n bytes of b as valid UTF-8 without surrounding
// whitespace, for error messages.
func truncate(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
		// Drop a rune cut in half rather than show a replacement for it.
		for i := 0; i < utf8.UTFMax && len(b) > 0 && !utf8.Valid(b); i++ {
			b = b[:len(b)-1]
		}
	}
	return strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD"))
}
