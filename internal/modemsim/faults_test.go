package modemsim

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/warthog618/modem/at"
	"go.bug.st/serial"
)

func TestReset(t *testing.T) {
	m := newModem(t, WithBootLines("RDY", "+CPIN: READY", "SMS Ready"), WithSMSReadyAfter(time.Minute))
	idx, err := m.Store(encode(t, "+8613800138000", "kept", 0)...)
	require.NoError(t, err)
	r := openRaw(t, m)
	reset := func(t *testing.T, m *Modem) { m.Reset() }

	runSteps(t, m, r, []step{
		{name: "boot", want: "\r\nRDY\r\n\r\n+CPIN: READY\r\n"},
		{name: "echo off", send: "ATE0\r", want: "ATE0\r\n\r\nOK\r\n"},
		{name: "sms not ready", send: "AT+CMEE=1;+CMGF=0\r", want: "\r\n+CMS ERROR: 500\r\n"},
		{name: "reset", do: reset, want: "\r\nRDY\r\n\r\n+CPIN: READY\r\n"},
		{name: "echo back on, cmee off", send: "AT+CNMI?\r", want: "AT+CNMI?\r\n\r\nERROR\r\n"},
	})
	require.NoError(t, m.WaitStatus(ctxTimeout(t, 5*time.Second), func(s Status) bool { return s.PowerOns == 2 }))
	assert.False(t, m.Status().SMSReady, "the SMS window starts again")
	assert.Equal(t, idx, indexes(m.Stored()), "storage survives a reset")
	assert.Equal(t, []string{"ATE0", "AT+CMEE=1;+CMGF=0", "AT+CNMI?"}, m.Commands(), "so does the log")
}

// After a reset an at session sees echo on and indications off.
func TestResetUnderSession(t *testing.T) {
	m := newModem(t, WithBootLines("RDY"))
	c := dial(t, m)
	c.cmd(t, "+CNMI=2,1,0,0,0")
	m.Reset()
	require.NoError(t, m.WaitStatus(ctxTimeout(t, 5*time.Second), func(s Status) bool { return s.PowerOns == 2 }))
	st := m.Status()
	assert.True(t, st.Echo)
	assert.Equal(t, [5]int{}, st.CNMI)
	// The at library drops the echo of its own command; RDY may still be
	// on its way and land in the reply: pick by prefix, as the agent must.
	var got []string
	for _, l := range c.cmd(t, "+CNMI?") {
		if strings.HasPrefix(l, "+CNMI:") {
			got = append(got, l)
		}
	}
	assert.Equal(t, []string{"+CNMI: 0,0,0,0,0"}, got)
}

func TestHang(t *testing.T) {
	m := newModem(t, WithEchoAtPowerOn(false))
	r := openRaw(t, m)
	pdu := encode(t, "+8613800138000", "while hung", 0)[0]
	runSteps(t, m, r, []step{{name: "indications on", send: "AT+CNMI=2,1,0,0,0\r", want: "\r\nOK\r\n"}})

	m.Hang(true)
	require.True(t, m.Status().Hung)
	r.send(t, "AT+CSQ\r")
	require.NoError(t, m.WaitFor(ctxTimeout(t, 5*time.Second), func(cmds []string) bool {
		return slices.Contains(cmds, "AT+CSQ")
	}), "a hung modem still reads and logs")
	m.InjectLine("+QIND: held")
	idx, err := m.Deliver(pdu)
	require.NoError(t, err)
	assert.Equal(t, []int{1}, idx, "the SIM still stores")

	m.Hang(false)
	runSteps(t, m, r, []step{
		{name: "held line, no reply to the command sent while hung, no +CMTI", send: "AT\r",
			want: "\r\n+QIND: held\r\n\r\nOK\r\n"},
	})
	assert.Len(t, m.Stored(), 1)
}

// A client's command times out on a hung modem, as the agent must expect.
func TestHangTimesOutSession(t *testing.T) {
	m := newModem(t)
	c := dial(t, m)
	m.Hang(true)
	_, err := c.at.Command("+CSQ", at.WithTimeout(50*time.Millisecond))
	assert.ErrorIs(t, err, at.ErrDeadlineExceeded)
	m.Reset() // a reboot ends the hang
	require.NoError(t, m.WaitStatus(ctxTimeout(t, 5*time.Second), func(s Status) bool { return !s.Hung && s.PowerOns == 2 }))
}

func TestInject(t *testing.T) {
	m := newModem(t, WithEchoAtPowerOn(false))
	r := openRaw(t, m)
	runSteps(t, m, r, []step{
		{name: "line", do: func(t *testing.T, m *Modem) { m.InjectLine("^RSSI: 9") }, want: "\r\n^RSSI: 9\r\n"},
		{name: "garbage", do: func(t *testing.T, m *Modem) { m.InjectGarbage([]byte("\x00\xff~~")) }, want: "\x00\xff~~"},
		{name: "both before a reply", do: func(t *testing.T, m *Modem) {
			m.InjectGarbage([]byte{0xfe})
			m.InjectLine("+ZUSIMR:2")
		}, send: "AT\r", want: "\xfe\r\n+ZUSIMR:2\r\n\r\nOK\r\n"},
	})
}

func TestPathIsStableSymlink(t *testing.T) {
	m, err := New()
	require.NoError(t, err)
	fi, err := os.Lstat(m.Path())
	require.NoError(t, err)
	assert.Equal(t, fs.ModeSymlink, fi.Mode().Type(), "%s is a symlink", m.Path())
	target, err := os.Readlink(m.Path())
	require.NoError(t, err)
	assert.Equal(t, m.Device(), target)
	assert.True(t, strings.HasPrefix(target, "/dev/"), "target %q", target)

	require.NoError(t, m.Close())
	_, err = os.Lstat(filepath.Dir(m.Path()))
	assert.ErrorIs(t, err, fs.ErrNotExist, "Close removes the private directory")
}

func TestUnplugReplug(t *testing.T) {
	m := newModem(t, WithBootLines("RDY"))
	_, err := m.Store(encode(t, "+8613800138000", "before", 0)...)
	require.NoError(t, err)
	c := dial(t, m)
	c.cmd(t, "+CNMI=2,1,0,0,0")
	oldDev := m.Device()

	require.NoError(t, m.Unplug())
	select {
	case <-c.at.Closed():
	case <-ctxTimeout(t, 5*time.Second).Done():
		t.Fatal("the session did not see the port vanish")
	}
	_, err = os.Lstat(m.Path())
	assert.ErrorIs(t, err, fs.ErrNotExist, "Path is gone while unplugged")
	_, err = serial.Open(m.Path(), &serial.Mode{BaudRate: 115200})
	assert.Error(t, err, "nothing to open")
	st := m.Status()
	assert.False(t, st.Plugged)
	assert.Empty(t, st.Device)
	assert.ErrorIs(t, m.Unplug(), ErrUnplugged)

	// The network still delivers to the SIM; the indication is lost.
	_, err = m.Deliver(encode(t, "+8613800138000", "while away", 0)...)
	require.NoError(t, err)

	require.NoError(t, m.Replug())
	assert.ErrorIs(t, m.Replug(), ErrPlugged)
	assert.NotEqual(t, oldDev, m.Device(), "a new pty")
	target, err := os.Readlink(m.Path())
	require.NoError(t, err)
	assert.Equal(t, m.Device(), target)

	r := openRaw(t, m)
	runSteps(t, m, r, []step{
		{name: "boots again", want: "\r\nRDY\r\n"},
		{name: "echo on again", send: "AT+CNMI?\r", want: "AT+CNMI?\r\n\r\n+CNMI: 0,0,0,0,0\r\n\r\nOK\r\n"},
	})
	require.NoError(t, r.port.Close())
	c = dial(t, m)
	assert.Equal(t, []string{"before", "while away"}, decodeInfo(t, c.cmd(t, "+CMGL=4")), "storage intact")
	assert.Contains(t, m.Commands(), "AT+CNMI=2,1,0,0,0", "the log survives")
	assert.Equal(t, 2, m.Status().PowerOns)
}

// A raw reader sees its Read fail when the port vanishes, even mid-reply.
func TestUnplugFailsRead(t *testing.T) {
	m := newModem(t, WithBaud(1200)) // slow enough to unplug mid-write
	r := openRaw(t, m)
	r.send(t, "ATI\r")
	r.await(t, "the echo to begin", func(got string) bool { return got != "" })
	require.NoError(t, m.Unplug())
	select {
	case <-r.eof:
		// go.bug.st/serial reports the hang-up as "Port has been closed"
		// or, when its read races the close, as the raw EIO.
		var perr *serial.PortError
		closed := errors.As(r.err, &perr) && perr.Code() == serial.PortClosed
		assert.True(t, closed || errors.Is(r.err, syscall.EIO), "error %v (%T), want PortClosed or EIO", r.err, r.err)
	case <-ctxTimeout(t, 5*time.Second).Done():
		t.Fatal("the client's Read did not fail")
	}
}

func TestFaultsAfterClose(t *testing.T) {
	m, err := New()
	require.NoError(t, err)
	require.NoError(t, m.Close())
	assert.ErrorIs(t, m.Unplug(), ErrClosed)
	assert.ErrorIs(t, m.Replug(), ErrClosed)
	m.Reset()
	m.Hang(true)
	m.InjectLine("x")
	m.InjectGarbage([]byte("x"))
	assert.Empty(t, m.Device())
}

func TestCloseWhileUnplugged(t *testing.T) {
	m, err := New()
	require.NoError(t, err)
	require.NoError(t, m.Unplug())
	require.NoError(t, m.Close())
	_, err = os.Lstat(filepath.Dir(m.Path()))
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

// Close interrupts a paced write that would take minutes.
func TestCloseInterruptsPacedWrite(t *testing.T) {
	m, err := New(WithBaud(100)) // ten bytes a second: the reply takes seconds
	require.NoError(t, err)
	r := openRaw(t, m)
	r.send(t, "ATI\r")
	r.await(t, "the echo to begin", func(got string) bool { return got != "" })
	closed := make(chan error, 1)
	go func() { closed <- m.Close() }()
	select {
	case err := <-closed:
		assert.NoError(t, err)
	case <-ctxTimeout(t, 5*time.Second).Done():
		t.Fatal("Close is stuck behind a paced write")
	}
	select {
	case <-r.eof:
	case <-ctxTimeout(t, 5*time.Second).Done():
		t.Fatal("the client did not see the hang-up")
	}
}

// Quick cycles, with deliveries and injections racing them: every
// replugged modem boots and answers, and every message lands in storage.
func TestUnplugReplugCycles(t *testing.T) {
	m := newModem(t, WithBootLines("RDY"), WithCapacity(50))
	pdu := encode(t, "+8613800138000", "x", 0)[0]
	delivered := make(chan int, 1)
	go func() {
		n := 0
		for range 40 {
			if _, err := m.Deliver(pdu); err == nil {
				n++
			}
			m.InjectLine("^RSSI: 18")
			m.Reset()
		}
		delivered <- n
	}()
	for i := range 10 {
		c := dial(t, m)
		// A Reset racing the session may cost a command its echo or add
		// RDY to its reply: look for the IMEI among the lines.
		info, err := c.at.Command("+CGSN")
		if err == nil {
			assert.Contains(t, info, DefaultIMEI, "cycle %d", i)
		}
		require.NoError(t, m.Unplug())
		select {
		case <-c.at.Closed():
		case <-ctxTimeout(t, 5*time.Second).Done():
			t.Fatalf("cycle %d: no hang-up", i)
		}
		before := m.Status().PowerOns
		require.NoError(t, m.Replug())
		require.NoError(t, m.WaitStatus(ctxTimeout(t, 5*time.Second), func(s Status) bool { return s.PowerOns > before }),
			"cycle %d: the modem powers on", i)
	}
	assert.Len(t, m.Stored(), <-delivered)
	c := dial(t, m)
	assert.Contains(t, c.cmd(t, "+CGSN"), DefaultIMEI)
}
