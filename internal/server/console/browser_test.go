package console

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/server/store"
)

// chromium finds Debian's headless-capable Chromium (BINDPAY_CHROMIUM
// names another). Without one the browser test fails under CI (CI set:
// .ci/run installs the chromium package) and is skipped elsewhere.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("BINDPAY_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("browser test: no chromium in PATH under CI: .ci/run must install it (apt-get install -y chromium), or set BINDPAY_CHROMIUM")
	}
	t.Skip("browser test skipped: no chromium in PATH (apt-get install -y chromium, or set BINDPAY_CHROMIUM)")
	return ""
}

// refusal is an answer a step expects to be an error status: Chromium logs
// a network error for it, and that one console error is not a failure.
type refusal struct {
	path   string
	status int
}

// consoleLog collects what the pages wrote to the console.
type consoleLog struct {
	mu   sync.Mutex
	msgs []chromedp.ConsoleMessage
}

func (l *consoleLog) add(m chromedp.ConsoleMessage) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, m)
}

// errors returns the console errors and exceptions that are not the
// network entry of an expected refusal.
func (l *consoleLog) errors(expected []refusal) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var bad []string
	for _, m := range l.msgs {
		if m.Type != chromedp.ConsoleError && !m.IsException() {
			continue
		}
		ok := false
		for _, r := range expected {
			if m.Source == "network" && strings.HasSuffix(strings.SplitN(m.URL, "?", 2)[0], r.path) &&
				strings.Contains(m.Text, fmt.Sprintf("status of %d", r.status)) {
				ok = true
			}
		}
		if !ok {
			bad = append(bad, fmt.Sprintf("%s %s (%s)", m.Type, m.Text, m.URL))
		}
	}
	return bad
}

// TestBrowser drives a real headless Chromium through the console: sign
// in, find by masked number, the timeline, resend and unbind with a
// reason, enrol a CSV with a bad row, a forged form refused, sign out. It
// saves a screenshot of each page under the test's temporary directory
// (BINDPAY_SCREENSHOT_DIR: there instead, for the README) and fails on
// any console error but the network entries of the refusals it provokes.
func TestBrowser(t *testing.T) {
	exe := chromium(t)
	f := newFixture(t, Options{})
	shots := os.Getenv("BINDPAY_SCREENSHOT_DIR")
	if shots == "" {
		shots = t.TempDir()
	}
	profile := t.TempDir() // removed after the browser has exited (cleanups run last-in first-out)

	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(profile), chromedp.WindowSize(1100, 760),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true), chromedp.Flag("disable-features", "Translate,MediaRouter"),
		chromedp.Flag("lang", "en-US"))
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	ctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
	t.Cleanup(cancel)

	var log consoleLog
	messages := chromedp.Console(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // ends when ctx does (cancel below, or the cleanups)
		defer wg.Done()
		for m, err := range messages {
			if err != nil {
				return
			}
			log.add(m)
		}
	}()
	t.Cleanup(wg.Wait)
	t.Cleanup(cancel) // runs before wg.Wait

	base := f.srv.URL
	var expected []refusal
	n := 0
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, actions...), "step %s", name)
		n++
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		require.NoError(t, err, "screenshot of %s", name)
		require.NoError(t, os.WriteFile(filepath.Join(shots, fmt.Sprintf("%02d-%s.png", n, name)), png, 0o644))
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, "text of %s", sel)
		return s
	}

	// An unauthenticated page goes to the sign-in page.
	step("signin",
		chromedp.Navigate(base+"/console/"),
		chromedp.WaitVisible(chromedp.CSS("#signin-form")))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	assert.Contains(t, loc, "/console/signin?next=")

	step("home",
		chromedp.SendKeys(chromedp.CSS("#who-input"), "Amy Li"),
		chromedp.SendKeys(chromedp.CSS("#token-input"), adminToken),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#q")))
	assert.Equal(t, "Amy Li", text("#who"))

	// Lookup by masked number, then the timeline of the activation.
	step("terminal",
		chromedp.SendKeys(chromedp.CSS("#q"), "138****8000"),
		chromedp.Click(chromedp.CSS("#find")),
		chromedp.WaitVisible(chromedp.CSS("#timeline")))
	assert.Equal(t, "STB1", text("#tid"))
	assert.Contains(t, text("#msisdn"), "+8613800138000")
	events, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("#timeline tbody code"), e => e.textContent)`))
	require.NoError(t, err)
	assert.Equal(t, []string{"enrolled", "activation_requested", "bound", "confirmation_queued", "reply_queued", "part_accepted",
		"confirmation_sent", "part_delivered", "part_delivered", "confirmation_delivered"}, events)

	// Resend, with a reason and a confirmation step.
	step("confirm-resend",
		chromedp.Click(chromedp.CSS("#action-resend")),
		chromedp.WaitVisible(chromedp.CSS("#confirm-form")))
	assert.Contains(t, text("#question"), "STB1")
	step("resent",
		chromedp.SendKeys(chromedp.CSS("#reason"), "caller: no SMS came"),
		chromedp.Click(chromedp.CSS("#confirm")),
		chromedp.WaitVisible(chromedp.CSS("#flash")))
	assertAudit(t, f, "STB1", "console:Amy Li", "reason", "resend: caller: no SMS came")

	// Unbind with a reason.
	step("confirm-unbind",
		chromedp.Click(chromedp.CSS("#action-unbind")),
		chromedp.WaitVisible(chromedp.CSS("#confirm-form")),
		chromedp.SendKeys(chromedp.CSS("#reason"), "sold the box, ticket 4711"))
	step("unbound",
		chromedp.Click(chromedp.CSS("#confirm")),
		chromedp.WaitVisible(chromedp.CSS("#flash")))
	assert.Equal(t, "not bound", text("#state"))
	tm, err := f.st.Terminal(context.Background(), "STB1")
	require.NoError(t, err)
	assert.Equal(t, store.TerminalUnbound, tm.State)
	assert.Contains(t, text("#timeline tbody"), "unbind: sold the box, ticket 4711")

	// Enrol a CSV with a bad row: a row-by-row report, nothing enrolled.
	csv := filepath.Join(t.TempDir(), "fleet.csv")
	require.NoError(t, os.WriteFile(csv, []byte("terminal_id,key_version,sim_msisdn\nSTB20,1,14700000020\nnot valid!,1,\n"), 0o600))
	expected = append(expected, refusal{"/console/enrol", 422})
	step("enrol-bad-row",
		chromedp.Click(chromedp.CSS(`a[href="/console/enrol"]`)),
		chromedp.WaitVisible(chromedp.CSS("#enrol-form")),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{csv}),
		chromedp.Click(chromedp.CSS("#enrol")),
		chromedp.WaitVisible(chromedp.CSS("#bad-rows")))
	assert.Regexp(t, `^3\s`, strings.TrimSpace(text("#bad-rows tbody")))
	_, err = f.st.Terminal(context.Background(), "STB20")
	require.ErrorIs(t, err, store.ErrNotFound)

	// A form whose CSRF token was tampered with is refused.
	step("confirm-cancel",
		chromedp.Navigate(base+"/console/t/STB2"),
		chromedp.WaitVisible(chromedp.CSS(`a[id^="action-cancel-"]`)),
		chromedp.Click(chromedp.CSS(`a[id^="action-cancel-"]`)),
		chromedp.WaitVisible(chromedp.CSS("#confirm-form")),
		chromedp.SetAttributeValue(chromedp.CSS(`#confirm-form input[name="csrf"]`), "value", "forged"),
		chromedp.SendKeys(chromedp.CSS("#reason"), "forged"))
	expected = append(expected, refusal{"/console/t/STB2/cancel", 403})
	step("csrf-refused",
		chromedp.Click(chromedp.CSS("#confirm")),
		chromedp.WaitVisible(chromedp.CSS("#error")))
	assert.Contains(t, text("#error"), "reload the page")
	acts, err := f.st.Activations(context.Background(), "STB2")
	require.NoError(t, err)
	assert.Equal(t, store.ActivationPending, acts[0].State, "the forged form changed nothing")

	// zh-CN, then sign out: the console is closed again.
	step("terminal-zh",
		chromedp.Navigate(base+"/console/t/STB1?lang=zh-CN"),
		chromedp.WaitVisible(chromedp.CSS("#timeline")))
	assert.Equal(t, "未绑定", text("#state"))
	step("signed-out",
		chromedp.Click(chromedp.CSS("#signout")),
		chromedp.WaitVisible(chromedp.CSS("#signin-form")))
	step("after-signout",
		chromedp.Navigate(base+"/console/t/STB1"),
		chromedp.WaitVisible(chromedp.CSS("#signin-form")))

	// The console messages of the last page may still be on their way:
	// a final evaluation is a round trip after them.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool]("true"))
	require.NoError(t, err)
	log.mu.Lock()
	for _, m := range log.msgs {
		t.Logf("console: %s %s %s (%s)", m.Type, m.Source, m.Text, m.URL)
	}
	log.mu.Unlock()
	assert.Empty(t, log.errors(expected), "console errors")
	t.Logf("screenshots in %s", shots)
}
