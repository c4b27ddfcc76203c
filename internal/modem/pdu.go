package modem

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

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
	//
	// Err also marks the slots the receiver asks the caller to free (see
	// ErrIncomplete, ErrDuplicatePart, ErrDraft, ErrUnparseable): its text
	// is the reason, for the inbox log; the caller removes them with
	// Receiver.Discard.
	Err error

	// pdus are the PDUs the message was built from, one per index
	// (unreadable for a slot that could not be read), for Discard.
	pdus []string
}

// unreadable stands for the PDU of a slot that could not be read.
const unreadable = "\x00unreadable"

// stored is one storage slot as listed or read from the modem.
type stored struct {
	index  int
	stat   int // 0 received unread, 1 received read, 2/3 stored MO, -1 not given
	pdu    string
	length int // TPDU octets as the header gives them; -1 not given
}

// tpduLen returns the octets of the PDU's TPDU (the SMSC part excluded),
// or -1 when the PDU is not hex or too short for its SMSC length.
func (s stored) tpduLen() int {
	if !isHex(s.pdu) {
		return -1
	}
	smsc, err := strconv.ParseUint(s.pdu[:2], 16, 8)
	if err != nil {
		return -1
	}
	n := len(s.pdu)/2 - 1 - int(smsc)
	if n <= 0 {
		return -1
	}
	return n
}

// lengthOK reports whether the slot's PDU has the length its header gives:
// a PDU line changed on the way (a bit error, a stray line) mostly does
// not. A header without a length cannot be checked and passes.
func (s stored) lengthOK() bool {
	n := s.tpduLen()
	return n > 0 && (s.length < 0 || n == s.length)
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
	if length, err = strconv.Atoi(strings.TrimSpace(fields[len(fields)-1])); err != nil || length <= 0 || length > 255 {
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
// header whose PDU line is missing does not consume the next header: its
// slot is returned without a PDU (it fails lengthOK and is read again).
// Whether each PDU has its header's length is left to the caller
// (stored.lengthOK).
func parseListing(lines []string) ([]stored, []error) {
	var out []stored
	var errs []error
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(line, "+CMGL:") {
			continue
		}
		index, stat, length, err := parseHeader(line, "+CMGL:")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		j := nextPDULine(lines, i+1)
		if j < 0 {
			// No PDU line: returned without one, the slot is read again.
			out = append(out, stored{index: index, stat: stat, length: length})
			continue
		}
		out = append(out, stored{index: index, stat: stat, pdu: strings.TrimSpace(lines[j]), length: length})
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
		_, stat, length, err := parseHeader(line, "+CMGR:")
		if err != nil {
			return stored{}, err
		}
		j := nextPDULine(lines, i+1)
		if j < 0 {
			return stored{}, fmt.Errorf("no PDU after %q", line)
		}
		return stored{index: index, stat: stat, pdu: strings.TrimSpace(lines[j]), length: length}, nil
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
