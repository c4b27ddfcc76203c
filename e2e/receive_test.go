package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
