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
// ordinary terminal IDs and SMS texts; nothing is cleared or redrawn, so the
// output also reads well in a log.
type Console struct {
	mu    sync.Mutex // guards w, last, shown
	w     io.Writer
	lang  string
	msgs  map[msgID]string
	last  Screen
	shown bool
}

// NewConsole returns a console writing to w in lang: "en" or "zh-CN"
// ("zh" and other case or "_" spellings are accepted; "" means "en").
func NewConsole(w io.Writer, lang string) (*Console, error) {
	if w == nil {
		return nil, errors.New("display: console needs a writer")
	}
	key, ok := lookupLanguage(lang)
	if !ok {
		return nil, fmt.Errorf("display: %w %q (supported: %s)", ErrUnsupportedLanguage, lang, strings.Join(Languages(), ", "))
	}
	return &Console{w: w, lang: key, msgs: catalogues[key]}, nil
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
	var b strings.Builder
	line := func(id msgID) {
		b.WriteString(c.fill(c.msgs[id], s))
		b.WriteByte('\n')
	}
	problem := func() {
		if s.Error == "" {
			return
		}
		// Error text may be several lines (errors.Join): keep them, indented
		// under the first.
		lines := strings.Split(strings.TrimRight(s.Error, "\n"), "\n")
		b.WriteString(strings.ReplaceAll(c.msgs[msgProblem], "{error}", clean(lines[0])))
		b.WriteByte('\n')
		for _, l := range lines[1:] {
			b.WriteString("  " + clean(l) + "\n")
		}
	}
	terminal := func() {
		if s.TerminalID != "" {
			line(msgTerminalID)
		}
	}

	line(msgTitle)
	switch s.State {
	case StateChecking:
		terminal()
		line(msgChecking)
		problem()
	case StatePrompt:
		line(msgNotActivated)
		terminal()
		line(msgTextToActivate)
		if s.Offline {
			line(msgOffline)
		}
		problem()
		line(msgWaiting)
	case StateUnknown:
		line(msgUnknown)
		terminal()
		line(msgContactSupport)
		problem()
	case StateBound:
		if s.MSISDN != "" {
			line(msgBound)
		} else {
			line(msgBoundNoNumber)
		}
		terminal()
	case StateError:
		line(msgAttention)
		terminal()
		if s.Error != "" {
			problem()
		} else {
			line(msgSeeLog)
		}
	}
	return b.String()
}

// fill replaces the placeholders of msg in one pass, so that a value that
// happens to contain "{to}" is shown as is.
func (c *Console) fill(msg string, s Screen) string {
	return strings.NewReplacer(
		"{tid}", clean(s.TerminalID),
		"{to}", clean(s.SMSTo),
		"{body}", clean(s.SMSBody),
		"{msisdn}", clean(s.MSISDN),
	).Replace(msg)
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
