package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/modemsim"
)

// activate runs the whole flow on w: the agent prompts, the phone texts,
// the agent binds. It returns the agent for further checks.
func activate(t *testing.T, w *world, extra ...string) *agent {
	t.Helper()
	a := start(t, w.args(extra...)...)
	a.waitOutput(a.stdout, "BIND "+tid)
	require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+tid))
	require.Equal(t, exitBound, a.wait(), "the agent binds")
	assert.Empty(t, w.sim.Stored(), "nothing left in the modem")
	return a
}

// TestModemProfiles: the agent binds on every modem family the simulator
// models, with a foreign SMS already stored and the confirmation arriving
// live.
func TestModemProfiles(t *testing.T) {
	for _, profile := range modemsim.Profiles() {
		t.Run(profile, func(t *testing.T) {
			w := newWorldWith(t, modemsim.WithProfile(profile))
			foreign, err := modemsim.EncodeDeliver("95555", "【某银行】您的验证码是123456。", time.Now(), 9)
			require.NoError(t, err)
			_, err = w.sim.Store(foreign...)
			require.NoError(t, err)
			a := activate(t, w)
			assert.Contains(t, a.stderr.String(), "SMS rejected", "the foreign SMS is handled and deleted")
		})
	}
}

// TestModemQuirksAndFaults: each quirk or fault of real modems, alone; the
// agent binds under every one.
func TestModemQuirksAndFaults(t *testing.T) {
	tests := []struct {
		name string
		opts []modemsim.Option
		// during runs while the agent waits at the prompt, before the
		// phone texts; it may leave the confirmation to be found later.
		during func(t *testing.T, w *world, a *agent)
		args   []string
	}{
		{name: "echo on at power-on", opts: []modemsim.Option{modemsim.WithEchoAtPowerOn(true)}},
		{name: "boot lines, SIM busy, SMS not ready", opts: []modemsim.Option{
			modemsim.WithBootLines("RDY", "+CFUN: 1", "+CPIN: READY", "SMS Ready"),
			modemsim.WithSIMBusyFor(1500 * time.Millisecond), modemsim.WithSMSReadyAfter(2500 * time.Millisecond)}},
		{name: "vendor URCs everywhere", opts: []modemsim.Option{modemsim.WithProfile("huawei"), modemsim.WithNoise(7, 0.6)}},
		{name: "COMMAND NOT SUPPORT", opts: []modemsim.Option{modemsim.WithFinalError("COMMAND NOT SUPPORT")}},
		{name: "+CPIN: READY without OK", opts: []modemsim.Option{modemsim.WithCPINNoFinalOK()}},
		{name: "CR CR LF line endings", opts: []modemsim.Option{modemsim.WithLineEnding("\r\r\n")}},
		{name: "bare LF line endings", opts: []modemsim.Option{modemsim.WithLineEnding("\n")}},
		{name: "0-based storage", opts: []modemsim.Option{modemsim.WithIndexBase(0)}},
		{name: "quoted empty alpha", opts: []modemsim.Option{modemsim.WithAlpha(modemsim.AlphaQuoted)}},
		{name: "missing alpha", opts: []modemsim.Option{modemsim.WithAlpha(modemsim.AlphaMissing)}},
		{name: "missing stat", opts: []modemsim.Option{modemsim.WithMissingStat()}},
		{name: "CNMI mode 2 rejected", opts: []modemsim.Option{modemsim.WithCNMIModes("0,0", "1,1")}},
		{
			name: "storage full of foreign SMS",
			opts: []modemsim.Option{modemsim.WithCapacity(3), modemsim.WithSilentWhenFull()},
			during: func(t *testing.T, w *world, a *agent) {
				// Filled before the agent started: see the setup below.
			},
		},
		{
			name: "modem restarts mid-session (RDY)",
			opts: []modemsim.Option{modemsim.WithBootLines("RDY")},
			during: func(t *testing.T, w *world, a *agent) {
				inits := countPrefix(w.sim.Commands(), "AT+CNMI=2")
				w.sim.Reset()
				w.waitCommand("AT+CNMI=2", inits+1) // re-initialised
			},
		},
		{
			name: "modem restarts silently",
			args: []string{"--modem-health-interval", "1s"},
			during: func(t *testing.T, w *world, a *agent) {
				inits := countPrefix(w.sim.Commands(), "AT+CNMI=")
				w.sim.Reset()
				w.waitCommand("AT+CNMI=", inits+2) // the health check's AT+CNMI? then the restore
				a.waitOutput(a.stderr, "lost its new-message indication setting")
			},
		},
		{
			name: "garbage on the line",
			during: func(t *testing.T, w *world, a *agent) {
				w.sim.InjectGarbage([]byte("\x00\xff\xfe~~\x1b[0m\r\n\x00"))
				w.sim.InjectLine("^RSSI: 17")
			},
		},
		{
			name: "modem stops answering, +CMTI lost",
			args: []string{"--modem-health-interval", "1s"},
			during: func(t *testing.T, w *world, a *agent) {
				w.sim.Hang(true)
				require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+tid))
				w.waitStored(2) // stored, but the hung modem announces nothing
				w.sim.Hang(false)
			},
		},
		{
			name: "port vanishes and comes back",
			during: func(t *testing.T, w *world, a *agent) {
				require.NoError(t, w.sim.Unplug())
				a.waitOutput(a.stderr, "modem unavailable")
				require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+tid))
				w.waitStored(2)
				require.NoError(t, w.sim.Replug())
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorldWith(t, tc.opts...)
			if strings.HasPrefix(tc.name, "storage full") {
				for i := range 3 {
					p, err := modemsim.EncodeDeliver(fmt.Sprintf("9555%d", i), "广告", time.Now(), byte(i))
					require.NoError(t, err)
					_, err = w.sim.Store(p...)
					require.NoError(t, err)
				}
			}
			a := start(t, w.args(tc.args...)...)
			a.waitOutput(a.stdout, "BIND "+tid)
			if tc.during != nil {
				tc.during(t, w, a)
			}
			if !strings.Contains(tc.name, "stops answering") && !strings.Contains(tc.name, "vanishes") {
				require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+tid))
			}
			require.Equal(t, exitBound, a.wait(), "the agent binds")
			assert.Empty(t, w.sim.Stored(), "nothing left in the modem")
			assert.Equal(t, true, statusJSON(t, w)["bound"])
		})
	}
}

// TestNoisyModemRandomised interleaves unsolicited lines and garbage into
// every exchange (seeded, reproducible with BINDPAY_NOISE_SEED), with
// foreign SMS and the confirmation stored before the agent starts and more
// arriving while it runs: the confirmation is always found, and no SMS is
// deleted before the agent handled it (each foreign SMS deleted has its
// entry in the inbox log, written before the deletion).
func TestNoisyModemRandomised(t *testing.T) {
	seed := time.Now().UnixNano()
	if s := os.Getenv("BINDPAY_NOISE_SEED"); s != "" {
		var err error
		seed, err = strconv.ParseInt(s, 10, 64)
		require.NoError(t, err)
	}
	runs := 4
	if s := os.Getenv("BINDPAY_NOISE_RUNS"); s != "" {
		var err error
		runs, err = strconv.Atoi(s)
		require.NoError(t, err)
	}
	t.Logf("seed %d (replay with BINDPAY_NOISE_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	profiles := modemsim.Profiles()
	for i := range runs {
		profile := profiles[rng.IntN(len(profiles))]
		noiseSeed := rng.Int64()
		rate := 0.2 + 0.6*rng.Float64()
		foreignBefore, foreignDuring := rng.IntN(4), rng.IntN(3)
		t.Run(fmt.Sprintf("%d-%s", i, profile), func(t *testing.T) {
			t.Logf("profile %s, noise seed %d rate %.2f, %d foreign SMS stored, %d arriving", profile, noiseSeed, rate, foreignBefore, foreignDuring)
			w := newWorldWith(t, modemsim.WithProfile(profile), modemsim.WithNoise(noiseSeed, rate))
			// The confirmation of an earlier activation request, stored
			// while the agent was down, among foreign SMS.
			require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+tid))
			w.waitStored(2)
			for j := range foreignBefore {
				p, err := modemsim.EncodeDeliver(fmt.Sprintf("1069%04d", j), fmt.Sprintf("广告 %d: 回复TD退订", j), time.Now(), byte(100+j))
				require.NoError(t, err)
				_, err = w.sim.Store(p...)
				require.NoError(t, err)
			}
			a := start(t, w.args()...)
			for j := range foreignDuring {
				p, err := modemsim.EncodeDeliver("+8613912345678", fmt.Sprintf("hello %d", j), time.Now(), byte(200+j))
				require.NoError(t, err)
				_, _ = w.sim.Deliver(p...) // may race the agent's exit: fine
			}
			require.Equal(t, exitBound, a.wait(), "the stored confirmation is always found")
			deletes := countPrefix(w.sim.Commands(), "AT+CMGD")
			var inbox []json.RawMessage
			if data, err := os.ReadFile(filepath.Join(w.stateDir, "inbox.json")); err == nil {
				require.NoError(t, json.Unmarshal(data, &inbox))
			}
			// Every deletion is of the confirmation's 2 parts or of a
			// foreign SMS recorded first (each foreign SMS is one part).
			assert.LessOrEqual(t, deletes, 2+len(inbox), "deleted %d slots, handled the confirmation (2) and %d rejected SMS; commands %q", deletes, len(inbox), w.sim.Commands())
			// The agent binds as soon as the confirmation is judged; foreign
			// SMS not judged by then stay, and only those.
			assert.Len(t, w.sim.Stored(), foreignBefore+foreignDuring-len(inbox),
				"the modem keeps exactly the foreign SMS not yet judged (%d stored, %d arriving, %d judged)", foreignBefore, foreignDuring, len(inbox))
		})
	}
}

// TestDoctorExplainsFaults: doctor names each fault in one line, and exits
// 1; on a healthy modem it exits 0.
func TestDoctorExplainsFaults(t *testing.T) {
	tests := []struct {
		name string
		opts []modemsim.Option
		args []string
		down bool
		want string // in the [FAIL] or [warn] line
		code int
	}{
		{name: "healthy", want: "everything binding needs works", code: 0},
		{name: "no SIM", opts: []modemsim.Option{modemsim.WithSIMState(modemsim.SIMNotInserted)}, want: "no SIM inserted", code: 1},
		{name: "PIN locked", opts: []modemsim.Option{modemsim.WithSIMState(modemsim.SIMPIN)}, want: "PIN", code: 1},
		{name: "not registered", opts: []modemsim.Option{modemsim.WithRegistration(0)}, want: "not registered on the network", code: 1},
		{name: "no +CMTI support", opts: []modemsim.Option{modemsim.WithCNMIModes("0,0")}, want: "cannot announce stored SMS", code: 1},
		{name: "modem absent", args: []string{"--modem", "/nonexistent/ttyUSB2"}, want: "no such device", code: 1},
		{name: "platform down", down: true, want: "service platform", code: 1},
		{name: "SIM busy", opts: []modemsim.Option{modemsim.WithSIMBusyFor(time.Hour)}, want: "SIM busy", code: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorldWith(t, tc.opts...)
			w.platformDown.Store(tc.down)
			a, code := runAgent(t, append(w.args(tc.args...), "doctor")...)
			out := a.stdout.String()
			assert.Equal(t, tc.code, code, "doctor exit; output:\n%s", out)
			line := doctorLine(t, out, tc.want)
			if tc.code != 0 {
				assert.True(t, strings.HasPrefix(line, "[FAIL]") || strings.HasPrefix(line, "[warn]"), "a fault line: %q", line)
			}
		})
	}
}

// doctorLine returns the last line of doctor's output that contains want,
// failing the test when there is none.
func doctorLine(t *testing.T, out, want string) string {
	t.Helper()
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, want) {
			line = l
		}
	}
	require.NotEmpty(t, line, "doctor output names %q in one line:\n%s", want, out)
	return line
}
