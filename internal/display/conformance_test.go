package display_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/display"
	"bindpay/internal/display/fb"
)

// backend is one Display under test and a way to see what it has shown.
type backend struct {
	name     string
	d        display.Display
	snapshot func() string // what the user (or the UI app) sees now
}

func backends(t *testing.T, lang string) []backend {
	t.Helper()
	var out []backend

	var buf bytes.Buffer
	con, err := display.NewConsole(&buf, lang)
	require.NoError(t, err)
	out = append(out, backend{"console", con, func() string { return buf.String() }})

	mem := afero.NewMemMapFs()
	tick := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	st, err := display.NewStatusFile(mem, "/run/bindpay/status.json", lang, func() time.Time { tick = tick.Add(time.Second); return tick })
	require.NoError(t, err)
	out = append(out, backend{"status file", st, func() string {
		b, _ := afero.ReadFile(mem, "/run/bindpay/status.json")
		return string(b)
	}})

	fbfs := afero.NewMemMapFs()
	for name, v := range map[string]string{"virtual_size": "320,240\n", "bits_per_pixel": "16\n", "stride": "640\n"} {
		require.NoError(t, afero.WriteFile(fbfs, "/sys/class/graphics/fb0/"+name, []byte(v), 0o444))
	}
	require.NoError(t, afero.WriteFile(fbfs, "/dev/fb0", make([]byte, 640*240), 0o660))
	// English: the conformance of the drawing does not need a CJK font
	// (the fb package's own tests do).
	f, _, err := fb.New(fb.Config{Fs: fbfs, Lang: "en"})
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	out = append(out, backend{"framebuffer", f, func() string {
		b, _ := afero.ReadFile(fbfs, "/dev/fb0")
		sum := sha256.Sum256(b)
		return hex.EncodeToString(sum[:])
	}})

	out = append(out, backend{"multi", display.Multi{con, st}, func() string {
		return fmt.Sprint(buf.Len()) + "|" + func() string { b, _ := afero.ReadFile(mem, "/run/bindpay/status.json"); return string(b) }()
	}})
	return out
}

// TestConformance holds every Display to the same contract: each state
// shows; a repeated Screen changes nothing; an invalid one fails with
// ErrInvalidScreen and changes nothing.
func TestConformance(t *testing.T) {
	screens := []display.Screen{
		{State: display.StateChecking, TerminalID: "STB0012345678"},
		{State: display.StatePrompt, TerminalID: "STB0012345678", SMSTo: "10658000", SMSBody: "BIND STB0012345678"},
		{State: display.StatePrompt, TerminalID: "STB0012345678", SMSTo: "10658000", SMSBody: "BIND STB0012345678", Offline: true},
		{State: display.StateUnknown, TerminalID: "STB0012345678"},
		{State: display.StateError, TerminalID: "STB0012345678", Error: "modem: busy"},
		{State: display.StateBound, TerminalID: "STB0012345678", MSISDN: "138****8000"},
	}
	for _, lang := range display.Languages() {
		for _, b := range backends(t, lang) {
			t.Run(b.name+"/"+lang, func(t *testing.T) {
				for _, s := range screens {
					before := b.snapshot()
					require.NoError(t, b.d.Show(s), "Show(%+v)", s)
					shown := b.snapshot()
					assert.NotEqual(t, before, shown, "Show(%+v) changed nothing", s)
					require.NoError(t, b.d.Show(s), "Show(%+v) again", s)
					assert.Equal(t, shown, b.snapshot(), "Show(%+v) again must change nothing", s)
					err := b.d.Show(display.Screen{State: display.StatePrompt, TerminalID: "STB0012345678"})
					assert.ErrorIs(t, err, display.ErrInvalidScreen)
					assert.Equal(t, shown, b.snapshot(), "an invalid screen must change nothing")
				}
			})
		}
	}
}
