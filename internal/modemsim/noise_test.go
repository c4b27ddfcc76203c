package modemsim

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// urcsOnly keeps noise to URC lines, without garbage, so that the bytes
// can be predicted.
func urcsOnly(rate float64, urcs ...string) Option {
	return func(c *config) { c.noise = noiseConfig{seed: 1, rate: rate, urcs: urcs} }
}

// At rate 1 every opportunity gets a URC: before the echo, after it,
// after each information line or header/PDU pair, after the result, and
// around each +CMTI in its write.
func TestNoiseOpportunities(t *testing.T) {
	pdu := encode(t, "+8613800138000", "hi", 0)[0]
	const u = "\r\n^X\r\n"
	m := newModem(t, urcsOnly(1, "^X"))
	r := openRaw(t, m)
	runSteps(t, m, r, []step{
		{name: "reply", send: "AT+CSQ\r", want: u + "AT+CSQ\r\n" + u + "\r\n+CSQ: 20,99\r\n" + u + "\r\nOK\r\n" + u},
		{name: "echo off", send: "ATE0;+CNMI=2,1,0,0,0\r", want: u + "ATE0;+CNMI=2,1,0,0,0\r\n" + u + "\r\nOK\r\n" + u},
		{name: "cmti", do: deliver(pdu), want: u + "\r\n+CMTI: \"SM\",1\r\n" + u},
		{name: "pdu stays with its header", send: "AT+CMGR=1\r",
			want: u + fmt.Sprintf("\r\n+CMGR: 0,,%d\r\n", tpduLen(t, pdu)) + pdu + "\r\n" + u + "\r\nOK\r\n" + u},
	})
}

// transcript runs a fixed command sequence on a fresh modem and returns
// everything it wrote.
func transcript(t *testing.T, opts ...Option) string {
	t.Helper()
	m := newModem(t, opts...)
	r := openRaw(t, m)
	var all strings.Builder
	for _, cmd := range []string{"AT", "ATE0", "AT+CMEE=1", "AT+CMGF=0", "AT+CNMI=2,1,0,0,0", "AT+CPMS?", "AT+CSQ",
		"AT+CMGL=4", "AT+CGSN", "AT+CREG?", "AT+CPIN?", "AT+FOO", "AT+CMGR=1", "AT"} {
		r.send(t, cmd+"\r")
		// Each reply ends with its result code, perhaps followed by noise.
		all.WriteString(r.await(t, "the result of "+cmd, func(got string) bool {
			i := max(strings.LastIndex(got, "\r\nOK\r\n"), strings.LastIndex(got, "\r\nERROR\r\n"),
				strings.LastIndex(got, "\r\n+CMS ERROR: 321\r\n"))
			return i >= 0 && (strings.HasSuffix(got, "\r\n") || strings.HasSuffix(got, "\n"))
		}))
		require.NoError(t, m.WaitFor(ctxTimeout(t, 5*time.Second), func(cmds []string) bool {
			return len(cmds) > 0 && cmds[len(cmds)-1] == cmd
		}))
	}
	require.NoError(t, m.Close())
	select {
	case <-r.eof:
	case <-ctxTimeout(t, 5*time.Second).Done():
		t.Fatal("no hang-up")
	}
	r.mu.Lock()
	all.WriteString(r.buf.String()) // noise after the last result
	r.mu.Unlock()
	return all.String()
}

func TestNoiseDeterministic(t *testing.T) {
	a := transcript(t, WithNoise(7, 0.4))
	b := transcript(t, WithNoise(7, 0.4))
	c := transcript(t, WithNoise(8, 0.4))
	assert.Equal(t, a, b, "same seed, same commands: same bytes")
	assert.NotEqual(t, a, c, "another seed")

	clean := transcript(t)
	assert.Greater(t, len(a), len(clean), "noise was injected")
	var sawURC, sawGarbage bool
	for _, u := range defaultURCs {
		sawURC = sawURC || strings.Contains(a, "\r\n"+u+"\r\n")
	}
	for _, g := range garbageLines {
		sawGarbage = sawGarbage || strings.Contains(a, g+"\r\n")
	}
	assert.True(t, sawURC, "a URC in %q", a)
	assert.True(t, sawGarbage, "garbage in %q", a)

	// Take the injections out and the clean conversation remains.
	stripped := a
	for _, u := range defaultURCs {
		stripped = strings.ReplaceAll(stripped, "\r\n"+u+"\r\n", "")
	}
	// Longest first, so that no pattern is left with its tail removed.
	garbage := slices.Clone(garbageLines)
	slices.SortFunc(garbage, func(a, b string) int { return len(b) - len(a) })
	for _, g := range garbage {
		stripped = strings.ReplaceAll(stripped, g+"\r\n", "")
	}
	assert.Equal(t, clean, stripped)
}

// The huawei profile's reports stop when the host sends AT^CURC=0.
func TestCURCStopsVendorURCs(t *testing.T) {
	m := newModem(t, WithProfile("huawei"), WithLineEnding("\r\n"), WithEchoAtPowerOn(false),
		func(c *config) { c.noise.rate, c.noise.urcs = 1, []string{"^RSSI: 18"} })
	r := openRaw(t, m)
	const u = "\r\n^RSSI: 18\r\n"
	runSteps(t, m, r, []step{
		{name: "boot", want: u + "\r\n^SYSSTART\r\n" + u},
		{name: "reports on", send: "AT\r", want: u + "\r\nOK\r\n" + u},
		{name: "off, at once", send: "AT^CURC=0\r", want: "\r\nOK\r\n"},
		{name: "reports off", send: "AT\r", want: "\r\nOK\r\n"},
	})
}

// The idle reports come when the modem has been quiet for the period.
func TestIdleURCs(t *testing.T) {
	m := newModem(t, WithIdleURCEvery(20*time.Millisecond), WithNoiseURCs("^RSSI: 18"))
	r := openRaw(t, m)
	r.expect(t, "\r\n^RSSI: 18\r\n\r\n^RSSI: 18\r\n")
}
