package modemsim

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCorruptListingAndRead(t *testing.T) {
	pdu := encode(t, "+8613800138000", "hello", 0)[0]
	tpduLen := len(pdu)/2 - 9 // the default SMSC address takes 9 octets with its length
	const hexDigits = "0123456789ABCDEF"
	flipped := pdu[:len(pdu)-1] + string(hexDigits[(strings.IndexByte(hexDigits, pdu[len(pdu)-1])+1)%16])
	require.NotEqual(t, pdu, flipped)
	tests := []struct {
		name, kind  string
		list, read  int
		wantListing []string // the lines of two listings
		wantRead    []string // of two reads
	}{
		{"flip once in a listing", CorruptFlip, 1, 0,
			[]string{flipped, pdu}, []string{pdu, pdu}},
		{"short twice in reads", CorruptShort, 0, 2,
			[]string{pdu, pdu}, []string{pdu[:len(pdu)-2], pdu[:len(pdu)-2]}},
		{"stray line once in a listing", CorruptStray, 1, 0,
			[]string{"00", pdu, pdu}, []string{pdu, pdu}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newModem(t)
			idx, err := m.Store(pdu)
			require.NoError(t, err)
			if tc.list > 0 {
				require.NoError(t, m.CorruptListing(idx[0], tc.kind, tc.list))
			}
			if tc.read > 0 {
				require.NoError(t, m.CorruptRead(idx[0], tc.kind, tc.read))
			}
			c := dial(t, m)
			header := fmt.Sprintf("+CMGL: 1,%%d,,%d", tpduLen)
			var listings, reads []string
			for i := range 2 {
				info := c.cmd(t, "+CMGL=4")
				require.Equal(t, fmt.Sprintf(header, min(i, 1)), info[0], "the header keeps the true length")
				listings = append(listings, info[1:]...)
				info = c.cmd(t, "+CMGR=1")
				reads = append(reads, info[1:]...)
			}
			assert.Equal(t, tc.wantListing, listings)
			assert.Equal(t, tc.wantRead, reads)
		})
	}
	t.Run("unknown kind", func(t *testing.T) {
		assert.Error(t, newModem(t).CorruptListing(1, "melt", 1))
	})
}

func TestStoreDraft(t *testing.T) {
	m := newModem(t)
	draft, err := EncodeSubmit("13800138000", "draft")
	require.NoError(t, err)
	idx, err := m.StoreDraft(draft)
	require.NoError(t, err)
	assert.Equal(t, []int{1}, idx)
	assert.Equal(t, []Slot{{Index: 1, Stat: 2, PDU: draft}}, m.Stored())
	c := dial(t, m)
	info := c.cmd(t, "+CMGL=4")
	require.Len(t, info, 2)
	assert.True(t, strings.HasPrefix(info[0], "+CMGL: 1,2,"), "listed as stored unsent: %q", info[0])
	_, err = EncodeSubmit("x", "draft")
	assert.Error(t, err)
}

func TestInjectStormAndEndlessLine(t *testing.T) {
	m := newModem(t, WithEchoAtPowerOn(false))
	r := openRaw(t, m)
	m.InjectStorm(`+CMTI: "SM",1`, 3)
	r.expect(t, strings.Repeat("\r\n+CMTI: \"SM\",1\r\n", 3))
	m.InjectEndlessLine(100)
	got := r.await(t, "100 bytes", func(got string) bool { return len(got) >= 100 })
	assert.Len(t, got, 100)
	assert.NotContains(t, got, "\n", "no line end")
	r.send(t, "AT\r")
	r.expect(t, "\r\nOK\r\n")
}
