package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/confirm"
	"bindpay/internal/flagstore"
)

// rogue answers terminal queries with status and body; sign, when set,
// makes the X-Bindpay-Signature with that key (an attacker who guessed the
// protocol but not the key, or the real key for a platform that sends
// something broken).
func rogue(status int, body string, sign []byte) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		if sign != nil {
			rw.Header().Set(confirm.SignatureHeader, confirm.AnswerHeader(sign, status, r.URL.EscapedPath(), r.Header.Get("X-Bindpay-Date"), []byte(body)))
		}
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(status)
		_, _ = rw.Write([]byte(body))
	}
}

func (w *world) interceptWith(h http.HandlerFunc) { w.intercept.Store(&h) }
func (w *world) stopIntercept()                   { w.intercept.Store(nil) }

var terminalKey = confirm.DeriveKey([]byte(masterKey), tid)

// TestForgedPlatformAnswersRefused: whatever answers at platform.url in the
// platform's place — unsigned, signed with another key, a prompt with a
// premium number, a redirect elsewhere, a signed answer with a newline in a
// field — is not believed: nothing is bound, the reason is logged, the
// fallback prompt shows, and the genuine confirmation binds afterwards.
func TestForgedPlatformAnswersRefused(t *testing.T) {
	otherKey := confirm.DeriveKey([]byte("another operator's master key"), tid)
	forgedToken := confirm.Sign(otherKey, confirm.Token{TerminalID: tid, MSISDN: "139****6666"}).String()
	boundBody := `{"terminal_id":"` + tid + `","bound":true,"msisdn":"139****6666","bound_at":"2026-11-25T20:00:00Z","token":"` + forgedToken + `"}`
	premium := `{"terminal_id":"` + tid + `","bound":false,"activation":{"sms_to":"1065999888","sms_body":"PAY ` + tid + `","nonce":"abc"}}`
	elsewhere := httptest.NewServer(rogue(200, boundBody, nil))
	t.Cleanup(elsewhere.Close)
	tests := []struct {
		name    string
		handler http.HandlerFunc
		logged  string // in the agent's log
	}{
		{"unsigned bound:true", rogue(200, boundBody, nil), "not believed"},
		{"bound:true signed with another key", rogue(200, boundBody, otherKey), "not believed"},
		{"bound:true signed, token from another key", rogue(200, boundBody, terminalKey), "signature does not verify with this terminal's key"},
		{"unsigned prompt with a premium number", rogue(200, premium, nil), "not believed"},
		{"redirect to another server", func(rw http.ResponseWriter, r *http.Request) {
			http.Redirect(rw, r, elsewhere.URL+r.URL.Path, http.StatusFound)
		}, "redirect refused"},
		{"newline injection in a signed prompt", rogue(200, `{"terminal_id":"`+tid+`","bound":false,"activation":{"sms_to":"10658000","sms_body":"BIND X\nMAINPID=1\nSTATUS=owned","nonce":"abc"}}`, terminalKey), "sms_body has a control"},
		{"newline injection in a signed bound number", rogue(200, `{"terminal_id":"`+tid+`","bound":true,"msisdn":"138****8000\nREADY=1"}`, terminalKey), "msisdn"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			sd := newFakeSystemd(t)
			w.interceptWith(tc.handler)
			a := startEnv(t, []string{"NOTIFY_SOCKET=" + sd.path}, w.args()...)
			a.waitOutput(a.stderr, tc.logged)
			a.waitOutput(a.stdout, "BIND "+tid) // the fallback prompt
			assert.NotContains(t, a.stdout.String(), "1065999888", "a forged number never reaches the screen")
			assert.NotContains(t, a.stdout.String(), "139****6666")
			assert.True(t, a.running(), "the agent keeps waiting")
			assertNotBound(t, w)
			assert.Equal(t, false, statusJSON(t, w)["bound"])

			w.stopIntercept()
			require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+tid))
			require.Equal(t, exitBound, a.wait(), "the genuine confirmation binds (the platform confirms it)")
			assert.Equal(t, "138****8000", statusJSON(t, w)["msisdn"])
			for _, line := range strings.Split(sd.buf.String(), "\n") {
				assert.NotRegexp(t, `^(MAINPID|READY=1.*owned|STATUS=owned)`, line, "an injected sd_notify assignment")
				assert.NotContains(t, line, "1065999888")
			}
		})
	}
}

// TestPlainHTTPRemoteRefused: a plain-http platform.url to a host that is
// not loopback is a configuration error, exit 2 naming platform.url;
// allow_insecure_http accepts it with a warning at every start.
func TestPlainHTTPRemoteRefused(t *testing.T) {
	w := newWorld(t)
	a, code := runAgent(t, w.args("--platform-url", "http://bind.example.net")...)
	require.Equal(t, exitUsage, code)
	assert.Contains(t, a.stderr.String(), `platform.url "http://bind.example.net"`)
	assert.Equal(t, 1, strings.Count(strings.TrimSpace(a.stderr.String()), "\n")+1, "one line: %q", a.stderr.String())

	// Loopback over http is fine (the world's platform); with the override a
	// remote one is accepted, with a warning, and fails only as unreachable.
	a = start(t, w.args("--platform-url", "http://bind.invalid", "--allow-insecure-http")...)
	a.waitOutput(a.stderr, "plain http to a remote host")
	a.waitOutput(a.stdout, "BIND "+tid)
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 3, a.wait())
}

// TestHTTPSPlatform: over https:// with the operator's CA in
// platform.ca_file the activation works; without it the certificate is
// refused and the fallback prompt shows.
func TestHTTPSPlatform(t *testing.T) {
	w := newTLSWorld(t)
	require.True(t, strings.HasPrefix(w.url, "https://"), "url %s", w.url)

	noCA := append([]string{}, w.args()[2:]...) // without --ca-file
	a := start(t, noCA...)
	a.waitOutput(a.stderr, "x509")
	a.waitOutput(a.stdout, "BIND "+tid)
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGTERM))
	a.wait()

	a = start(t, w.args()...)
	a.waitOutput(a.stdout, "BIND "+tid)
	require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+tid))
	require.Equal(t, exitBound, a.wait())
	assert.Equal(t, true, statusJSON(t, w)["bound"])
}

// TestAlphanumericSenderSpelledAsShortCode: a TON 5 sender whose name is the
// short code's digits is not the short code.
func TestAlphanumericSenderSpelledAsShortCode(t *testing.T) {
	w := newWorld(t)
	a := start(t, w.args()...)
	a.waitOutput(a.stdout, "BIND "+tid)
	for len(w.delivered) > 0 {
		<-w.delivered
	}
	require.NoError(t, w.net.SendRawAlpha(tid, service, w.net.ConfirmationText(tid, "139****6666", "abc")))
	a.waitOutput(a.stderr, "alphanumeric sender")
	w.waitCommand("AT+CMGD=", 1)
	assertNotBound(t, w)
	assertInboxLogged(t, w, "alphanumeric sender")
	assert.True(t, a.running())

	require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+tid))
	require.Equal(t, exitBound, a.wait())
	assert.Equal(t, "138****8000", statusJSON(t, w)["msisdn"])
}

// writeRecord puts a record in the state directory as flagstore writes it.
func writeRecord(t *testing.T, dir string, r flagstore.Record) {
	t.Helper()
	require.NoError(t, flagstore.New(afero.NewOsFs(), dir, time.Now).Save(r))
}

func quarantined(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "binding.json.corrupt-*"))
	require.NoError(t, err)
	return m
}

// TestCopiedRecordRefused: a record copied from another box (a golden image
// activated in QA) carries a proof made with that box's key. In IMEI mode,
// where the fast path cannot compare IDs, the key still tells: not bound,
// the record moved aside, and this box's own activation binds.
func TestCopiedRecordRefused(t *testing.T) {
	w := newWorld(t)
	const imei = "861234567890123" // the world's modem
	w.net.AddTerminal(imei, notifyingModem{w.sim, w.delivered, w.dropMT})
	imeiKey := filepath.Join(t.TempDir(), "imei.key")
	require.NoError(t, os.WriteFile(imeiKey, []byte(fmt.Sprintf("%x\n", confirm.DeriveKey([]byte(masterKey), imei))), 0o600))
	golden := "GOLDEN0001"
	goldenTok := confirm.Sign(confirm.DeriveKey([]byte(masterKey), golden), confirm.Token{TerminalID: golden, MSISDN: "137****0000", Nonce: "qa1"})
	writeRecord(t, w.stateDir, flagstore.Record{TerminalID: golden, MSISDN: "137****0000", Source: flagstore.SourceSMS, Nonce: "qa1", Token: goldenTok.String()})

	args := []string{"--config", os.DevNull, "--state-dir", w.stateDir, "--modem", w.sim.Path(), "--platform-url", w.url,
		"--sms-sender", service, "--key-file", imeiKey, "--lang", "en"}
	st, code := statusOf(t, args)
	assert.Equal(t, exitFailed, code, "status: not bound: %v", st)
	assert.Contains(t, st["error"], "copied from another box")

	a := start(t, args...)
	a.waitOutput(a.stderr, "binding record not this terminal's")
	a.waitOutput(a.stdout, "BIND "+imei)
	assert.Len(t, quarantined(t, w.stateDir), 1, "the copied record is moved aside")
	require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+imei))
	require.Equal(t, exitBound, a.wait())
	st, code = statusOf(t, args)
	assert.Equal(t, exitBound, code)
	assert.Equal(t, imei, st["terminal_id"])
	assert.Equal(t, "verified", st["proof"])
	assert.Equal(t, false, st["terminal_id_checked"], "IMEI mode: status says it could not compare the ID")
}

// TestRecordForAnotherTerminalUnderTerminalIDFile: status and run resolve
// the terminal ID from terminal_id_file as they do from terminal_id.
func TestRecordForAnotherTerminalUnderTerminalIDFile(t *testing.T) {
	w := newWorld(t)
	const other = "STB0099999999"
	otherTok := confirm.Sign(confirm.DeriveKey([]byte(masterKey), other), confirm.Token{TerminalID: other, MSISDN: "137****0000"})
	writeRecord(t, w.stateDir, flagstore.Record{TerminalID: other, MSISDN: "137****0000", Source: flagstore.SourceSMS, Token: otherTok.String()})
	idFile := filepath.Join(t.TempDir(), "terminal-id")
	require.NoError(t, os.WriteFile(idFile, []byte(tid+"\n"), 0o644))
	args := []string{"--config", os.DevNull, "--terminal-id-file", idFile, "--state-dir", w.stateDir, "--modem", w.sim.Path(),
		"--platform-url", w.url, "--sms-sender", service, "--key-file", w.keyFile, "--lang", "en"}

	st, code := statusOf(t, args)
	assert.Equal(t, exitFailed, code)
	assert.Equal(t, false, st["bound"])
	assert.Contains(t, st["error"], `for terminal "STB0099999999", this is "STB0012345678"`)

	a := start(t, args...)
	a.waitOutput(a.stdout, "BIND "+tid)
	assert.Len(t, quarantined(t, w.stateDir), 1, "run moves it aside")
	require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+tid))
	require.Equal(t, exitBound, a.wait())
	st, code = statusOf(t, args)
	assert.Equal(t, exitBound, code)
	assert.Equal(t, tid, st["terminal_id"])
}

// TestStaleConfirmationAfterPlatformBinding: the platform bound the terminal
// while its confirmation SMS was delayed; the binding ends the activation,
// so when that SMS finally arrives after a reset (the box resold, the
// operator unbound it), it is a replay and cannot bind the old number again.
func TestStaleConfirmationAfterPlatformBinding(t *testing.T) {
	w := newWorld(t)
	a := start(t, w.args()...)
	a.waitOutput(a.stdout, "BIND "+tid)
	issued := ledgerNonces(t, w).Issued
	require.Len(t, issued, 1, "the prompt's nonce is recorded")
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 3, a.wait())

	w.dropMT.Store(true) // the confirmation SMS is delayed somewhere
	require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+tid))
	a, code := runAgent(t, w.args()...)
	require.Equal(t, exitBound, code, "bound by the platform's signed answer")
	assert.Contains(t, a.stderr.String(), "source=platform")
	n := ledgerNonces(t, w)
	assert.Empty(t, n.Issued)
	assert.Contains(t, n.Consumed, issued[0], "the binding consumed the activation's nonce")

	_, code = runAgent(t, append(w.args(), "reset")...)
	require.Equal(t, 0, code)
	w.net.Unbind(tid)
	w.dropMT.Store(false)
	a = start(t, w.args()...)
	a.waitOutput(a.stdout, "BIND "+tid)
	parts := w.sendRaw(service, w.net.ConfirmationText(tid, "138****8000", issued[0]))
	a.waitOutput(a.stderr, "replayed confirmation")
	w.waitCommand("AT+CMGD=", parts)
	assertNotBound(t, w)

	require.NoError(t, w.net.PhoneSend(context.Background(), "13900139000", service, "BIND "+tid))
	require.Equal(t, exitBound, a.wait(), "the new owner's activation binds")
	assert.Equal(t, "139****9000", statusJSON(t, w)["msisdn"])
}

func ledgerNonces(t *testing.T, w *world) flagstore.Nonces {
	t.Helper()
	var n flagstore.Nonces
	b, err := os.ReadFile(filepath.Join(w.stateDir, flagstore.NoncesFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &n))
	return n
}

// statusOf runs `status --json` with args and returns its object and exit code.
func statusOf(t *testing.T, args []string) (map[string]any, int) {
	t.Helper()
	a, code := runAgent(t, append(append([]string{}, args...), "status", "--json")...)
	var st map[string]any
	require.NoError(t, json.Unmarshal([]byte(a.stdout.String()), &st), "status --json: %q", a.stdout.String())
	return st, code
}

// skewedPlatform is a platform whose clock is ahead of the terminal's by
// ahead: it refuses dates more than 5 min off its own with a 401 carrying
// its Date, and answers signed, not bound, otherwise.
func skewedPlatform(ahead time.Duration) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		now := time.Now().Add(ahead)
		date := r.Header.Get("X-Bindpay-Date")
		d, err := time.Parse(time.RFC3339, date)
		if err != nil || d.Sub(now).Abs() > 5*time.Minute || !confirm.VerifyRequest(terminalKey, r.Method, r.URL.EscapedPath(), date, r.Header.Get("Authorization")) {
			rw.Header().Set("Date", now.UTC().Format(http.TimeFormat))
			rw.WriteHeader(http.StatusUnauthorized)
			return
		}
		rogue(200, `{"terminal_id":"`+tid+`","bound":false,"activation":{"sms_to":"10658000","sms_body":"BIND `+tid+`","nonce":"sk3w"}}`, terminalKey)(rw, r)
	}
}

// TestDoctorExplainsTrustFaults: doctor names a TLS certificate fault, an
// unsigned answer and a clock skew in one line each.
func TestDoctorExplainsTrustFaults(t *testing.T) {
	tests := []struct {
		name  string
		world func(t *testing.T) *world
		args  func(w *world) []string
		want  string
		mark  string
		code  int
	}{
		{name: "certificate of an unknown CA", world: newTLSWorld, args: func(w *world) []string { return w.args()[2:] },
			want: "TLS: the platform's certificate is signed by an authority this terminal does not trust", mark: "[FAIL]", code: 1},
		{name: "unsigned answer", world: func(t *testing.T) *world {
			w := newWorld(t)
			w.interceptWith(rogue(200, `{"terminal_id":"`+tid+`","bound":true,"msisdn":"139****6666"}`, nil))
			return w
		}, args: func(w *world) []string { return w.args() }, want: "not signed with this terminal's key", mark: "[FAIL]", code: 1},
		{name: "clock two hours slow", world: func(t *testing.T) *world {
			w := newWorld(t)
			w.interceptWith(skewedPlatform(2 * time.Hour))
			return w
		}, args: func(w *world) []string { return w.args() }, want: "clock is 2h0m0s off the platform's", mark: "[warn]", code: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.world(t)
			a, code := runAgent(t, append(tc.args(w), "doctor")...)
			out := a.stdout.String()
			assert.Equal(t, tc.code, code, "doctor exit; output:\n%s", out)
			line := doctorLine(t, out, tc.want)
			assert.True(t, strings.HasPrefix(line, tc.mark), "line %q starts with %s", line, tc.mark)
		})
	}
}

// TestOperatorTemplateChangesStillBind: an operator's new template — a
// full stop right after the signature, a further signed field, a sender
// with an extension of the SP code (allowed by "10658000*") — binds like
// the usual confirmation.
func TestOperatorTemplateChangesStillBind(t *testing.T) {
	tests := []struct {
		name, from string
		text       func(nonce string) string
	}{
		{"full stop after s", service, func(n string) string {
			return "【号码绑定支付】已开通。" + confirm.Sign(terminalKey, confirm.Token{TerminalID: tid, MSISDN: "138****8000", Nonce: n}).String() + "。谢谢."
		}},
		{"a further signed field", service, func(n string) string {
			tok, err := confirm.Parse("BP1 t=" + tid + " m=138****8000 n=" + n + " plan=gold")
			require.NoError(t, err)
			return "【号码绑定支付】已开通：" + confirm.Sign(terminalKey, tok).String() + ". Reply TD to stop."
		}},
		{"sender with an extension", service + "12", func(n string) string {
			return w0ConfirmationText(n)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			a := start(t, w.args("--sms-sender", service+"*")...)
			a.waitOutput(a.stdout, "BIND "+tid) // the platform's prompt: its nonce is recorded before it shows
			issued := ledgerNonces(t, w).Issued
			require.Len(t, issued, 1)
			w.platformDown.Store(true) // from here only the SMS can bind: offline, with the key and the issued nonce
			w.sendRaw(tc.from, tc.text(issued[0]))
			require.Equal(t, exitBound, a.wait(), "the confirmation binds offline")
			assert.Contains(t, a.stderr.String(), `why="signature valid, nonce issued to this terminal"`)
		})
	}
}

// w0ConfirmationText is the usual confirmation text for nonce n.
func w0ConfirmationText(n string) string {
	return "【号码绑定支付】终端" + tid + "已开通，绑定号码138****8000。" + confirm.Sign(terminalKey, confirm.Token{TerminalID: tid, MSISDN: "138****8000", Nonce: n}).String()
}
