package fb

import (
	"errors"
	"fmt"
	"image"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/spf13/afero"

	"bindpay/internal/display"
)

// Errors reported by this package; test with errors.Is.
var (
	// ErrNoCJKFont: the language asked for needs a CJK font and none is
	// usable (none configured, unreadable, or without Chinese glyphs); the
	// screen is shown in English. A warning, not a failure.
	ErrNoCJKFont = errors.New("no CJK font")
	// ErrFormat: the framebuffer's pixel format is not one this package
	// writes.
	ErrFormat = errors.New("unsupported framebuffer format")
)

// DefaultDevice is the framebuffer written when Config.Device is empty.
const DefaultDevice = "/dev/fb0"

// Config says which framebuffer to draw on, in which language, with which
// font.
type Config struct {
	// Fs holds the device, sysfs and the font; nil means the OS's.
	Fs afero.Fs
	// Device is the framebuffer's device file, /dev/fbN; "" means
	// DefaultDevice.
	Device string
	// SysDir is its sysfs directory; "" means /sys/class/graphics/fbN
	// after Device's name.
	SysDir string
	// Lang is the language of the screen: "en" or "zh-CN" (or an accepted
	// spelling, see display.NewConsole).
	Lang string
	// Font is the path of a TTF, OTF or TTC font with Chinese glyphs, used
	// for zh-CN; what it lacks (Latin, in a CJK-only font) and English are
	// drawn with the built-in Go Regular.
	Font string
	// FontIndex selects the font in a collection (.ttc); 0 is the first.
	FontIndex int
}

// Framebuffer is a display.Display on a Linux framebuffer.
type Framebuffer struct {
	fsys      afero.Fs
	device    string
	sysDir    string
	lang      string // asked for, as a catalogue key
	fontPath  string
	fontIndex int

	bandBytes, writeBytes int // memory for write; tests make them small

	mu    sync.Mutex // guards everything below, and the device
	fonts *fontSet   // loaded at the first render
	last  display.Screen
	shown bool
}

var _ display.Display = (*Framebuffer)(nil)

// New returns a Framebuffer for cfg. It reads and opens nothing: the
// device, sysfs and the font are used from the first Show on.
//
// err is a configuration error (an unknown language, a device that is not
// /dev/fbN without a SysDir). warning, when not nil, is for the caller to
// log: the language asked for cannot be shown as configured and English is
// shown instead (errors.Is(warning, ErrNoCJKFont)).
func New(cfg Config) (f *Framebuffer, warning, err error) {
	fsys := cfg.Fs
	if fsys == nil {
		fsys = afero.NewOsFs()
	}
	dev := cfg.Device
	if dev == "" {
		dev = DefaultDevice
	}
	sys := cfg.SysDir
	if sys == "" {
		name := filepath.Base(dev)
		if !isFBName(name) {
			return nil, nil, fmt.Errorf("framebuffer %s: want a device named fbN, such as /dev/fb0 (or give its sysfs directory)", dev)
		}
		sys = "/sys/class/graphics/" + name
	}
	lang, err := display.Language(cfg.Lang)
	if err != nil {
		return nil, nil, fmt.Errorf("framebuffer: %w", err)
	}
	if cfg.FontIndex < 0 {
		return nil, nil, fmt.Errorf("framebuffer: font index %d: want 0 or more", cfg.FontIndex)
	}
	f = &Framebuffer{fsys: fsys, device: dev, sysDir: sys, lang: lang, fontPath: cfg.Font, fontIndex: cfg.FontIndex,
		bandBytes: bandBytes, writeBytes: writeBytes}
	if needsCJK(lang) && cfg.Font == "" {
		warning = fmt.Errorf("framebuffer: %w configured for %s (set a TTF/OTF/TTC font with Chinese glyphs, such as /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf from Debian's fonts-droid-fallback): showing English", ErrNoCJKFont, lang)
	}
	return f, warning, nil
}

// isFBName reports whether name is "fb" and a number, as the kernel names
// framebuffers.
func isFBName(name string) bool {
	n, ok := strings.CutPrefix(name, "fb")
	return ok && n != "" && strings.Trim(n, "0123456789") == ""
}

// needsCJK reports whether the catalogue of lang needs a CJK font.
func needsCJK(lang string) bool { return strings.HasPrefix(lang, "zh") }

// Close closes the font file, if one was opened. The Framebuffer can still
// be used: the font is opened again when needed.
func (f *Framebuffer) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fonts == nil {
		return nil
	}
	err := f.fonts.close()
	f.fonts = nil
	return err
}

// Show draws s on the framebuffer, unless it equals the last Screen drawn.
// Geometry is read from sysfs at each drawing, so a mode change (another
// TV on HDMI) is followed. When the screen is drawn in English for want of
// a usable CJK font, Show draws it and returns an error wrapping
// ErrNoCJKFont that says why.
func (f *Framebuffer) Show(s display.Screen) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("framebuffer: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.shown && s == f.last {
		return nil
	}
	g, err := ReadGeometry(f.fsys, f.sysDir)
	if err != nil {
		return fmt.Errorf("framebuffer %s: %w", f.device, err)
	}
	format, err := g.Format()
	if err != nil {
		return fmt.Errorf("framebuffer %s: %w", f.device, err)
	}
	if err := checkSize(g.Width, g.Height); err != nil {
		return fmt.Errorf("framebuffer %s: %w", f.device, err)
	}
	sc, fontErr := f.layout(s, g.Width, g.Height)
	if sc == nil {
		return fmt.Errorf("framebuffer %s: %w", f.device, fontErr)
	}
	if err := f.write(sc, g, format); err != nil {
		return fmt.Errorf("framebuffer %s: %w", f.device, err)
	}
	f.last, f.shown = s, true
	if fontErr != nil {
		return fmt.Errorf("framebuffer: %w", fontErr)
	}
	return nil
}

// Render draws s as the framebuffer would show it on a width×height screen,
// for previews and tests. Its error, like Show's, may be ErrNoCJKFont with
// an image in English.
func (f *Framebuffer) Render(s display.Screen, width, height int) (*image.Paletted, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("framebuffer: %w", err)
	}
	if err := checkSize(width, height); err != nil {
		return nil, fmt.Errorf("framebuffer: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.render(s, width, height)
}

// checkSize refuses screens too small to hold the prompt, and sizes no
// framebuffer has (a garbled sysfs file), which would make huge glyphs.
func checkSize(width, height int) error {
	if width < 64 || height < 48 || width > 8192 || height > 8192 {
		return fmt.Errorf("screen %d×%d: want 64×48 to 8192×8192", width, height)
	}
	return nil
}

// write draws sc a band of rows at a time, packs each band into the
// device's pixel format and writes it at the panned origin. A whole
// 1920×1080 screen is never in memory: a band is bandBytes of palette
// indexes, packed in writes of about writeBytes.
func (f *Framebuffer) write(sc *scene, g Geometry, format Format) (err error) {
	dev, err := f.fsys.OpenFile(f.device, os.O_WRONLY, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("open: %w (is the framebuffer driver loaded? check display.framebuffer)", err)
		}
		if errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("open: %w (is the agent's user in group video?)", err)
		}
		return fmt.Errorf("open: %w", err)
	}
	defer func() {
		if cerr := dev.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close: %w", cerr)
		}
	}()
	lut := packTable(sc.palette, format)
	bpp := format.BytesPerPixel()
	origin := int64(g.PanY)*int64(g.Stride) + int64(g.PanX*bpp)
	rowBytes := g.Width * bpp
	chunk := max(1, f.writeBytes/g.Stride) // rows per write
	band := max(chunk, f.bandBytes/g.Width/chunk*chunk)
	pix := make([]uint8, g.Width*band)
	out := make([]byte, chunk*g.Stride)
	for y0 := 0; y0 < g.Height; y0 += band {
		y1 := min(y0+band, g.Height)
		img := &image.Paletted{Pix: pix[:g.Width*(y1-y0)], Stride: g.Width, Rect: image.Rect(0, y0, g.Width, y1), Palette: sc.palette}
		clear(img.Pix)
		if err := sc.draw(img); err != nil {
			return err
		}
		for y := y0; y < y1; y += chunk {
			n := min(chunk, y1-y)
			for i := range n {
				packRow(out[i*g.Stride:i*g.Stride+rowBytes], img, y+i-y0, lut, bpp)
			}
			// Rows are written whole but for the last one's padding, which
			// may lie past the end of the device's memory.
			end := (n-1)*g.Stride + rowBytes
			if _, err := dev.WriteAt(out[:end], origin+int64(y)*int64(g.Stride)); err != nil {
				return fmt.Errorf("write rows %d–%d: %w", y, y+n-1, err)
			}
		}
	}
	return nil
}

// Memory used by write: the band being drawn and the rows being written.
const (
	bandBytes  = 128 << 10
	writeBytes = 64 << 10
)

// Geometry is what sysfs says about a framebuffer.
type Geometry struct {
	Width, Height int // visible pixels, drawn from the panned origin
	BitsPerPixel  int
	Stride        int // bytes from one line to the next
	PanX, PanY    int // the visible area's origin in the virtual screen
}

// ReadGeometry reads a framebuffer's geometry from its sysfs directory:
// virtual_size, bits_per_pixel and stride, which every driver has, and mode
// (the visible resolution, where smaller than the virtual one) and pan,
// which some have.
func ReadGeometry(fsys afero.Fs, sysDir string) (Geometry, error) {
	var g Geometry
	read := func(name string) (string, error) {
		b, err := afero.ReadFile(fsys, filepath.Join(sysDir, name))
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	}
	pair := func(name string) (int, int, error) {
		s, err := read(name)
		if err != nil {
			return 0, 0, err
		}
		a, b, ok := strings.Cut(s, ",")
		x, err1 := strconv.Atoi(a)
		y, err2 := strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil || x < 0 || y < 0 {
			return 0, 0, fmt.Errorf("%s: %q is not \"x,y\"", filepath.Join(sysDir, name), s)
		}
		return x, y, nil
	}
	one := func(name string) (int, error) {
		s, err := read(name)
		if err != nil {
			return 0, err
		}
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("%s: %q is not a positive number", filepath.Join(sysDir, name), s)
		}
		return n, nil
	}
	var err error
	if g.Width, g.Height, err = pair("virtual_size"); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return g, fmt.Errorf("read geometry: %w (no such framebuffer in sysfs? check display.framebuffer)", err)
		}
		return g, fmt.Errorf("read geometry: %w", err)
	}
	if g.BitsPerPixel, err = one("bits_per_pixel"); err != nil {
		return g, fmt.Errorf("read geometry: %w", err)
	}
	if g.Stride, err = one("stride"); err != nil {
		return g, fmt.Errorf("read geometry: %w", err)
	}
	// Optional: absent or empty on many drivers.
	if s, err := read("mode"); err == nil {
		if w, h, ok := parseMode(s); ok && w <= g.Width && h <= g.Height {
			g.Width, g.Height = w, h
		}
	}
	if x, y, err := pair("pan"); err == nil {
		g.PanX, g.PanY = x, y
	}
	if g.Width == 0 || g.Height == 0 {
		return g, fmt.Errorf("read geometry: %s: screen is %d×%d", sysDir, g.Width, g.Height)
	}
	if g.BitsPerPixel%8 == 0 && g.Stride < g.Width*g.BitsPerPixel/8 {
		return g, fmt.Errorf("read geometry: %s: stride %d is less than %d pixels of %d bits", sysDir, g.Stride, g.Width, g.BitsPerPixel)
	}
	return g, nil
}

// parseMode reads the resolution of the current mode, written by the
// kernel as "U:1920x1080p-60".
func parseMode(s string) (w, h int, ok bool) {
	first, _, _ := strings.Cut(s, "\n")
	if len(first) < 2 || first[1] != ':' {
		return 0, 0, false
	}
	ws, rest, ok := strings.Cut(first[2:], "x")
	if !ok {
		return 0, 0, false
	}
	end := len(rest) - len(strings.TrimLeft(rest, "0123456789"))
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(rest[:end])
	return w, h, err1 == nil && err2 == nil && w > 0 && h > 0
}

// Format returns the pixel format of g.
func (g Geometry) Format() (Format, error) {
	switch g.BitsPerPixel {
	case 16:
		return RGB565, nil
	case 32:
		return XRGB8888, nil
	}
	return 0, fmt.Errorf("%w: %d bits per pixel (supported: 16 as RGB565, 32 as XRGB8888; set the mode with fbset -depth 32)", ErrFormat, g.BitsPerPixel)
}
