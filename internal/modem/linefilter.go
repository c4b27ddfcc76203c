package modem

import (
	"bytes"
	"io"
	"sync"
	"time"
)

// Bounds of what the line filter hands on. A modem (or the wrong port) can
// write a line without an end or a reply that never ends; neither may grow
// the agent's memory.
const (
	// maxLine is the longest line passed on: the longest PDU line a modem
	// lists (an SMSC address of 12 octets and an SMS-DELIVER TPDU of 164,
	// as hex: 352 characters) with room for the longest header or
	// information line the agent reads. The rest of a longer line is dropped
	// up to its end.
	maxLine = 512
	// maxReplyLines and maxReplyBytes bound the lines passed on between two
	// commands: a listing of 2,000 slots fits. Beyond them, lines other than
	// final results are dropped and the command's reply is marked truncated.
	maxReplyLines = 4096
	maxReplyBytes = 1 << 20
)

// filterStats counts what the filter dropped, for the log.
type filterStats struct {
	LongLines   int   // lines longer than maxLine, cut
	LongBytes   int64 // bytes dropped from them
	CutReplies  int   // replies cut at maxReplyLines/maxReplyBytes
	CutLines    int   // lines dropped from them
	Indications int   // +CMTI lines seen
}

// lineFilter sits between the port and package at. Real modems end lines
// with "\r\n", "\r\r\n" or a bare "\n", put stray bytes on the line after a
// reset or a hiccup on the USB link, and some end a command with a final
// result that package at does not know ("COMMAND NOT SUPPORT"), which would
// leave the command waiting for its timeout. The filter hands package at
// clean "\n"-terminated ASCII lines, with such finals rewritten to ERROR, and
// remembers when the modem last sent anything so that a resynchronisation
// can wait for the line to go quiet.
//
// It also bounds everything (maxLine, maxReplyLines, maxReplyBytes) and
// takes the unsolicited lines the agent acts on (+CMTI, RDY) out of the
// stream, handing each to urc in the reader's goroutine: package at would
// start a goroutine per indication line, and a storm of them would start
// thousands.
//
// Read is called by package at's reader goroutine only; the fields under mu
// are shared with the Session.
type lineFilter struct {
	r    io.Reader
	buf  []byte // raw bytes read and not yet filtered
	line []byte // the current, unfinished line
	out  []byte // filtered bytes ready for the caller, from off on
	off  int
	skip bool // dropping the rest of an over-long line
	// urc is offered each line first; the line is only valid during the
	// call. The filter allocates nothing per line, so a storm of lines
	// costs no memory.
	urc func(line []byte) bool

	mu        sync.Mutex
	lastRx    time.Time
	now       func() time.Time
	replyN    int // lines passed on since the last command was written
	replyB    int // bytes passed on since then
	truncated bool
	stats     filterStats
	anomaly   chan struct{} // signalled (never blocking) when stats change
}

// newLineFilter returns a filter reading r. urc, when set, is offered every
// complete line first; a line it takes (returns true) is not passed on.
func newLineFilter(r io.Reader, now func() time.Time, urc func([]byte) bool) *lineFilter {
	return &lineFilter{r: r, buf: make([]byte, 512), now: now, urc: urc, anomaly: make(chan struct{}, 1)}
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

// isFinal reports whether a (filtered) line ends a command's reply.
func isFinal(b []byte) bool {
	switch string(b) {
	case "OK", "ERROR", "NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE":
		return true
	}
	return bytes.HasPrefix(b, []byte("+CME ERROR:")) || bytes.HasPrefix(b, []byte("+CMS ERROR:"))
}

// Read returns filtered bytes, blocking until at least one is ready.
func (f *lineFilter) Read(p []byte) (int, error) {
	for len(f.out) == f.off {
		n, err := f.r.Read(f.buf)
		if n > 0 {
			f.mu.Lock()
			f.lastRx = f.now()
			f.mu.Unlock()
			f.filter(f.buf[:n])
		}
		if err != nil {
			if len(f.out) > f.off {
				break
			}
			return 0, err
		}
		if n == 0 && len(f.out) == f.off {
			// A reader that returns (0, nil) would spin package at's
			// scanner; the serial port only does so with a read timeout,
			// which the agent never sets (MODEM-NOTES pitfall 10).
			continue
		}
	}
	n := copy(p, f.out[f.off:])
	f.off += n
	if f.off == len(f.out) {
		f.out, f.off = f.out[:0], 0 // the buffer is reused
	}
	return n, nil
}

func (f *lineFilter) filter(b []byte) {
	dropped := 0
	for _, c := range b {
		switch {
		case c == '\r' || c == '\n':
			f.endLine()
		case f.skip:
			dropped++
		case c >= 0x20 && c < 0x7f:
			if len(f.line) >= maxLine {
				f.skip = true
				f.line = f.line[:0]
				f.mu.Lock()
				f.stats.LongLines++
				f.stats.LongBytes += maxLine + 1
				f.mu.Unlock()
				f.signal()
				continue
			}
			f.line = append(f.line, c)
		case c == 0x1a || c == 0x1b:
			// Ctrl-Z and ESC are ours, echoed back: drop.
		default:
			// Garbage (NUL, bytes of a garbled baud rate, UTF-8 in text
			// mode we never enable): drop.
		}
	}
	if dropped > 0 {
		f.mu.Lock()
		f.stats.LongBytes += int64(dropped)
		f.mu.Unlock()
	}
	// The SMS prompt "> " has no line ending: pass it on at once. Only the
	// prompt: a longer line that starts with '>' waits for its end (and the
	// line cap).
	if !f.skip && len(f.line) > 0 && string(bytes.TrimRight(f.line, " ")) == ">" {
		f.out = append(f.out, f.line...)
		f.line = f.line[:0]
	}
}

func (f *lineFilter) endLine() {
	if f.skip {
		f.skip = false // the over-long line ends here; it was counted
		return
	}
	s := bytes.TrimSpace(f.line) // valid until f.line is appended to again
	f.line = f.line[:0]
	if len(s) == 0 {
		return // blank lines (and the second half of "\r\n") carry nothing
	}
	if r, ok := nonStandardFinal[string(s)]; ok {
		s = []byte(r)
	}
	if f.urc != nil && f.urc(s) {
		return
	}
	f.mu.Lock()
	final := isFinal(s)
	if !final && (f.replyN >= maxReplyLines || f.replyB+len(s)+1 > maxReplyBytes) {
		if !f.truncated {
			f.truncated = true
			f.stats.CutReplies++
			f.mu.Unlock()
			f.signal()
			f.mu.Lock()
		}
		f.stats.CutLines++
		f.mu.Unlock()
		return
	}
	f.replyN++
	f.replyB += len(s) + 1
	f.mu.Unlock()
	f.out = append(f.out, s...)
	f.out = append(f.out, '\n')
}

// signal tells the Session the counts changed, without blocking.
func (f *lineFilter) signal() {
	select {
	case f.anomaly <- struct{}{}:
	default:
	}
}

// commandSent starts counting a new reply; it is called for every write to
// the modem.
func (f *lineFilter) commandSent() {
	f.mu.Lock()
	f.replyN, f.replyB, f.truncated = 0, 0, false
	f.mu.Unlock()
}

// takeTruncated reports whether the reply since the last write was cut.
func (f *lineFilter) takeTruncated() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.truncated
	f.truncated = false
	return t
}

// counts returns what was dropped so far.
func (f *lineFilter) counts() filterStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// countIndication counts one +CMTI line.
func (f *lineFilter) countIndication() {
	f.mu.Lock()
	f.stats.Indications++
	f.mu.Unlock()
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

// writer is the port's write side: each write starts a new reply.
type writer struct {
	w io.Writer
	f *lineFilter
}

func (w writer) Write(p []byte) (int, error) {
	w.f.commandSent()
	return w.w.Write(p)
}
