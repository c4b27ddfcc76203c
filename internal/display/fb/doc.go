// Package fb shows the activation screen on a Linux framebuffer
// (/dev/fbN): the TV of a set-top box, or the panel of a terminal, with no
// X server or compositor. It draws the title, the state, the terminal ID,
// what to text where and, for the prompt, a QR code large enough to scan
// from across a room: its module size follows the screen's height.
//
// The screen's geometry and pixel format are read from sysfs
// (/sys/class/graphics/fbN: virtual_size, bits_per_pixel, stride, and mode
// and pan where the driver has them) and the pixels are written to the
// device file, both through an afero.Fs, so that tests run on memory files.
// RGB565 (16 bpp) and XRGB8888 (32 bpp) are written, little-endian, the
// layouts of nearly every framebuffer driver.
//
// A screen is first laid out (a scene: rectangles and lines of text at
// their places), then drawn into an *image.Paletted whose palette holds a
// few colour ramps, one per text colour, so that anti-aliased text is one
// byte per pixel. Show draws and writes a band of rows at a time (128 kB of
// pixels, written in pieces of 64 kB through a 256-entry lookup table), so
// that a 1920×1080 screen never sits whole in the agent's few megabytes;
// Render draws a whole image, for tests and previews. Both draw the same
// pixels.
//
// Chinese needs a CJK font (TTF, OTF or TTC), configured by path; it is
// opened at the first Show, read through io.ReaderAt (a 5–20 MB file is
// never loaded whole) and kept open until Close. Latin text, and English
// always, is drawn with Go Regular, built into the binary (130 kB); bold is
// drawn by emboldening, so no second font is carried. A zh-CN Framebuffer
// without a font, or whose font cannot be read or has no Chinese glyphs,
// shows English and says so in a value the caller logs: the package never
// logs. Fonts are parsed by golang.org/x/image/font/sfnt, which rejects
// files whose tables are not 4-byte aligned (WenQuanYi Micro Hei is one);
// Droid Sans Fallback (Debian's fonts-droid-fallback) is the one tested.
//
// Nothing is read or opened before the first Show, so that the agent's bound
// fast path, which shows nothing, pays nothing for this package; its
// package-level state is constants and static data only. A Framebuffer is
// safe for concurrent use: one mutex guards the rendering state and the
// device.
package fb
