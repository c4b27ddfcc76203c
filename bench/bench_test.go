package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The benchmark's pure computations; nothing here runs a daemon or the
// agent, so `go test ./...` stays fast.

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []time.Duration
		want time.Duration
	}{
		{"none", nil, 0},
		{"one", []time.Duration{7}, 7},
		{"odd count, unsorted", []time.Duration{9, 1, 5}, 5},
		{"even count: mean of the middle two", []time.Duration{4, 1, 3, 2}, 2},
		{"outliers do not move it", []time.Duration{2, 2, 3, 1000, 1}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]time.Duration(nil), tc.in...)
			assert.Equal(t, tc.want, median(tc.in), "median(%v)", tc.in)
			assert.Equal(t, in, tc.in, "the input is left in its order")
		})
	}
	assert.InDelta(t, 2.5, median([]float64{1, 2, 3, 4}), 1e-9)
}

func TestWireTime(t *testing.T) {
	tests := []struct {
		name  string
		bytes int
		bps   int
		want  time.Duration
	}{
		{"a second's worth at 115200 baud, 10 bits a byte", 11520, 115200, time.Second},
		{"the two-part confirmation's exchange", 710, 115200, 61631944 * time.Nanosecond},
		{"one byte at 9600", 1, 9600, 1041666 * time.Nanosecond},
		{"nothing", 0, 115200, 0},
		{"no speed", 10, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, wireTime(tc.bytes, tc.bps), "%d bytes at %d", tc.bytes, tc.bps)
		})
	}
}

func TestWindow(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	at := func(ms float64) time.Time { return t0.Add(time.Duration(ms * float64(time.Millisecond))) }
	cmti := "\r\n+CMTI: \"SM\",1\r\n\r\n+CMTI: \"SM\",2\r\n"
	reply := "\r\n+CMGR: 0,,40\r\n" + strings.Repeat("0", 90) + "\r\n\r\nOK\r\n"
	ts := []traffic{
		{rx: true, start: at(0), data: "AT+CNMI=2,1,0,0,0\r\n"}, // before: not counted
		{start: at(0.1), end: at(0.5), data: "\r\nOK\r\n"},
		{start: at(10), end: at(13), data: cmti},
		{rx: true, start: at(13.2), data: "AT+CMGR=1\r\n"},
		{start: at(13.3), end: at(23), data: reply},
		{rx: true, start: at(23.1), data: "AT+CMGR=2\r\n"},
		{start: at(23.2), end: at(33), data: reply},
		{start: at(33.1), end: at(33.5), data: "\r\n^RSSI: 18\r\n"}, // a vendor line: other
		// The record is durable at 34 ms; the deletes come after.
		{rx: true, start: at(34.5), data: "AT+CMGD=1\r\n"},
		{start: at(34.6), end: at(35), data: "\r\nOK\r\n"},
	}
	ex, ok := window(ts, at(34))
	require.True(t, ok)
	assert.Equal(t, at(10), ex.start, "starts when the +CMTI write began")
	assert.Equal(t, len(cmti), ex.cmti)
	assert.Equal(t, 2*len("AT+CMGR=1\r\n"), ex.cmgrCmd)
	assert.Equal(t, 2*len(reply), ex.cmgrReply)
	assert.Equal(t, len("\r\n^RSSI: 18\r\n"), ex.other)
	assert.Equal(t, 2, ex.reads)
	assert.Equal(t, 0, ex.deletes, "deletes after the durable record are outside")
	assert.Equal(t, ex.cmti+ex.cmgrCmd+ex.cmgrReply+ex.other, ex.total())

	_, ok = window(ts[:2], at(34))
	assert.False(t, ok, "no +CMTI")
	_, ok = window(ts, at(9))
	assert.False(t, ok, "durable before any +CMTI")
}

func TestVerdicts(t *testing.T) {
	r, v := atMost(1.5, 2)
	assert.InDelta(t, 0.75, r, 1e-9)
	assert.Equal(t, pass, v)
	_, v = atMost(2, 2)
	assert.Equal(t, pass, v, "the limit itself passes")
	_, v = atMost(2.01, 2)
	assert.Equal(t, fail, v)
	_, v = atMost(1, 0)
	assert.Equal(t, fail, v, "no limit to judge against")
	r, v = atLeast(119, 100)
	assert.InDelta(t, 1.19, r, 1e-9)
	assert.Equal(t, pass, v)
	_, v = atLeast(99, 100)
	assert.Equal(t, fail, v)
	assert.Equal(t, "**FAIL**", fail.String())
	assert.Equal(t, "info", info.String())
}

func TestFormat(t *testing.T) {
	assert.Equal(t, "7,864,482", thousands(7864482))
	assert.Equal(t, "999", thousands(999))
	assert.Equal(t, "-1,000", thousands(-1000))
	assert.Equal(t, "8.00 MB", mb(7812), "kB of 1024 bytes into MB of 10⁶")
	assert.Equal(t, "62.77 ms", ms(62770*time.Microsecond))
	assert.Equal(t, "7.50 s", secs(7500*time.Millisecond))
}

func TestProcParsers(t *testing.T) {
	// A command name with spaces and a parenthesis; utime 40, stime 2.
	stat := "1234 (smsd (GSM1) x) S 1 1234 1234 0 -1 4194560 500 0 0 0 40 2 0 0 20 0 1 0 100 12345678 400 18446744073709551615"
	ticks, err := parseStatTicks(stat)
	require.NoError(t, err)
	assert.Equal(t, int64(42), ticks)
	ppid, err := parseStatPPID(stat)
	require.NoError(t, err)
	assert.Equal(t, 1, ppid)
	_, err = parseStatTicks("garbage")
	assert.Error(t, err)

	st := parseStatus("Name:\tbindpay-agent\nVmHWM:\t    7344 kB\nThreads:\t5\nvoluntary_ctxt_switches:\t12\n")
	assert.Equal(t, int64(7344), st["VmHWM"])
	assert.Equal(t, int64(5), st["Threads"])
	assert.Equal(t, int64(12), st["voluntary_ctxt_switches"])
	assert.NotContains(t, st, "Name")
}

// The peers run with their polling defaults: the configurations set paths
// and the modem only.
func TestPeerConfigs(t *testing.T) {
	s := smsdConfig("/tmp/x", "/tmp/m/bindpay-modem")
	assert.Contains(t, s, "device = /tmp/m/bindpay-modem")
	assert.Contains(t, s, "incoming = yes")
	assert.Contains(t, s, "baudrate = 115200")
	assert.NotContains(t, s, "delaytime", "smsd's poll interval stays at its default")
	assert.NotContains(t, s, "check_memory_method")

	g := gammuConfig("/tmp/x", "/tmp/m/bindpay-modem")
	assert.Contains(t, g, "connection = at115200")
	assert.Contains(t, g, "service = files")
	for _, k := range []string{"ReceiveFrequency", "LoopSleep", "CommTimeout", "StatusFrequency"} {
		assert.NotContains(t, strings.ToLower(g), strings.ToLower(k), "gammu-smsd's %s stays at its default", k)
	}
}
