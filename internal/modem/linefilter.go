package modem

import (
	"io"
	"strings"
	"sync"
	"time"
)

// lineFilter sits between the port and package at. Real modems end lines
// with "\r\n", "\r\r\n" or a bare "\n", put stray bytes on the line after a
// reset or a hiccup on the USB link, and some end a command with a final
// result that package at does not know ("COMMAND NOT SUPPORT"), which would
// leave the command waiting for its timeout. The filter hands package at
// clean "\n"-terminated ASCII lines, with such finals rewritten to ERROR, and
// remembers when the modem last sent anything so that a resynchronisation
// can wait for the line to go quiet.
//
// Read is called by package at's reader goroutine only; lastRx is shared.
type lineFilter struct {
	r    io.Reader
	buf  []byte // raw bytes read and not yet filtered
	line []byte // the current, unfinished line
	out  []byte // filtered bytes ready for the caller

	mu     sync.Mutex
	lastRx time.Time
	now    func() time.Time
}

func newLineFilter(r io.Reader, now func() time.Time) *lineFilter {
	return &lineFilter{r: r, buf: make([]byte, 512), now: now}
}

// nonStandardFinal maps final results of some modem families to the one
// package at understands.
var nonStandardFinal = map[string]string{
	"COMMAND NOT SUPPORT":   "ERROR",
	"COMMAND NOT SUPPORTED": "ERROR",
	"NOT SUPPORT":           "ERROR",
	"TOO MANY PARAMETERS":   "ERROR",
	"INVALID COMMAND":       "ERROR",
}

// Read returns filtered bytes, blocking until at least one is ready.
func (f *lineFilter) Read(p []byte) (int, error) {
	for len(f.out) == 0 {
		n, err := f.r.Read(f.buf)
		if n > 0 {
			f.mu.Lock()
			f.lastRx = f.now()
			f.mu.Unlock()
			f.filter(f.buf[:n])
		}
		if err != nil {
			if len(f.out) > 0 {
				break
			}
			return 0, err
		}
		if n == 0 && len(f.out) == 0 {
			// A reader that returns (0, nil) would spin package at's
			// scanner; the serial port only does so with a read timeout,
			// which the agent never sets (MODEM-NOTES pitfall 10).
			continue
		}
	}
	n := copy(p, f.out)
	f.out = f.out[n:]
	return n, nil
}

func (f *lineFilter) filter(b []byte) {
	for _, c := range b {
		switch {
		case c == '\r' || c == '\n':
			f.endLine()
		case c >= 0x20 && c < 0x7f:
			f.line = append(f.line, c)
		case c == 0x1a || c == 0x1b:
			// Ctrl-Z and ESC are ours, echoed back: drop.
		default:
			// Garbage (NUL, bytes of a garbled baud rate, UTF-8 in text
			// mode we never enable): drop.
		}
	}
	// The SMS prompt "> " has no line ending: pass it on at once.
	if len(f.line) > 0 && f.line[0] == '>' {
		f.out = append(f.out, f.line...)
		f.line = f.line[:0]
	}
}

func (f *lineFilter) endLine() {
	if len(f.line) == 0 {
		return // blank lines (and the second half of "\r\n") carry nothing
	}
	s := strings.TrimSpace(string(f.line))
	if r, ok := nonStandardFinal[s]; ok {
		s = r
	}
	f.out = append(f.out, s...)
	f.out = append(f.out, '\n')
	f.line = f.line[:0]
}

// quietFor reports how long the modem has sent nothing.
func (f *lineFilter) quietFor() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lastRx.IsZero() {
		return time.Duration(1<<62 - 1)
	}
	return f.now().Sub(f.lastRx)
}
