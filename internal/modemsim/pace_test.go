package modemsim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWireTime(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		bps   int
		want  time.Duration
		least time.Duration // a lower bound, as a sanity check of the maths
	}{
		{"one second at 115200", 11520, 115200, time.Second, time.Second},
		{"one byte at 9600", 1, 9600, 1041666 * time.Nanosecond, time.Millisecond},
		{"a +CMGR reply at 115200", 200, 115200, 17361111 * time.Nanosecond, 17 * time.Millisecond},
		{"unthrottled", 1000, 0, 0, 0},
		{"nothing", 0, 9600, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := wireTime(tt.n, tt.bps)
			assert.Equal(t, tt.want, got)
			assert.GreaterOrEqual(t, got, tt.least)
		})
	}
}

func TestPaceChunks(t *testing.T) {
	tests := []struct {
		name     string
		n, bps   int
		size     int // bytes per chunk but the last
		nChunks  int
		lastTime time.Duration
	}{
		{"115200 baud", 100, 115200, 23, 5, wireTime(100, 115200)},
		{"9600 baud: byte by byte", 5, 9600, 1, 5, wireTime(5, 9600)},
		{"fits one chunk", 10, 115200, 10, 1, wireTime(10, 115200)},
		{"fast line", 1 << 20, 10_000_000, 2000, 525, wireTime(1<<20, 10_000_000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := paceChunks(tt.n, tt.bps)
			require.Len(t, cs, tt.nChunks)
			prev := chunk{}
			for i, c := range cs {
				assert.Greater(t, c.end, prev.end, "chunk %d grows", i)
				assert.GreaterOrEqual(t, c.at, prev.at, "chunk %d is not released early", i)
				assert.Equal(t, wireTime(c.end, tt.bps), c.at, "chunk %d goes when its last byte is in", i)
				if i < len(cs)-1 {
					assert.Equal(t, tt.size, c.end-prev.end, "chunk %d size", i)
				}
				prev = c
			}
			assert.Equal(t, tt.n, prev.end)
			assert.Equal(t, tt.lastTime, prev.at)
			// The whole write takes at least its wire time.
			assert.GreaterOrEqual(t, prev.at, time.Duration(tt.n)*10*time.Second/time.Duration(tt.bps))
		})
	}
	assert.Empty(t, paceChunks(0, 9600))
}

// A paced modem still talks correctly.
func TestBaudSession(t *testing.T) {
	m := newModem(t, WithBaud(115200))
	c := dial(t, m)
	assert.Equal(t, []string{DefaultIMEI}, c.cmd(t, "+CGSN"))
}
