// Package smsenc cuts the platform's MT texts into SMS parts and encodes a
// part as the SMS-DELIVER PDU a terminal's modem receives. Every platform
// MT is UCS2 (Kannel's coding=2): 70 UTF-16 units in a single part, 67 per
// part of a concatenated message, never splitting a character — the
// segmentation of github.com/warthog618/sms, the library modemsim encodes
// with too. Pure functions, no state.
package smsenc

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/pdumode"
	"github.com/warthog618/sms/encoding/tpdu"
	"github.com/warthog618/sms/encoding/ucs2"
)

// MaxParts bounds a message: a longer text is refused rather than sent
// as a flood of parts.
const MaxParts = 8

// ErrTooLong: the text needs more than MaxParts parts.
var ErrTooLong = errors.New("text too long for an SMS")

// Split returns the texts of the UCS2 parts of text, in order.
func Split(text string) ([]string, error) {
	if text == "" {
		return nil, errors.New("smsenc: empty text")
	}
	pdus, err := sms.Encode(ucs2.Encode([]rune(text)), sms.AsUCS2)
	if err != nil {
		return nil, fmt.Errorf("smsenc: %w", err)
	}
	if len(pdus) > MaxParts {
		return nil, fmt.Errorf("smsenc: %w: %d parts, at most %d", ErrTooLong, len(pdus), MaxParts)
	}
	out := make([]string, len(pdus))
	for i := range pdus {
		r, err := ucs2.Decode(pdus[i].UD)
		if err != nil {
			return nil, fmt.Errorf("smsenc: part %d: %w", i+1, err)
		}
		out[i] = string(r)
	}
	return out, nil
}

// Concat is a part's place in a concatenated message.
type Concat struct {
	Ref        byte // the message's 8-bit reference, the same in every part
	Seq, Total int  // 1-based; Total 1 means a single-part message
}

// Deliver encodes one part (its text as Split returned it) as an
// SMS-DELIVER PDU in PDU-mode hex: from the sender from (an international
// number when it starts with '+', else of unknown type as short codes
// arrive), UCS2, with a concatenation header when c.Total > 1, through
// the SMS centre smsc.
func Deliver(from, text string, c Concat, scts time.Time, smsc string) (string, error) {
	num := strings.TrimPrefix(from, "+")
	if num == "" || strings.Trim(num, "0123456789") != "" {
		return "", fmt.Errorf("smsenc: sender %q: want digits with an optional leading '+'", from)
	}
	if c.Total < 1 || c.Total > MaxParts || c.Seq < 1 || c.Seq > c.Total {
		return "", fmt.Errorf("smsenc: part %d of %d: out of range", c.Seq, c.Total)
	}
	oa := tpdu.NewAddress(tpdu.FromNumber(num))
	if !strings.HasPrefix(from, "+") {
		oa.SetTypeOfNumber(tpdu.TonUnknown)
	}
	t, err := tpdu.NewDeliver(tpdu.WithOA(oa))
	if err != nil {
		return "", fmt.Errorf("smsenc: %w", err)
	}
	t.SCTS = tpdu.Timestamp{Time: scts}
	t.SetDCS(byte(tpdu.DcsUCS2Data))
	ud := ucs2.Encode([]rune(text))
	if c.Total > 1 {
		t.SetUDH(tpdu.UserDataHeader{{ID: 0, Data: []byte{c.Ref, byte(c.Total), byte(c.Seq)}}})
	}
	if len(ud) > t.UDBlockSize() {
		return "", fmt.Errorf("smsenc: part %d of %d: %d octets, at most %d fit", c.Seq, c.Total, len(ud), t.UDBlockSize())
	}
	t.UD = ud
	b, err := t.MarshalBinary()
	if err != nil {
		return "", fmt.Errorf("smsenc: %w", err)
	}
	p := pdumode.PDU{SMSC: pdumode.SMSCAddress{Address: tpdu.NewAddress(tpdu.FromNumber(strings.TrimPrefix(smsc, "+")))}, TPDU: b}
	h, err := p.MarshalHexString()
	if err != nil {
		return "", fmt.Errorf("smsenc: %w", err)
	}
	return strings.ToUpper(h), nil
}
