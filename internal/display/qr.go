package display

import (
	"errors"
	"fmt"
	"strings"

	qrcode "github.com/yeqown/go-qrcode/v2"
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
// denser mode; anything else is encoded as UTF-8 bytes. Byte mode is forced
// there because the library's automatic choice would encode Chinese text
// in Kanji mode (Shift JIS), which phones do not read back as the
// characters the platform asked for.
func EncodeQR(payload string) (*QR, error) {
	if payload == "" {
		return nil, errors.New("qr: empty payload")
	}
	opts := []qrcode.EncodeOption{qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium)}
	if !qrAlphanumeric(payload) {
		opts = append(opts, qrcode.WithEncodingMode(qrcode.EncModeByte))
	}
	c, err := qrcode.NewWith(payload, opts...)
	if err != nil {
		return nil, fmt.Errorf("qr: encode %d bytes: %w", len(payload), err)
	}
	var m matrixWriter
	if err := c.Save(&m); err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	bits := m.bitmap
	n := len(bits)
	q := &QR{Size: n, dark: make([]bool, n*n)}
	for y, row := range bits {
		if len(row) != n {
			return nil, fmt.Errorf("qr: matrix is not square (%d×%d)", len(row), n)
		}
		copy(q.dark[y*n:], row)
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

// matrixWriter is a qrcode.Writer that keeps the code's modules.
type matrixWriter struct {
	bitmap [][]bool
}

func (m *matrixWriter) Write(mat qrcode.Matrix) error {
	m.bitmap = mat.Bitmap()
	return nil
}

func (m *matrixWriter) Close() error { return nil }

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
