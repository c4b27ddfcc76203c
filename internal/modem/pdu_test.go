package modem

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/modemsim"
)

func encode(t *testing.T, from, text string, ref byte) []string {
	t.Helper()
	pdus, err := modemsim.EncodeDeliver(from, text, time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC), ref)
	require.NoError(t, err, "encode %q from %q", text, from)
	return pdus
}

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name, line, prefix  string
		index, stat, length int
		wantErr             bool
	}{
		{"cmgl", "+CMGL: 3,0,,24", "+CMGL:", 3, 0, 24, false},
		{"cmgl quoted alpha", `+CMGL: 1,1,"",27`, "+CMGL:", 1, 1, 27, false},
		{"cmgl alpha with comma", `+CMGL: 1,1,"a,b",27`, "+CMGL:", 1, 1, 27, false},
		{"cmgr", "+CMGR: 1,,24", "+CMGR:", -1, 1, 24, false},
		{"cmgr no space", "+CMGR:0,,24", "+CMGR:", -1, 0, 24, false},
		{"short", "+CMGL: 3", "+CMGL:", 0, 0, 0, true},
		{"bad index", "+CMGL: x,0,,24", "+CMGL:", 0, 0, 0, true},
		{"wrong prefix", "+CMTI: \"SM\",1", "+CMGL:", 0, 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			i, s, l, err := parseHeader(tc.line, tc.prefix)
			if tc.wantErr {
				assert.Error(t, err, "parseHeader(%q)", tc.line)
				return
			}
			require.NoError(t, err, "parseHeader(%q)", tc.line)
			assert.Equal(t, []int{tc.index, tc.stat, tc.length}, []int{i, s, l}, "parseHeader(%q): index, stat, length", tc.line)
		})
	}
}

func TestParseCMTI(t *testing.T) {
	tests := []struct {
		line    string
		want    int
		wantErr bool
	}{
		{`+CMTI: "SM",3`, 3, false},
		{`+CMTI: "ME",0`, 0, false},
		{`+CMTI: SM,12`, 12, false},
		{`+CMTI: 7`, 7, false},
		{`+CMTI: "SM",`, 0, true},
		{`+CMTI: "SM",-1`, 0, true},
		{`+CMT: "SM",1`, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			got, err := parseCMTI(tc.line)
			if tc.wantErr {
				assert.Error(t, err, "parseCMTI(%q) = %d", tc.line, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got, "parseCMTI(%q)", tc.line)
		})
	}
}

func TestParseListing(t *testing.T) {
	a := encode(t, "+8613800138000", "hello", 1)[0]
	b := encode(t, "10658000", "world", 2)[0]
	tests := []struct {
		name     string
		lines    []string
		want     []stored
		wantErrs int
	}{
		{"empty", nil, nil, 0},
		{"two", []string{"+CMGL: 1,0,,20", a, "+CMGL: 2,1,,20", b}, []stored{{1, 0, a}, {2, 1, b}}, 0},
		{"urc between header and pdu", []string{"+CMGL: 1,0,,20", `+CMTI: "SM",5`, a}, []stored{{1, 0, a}}, 0},
		{"vendor urc between entries", []string{"+CMGL: 1,0,,20", a, "^RSSI: 12", "+CMGL: 2,1,,20", b}, []stored{{1, 0, a}, {2, 1, b}}, 0},
		{"missing pdu does not eat next header", []string{"+CMGL: 1,0,,20", "+CMGL: 2,1,,20", b}, []stored{{2, 1, b}}, 1},
		{"bad header", []string{"+CMGL: x,0,,20", a, "+CMGL: 2,1,,20", b}, []stored{{2, 1, b}}, 1},
		{"whitespace", []string{" +CMGL: 1,0,,20 ", " " + a + " "}, []stored{{1, 0, a}}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, errs := parseListing(tc.lines)
			assert.Equal(t, tc.want, got, "parseListing(%q)", tc.lines)
			assert.Len(t, errs, tc.wantErrs, "errors: %v", errs)
		})
	}
}

func TestAssembler(t *testing.T) {
	long := strings.Repeat("【号码绑定支付】终端已开通。", 6) + "BP1 t=STB1 m=138****8000"
	parts := encode(t, "10658000", long, 7)
	require.Len(t, parts, 2, "the test text must need two parts")
	other := encode(t, "+8613900139000", "hi", 8)[0]

	t.Run("out of order with another message between", func(t *testing.T) {
		a := newAssembler()
		_, ok := a.add(stored{index: 4, stat: 0, pdu: parts[1]})
		assert.False(t, ok, "half a message must not complete")
		m, ok := a.add(stored{index: 5, stat: 0, pdu: other})
		require.True(t, ok)
		assert.Equal(t, "hi", m.Text)
		assert.Equal(t, "+8613900139000", m.Sender)
		m, ok = a.add(stored{index: 3, stat: 1, pdu: parts[0]})
		require.True(t, ok, "both parts present")
		require.NoError(t, m.Err)
		assert.Equal(t, long, m.Text)
		assert.Equal(t, "10658000", m.Sender)
		assert.Equal(t, []int{3, 4}, m.Indexes, "indexes in part order")
		assert.Empty(t, a.parts, "nothing left over")
	})
	t.Run("same message same ID", func(t *testing.T) {
		m1, _ := newAssembler().add(stored{index: 5, pdu: other})
		m2, _ := newAssembler().add(stored{index: 5, pdu: other})
		m3, _ := newAssembler().add(stored{index: 6, pdu: other})
		assert.Equal(t, m1.ID, m2.ID)
		assert.NotEqual(t, m1.ID, m3.ID, "another slot is another stored message")
	})
	t.Run("garbage is delivered with an error", func(t *testing.T) {
		m, ok := newAssembler().add(stored{index: 9, pdu: "00FFFF"})
		require.True(t, ok)
		assert.Error(t, m.Err)
		assert.Equal(t, []int{9}, m.Indexes, "so that it can be deleted")
	})
	t.Run("forget drops partial parts of deleted slots", func(t *testing.T) {
		a := newAssembler()
		a.add(stored{index: 4, pdu: parts[1]})
		a.forget([]int{4})
		assert.Empty(t, a.parts)
	})
}

func FuzzParseListing(f *testing.F) {
	f.Add("+CMGL: 1,0,,20\n0791683108100005F0040D91683108108300F00000621152020000000568656C6C6F")
	f.Add("+CMGL: 1,0,,20\n+CMGL: 2,1,,20\nzz")
	f.Add(`+CMTI: "SM",5` + "\n+CMGL: x,,\n\n")
	f.Fuzz(func(t *testing.T, s string) {
		lines := strings.Split(s, "\n")
		got, _ := parseListing(lines)
		a := newAssembler()
		for _, st := range got {
			assert.True(t, isHex(st.pdu), "PDU %q is not hex", st.pdu)
			a.add(st) // must not panic on any PDU
		}
	})
}
