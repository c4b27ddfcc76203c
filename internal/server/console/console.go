// Package console is bindpay-platform's web console for support staff,
// mounted at /console/: sign in with the admin token, find a terminal by
// its ID or its full or masked number, see its state and timeline (the
// audit log merged with each MT part and its receipt), resend the
// confirmation, cancel a pending activation or unbind, each with a reason
// and a confirmation step, and enrol terminals from an uploaded CSV.
//
// Pages are html/template files and a stylesheet embedded in the binary
// (no build step, no CDN); English and zh-CN. Staff see full numbers.
//
// Security: a session cookie (HttpOnly, SameSite=Strict, Secure over TLS or
// when Options.Secure says the proxy in front terminates TLS), a CSRF token
// in every form, checked on every POST; a page request without a session
// is sent to the sign-in page, any other request gets 401. Sessions live in
// memory (a bounded table guarded by a mutex, no goroutine): a restart signs
// everyone out.
//
// The handler starts no goroutines; every store call runs with the
// request's context.
package console

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"bindpay/internal/server/activation"
	"bindpay/internal/server/enrol"
	"bindpay/internal/server/number"
	"bindpay/internal/server/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Prefix is where the console is mounted.
const Prefix = "/console/"

// Actions are the admin operations the console performs;
// *activation.Service has them.
type Actions interface {
	Resend(ctx context.Context, tid, actor string) error
	Cancel(ctx context.Context, id, version int64, actor string) (store.Activation, error)
	Unbind(ctx context.Context, tid string, version int64, actor string) (store.Terminal, error)
}

var _ Actions = (*activation.Service)(nil)

// NumberFinder finds terminals by number. The store has no such query
// yet; without one the console finds terminals by ID only and says so.
type NumberFinder interface {
	// TerminalsByNumber returns the IDs of the terminals bound to number,
	// or whose SIM is number; number is E.164 (+8613800138000) or masked
	// (138****8000).
	TerminalsByNumber(ctx context.Context, number string) ([]string, error)
}

// Options configure the console.
type Options struct {
	Store      store.Store
	Actions    Actions
	AdminToken string       // "" refuses every sign-in
	Numbers    NumberFinder // nil: find by terminal ID only
	// Secure marks the cookies Secure even on plain HTTP requests (a
	// reverse proxy terminates TLS); requests over TLS always get it.
	Secure bool
	Now    func() time.Time
	Log    *slog.Logger
	// MaxSessions bounds the session table (default 1000); IdleTimeout
	// (default 30 min) and MaxSessionAge (default 12 h) end sessions.
	MaxSessions   int
	IdleTimeout   time.Duration
	MaxSessionAge time.Duration
}

// Bounds of what a form may carry.
const (
	maxUpload    = 1 << 20 // an enrolment CSV
	maxForm      = 16 << 10
	maxReason    = 500
	maxWho       = 64
	timelineSize = 500
)

const (
	sessionCookie = "bindpay_console"
	loginCookie   = "bindpay_console_login" // CSRF token of the sign-in form
	langCookie    = "bindpay_console_lang"
)

type console struct {
	Options
	sessions *sessions
	limiter  *limiter
	pages    map[string]*template.Template
}

// New returns the console's handler; mount it at [Prefix].
func New(o Options) (http.Handler, error) {
	if o.Store == nil || o.Actions == nil {
		return nil, errors.New("console: a store and the admin actions are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.MaxSessions < 1 {
		o.MaxSessions = 1000
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 30 * time.Minute
	}
	if o.MaxSessionAge <= 0 {
		o.MaxSessionAge = 12 * time.Hour
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	c := &console{Options: o, sessions: newSessions(o.MaxSessions, o.IdleTimeout, o.MaxSessionAge),
		limiter: newLimiter(), pages: pages}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("console: static files: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /console/signin", c.signinPage)
	mux.HandleFunc("POST /console/signin", c.signin)
	mux.HandleFunc("POST /console/signout", c.auth(c.signout))
	mux.HandleFunc("GET /console/{$}", c.auth(c.home))
	mux.HandleFunc("GET /console/find", c.auth(c.find))
	mux.HandleFunc("GET /console/t/{tid}", c.auth(c.terminal))
	mux.HandleFunc("GET /console/t/{tid}/confirm/{action}", c.auth(c.confirmPage))
	mux.HandleFunc("POST /console/t/{tid}/{action}", c.auth(c.act))
	mux.HandleFunc("GET /console/enrol", c.auth(c.enrolPage))
	mux.HandleFunc("POST /console/enrol", c.auth(c.enrol))
	mux.HandleFunc("/console/", c.auth(func(w http.ResponseWriter, r *http.Request, _ *request) {
		http.NotFound(w, r)
	}))
	return headers(mux), nil
}

// headers sets what every console answer carries: no caching, no framing,
// scripts and styles from the console only.
func headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"t":  text,
		"tf": func(lang, key string, args ...any) string { return fmt.Sprintf(text(lang, key), args...) },
		"langurl": func(path, lang string) string {
			if path == "" {
				path = Prefix
			}
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			return path + sep + "lang=" + url.QueryEscape(lang)
		},
		"time": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		},
	}
	pages := map[string]*template.Template{}
	for _, name := range []string{"signin", "home", "find", "terminal", "confirm", "enrol", "error"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// request is what a handler knows of its caller.
type request struct {
	Lang    string
	Session session // zero before sign-in
}

// page is the data every template gets.
type page struct {
	Lang, OtherLang string
	Who, CSRF       string
	Path            string // the page's own URL, for the language switch
	Flash, Error    string
	Data            any
}

// langOf picks the request's language and remembers an explicit choice.
func (c *console) langOf(w http.ResponseWriter, r *http.Request) string {
	var cookie string
	if k, err := r.Cookie(langCookie); err == nil {
		cookie = k.Value
	}
	q := r.URL.Query().Get("lang")
	lang := pickLang(q, cookie, r.Header.Get("Accept-Language"))
	if q != "" && lang != cookie {
		c.setCookie(w, r, langCookie, lang, 365*24*time.Hour, false)
	}
	return lang
}

func (c *console) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration, httpOnly bool) {
	k := &http.Cookie{Name: name, Value: value, Path: Prefix, HttpOnly: httpOnly, SameSite: http.SameSiteStrictMode,
		Secure: c.Secure || r.TLS != nil}
	if maxAge < 0 {
		k.MaxAge = -1
	} else {
		k.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(w, k)
}

// auth admits requests with a live session: a page request (GET or HEAD)
// without one is sent to the sign-in page, anything else gets 401. A POST
// must carry the session's CSRF token (403 otherwise).
func (c *console) auth(h func(http.ResponseWriter, *http.Request, *request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req := &request{Lang: c.langOf(w, r)}
		k, err := r.Cookie(sessionCookie)
		var ok bool
		if err == nil {
			req.Session, ok = c.sessions.get(k.Value, c.Now())
		}
		if !ok {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/console/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			w.Header().Set("WWW-Authenticate", `Cookie realm="bindpay console"`)
			c.render(w, http.StatusUnauthorized, "error", req, page{Error: text(req.Lang, "unauthorized.body")})
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxUpload+maxForm)
			var got string
			if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
				if err := r.ParseMultipartForm(maxUpload); err != nil {
					c.render(w, http.StatusRequestEntityTooLarge, "error", req, page{Error: "upload over 1 MiB or malformed: enrol in several files"})
					return
				}
			}
			got = r.PostFormValue("csrf")
			if !tokenEqual(got, req.Session.csrf) {
				c.Log.Warn("console: form refused without its CSRF token", "path", r.URL.Path, "who", req.Session.who)
				c.render(w, http.StatusForbidden, "error", req, page{Error: text(req.Lang, "forbidden.csrf")})
				return
			}
		}
		h(w, r, req)
	}
}

func (c *console) render(w http.ResponseWriter, status int, name string, req *request, p page) {
	p.Lang = req.Lang
	p.OtherLang = "zh-CN"
	if p.Lang == "zh-CN" {
		p.OtherLang = "en"
	}
	p.Who, p.CSRF = req.Session.who, req.Session.csrf
	var b strings.Builder
	if err := c.pages[name].Execute(&b, p); err != nil {
		c.Log.Error("console: render", "page", name, "err", err)
		http.Error(w, "console: the page could not be rendered; see the platform's log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, b.String()) // the client went away: nothing to do
}

// signinData is the sign-in form.
type signinData struct{ Next, Token string }

func (c *console) signinPage(w http.ResponseWriter, r *http.Request) {
	req := &request{Lang: c.langOf(w, r)}
	tok := randomToken()
	c.setCookie(w, r, loginCookie, tok, 15*time.Minute, true)
	c.render(w, http.StatusOK, "signin", req, page{Path: r.URL.Path, Data: signinData{Next: safeNext(r.URL.Query().Get("next")), Token: tok}})
}

// safeNext keeps a post-sign-in redirect inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix) || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return Prefix
	}
	return next
}

func (c *console) signin(w http.ResponseWriter, r *http.Request) {
	req := &request{Lang: c.langOf(w, r)}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	k, err := r.Cookie(loginCookie)
	if err != nil || !tokenEqual(r.PostFormValue("csrf"), k.Value) {
		c.render(w, http.StatusForbidden, "error", req, page{Error: text(req.Lang, "forbidden.csrf")})
		return
	}
	next := safeNext(r.PostFormValue("next"))
	again := func(status int, msg string) {
		tok := randomToken()
		c.setCookie(w, r, loginCookie, tok, 15*time.Minute, true)
		c.render(w, status, "signin", req, page{Error: msg, Path: "/console/signin", Data: signinData{Next: next, Token: tok}})
	}
	host := hostOf(r.RemoteAddr)
	if !c.limiter.allowed(host, c.Now()) {
		w.Header().Set("Retry-After", strconv.Itoa(int(signinWindow/time.Second)))
		again(http.StatusTooManyRequests, text(req.Lang, "signin.slow"))
		return
	}
	token := r.PostFormValue("token")
	if c.AdminToken == "" || subtle.ConstantTimeCompare([]byte(token), []byte(c.AdminToken)) != 1 {
		c.Log.Warn("console: sign-in refused: wrong admin token", "remote", r.RemoteAddr)
		c.limiter.fail(host, c.Now())
		again(http.StatusUnauthorized, text(req.Lang, "signin.bad"))
		return
	}
	who := cleanText(r.PostFormValue("who"), maxWho)
	if who == "" {
		again(http.StatusBadRequest, text(req.Lang, "signin.needwho"))
		return
	}
	c.limiter.succeed(host)
	s := c.sessions.create(who, c.Now())
	c.setCookie(w, r, loginCookie, "", -1, true)
	c.setCookie(w, r, sessionCookie, s.id, c.MaxSessionAge, true)
	c.Log.Info("console: signed in", "who", who, "remote", r.RemoteAddr)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *console) signout(w http.ResponseWriter, r *http.Request, req *request) {
	c.sessions.delete(req.Session.id)
	c.setCookie(w, r, sessionCookie, "", -1, true)
	http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
}

// cleanText trims s, turns control characters into spaces and cuts it to
// max runes: what people type goes into the audit log as one line.
func cleanText(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.TrimSpace(s))
	if r := []rune(s); len(r) > max {
		s = string(r[:max])
	}
	return strings.TrimSpace(s)
}

func (c *console) home(w http.ResponseWriter, r *http.Request, req *request) {
	c.render(w, http.StatusOK, "home", req, page{Path: r.URL.Path, Data: findData{Numbers: c.Numbers != nil}})
}

// findData is the search page.
type findData struct {
	Q       string
	Numbers bool // finding by number is available
	Matches []string
	NoMatch bool
}

// queryKind is the rule for what a search box holds: a masked number
// (138****8000), a full number (anything number.E164 accepts), or a
// terminal ID.
func queryKind(q string) (kind, normalised string) {
	if isMasked(q) {
		return "masked", q
	}
	if n, err := number.E164(q); err == nil {
		return "number", n
	}
	return "id", q
}

func isMasked(q string) bool {
	d, rest, ok := strings.Cut(q, "****")
	if !ok || len(d) != 3 || len(rest) != 4 {
		return false
	}
	return strings.Trim(d+rest, "0123456789") == ""
}

func (c *console) find(w http.ResponseWriter, r *http.Request, req *request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	d := findData{Q: q, Numbers: c.Numbers != nil}
	p := page{Path: r.URL.Path + "?q=" + url.QueryEscape(q), Data: &d}
	if q == "" {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	kind, n := queryKind(q)
	if kind == "id" {
		t, err := c.Store.TerminalFold(r.Context(), q)
		if err == nil {
			http.Redirect(w, r, "/console/t/"+url.PathEscape(t.ID), http.StatusSeeOther)
			return
		}
		if !errors.Is(err, store.ErrNotFound) {
			c.Log.Error("console: find", "q", q, "err", err)
			p.Error = text(req.Lang, "err.store")
			c.render(w, http.StatusInternalServerError, "find", req, p)
			return
		}
	} else if c.Numbers == nil {
		p.Error = text(req.Lang, "search.nonumbers")
		c.render(w, http.StatusOK, "find", req, p)
		return
	} else {
		ids, err := c.Numbers.TerminalsByNumber(r.Context(), n)
		if err != nil {
			c.Log.Error("console: find by number", "q", number.Mask(n), "err", err)
			p.Error = text(req.Lang, "err.store")
			c.render(w, http.StatusInternalServerError, "find", req, p)
			return
		}
		if len(ids) == 1 {
			http.Redirect(w, r, "/console/t/"+url.PathEscape(ids[0]), http.StatusSeeOther)
			return
		}
		d.Matches = ids
	}
	d.NoMatch = len(d.Matches) == 0
	status := http.StatusOK
	if d.NoMatch {
		status = http.StatusNotFound
	}
	c.render(w, status, "find", req, p)
}

// terminalData is the terminal page.
type terminalData struct {
	T           store.Terminal
	Activations []store.Activation
	Messages    []store.Message
	Timeline    []Event
	Pending     []store.Activation // those that can be cancelled
}

func (c *console) load(ctx context.Context, tid string) (*terminalData, error) {
	t, err := c.Store.Terminal(ctx, tid)
	if err != nil {
		return nil, err
	}
	acts, err := c.Store.Activations(ctx, tid)
	if err != nil {
		return nil, fmt.Errorf("activations: %w", err)
	}
	msgs, err := c.Store.Messages(ctx, tid)
	if err != nil {
		return nil, fmt.Errorf("messages: %w", err)
	}
	log, err := c.Store.AuditLog(ctx, tid, timelineSize)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	d := &terminalData{T: t, Activations: acts, Messages: msgs, Timeline: Timeline(log, msgs)}
	for _, a := range acts {
		if a.State == store.ActivationPending {
			d.Pending = append(d.Pending, a)
		}
	}
	return d, nil
}

func (c *console) loadOr(w http.ResponseWriter, r *http.Request, req *request) (*terminalData, bool) {
	tid := r.PathValue("tid")
	d, err := c.load(r.Context(), tid)
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.render(w, http.StatusNotFound, "error", req, page{Error: text(req.Lang, "err.notfound")})
		return nil, false
	case err != nil:
		c.Log.Error("console: terminal", "terminal", tid, "err", err)
		c.render(w, http.StatusInternalServerError, "error", req, page{Error: text(req.Lang, "err.store")})
		return nil, false
	}
	return d, true
}

func (c *console) terminal(w http.ResponseWriter, r *http.Request, req *request) {
	d, ok := c.loadOr(w, r, req)
	if !ok {
		return
	}
	p := page{Path: r.URL.Path, Data: d}
	if done := r.URL.Query().Get("done"); done != "" && isAction(done) {
		p.Flash = text(req.Lang, "done."+done)
	}
	c.render(w, http.StatusOK, "terminal", req, p)
}

// Event is one line of a terminal's timeline.
type Event struct {
	At     time.Time
	Actor  string
	Event  string
	Detail string
}

// Timeline merges a terminal's audit log with its messages' life (each
// message queued, each part's latest state with its SMS centre id: the
// store keeps no history of a part), oldest first. At equal times a part's
// state comes first (the receipts, then the audit entry that they made a
// message delivered), then the audit log in its order, then the messages
// queued (by the audit entry's transaction).
func Timeline(log []store.AuditEntry, msgs []store.Message) []Event {
	type ranked struct {
		Event
		rank int
	}
	out := make([]ranked, 0, len(log)+2*len(msgs))
	for _, e := range log {
		out = append(out, ranked{Event{At: e.At, Actor: e.Actor, Event: e.Event, Detail: e.Detail}, 1})
	}
	for _, m := range msgs {
		out = append(out, ranked{Event{At: m.CreatedAt, Actor: "outbox", Event: m.Kind + "_queued",
			Detail: fmt.Sprintf("message %d to %s, %d part(s)", m.ID, m.To, len(m.Parts))}, 2})
		for _, p := range m.Parts {
			if p.State == store.PartPending {
				continue
			}
			d := fmt.Sprintf("message %d part %d/%d", m.ID, p.Seq, len(m.Parts))
			if p.SMSCID != "" {
				d += " (SMSC id " + p.SMSCID + ")"
			}
			out = append(out, ranked{Event{At: p.UpdatedAt, Actor: "smsc", Event: "part_" + string(p.State), Detail: d}, 0})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return out[i].rank < out[j].rank
	})
	events := make([]Event, len(out))
	for i, r := range out {
		events[i] = r.Event
	}
	return events
}

// isAction reports whether a is one of the console's actions.
func isAction(a string) bool { return a == "resend" || a == "unbind" || a == "cancel" }

// confirmData is the confirmation step of an action.
type confirmData struct {
	Action     string
	T          store.Terminal
	Activation store.Activation // for cancel
	Question   string
	Reason     string
}

func (c *console) confirmPage(w http.ResponseWriter, r *http.Request, req *request) {
	action := r.PathValue("action")
	if !isAction(action) {
		http.NotFound(w, r)
		return
	}
	d, ok := c.loadOr(w, r, req)
	if !ok {
		return
	}
	cd, ok := c.confirmData(w, r, req, action, d, r.URL.Query().Get("activation"))
	if !ok {
		return
	}
	c.render(w, http.StatusOK, "confirm", req, page{Path: r.URL.RequestURI(), Data: cd})
}

func (c *console) confirmData(w http.ResponseWriter, r *http.Request, req *request, action string, d *terminalData, actID string) (*confirmData, bool) {
	cd := &confirmData{Action: action, T: d.T}
	switch action {
	case "resend":
		cd.Question = fmt.Sprintf(text(req.Lang, "confirm.q.resend"), d.T.ID)
	case "unbind":
		cd.Question = fmt.Sprintf(text(req.Lang, "confirm.q.unbind"), d.T.ID, d.T.MSISDN)
	case "cancel":
		id, _ := strconv.ParseInt(actID, 10, 64)
		found := false
		for _, a := range d.Activations {
			if a.ID == id {
				cd.Activation, found = a, true
			}
		}
		if !found {
			c.render(w, http.StatusNotFound, "error", req, page{Error: "no such activation of terminal " + d.T.ID})
			return nil, false
		}
		cd.Question = fmt.Sprintf(text(req.Lang, "confirm.q.cancel"), actID, d.T.ID)
	}
	return cd, true
}

// act carries out a confirmed action: the form names the version the
// operator saw (a change since is a conflict) and a reason, which goes
// into the audit log with the operator's name.
func (c *console) act(w http.ResponseWriter, r *http.Request, req *request) {
	action := r.PathValue("action")
	if !isAction(action) {
		http.NotFound(w, r)
		return
	}
	d, ok := c.loadOr(w, r, req)
	if !ok {
		return
	}
	cd, ok := c.confirmData(w, r, req, action, d, r.PostFormValue("activation"))
	if !ok {
		return
	}
	cd.Reason = cleanText(r.PostFormValue("reason"), maxReason)
	if cd.Reason == "" {
		c.render(w, http.StatusBadRequest, "confirm", req, page{Error: text(req.Lang, "reason.needed"), Data: cd})
		return
	}
	version, _ := strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	actor := "console:" + req.Session.who
	ctx := r.Context()
	var err error
	switch action {
	case "resend":
		if version != d.T.Version {
			err = store.ErrConflict
			break
		}
		err = c.Actions.Resend(ctx, d.T.ID, actor)
	case "unbind":
		_, err = c.Actions.Unbind(ctx, d.T.ID, version, actor)
	case "cancel":
		_, err = c.Actions.Cancel(ctx, cd.Activation.ID, version, actor)
	}
	if err == nil {
		err = c.Store.Audit(ctx, store.AuditEntry{At: c.Now(), TerminalID: d.T.ID, Actor: actor, Event: "reason",
			Detail: action + ": " + cd.Reason})
	}
	if err != nil {
		status, msg := actionError(err)
		if status == http.StatusInternalServerError {
			c.Log.Error("console: action", "action", action, "terminal", d.T.ID, "err", err)
		}
		c.render(w, status, "confirm", req, page{Error: text(req.Lang, msg), Data: cd})
		return
	}
	c.Log.Info("console: action", "action", action, "terminal", d.T.ID, "who", req.Session.who)
	http.Redirect(w, r, "/console/t/"+url.PathEscape(d.T.ID)+"?done="+action, http.StatusSeeOther)
}

// actionError is the rule for what an action's error tells the operator:
// an HTTP status and a message key.
func actionError(err error) (int, string) {
	switch {
	case errors.Is(err, activation.ErrNotBound):
		return http.StatusConflict, "err.notbound"
	case errors.Is(err, activation.ErrNoSIM):
		return http.StatusConflict, "err.nosim"
	case errors.Is(err, activation.ErrNotPending):
		return http.StatusConflict, "err.notpending"
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, "err.conflict"
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "err.notfound"
	default:
		return http.StatusInternalServerError, "err.store"
	}
}

// enrolData is the enrolment page and its report.
type enrolData struct {
	File    string
	Bad     []enrol.RowError
	Done    []store.Enrolment
	Summary string
}

func (c *console) enrolPage(w http.ResponseWriter, r *http.Request, req *request) {
	c.render(w, http.StatusOK, "enrol", req, page{Path: r.URL.Path, Data: &enrolData{}})
}

func (c *console) enrol(w http.ResponseWriter, r *http.Request, req *request) {
	d := &enrolData{}
	p := page{Path: "/console/enrol", Data: d}
	f, hdr, err := r.FormFile("file")
	if err != nil {
		p.Error = text(req.Lang, "enrol.nofile")
		c.render(w, http.StatusBadRequest, "enrol", req, p)
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxUpload))
	if err != nil {
		p.Error = "read the upload: " + err.Error()
		c.render(w, http.StatusBadRequest, "enrol", req, p)
		return
	}
	d.File = hdr.Filename
	rows, err := enrol.Parse(hdr.Filename, data)
	var bad enrol.Errors
	switch {
	case errors.As(err, &bad):
		d.Bad = bad
		p.Error = text(req.Lang, "enrol.bad")
		c.render(w, http.StatusUnprocessableEntity, "enrol", req, p)
		return
	case err != nil:
		p.Error = err.Error()
		c.render(w, http.StatusUnprocessableEntity, "enrol", req, p)
		return
	}
	res, err := enrol.Apply(r.Context(), c.Store, rows, "console:"+req.Session.who, c.Now())
	if err != nil {
		status, msg := actionError(err)
		c.Log.Error("console: enrol", "file", hdr.Filename, "err", err)
		p.Error = text(req.Lang, msg)
		c.render(w, status, "enrol", req, p)
		return
	}
	d.Done = rows
	d.Summary = fmt.Sprintf(text(req.Lang, "enrol.counts"), res.New, res.Updated, res.Unchanged)
	c.Log.Info("console: enrolled", "file", hdr.Filename, "new", res.New, "updated", res.Updated, "who", req.Session.who)
	c.render(w, http.StatusOK, "enrol", req, p)
}
