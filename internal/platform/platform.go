// Package platform is the terminal's client for the operator's service
// platform over the PS (packet data) domain: one GET that asks whether the
// terminal is bound and, when it is not, what the user must text to bind it.
//
//	GET {base}/v1/terminals/{tid}/binding
//
// With a terminal key the request is signed: an X-Bindpay-Date header (RFC
// 3339, UTC, whole seconds) and "Authorization: BPH1 <hex HMAC-SHA256(key,
// "GET\n<path>\n<date>")>", where <path> is the escaped URL path as sent,
// without the query. The signature itself is computed by the function the
// caller puts in Client.Sign (package confirm owns the key handling).
//
// Every answer is checked before it is believed: bodies are read through a
// 64 KiB limit, and an answer that is malformed, about another terminal, or
// missing what the terminal needs to show is an ErrBadResponse. A Client
// has no goroutines of its own; each Binding call is one HTTP exchange bound
// to its context.
package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxBody is the largest answer body read; a real one is a few hundred bytes.
const MaxBody = 64 << 10

// maxErrorBody is how much of a non-2xx body a StatusError keeps.
const maxErrorBody = 256

// DefaultTimeout bounds a whole exchange when Client.HTTP is nil.
const DefaultTimeout = 10 * time.Second

// Header names of the signed request.
const (
	HeaderDate          = "X-Bindpay-Date"
	HeaderAuthorization = "Authorization"
)

// Errors reported by Binding; test with errors.Is.
var (
	// ErrUnknownTerminal: the platform answered 404, it does not know this
	// terminal ID. Retrying soon will not help; a person must register it.
	ErrUnknownTerminal = errors.New("terminal unknown to the service platform")
	// ErrBadResponse: the platform answered 2xx with something that is not
	// a usable binding answer (malformed, oversized, about another terminal,
	// or missing fields).
	ErrBadResponse = errors.New("bad answer from the service platform")
)

// defaultHTTP is used when Client.HTTP is nil.
var defaultHTTP = &http.Client{Timeout: DefaultTimeout}

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
	Activation *Activation `json:"activation,omitempty"`
}

// StatusError is a non-2xx answer other than 404.
type StatusError struct {
	Code int
	Body string // the start of the body, at most 256 bytes, valid UTF-8
}

func (e *StatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("platform answered %d", e.Code)
	}
	return fmt.Sprintf("platform answered %d: %s", e.Code, e.Body)
}

// Client queries the service platform. The zero value is not usable:
// BaseURL is required. Fields must not change while a call is running.
type Client struct {
	BaseURL string           // e.g. https://bind.example.net; a path prefix is kept
	HTTP    *http.Client     // nil: a client with a 10 s timeout
	Key     []byte           // terminal key; nil or empty: requests are unsigned
	Now     func() time.Time // nil: time.Now
	// Sign returns the full Authorization header value for the request
	// (package confirm provides it). Required when Key is set.
	Sign func(key []byte, method, path, date string) string
}

// Binding asks the platform whether terminalID is bound. It returns an
// error wrapping ErrUnknownTerminal on 404, a *StatusError for any other
// non-2xx answer, ErrBadResponse for an unusable 2xx answer, and the
// transport's error (which wraps ctx.Err() on cancellation) otherwise.
func (c *Client) Binding(ctx context.Context, terminalID string) (Binding, error) {
	if terminalID == "" {
		return Binding{}, errors.New("query platform: empty terminal ID")
	}
	u, err := c.endpoint(terminalID)
	if err != nil {
		return Binding{}, err
	}
	where := u.Redacted()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Binding{}, fmt.Errorf("query platform %s: %w", where, err)
	}
	req.Header.Set("Accept", "application/json")
	if len(c.Key) > 0 {
		if c.Sign == nil {
			return Binding{}, fmt.Errorf("query platform %s: a terminal key is set but no signing function (Client.Sign is nil)", where)
		}
		now := time.Now
		if c.Now != nil {
			now = c.Now
		}
		date := now().UTC().Format(time.RFC3339)
		req.Header.Set(HeaderDate, date)
		req.Header.Set(HeaderAuthorization, c.Sign(c.Key, http.MethodGet, req.URL.EscapedPath(), date))
	}

	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Binding{}, fmt.Errorf("query platform %s: %w", where, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return Binding{}, fmt.Errorf("query platform %s: read answer: %w", where, err)
	}

	switch {
	case resp.StatusCode == http.StatusNotFound:
		return Binding{}, fmt.Errorf("query platform %s: %w: %q is not registered (contact the operator's support)", where, ErrUnknownTerminal, terminalID)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return Binding{}, fmt.Errorf("query platform %s: %w", where, &StatusError{Code: resp.StatusCode, Body: truncate(body, maxErrorBody)})
	case len(body) > MaxBody:
		return Binding{}, fmt.Errorf("query platform %s: %w: oversized answer (more than %d bytes)", where, ErrBadResponse, MaxBody)
	}
	b, err := parse(body, terminalID)
	if err != nil {
		return Binding{}, fmt.Errorf("query platform %s: %w", where, err)
	}
	return b, nil
}

// endpoint builds the request URL, keeping any path prefix of BaseURL and
// escaping the terminal ID as one path segment.
func (c *Client) endpoint(terminalID string) (*url.URL, error) {
	base, err := url.Parse(c.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("platform url %q: %w (want http:// or https:// and a host)", c.BaseURL, err)
	}
	if (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("platform url %q: want http:// or https:// and a host", c.BaseURL)
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

// parse decodes and checks a 2xx body.
func parse(body []byte, terminalID string) (Binding, error) {
	var b Binding
	if err := json.Unmarshal(body, &b); err != nil {
		return Binding{}, fmt.Errorf("%w: malformed JSON: %v (body starts %q)", ErrBadResponse, err, truncate(body, 64))
	}
	switch {
	case b.TerminalID != terminalID:
		return Binding{}, fmt.Errorf("%w: answer is about terminal %q, asked about %q", ErrBadResponse, truncate([]byte(b.TerminalID), 64), terminalID)
	case b.Bound && b.MSISDN == "":
		return Binding{}, fmt.Errorf("%w: bound without msisdn", ErrBadResponse)
	case !b.Bound && b.Activation == nil:
		return Binding{}, fmt.Errorf("%w: not bound and no activation instructions", ErrBadResponse)
	case !b.Bound && (b.Activation.SMSTo == "" || b.Activation.SMSBody == ""):
		return Binding{}, fmt.Errorf("%w: not bound and activation lacks sms_to or sms_body", ErrBadResponse)
	}
	return b, nil
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
