package modem

import (
	"bytes"
	"io"
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
