package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/modemsim"
)

// The receive path in the field (issue 12), with the real agent binary over
// the pty: what fills the SIM is freed, floods of the line are survived,
// and the confirmation then binds.

// inboxReasons returns the reasons recorded in the inbox log.
func inboxReasons(t *testing.T, w *world) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(w.stateDir, "inbox.json"))
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var entries []struct{ Reason string }
	require.NoError(t, json.Unmarshal(data, &entries))
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.Reason
	}
	return out
}

func countContaining(ss []string, sub string) int {
	n := 0
	for _, s := range ss {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

// foreignPartial is the first part of a two-part message from an SP code
// whose second part never comes.
func foreignPartial(t *testing.T, i int, when time.Time) string {
	t.Helper()
	text := strings.Repeat(fmt.Sprintf("【某商城】第%d期优惠活动，", i), 8) + "回复TD退订"
	p, err := modemsim.EncodeDeliver(fmt.Sprintf("1069%04d", i), text, when, byte(i))
	require.NoError(t, err)
	require.Greater(t, len(p), 1, "a long text")
	return p[0]
}

// TestSIMFullOfForeignPartials: a SIM filled with "part 1 of 2" texts from
// SP codes frees itself (oldest first, until no more than 80 % full), every
// eviction in the inbox log with its reason, and the confirmation then
// arrives and binds.
func TestSIMFullOfForeignPartials(t *testing.T) {
	w := newWorldWith(t, modemsim.WithCapacity(10), modemsim.WithSilentWhenFull())
	start0 := time.Now().Add(-time.Hour)
	foreign := map[string]bool{}
	for i := range 10 {
		p := foreignPartial(t, i, start0.Add(time.Duration(i)*time.Minute))
		foreign[p] = true
		_, err := w.sim.Store(p)
		require.NoError(t, err)
	}
	a := start(t, w.args()...)
	a.waitOutput(a.stdout, "BIND "+tid)
	w.waitCommand("AT+CMGD", 2) // 10 of 10 → 8 of 10
	require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+tid))
	require.Equal(t, exitBound, a.wait(), "the confirmation binds")
	reasons := inboxReasons(t, w)
	assert.GreaterOrEqual(t, countContaining(reasons, "incomplete message: part 1 of 2 from 1069000"), 2, "inbox log: %q", reasons)
	assert.Contains(t, strings.Join(reasons, "\n"), "storage over 80% full (10 of 10)")
	// What stays is foreign partials only, no more than 80 % of the SIM.
	left := w.sim.Stored()
	assert.LessOrEqual(t, len(left), 8)
	for _, s := range left {
		assert.True(t, foreign[s.PDU], "slot %d is not a foreign partial", s.Index)
	}
	assert.Equal(t, 10-len(left), countContaining(reasons, "incomplete message"), "every slot freed is in the inbox log: %q", reasons)
	assert.Equal(t, true, statusJSON(t, w)["bound"])
}

// TestDuplicatePartLeavesNoSlot: the confirmation's first part stored twice
// (the SMS centre sent it again): the copy is freed and logged, the
// confirmation binds, and no slot is left behind.
func TestDuplicatePartLeavesNoSlot(t *testing.T) {
	w := newWorld(t)
	require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+tid))
	w.waitStored(2)
	first := w.sim.Stored()[0]
	_, err := w.sim.Store(first.PDU)
	require.NoError(t, err)
	require.Len(t, w.sim.Stored(), 3)

	a, code := runAgent(t, w.args()...)
	require.Equal(t, exitBound, code, "the confirmation binds")
	assert.Contains(t, a.stderr.String(), "confirmation accepted")
	assert.Empty(t, w.sim.Stored(), "no slot left behind")
	reasons := inboxReasons(t, w)
	assert.Equal(t, 1, countContaining(reasons, "duplicate part of a message: part 1 of 2 from "+service), "inbox log: %q", reasons)
}

// TestStorageFullOfDrafts: drafts (messages stored to be sent) that fill
// the SIM are freed, logged, and the confirmation then binds.
func TestStorageFullOfDrafts(t *testing.T) {
	w := newWorldWith(t, modemsim.WithCapacity(3), modemsim.WithSilentWhenFull())
	d, err := modemsim.EncodeSubmit("13900139000", "我明天到")
	require.NoError(t, err)
	_, err = w.sim.StoreDraft(d, d, d)
	require.NoError(t, err)
	a := start(t, w.args()...)
	a.waitOutput(a.stdout, "BIND "+tid)
	w.waitCommand("AT+CMGD", 3)
	require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+tid))
	require.Equal(t, exitBound, a.wait(), "the confirmation binds")
	assert.Empty(t, w.sim.Stored())
	reasons := inboxReasons(t, w)
	assert.Equal(t, 3, countContaining(reasons, "message stored to be sent, not received"), "inbox log: %q", reasons)
}

// TestLineFloods: a 20,000-line +CMTI storm, and a 4 MB line without an
// end, while the agent waits at the prompt: the confirmation after each
// binds, and the over-long line is reported once, not per byte or line.
func TestLineFloods(t *testing.T) {
	tests := []struct {
		name  string
		flood func(w *world)
		log   string // logged once
	}{
		{"20,000-line +CMTI storm", func(w *world) { w.sim.InjectStorm(`+CMTI: "SM",1`, 20000) }, ""},
		{"storm of garbled +CMTI", func(w *world) { w.sim.InjectStorm(`+CMTI: "SM",`, 20000) }, "+CMTI lines the agent cannot read"},
		{"4 MB line without an end", func(w *world) { w.sim.InjectEndlessLine(4 << 20) }, "lines without an end"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			a := start(t, w.args()...)
			a.waitOutput(a.stdout, "BIND "+tid)
			tc.flood(w)
			require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+tid))
			require.Equal(t, exitBound, a.wait(), "the confirmation after the flood binds")
			assert.Empty(t, w.sim.Stored())
			if tc.log != "" {
				assert.Equal(t, 1, strings.Count(a.stderr.String(), tc.log), "logged once:\n%s", a.stderr)
			}
		})
	}
}

// confirmationStoredWhileDown: a first run learns (and keeps) the nonce and
// is stopped; the user texts meanwhile, so the confirmation is stored while
// no agent runs; the platform then goes down, so that only the SMS can bind
// the next run. It returns the confirmation's slots.
func confirmationStoredWhileDown(t *testing.T, w *world) []modemsim.Slot {
	t.Helper()
	first := start(t, w.args()...)
	first.waitOutput(first.stdout, "BIND "+tid)
	require.NoError(t, first.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, exitStopped, first.wait())
	require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+tid))
	w.waitStored(2)
	w.platformDown.Store(true)
	return w.sim.Stored()
}

// exitStopped is the agent's exit code when a signal stopped it first.
const exitStopped = 3

// TestCorruptListingReadAgain: the confirmation's PDU listed once without
// the length its header gives (an octet lost, a stray hex line after the
// header): the agent reads the slot again with AT+CMGR before judging it,
// and the SMS itself binds (the platform is down).
func TestCorruptListingReadAgain(t *testing.T) {
	for _, kind := range []string{modemsim.CorruptShort, modemsim.CorruptStray} {
		t.Run(kind, func(t *testing.T) {
			w := newWorld(t)
			slots := confirmationStoredWhileDown(t, w)
			require.NoError(t, w.sim.CorruptListing(slots[1].Index, kind, 1))
			a, code := runAgent(t, w.args()...)
			require.Equal(t, exitBound, code, "the confirmation binds")
			assert.Contains(t, a.stderr.String(), `why="signature valid, nonce issued to this terminal"`)
			assert.NotContains(t, a.stderr.String(), "SMS rejected")
			assert.Equal(t, "sms", statusJSON(t, w)["source"])
			assert.Empty(t, w.sim.Stored())
		})
	}
}

// TestDoctorReportsLeftovers: doctor names the slots that hold drafts and
// those that cannot be read, as a warning (binding can still work).
func TestDoctorReportsLeftovers(t *testing.T) {
	w := newWorld(t)
	d, err := modemsim.EncodeSubmit("13900139000", "草稿")
	require.NoError(t, err)
	_, err = w.sim.StoreDraft(d)
	require.NoError(t, err)
	p, err := modemsim.EncodeDeliver("95555", "余额提醒", time.Now(), 1)
	require.NoError(t, err)
	idx, err := w.sim.Store(p...)
	require.NoError(t, err)
	require.NoError(t, w.sim.CorruptListing(idx[0], modemsim.CorruptShort, 1))
	require.NoError(t, w.sim.CorruptRead(idx[0], modemsim.CorruptShort, 10))
	a, code := runAgent(t, append(w.args(), "doctor")...)
	out := a.stdout.String()
	assert.Equal(t, 0, code, "a warning, not a failure:\n%s", out)
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "slot 1 holds drafts") {
			line = l
		}
	}
	require.NotEmpty(t, line, "doctor names the draft's slot:\n%s", out)
	assert.True(t, strings.HasPrefix(line, "[warn]"), "%q", line)
	assert.Contains(t, line, "slot 2 cannot be read")
	assert.Len(t, w.sim.Stored(), 2, "doctor deletes nothing")
}
