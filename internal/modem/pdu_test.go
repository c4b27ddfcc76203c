package modem

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/modemsim"
)

var scts = time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)

func encode(t *testing.T, from, text string, ref byte) []string {
	t.Helper()
	return encodeAt(t, from, text, scts, ref)
}

func encodeAt(t *testing.T, from, text string, at time.Time, ref byte) []string {
	t.Helper()
	pdus, err := modemsim.EncodeDeliver(from, text, at, ref)
	require.NoError(t, err, "encode %q from %q", text, from)
	return pdus
}

// listed is a slot as the modem lists it, with the true length in its header.
func listed(index, stat int, pdu string) stored {
	st := stored{index: index, stat: stat, pdu: pdu}
	st.length = st.tpduLen()
	return st
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
		{"bad length", "+CMGL: 1,0,,x", "+CMGL:", 0, 0, 0, true},
		{"zero length", "+CMGL: 1,0,,0", "+CMGL:", 0, 0, 0, true},
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
		mem     string
		want    int
		wantErr bool
	}{
		{`+CMTI: "SM",3`, "SM", 3, false},
		{`+CMTI: "ME",0`, "ME", 0, false},
		{`+CMTI: SM,12`, "SM", 12, false},
		{`+CMTI: 7`, "", 7, false},
		{`+CMTI: "SM",`, "", 0, true},
		{`+CMTI: "SM",-1`, "", 0, true},
		{`+CMTI: "SM",1,2`, "", 0, true},
		{`+CMTI: "S1",1`, "", 0, true},
		{`+CMTI: "SM,1`, "", 0, true},
		{`+CMT: "SM",1`, "", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			mem, got, err := parseCMTI(tc.line)
			if tc.wantErr {
				assert.Error(t, err, "parseCMTI(%q) = %q, %d", tc.line, mem, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.mem, mem, "parseCMTI(%q): storage", tc.line)
			assert.Equal(t, tc.want, got, "parseCMTI(%q): index", tc.line)
		})
	}
}

func TestLengthOK(t *testing.T) {
	a := encode(t, "+8613800138000", "hello", 1)[0]
	n := listed(1, 0, a).length
	flipped := a[:len(a)-1] + string("0123456789ABCDEF"[(strings.IndexByte("0123456789ABCDEF", a[len(a)-1])+1)%16])
	tests := []struct {
		name string
		st   stored
		want bool
	}{
		{"true length", stored{pdu: a, length: n}, true},
		{"lower case hex", stored{pdu: strings.ToLower(a), length: n}, true},
		{"one octet short", stored{pdu: a[:len(a)-2], length: n}, false},
		{"stray octet", stored{pdu: a + "00", length: n}, false},
		{"header says more", stored{pdu: a, length: n + 1}, false},
		{"flipped digit keeps the length", stored{pdu: flipped, length: n}, true},
		{"no PDU", stored{length: n}, false},
		{"SMSC longer than the PDU", stored{pdu: "0F00", length: 1}, false},
		{"odd length", stored{pdu: a[:len(a)-1], length: n}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.st.lengthOK(), "%+v", tc.st)
		})
	}
}

func TestParseListing(t *testing.T) {
	a := encode(t, "+8613800138000", "hello", 1)[0]
	b := encode(t, "10658000", "world", 2)[0]
	la, lb := listed(1, 0, a).length, listed(2, 1, b).length
	ha := fmt.Sprintf("+CMGL: 1,0,,%d", la)
	hb := fmt.Sprintf("+CMGL: 2,1,,%d", lb)
	tests := []struct {
		name     string
		lines    []string
		want     []stored
		wantErrs int
	}{
		{"empty", nil, nil, 0},
		{"two", []string{ha, a, hb, b}, []stored{listed(1, 0, a), listed(2, 1, b)}, 0},
		{"urc between header and pdu", []string{ha, `+CMTI: "SM",5`, a}, []stored{listed(1, 0, a)}, 0},
		{"vendor urc between entries", []string{ha, a, "^RSSI: 12", hb, b}, []stored{listed(1, 0, a), listed(2, 1, b)}, 0},
		{"missing pdu does not eat next header", []string{ha, hb, b},
			[]stored{{index: 1, stat: 0, length: la}, listed(2, 1, b)}, 0},
		{"bad header", []string{"+CMGL: x,0,,20", a, hb, b}, []stored{listed(2, 1, b)}, 1},
		{"whitespace", []string{" " + ha + " ", " " + a + " "}, []stored{listed(1, 0, a)}, 0},
		{"stray hex line after a header", []string{ha, "00", a},
			[]stored{{index: 1, stat: 0, pdu: "00", length: la}}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, errs := parseListing(tc.lines)
			assert.Equal(t, tc.want, got, "parseListing(%q)", tc.lines)
			assert.Len(t, errs, tc.wantErrs, "errors: %v", errs)
		})
	}
	t.Run("stray hex line fails the length check", func(t *testing.T) {
		got, _ := parseListing([]string{ha, "00", a})
		require.Len(t, got, 1)
		assert.False(t, got[0].lengthOK(), "read again before anything is made of it")
	})
}

func TestParseRead(t *testing.T) {
	a := encode(t, "+8613800138000", "hello", 1)[0]
	n := listed(1, 0, a).length
	tests := []struct {
		name    string
		lines   []string
		want    stored
		wantErr bool
	}{
		{"plain", []string{fmt.Sprintf("+CMGR: 0,,%d", n), a}, listed(4, 0, a), false},
		{"urc first", []string{`+CMTI: "SM",5`, fmt.Sprintf("+CMGR: 1,,%d", n), a}, listed(4, 1, a), false},
		{"no header", []string{a}, stored{}, true},
		{"no pdu", []string{fmt.Sprintf("+CMGR: 0,,%d", n)}, stored{}, true},
		{"bad header", []string{"+CMGR: x", a}, stored{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRead(4, tc.lines)
			if tc.wantErr {
				assert.Error(t, err, "parseRead(%q) = %+v", tc.lines, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func one(t *testing.T, ms []Message) Message {
	t.Helper()
	require.Len(t, ms, 1, "one message: %+v", ms)
	return ms[0]
}

func TestAssembler(t *testing.T) {
	long := strings.Repeat("【号码绑定支付】终端已开通。", 6) + "BP1 t=STB1 m=138****8000"
	parts := encode(t, "10658000", long, 7)
	require.Len(t, parts, 2, "the test text must need two parts")
	other := encode(t, "+8613900139000", "hi", 8)[0]
	seen := time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)

	t.Run("out of order with another message between", func(t *testing.T) {
		a := newAssembler()
		assert.Empty(t, a.add(stored{index: 4, stat: 0, pdu: parts[1]}, seen), "half a message must not complete")
		m := one(t, a.add(stored{index: 5, stat: 0, pdu: other}, seen))
		assert.Equal(t, "hi", m.Text)
		assert.Equal(t, "+8613900139000", m.Sender)
		m = one(t, a.add(stored{index: 3, stat: 1, pdu: parts[0]}, seen))
		require.NoError(t, m.Err)
		assert.Equal(t, long, m.Text)
		assert.Equal(t, "10658000", m.Sender)
		assert.Equal(t, []int{3, 4}, m.Indexes, "indexes in part order")
		assert.Equal(t, []string{parts[0], parts[1]}, m.pdus, "the bytes it was built from, for Discard")
		assert.Empty(t, a.groups, "nothing left over")
	})
	t.Run("same message same ID", func(t *testing.T) {
		m1 := one(t, newAssembler().add(stored{index: 5, pdu: other}, seen))
		m2 := one(t, newAssembler().add(stored{index: 5, pdu: other}, seen))
		m3 := one(t, newAssembler().add(stored{index: 6, pdu: other}, seen))
		assert.Equal(t, m1.ID, m2.ID)
		assert.NotEqual(t, m1.ID, m3.ID, "another slot is another stored message")
	})
	t.Run("garbage is delivered with an error", func(t *testing.T) {
		m := one(t, newAssembler().add(stored{index: 9, pdu: "00FFFF"}, seen))
		assert.Error(t, m.Err)
		assert.Equal(t, []int{9}, m.Indexes, "so that it can be deleted")
	})
	t.Run("forget drops partial parts of deleted slots", func(t *testing.T) {
		a := newAssembler()
		a.add(stored{index: 4, pdu: parts[1]}, seen)
		a.forget([]int{4})
		assert.Empty(t, a.groups)
	})
	t.Run("the same slot read again changes nothing", func(t *testing.T) {
		a := newAssembler()
		assert.Empty(t, a.add(stored{index: 4, pdu: parts[0]}, seen))
		assert.Empty(t, a.add(stored{index: 4, pdu: parts[0]}, seen.Add(time.Minute)))
		require.Len(t, a.partials(), 1)
		assert.Equal(t, seen, a.partials()[0].seen)
	})
	t.Run("a leftover part with the same reference from another day does not merge", func(t *testing.T) {
		old := encodeAt(t, "10658000", strings.Repeat("另一条旧消息。", 12)+"xx", scts.Add(-30*time.Hour), 7)
		require.Len(t, old, 2)
		a := newAssembler()
		assert.Empty(t, a.add(stored{index: 1, pdu: old[0]}, seen), "yesterday's part 1, its part 2 lost")
		assert.Empty(t, a.add(stored{index: 2, pdu: parts[1]}, seen))
		m := one(t, a.add(stored{index: 3, pdu: parts[0]}, seen))
		require.NoError(t, m.Err)
		assert.Equal(t, long, m.Text, "the real message, whole")
		assert.Equal(t, []int{3, 2}, m.Indexes)
		ps := a.partials()
		require.Len(t, ps, 1, "the leftover stays on its own")
		assert.Equal(t, "part 1 of 2 from 10658000 ref 7", ps[0].g.describe())
	})
	t.Run("another sender with the same reference does not merge", func(t *testing.T) {
		foreign := encode(t, "10690000", long, 7)
		a := newAssembler()
		assert.Empty(t, a.add(stored{index: 1, pdu: foreign[0]}, seen))
		assert.Empty(t, a.add(stored{index: 2, pdu: parts[1]}, seen))
		assert.Len(t, a.partials(), 2)
	})
	t.Run("a duplicate part frees its older slot", func(t *testing.T) {
		a := newAssembler()
		assert.Empty(t, a.add(stored{index: 1, pdu: parts[0]}, seen))
		dup := one(t, a.add(stored{index: 2, pdu: parts[0]}, seen.Add(time.Minute)))
		require.ErrorIs(t, dup.Err, ErrDuplicatePart)
		assert.Equal(t, []int{1}, dup.Indexes, "the older slot")
		assert.Equal(t, "10658000", dup.Sender)
		assert.Contains(t, dup.Err.Error(), "part 1 of 2 from 10658000 ref 7, again in slot 2")
		m := one(t, a.add(stored{index: 3, pdu: parts[1]}, seen))
		require.NoError(t, m.Err)
		assert.Equal(t, []int{2, 3}, m.Indexes, "the message whole, from the newer slot")
		assert.Empty(t, a.groups)
	})
	t.Run("a copy of a part of a complete message is what goes", func(t *testing.T) {
		a := newAssembler()
		assert.Empty(t, a.add(stored{index: 1, pdu: parts[0]}, seen))
		m := one(t, a.add(stored{index: 2, pdu: parts[1]}, seen))
		require.NoError(t, m.Err)
		assert.Empty(t, a.add(stored{index: 1, pdu: parts[0]}, seen), "a part of it read again")
		dup := one(t, a.add(stored{index: 3, pdu: parts[0]}, seen))
		require.ErrorIs(t, dup.Err, ErrDuplicatePart)
		assert.Equal(t, []int{3}, dup.Indexes, "the copy")
		assert.Contains(t, dup.Err.Error(), "already in slot 1")
		assert.Empty(t, a.groups, "no partial made of it")
	})
	t.Run("a duplicate seen first is still the newer by the centre's stamp", func(t *testing.T) {
		later := encodeAt(t, "10658000", long, scts.Add(time.Minute), 7)
		a := newAssembler()
		assert.Empty(t, a.add(stored{index: 1, pdu: later[0]}, seen))
		dup := one(t, a.add(stored{index: 2, pdu: parts[0]}, seen.Add(time.Minute)))
		require.ErrorIs(t, dup.Err, ErrDuplicatePart)
		assert.Equal(t, []int{2}, dup.Indexes, "stamped earlier: the older")
	})
	t.Run("candidate of an incomplete group", func(t *testing.T) {
		a := newAssembler()
		a.add(stored{index: 6, pdu: parts[1]}, seen)
		ps := a.partials()
		require.Len(t, ps, 1)
		c := ps[0].g.candidate(fmt.Errorf("%w: %s, kept 24h", ErrIncomplete, ps[0].g.describe()))
		assert.ErrorIs(t, c.Err, ErrIncomplete)
		assert.Equal(t, "incomplete message: part 2 of 2 from 10658000 ref 7, kept 24h", c.Err.Error())
		assert.Equal(t, []int{6}, c.Indexes)
		assert.Equal(t, []string{parts[1]}, c.pdus)
		assert.Equal(t, "10658000", c.Sender)
	})
}

func TestEvictPartials(t *testing.T) {
	now := time.Date(2026, 11, 26, 20, 0, 0, 0, time.UTC)
	ttl := 24 * time.Hour
	p := func(age time.Duration, slots int) partial {
		return partial{g: &group{}, seen: now.Add(-age), slots: slots}
	}
	tests := []struct {
		name        string
		ps          []partial // oldest first
		used, total int
		want        []eviction
	}{
		{"nothing", nil, 3, 30, nil},
		{"young, storage roomy", []partial{p(time.Hour, 1)}, 10, 30, nil},
		{"kept the whole ttl", []partial{p(ttl, 1), p(time.Hour, 1)}, 10, 30, []eviction{{0, "kept 24h"}}},
		{"storage unknown: only the ttl", []partial{p(time.Hour, 1)}, 0, 0, nil},
		{"exactly 80 %: not over", []partial{p(time.Hour, 1)}, 24, 30, nil},
		{"over 80 %: oldest first until not over", []partial{p(3*time.Hour, 1), p(2*time.Hour, 1), p(time.Hour, 1)}, 26, 30,
			[]eviction{{0, "storage over 80% full (26 of 30)"}, {1, "storage over 80% full (25 of 30)"}}},
		{"expired ones count towards the room", []partial{p(25*time.Hour, 2), p(time.Hour, 1)}, 26, 30,
			[]eviction{{0, "kept 24h"}}},
		{"a small storage full of partials: the oldest goes", []partial{p(4*time.Hour, 1), p(3*time.Hour, 1), p(2*time.Hour, 1)}, 3, 3,
			[]eviction{{0, "storage over 80% full (3 of 3)"}}},
		{"full with other messages: every partial goes", []partial{p(4*time.Hour, 1), p(3*time.Hour, 2)}, 30, 30,
			[]eviction{{0, "storage over 80% full (30 of 30)"}, {1, "storage over 80% full (29 of 30)"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, evictPartials(tc.ps, now, ttl, tc.used, tc.total))
		})
	}
}

// FuzzParseListing: any listing parses without a panic; every slot it
// returns either passes the length check or is read again; a slot that
// passes has a PDU of exactly its header's length; the assembler takes
// whatever passes.
func FuzzParseListing(f *testing.F) {
	a := "0791683108100005F0040D91683108108300F00000621152020000000568656C6C6F"
	f.Add("+CMGL: 1,0,,25\n" + a)
	f.Add("+CMGL: 1,0,,24\n" + a)
	f.Add("+CMGL: 1,0,,25\n00\n" + a)
	f.Add("+CMGL: 1,0,,20\n+CMGL: 2,1,,20\nzz")
	f.Add(`+CMTI: "SM",5` + "\n+CMGL: x,,\n\n")
	f.Add("+CMGL: 1,,,25\n^RSSI: 12\n" + a + "\n+CMGL: 2,3,\"a,b\",25\n" + a)
	f.Fuzz(func(t *testing.T, s string) {
		lines := strings.Split(s, "\n")
		got, _ := parseListing(lines)
		asm := newAssembler()
		for _, st := range got {
			if !st.lengthOK() {
				continue
			}
			assert.True(t, isHex(st.pdu), "PDU %q is not hex", st.pdu)
			assert.Equal(t, st.length, st.tpduLen(), "a slot that passes has its header's length")
			asm.add(st, time.Time{}) // must not panic on any PDU
		}
	})
}

// FuzzParseRead: as FuzzParseListing, for an AT+CMGR reply.
func FuzzParseRead(f *testing.F) {
	a := "0791683108100005F0040D91683108108300F00000621152020000000568656C6C6F"
	f.Add("+CMGR: 0,,25\n" + a)
	f.Add("+CMGR: ,\"\",25\n" + a)
	f.Add("+CMGR: 0,,26\n" + a)
	f.Add("+CMTI: \"SM\",1\n+CMGR: 1,,2\n00FF")
	f.Fuzz(func(t *testing.T, s string) {
		st, err := parseRead(3, strings.Split(s, "\n"))
		if err != nil {
			return
		}
		assert.Equal(t, 3, st.index)
		assert.True(t, isHex(st.pdu), "PDU %q is not hex", st.pdu)
		if st.lengthOK() {
			assert.Equal(t, st.length, st.tpduLen())
			newAssembler().add(st, time.Time{})
		}
	})
}
