package display

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.txt from the current renderer")

const tid = "STB0012345678"

// goldenScreens are the screens rendered to testdata/golden, one per state
// plus the prompt's variants.
var goldenScreens = []struct {
	name   string
	screen Screen
}{
	{"checking", Screen{State: StateChecking, TerminalID: tid}},
	{"prompt", Screen{State: StatePrompt, TerminalID: tid, SMSTo: "10658000", SMSBody: "BIND STB0012345678"}},
	{"prompt-offline", Screen{State: StatePrompt, TerminalID: tid, SMSTo: "10658000", SMSBody: "BIND STB0012345678", Offline: true}},
	{"prompt-error", Screen{State: StatePrompt, TerminalID: tid, SMSTo: "10658000", SMSBody: "BIND STB0012345678", Error: "modem not found on /dev/ttyUSB2"}},
	{"unknown", Screen{State: StateUnknown, TerminalID: tid}},
	{"bound", Screen{State: StateBound, TerminalID: tid, MSISDN: "138****8000"}},
	{"error", Screen{State: StateError, TerminalID: tid, Error: "modem not found on /dev/ttyUSB2"}},
}

func render(t *testing.T, lang string, s Screen) string {
	t.Helper()
	var buf bytes.Buffer
	c, err := NewConsole(&buf, lang)
	require.NoError(t, err)
	require.NoError(t, c.Show(s), "Show(%+v)", s)
	return buf.String()
}

func TestGolden(t *testing.T) {
	// Every state has a golden file.
	var covered []State
	for _, g := range goldenScreens {
		covered = append(covered, g.screen.State)
	}
	for _, st := range States() {
		assert.Contains(t, covered, st, "state %q has no golden screen", st)
	}

	for _, lang := range Languages() {
		for _, g := range goldenScreens {
			name := g.name + "_" + lang
			t.Run(name, func(t *testing.T) {
				got := render(t, lang, g.screen)
				path := filepath.Join("testdata", "golden", name+".txt")
				if *update {
					require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
					require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
				}
				want, err := os.ReadFile(path)
				require.NoError(t, err, "golden file missing: run go test ./internal/display -update")
				assert.Equal(t, string(want), got, "render of %+v in %s differs from %s (run with -update if the change is intended)", g.screen, lang, path)
			})
		}
	}
}

// TestGoldenDirHasNoStrays keeps testdata/golden in step with goldenScreens.
func TestGoldenDirHasNoStrays(t *testing.T) {
	var want []string
	for _, lang := range Languages() {
		for _, g := range goldenScreens {
			want = append(want, g.name+"_"+lang+".txt")
		}
	}
	entries, err := os.ReadDir(filepath.Join("testdata", "golden"))
	require.NoError(t, err)
	for _, e := range entries {
		assert.Contains(t, want, e.Name(), "stray golden file")
	}
}

func TestPromptWording(t *testing.T) {
	tests := []struct {
		lang string
		want []string
	}{
		{"en", []string{"Not activated.", "Terminal ID: STB0012345678", "text  BIND STB0012345678  to  10658000", "from the phone that will pay", "Waiting for confirmation…"}},
		{"zh-CN", []string{"号码绑定支付", "未开通", "终端编号：STB0012345678", "请用付费手机发送短信 BIND STB0012345678 到 10658000", "正在等待开通确认…"}},
	}
	s := Screen{State: StatePrompt, TerminalID: tid, SMSTo: "10658000", SMSBody: "BIND STB0012345678"}
	for _, tc := range tests {
		t.Run(tc.lang, func(t *testing.T) {
			got := render(t, tc.lang, s)
			for _, w := range tc.want {
				assert.Contains(t, got, w, "prompt in %s", tc.lang)
			}
		})
	}
}

func TestStateWording(t *testing.T) {
	tests := []struct {
		name   string
		lang   string
		screen Screen
		want   []string
		not    []string
	}{
		{"bound en", "en", Screen{State: StateBound, MSISDN: "138****8000"}, []string{"Activated. Bound to 138****8000."}, nil},
		{"bound zh", "zh-CN", Screen{State: StateBound, MSISDN: "138****8000"}, []string{"已开通，绑定号码 138****8000"}, nil},
		{"bound without number", "en", Screen{State: StateBound}, []string{"Activated.\n"}, []string{"Bound to"}},
		{"checking", "en", Screen{State: StateChecking}, []string{"Checking activation status…"}, []string{"Terminal ID"}},
		{"unknown quotes terminal", "en", Screen{State: StateUnknown, TerminalID: tid}, []string{"not registered with the operator", "support", "quote terminal ID STB0012345678"}, nil},
		{"error shows the line", "en", Screen{State: StateError, Error: "modem not found on /dev/ttyUSB2"}, []string{"Problem: modem not found on /dev/ttyUSB2"}, []string{"log"}},
		{"error without text points to the log", "en", Screen{State: StateError}, []string{"agent's log"}, []string{"Problem:"}},
		{"multi-line error", "en", Screen{State: StateError, Error: "platform: timeout\nmodem: busy\n"}, []string{"Problem: platform: timeout\n  modem: busy\n"}, nil},
		{"offline note", "en", Screen{State: StatePrompt, TerminalID: tid, SMSTo: "1", SMSBody: "B", Offline: true}, []string{"cannot be reached", "SMS still works"}, nil},
		{"online has no offline note", "en", Screen{State: StatePrompt, TerminalID: tid, SMSTo: "1", SMSBody: "B"}, nil, []string{"cannot be reached"}},
		{"offline note zh", "zh-CN", Screen{State: StatePrompt, TerminalID: tid, SMSTo: "1", SMSBody: "B", Offline: true}, []string{"无法连接业务平台"}, nil},
		{"error under checking", "zh-CN", Screen{State: StateChecking, Error: "无信号"}, []string{"问题：无信号"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := render(t, tc.lang, tc.screen)
			for _, w := range tc.want {
				assert.Contains(t, got, w, "render of %+v", tc.screen)
			}
			for _, n := range tc.not {
				assert.NotContains(t, got, n, "render of %+v", tc.screen)
			}
		})
	}
}

func TestVerbatimAndControlCharacters(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"platform grammar kept", "KT#1 {to} 100% <b>", "KT#1 {to} 100% <b>"},
		{"unicode kept", "开通 STB0012345678", "开通 STB0012345678"},
		{"escape sequence neutralised", "BIND \x1b[2J x", "BIND \uFFFD[2J x"},
		{"newline cannot fake a line", "BIND x\nActivated.", "BIND x\uFFFDActivated."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := render(t, "en", Screen{State: StatePrompt, TerminalID: tid, SMSTo: "10658000", SMSBody: tc.body})
			assert.Contains(t, got, "text  "+tc.want+"  to  10658000", "body %q", tc.body)
			assert.NotContains(t, got, "\x1b")
		})
	}
}

func TestLinesFitEightyColumns(t *testing.T) {
	for _, lang := range Languages() {
		for _, g := range goldenScreens {
			t.Run(g.name+"_"+lang, func(t *testing.T) {
				for _, l := range strings.Split(render(t, lang, g.screen), "\n") {
					assert.LessOrEqual(t, columns(l), 80, "line %q is too wide", l)
				}
			})
		}
	}
}

// columns approximates the width of s on a terminal: East Asian wide
// characters take two columns.
func columns(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case r >= 0x1100 && r <= 0x115F, r >= 0x2E80 && r <= 0xA4CF, r >= 0xAC00 && r <= 0xD7A3,
			r >= 0xF900 && r <= 0xFAFF, r >= 0xFE30 && r <= 0xFE4F, r >= 0xFF00 && r <= 0xFF60, r >= 0xFFE0 && r <= 0xFFE6:
			n += 2
		default:
			n++
		}
	}
	return n
}

var placeholder = regexp.MustCompile(`\{[a-z]+\}`)

func TestCataloguesMatch(t *testing.T) {
	ref := catalogues["en"]
	require.NotEmpty(t, ref)
	for lang, cat := range catalogues {
		t.Run(lang, func(t *testing.T) {
			var keys, refKeys []string
			for k := range cat {
				keys = append(keys, string(k))
			}
			for k := range ref {
				refKeys = append(refKeys, string(k))
			}
			slices.Sort(keys)
			slices.Sort(refKeys)
			assert.Equal(t, refKeys, keys, "message IDs of %s vs en", lang)
			for id, msg := range cat {
				assert.NotEmpty(t, strings.TrimSpace(msg), "%s message %q is empty", lang, id)
				assert.True(t, utf8.ValidString(msg), "%s message %q is not UTF-8", lang, id)
				got := placeholder.FindAllString(msg, -1)
				want := placeholder.FindAllString(ref[id], -1)
				slices.Sort(got)
				slices.Sort(want)
				assert.Equal(t, want, got, "placeholders of %s message %q (%q) vs en (%q)", lang, id, msg, ref[id])
			}
		})
	}
}

// TestEveryMessageIsUsed catches catalogue entries no backend shows any
// more, by looking for each message constant in words.go, where every
// backend gets its wording.
func TestEveryMessageIsUsed(t *testing.T) {
	consts := regexp.MustCompile(`(?m)^\s*(msg[A-Za-z]+)\s+msgID = "`).FindAllStringSubmatch(mustRead(t, "messages.go"), -1)
	require.Len(t, consts, len(catalogues["en"]), "one msgID constant per message")
	wording := mustRead(t, "words.go")
	for _, m := range consts {
		assert.Contains(t, wording, m[1], "message %s is never worded", m[1])
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func TestNewConsoleLanguages(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"en", "en"},
		{"", "en"},
		{"EN", "en"},
		{"zh-CN", "zh-CN"},
		{"zh", "zh-CN"},
		{"zh_CN", "zh-CN"},
		{"zh-cn", "zh-CN"},
	}
	for _, tc := range tests {
		t.Run("ok "+tc.in, func(t *testing.T) {
			c, err := NewConsole(&bytes.Buffer{}, tc.in)
			require.NoError(t, err, "NewConsole(%q)", tc.in)
			assert.Equal(t, tc.want, c.Language(), "language for %q", tc.in)
		})
	}
	for _, in := range []string{"fr", "zh-TW", "english"} {
		t.Run("unsupported "+in, func(t *testing.T) {
			_, err := NewConsole(&bytes.Buffer{}, in)
			require.ErrorIs(t, err, ErrUnsupportedLanguage, "NewConsole(%q)", in)
			assert.Contains(t, err.Error(), `"`+in+`"`)
			assert.Contains(t, err.Error(), "en, zh-CN", "error should list the supported languages")
		})
	}
	_, err := NewConsole(nil, "en")
	assert.Error(t, err, "NewConsole with a nil writer")
}

func TestLanguages(t *testing.T) {
	assert.Equal(t, []string{"en", "zh-CN"}, Languages())
}

func TestShowSkipsRepeatedScreen(t *testing.T) {
	var buf bytes.Buffer
	c, err := NewConsole(&buf, "en")
	require.NoError(t, err)
	a := Screen{State: StateChecking, TerminalID: tid}
	b := Screen{State: StateChecking, TerminalID: tid, Error: "platform timeout"}

	steps := []struct {
		screen Screen
		writes bool
	}{
		{a, true}, {a, false}, {a, false}, {b, true}, {b, false}, {a, true},
	}
	for i, st := range steps {
		before := buf.Len()
		require.NoError(t, c.Show(st.screen))
		assert.Equal(t, st.writes, buf.Len() > before, "step %d: Show(%+v) wrote=%v, want %v", i, st.screen, buf.Len() > before, st.writes)
	}
}

// failingWriter fails its first n writes.
type failingWriter struct {
	n   int
	buf bytes.Buffer
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n > 0 {
		w.n--
		return 0, errors.New("tty gone")
	}
	return w.buf.Write(p)
}

func TestShowRetriesAfterWriteError(t *testing.T) {
	w := &failingWriter{n: 1}
	c, err := NewConsole(w, "en")
	require.NoError(t, err)
	s := Screen{State: StateBound, MSISDN: "138****8000"}
	err = c.Show(s)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "write console: tty gone")
	require.NoError(t, c.Show(s), "second Show of the same screen")
	assert.Contains(t, w.buf.String(), "Bound to 138****8000", "the screen must be written once the writer works")
}

func TestShowInvalidScreen(t *testing.T) {
	tests := []struct {
		name   string
		screen Screen
		want   string
	}{
		{"empty state", Screen{}, `unknown state ""`},
		{"unknown state", Screen{State: "sleeping"}, `unknown state "sleeping"`},
		{"prompt without body", Screen{State: StatePrompt, TerminalID: tid, SMSTo: "10658000"}, "prompt needs"},
		{"prompt without number", Screen{State: StatePrompt, TerminalID: tid, SMSBody: "BIND x"}, "prompt needs"},
		{"prompt without terminal", Screen{State: StatePrompt, SMSTo: "1", SMSBody: "B"}, "prompt needs"},
		{"unknown without terminal", Screen{State: StateUnknown}, "without a terminal ID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			c, err := NewConsole(&buf, "en")
			require.NoError(t, err)
			err = c.Show(tc.screen)
			require.ErrorIs(t, err, ErrInvalidScreen, "Show(%+v)", tc.screen)
			assert.Contains(t, err.Error(), tc.want)
			assert.Zero(t, buf.Len(), "nothing may be written for an invalid screen")
		})
	}
}

// recorder is a Display that remembers what it was shown and may fail.
type recorder struct {
	shown []Screen
	err   error
}

func (r *recorder) Show(s Screen) error {
	r.shown = append(r.shown, s)
	return r.err
}

func TestMulti(t *testing.T) {
	ok1, ok2 := &recorder{}, &recorder{}
	bad1 := &recorder{err: errors.New("framebuffer: no /dev/fb0")}
	bad2 := &recorder{err: errors.New("status file: read-only")}
	s := Screen{State: StateChecking}

	require.NoError(t, Multi{ok1, nil, ok2}.Show(s))
	assert.Equal(t, []Screen{s}, ok1.shown)
	assert.Equal(t, []Screen{s}, ok2.shown)

	err := Multi{bad1, ok1, bad2}.Show(s)
	require.Error(t, err)
	assert.ErrorIs(t, err, bad1.err)
	assert.ErrorIs(t, err, bad2.err)
	assert.Len(t, ok1.shown, 2, "a failing display must not stop the others")

	assert.NoError(t, Multi(nil).Show(s), "empty Multi")
}
