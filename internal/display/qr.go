package display

import (
	"errors"
	"fmt"
	"strings"

	"github.com/boombuler/barcode/qr"
)

// QuietZone is the light margin, in modules, that a QR code needs around it
// to be found by a scanner (ISO/IEC 18004 asks for 4).
const QuietZone = 4

// QR is an encoded QR code: a square of Size×Size modules, without the
// quiet zone, which the renderer adds.
type QR struct {
	Size int
	dark []bool // row-major
}

// Dark reports whether the module at column x, row y is dark. Outside the
// symbol (the quiet zone and beyond) every module is light.
func (q *QR) Dark(x, y int) bool {
	if x < 0 || y < 0 || x >= q.Size || y >= q.Size {
		return false
	}
	return q.dark[y*q.Size+x]
}

// EncodeQR encodes payload as a QR code with error correction level M
// (15% of the symbol may be lost: a reflection on a TV screen, a finger
// on a phone's lens), in the smallest version that holds it.
//
// Payloads made only of the QR alphanumeric set (digits, upper case, space
// and $%*+-./:), such as "SMSTO:10658000:BIND STB0012345678", use its
// denser mode; anything else is encoded as UTF-8 bytes, which is what
// phones read back for Chinese text.
func EncodeQR(payload string) (*QR, error) {
	if payload == "" {
		return nil, errors.New("qr: empty payload")
	}
	mode := qr.Unicode // byte mode, UTF-8
	if qrAlphanumeric(payload) {
		mode = qr.AlphaNumeric
	}
	c, err := qr.Encode(payload, qr.M, mode)
	if err != nil {
		return nil, fmt.Errorf("qr: encode %d bytes: %w", len(payload), err)
	}
	b := c.Bounds()
	n := b.Dx()
	if b.Dy() != n {
		return nil, fmt.Errorf("qr: symbol is not square (%d×%d)", n, b.Dy())
	}
	q := &QR{Size: n, dark: make([]bool, n*n)}
	for y := range n {
		for x := range n {
			r, _, _, _ := c.At(b.Min.X+x, b.Min.Y+y).RGBA()
			q.dark[y*n+x] = r < 0x8000
		}
	}
	return q, nil
}

// qrAlphanumeric reports whether s is made only of the 45 characters of the
// QR alphanumeric mode.
func qrAlphanumeric(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || strings.ContainsRune(" $%*+-./:", r)) {
			return false
		}
	}
	return true
}

// halfBlocks draws q with its quiet zone as text, two module rows per
// line: "▀" top, "▄" bottom, "█" both, " " neither, with ink for light
// modules when darkBackground (a light-on-dark console such as the Linux
// VT: the ink is the light colour) and for dark modules otherwise. Each
// line starts with indent and has no trailing spaces.
func halfBlocks(q *QR, indent string, darkBackground bool) []string {
	ink := func(x, y int) bool {
		inside := x >= -QuietZone && x < q.Size+QuietZone && y >= -QuietZone && y < q.Size+QuietZone
		if !inside {
			return false // below the last row when the height is odd
		}
		return q.Dark(x, y) != darkBackground
	}
	var lines []string
	for y := -QuietZone; y < q.Size+QuietZone; y += 2 {
		var b strings.Builder
		b.WriteString(indent)
		for x := -QuietZone; x < q.Size+QuietZone; x++ {
			top, bottom := ink(x, y), ink(x, y+1)
			switch {
			case top && bottom:
				b.WriteRune('█')
			case top:
				b.WriteRune('▀')
			case bottom:
				b.WriteRune('▄')
			default:
				b.WriteByte(' ')
			}
		}
		lines = append(lines, strings.TrimRight(b.String(), " "))
	}
	return lines
}
