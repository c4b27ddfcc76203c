package modemsim

import "time"

// wireTime is how long n bytes take on a UART at bps baud with 8N1 framing:
// ten bit times per byte.
func wireTime(n, bps int) time.Duration {
	if bps <= 0 || n <= 0 {
		return 0
	}
	return time.Duration(int64(n) * 10 * int64(time.Second) / int64(bps))
}

// chunk is a piece of a paced write: the bytes up to end (exclusive) are
// released at offset from the start of the transmission, once they would
// have been received in full.
type chunk struct {
	end int
	at  time.Duration
}

// paceInterval is about how often a paced write releases bytes: shorter
// costs timer wake-ups, longer makes the stream burstier than a UART's.
const paceInterval = 2 * time.Millisecond

// paceChunks splits a write of n bytes at bps baud into chunks of about
// paceInterval of wire time each (at least one byte). The last chunk ends
// at n and is released at wireTime(n, bps).
func paceChunks(n, bps int) []chunk {
	if n <= 0 {
		return nil
	}
	size := int(int64(bps) / 10 * int64(paceInterval) / int64(time.Second))
	if size < 1 {
		size = 1
	}
	out := make([]chunk, 0, (n+size-1)/size)
	for end := size; ; end += size {
		if end >= n {
			return append(out, chunk{end: n, at: wireTime(n, bps)})
		}
		out = append(out, chunk{end: end, at: wireTime(end, bps)})
	}
}
