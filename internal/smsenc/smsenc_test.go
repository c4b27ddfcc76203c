package smsenc

import (
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/pdumode"
	"github.com/warthog618/sms/encoding/tpdu"
)

const confirmation = "【号码绑定支付】终端STB0012345678已开通，绑定号码138****8000。BP1 t=STB0012345678 m=138****8000 n=q8x3k2 s=FWC0YGwf5vt1dIPLmlT2ww"

func TestSplit(t *testing.T) {
	cases := []struct {
		name  string
		text  string
		parts int
	}{
		{"short ASCII is still UCS2, one part", "BindPay: activated.", 1},
		{"70 units fit one part", strings.Repeat("码", 70), 1},
		{"71 units need two", strings.Repeat("码", 71), 2},
		{"the confirmation is two parts", confirmation, 2},
		{"134 units: two parts of 67", strings.Repeat("a", 134), 2},
		{"135 units: three", strings.Repeat("a", 135), 3},
		{"astral characters are never split", strings.Repeat("😀", 40), 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parts, err := Split(c.text)
			require.NoError(t, err)
			assert.Len(t, parts, c.parts)
			assert.Equal(t, c.text, strings.Join(parts, ""), "the parts make the text")
			for _, p := range parts {
				n := len(utf16.Encode([]rune(p)))
				if c.parts > 1 {
					assert.LessOrEqual(t, n, 67)
				} else {
					assert.LessOrEqual(t, n, 70)
				}
			}
		})
	}
	_, err := Split(strings.Repeat("码", 67*MaxParts+1))
	require.ErrorIs(t, err, ErrTooLong)
	_, err = Split("")
	require.Error(t, err)
}

// TestDeliverRoundTrip: the parts, encoded one by one, decode (as a modem
// and the agent decode them) to the original text from the sender.
func TestDeliverRoundTrip(t *testing.T) {
	parts, err := Split(confirmation)
	require.NoError(t, err)
	scts := time.Date(2026, 11, 25, 20, 0, 0, 0, time.FixedZone("", 8*3600))
	var segs []*tpdu.TPDU
	for i, p := range parts {
		h, err := Deliver("10658000", p, Concat{Ref: 42, Seq: i + 1, Total: len(parts)}, scts, "+8613800100500")
		require.NoError(t, err)
		pdu, err := pdumode.UnmarshalHexString(h)
		require.NoError(t, err)
		seg, err := sms.Unmarshal(pdu.TPDU)
		require.NoError(t, err)
		assert.Equal(t, "10658000", seg.OA.Number())
		n, seq, ref, ok := seg.ConcatInfo()
		require.True(t, ok)
		assert.Equal(t, []int{2, i + 1, 42}, []int{n, seq, ref})
		segs = append(segs, seg)
	}
	msg, err := sms.Decode(segs)
	require.NoError(t, err)
	assert.Equal(t, confirmation, string(msg))

	single, err := Deliver("+8610658000", "hi", Concat{Seq: 1, Total: 1}, scts, "+8613800100500")
	require.NoError(t, err)
	pdu, err := pdumode.UnmarshalHexString(single)
	require.NoError(t, err)
	seg, err := sms.Unmarshal(pdu.TPDU)
	require.NoError(t, err)
	assert.True(t, seg.IsSingleSegment())
	msg, err = sms.Decode([]*tpdu.TPDU{seg})
	require.NoError(t, err)
	assert.Equal(t, "hi", string(msg))

	_, err = Deliver("BindPay", "hi", Concat{Seq: 1, Total: 1}, scts, "+8613800100500")
	require.Error(t, err)
	_, err = Deliver("10658000", strings.Repeat("码", 68), Concat{Seq: 1, Total: 2}, scts, "+8613800100500")
	require.Error(t, err, "a part longer than fits")
}
