package fb

import (
	"encoding/binary"
	"image"
	"image/color"
)

// Format is a framebuffer's pixel format.
type Format int

// The pixel formats written, little-endian as on ARM, MIPS (el) and x86
// boards.
const (
	// RGB565: 16 bits, red in the top 5, green in the middle 6, blue in the
	// low 5.
	RGB565 Format = iota + 1
	// XRGB8888: 32 bits, bytes B, G, R, X in memory; X is written 0xFF for
	// drivers that read it as alpha.
	XRGB8888
)

// String names f.
func (f Format) String() string {
	switch f {
	case RGB565:
		return "RGB565"
	case XRGB8888:
		return "XRGB8888"
	}
	return "unknown"
}

// BytesPerPixel returns the size of one pixel of f.
func (f Format) BytesPerPixel() int {
	if f == RGB565 {
		return 2
	}
	return 4
}

// Pixel returns c packed in f, in the low bits.
func (f Format) Pixel(c color.Color) uint32 {
	r, g, b, _ := c.RGBA()
	if f == RGB565 {
		return (r>>11)<<11 | (g>>10)<<5 | b>>11
	}
	return 0xFF<<24 | (r>>8)<<16 | (g>>8)<<8 | b>>8
}

// packTable returns the packed pixel of each palette entry, as the bytes
// written to the device.
func packTable(p color.Palette, f Format) [][4]byte {
	lut := make([][4]byte, 256)
	for i, c := range p {
		binary.LittleEndian.PutUint32(lut[i][:], f.Pixel(c))
	}
	return lut
}

// packRow packs row y of img into dst, len(dst) = width × bpp.
func packRow(dst []byte, img *image.Paletted, y int, lut [][4]byte, bpp int) {
	off := img.PixOffset(img.Rect.Min.X, img.Rect.Min.Y+y)
	pix := img.Pix[off : off+img.Rect.Dx()]
	if bpp == 2 {
		for x, i := range pix {
			dst[2*x], dst[2*x+1] = lut[i][0], lut[i][1]
		}
		return
	}
	for x, i := range pix {
		copy(dst[4*x:4*x+4], lut[i][:])
	}
}
