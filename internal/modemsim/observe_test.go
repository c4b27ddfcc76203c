package modemsim

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The observer sees the host's command and the modem's paced reply, byte for
// byte, and a paced write lasts at least its wire time.
func TestObserver(t *testing.T) {
	type event struct {
		rx         bool
		start, end time.Time
		data       string
	}
	var mu sync.Mutex
	var events []event
	m := newModem(t, WithBaud(115200), WithObserver(func(rx bool, start, end time.Time, b []byte) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, event{rx, start, end, string(b)})
	}))
	c := dial(t, m)
	mu.Lock()
	events = nil // the dial's own commands are not of interest
	mu.Unlock()
	assert.Equal(t, []string{DefaultIMEI}, c.cmd(t, "+CGSN"))

	mu.Lock()
	defer mu.Unlock()
	var rx, tx strings.Builder
	for _, e := range events {
		if e.rx {
			rx.WriteString(e.data)
			assert.Equal(t, e.start, e.end, "a read has no duration")
			continue
		}
		tx.WriteString(e.data)
		assert.GreaterOrEqual(t, e.end.Sub(e.start), wireTime(len(e.data), 115200), "write of %q", e.data)
	}
	require.Contains(t, rx.String(), "AT+CGSN\r", "host to modem")
	assert.Equal(t, "\r\n"+DefaultIMEI+"\r\n\r\nOK\r\n", tx.String(), "modem to host")
}
