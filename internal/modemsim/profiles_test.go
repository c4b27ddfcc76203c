package modemsim

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// step is one exchange on a raw port: do (if set) acts on the modem, send
// (if set) is written by the client, and the client's input must then be
// exactly want (everything received since the previous step).
type step struct {
	name string
	do   func(t *testing.T, m *Modem)
	send string
	want string
}

func runSteps(t *testing.T, m *Modem, r *rawPort, steps []step) {
	t.Helper()
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.do != nil {
				st.do(t, m)
			}
			if st.send != "" {
				r.send(t, st.send)
			}
			assert.Equal(t, st.want, r.expect(t, st.want), "sent %q", st.send)
		})
	}
}

// store puts a message in the modem's storage, as if it arrived earlier.
func store(pdu string) func(t *testing.T, m *Modem) {
	return func(t *testing.T, m *Modem) {
		_, err := m.Store(pdu)
		require.NoError(t, err)
	}
}

func deliver(pdu string) func(t *testing.T, m *Modem) {
	return func(t *testing.T, m *Modem) {
		_, err := m.Deliver(pdu)
		require.NoError(t, err)
	}
}

// lines frames lines as a modem does with line ending le: each one
// preceded and followed by it.
func lines(le string, ls ...string) string {
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(le + l + le)
	}
	return b.String()
}

func TestProfiles(t *testing.T) {
	pdu := encode(t, "+8613800138000", "hi", 0)[0]
	n := tpduLen(t, pdu)
	const crlf = "\r\n"
	// Every profile's windows are closed and noise is off, so that the
	// bytes are exact; the windows and the noise have tests of their own.
	base := []Option{WithSIMBusyFor(0), WithSMSReadyAfter(0), WithNoise(0, 0)}

	tests := []struct {
		profile string
		steps   []step
	}{
		{"generic", []step{
			{name: "no boot lines, echo on", send: "AT\r", want: "AT\r\n\r\nOK\r\n"},
			{name: "identity", send: "AT+CGMM\r", want: "AT+CGMM\r\n\r\nEC20F\r\n\r\nOK\r\n"},
			{name: "no vendor commands", send: "AT^CURC=0\r", want: "AT^CURC=0\r\n\r\nERROR\r\n"},
			{name: "1-based", do: store(pdu), send: "AT+CMGL=4\r",
				want: fmt.Sprintf("AT+CMGL=4\r\n\r\n+CMGL: 1,0,,%d\r\n%s\r\n\r\nOK\r\n", n, pdu)},
		}},
		{"quectel", []step{
			{name: "boot lines", want: lines(crlf, "RDY", "+CFUN: 1", "+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE", "+QIND: PB DONE")},
			{name: "identity", send: "AT+CGMM\r", want: "AT+CGMM\r\n\r\nEC25\r\n\r\nOK\r\n"},
			{name: "qccid", send: "AT+QCCID\r", want: "AT+QCCID\r\n\r\n+QCCID: " + DefaultICCID + "\r\n\r\nOK\r\n"},
			{name: "urc port", send: "AT+QURCCFG=\"urcport\",\"usbat\"\r", want: "AT+QURCCFG=\"urcport\",\"usbat\"\r\n\r\nOK\r\n"},
			{name: "no huawei commands", send: "AT^CURC=0\r", want: "AT^CURC=0\r\n\r\nERROR\r\n"},
		}},
		{"simcom", []step{
			{name: "boot lines", want: lines(crlf, "RDY", "+CPIN: READY", "SMS DONE", "PB DONE")},
			{name: "echo on", send: "AT+CGMM\r", want: "AT+CGMM\r\n\r\nSIMCOM_SIM7600E-H\r\n\r\nOK\r\n"},
			{name: "iccid", send: "AT+CICCID\r", want: "AT+CICCID\r\n\r\n+ICCID: " + DefaultICCID + "\r\n\r\nOK\r\n"},
		}},
		{"sim800", []step{
			{name: "boot lines", want: lines(crlf, "RDY", "+CFUN: 1", "+CPIN: READY", "Call Ready", "SMS Ready")},
			{name: "identity", send: "AT+CGMM\r", want: "AT+CGMM\r\n\r\nSIMCOM_SIM800L\r\n\r\nOK\r\n"},
		}},
		{"huawei", []step{
			{name: "boot line", want: "\r\r\n^SYSSTART\r\r\n"},
			{name: "CRCRLF line endings", send: "AT+CSQ\r", want: "AT+CSQ\r\r\n\r\r\n+CSQ: 20,99\r\r\n\r\r\nOK\r\r\n"},
			{name: "unknown command", send: "AT+FOO\r", want: "AT+FOO\r\r\n\r\r\nCOMMAND NOT SUPPORT\r\r\n"},
			{name: "known command failing", send: "AT+CMGR=1\r", want: "AT+CMGR=1\r\r\n\r\r\nERROR\r\r\n"},
			{name: "cnmi modes", send: "AT+CNMI=?\r", want: "AT+CNMI=?\r\r\n\r\r\n+CNMI: (0,1),(0,1),(0,2),(0,1),(0,1)\r\r\n\r\r\nOK\r\r\n"},
			{name: "cnmi mode 2 rejected", send: "AT+CNMI=2,1,0,0,0\r", want: "AT+CNMI=2,1,0,0,0\r\r\n\r\r\nERROR\r\r\n"},
			{name: "cnmi mode 1", send: "AT+CNMI=1,1,0,0,0\r", want: "AT+CNMI=1,1,0,0,0\r\r\n\r\r\nOK\r\r\n"},
			{name: "curc", send: "AT^CURC=0;^CURC?\r", want: "AT^CURC=0;^CURC?\r\r\n\r\r\n^CURC: 0\r\r\n\r\r\nOK\r\r\n"},
			{name: "cmti", do: deliver(pdu), want: "\r\r\n+CMTI: \"SM\",1\r\r\n"},
		}},
		{"zte", []step{
			{name: "no boot lines, LF line endings", send: "AT\r", want: "AT\n\nOK\n"},
			{name: "echo off", send: "ATE0\r", want: "ATE0\n\nOK\n"},
			{name: "0-based list, quoted alpha", do: store(pdu), send: "AT+CMGL=4\r",
				want: fmt.Sprintf("\n+CMGL: 0,0,\"\",%d\n%s\n\nOK\n", n, pdu)},
			{name: "read without stat", send: "AT+CMGR=0\r", want: fmt.Sprintf("\n+CMGR: ,\"\",%d\n%s\n\nOK\n", n, pdu)},
			{name: "empty slot", send: "AT+CMEE=1;+CMGR=1\r", want: "\n+CMS ERROR: 321\n"},
			{name: "indications", send: "AT+CNMI=2,1,0,0,0\r", want: "\nOK\n"},
			{name: "0-based cmti", do: deliver(pdu), want: "\n+CMTI: \"SM\",1\n"},
			{name: "0-based delete", send: "AT+CMGD=0;+CMGD=?\r", want: "\n+CMGD: (1),(0-4)\n\nOK\n"},
			{name: "vendor command", send: "AT+ZCDRUN=8\r", want: "\nOK\n"},
		}},
	}
	var names []string
	for _, tt := range tests {
		names = append(names, tt.profile)
		t.Run(tt.profile, func(t *testing.T) {
			m := newModem(t, append([]Option{WithProfile(tt.profile)}, base...)...)
			runSteps(t, m, openRaw(t, m), tt.steps)
		})
	}
	assert.ElementsMatch(t, Profiles(), names, "every profile has a test")
}

// The profile applies first wherever WithProfile appears, so that options
// can adjust it.
func TestProfileThenOptions(t *testing.T) {
	m := newModem(t, WithFinalError("NOPE"), WithProfile("huawei"), WithNoise(0, 0), WithLineEnding("\r\n"))
	r := openRaw(t, m)
	runSteps(t, m, r, []step{
		{name: "boot line", want: "\r\n^SYSSTART\r\n"},
		{name: "final error from the option", send: "AT+FOO\r", want: "AT+FOO\r\n\r\nNOPE\r\n"},
	})
}

func TestProfileDefaultsHaveWindows(t *testing.T) {
	for _, name := range []string{"quectel", "simcom", "sim800"} {
		cfg, err := buildConfig([]Option{WithProfile(name)})
		require.NoError(t, err)
		assert.Positive(t, cfg.smsReadyAfter, "%s: SMS is not ready at once", name)
		assert.Less(t, cfg.smsReadyAfter, 5*time.Second, "%s: but soon", name)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  Option
	}{
		{"zero capacity", WithCapacity(0)},
		{"unknown profile", WithProfile("nokia")},
		{"line ending", WithLineEnding("\r")},
		{"line ending text", WithLineEnding("x\n")},
		{"index base", WithIndexBase(2)},
		{"alpha", WithAlpha("none")},
		{"sim state", WithSIMState("PUK")},
		{"registration", WithRegistration(9)},
		{"cnmi mode", WithCNMIModes("2")},
		{"noise rate", WithNoise(1, 2)},
		{"final error", WithFinalError("")},
		{"boot line", WithBootLines("RDY\r\n")},
		{"baud", WithBaud(-1)},
		{"window", WithSIMBusyFor(-time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(tt.opt)
			if err == nil {
				_ = m.Close()
			}
			assert.Error(t, err)
		})
	}
}
