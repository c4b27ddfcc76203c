package console

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/server/activation"
	"bindpay/internal/server/store"
)

func TestPickLang(t *testing.T) {
	for _, tc := range []struct{ name, query, cookie, accept, want string }{
		{"default", "", "", "", "en"},
		{"accept zh", "", "", "zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"},
		{"accept zh-Hans", "", "", "zh-Hans", "zh-CN"},
		{"accept first known", "", "", "fr-FR, en-GB;q=0.8, zh;q=0.5", "en"},
		{"cookie beats accept", "", "en", "zh-CN", "en"},
		{"query beats cookie", "zh-CN", "en", "", "zh-CN"},
		{"unknown query ignored", "de", "zh-CN", "", "zh-CN"},
		{"garbage", "??", "x", ";;,", "en"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, pickLang(tc.query, tc.cookie, tc.accept))
		})
	}
}

func TestMessagesComplete(t *testing.T) {
	for _, lang := range languages {
		for key := range messages["en"] {
			assert.NotEmpty(t, messages[lang][key], "%s lacks %q", lang, key)
		}
		assert.Len(t, messages[lang], len(messages["en"]), "%s has keys English lacks", lang)
	}
}

func TestQueryKind(t *testing.T) {
	for _, tc := range []struct{ name, q, kind, norm string }{
		{"terminal ID", "STB0012345678", "id", "STB0012345678"},
		{"national number", "13800138000", "number", "+8613800138000"},
		{"E.164", "+8613800138000", "number", "+8613800138000"},
		{"masked", "138****8000", "masked", "138****8000"},
		{"masked too short", "138****800", "id", "138****800"},
		{"stars and letters", "13a****8000", "id", "13a****8000"},
		{"digits that are no number", "12345", "id", "12345"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kind, norm := queryKind(tc.q)
			assert.Equal(t, tc.kind, kind)
			assert.Equal(t, tc.norm, norm)
		})
	}
}

func TestSessionLive(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name          string
		created, seen time.Time
		now           time.Time
		want          bool
	}{
		{"fresh", t0, t0, t0, true},
		{"recently seen", t0, t0.Add(5 * time.Hour), t0.Add(5*time.Hour + 29*time.Minute), true},
		{"idle too long", t0, t0, t0.Add(30 * time.Minute), false},
		{"too old although busy", t0, t0.Add(12 * time.Hour), t0.Add(12 * time.Hour), false},
		{"clock went back", t0, t0, t0.Add(-time.Minute), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, sessionLive(tc.created, tc.seen, tc.now, 30*time.Minute, 12*time.Hour))
		})
	}
}

func TestSessionsBounded(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newSessions(2, time.Hour, 24*time.Hour)
	a := s.create("a", t0)
	b := s.create("b", t0.Add(time.Minute))
	_, ok := s.get(a.id, t0.Add(2*time.Minute)) // a is now the more recently used
	require.True(t, ok)
	s.create("c", t0.Add(3*time.Minute))
	assert.Len(t, s.m, 2)
	_, ok = s.get(b.id, t0.Add(3*time.Minute))
	assert.False(t, ok, "the least recently used session makes room")
	_, ok = s.get(a.id, t0.Add(3*time.Minute))
	assert.True(t, ok)
}

func TestSafeNext(t *testing.T) {
	for _, tc := range []struct{ name, next, want string }{
		{"console page", "/console/t/STB1", "/console/t/STB1"},
		{"empty", "", "/console/"},
		{"elsewhere", "https://evil.example/", "/console/"},
		{"protocol-relative", "//evil.example/console/", "/console/"},
		{"backslash", "/console/\\evil", "/console/"},
		{"other path", "/v1/admin/terminals/x", "/console/"},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, safeNext(tc.next)) })
	}
}

func TestCleanText(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		max      int
		want     string
	}{
		{"plain", "  sold the box ", 100, "sold the box"},
		{"newlines", "line1\nline2\r\n", 100, "line1 line2"},
		{"cut by runes", strings.Repeat("卖", 10), 5, strings.Repeat("卖", 5)},
		{"only space", " \t ", 100, ""},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, cleanText(tc.in, tc.max)) })
	}
}

func TestActionError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		status int
		key    string
	}{
		{"not bound", fmt.Errorf("x: %w", activation.ErrNotBound), http.StatusConflict, "err.notbound"},
		{"no SIM", fmt.Errorf("x: %w", activation.ErrNoSIM), http.StatusConflict, "err.nosim"},
		{"not pending", fmt.Errorf("x: %w", activation.ErrNotPending), http.StatusConflict, "err.notpending"},
		{"changed", fmt.Errorf("x: %w", store.ErrConflict), http.StatusConflict, "err.conflict"},
		{"gone", fmt.Errorf("x: %w", store.ErrNotFound), http.StatusNotFound, "err.notfound"},
		{"store down", errors.New("database is locked"), http.StatusInternalServerError, "err.store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, key := actionError(tc.err)
			assert.Equal(t, tc.status, status)
			assert.Equal(t, tc.key, key)
		})
	}
}

func TestTimeline(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	log := []store.AuditEntry{
		{At: t0, Actor: "cli", Event: "enrolled"},
		{At: t0.Add(time.Minute), Actor: "mo", Event: "activation_requested"},
		{At: t0.Add(time.Minute), Actor: "oss", Event: "bound"},
		{At: t0.Add(2 * time.Minute), Actor: "outbox", Event: "confirmation_sent"},
		{At: t0.Add(4 * time.Minute), Actor: "outbox", Event: "confirmation_delivered"},
	}
	msgs := []store.Message{{ID: 7, Kind: store.KindConfirmation, To: "+8614700000001", CreatedAt: t0.Add(time.Minute), Parts: []store.Part{
		{Seq: 1, State: store.PartDelivered, SMSCID: "a1", UpdatedAt: t0.Add(4 * time.Minute)},
		{Seq: 2, State: store.PartAccepted, SMSCID: "a2", UpdatedAt: t0.Add(2 * time.Minute)},
		{Seq: 3, State: store.PartPending, UpdatedAt: t0.Add(time.Minute)},
	}}}
	var got []string
	for _, e := range Timeline(log, msgs) {
		got = append(got, e.Event)
	}
	assert.Equal(t, []string{"enrolled", "activation_requested", "bound", "confirmation_queued", "part_accepted", "confirmation_sent",
		"part_delivered", "confirmation_delivered"}, got)
	assert.Empty(t, Timeline(nil, nil))
}

func TestUnauthenticated(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.client(t)
	for _, path := range []string{"/console/", "/console/find?q=STB1", "/console/t/STB1", "/console/t/STB1/confirm/unbind", "/console/enrol", "/console/nope"} {
		res, _ := c.get(path)
		assert.Equal(t, http.StatusSeeOther, res.StatusCode, path)
		assert.Equal(t, "/console/signin?next="+url.QueryEscape(path), res.Header.Get("Location"), path)
	}
	for _, path := range []string{"/console/t/STB1/unbind", "/console/t/STB1/resend", "/console/enrol", "/console/signout"} {
		res, _ := c.post(path, url.Values{"reason": {"x"}})
		assert.Equal(t, http.StatusUnauthorized, res.StatusCode, path)
	}
	tm, err := f.st.Terminal(context.Background(), "STB1")
	require.NoError(t, err)
	assert.Equal(t, store.TerminalBound, tm.State)
	res, body := c.get("/console/static/console.css")
	assert.Equal(t, http.StatusOK, res.StatusCode, "the sign-in page's stylesheet needs no session")
	assert.Contains(t, body, "body")
}

func TestSignin(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.client(t)

	res, body := c.get("/console/signin?next=/console/t/STB1")
	require.Equal(t, http.StatusOK, res.StatusCode)
	tok := csrf(t, body)
	var login *http.Cookie
	for _, k := range res.Cookies() {
		if k.Name == loginCookie {
			login = k
		}
	}
	require.NotNil(t, login)
	assert.True(t, login.HttpOnly)
	assert.Equal(t, http.SameSiteStrictMode, login.SameSite)

	t.Run("without the form's token", func(t *testing.T) {
		res, _ := c.post("/console/signin", url.Values{"who": {"amy"}, "token": {adminToken}})
		assert.Equal(t, http.StatusForbidden, res.StatusCode)
	})
	t.Run("wrong token", func(t *testing.T) {
		res, body := c.post("/console/signin", url.Values{"csrf": {tok}, "who": {"amy"}, "token": {"guess"}})
		assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
		assert.Contains(t, body, "admin.token_file")
		tok = csrf(t, body)
	})
	t.Run("no name", func(t *testing.T) {
		res, body := c.post("/console/signin", url.Values{"csrf": {tok}, "who": {"  "}, "token": {adminToken}})
		assert.Equal(t, http.StatusBadRequest, res.StatusCode)
		tok = csrf(t, body)
	})
	t.Run("signed in", func(t *testing.T) {
		res, _ := c.post("/console/signin", url.Values{"csrf": {tok}, "who": {"amy"}, "token": {adminToken}, "next": {"/console/t/STB1"}})
		require.Equal(t, http.StatusSeeOther, res.StatusCode)
		assert.Equal(t, "/console/t/STB1", res.Header.Get("Location"))
		var s *http.Cookie
		for _, k := range res.Cookies() {
			if k.Name == sessionCookie {
				s = k
			}
		}
		require.NotNil(t, s)
		assert.True(t, s.HttpOnly)
		assert.Equal(t, http.SameSiteStrictMode, s.SameSite)
		assert.False(t, s.Secure, "plain HTTP without Options.Secure")
		assert.Equal(t, "/console/", s.Path)
		res, body := c.get("/console/t/STB1")
		require.Equal(t, http.StatusOK, res.StatusCode)
		assert.Contains(t, body, "amy")
		assert.Contains(t, res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
		assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	})
	t.Run("sign out", func(t *testing.T) {
		_, body := c.get("/console/")
		res, _ := c.post("/console/signout", url.Values{"csrf": {csrf(t, body)}})
		require.Equal(t, http.StatusSeeOther, res.StatusCode)
		res, _ = c.get("/console/")
		assert.Equal(t, http.StatusSeeOther, res.StatusCode, "signed out")
	})
	t.Run("a stolen cookie dies at sign out", func(t *testing.T) {
		tok := c.signin("amy")
		u, _ := url.Parse(f.srv.URL + "/console/")
		thief := f.client(t)
		thief.c.Jar.SetCookies(u, c.c.Jar.Cookies(u))
		res, _ := thief.get("/console/t/STB1")
		require.Equal(t, http.StatusOK, res.StatusCode)
		res, _ = c.post("/console/signout", url.Values{"csrf": {tok}})
		require.Equal(t, http.StatusSeeOther, res.StatusCode)
		res, _ = thief.get("/console/t/STB1")
		assert.Equal(t, http.StatusSeeOther, res.StatusCode)
	})
}

func TestSecureCookie(t *testing.T) {
	f := newFixture(t, Options{Secure: true})
	c := f.client(t)
	res, _ := c.get("/console/signin")
	require.NotEmpty(t, res.Cookies())
	for _, k := range res.Cookies() {
		assert.True(t, k.Secure, k.Name)
	}
}

func TestNew(t *testing.T) {
	f := newFixture(t, Options{})
	_, err := New(Options{Store: f.st})
	assert.Error(t, err, "no actions")
	_, err = New(Options{Actions: f.act})
	assert.Error(t, err, "no store")
}

func TestCSRFRefused(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.client(t)
	good := c.signin("amy")
	tm, err := f.st.Terminal(context.Background(), "STB1")
	require.NoError(t, err)
	other := f.client(t)
	otherTok := other.signin("bob")
	for name, tok := range map[string]string{"missing": "", "wrong": "x" + good, "another session's": otherTok} {
		t.Run(name, func(t *testing.T) {
			form := url.Values{"reason": {"sold"}, "version": {fmt.Sprint(tm.Version)}}
			if tok != "" {
				form.Set("csrf", tok)
			}
			res, body := c.post("/console/t/STB1/unbind", form)
			assert.Equal(t, http.StatusForbidden, res.StatusCode)
			assert.Contains(t, body, "reload the page")
		})
	}
	res, _ := c.post("/console/signout", url.Values{})
	assert.Equal(t, http.StatusForbidden, res.StatusCode, "sign-out too needs the token")
	after, err := f.st.Terminal(context.Background(), "STB1")
	require.NoError(t, err)
	assert.Equal(t, store.TerminalBound, after.State, "nothing changed")
	assert.Equal(t, tm.Version, after.Version)
}

func TestFind(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.client(t)
	c.signin("amy")
	for _, tc := range []struct{ name, q, loc string }{
		{"ID in another case", "stb1", "/console/t/STB1"},
		{"full number", "13800138000", "/console/t/STB1"},
		{"E.164", "+8613800138000", "/console/t/STB1"},
		{"masked", "138****8000", "/console/t/STB1"},
		{"SIM number", "14700000002", "/console/t/STB2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, body := c.get("/console/find?q=" + url.QueryEscape(tc.q))
			require.Equal(t, http.StatusSeeOther, res.StatusCode, body)
			assert.Equal(t, tc.loc, res.Header.Get("Location"))
		})
	}
	res, body := c.get("/console/find?q=NOPE")
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	assert.Contains(t, body, `id="nomatch"`)

	t.Run("without a number index", func(t *testing.T) {
		h, err := New(Options{Store: f.st, Actions: f.act, AdminToken: adminToken, Now: f.clock})
		require.NoError(t, err)
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		g := &fixture{st: f.st, srv: srv}
		c := g.client(t)
		c.signin("amy")
		res, body := c.get("/console/find?q=13800138000")
		assert.Equal(t, http.StatusOK, res.StatusCode)
		assert.Contains(t, body, "not available on this platform build")
		res, _ = c.get("/console/find?q=STB1")
		assert.Equal(t, http.StatusSeeOther, res.StatusCode, "IDs still work")
	})
}

func TestTerminalPage(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.client(t)
	c.signin("amy")
	res, body := c.get("/console/t/STB1")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, body, "+8613800138000", "staff see the full number")
	assert.Contains(t, body, "+8614700000001")
	i := 0
	for _, ev := range []string{"enrolled", "activation_requested", "bound", "confirmation_queued", "reply_queued", "part_accepted",
		"confirmation_sent", "part_delivered", "part_delivered", "confirmation_delivered"} {
		j := strings.Index(body[i:], "<code>"+ev+"</code>")
		require.GreaterOrEqual(t, j, 0, "timeline lacks %s after position %d", ev, i)
		i += j + 1
	}
	assert.Contains(t, body, "SMSC id smsc-1")
	assert.Contains(t, body, `id="action-unbind"`)
	assert.NotContains(t, body, `id="action-cancel-`)

	res, body = c.get("/console/t/STB2")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, body, `id="action-cancel-`, "a pending activation can be cancelled")
	assert.NotContains(t, body, `id="action-unbind"`)

	res, _ = c.get("/console/t/NOPE")
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
}

func TestActions(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, Options{})
	c := f.client(t)
	c.signin("amy")

	confirmForm := func(path string) url.Values {
		t.Helper()
		res, body := c.get(path)
		require.Equal(t, http.StatusOK, res.StatusCode, body)
		form := url.Values{"csrf": {csrf(t, body)}}
		for _, name := range []string{"version", "activation"} {
			if m := regexpField(name).FindStringSubmatch(body); m != nil {
				form.Set(name, m[1])
			}
		}
		return form
	}

	t.Run("resend", func(t *testing.T) {
		before, err := f.st.Messages(ctx, "STB1")
		require.NoError(t, err)
		form := confirmForm("/console/t/STB1/confirm/resend")
		res, body := c.post("/console/t/STB1/resend", form)
		assert.Equal(t, http.StatusBadRequest, res.StatusCode, "a reason is required")
		assert.Contains(t, body, "reason")
		form.Set("reason", "caller says no SMS came")
		res, body = c.post("/console/t/STB1/resend", form)
		require.Equal(t, http.StatusSeeOther, res.StatusCode, body)
		assert.Equal(t, "/console/t/STB1?done=resend", res.Header.Get("Location"))
		after, err := f.st.Messages(ctx, "STB1")
		require.NoError(t, err)
		assert.Len(t, after, len(before)+1)
		assert.Equal(t, "+8614700000001", after[len(after)-1].To)
		assertAudit(t, f, "STB1", "console:amy", "confirmation_resent", "")
		assertAudit(t, f, "STB1", "console:amy", "reason", "resend: caller says no SMS came")
		_, body = c.get(res.Header.Get("Location"))
		assert.Contains(t, body, `id="flash"`)
	})
	t.Run("unbind with a stale version", func(t *testing.T) {
		form := confirmForm("/console/t/STB1/confirm/unbind")
		form.Set("reason", "sold the box")
		form.Set("version", "1")
		res, body := c.post("/console/t/STB1/unbind", form)
		assert.Equal(t, http.StatusConflict, res.StatusCode, body)
		tm, err := f.st.Terminal(ctx, "STB1")
		require.NoError(t, err)
		assert.Equal(t, store.TerminalBound, tm.State)
	})
	t.Run("unbind", func(t *testing.T) {
		form := confirmForm("/console/t/STB1/confirm/unbind")
		form.Set("reason", "sold the box, ticket 4711")
		res, body := c.post("/console/t/STB1/unbind", form)
		require.Equal(t, http.StatusSeeOther, res.StatusCode, body)
		tm, err := f.st.Terminal(ctx, "STB1")
		require.NoError(t, err)
		assert.Equal(t, store.TerminalUnbound, tm.State)
		assertAudit(t, f, "STB1", "console:amy", "unbound", "was bound to 138****8000")
		assertAudit(t, f, "STB1", "console:amy", "reason", "unbind: sold the box, ticket 4711")
		res, body = c.post("/console/t/STB1/unbind", form)
		assert.Equal(t, http.StatusConflict, res.StatusCode, "twice: %s", body)
	})
	t.Run("resend when not bound", func(t *testing.T) {
		form := confirmForm("/console/t/STB1/confirm/resend")
		form.Set("reason", "again")
		res, body := c.post("/console/t/STB1/resend", form)
		assert.Equal(t, http.StatusConflict, res.StatusCode)
		assert.Contains(t, body, "not bound")
	})
	t.Run("cancel", func(t *testing.T) {
		acts, err := f.st.Activations(ctx, "STB2")
		require.NoError(t, err)
		require.Len(t, acts, 1)
		form := confirmForm(fmt.Sprintf("/console/t/STB2/confirm/cancel?activation=%d", acts[0].ID))
		assert.Equal(t, fmt.Sprint(acts[0].ID), form.Get("activation"))
		form.Set("reason", "wrong number typed")
		res, body := c.post("/console/t/STB2/cancel", form)
		require.Equal(t, http.StatusSeeOther, res.StatusCode, body)
		a, err := f.st.Activation(ctx, acts[0].ID)
		require.NoError(t, err)
		assert.Equal(t, store.ActivationCancelled, a.State)
		assertAudit(t, f, "STB2", "console:amy", "reason", "cancel: wrong number typed")
		res, _ = c.post("/console/t/STB2/cancel", form)
		assert.Equal(t, http.StatusConflict, res.StatusCode, "cancelled already")
	})
	t.Run("cancel of another terminal's activation", func(t *testing.T) {
		acts, err := f.st.Activations(ctx, "STB2")
		require.NoError(t, err)
		_, body := c.get("/console/t/STB3")
		res, _ := c.post("/console/t/STB3/cancel", url.Values{"csrf": {csrf(t, body)}, "activation": {fmt.Sprint(acts[0].ID)}, "reason": {"x"}, "version": {"1"}})
		assert.Equal(t, http.StatusNotFound, res.StatusCode)
	})
	t.Run("unknown action", func(t *testing.T) {
		_, body := c.get("/console/t/STB3")
		res, _ := c.post("/console/t/STB3/explode", url.Values{"csrf": {csrf(t, body)}, "reason": {"x"}})
		assert.Equal(t, http.StatusNotFound, res.StatusCode)
	})
}

func regexpField(name string) *regexp.Regexp {
	return regexp.MustCompile(`name="` + name + `" value="([^"]*)"`)
}

func assertAudit(t *testing.T, f *fixture, tid, actor, event, detail string) {
	t.Helper()
	log, err := f.st.AuditLog(context.Background(), tid, 100)
	require.NoError(t, err)
	for _, e := range log {
		if e.Actor == actor && e.Event == event && (detail == "" || e.Detail == detail) {
			return
		}
	}
	t.Errorf("audit log of %s lacks %s/%s %q: %+v", tid, actor, event, detail, log)
}

func upload(t *testing.T, c *client, tok, name, content string) (*http.Response, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	require.NoError(t, w.WriteField("csrf", tok))
	fw, err := w.CreateFormFile("file", name)
	require.NoError(t, err)
	_, err = fw.Write([]byte(content))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	r, err := http.NewRequest(http.MethodPost, c.base+"/console/enrol", &b)
	require.NoError(t, err)
	r.Header.Set("Content-Type", w.FormDataContentType())
	return c.do(r)
}

func TestEnrol(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, Options{})
	c := f.client(t)
	tok := c.signin("amy")

	res, body := upload(t, c, tok, "fleet.csv", "terminal_id,key_version,sim_msisdn\nSTB10,1,14700000010\nbad id,1,\nSTB11,x,\n")
	assert.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	assert.Contains(t, body, `id="bad-rows"`)
	assert.Contains(t, body, "<td>3</td>")
	assert.Contains(t, body, "<td>4</td>")
	_, err := f.st.Terminal(ctx, "STB10")
	require.ErrorIs(t, err, store.ErrNotFound, "one bad row: nothing enrolled")

	res, body = upload(t, c, tok, "fleet.csv", "STB10,1,14700000010\nSTB11,2,\nSTB1,1,+8614700000001\n")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Contains(t, body, "new: 2, updated: 0, unchanged: 1")
	tm, err := f.st.Terminal(ctx, "STB10")
	require.NoError(t, err)
	assert.Equal(t, "+8614700000010", tm.SIMMSISDN)
	assertAudit(t, f, "STB10", "console:amy", "enrolled", "")

	res, _ = upload(t, c, "", "fleet.csv", "STB12\n")
	assert.Equal(t, http.StatusForbidden, res.StatusCode, "an upload without its CSRF token")
	_, err = f.st.Terminal(ctx, "STB12")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestChinese(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.client(t)
	r, err := http.NewRequest(http.MethodGet, c.base+"/console/signin", nil)
	require.NoError(t, err)
	r.Header.Set("Accept-Language", "zh-CN,zh;q=0.9")
	res, body := c.do(r)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, body, `lang="zh-CN"`)
	assert.Contains(t, body, "管理令牌")
	c.signin("amy")
	res, body = c.get("/console/t/STB1?lang=zh-CN")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, body, "已绑定")
	res, body = c.get("/console/t/STB1")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, body, "时间线", "the choice is remembered")
}

func TestSigninAllowed(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		f    failures
		now  time.Time
		want bool
	}{
		{"never failed", failures{}, t0, true},
		{"some failures", failures{first: t0, n: 4}, t0.Add(time.Second), true},
		{"too many", failures{first: t0, n: 5}, t0.Add(time.Minute), false},
		{"window over", failures{first: t0, n: 50}, t0.Add(5 * time.Minute), true},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, signinAllowed(tc.f, tc.now, 5*time.Minute, 5)) })
	}
}

func TestSigninSlowed(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.client(t)
	_, body := c.get("/console/signin")
	for i := 0; i < signinFailures; i++ {
		res, b := c.post("/console/signin", url.Values{"csrf": {csrf(t, body)}, "who": {"x"}, "token": {"guess"}})
		require.Equal(t, http.StatusUnauthorized, res.StatusCode, "attempt %d", i+1)
		body = b
	}
	res, b := c.post("/console/signin", url.Values{"csrf": {csrf(t, body)}, "who": {"amy"}, "token": {adminToken}})
	assert.Equal(t, http.StatusTooManyRequests, res.StatusCode, "even the right token waits")
	assert.Equal(t, "300", res.Header.Get("Retry-After"))
	f.advance(signinWindow)
	res, _ = c.post("/console/signin", url.Values{"csrf": {csrf(t, b)}, "who": {"amy"}, "token": {adminToken}})
	assert.Equal(t, http.StatusSeeOther, res.StatusCode, "after the window")
}
