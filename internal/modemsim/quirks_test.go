package modemsim

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuirks(t *testing.T) {
	pdu := encode(t, "+8613800138000", "hi", 0)[0]
	n := tpduLen(t, pdu)
	full := func(t *testing.T, m *Modem) {
		_, err := m.Deliver(pdu)
		assert.ErrorIs(t, err, ErrStorageFull)
	}

	tests := []struct {
		name  string
		opts  []Option
		steps []step
	}{
		{"echo off at power-on", []Option{WithEchoAtPowerOn(false)}, []step{
			{name: "not echoed", send: "AT\r", want: "\r\nOK\r\n"},
			{name: "echo on", send: "ATE1\r", want: "\r\nOK\r\n"},
			{name: "echoed", send: "AT\r", want: "AT\r\n\r\nOK\r\n"},
			{name: "ATZ restores the stored profile", send: "ATZ\r", want: "ATZ\r\n\r\nOK\r\n"},
			{name: "echo off again", send: "AT\r", want: "\r\nOK\r\n"},
		}},
		{"echo on at power-on", nil, []step{
			{name: "ATE0 is echoed", send: "ATE0\r", want: "ATE0\r\n\r\nOK\r\n"},
			{name: "then not", send: "AT\r", want: "\r\nOK\r\n"},
		}},
		{"boot lines", []Option{WithBootLines("RDY", "+CFUN: 1", "+CPIN: READY", "SMS Ready")}, []step{
			{name: "at power-on", want: "\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n"},
		}},
		{"cpin without final OK", []Option{WithCPINNoFinalOK(), WithEchoAtPowerOn(false)}, []step{
			{name: "no OK", send: "AT+CPIN?\r", want: "\r\n+CPIN: READY\r\n"},
			{name: "next command", send: "AT\r", want: "\r\nOK\r\n"},
			{name: "errors still final", send: "AT+CPIN=\"1234\"\r", want: "\r\nERROR\r\n"},
		}},
		{"final error", []Option{WithFinalError("COMMAND NOT SUPPORT"), WithEchoAtPowerOn(false)}, []step{
			{name: "unknown", send: "AT+FOO\r", want: "\r\nCOMMAND NOT SUPPORT\r\n"},
			{name: "unknown basic", send: "ATX9\r", want: "\r\nCOMMAND NOT SUPPORT\r\n"},
			{name: "known, plain", send: "AT+CMGR=1\r", want: "\r\nERROR\r\n"},
			{name: "known, numeric", send: "AT+CMEE=1;+CMGR=1\r", want: "\r\n+CMS ERROR: 321\r\n"},
		}},
		{"CR CR LF", []Option{WithLineEnding("\r\r\n")}, []step{
			{name: "reply", send: "AT+CSQ\r", want: "AT+CSQ\r\r\n\r\r\n+CSQ: 20,99\r\r\n\r\r\nOK\r\r\n"},
		}},
		{"bare LF", []Option{WithLineEnding("\n"), WithEchoAtPowerOn(false)}, []step{
			{name: "reply", send: "AT+CSQ\r", want: "\n+CSQ: 20,99\n\nOK\n"},
			{name: "indication", send: "AT+CNMI=2,1,0,0,0\r", want: "\nOK\n"},
			{name: "cmti", do: deliver(pdu), want: "\n+CMTI: \"SM\",1\n"},
		}},
		{"0-based indexes", []Option{WithIndexBase(0), WithEchoAtPowerOn(false)}, []step{
			{name: "indications on", send: "AT+CNMI=2,1,0,0,0\r", want: "\r\nOK\r\n"},
			{name: "cmti", do: deliver(pdu), want: "\r\n+CMTI: \"SM\",0\r\n"},
			{name: "list", send: "AT+CMGL=4\r", want: fmt.Sprintf("\r\n+CMGL: 0,0,,%d\r\n%s\r\n\r\nOK\r\n", n, pdu)},
			{name: "read", send: "AT+CMGR=0\r", want: fmt.Sprintf("\r\n+CMGR: 1,,%d\r\n%s\r\n\r\nOK\r\n", n, pdu)},
			{name: "delete", send: "AT+CMGD=0\r", want: "\r\nOK\r\n"},
			{name: "beyond", send: "AT+CMEE=1;+CMGR=30\r", want: "\r\n+CMS ERROR: 321\r\n"},
		}},
		{"quoted alpha", []Option{WithAlpha(AlphaQuoted), WithEchoAtPowerOn(false)}, []step{
			{name: "list", do: store(pdu), send: "AT+CMGL=4\r", want: fmt.Sprintf("\r\n+CMGL: 1,0,\"\",%d\r\n%s\r\n\r\nOK\r\n", n, pdu)},
			{name: "read", send: "AT+CMGR=1\r", want: fmt.Sprintf("\r\n+CMGR: 1,\"\",%d\r\n%s\r\n\r\nOK\r\n", n, pdu)},
		}},
		{"missing alpha", []Option{WithAlpha(AlphaMissing), WithEchoAtPowerOn(false)}, []step{
			{name: "list", do: store(pdu), send: "AT+CMGL=4\r", want: fmt.Sprintf("\r\n+CMGL: 1,0,%d\r\n%s\r\n\r\nOK\r\n", n, pdu)},
			{name: "read", send: "AT+CMGR=1\r", want: fmt.Sprintf("\r\n+CMGR: 1,%d\r\n%s\r\n\r\nOK\r\n", n, pdu)},
		}},
		{"missing stat", []Option{WithMissingStat(), WithEchoAtPowerOn(false)}, []step{
			{name: "list", do: store(pdu), send: "AT+CMGL=4\r", want: fmt.Sprintf("\r\n+CMGL: 1,,,%d\r\n%s\r\n\r\nOK\r\n", n, pdu)},
			{name: "read", send: "AT+CMGR=1\r", want: fmt.Sprintf("\r\n+CMGR: ,,%d\r\n%s\r\n\r\nOK\r\n", n, pdu)},
		}},
		{"missing stat and alpha", []Option{WithMissingStat(), WithAlpha(AlphaMissing), WithEchoAtPowerOn(false)}, []step{
			{name: "list", do: store(pdu), send: "AT+CMGL=4\r", want: fmt.Sprintf("\r\n+CMGL: 1,,%d\r\n%s\r\n\r\nOK\r\n", n, pdu)},
		}},
		{"cnmi modes", []Option{WithCNMIModes("1,1"), WithEchoAtPowerOn(false)}, []step{
			{name: "test", send: "AT+CNMI=?\r", want: "\r\n+CNMI: (1),(1),(0,2),(0,1),(0,1)\r\n\r\nOK\r\n"},
			{name: "mode 2 rejected", send: "AT+CNMI=2,1,0,0,0\r", want: "\r\nERROR\r\n"},
			{name: "mode 2 rejected, numeric", send: "AT+CMEE=1;+CNMI=2,1,0,0,0\r", want: "\r\n+CMS ERROR: 303\r\n"},
			{name: "mode 1", send: "AT+CNMI=1,1,0,0,0\r", want: "\r\nOK\r\n"},
			{name: "set", send: "AT+CNMI?\r", want: "\r\n+CNMI: 1,1,0,0,0\r\n\r\nOK\r\n"},
		}},
		{"full storage is silent", []Option{WithCapacity(1), WithSilentWhenFull(), WithEchoAtPowerOn(false)}, []step{
			{name: "indications on", send: "AT+CNMI=2,1,0,0,0\r", want: "\r\nOK\r\n"},
			{name: "first fits", do: deliver(pdu), want: "\r\n+CMTI: \"SM\",1\r\n"},
			{name: "second dropped without a word", do: full, send: "AT\r", want: "\r\nOK\r\n"},
		}},
		{"full storage URC", []Option{WithCapacity(1), WithMemoryFullURC(`^SMMEMFULL: "SM"`), WithEchoAtPowerOn(false)}, []step{
			{name: "fills", do: store(pdu), send: "AT+CNMI=1,1,0,0,0\r", want: "\r\nOK\r\n"},
			{name: "dropped", do: full, want: "\r\n^SMMEMFULL: \"SM\"\r\n"},
		}},
		{"sim pin", []Option{WithSIMState(SIMPIN), WithBootLines("RDY", "+CPIN: READY", "SMS Ready"), WithEchoAtPowerOn(false)}, []step{
			{name: "boot reports the state, not SMS ready", want: "\r\nRDY\r\n\r\n+CPIN: SIM PIN\r\n"},
			{name: "cpin", send: "AT+CPIN?\r", want: "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n"},
			{name: "imsi", send: "AT+CMEE=1;+CIMI\r", want: "\r\n+CME ERROR: 11\r\n"},
			{name: "sms", send: "AT+CMGL=4\r", want: "\r\n+CMS ERROR: 311\r\n"},
			{name: "not registered", send: "AT+CREG?\r", want: "\r\n+CREG: 0,0\r\n\r\nOK\r\n"},
			{name: "wrong pin", send: "AT+CPIN=\"0000\"\r", want: "\r\n+CME ERROR: 16\r\n"},
			{name: "right pin, then SMS ready", send: "AT+CPIN=\"1234\"\r", want: "\r\nOK\r\n\r\nSMS Ready\r\n"},
			{name: "imsi now", send: "AT+CIMI\r", want: "\r\n" + DefaultIMSI + "\r\n\r\nOK\r\n"},
			{name: "registered", send: "AT+CREG?\r", want: "\r\n+CREG: 0,1\r\n\r\nOK\r\n"},
		}},
		{"no sim", []Option{WithSIMState(SIMNotInserted), WithEchoAtPowerOn(false)}, []step{
			{name: "cpin plain", send: "AT+CPIN?\r", want: "\r\nERROR\r\n"},
			{name: "cpin", send: "AT+CMEE=1;+CPIN?\r", want: "\r\n+CME ERROR: 10\r\n"},
			{name: "cpin verbose", send: "AT+CMEE=2;+CPIN?\r", want: "\r\n+CME ERROR: SIM not inserted\r\n"},
			{name: "sms", send: "AT+CMEE=1;+CPMS?\r", want: "\r\n+CMS ERROR: 310\r\n"},
			{name: "imei works", send: "AT+CGSN\r", want: "\r\n" + DefaultIMEI + "\r\n\r\nOK\r\n"},
			{name: "pdu mode works", send: "AT+CMGF=0\r", want: "\r\nOK\r\n"},
			{name: "not registered", send: "AT+CREG?;+COPS?\r", want: "\r\n+CREG: 0,0\r\n+COPS: 0\r\n\r\nOK\r\n"},
		}},
		{"roaming", []Option{WithRegistration(5), WithEchoAtPowerOn(false)}, []step{
			{name: "creg", send: "AT+CREG?\r", want: "\r\n+CREG: 0,5\r\n\r\nOK\r\n"},
			{name: "creg 2", send: "AT+CREG=2;+CREG?\r", want: "\r\n+CREG: 2,5,\"1A2B\",\"0C3D4E5F\",7\r\n\r\nOK\r\n"},
		}},
		{"not registered", []Option{WithRegistration(0), WithEchoAtPowerOn(false)}, []step{
			{name: "creg", send: "AT+CREG?;+CGATT?\r", want: "\r\n+CREG: 0,0\r\n+CGATT: 0\r\n\r\nOK\r\n"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newModem(t, tt.opts...)
			runSteps(t, m, openRaw(t, m), tt.steps)
		})
	}
}

// Within the windows after power-on, the SIM and SMS commands fail, each
// with its error; the window is long enough never to end during the test.
func TestBusyWindows(t *testing.T) {
	m := newModem(t, WithSIMBusyFor(time.Minute), WithSMSReadyAfter(time.Minute),
		WithBootLines("RDY", "+CPIN: READY", "SMS Ready"), WithEchoAtPowerOn(false))
	r := openRaw(t, m)
	runSteps(t, m, r, []step{
		{name: "only the first boot line", want: "\r\nRDY\r\n"},
		{name: "cpin plain", send: "AT+CPIN?\r", want: "\r\nERROR\r\n"},
		{name: "cpin", send: "AT+CMEE=1;+CPIN?\r", want: "\r\n+CME ERROR: 14\r\n"},
		{name: "imsi", send: "AT+CIMI\r", want: "\r\n+CME ERROR: 14\r\n"},
		{name: "sms list", send: "AT+CMGL=4\r", want: "\r\n+CMS ERROR: 314\r\n"},
		{name: "pdu mode", send: "AT+CMGF=0\r", want: "\r\n+CMS ERROR: 500\r\n"},
		{name: "pdu mode plain", send: "AT+CMEE=0;+CMGF=0\r", want: "\r\nERROR\r\n"},
		{name: "test forms work", send: "AT+CMGF=?\r", want: "\r\n+CMGF: (0,1)\r\n\r\nOK\r\n"},
		{name: "searching", send: "AT+CREG?\r", want: "\r\n+CREG: 0,2\r\n\r\nOK\r\n"},
		{name: "imei works", send: "AT+CGSN\r", want: "\r\n" + DefaultIMEI + "\r\n\r\nOK\r\n"},
	})
	st := m.Status()
	assert.True(t, st.SIMBusy, "%+v", st)
	assert.False(t, st.SMSReady, "%+v", st)
}

// The windows end on their own: the boot lines held back go out, and the
// commands work.
func TestBusyWindowsEnd(t *testing.T) {
	m := newModem(t, WithSIMBusyFor(100*time.Millisecond), WithSMSReadyAfter(200*time.Millisecond),
		WithBootLines("RDY", "+CPIN: READY", "SMS Ready"), WithEchoAtPowerOn(false))
	r := openRaw(t, m)
	runSteps(t, m, r, []step{
		{name: "boot lines, each in its time", want: "\r\nRDY\r\n\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n"},
		{name: "cpin", send: "AT+CPIN?\r", want: "\r\n+CPIN: READY\r\n\r\nOK\r\n"},
		{name: "pdu mode", send: "AT+CMGF=0\r", want: "\r\nOK\r\n"},
		{name: "sms list", send: "AT+CMGL=4\r", want: "\r\nOK\r\n"},
	})
	st := m.Status()
	assert.False(t, st.SIMBusy, "%+v", st)
	assert.True(t, st.SMSReady, "%+v", st)
}

// Without boot lines to watch, WaitStatus tells when the windows are over.
func TestWaitStatusForWindows(t *testing.T) {
	m := newModem(t, WithSIMBusyFor(50*time.Millisecond), WithSMSReadyAfter(100*time.Millisecond))
	err := m.WaitStatus(ctxTimeout(t, 5*time.Second), func(s Status) bool { return !s.SIMBusy && s.SMSReady })
	require.NoError(t, err)
	c := dial(t, m)
	assert.Equal(t, []string{"+CPIN: READY"}, c.cmd(t, "+CPIN?"))
}

func TestBasicCommands(t *testing.T) {
	m := newModem(t, WithEchoAtPowerOn(false))
	r := openRaw(t, m)
	runSteps(t, m, r, []step{
		{name: "basic then extended", send: "ATE0V1Q0&C1&D2+CMEE=1\r", want: "\r\nOK\r\n"},
		{name: "applied", send: "AT+CMEE?\r", want: "\r\n+CMEE: 1\r\n\r\nOK\r\n"},
		{name: "s-register", send: "ATS0=0;S7?\r", want: "\r\n000\r\n\r\nOK\r\n"},
		{name: "factory", send: "AT&F\r", want: "\r\nOK\r\n"},
		{name: "numeric results not simulated", send: "ATV0\r", want: "\r\nERROR\r\n"},
		{name: "spaces", send: "AT E0 +CSQ\r", want: "\r\n+CSQ: 20,99\r\n\r\nOK\r\n"},
		{name: "stops at the first error", send: "AT+FOO;+CSQ\r", want: "\r\nERROR\r\n"},
		{name: "info before an error stays", send: "AT+CSQ;+FOO\r", want: "\r\n+CSQ: 20,99\r\n\r\nERROR\r\n"},
	})
}

// With 0-based indexes the API speaks the modem's indexes too.
func TestIndexBaseAPI(t *testing.T) {
	m := newModem(t, WithIndexBase(0))
	idx, err := m.Store(encode(t, "+8613800138000", "a", 0)...)
	require.NoError(t, err)
	assert.Equal(t, []int{0}, idx)
	idx, err = m.Deliver(encode(t, "+8613800138000", "b", 0)...)
	require.NoError(t, err)
	assert.Equal(t, []int{1}, idx)
	assert.Equal(t, []int{0, 1}, indexes(m.Stored()))
}
