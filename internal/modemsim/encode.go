package modemsim

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/gsm7/charset"
	"github.com/warthog618/sms/encoding/pdumode"
	"github.com/warthog618/sms/encoding/tpdu"
)

// warthog618/sms v0.3.0 builds its GSM 7-bit encoding tables lazily, on
// first use, without a lock: two goroutines encoding at once for the first
// time race (netsim's HTTP handlers do). Built here, once, before any
// goroutine can encode.
func init() {
	charset.DefaultEncoder()
	charset.DefaultExtEncoder()
}

// EncodeDeliver builds the SMS-DELIVER PDUs, in PDU-mode hex with the
// DefaultSMSC address, that a network would deliver for text sent by from.
//
// from is an international number when it starts with '+' (TOA 145), else a
// number of unknown type (TOA 129), as short codes such as "10658000" arrive.
// The text is GSM 7-bit when it fits the default alphabet, else UCS2. A long
// text is split into concatenated parts that carry the 8-bit reference
// concatRef. scts is the service centre time stamp (second resolution, with
// its zone offset).
func EncodeDeliver(from, text string, scts time.Time, concatRef byte) ([]string, error) {
	num := strings.TrimPrefix(from, "+")
	if num == "" || strings.Trim(num, "0123456789") != "" {
		return nil, fmt.Errorf("encode deliver: sender %q: want digits with an optional leading '+'", from)
	}
	oa := tpdu.NewAddress(tpdu.FromNumber(num))
	if !strings.HasPrefix(from, "+") {
		oa.SetTypeOfNumber(tpdu.TonUnknown)
	}
	return encodeDeliver(oa, text, scts, concatRef)
}

// EncodeDeliverAlpha is EncodeDeliver from an alphanumeric sender (type of
// number 5): a name of at most 11 GSM characters, such as "BindPay", or
// digits that only look like a number ("10658000"), as a spoofer can send.
func EncodeDeliverAlpha(name, text string, scts time.Time, concatRef byte) ([]string, error) {
	if name == "" || len(name) > 11 {
		return nil, fmt.Errorf("encode deliver: alphanumeric sender %q: want 1 to 11 characters", name)
	}
	oa := tpdu.NewAddress()
	oa.SetTypeOfNumber(tpdu.TonAlphanumeric)
	oa.SetNumberingPlan(tpdu.NpUnknown)
	oa.Addr = name
	return encodeDeliver(oa, text, scts, concatRef)
}

func encodeDeliver(oa tpdu.Address, text string, scts time.Time, concatRef byte) ([]string, error) {
	t, err := tpdu.NewDeliver(tpdu.WithOA(oa))
	if err != nil {
		return nil, fmt.Errorf("encode deliver: %w", err)
	}
	t.SCTS = tpdu.Timestamp{Time: scts}
	var parts []tpdu.TPDU
	if text == "" {
		parts = []tpdu.TPDU{*t} // an empty SMS is one PDU with no user data
	} else {
		e := sms.NewEncoder(sms.WithTemplate(*t))
		e.ConcatRef = fixedRef(concatRef)
		parts, err = e.Encode([]byte(text))
		if err != nil {
			return nil, fmt.Errorf("encode deliver: %w", err)
		}
	}
	if len(parts) == 0 {
		return nil, errors.New("encode deliver: no PDU produced")
	}
	smsc := pdumode.SMSCAddress{Address: tpdu.NewAddress(tpdu.FromNumber(DefaultSMSC))}
	out := make([]string, 0, len(parts))
	for i := range parts {
		b, err := parts[i].MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("encode deliver: part %d: %w", i+1, err)
		}
		p := pdumode.PDU{SMSC: smsc, TPDU: b}
		h, err := p.MarshalHexString()
		if err != nil {
			return nil, fmt.Errorf("encode deliver: part %d: %w", i+1, err)
		}
		out = append(out, strings.ToUpper(h))
	}
	return out, nil
}

// fixedRef is a tpdu.Counter that always yields the caller's concatenation
// reference, so that tests and the network simulator choose it.
type fixedRef byte

func (r fixedRef) Count() int { return int(r) }
