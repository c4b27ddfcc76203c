package modem

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/pdumode"
	"github.com/warthog618/sms/encoding/tpdu"
)

// Message is one complete SMS as stored in the modem: every part of a
// concatenated message reassembled.
type Message struct {
	// ID identifies the stored message: its storage indexes and a digest of
	// its PDUs, so the same stored message found twice has the same ID.
	ID string
	// Indexes are the storage slots that hold the message's parts.
	Indexes []int
	// Sender is the originating address as the network gave it.
	Sender string
	// SenderAlpha is set when the originating address is alphanumeric (type
	// of number 5): a name, never a number, even when it is spelled in
	// digits.
	SenderAlpha bool
	// Text is the decoded text (UTF-8).
	Text string
	// Time is the service centre time stamp.
	Time time.Time
	// Err is set when the stored PDU could not be decoded; Text is then
	// empty. Such a message is still delivered, so that the caller can
	// record it and delete it instead of letting it fill the storage.
	Err error
}

// stored is one storage slot as listed or read from the modem.
type stored struct {
	index int
	stat  int // 0 received unread, 1 received read, 2/3 stored MO, -1 not given
	pdu   string
}

// parseHeader parses a "+CMGL: <index>,<stat>,[<alpha>],<length>" or
// "+CMGR: <stat>,[<alpha>],<length>" header. prefix is "+CMGL:" or
// "+CMGR:". For +CMGR the index is not part of the line and is returned as -1.
func parseHeader(line, prefix string) (index, stat, length int, err error) {
	rest, ok := strings.CutPrefix(line, prefix)
	if !ok {
		return 0, 0, 0, fmt.Errorf("not a %s line: %q", prefix, line)
	}
	fields := strings.Split(strings.TrimSpace(rest), ",")
	index = -1
	if prefix == "+CMGL:" {
		if len(fields) < 2 {
			return 0, 0, 0, fmt.Errorf("short %s line: %q", prefix, line)
		}
		if index, err = strconv.Atoi(strings.TrimSpace(fields[0])); err != nil {
			return 0, 0, 0, fmt.Errorf("bad index in %q", line)
		}
		fields = fields[1:]
	}
	if len(fields) < 2 {
		return 0, 0, 0, fmt.Errorf("short %s line: %q", prefix, line)
	}
	switch st := strings.TrimSpace(fields[0]); st {
	case "":
		stat = -1 // some modems leave it out: decide by the PDU's type
	default:
		if stat, err = strconv.Atoi(st); err != nil {
			return 0, 0, 0, fmt.Errorf("bad stat in %q", line)
		}
	}
	if length, err = strconv.Atoi(strings.TrimSpace(fields[len(fields)-1])); err != nil {
		return 0, 0, 0, fmt.Errorf("bad length in %q", line)
	}
	return index, stat, length, nil
}

// isHex reports whether s is a non-empty run of hex digits of even length,
// which is what a PDU line looks like.
func isHex(s string) bool {
	if s == "" || len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// parseListing extracts the stored messages from the info lines of an
// AT+CMGL reply. Lines are matched strictly by prefix: unsolicited lines
// that leak into the reply (MODEM-NOTES pitfall 1) are skipped, and a
// header whose PDU line is missing is skipped rather than consuming the
// next header.
func parseListing(lines []string) ([]stored, []error) {
	var out []stored
	var errs []error
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(line, "+CMGL:") {
			continue
		}
		index, stat, _, err := parseHeader(line, "+CMGL:")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		j := nextPDULine(lines, i+1)
		if j < 0 {
			errs = append(errs, fmt.Errorf("no PDU after %q", line))
			continue
		}
		out = append(out, stored{index: index, stat: stat, pdu: strings.TrimSpace(lines[j])})
		i = j
	}
	return out, errs
}

// nextPDULine returns the index of the PDU line that belongs to a header at
// lines[from-1]: the first following line that is hex, skipping unsolicited
// lines, or -1 when another header comes first.
func nextPDULine(lines []string, from int) int {
	for j := from; j < len(lines); j++ {
		l := strings.TrimSpace(lines[j])
		switch {
		case isHex(l):
			return j
		case strings.HasPrefix(l, "+CMGL:"), strings.HasPrefix(l, "+CMGR:"):
			return -1
		}
	}
	return -1
}

// parseRead extracts the stored message from the info lines of an
// AT+CMGR=<index> reply.
func parseRead(index int, lines []string) (stored, error) {
	for i, l := range lines {
		line := strings.TrimSpace(l)
		if !strings.HasPrefix(line, "+CMGR:") {
			continue
		}
		_, stat, _, err := parseHeader(line, "+CMGR:")
		if err != nil {
			return stored{}, err
		}
		j := nextPDULine(lines, i+1)
		if j < 0 {
			return stored{}, fmt.Errorf("no PDU after %q", line)
		}
		return stored{index: index, stat: stat, pdu: strings.TrimSpace(lines[j])}, nil
	}
	return stored{}, errors.New("no +CMGR line in reply")
}

// isSubmit reports whether a PDU-mode hex string holds an SMS-SUBMIT: a
// message the user stored to send, not one received. Garbage is not: it is
// handed over (and deleted) like any message that is not ours.
func isSubmit(hexPDU string) bool {
	p, err := pdumode.UnmarshalHexString(hexPDU)
	return err == nil && len(p.TPDU) > 0 && p.TPDU[0]&tpdu.FoMTIMask == 1
}

// received reports whether a slot holds a received (SMS-DELIVER) message.
// Only those are decoded (MODEM-NOTES pitfall 9).
func (s stored) received() bool { return s.stat == 0 || s.stat == 1 }

// decodePDU decodes a PDU-mode hex string into an SMS-DELIVER TPDU.
func decodePDU(hexPDU string) (*tpdu.TPDU, error) {
	p, err := pdumode.UnmarshalHexString(hexPDU)
	if err != nil {
		return nil, fmt.Errorf("decode PDU: %w", err)
	}
	t := &tpdu.TPDU{}
	if err := t.UnmarshalBinary(p.TPDU); err != nil {
		return nil, fmt.Errorf("decode TPDU: %w", err)
	}
	if t.SmsType() != tpdu.SmsDeliver {
		return nil, fmt.Errorf("decode TPDU: not an SMS-DELIVER (type %d)", t.SmsType())
	}
	return t, nil
}

// assembler groups stored parts into complete messages. It keeps the parts
// of concatenated messages until every part is present; it is owned by one
// goroutine (the Receiver's loop).
type assembler struct {
	parts map[string]map[int]part // concat key -> seqno -> part
}

type part struct {
	slot stored
	t    *tpdu.TPDU
}

func newAssembler() *assembler { return &assembler{parts: map[string]map[int]part{}} }

// add takes one stored slot and returns the message it completes, if any.
func (a *assembler) add(s stored) (Message, bool) {
	t, err := decodePDU(s.pdu)
	if err != nil {
		return newMessage([]part{{slot: s}}, err), true
	}
	segs, seq, ref, ok := t.ConcatInfo()
	if !ok || segs <= 1 {
		return a.complete([]part{{slot: s, t: t}}), true
	}
	key := fmt.Sprintf("%s/%d/%d", t.OA.Number(), ref, segs)
	m := a.parts[key]
	if m == nil {
		m = map[int]part{}
		a.parts[key] = m
	}
	m[seq] = part{slot: s, t: t}
	if len(m) < segs {
		return Message{}, false
	}
	delete(a.parts, key)
	ps := make([]part, 0, segs)
	for i := 1; i <= segs; i++ {
		p, ok := m[i]
		if !ok {
			// Sequence numbers out of range: treat what we have as complete,
			// in the order of their numbers.
			ps = ps[:0]
			for _, seq := range slices.Sorted(maps.Keys(m)) {
				ps = append(ps, m[seq])
			}
			break
		}
		ps = append(ps, p)
	}
	return a.complete(ps), true
}

// forget drops any partial parts held in the given slots (they were deleted).
func (a *assembler) forget(indexes []int) {
	for key, m := range a.parts {
		for seq, p := range m {
			if slices.Contains(indexes, p.slot.index) {
				delete(m, seq)
			}
		}
		if len(m) == 0 {
			delete(a.parts, key)
		}
	}
}

// reset drops every partial message (before a full re-scan).
func (a *assembler) reset() { clear(a.parts) }

func (a *assembler) complete(ps []part) Message {
	segs := make([]*tpdu.TPDU, len(ps))
	for i, p := range ps {
		segs[i] = p.t
	}
	text, err := sms.Decode(segs)
	if err != nil {
		return newMessage(ps, fmt.Errorf("decode text: %w", err))
	}
	m := newMessage(ps, nil)
	m.Text = string(text)
	m.Sender = ps[0].t.OA.Number()
	m.SenderAlpha = ps[0].t.OA.TypeOfNumber() == tpdu.TonAlphanumeric
	m.Time = ps[0].t.SCTS.Time
	return m
}

func newMessage(ps []part, err error) Message {
	h := sha256.New()
	m := Message{Err: err}
	for _, p := range ps {
		m.Indexes = append(m.Indexes, p.slot.index)
		h.Write([]byte(p.slot.pdu))
	}
	idx := make([]string, len(m.Indexes))
	for i, n := range m.Indexes {
		idx[i] = strconv.Itoa(n)
	}
	m.ID = strings.Join(idx, "+") + "/" + hex.EncodeToString(h.Sum(nil)[:6])
	return m
}
