package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sendRaw delivers an MT SMS into the modem and waits until it is stored;
// it returns how many parts it took.
func (w *world) sendRaw(from, text string) int {
	w.t.Helper()
	// Forget deliveries that were waited for otherwise (callers send raw
	// SMS only once earlier deliveries have been handled).
	for len(w.delivered) > 0 {
		<-w.delivered
	}
	require.NoError(w.t, w.net.SendRaw(tid, from, text))
	parts := len(w.delivered) // SendRaw returns once delivered
	require.NotZero(w.t, parts)
	for range parts {
		<-w.delivered
	}
	return parts
}

// TestAuthentication: each forged or unverifiable confirmation is rejected
// (or kept while it cannot be judged), nothing is bound, the agent keeps
// waiting with the reason logged, and the valid confirmation then binds.
func TestAuthentication(t *testing.T) {
	tests := []struct {
		name   string
		from   string
		text   func(w *world) string
		reason string
		kept   bool // held, not deleted: the platform must judge it
		down   bool // the platform is down while it arrives
	}{
		{
			name:   "spoofed sender",
			from:   "+8613999999999",
			text:   func(w *world) string { return w.net.ConfirmationText(tid, "139****9999", "q8x3k2") },
			reason: "is not in sms.senders",
		},
		{
			name:   "wrong terminal",
			from:   service,
			text:   func(w *world) string { return w.net.ConfirmationText("STB0000000001", "139****9999", "q8x3k2") },
			reason: `confirmation is for terminal \"STB0000000001\"`,
		},
		{
			name:   "no token",
			from:   service,
			text:   func(*world) string { return "尊敬的客户，您本月话费账单已出。" },
			reason: "no confirmation token",
		},
		{
			name: "bad signature",
			from: "+86" + service,
			text: func(w *world) string {
				return strings.Replace(w.net.ConfirmationText(tid, "138****8000", "q8x3k2"), "m=138****8000", "m=139****9999", 1)
			},
			reason: "bad signature",
		},
		{
			name:   "unknown nonce while the platform is down",
			from:   service,
			text:   func(w *world) string { return w.net.ConfirmationText(tid, "139****9999", "zz9zz9zz") },
			reason: "kept until the service platform can confirm it",
			kept:   true,
			down:   true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			a := start(t, w.args()...)
			a.waitOutput(a.stdout, "BIND "+tid)
			w.platformDown.Store(tc.down)

			parts := w.sendRaw(tc.from, tc.text(w))
			a.waitOutput(a.stderr, tc.reason)
			if tc.kept {
				assert.Len(t, w.sim.Stored(), parts, "an SMS the platform must judge is kept while it cannot")
			} else {
				w.waitCommand("AT+CMGD=", parts)
				assert.Empty(t, w.sim.Stored(), "a rejected SMS is deleted")
				assertInboxLogged(t, w, tc.reason)
			}
			assert.True(t, a.running(), "the agent keeps waiting")
			assertNotBound(t, w)

			w.platformDown.Store(false)
			require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+tid))
			require.Equal(t, exitBound, a.wait(), "the valid confirmation binds")
		})
	}
}

// TestReplayAfterReset: the confirmation that bound the terminal, sent
// again after `reset`, is rejected; a fresh activation binds.
func TestReplayAfterReset(t *testing.T) {
	w := newWorld(t)
	a := start(t, w.args()...)
	a.waitOutput(a.stdout, "BIND "+tid)
	require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+tid))
	require.Equal(t, exitBound, a.wait())
	st := statusJSON(t, w)
	used, _ := st["nonce"].(string)
	require.NotEmpty(t, used, "the record keeps the confirmation's nonce: %v", st)

	_, code := runAgent(t, append(w.args(), "reset")...)
	require.Equal(t, 0, code)
	w.net.Unbind(tid) // the operator unbinds too: the user starts over

	a = start(t, w.args()...)
	a.waitOutput(a.stdout, "BIND "+tid)
	parts := w.sendRaw(service, w.net.ConfirmationText(tid, "138****8000", used))
	a.waitOutput(a.stderr, "replayed confirmation")
	w.waitCommand("AT+CMGD=", 2+parts)
	assert.True(t, a.running())
	assertNotBound(t, w)
	assertInboxLogged(t, w, "replayed confirmation")

	require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+tid))
	require.Equal(t, exitBound, a.wait(), "a fresh confirmation binds")
}

func assertNotBound(t *testing.T, w *world) {
	t.Helper()
	_, err := os.Stat(filepath.Join(w.stateDir, "binding.json"))
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing bound")
}

// assertInboxLogged checks the state directory's inbox log records the
// rejection.
func assertInboxLogged(t *testing.T, w *world, reason string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(w.stateDir, "inbox.json"))
	require.NoError(t, err, "the inbox log exists")
	var entries []struct{ From, Reason, Text string }
	require.NoError(t, json.Unmarshal(data, &entries))
	require.NotEmpty(t, entries)
	last := entries[len(entries)-1]
	assert.Contains(t, last.Reason, strings.ReplaceAll(reason, `\"`, `"`), "inbox log: %+v", entries)
	assert.NotEmpty(t, last.Text)
}
