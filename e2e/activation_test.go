package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/server/store/storetest"
)

func statusJSON(t *testing.T, w *world) map[string]any {
	t.Helper()
	a, code := runAgent(t, append(w.args(), "status", "--json")...)
	var st map[string]any
	require.NoError(t, json.Unmarshal([]byte(a.stdout.String()), &st), "status --json output: %s", a.stdout)
	bound, _ := st["bound"].(bool)
	assert.Equal(t, bound, code == 0, "status exits 0 exactly when bound (exit %d, %v)", code, st)
	return st
}

// TestActivation is the whole flow: prompt, the user's SMS, the confirmation
// over the modem, the durable flag, and the instant bound path.
func TestActivation(t *testing.T) {
	w := newWorld(t)
	a := start(t, w.args()...)
	a.waitOutput(a.stdout, "BIND "+tid)
	a.waitOutput(a.stdout, service)
	assert.False(t, statusJSON(t, w)["bound"].(bool), "not bound before the SMS")

	require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+tid))
	require.Equal(t, exitBound, a.wait(), "run exits 0 once bound")
	assert.Contains(t, a.stdout.String(), "138****8000", "the screen shows the bound number")
	assert.Contains(t, a.stderr.String(), `msg="confirmation accepted"`)
	assert.Contains(t, a.stderr.String(), `why="signature valid, nonce issued to this terminal"`)

	st := statusJSON(t, w)
	assert.Equal(t, true, st["bound"])
	assert.Equal(t, tid, st["terminal_id"])
	assert.Equal(t, "138****8000", st["msisdn"])
	assert.Equal(t, "sms", st["source"])
	assert.Empty(t, w.sim.Stored(), "the confirmation (both parts) was deleted after the flag was durable")
	assert.Equal(t, 2, countPrefix(w.sim.Commands(), "AT+CMGD="), "one delete per part")

	// Power-on again: bound, exit 0, the modem never touched.
	before := len(w.sim.Commands())
	_, code := runAgent(t, w.args()...)
	assert.Equal(t, exitBound, code)
	assert.Len(t, w.sim.Commands(), before, "the bound path sends the modem nothing")
	_, code = runAgent(t, w.args("--modem", filepath.Join(t.TempDir(), "no-such-modem"))...)
	assert.Equal(t, exitBound, code, "the bound path does not even open the modem")
}

// TestActivationOnPostgres is the flow with the platform on PostgreSQL
// (BINDPAY_TEST_POSTGRES, set by .ci/run; skipped without it outside CI):
// the prompt, the user's SMS, the confirmation over the modem, bound on
// both sides, and an MO delivered again binding nothing new.
func TestActivationOnPostgres(t *testing.T) {
	w := newWorldOn(t, storetest.PostgresURL(t))
	a := start(t, w.args()...)
	a.waitOutput(a.stdout, "BIND "+tid)
	require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+tid))
	require.Equal(t, exitBound, a.wait(), "run exits 0 once bound")
	assert.Contains(t, a.stderr.String(), `why="signature valid, nonce issued to this terminal"`)
	st := statusJSON(t, w)
	assert.Equal(t, true, st["bound"])
	assert.Equal(t, "138****8000", st["msisdn"])
	bound, msisdn := w.net.Binding(tid)
	assert.True(t, bound && msisdn == "+86"+phone, "the platform on PostgreSQL holds the binding")
	es, err := w.net.Timeline(context.Background(), tid)
	require.NoError(t, err)
	var events []string
	for _, e := range es {
		events = append(events, e.Event)
	}
	assert.Subset(t, events, []string{"enrolled", "activation_requested", "bound"}, "the platform's audit log")
}

// TestConfirmationStoredBeforeStart: the SMS arrived while the agent was not
// running; the start-up scan honours it.
func TestConfirmationStoredBeforeStart(t *testing.T) {
	w := newWorld(t)
	require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+tid))
	w.waitStored(2)

	a, code := runAgent(t, w.args()...)
	require.Equal(t, exitBound, code, "bound from the stored confirmation")
	assert.Contains(t, a.stderr.String(), "confirmation accepted")
	assert.Empty(t, w.sim.Stored(), "deleted once the flag was durable")
	assert.Equal(t, true, statusJSON(t, w)["bound"])
}

// waitStored waits until the network has delivered n more messages into the
// modem (delivery is asynchronous, as on a real network).
func (w *world) waitStored(n int) {
	w.t.Helper()
	for range n {
		select {
		case <-w.delivered:
		case <-time.After(waitLimit):
			w.t.Fatalf("network delivered fewer than %d messages; modem holds %d", n, len(w.sim.Stored()))
		}
	}
}
