package console

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bindpay/internal/server/activation"
	"bindpay/internal/server/enrol"
	"bindpay/internal/server/link"
	"bindpay/internal/server/number"
	"bindpay/internal/server/outbox"
	"bindpay/internal/server/store"
)

const adminToken = "admin-token-for-tests"

// failingOSS refuses to answer, so activations stay pending.
type failingOSS struct{}

func (failingOSS) Check(context.Context, string, string) (activation.OSSDecision, error) {
	return activation.OSSDecision{}, errors.New("oss down")
}

// scanFinder finds numbers among the terminals it was told of: the store
// has no number index yet (see NumberFinder).
type scanFinder struct {
	st  store.Store
	ids []string
}

func (f scanFinder) TerminalsByNumber(ctx context.Context, n string) ([]string, error) {
	var out []string
	for _, id := range f.ids {
		t, err := f.st.Terminal(ctx, id)
		if err != nil {
			return nil, err
		}
		if (t.MSISDN != "" && (t.MSISDN == n || t.MSISDNMasked == n)) || (t.SIMMSISDN != "" && (t.SIMMSISDN == n || number.Mask(t.SIMMSISDN) == n)) {
			out = append(out, t.ID)
		}
	}
	return out, nil
}

type fixture struct {
	st      store.Store
	act     *activation.Service
	pending *activation.Service // with an OSS that fails: activations stay pending
	srv     *httptest.Server
	mu      sync.Mutex
	now     time.Time
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// newFixture serves the console over a fresh SQLite store with STB1
// bound to +8613800138000 through a real MO, STB2 enrolled with a pending
// activation, and STB3 enrolled only.
func newFixture(t *testing.T, o Options) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "p.db"), true)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, now: time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)}
	cfg := activation.Config{Store: st, MasterKey: []byte("example master key"), From: "10658000", OSSTimeout: time.Second,
		RetryInitial: time.Minute, RetryMax: time.Hour, DedupWindow: 10 * time.Minute, Validity: time.Hour, Poll: time.Hour, Now: f.clock}
	f.act = activation.New(cfg)
	cfg.OSS = failingOSS{}
	f.pending = activation.New(cfg)
	_, err = enrol.Apply(ctx, st, []store.Enrolment{
		{TerminalID: "STB1", SIMMSISDN: "+8614700000001"},
		{TerminalID: "STB2", SIMMSISDN: "+8614700000002"},
		{TerminalID: "STB3"},
	}, "cli", f.now)
	require.NoError(t, err)
	res, err := f.act.ReceiveMO(ctx, activation.MO{SMSCID: "1", From: "13800138000", To: "10658000", Text: "BIND STB1"})
	require.NoError(t, err)
	require.Equal(t, activation.OutcomeActivated, res.Outcome, "%+v", res)
	f.sendAndDeliver(t, "STB1")
	res, err = f.pending.ReceiveMO(ctx, activation.MO{SMSCID: "2", From: "13900139000", To: "10658000", Text: "BIND STB2"})
	require.NoError(t, err)
	require.Equal(t, activation.OutcomePending, res.Outcome, "%+v", res)

	o.Store, o.Actions, o.Now = st, f.act, f.clock
	if o.AdminToken == "" {
		o.AdminToken = adminToken
	}
	if o.Numbers == nil {
		o.Numbers = scanFinder{st: st, ids: []string{"STB1", "STB2", "STB3"}}
	}
	h, err := New(o)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle(Prefix, h)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// acceptingLink is an SMS centre that accepts every part and numbers it.
type acceptingLink struct {
	mu sync.Mutex
	n  int
}

func (l *acceptingLink) Send(context.Context, link.Part) (link.Result, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	return link.Result{SMSCID: fmt.Sprintf("smsc-%d", l.n)}, nil
}

// sendAndDeliver hands tid's queued messages to the SMS centre through
// the real outbox, a minute later, and a minute after that reports every
// confirmation part delivered.
func (f *fixture) sendAndDeliver(t *testing.T, tid string) {
	t.Helper()
	ctx := context.Background()
	ob := outbox.New(outbox.Config{Store: f.st, Link: &acceptingLink{}, Owner: "test", Lease: time.Minute, Poll: time.Hour,
		LinkTimeout: time.Second, RetryInitial: time.Second, RetryMax: time.Minute, Now: f.clock})
	f.advance(time.Minute)
	_, err := ob.RunOnce(ctx)
	require.NoError(t, err)
	f.advance(time.Minute)
	msgs, err := f.st.Messages(ctx, tid)
	require.NoError(t, err)
	for _, m := range msgs {
		if m.Kind != store.KindConfirmation {
			continue
		}
		for _, p := range m.Parts {
			require.Equal(t, store.PartAccepted, p.State, "part %d of message %d", p.Seq, m.ID)
			require.NoError(t, ob.Receipt(ctx, p.ID, outbox.DLRDelivered))
		}
	}
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

// client is a browser without JavaScript: it keeps cookies and does not
// follow redirects, so that tests see each answer.
type client struct {
	t    *testing.T
	base string
	c    *http.Client
}

func (f *fixture) client(t *testing.T) *client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &client{t: t, base: f.srv.URL, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *client) do(r *http.Request) (*http.Response, string) {
	c.t.Helper()
	res, err := c.c.Do(r)
	require.NoError(c.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	return res, html.UnescapeString(string(b))
}

func (c *client) get(path string) (*http.Response, string) {
	c.t.Helper()
	r, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	require.NoError(c.t, err)
	return c.do(r)
}

func (c *client) post(path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	r, err := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	require.NoError(c.t, err)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(r)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the first form in body.
func csrf(t *testing.T, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	require.NotNil(t, m, "no CSRF field in:\n%s", body)
	return m[1]
}

// signin signs c in as who and returns a CSRF token of the session.
func (c *client) signin(who string) string {
	c.t.Helper()
	_, body := c.get("/console/signin")
	res, body := c.post("/console/signin", url.Values{"csrf": {csrf(c.t, body)}, "who": {who}, "token": {adminToken}, "next": {"/console/"}})
	require.Equal(c.t, http.StatusSeeOther, res.StatusCode, body)
	res, body = c.get("/console/")
	require.Equal(c.t, http.StatusOK, res.StatusCode, body)
	return csrf(c.t, body)
}
