package display

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode"
)

// Console writes screens as plain text lines, for a text console
// (/dev/tty1) or standard output. Lines fit an 80-column terminal for
// ordinary terminal IDs and SMS texts; nothing is cleared or redrawn and no
// escape sequence is written, so the output also reads well in a log.
//
// The prompt carries the QR code of its SMSTO URI, drawn with Unicode half
// blocks (two module rows per line, so modules are square on a terminal
// whose cells are twice as high as wide) inside its quiet zone. A code that
// would not fit 80 columns (an SMS body of hundreds of characters) is left
// out with its hint: the text still says what to send where. The block
// characters are of East Asian "ambiguous" width: a terminal emulator set
// to draw those double width (an option in some CJK locales) stretches the
// code out of shape; the Linux VT and default emulator settings draw them
// single width.
type Console struct {
	mu    sync.Mutex // guards w, last, shown
	w     io.Writer
	lang  string
	msgs  map[msgID]string
	opts  consoleOptions
	last  Screen
	shown bool
}

// ConsoleOption changes how a Console draws.
type ConsoleOption func(*consoleOptions)

type consoleOptions struct {
	lightBackground bool
	noQR            bool
}

// LightBackground draws the QR code for a terminal with dark text on a
// light background. By default the code is drawn for light text on a dark
// background, as on the Linux VT (/dev/tty1): a scanner needs dark modules
// on light, so the ink must be the light modules there.
func LightBackground() ConsoleOption {
	return func(o *consoleOptions) { o.lightBackground = true }
}

// WithoutQR leaves the QR code (and its hint) out of the prompt, for a
// console that is only a log.
func WithoutQR() ConsoleOption {
	return func(o *consoleOptions) { o.noQR = true }
}

// consoleWidth is the width, in columns, that every line fits.
const consoleWidth = 80

// qrIndent is put before each line of the QR code.
const qrIndent = "  "

// NewConsole returns a console writing to w in lang: "en" or "zh-CN"
// ("zh" and other case or "_" spellings are accepted; "" means "en").
func NewConsole(w io.Writer, lang string, opts ...ConsoleOption) (*Console, error) {
	if w == nil {
		return nil, errors.New("display: console needs a writer")
	}
	key, err := Language(lang)
	if err != nil {
		return nil, fmt.Errorf("display: %w", err)
	}
	c := &Console{w: w, lang: key, msgs: catalogues[key]}
	for _, o := range opts {
		o(&c.opts)
	}
	return c, nil
}

// Language returns the catalogue the console uses, e.g. "zh-CN".
func (c *Console) Language() string { return c.lang }

// Show writes s. A Screen equal to the last one written is not written
// again, so retry loops do not flood the console or the journal; after a
// failed write the same Screen is tried again.
func (c *Console) Show(s Screen) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("display: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.shown && s == c.last {
		return nil
	}
	if _, err := io.WriteString(c.w, c.render(s)); err != nil {
		return fmt.Errorf("display: write console: %w", err)
	}
	c.last, c.shown = s, true
	return nil
}

// render returns the screen's text, one line per "\n", ending in "\n".
func (c *Console) render(s Screen) string {
	w := word(c.lang, c.msgs, s)
	var qr []string
	if w.QR != "" && !c.opts.noQR {
		// An encoding error can only come from a payload too long for any
		// QR code; like one too wide for the console, it is left out.
		if code, err := EncodeQR(w.QR); err == nil && len(qrIndent)+code.Size+2*QuietZone <= consoleWidth {
			qr = halfBlocks(code, qrIndent, !c.opts.lightBackground)
		}
	}
	var b strings.Builder
	for _, l := range w.Lines {
		switch l.Role {
		case RoleScanHint:
			if qr == nil {
				continue
			}
		case RoleQR:
			for _, q := range qr {
				b.WriteString(q)
				b.WriteByte('\n')
			}
			continue
		case RoleProblemDetail:
			b.WriteString("  ")
		}
		b.WriteString(l.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// clean replaces control characters, which could move the cursor, clear
// the screen or fake a line on a terminal, with U+FFFD. Everything else is
// kept verbatim.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return unicode.ReplacementChar
		}
		return r
	}, s)
}
