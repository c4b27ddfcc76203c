package display

import (
	"bytes"
	"image"
	"image/color"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEncodeQR(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		size    int // modules: 21 + 4 per version
	}{
		// 33 alphanumeric characters fit version 2 at level M (38).
		{"alphanumeric", "SMSTO:10658000:BIND STB0012345678", 25},
		// 33 bytes need version 3 at level M (42); alphanumeric would not
		// take lower case.
		{"byte", "SMSTO:10658000:bind stb0012345678", 29},
		// "开通" is 6 bytes of UTF-8: 37 bytes, version 3.
		{"chinese as UTF-8 bytes", "SMSTO:10658000:开通 STB00123456", 29},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := EncodeQR(tc.payload)
			require.NoError(t, err)
			assert.Equal(t, tc.size, q.Size, "modules of %q", tc.payload)
			assert.Equal(t, tc.payload, decodeImage(t, qrImage(q, 4)), "decoded %q", tc.payload)
			assert.False(t, q.Dark(-1, 0), "outside the symbol is light")
			assert.False(t, q.Dark(q.Size, q.Size-1), "outside the symbol is light")
			assert.True(t, q.Dark(0, 0), "finder pattern corner is dark")
		})
	}
	_, err := EncodeQR("")
	assert.Error(t, err, "empty payload")
	_, err = EncodeQR(strings.Repeat("x", 3000))
	assert.Error(t, err, "payload too long for any QR code")
}

// qrImage draws q with its quiet zone, scale pixels a module.
func qrImage(q *QR, scale int) image.Image {
	n := q.Size + 2*QuietZone
	img := image.NewGray(image.Rect(0, 0, n*scale, n*scale))
	for y := range n * scale {
		for x := range n * scale {
			c := color.Gray{0xFF}
			if q.Dark(x/scale-QuietZone, y/scale-QuietZone) {
				c = color.Gray{0}
			}
			img.SetGray(x, y, c)
		}
	}
	return img
}

// decodeImage reads the QR code in img with ZXing's decoder.
func decodeImage(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	require.NoError(t, err)
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	require.NoError(t, err, "no QR code found")
	return res.GetText()
}

// consoleQR takes the half-block lines out of a console render and draws
// them as a terminal would: each character a cell of 2 module rows, ink in
// the terminal's text colour.
func consoleQR(t *testing.T, out string, darkBackground bool) image.Image {
	t.Helper()
	var rows []string
	for _, l := range strings.Split(out, "\n") {
		if strings.ContainsAny(l, "█▀▄") {
			rows = append(rows, strings.TrimPrefix(l, qrIndent))
		}
	}
	require.NotEmpty(t, rows, "no QR code in the console output:\n%s", out)
	width := 0
	for _, r := range rows {
		width = max(width, len([]rune(r)))
	}
	const scale = 4
	ink, paper := color.Gray{0}, color.Gray{0xFF}
	if darkBackground {
		ink, paper = paper, ink
	}
	// A margin of terminal background around the code, as on a screen.
	const margin = 4
	img := image.NewGray(image.Rect(0, 0, (width+2*margin)*scale, (2*len(rows)+2*margin)*scale))
	for y := range img.Rect.Dy() {
		for x := range img.Rect.Dx() {
			img.SetGray(x, y, paper)
		}
	}
	set := func(mx, my int, on bool) {
		if !on {
			return
		}
		for y := range scale {
			for x := range scale {
				img.SetGray((mx+margin)*scale+x, (my+margin)*scale+y, ink)
			}
		}
	}
	for ry, row := range rows {
		for x, r := range []rune(row) {
			set(x, 2*ry, r == '█' || r == '▀')
			set(x, 2*ry+1, r == '█' || r == '▄')
		}
	}
	return img
}

// TestConsoleQRScans draws the console's QR code as a terminal shows it,
// in both polarities, and decodes it.
func TestConsoleQRScans(t *testing.T) {
	for _, lang := range Languages() {
		for _, dark := range []bool{true, false} {
			name := lang + "/dark background"
			var opts []ConsoleOption
			if !dark {
				name = lang + "/light background"
				opts = append(opts, LightBackground())
			}
			t.Run(name, func(t *testing.T) {
				for _, body := range []string{"BIND STB0012345678", "bind stb0012345678 q8x3k2", "开通 STB0012345678"} {
					var buf bytes.Buffer
					c, err := NewConsole(&buf, lang, opts...)
					require.NoError(t, err)
					require.NoError(t, c.Show(Screen{State: StatePrompt, TerminalID: tid, SMSTo: "10658000", SMSBody: body}))
					got := decodeImage(t, consoleQR(t, buf.String(), dark))
					assert.Equal(t, "SMSTO:10658000:"+body, got, "console QR code for body %q in %s", body, name)
				}
			})
		}
	}
}

func TestConsoleQROptions(t *testing.T) {
	s := Screen{State: StatePrompt, TerminalID: tid, SMSTo: "10658000", SMSBody: "BIND STB0012345678"}
	var buf bytes.Buffer
	c, err := NewConsole(&buf, "en", WithoutQR())
	require.NoError(t, err)
	require.NoError(t, c.Show(s))
	assert.NotContains(t, buf.String(), "█", "WithoutQR")
	assert.NotContains(t, buf.String(), "scan", "no hint without a code")
	assert.Contains(t, buf.String(), "text  BIND STB0012345678  to  10658000", "the text still says what to send")

	buf.Reset()
	c, err = NewConsole(&buf, "en", LightBackground())
	require.NoError(t, err)
	require.NoError(t, c.Show(s))
	for _, l := range strings.Split(buf.String(), "\n") {
		assert.Equal(t, strings.TrimRight(l, " "), l, "no trailing spaces")
	}
}

// TestConsoleQRTooWide: a body too long for a code within 80 columns
// leaves the code and its hint out; the text still says what to send.
func TestConsoleQRTooWide(t *testing.T) {
	body := "BIND " + strings.Repeat("x", 400)
	out := render(t, "en", Screen{State: StatePrompt, TerminalID: tid, SMSTo: "10658000", SMSBody: body})
	assert.NotContains(t, out, "█")
	assert.NotContains(t, out, "scan the QR code")
	assert.Contains(t, out, body)
}

// TestConsoleQRWidthLimit: the largest code drawn fits 80 columns.
func TestConsoleQRWidthLimit(t *testing.T) {
	for n := 100; n <= 400; n += 10 {
		body := strings.Repeat("b", n)
		out := render(t, "en", Screen{State: StatePrompt, TerminalID: tid, SMSTo: "10658000", SMSBody: body})
		for _, l := range strings.Split(out, "\n") {
			if strings.ContainsAny(l, "█▀▄") {
				require.LessOrEqual(t, columns(l), 80, "QR line for a %d-byte body is too wide: %q", n, l)
			}
		}
	}
}

func TestWord(t *testing.T) {
	s := Screen{State: StatePrompt, TerminalID: tid, SMSTo: "10658000", SMSBody: "BIND {to}\x1b[2J"}
	w, err := Word("zh_CN", s)
	require.NoError(t, err)
	assert.Equal(t, "zh-CN", w.Lang)
	assert.Equal(t, "SMSTO:10658000:BIND {to}\x1b[2J", w.QR, "the QR payload is verbatim")
	var roles []Role
	for _, l := range w.Lines {
		roles = append(roles, l.Role)
	}
	assert.Equal(t, []Role{RoleTitle, RoleHeadline, RoleTerminal, RoleInstruction, RoleScanHint, RoleQR, RoleStatus}, roles)
	instr := w.Lines[3]
	assert.Equal(t, []Span{
		{Text: "请用付费手机发送短信 "},
		{Text: "BIND {to}\uFFFD[2J", Value: true},
		{Text: " 到 "},
		{Text: "10658000", Value: true},
	}, instr.Spans, "values marked, cleaned, and not filled again")

	_, err = Word("fr", s)
	assert.ErrorIs(t, err, ErrUnsupportedLanguage)
	_, err = Word("en", Screen{State: StatePrompt})
	assert.ErrorIs(t, err, ErrInvalidScreen)

	assert.Empty(t, QRPayload(Screen{State: StateBound, SMSTo: "1", SMSBody: "B"}), "only the prompt has a QR code")
}

func TestLanguage(t *testing.T) {
	got, err := Language("ZH-hans")
	require.NoError(t, err)
	assert.Equal(t, "zh-CN", got)
	_, err = Language("de")
	assert.ErrorIs(t, err, ErrUnsupportedLanguage)
	assert.ErrorContains(t, err, "en, zh-CN")
}
