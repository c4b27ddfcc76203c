package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The pure computations of the benchmark: statistics, wire time, the
// byte count of an exchange, the verdict of a figure against its limit.
// bench_test.go covers them; nothing here touches the system.

// median returns the median of xs (the mean of the two middle values for an
// even count); 0 for none.
func median[T ~int64 | ~float64](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// bitsPerByte is a UART's frame for one byte with 8N1: start, 8 data, stop.
const bitsPerByte = 10

// wireTime is how long n bytes take on a UART at bps baud, 8N1.
func wireTime(n, bps int) time.Duration {
	if n <= 0 || bps <= 0 {
		return 0
	}
	return time.Duration(int64(n) * bitsPerByte * int64(time.Second) / int64(bps))
}

// traffic is one piece of traffic on the simulated line, as modemsim's
// observer reports it.
type traffic struct {
	rx         bool // host to modem
	start, end time.Time
	data       string
}

// exchange is what crossed the line between the +CMTI write and the
// durable record.
type exchange struct {
	start, end time.Time // the +CMTI write began; the record was durable
	// Bytes by kind: the +CMTI lines, the host's AT+CMGR commands, the
	// modem's answers to them, and anything else (other commands and
	// their answers, vendor lines).
	cmti, cmgrCmd, cmgrReply, other int
	reads                           int // AT+CMGR commands sent
	deletes                         int // AT+CMGD commands sent in the window
}

// total is the number of bytes exchanged in both directions.
func (e exchange) total() int { return e.cmti + e.cmgrCmd + e.cmgrReply + e.other }

// window picks out the exchange that starts at the first write carrying a
// +CMTI and ends at end (the moment the record was durable): every piece of
// traffic that began in [start, end) counts, in both directions. A write
// holding a +CMTI counts as +CMTI bytes; the writes that follow an AT+CMGR
// command up to its final result are its answer. ok is false
// when no +CMTI was written before end.
func window(ts []traffic, end time.Time) (exchange, bool) {
	first := slices.IndexFunc(ts, func(t traffic) bool {
		return !t.rx && strings.Contains(t.data, "+CMTI:") && t.start.Before(end)
	})
	if first < 0 {
		return exchange{}, false
	}
	e := exchange{start: ts[first].start, end: end}
	lastCmd := ""
	for _, t := range ts[first:] {
		if !t.start.Before(end) {
			break
		}
		n := len(t.data)
		switch {
		case t.rx:
			lastCmd = strings.ToUpper(t.data)
			switch {
			case strings.Contains(lastCmd, "AT+CMGR="):
				e.cmgrCmd += n
				e.reads++
			case strings.Contains(lastCmd, "AT+CMGD="):
				e.other += n
				e.deletes++
			default:
				e.other += n
			}
		case strings.Contains(t.data, "+CMTI:"):
			e.cmti += n
		case strings.Contains(lastCmd, "AT+CMGR="):
			e.cmgrReply += n
			if strings.Contains(t.data, "OK\r\n") || strings.Contains(t.data, "ERROR") {
				lastCmd = "" // answered: what follows is unsolicited
			}
		default:
			e.other += n
		}
	}
	return e, true
}

// verdict is a figure judged against its limit.
type verdict int

const (
	info verdict = iota // reported, no target
	pass
	fail
)

func (v verdict) String() string {
	switch v {
	case pass:
		return "pass"
	case fail:
		return "**FAIL**"
	}
	return "info"
}

// atMost judges a figure that must not exceed its limit: the ratio to the
// limit is figure/limit and passes up to 1.
func atMost(figure, limit float64) (ratio float64, v verdict) {
	if limit <= 0 {
		return 0, fail
	}
	ratio = figure / limit
	if ratio <= 1 {
		return ratio, pass
	}
	return ratio, fail
}

// atLeast judges a figure that must reach its limit: the ratio to the limit
// is figure/limit and passes from 1 up.
func atLeast(figure, limit float64) (ratio float64, v verdict) {
	if limit <= 0 {
		return 0, fail
	}
	ratio = figure / limit
	if ratio >= 1 {
		return ratio, pass
	}
	return ratio, fail
}

// ms formats a duration in milliseconds with two decimals.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// secs formats a duration in seconds with two decimals.
func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// mb formats a size in kB (1024 bytes, as /proc reports it) as decimal
// megabytes, the unit of the targets (8 MB = 8,000,000 bytes).
func mb(kB int64) string { return fmt.Sprintf("%.2f MB", float64(kB)*1024/1e6) }

// thousands formats n with thousands separators: 7,345,664.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
