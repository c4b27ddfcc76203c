package fb

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/math/fixed"

	"bindpay/internal/display"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.png from the current renderer")

// The CJK font the zh-CN goldens are drawn with, from Debian's
// fonts-droid-fallback (1:6.0.1r16-1.1 in Debian 12; CI installs it). Its
// SHA-256 is in testdata/golden/cjk-font.sha256, written with the goldens:
// another build of the font draws other pixels.
const (
	cjkFont        = "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"
	cjkFontPackage = "fonts-droid-fallback"
	cjkFontSum     = "testdata/golden/cjk-font.sha256"
)

const (
	tid      = "STB0012345678"
	smsTo    = "10658000"
	smsBody  = "BIND STB0012345678"
	goldenW  = 640
	goldenH  = 360
	wantSMTO = "SMSTO:10658000:BIND STB0012345678"
)

var goldenScreens = []struct {
	name   string
	screen display.Screen
}{
	{"prompt", display.Screen{State: display.StatePrompt, TerminalID: tid, SMSTo: smsTo, SMSBody: smsBody}},
	{"prompt-offline-error", display.Screen{State: display.StatePrompt, TerminalID: tid, SMSTo: smsTo, SMSBody: smsBody, Offline: true,
		Error: "modem not found on /dev/ttyUSB2\nplatform: timeout"}},
	{"checking", display.Screen{State: display.StateChecking, TerminalID: tid}},
	{"unknown", display.Screen{State: display.StateUnknown, TerminalID: tid}},
	{"bound", display.Screen{State: display.StateBound, TerminalID: tid, MSISDN: "138****8000"}},
	{"error", display.Screen{State: display.StateError, TerminalID: tid, Error: "modem not found on /dev/ttyUSB2"}},
}

// extraGoldens are other screen sizes: a small LCD panel and a portrait
// one.
var extraGoldens = []struct {
	name          string
	lang          string
	width, height int
	screen        display.Screen
}{
	{"prompt-320x240", "en", 320, 240, goldenScreens[0].screen},
	{"prompt-480x800", "zh-CN", 480, 800, goldenScreens[0].screen},
}

// requireCJKFont returns the path of the CJK font, failing the test with
// what to install when it is missing.
func requireCJKFont(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(cjkFont); err != nil {
		t.Fatalf("the zh-CN framebuffer tests need the CJK font %s: %v (install it: apt-get install %s)", cjkFont, err, cjkFontPackage)
	}
	return cjkFont
}

// requireGoldenFont checks that the CJK font is the one the goldens were
// drawn with (and records it with -update).
func requireGoldenFont(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile(requireCJKFont(t))
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	got := hex.EncodeToString(sum[:]) + "  " + filepath.Base(cjkFont) + "\n"
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(cjkFontSum), 0o755))
		require.NoError(t, os.WriteFile(cjkFontSum, []byte(got), 0o644))
	}
	want, err := os.ReadFile(cjkFontSum)
	require.NoError(t, err, "missing %s: run go test ./internal/display/fb -update", cjkFontSum)
	require.Equal(t, string(want), got, "%s is not the build of %s the zh-CN goldens were drawn with: check the new renders by eye and run with -update", cjkFont, cjkFontPackage)
}

// newFB returns a Framebuffer on the OS file system (for the font) in lang.
func newFB(t *testing.T, lang string) *Framebuffer {
	t.Helper()
	cfg := Config{Lang: lang}
	if lang == "zh-CN" {
		cfg.Font = requireCJKFont(t)
	}
	f, warn, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, warn)
	t.Cleanup(func() { assert.NoError(t, f.Close()) })
	return f
}

func render(t *testing.T, f *Framebuffer, s display.Screen, w, h int) *image.Paletted {
	t.Helper()
	img, err := f.Render(s, w, h)
	require.NoError(t, err, "Render(%+v, %d, %d)", s, w, h)
	return img
}

func TestGoldenPNG(t *testing.T) {
	type golden struct {
		name, lang    string
		width, height int
		screen        display.Screen
	}
	var all []golden
	for _, lang := range display.Languages() {
		for _, g := range goldenScreens {
			all = append(all, golden{g.name + "_" + lang, lang, goldenW, goldenH, g.screen})
		}
	}
	for _, g := range extraGoldens {
		all = append(all, golden{g.name + "_" + g.lang, g.lang, g.width, g.height, g.screen})
	}
	requireGoldenFont(t)
	fbs := map[string]*Framebuffer{}
	for _, lang := range display.Languages() {
		fbs[lang] = newFB(t, lang)
	}
	for _, g := range all {
		t.Run(g.name, func(t *testing.T) {
			got := render(t, fbs[g.lang], g.screen, g.width, g.height)
			path := filepath.Join("testdata", "golden", g.name+".png")
			if *update {
				var buf bytes.Buffer
				require.NoError(t, (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, got))
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
			}
			want := readPNG(t, path)
			assertSameImage(t, want, got, "render of %+v in %s at %d×%d vs %s (run with -update if the change is intended, and look at it)", g.screen, g.lang, g.width, g.height, path)
		})
	}
}

// TestGoldenDirHasNoStrays keeps testdata/golden in step with the tables.
func TestGoldenDirHasNoStrays(t *testing.T) {
	want := []string{filepath.Base(cjkFontSum)}
	for _, lang := range display.Languages() {
		for _, g := range goldenScreens {
			want = append(want, g.name+"_"+lang+".png")
		}
	}
	for _, g := range extraGoldens {
		want = append(want, g.name+"_"+g.lang+".png")
	}
	entries, err := os.ReadDir(filepath.Join("testdata", "golden"))
	require.NoError(t, err)
	for _, e := range entries {
		assert.Contains(t, want, e.Name(), "stray golden file")
	}
}

func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err, "golden file missing: run go test ./internal/display/fb -update")
	img, err := png.Decode(bytes.NewReader(data))
	require.NoError(t, err, "decode %s", path)
	return img
}

// assertSameImage compares two images pixel for pixel, by colour.
func assertSameImage(t *testing.T, want, got image.Image, msg string, args ...any) {
	t.Helper()
	if !assert.Equal(t, want.Bounds(), got.Bounds(), fmt.Sprintf(msg, args...)) {
		return
	}
	diff, first := 0, image.Point{-1, -1}
	b := want.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r1, g1, b1, a1 := want.At(x, y).RGBA()
			r2, g2, b2, a2 := got.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				if diff == 0 {
					first = image.Pt(x, y)
				}
				diff++
			}
		}
	}
	assert.Zero(t, diff, "%s: %d pixels differ, the first at %v", fmt.Sprintf(msg, args...), diff, first)
}

// decodeQR reads the QR code in img with ZXing's decoder.
func decodeQR(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	require.NoError(t, err)
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	require.NoError(t, err, "no QR code found in the %v render", img.Bounds().Size())
	return res.GetText()
}

func TestQRRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		sizes []image.Point
	}{
		{"platform body", smsBody, []image.Point{{goldenW, goldenH}, {1280, 720}, {1920, 1080}, {320, 240}, {480, 800}}},
		{"lower case body", "bind stb0012345678 q8x3k2", []image.Point{{goldenW, goldenH}}},
		{"chinese body", "开通 STB0012345678", []image.Point{{goldenW, goldenH}}},
	}
	for _, lang := range display.Languages() {
		f := newFB(t, lang)
		for _, tc := range tests {
			for _, sz := range tc.sizes {
				t.Run(fmt.Sprintf("%s/%s/%dx%d", lang, tc.name, sz.X, sz.Y), func(t *testing.T) {
					s := display.Screen{State: display.StatePrompt, TerminalID: tid, SMSTo: smsTo, SMSBody: tc.body}
					got := decodeQR(t, render(t, f, s, sz.X, sz.Y))
					assert.Equal(t, "SMSTO:"+smsTo+":"+tc.body, got, "QR code of the %s prompt for body %q at %v", lang, tc.body, sz)
				})
			}
		}
	}
	t.Run("golden", func(t *testing.T) {
		// The goldens themselves scan.
		for _, lang := range display.Languages() {
			img := readPNG(t, filepath.Join("testdata", "golden", "prompt_"+lang+".png"))
			assert.Equal(t, wantSMTO, decodeQR(t, img), "golden prompt in %s", lang)
		}
	})
}

// TestQRSizeFollowsHeight: on a TV the code takes most of the screen's
// height, so that it scans from across the room: on a 55" 16:9 TV (68 cm
// tall) 70% of the height make a code of about 48 cm with its
// quiet zone.
func TestQRSizeFollowsHeight(t *testing.T) {
	f := newFB(t, "en")
	s := goldenScreens[0].screen
	code, err := display.EncodeQR(display.QRPayload(s))
	require.NoError(t, err)
	for _, tc := range []struct {
		size     image.Point
		minShare float64 // of the height, for the code with its quiet zone
	}{
		{image.Pt(1920, 1080), 0.7},
		{image.Pt(1280, 720), 0.7},
		{image.Pt(3840, 2160), 0.7},
		{image.Pt(720, 576), 0.5}, // 4:3: the width limits it
	} {
		img := render(t, f, s, tc.size.X, tc.size.Y)
		top, bottom := -1, -1
		black := uint8(int(rampQR)*levels + levels - 1)
		for y := 0; y < tc.size.Y; y++ {
			for x := 0; x < tc.size.X; x++ {
				if img.ColorIndexAt(x, y) == black {
					if top < 0 {
						top = y
					}
					bottom = y
				}
			}
		}
		// The first and last rows of a QR code hold finder patterns.
		m := (bottom - top + 1) / code.Size
		assert.Equal(t, bottom-top+1, m*code.Size, "QR rows span a whole number of modules")
		total := m * (code.Size + 2*display.QuietZone)
		assert.GreaterOrEqual(t, float64(total), tc.minShare*float64(tc.size.Y),
			"QR code with its quiet zone is %d px tall (%d px modules) on a %v screen", total, m, tc.size)
	}
}

// memFB makes a framebuffer in memory: sysfs files and a device file of
// the right size, filled with 0xAA so that unwritten bytes show.
func memFB(t *testing.T, files map[string]string, devSize int) afero.Fs {
	t.Helper()
	mfs := afero.NewMemMapFs()
	for name, content := range files {
		require.NoError(t, afero.WriteFile(mfs, filepath.Join("/sys/class/graphics/fb0", name), []byte(content), 0o444))
	}
	if devSize >= 0 {
		require.NoError(t, afero.WriteFile(mfs, "/dev/fb0", bytes.Repeat([]byte{0xAA}, devSize), 0o660))
	}
	return mfs
}

func TestShowPacksPixels(t *testing.T) {
	const w, h = 160, 120
	tests := []struct {
		name       string
		bpp        int
		stride     int
		virtualH   int
		mode, pan  string
		panY       int
		wantFormat Format
	}{
		{"RGB565", 16, w * 2, h, "", "", 0, RGB565},
		{"XRGB8888", 32, w * 4, h, "", "", 0, XRGB8888},
		{"RGB565 padded stride", 16, w*2 + 64, h, "", "", 0, RGB565},
		{"XRGB8888 padded stride", 32, w*4 + 32, h, "", "", 0, XRGB8888},
		{"XRGB8888 double buffer panned", 32, w * 4, 2 * h, fmt.Sprintf("U:%dx%dp-60\n", w, h), "0,120\n", h, XRGB8888},
	}
	bands := []struct {
		name                  string
		bandBytes, writeBytes int
	}{
		{"one band", bandBytes, writeBytes},
		// Bands of about 14 rows written 1 to 3 rows at a time: text
		// and QR modules cross band and write boundaries.
		{"small bands", w * 14, w * 2 * 3},
	}
	for _, tc := range tests {
		for _, bd := range bands {
			t.Run(tc.name+"/"+bd.name, func(t *testing.T) {
				files := map[string]string{
					"virtual_size":   fmt.Sprintf("%d,%d\n", w, tc.virtualH),
					"bits_per_pixel": fmt.Sprintf("%d\n", tc.bpp),
					"stride":         fmt.Sprintf("%d\n", tc.stride),
				}
				if tc.mode != "" {
					files["mode"] = tc.mode
				}
				if tc.pan != "" {
					files["pan"] = tc.pan
				}
				devSize := tc.stride * tc.virtualH
				mfs := memFB(t, files, devSize)
				f, warn, err := New(Config{Fs: mfs, Lang: "en"})
				require.NoError(t, err)
				require.NoError(t, warn)
				f.bandBytes, f.writeBytes = bd.bandBytes, bd.writeBytes
				s := goldenScreens[0].screen
				require.NoError(t, f.Show(s))
				want := render(t, f, s, w, h)

				dev, err := afero.ReadFile(mfs, "/dev/fb0")
				require.NoError(t, err)
				require.Len(t, dev, devSize, "the device file must not grow")
				bpp := tc.bpp / 8
				for y := 0; y < tc.virtualH; y++ {
					for off := 0; off < tc.stride; off += bpp {
						x := off / bpp
						got := dev[y*tc.stride+off : y*tc.stride+off+bpp]
						inside := y >= tc.panY && y < tc.panY+h && off+bpp <= w*bpp
						if !inside {
							if y < tc.panY || y >= tc.panY+h {
								require.Equal(t, bytes.Repeat([]byte{0xAA}, bpp), got, "byte %d of line %d is outside the visible screen and must be left alone", off, y)
							}
							continue
						}
						r, g, b, _ := want.At(x, y-tc.panY).RGBA()
						var exp []byte
						if tc.wantFormat == RGB565 {
							exp = binary.LittleEndian.AppendUint16(nil, uint16(r>>11)<<11|uint16(g>>10)<<5|uint16(b>>11))
						} else {
							exp = []byte{byte(b >> 8), byte(g >> 8), byte(r >> 8), 0xFF}
						}
						if !bytes.Equal(exp, got) {
							t.Fatalf("pixel (%d,%d): got bytes % x, want % x (colour %v of the render)", x, y-tc.panY, got, exp, want.At(x, y-tc.panY))
						}
					}
				}
			})
		}
	}
}

func TestShowErrors(t *testing.T) {
	good := map[string]string{"virtual_size": "160,120\n", "bits_per_pixel": "32\n", "stride": "640\n"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range good {
			m[a] = b
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name    string
		files   map[string]string
		devSize int
		want    []string
		is      error
	}{
		{"no framebuffer", map[string]string{}, -1, []string{"/sys/class/graphics/fb0/virtual_size", "check display.framebuffer"}, fs.ErrNotExist},
		{"24 bpp", with("bits_per_pixel", "24\n"), 160 * 120 * 3, []string{"24 bits per pixel", "RGB565", "XRGB8888"}, ErrFormat},
		{"garbled size", with("virtual_size", "160x120\n"), 0, []string{`"160x120" is not "x,y"`}, nil},
		{"stride too small", with("stride", "320\n"), 0, []string{"stride 320 is less than 160 pixels of 32 bits"}, nil},
		{"absurd size", map[string]string{"virtual_size": "65535,10\n", "bits_per_pixel": "16\n", "stride": "131070\n"}, 0, []string{"screen 65535×10"}, nil},
		{"no device", good, -1, []string{"/dev/fb0", "framebuffer driver loaded"}, fs.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, _, err := New(Config{Fs: memFB(t, tc.files, tc.devSize), Lang: "en"})
			require.NoError(t, err)
			err = f.Show(goldenScreens[0].screen)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Contains(t, err.Error(), "framebuffer /dev/fb0")
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
		})
	}
	t.Run("invalid screen", func(t *testing.T) {
		f, _, err := New(Config{Fs: memFB(t, good, 160*120*4), Lang: "en"})
		require.NoError(t, err)
		assert.ErrorIs(t, f.Show(display.Screen{State: display.StatePrompt}), display.ErrInvalidScreen)
	})
}

func TestNewConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"device not fbN", Config{Device: "/dev/tty1"}, "want a device named fbN"},
		{"language", Config{Lang: "fr"}, `unsupported language "fr"`},
		{"font index", Config{FontIndex: -1}, "font index -1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := New(tc.cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	f, warn, err := New(Config{Device: "/dev/graphics/panel", SysDir: "/sys/class/graphics/fb1"})
	require.NoError(t, err, "a SysDir makes any device name usable")
	assert.NoError(t, warn)
	assert.Equal(t, "/sys/class/graphics/fb1", f.sysDir)
}

// countingFs fails the test at any use: New and the bound fast path must
// not touch the file system.
type countingFs struct {
	afero.Fs
	t *testing.T
}

func (c countingFs) Open(name string) (afero.File, error) {
	c.t.Errorf("file system used before Show: Open(%q)", name)
	return c.Fs.Open(name)
}

func (c countingFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	c.t.Errorf("file system used before Show: OpenFile(%q)", name)
	return c.Fs.OpenFile(name, flag, perm)
}

func (c countingFs) Stat(name string) (os.FileInfo, error) {
	c.t.Errorf("file system used before Show: Stat(%q)", name)
	return c.Fs.Stat(name)
}

func TestNewTouchesNothing(t *testing.T) {
	_, _, err := New(Config{Fs: countingFs{afero.NewMemMapFs(), t}, Lang: "zh-CN", Font: "/usr/share/fonts/x.ttc"})
	require.NoError(t, err)
}

// TestChineseFallsBackToEnglish: without a usable CJK font, zh-CN shows
// the English screen, and says so.
func TestChineseFallsBackToEnglish(t *testing.T) {
	s := goldenScreens[0].screen
	english := render(t, newFB(t, "en"), s, goldenW, goldenH)

	mfs := afero.NewMemMapFs()
	require.NoError(t, afero.WriteFile(mfs, "/fonts/go.ttf", goregular.TTF, 0o644))
	require.NoError(t, afero.WriteFile(mfs, "/fonts/garbage.ttf", []byte("not a font"), 0o644))
	tests := []struct {
		name     string
		font     string
		newWarns bool
		want     string
	}{
		{"no font configured", "", true, "no CJK font configured for zh-CN"},
		{"font missing", "/fonts/none.ttc", false, "font /fonts/none.ttc: open /fonts/none.ttc: file does not exist"},
		{"not a font", "/fonts/garbage.ttf", false, "not a TTF, OTF or TTC font"},
		{"font without Chinese", "/fonts/go.ttf", false, "no glyph for"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, warn, err := New(Config{Fs: mfs, Lang: "zh-CN", Font: tc.font})
			require.NoError(t, err)
			if tc.newWarns {
				require.ErrorIs(t, warn, ErrNoCJKFont)
				assert.Contains(t, warn.Error(), tc.want)
				assert.Contains(t, warn.Error(), "showing English")
				assert.Contains(t, warn.Error(), cjkFontPackage, "the warning says what to install")
			} else {
				assert.NoError(t, warn)
			}
			img, err := f.Render(s, goldenW, goldenH)
			require.ErrorIs(t, err, ErrNoCJKFont)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "showing English")
			require.NotNil(t, img)
			assertSameImage(t, english, img, "zh-CN without a usable font (%s) must look like en", tc.name)
		})
	}
}

func TestShowDrawsOnlyChanges(t *testing.T) {
	files := map[string]string{"virtual_size": "160,120\n", "bits_per_pixel": "16\n", "stride": "320\n"}
	mfs := memFB(t, files, 320*120)
	f, _, err := New(Config{Fs: mfs, Lang: "en"})
	require.NoError(t, err)
	a := goldenScreens[0].screen
	b := goldenScreens[4].screen
	require.NoError(t, f.Show(a))
	// With the device gone, only a screen that is drawn can fail.
	require.NoError(t, mfs.Remove("/dev/fb0"))
	assert.NoError(t, f.Show(a), "the same screen again is not drawn")
	assert.Error(t, f.Show(b), "a new screen is drawn")
	require.NoError(t, afero.WriteFile(mfs, "/dev/fb0", make([]byte, 320*120), 0o660))
	assert.NoError(t, f.Show(b), "after a failure the same screen is drawn again")
	dev, err := afero.ReadFile(mfs, "/dev/fb0")
	require.NoError(t, err)
	assert.NotEqual(t, make([]byte, 320*120), dev, "the screen was drawn")
}

func TestShowWithFontOnMemFs(t *testing.T) {
	// The font is read through the Framebuffer's file system, like the
	// device.
	font, err := os.ReadFile(requireCJKFont(t))
	require.NoError(t, err)
	files := map[string]string{"virtual_size": "640,360\n", "bits_per_pixel": "32\n", "stride": "2560\n"}
	mfs := memFB(t, files, 2560*360)
	require.NoError(t, afero.WriteFile(mfs, "/fonts/cjk.ttc", font, 0o644))
	f, warn, err := New(Config{Fs: mfs, Lang: "zh", Font: "/fonts/cjk.ttc"})
	require.NoError(t, err)
	require.NoError(t, warn)
	require.NoError(t, f.Show(goldenScreens[0].screen))
	require.NoError(t, f.Close())
	require.NoError(t, f.Show(goldenScreens[4].screen), "the font is opened again after Close")
	require.NoError(t, f.Close())
}

func TestFontIndexOutOfRange(t *testing.T) {
	f, _, err := New(Config{Lang: "zh-CN", Font: requireCJKFont(t), FontIndex: 9})
	require.NoError(t, err)
	_, err = f.Render(goldenScreens[0].screen, goldenW, goldenH)
	require.ErrorIs(t, err, ErrNoCJKFont)
	assert.Contains(t, err.Error(), "font index 9: the file has")
}

func TestRenderSizeLimits(t *testing.T) {
	f := newFB(t, "en")
	for _, sz := range []image.Point{{0, 0}, {63, 480}, {640, 47}, {9000, 480}} {
		_, err := f.Render(goldenScreens[0].screen, sz.X, sz.Y)
		assert.Error(t, err, "Render at %v", sz)
	}
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		in   string
		w, h int
		ok   bool
	}{
		{"U:1920x1080p-60\n", 1920, 1080, true},
		{"S:1280x720p-0\nU:640x480p-60\n", 1280, 720, true},
		{"V:720x576i-50", 720, 576, true},
		{"", 0, 0, false},
		{"1920x1080", 0, 0, false},
		{"U:x1080p-60", 0, 0, false},
		{"U:1920x", 0, 0, false},
	}
	for _, tc := range tests {
		w, h, ok := parseMode(tc.in)
		assert.Equal(t, tc.ok, ok, "parseMode(%q)", tc.in)
		if tc.ok {
			assert.Equal(t, [2]int{tc.w, tc.h}, [2]int{w, h}, "parseMode(%q)", tc.in)
		}
	}
}

func TestFBName(t *testing.T) {
	for name, want := range map[string]bool{"fb0": true, "fb12": true, "fb": false, "fbx": false, "tty1": false, "fb0a": false} {
		assert.Equal(t, want, isFBName(name), "isFBName(%q)", name)
	}
}

// TestWrap lays out with every character one unit wide.
func TestWrap(t *testing.T) {
	measure := func(a []atom) fixed.Int26_6 { return fixed.I(len(a)) }
	atoms := func(s string) []atom {
		var out []atom
		for _, r := range s {
			out = append(out, atom{r: r})
		}
		return out
	}
	text := func(lines [][]atom) []string {
		var out []string
		for _, l := range lines {
			var b strings.Builder
			for _, a := range l {
				b.WriteRune(a.r)
			}
			out = append(out, b.String())
		}
		return out
	}
	tests := []struct {
		name  string
		in    string
		width int
		want  []string
	}{
		{"fits", "Not activated.", 20, []string{"Not activated."}},
		{"at spaces", "To activate, text BIND STB0012345678 to 10658000", 20, []string{"To activate, text", "BIND STB0012345678", "to 10658000"}},
		{"double spaces dropped at breaks", "text  BIND  to", 6, []string{"text", "BIND", "to"}},
		{"newline", "one\ntwo", 20, []string{"one", "two"}},
		{"long word broken", "/dev/ttyUSB2/very/long", 8, []string{"/dev/tty", "USB2/ver", "y/long"}},
		{"CJK anywhere", "请用付费手机发送短信", 4, []string{"请用付费", "手机发送", "短信"}},
		{"no line starts with closing punctuation", "已开通，绑定号码", 3, []string{"已开", "通，绑", "定号码"}},
		{"CJK then Latin", "终端编号：STB0012345678", 8, []string{"终端编号：", "STB00123", "45678"}},
		{"empty", "", 10, []string{""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lines, _ := wrap(atoms(tc.in), fixed.I(tc.width), measure)
			got := text(lines)
			assert.Equal(t, tc.want, got, "wrap(%q, %d)", tc.in, tc.width)
			for _, l := range got {
				assert.LessOrEqual(t, len([]rune(l)), tc.width, "line %q", l)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		bpp  int
		want Format
		err  error
	}{{16, RGB565, nil}, {32, XRGB8888, nil}, {24, 0, ErrFormat}, {8, 0, ErrFormat}} {
		got, err := Geometry{BitsPerPixel: tc.bpp}.Format()
		assert.Equal(t, tc.want, got, "%d bpp", tc.bpp)
		if tc.err != nil {
			assert.True(t, errors.Is(err, tc.err), "%d bpp: %v", tc.bpp, err)
		}
	}
	assert.Equal(t, "RGB565", RGB565.String())
	assert.Equal(t, "XRGB8888", XRGB8888.String())
}
