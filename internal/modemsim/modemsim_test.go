package modemsim

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/warthog618/modem/at"
	"github.com/warthog618/modem/gsm"
	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/pdumode"
	"github.com/warthog618/sms/encoding/tpdu"
	"go.bug.st/serial"
)

// Long enough to need two UCS2 parts (67 characters each).
const confirmation = "【号码绑定支付】终端STB0012345678已开通，绑定号码138****8000。" +
	"BP1 t=STB0012345678 m=138****8000 n=q8x3k2 s=FWC0YGwf5vt1dIPLmlT2ww"

var scts = time.Date(2026, 11, 25, 20, 0, 0, 0, time.FixedZone("CST", 8*3600))

// newModem starts a simulator that is closed when the test ends.
func newModem(t *testing.T, opts ...Option) *Modem {
	t.Helper()
	// The traffic, timed from New, is printed when a test fails or with -v.
	start := time.Now()
	logf := func(format string, args ...any) {
		t.Logf("%v %s", time.Since(start).Round(time.Millisecond), fmt.Sprintf(format, args...))
	}
	m, err := New(append([]Option{WithLog(logf)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, m.Close()) })
	return m
}

// openSerial opens Path exactly as the agent does.
func openSerial(t *testing.T, m *Modem) serial.Port {
	t.Helper()
	port, err := serial.Open(m.Path(), &serial.Mode{BaudRate: 115200})
	require.NoError(t, err, "open %s", m.Path())
	t.Cleanup(func() { _ = port.Close() })
	return port
}

// client is an at session on the simulator, as the agent runs it.
type client struct {
	port serial.Port
	at   *at.AT
	cmti chan []string // +CMTI indications, in the order the handlers ran
}

func dial(t *testing.T, m *Modem) *client {
	t.Helper()
	c := &client{port: openSerial(t, m), cmti: make(chan []string, 16)}
	c.at = at.New(c.port, at.WithTimeout(time.Second),
		at.WithIndication("+CMTI:", func(info []string) {
			select {
			case c.cmti <- info:
			default: // the test does not want more; never block the at library
			}
		}))
	require.NoError(t, c.at.Init(at.WithCmds("E0", "+CMEE=1", "+CMGF=0")))
	return c
}

func (c *client) cmd(t *testing.T, cmd string) []string {
	t.Helper()
	info, err := c.at.Command(cmd)
	require.NoError(t, err, "AT%s", cmd)
	return info
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func encode(t *testing.T, from, text string, ref byte) []string {
	t.Helper()
	pdus, err := EncodeDeliver(from, text, scts, ref)
	require.NoError(t, err)
	return pdus
}

// decodeInfo decodes the +CMGR or +CMGL header/PDU pairs in a reply into
// texts, reassembling concatenated parts. Lines are picked strictly by
// prefix: at v0.4.0 also hands a +CMTI that arrives just before a command to
// that command as an info line (MODEM-NOTES, pitfall 1).
func decodeInfo(t *testing.T, info []string) []string {
	t.Helper()
	col := sms.NewCollector()
	defer col.Close()
	var texts []string
	for i := 0; i < len(info); i++ {
		if !strings.HasPrefix(info[i], "+CMGR:") && !strings.HasPrefix(info[i], "+CMGL:") {
			continue
		}
		require.Less(t, i+1, len(info), "no PDU after %q in %q", info[i], info)
		tp, err := gsm.UnmarshalTPDU(info[i : i+2])
		require.NoError(t, err, "UnmarshalTPDU(%q)", info[i:i+2])
		i++
		segs, err := col.Collect(tp)
		require.NoError(t, err)
		if segs == nil {
			continue
		}
		b, err := sms.Decode(segs)
		require.NoError(t, err)
		texts = append(texts, string(b))
	}
	return texts
}

func TestQueries(t *testing.T) {
	m := newModem(t, WithIMEI("869999999999999"), WithCapacity(5))
	_, err := m.Store(encode(t, "+8613800138000", "hello", 0)...)
	require.NoError(t, err)
	c := dial(t, m)

	tests := []struct {
		name string
		cmd  string
		want []string
	}{
		{"imei", "+CGSN", []string{"869999999999999"}},
		{"imei gsn", "+GSN", []string{"869999999999999"}},
		{"imsi", "+CIMI", []string{DefaultIMSI}},
		{"iccid", "+CCID", []string{"+CCID: " + DefaultICCID}},
		{"sim ready", "+CPIN?", []string{"+CPIN: READY"}},
		{"signal", "+CSQ", []string{"+CSQ: 20,99"}},
		{"registration", "+CREG?", []string{"+CREG: 0,1"}},
		{"operator", "+COPS?", []string{`+COPS: 0,0,"CHINA MOBILE",7`}},
		{"pdu mode", "+CMGF?", []string{"+CMGF: 0"}},
		{"error mode", "+CMEE?", []string{"+CMEE: 1"}},
		{"storage", "+CPMS?", []string{`+CPMS: "SM",1,5,"SM",1,5,"SM",1,5`}},
		{"storage select", `+CPMS="SM","SM","SM"`, []string{"+CPMS: 1,5,1,5,1,5"}},
		{"storage select one", `+CPMS="SM"`, []string{"+CPMS: 1,5,1,5,1,5"}},
		{"storage test", "+CPMS=?", []string{`+CPMS: ("SM"),("SM"),("SM")`}},
		{"cnmi default", "+CNMI?", []string{"+CNMI: 0,0,0,0,0"}},
		{"cnmi test", "+CNMI=?", []string{"+CNMI: (0-2),(0,1),(0,2),(0,1),(0,1)"}},
		{"smsc", "+CSCA?", []string{`+CSCA: "+8613800100500",145`}},
		{"charset", "+CSCS?", []string{`+CSCS: "GSM"`}},
		{"sms service", "+CSMS?", []string{"+CSMS: 0,1,1,1"}},
		{"manufacturer", "+CGMI", []string{"Quectel"}},
		{"ati", "I", []string{"Quectel", "EC20F", "Revision: EC20CEFAGR06A09M4G"}},
		{"lower case", "+cpin?", []string{"+CPIN: READY"}},
		{"two commands", "+CMGF=0;+CNMI=2,1,0,0,0;+CNMI?", []string{"+CNMI: 2,1,0,0,0"}},
		{"plain at", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.at.Command(tt.cmd)
			require.NoError(t, err, "AT%s", tt.cmd)
			assert.Equal(t, tt.want, got, "AT%s", tt.cmd)
		})
	}
}

func TestErrors(t *testing.T) {
	m := newModem(t, WithCapacity(5))
	c := dial(t, m)

	tests := []struct {
		name string
		cmee string
		cmd  string
		want error
	}{
		{"unknown command", "1", "+FOO", at.ErrError},
		{"unknown basic command", "1", "X9", at.ErrError},
		{"empty slot", "1", "+CMGR=1", at.CMSError("321")},
		{"out of range read", "1", "+CMGR=6", at.CMSError("321")},
		{"out of range delete", "1", "+CMGD=0", at.CMSError("321")},
		{"bad list stat", "1", "+CMGL=7", at.CMSError("304")},
		{"routing not simulated", "1", "+CNMI=2,2,0,0,0", at.CMSError("303")},
		{"bad cmee", "1", "+CMEE=9", at.CMEError("50")},
		{"verbose", "2", "+CMGR=1", at.CMSError("invalid memory index")},
		{"plain", "0", "+CMGR=1", at.ErrError},
		{"plain unknown", "2", "+FOO", at.ErrError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.cmd(t, "+CMEE="+tt.cmee)
			_, err := c.at.Command(tt.cmd)
			assert.Equal(t, tt.want, err, "AT%s with CMEE=%s", tt.cmd, tt.cmee)
		})
	}
}

func TestStoreThenList(t *testing.T) {
	m := newModem(t)
	first := encode(t, "+8613800138000", "BIND STB0012345678", 0)
	second := encode(t, "10658000", confirmation, 7)
	idx, err := m.Store(first...)
	require.NoError(t, err)
	assert.Equal(t, []int{1}, idx)
	idx, err = m.Store(second...)
	require.NoError(t, err)
	assert.Equal(t, []int{2, 3}, idx)

	c := dial(t, m)
	info := c.cmd(t, "+CMGL=4")
	require.Len(t, info, 6)
	assert.Equal(t, fmt.Sprintf("+CMGL: 1,0,,%d", tpduLen(t, first[0])), info[0])
	assert.Equal(t, first[0], info[1])
	assert.Equal(t, []string{"BIND STB0012345678", confirmation}, decodeInfo(t, info))

	for _, s := range m.Stored() {
		assert.Equal(t, 1, s.Stat, "slot %d after listing", s.Index)
	}
	assert.Empty(t, c.cmd(t, "+CMGL=0"), "no unread message left")
	assert.Len(t, c.cmd(t, "+CMGL=1"), 6)
	assert.Contains(t, m.Commands(), "AT+CMGL=4")
}

func tpduLen(t *testing.T, h string) int {
	t.Helper()
	p, err := pdumode.UnmarshalHexString(h)
	require.NoError(t, err)
	return len(p.TPDU)
}

func TestReadAndDelete(t *testing.T) {
	m := newModem(t)
	texts := []string{"first", "second", "third"}
	for _, s := range texts {
		_, err := m.Store(encode(t, "+8613800138000", s, 0)...)
		require.NoError(t, err)
	}
	c := dial(t, m)

	info := c.cmd(t, "+CMGR=2")
	require.Len(t, info, 2)
	assert.True(t, strings.HasPrefix(info[0], "+CMGR: 0,,"), "got %q, want unread", info[0])
	assert.Equal(t, []string{"second"}, decodeInfo(t, info))
	info = c.cmd(t, "+CMGR=2")
	assert.True(t, strings.HasPrefix(info[0], "+CMGR: 1,,"), "got %q, want read after AT+CMGR", info[0])

	c.cmd(t, "+CMGD=2")
	assert.Equal(t, []int{1, 3}, indexes(m.Stored()))
	_, err := c.at.Command("+CMGR=2")
	assert.Equal(t, at.CMSError("321"), err, "reading a deleted slot")
	c.cmd(t, "+CMGD=2") // deleting an empty slot is OK

	c.cmd(t, "+CMGR=1")
	c.cmd(t, "+CMGD=1,1") // the read ones
	assert.Equal(t, []int{3}, indexes(m.Stored()))
	c.cmd(t, "+CMGD=1,4") // all
	assert.Empty(t, m.Stored())
	assert.Equal(t, []string{`+CPMS: "SM",0,30,"SM",0,30,"SM",0,30`}, c.cmd(t, "+CPMS?"))
}

func indexes(slots []Slot) []int {
	var out []int
	for _, s := range slots {
		out = append(out, s.Index)
	}
	return out
}

func TestDeliverIndication(t *testing.T) {
	m := newModem(t)
	c := dial(t, m)
	c.cmd(t, "+CNMI=2,1,0,0,0")

	pdus := encode(t, "10658000", confirmation, 42)
	idx, err := m.Deliver(pdus...)
	require.NoError(t, err)
	require.Equal(t, []int{1, 2}, idx)

	ctx := ctxTimeout(t, 5*time.Second)
	var got []string
	for len(got) < 2 {
		select {
		case info := <-c.cmti:
			got = append(got, info...)
		case <-ctx.Done():
			t.Fatalf("got indications %q, want two: %v", got, ctx.Err())
		}
	}
	slices.Sort(got) // handlers run in their own goroutines, unordered
	assert.Equal(t, []string{`+CMTI: "SM",1`, `+CMTI: "SM",2`}, got)

	info := append(c.cmd(t, "+CMGR=1"), c.cmd(t, "+CMGR=2")...)
	assert.Equal(t, []string{confirmation}, decodeInfo(t, info))
}

func TestStorageFull(t *testing.T) {
	m := newModem(t, WithCapacity(2))
	idx, err := m.Store(encode(t, "+8613800138000", "one", 0)[0], encode(t, "+8613800138000", "two", 0)[0],
		encode(t, "+8613800138000", "three", 0)[0])
	assert.ErrorIs(t, err, ErrStorageFull)
	assert.Equal(t, []int{1, 2}, idx)

	idx, err = m.Deliver(encode(t, "+8613800138000", "four", 0)...)
	assert.ErrorIs(t, err, ErrStorageFull)
	assert.Empty(t, idx)
	assert.Len(t, m.Stored(), 2)

	_, err = m.Store("not hex")
	assert.ErrorIs(t, err, ErrInvalidPDU)
}

// rawPort reads a client's port into a buffer that expect searches.
type rawPort struct {
	port serial.Port
	mu   sync.Mutex
	buf  bytes.Buffer
	more chan struct{} // signalled after each read
	eof  chan struct{} // closed when a read fails
	err  error         // the failure, once eof is closed
}

func openRaw(t *testing.T, m *Modem) *rawPort {
	t.Helper()
	r := &rawPort{port: openSerial(t, m), more: make(chan struct{}, 1), eof: make(chan struct{})}
	go func() {
		b := make([]byte, 256)
		for {
			n, err := r.port.Read(b)
			r.mu.Lock()
			r.buf.Write(b[:n])
			r.mu.Unlock()
			select {
			case r.more <- struct{}{}:
			default:
			}
			if err != nil {
				r.err = err
				close(r.eof)
				return
			}
		}
	}()
	return r
}

func (r *rawPort) send(t *testing.T, s string) {
	t.Helper()
	_, err := r.port.Write([]byte(s))
	require.NoError(t, err)
}

// expect waits until the output ends with want, then returns and consumes
// all of it.
func (r *rawPort) expect(t *testing.T, want string) string {
	t.Helper()
	return r.await(t, fmt.Sprintf("output ending with %q", want), func(got string) bool {
		return strings.HasSuffix(got, want)
	})
}

// await waits until ok(output), then returns and consumes all of it.
func (r *rawPort) await(t *testing.T, what string, ok func(got string) bool) string {
	t.Helper()
	ctx := ctxTimeout(t, 5*time.Second)
	for {
		r.mu.Lock()
		got := r.buf.String()
		if ok(got) {
			r.buf.Reset()
			r.mu.Unlock()
			return got
		}
		r.mu.Unlock()
		select {
		case <-r.more:
		case <-ctx.Done():
			t.Fatalf("got %q, want %s", got, what)
		}
	}
}

func TestWireFormat(t *testing.T) {
	m := newModem(t)
	r := openRaw(t, m)
	pdu := encode(t, "+8613800138000", "hi", 0)[0]

	steps := []struct {
		name    string
		deliver bool // Deliver pdu before sending
		send    string
		want    string
	}{
		{"echo on at power-on", false, "AT\r", "AT\r\n\r\nOK\r\n"},
		{"esc line ignored", false, "\x1b\r\n\r\nAT\r\n", "AT\r\n\r\nOK\r\n"},
		{"info framing", false, "AT+CSQ\r\n", "AT+CSQ\r\n\r\n+CSQ: 20,99\r\n\r\nOK\r\n"},
		{"unknown", false, "AT+NOPE\r", "AT+NOPE\r\n\r\nERROR\r\n"},
		{"garbage", false, "hello\r", "hello\r\n\r\nERROR\r\n"},
		{"echo off is echoed", false, "ATE0\r", "ATE0\r\n\r\nOK\r\n"},
		{"echo off", false, "AT+CMEE=1\r", "\r\nOK\r\n"},
		{"cms error", false, "AT+CMGR=9\r", "\r\n+CMS ERROR: 321\r\n"},
		{"no indication by default", true, "AT\r", "\r\nOK\r\n"},
		{"indications on", false, "AT+CNMI=2,1,0,0,0\r", "\r\nOK\r\n"},
		{"indication before next reply", true, "AT\r", "\r\n+CMTI: \"SM\",2\r\n\r\nOK\r\n"},
		{"list", false, "AT+CMGL=0\r", fmt.Sprintf("\r\n+CMGL: 1,0,,%d\r\n%s\r\n+CMGL: 2,0,,%d\r\n%s\r\n\r\nOK\r\n",
			tpduLen(t, pdu), pdu, tpduLen(t, pdu), pdu)},
		{"echo on again", false, "ATE1\r", "\r\nOK\r\n"},
		{"echo on", false, "ATZ\r", "ATZ\r\n\r\nOK\r\n"},
		{"reset turned indications off", false, "AT+CNMI?\r", "AT+CNMI?\r\n\r\n+CNMI: 0,0,0,0,0\r\n\r\nOK\r\n"},
		{"too long", false, "AT" + strings.Repeat("A", maxLine) + "\r", "\r\nERROR\r\n"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.deliver {
				_, err := m.Deliver(pdu)
				require.NoError(t, err)
			}
			r.send(t, st.send)
			assert.Equal(t, st.want, r.expect(t, st.want))
		})
	}
	assert.NotContains(t, m.Commands(), "\x1b")
	assert.Equal(t, "AT", m.Commands()[1], "the ESC line is not a command")
}

func TestWaitFor(t *testing.T) {
	m := newModem(t)
	_, err := m.Store(encode(t, "+8613800138000", "x", 0)...)
	require.NoError(t, err)
	c := dial(t, m)

	done := make(chan error, 1)
	go func() {
		done <- m.WaitFor(ctxTimeout(t, 5*time.Second), func(cmds []string) bool {
			return slices.Contains(cmds, "AT+CMGD=1")
		})
	}()
	c.cmd(t, "+CMGD=1")
	require.NoError(t, <-done)
	assert.Empty(t, m.Stored(), "a command seen by WaitFor has taken effect")
	assert.Equal(t, []string{"ATE0", "AT+CMEE=1", "AT+CMGF=0", "AT+CMGD=1"}, m.Commands())

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = m.WaitFor(ctx, func([]string) bool { return false })
	assert.ErrorIs(t, err, context.Canceled)
}

func TestCloseHangsUpClient(t *testing.T) {
	m := newModem(t)
	c := dial(t, m)
	c.cmd(t, "+CGSN")

	require.NoError(t, m.Close())
	select {
	case <-c.at.Closed():
	case <-ctxTimeout(t, 5*time.Second).Done():
		t.Fatal("the client did not see the modem close")
	}
	_, err := c.at.Command("+CGSN")
	assert.Equal(t, at.ErrClosed, err)

	assert.NoError(t, m.Close(), "Close is idempotent")
	_, err = m.Deliver(encode(t, "+8613800138000", "late", 0)...)
	assert.ErrorIs(t, err, ErrClosed)
	err = m.WaitFor(context.Background(), func([]string) bool { return false })
	assert.ErrorIs(t, err, ErrClosed)
}

func TestReopen(t *testing.T) {
	m := newModem(t)
	c := dial(t, m)
	c.cmd(t, "+CNMI=2,1,0,0,0")
	require.NoError(t, c.port.Close())
	select {
	case <-c.at.Closed():
	case <-ctxTimeout(t, 5*time.Second).Done():
		t.Fatal("at session did not end when its port was closed")
	}

	// An SMS that arrives while nobody has the port open.
	_, err := m.Deliver(encode(t, "+8613800138000", "while away", 0)...)
	require.NoError(t, err)

	// The +CMTI written while away waits in the tty buffer and reaches the
	// new session first, as a real modem's would: Contains, not Equal.
	c = dial(t, m)
	assert.Contains(t, c.cmd(t, "+CGSN"), DefaultIMEI)
	assert.Equal(t, []string{"while away"}, decodeInfo(t, c.cmd(t, "+CMGL=4")))

	// And once more, closed and reopened in turn.
	require.NoError(t, c.port.Close())
	<-c.at.Closed()
	c = dial(t, m)
	assert.Equal(t, []string{"+CPIN: READY"}, c.cmd(t, "+CPIN?"))
}

func TestEncodeDeliver(t *testing.T) {
	tests := []struct {
		name    string
		from    string
		text    string
		ref     byte
		parts   int
		alpha   tpdu.Alphabet
		wantTOA byte
	}{
		{"gsm7 short", "+8613800138000", "BIND STB0012345678", 0, 1, tpdu.Alpha7Bit, 0x91},
		{"gsm7 long", "+8613800138000", strings.Repeat("0123456789", 20), 3, 2, tpdu.Alpha7Bit, 0x91},
		{"ucs2 short", "10658000", "终端已开通", 0, 1, tpdu.AlphaUCS2, 0x81},
		{"ucs2 long", "10658000", confirmation, 200, 2, tpdu.AlphaUCS2, 0x81},
		{"empty", "+8613800138000", "", 0, 1, tpdu.Alpha7Bit, 0x91},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pdus, err := EncodeDeliver(tt.from, tt.text, scts, tt.ref)
			require.NoError(t, err)
			require.Len(t, pdus, tt.parts)

			col := sms.NewCollector()
			defer col.Close()
			var segs []*tpdu.TPDU
			for _, h := range slices.Backward(pdus) { // out of order on purpose
				p, err := pdumode.UnmarshalHexString(h)
				require.NoError(t, err)
				assert.Equal(t, DefaultSMSC, p.SMSC.Number())
				var tp tpdu.TPDU
				require.NoError(t, tp.UnmarshalBinary(p.TPDU))
				assert.Equal(t, tpdu.SmsDeliver, tp.SmsType())
				assert.Equal(t, tt.from, tp.OA.Number())
				assert.Equal(t, tt.wantTOA, tp.OA.TOA)
				assert.True(t, tp.SCTS.Equal(scts), "SCTS %v, want %v", tp.SCTS, scts)
				alpha, err := tp.Alphabet()
				require.NoError(t, err)
				assert.Equal(t, tt.alpha, alpha)
				if tt.parts > 1 {
					_, _, ref, ok := tp.ConcatInfo()
					require.True(t, ok)
					assert.Equal(t, int(tt.ref), ref)
				}
				segs, err = col.Collect(tp)
				require.NoError(t, err)
			}
			require.NotNil(t, segs, "reassembly incomplete")
			got, err := sms.Decode(segs)
			require.NoError(t, err)
			assert.Equal(t, tt.text, string(got))
		})
	}
}

func TestEncodeDeliverBadSender(t *testing.T) {
	for _, from := range []string{"", "+", "abc", "+86 138"} {
		_, err := EncodeDeliver(from, "x", scts, 0)
		assert.Error(t, err, "sender %q", from)
	}
}

func TestNewRejectsZeroCapacity(t *testing.T) {
	_, err := New(WithCapacity(0))
	assert.Error(t, err)
}

// FuzzExecLine checks that any command line, on any profile and with any
// SIM and window condition, gets exactly one result code (or none, only
// where WithCPINNoFinalOK says so) and never panics.
func FuzzExecLine(f *testing.F) {
	seeds := []string{"AT", "ATE0", "AT+CMGL=4", "AT+CNMI=2,1,0,0,0", `AT+CPMS="SM","SM"`,
		"AT+CMGD=1,4", "AT+CMGR=1", `AT+CSCA="+8613800100500",145;+CSQ`, "hello", `AT+CSCS="`,
		"ATE0V1Q0&C1&D2+CMEE=1", "ATS0=0;S7?", "AT^CURC=0", "AT+CPIN?", `AT+CPIN="1234"`, "AT+CMGR=0",
		"AT+CMEE=1;+CREG=2", "AT+MODE=2", `AT+CMGL="ALL"`, "AT+CNMI=?", "AT+CMGD=?", "AT&F;+CPMS=?",
		"ATS", "AT&", "ATS99999999999999999999=1", "AT+", "AT;;;", "AT+CMGD=,4"}
	for i, s := range seeds {
		f.Add(s, uint8(i), uint8(i*37))
	}
	pdus, err := EncodeDeliver("+8613800138000", "hi", scts, 0)
	if err != nil {
		f.Fatal(err)
	}
	msg, err := parsePDU(pdus[0])
	if err != nil {
		f.Fatal(err)
	}
	names := Profiles()
	f.Fuzz(func(t *testing.T, line string, profile, quirks uint8) {
		opts := []Option{WithProfile(names[int(profile)%len(names)])}
		if quirks&1 != 0 {
			opts = append(opts, WithCPINNoFinalOK())
		}
		if quirks&2 != 0 {
			opts = append(opts, WithIndexBase(0), WithMissingStat(), WithAlpha(AlphaMissing))
		}
		switch quirks >> 6 {
		case 1:
			opts = append(opts, WithSIMState(SIMPIN))
		case 2:
			opts = append(opts, WithSIMState(SIMNotInserted))
		}
		cfg, err := buildConfig(opts)
		require.NoError(t, err)
		s := newState(cfg)
		s.put(msg)
		s.cmee = int(quirks>>2) % 3
		s.simBusy = quirks&16 != 0
		s.smsReady = quirks&32 == 0
		r := s.execLine(line)
		text := r.frame(cfg.lineEnding, nil)
		switch {
		case r.final == "":
			assert.True(t, cfg.cpinNoFinalOK, "reply %q to %q has no result code", text, line)
		case r.final == "OK", r.final == "ERROR", r.final == cfg.finalError,
			strings.HasPrefix(r.final, "+CME ERROR: "), strings.HasPrefix(r.final, "+CMS ERROR: "):
		default:
			t.Errorf("reply %q to %q: result %q is not a result code", text, line, r.final)
		}
		assert.True(t, strings.HasSuffix(text, cfg.lineEnding), "reply %q ends a line", text)
	})
}
