package modem

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chunks is a reader that returns its chunks one Read at a time, as a
// serial port hands over whatever has arrived.
type chunks struct{ c []string }

func (r *chunks) Read(p []byte) (int, error) {
	if len(r.c) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.c[0])
	r.c[0] = r.c[0][n:]
	if r.c[0] == "" {
		r.c = r.c[1:]
	}
	return n, nil
}

func TestLineFilter(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want string
	}{
		{"crlf", []string{"\r\nOK\r\n"}, "OK\n"},
		{"cr cr lf", []string{"\r\r\n+CSQ: 20,99\r\r\n\r\r\nOK\r\r\n"}, "+CSQ: 20,99\nOK\n"},
		{"bare lf", []string{"+CPIN: READY\nOK\n"}, "+CPIN: READY\nOK\n"},
		{"split across reads", []string{"+CM", "TI: \"SM\",", "3\r", "\n"}, "+CMTI: \"SM\",3\n"},
		{"garbage dropped", []string{"\x00\xff\xfeOK\x00\r\n"}, "OK\n"},
		{"echo of ESC dropped", []string{"\x1b\r\nATE0\r\r\nOK\r\n"}, "ATE0\nOK\n"},
		{"non-standard final", []string{"\r\nCOMMAND NOT SUPPORT\r\n"}, "ERROR\n"},
		{"prompt without line end", []string{"\r\n> "}, "> "},
		{"surrounding blanks trimmed", []string{"  OK  \r\n"}, "OK\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newLineFilter(&chunks{c: append([]string(nil), tc.in...)}, time.Now, nil)
			got, err := io.ReadAll(f)
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got), "input %q", tc.in)
		})
	}
}

func TestLineFilterQuiet(t *testing.T) {
	now := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	f := newLineFilter(bytes.NewReader([]byte("OK\r\n")), func() time.Time { return now }, nil)
	assert.Greater(t, f.quietFor(), time.Hour, "nothing received yet: quiet")
	buf := make([]byte, 16)
	_, err := f.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, time.Duration(0), f.quietFor())
	now = now.Add(200 * time.Millisecond)
	assert.Equal(t, 200*time.Millisecond, f.quietFor())
}

func TestCNMICandidates(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"(0-2),(0-3),(0,2),(0-2),(0,1)", []string{"2,1,0,0,0", "1,1,0,0,0"}},
		{"(0,1,2),(0,1,2,3),(0,2),(0,1,2),(0,1)", []string{"2,1,0,0,0", "1,1,0,0,0"}},
		{"(1),(0,1),(0),(0),(0)", []string{"1,1,0,0,0"}},
		{"(0-3),(1),(2),(1),(1)", []string{"2,1,2,1,1", "1,1,2,1,1", "3,1,2,1,1"}},
		{"(0-2),(0,2,3),(0),(0),(0)", nil}, // no +CMTI delivery
		{"", nil},
		{"garbage", nil},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			assert.Equal(t, tc.want, cnmiCandidates(tc.in), "cnmiCandidates(%q)", tc.in)
		})
	}
}

func TestParseHeaderVariants(t *testing.T) {
	tests := []struct {
		line, prefix        string
		index, stat, length int
	}{
		{`+CMGL: 0,0,,24`, "+CMGL:", 0, 0, 24},
		{`+CMGL: 1,0,"",24`, "+CMGL:", 1, 0, 24},
		{`+CMGL: 1,0,24`, "+CMGL:", 1, 0, 24},
		{`+CMGL: 1,,,24`, "+CMGL:", 1, -1, 24},
		{`+CMGR: ,,24`, "+CMGR:", -1, -1, 24},
		{`+CMGR: 0,"",24`, "+CMGR:", -1, 0, 24},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			i, s, l, err := parseHeader(tc.line, tc.prefix)
			require.NoError(t, err)
			assert.Equal(t, []int{tc.index, tc.stat, tc.length}, []int{i, s, l}, "parseHeader(%q)", tc.line)
		})
	}
}

func TestIsSubmit(t *testing.T) {
	deliver := encode(t, "10658000", "hi", 1)[0]
	assert.False(t, isSubmit(deliver))
	assert.True(t, isSubmit("0011000D91683108108300F00000AA0568656C6C6F"), "an SMS-SUBMIT (MTI 1)")
	assert.False(t, isSubmit("zz"), "garbage is not a stored outgoing message")
}

func TestLineFilterBounds(t *testing.T) {
	long := strings.Repeat("A", maxLine+1)
	tests := []struct {
		name  string
		in    []string
		want  string
		stats filterStats
	}{
		{"longest line passes", []string{strings.Repeat("B", maxLine) + "\r\nOK\r\n"},
			strings.Repeat("B", maxLine) + "\nOK\n", filterStats{}},
		{"over-long line dropped up to its end", []string{long + "\r\nOK\r\n"}, "OK\n",
			filterStats{LongLines: 1, LongBytes: maxLine + 1}},
		{"split across reads, counted once", []string{long[:300], long[300:], long, "\r\nOK\r\n"}, "OK\n",
			filterStats{LongLines: 1, LongBytes: 2*maxLine + 2}},
		{"a line without an end is never passed on", []string{long, long, long}, "",
			filterStats{LongLines: 1, LongBytes: 3*maxLine + 3}},
		{"two over-long lines", []string{long + "\n" + long + "\nOK\n"}, "OK\n",
			filterStats{LongLines: 2, LongBytes: 2*maxLine + 2}},
		{"over-long line does not make a prompt", []string{long + "> "}, "",
			filterStats{LongLines: 1, LongBytes: maxLine + 3}},
		{"reply cut in lines, its final passes", []string{strings.Repeat("L\r\n", maxReplyLines+5) + "OK\r\n"},
			strings.Repeat("L\n", maxReplyLines) + "OK\n", filterStats{CutReplies: 1, CutLines: 5}},
		{"reply cut in bytes", []string{strings.Repeat(strings.Repeat("P", 511)+"\n", maxReplyBytes/512+3) + "+CMS ERROR: 500\n"},
			strings.Repeat(strings.Repeat("P", 511)+"\n", maxReplyBytes/512) + "+CMS ERROR: 500\n",
			filterStats{CutReplies: 1, CutLines: 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newLineFilter(&chunks{c: append([]string(nil), tc.in...)}, time.Now, nil)
			got, err := io.ReadAll(f)
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got), "input %.80q", tc.in)
			assert.Equal(t, tc.stats, f.counts())
		})
	}
}

func TestLineFilterReplyCountResetsOnWrite(t *testing.T) {
	f := newLineFilter(&chunks{}, time.Now, nil)
	var out []byte
	for range maxReplyLines {
		f.filter([]byte("X\n"))
	}
	f.filter([]byte("dropped\n"))
	assert.True(t, f.takeTruncated())
	assert.False(t, f.takeTruncated(), "taken")
	writer{w: io.Discard, f: f}.Write([]byte("AT\r"))
	f.filter([]byte("kept\n"))
	out = f.out
	assert.True(t, strings.HasSuffix(string(out), "X\nkept\n"), "a new command starts a new count")
	assert.False(t, f.takeTruncated())
}

func TestLineFilterTakesURCs(t *testing.T) {
	var taken []string
	urc := func(l []byte) bool {
		if bytes.HasPrefix(l, []byte("+CMTI:")) {
			taken = append(taken, string(l))
			return true
		}
		return false
	}
	in := "+CMGL: 1,0,,20\r\n+CMTI: \"SM\",5\r\n0791\r\n" + strings.Repeat("+CMTI: \"SM\",1\r\n", maxReplyLines+10) + "OK\r\n"
	f := newLineFilter(&chunks{c: []string{in}}, time.Now, urc)
	got, err := io.ReadAll(f)
	require.NoError(t, err)
	assert.Equal(t, "+CMGL: 1,0,,20\n0791\nOK\n", string(got), "indications never reach package at")
	assert.Len(t, taken, maxReplyLines+11, "and never count towards a reply")
}

func TestIndicationsCoalesce(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  pendingIndications
	}{
		{"one", []string{`+CMTI: "SM",3`}, pendingIndications{Indexes: []int{3}}},
		{"repeats collapse", []string{`+CMTI: "SM",3`, `+CMTI: "SM",3`, `+CMTI: "SM",4`, `+CMTI: "SM",3`},
			pendingIndications{Indexes: []int{3, 4}}},
		{"no storage named", []string{`+CMTI: 7`}, pendingIndications{Indexes: []int{7}}},
		{"storage names are case-blind", []string{`+CMTI: "sm",2`}, pendingIndications{Indexes: []int{2}}},
		{"garbled: re-scan", []string{`+CMTI: "SM",x`, `+CMTI: "SM",1`},
			pendingIndications{Indexes: []int{1}, Rescan: true, Garbled: `+CMTI: "SM",x`}},
		{"absurd index: re-scan", []string{`+CMTI: "SM",123456`},
			pendingIndications{Rescan: true, Garbled: `+CMTI: "SM",123456`}},
		{"another storage is not read by index", []string{`+CMTI: "ME",3`},
			pendingIndications{Rescan: true, Foreign: "ME"}},
		{"too many distinct indexes: re-scan", func() []string {
			var l []string
			for i := range maxPendingIndexes + 1 {
				l = append(l, fmt.Sprintf(`+CMTI: "SM",%d`, i))
			}
			return l
		}(), pendingIndications{Rescan: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &Session{readMem: "SM", wake: make(chan struct{}, 1)}
			for _, l := range tc.lines {
				s.onCMTI([]byte(l))
			}
			assert.Len(t, s.wake, 1, "one wake-up however many lines")
			assert.Equal(t, tc.want, s.takeIndications())
			assert.Equal(t, pendingIndications{}, s.takeIndications(), "taken")
		})
	}
}

func TestParseCPMS(t *testing.T) {
	tests := []struct {
		in      string
		want    storageState
		wantErr bool
	}{
		{`"SM",3,30,"SM",3,30,"SM",3,30`, storageState{"SM", 3, 30}, false},
		{`"ME",1,100,"ME",1,100,"SM",28,30`, storageState{"ME", 28, 30}, false},
		{`"SM",3,30`, storageState{"SM", 3, 30}, false},
		{`3,30,3,30,3,30`, storageState{"", 3, 30}, false},
		{`"SM",x,30`, storageState{}, true},
		{``, storageState{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseCPMS(tc.in)
			if tc.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestListTimeoutGrows(t *testing.T) {
	assert.Less(t, listTimeout(30, 115200), listTimeout(255, 115200), "more slots, more time")
	assert.Less(t, listTimeout(255, 115200), listTimeout(255, 9600), "lower baud, more time")
	assert.Equal(t, listTimeout(255, 9600), listTimeout(0, 9600), "unknown size: the largest SIM")
	assert.Greater(t, listTimeout(255, 9600), time.Duration(255*2*maxLine*10)*time.Second/9600, "at least the wire time")
}

// FuzzLineFilter: whatever the modem sends, in whatever pieces, the filter
// passes on only printable lines of at most maxLine bytes, each ending in
// "\n" (a "> " prompt excepted), never more than the reply caps, and
// indications never.
func FuzzLineFilter(f *testing.F) {
	f.Add("\r\nOK\r\n", 3)
	f.Add("\r\r\n+CSQ: 20,99\r\r\n\r\r\nOK\r\r\n", 1)
	f.Add("+CM"+"TI: \"SM\",3\r\n", 2)
	f.Add("\x00\xff\xfeOK\x00\r\n", 5)
	f.Add("\r\nCOMMAND NOT SUPPORT\r\n\r\n> ", 7)
	f.Add(strings.Repeat("A", maxLine+3)+"\r\nOK\r\n", 64)
	f.Add(strings.Repeat("L\n", 50)+"+CMS ERROR: 321\n", 9)
	f.Fuzz(func(t *testing.T, in string, piece int) {
		piece = max(1, piece%97+1)
		var c []string
		for s := in; s != ""; {
			n := min(piece, len(s))
			c = append(c, s[:n])
			s = s[n:]
		}
		f := newLineFilter(&chunks{c: c}, time.Now, func(l []byte) bool { return bytes.HasPrefix(l, []byte("+CMTI:")) })
		got, err := io.ReadAll(f)
		require.NoError(t, err)
		lines := strings.Split(string(got), "\n")
		assert.LessOrEqual(t, len(lines)-1, maxReplyLines+strings.Count(in, "\n")+strings.Count(in, "\r"))
		for i, l := range lines {
			for len(l) > 0 && l[0] == '>' { // prompts have no line end
				l = strings.TrimLeft(strings.TrimPrefix(l, ">"), " ")
			}
			if i == len(lines)-1 && l != "" {
				t.Fatalf("output does not end with a line end: %q", got)
			}
			assert.LessOrEqual(t, len(l), maxLine, "line %q", l)
			assert.False(t, strings.HasPrefix(l, "+CMTI:"), "indication passed on: %q", l)
			for j := 0; j < len(l); j++ {
				assert.True(t, l[j] >= 0x20 && l[j] < 0x7f, "unprintable byte in %q", l)
			}
		}
	})
}

// A storm of indications costs no memory: the filter and the Session take
// a repeated +CMTI without allocating.
func TestIndicationStormAllocatesNothing(t *testing.T) {
	s := &Session{readMem: "SM", wake: make(chan struct{}, 1), resets: make(chan struct{}, 1)}
	s.filter = newLineFilter(&chunks{}, time.Now, s.onURC)
	chunk := []byte(strings.Repeat("\r\n+CMTI: \"SM\",1\r\n", 20))
	s.filter.filter(chunk) // the first one remembers index 1
	allocs := testing.AllocsPerRun(100, func() { s.filter.filter(chunk) })
	assert.Zero(t, allocs, "allocations per 20 repeated +CMTI lines")
	assert.Equal(t, pendingIndications{Indexes: []int{1}}, s.takeIndications())
}
