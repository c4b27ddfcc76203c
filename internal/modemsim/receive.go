package modemsim

import (
	"fmt"
	"strings"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/pdumode"
	"github.com/warthog618/sms/encoding/tpdu"
)

// Faults of the receive path: what fills a SIM, what corrupts a read, what
// floods the line. Partial and duplicated concatenated messages need no
// fault of their own: store some of the parts EncodeDeliver returns, or one
// of them twice, with Store or Deliver.

// Corruption kinds for CorruptListing and CorruptRead: how a slot's PDU line
// comes out wrong, as a bit error on a board's UART or a stray line does.
const (
	// CorruptFlip changes the PDU's last hex digit: the length is right,
	// the bytes are not.
	CorruptFlip = "flip"
	// CorruptShort loses the PDU's last octet: it no longer has the length
	// its header gives.
	CorruptShort = "short"
	// CorruptStray puts a stray hex line ("00") between the header and the
	// PDU.
	CorruptStray = "stray"
)

// corruption is a fault on one slot's PDU line.
type corruption struct {
	kind            string
	listings, reads int // how many more AT+CMGL listings and AT+CMGR reads show it
}

// CorruptListing makes the next times listings (AT+CMGL) show the PDU of
// the slot at index corrupted as kind says, while AT+CMGR reads it true
// (unless CorruptRead says otherwise). It returns an error for an unknown
// kind.
func (m *Modem) CorruptListing(index int, kind string, times int) error {
	return m.corrupt(index, kind, times, 0)
}

// CorruptRead makes the next times reads (AT+CMGR) of the slot at index show
// its PDU corrupted as kind says.
func (m *Modem) CorruptRead(index int, kind string, times int) error {
	return m.corrupt(index, kind, 0, times)
}

func (m *Modem) corrupt(index int, kind string, listings, reads int) error {
	switch kind {
	case CorruptFlip, CorruptShort, CorruptStray:
	default:
		return fmt.Errorf("modemsim: unknown corruption %q (want %s, %s or %s)", kind, CorruptFlip, CorruptShort, CorruptStray)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.st.corrupt == nil {
		m.st.corrupt = map[int]*corruption{}
	}
	c := m.st.corrupt[index]
	if c == nil || c.kind != kind {
		c = &corruption{kind: kind}
		m.st.corrupt[index] = c
	}
	c.listings += listings
	c.reads += reads
	return nil
}

// pduLines returns the lines that carry the PDU of the slot at wire index
// n: the true PDU, or a corrupted one while a fault on it lasts.
func (s *state) pduLines(n int, pdu string, listing bool) []string {
	c := s.corrupt[n]
	if c == nil {
		return []string{pdu}
	}
	left := &c.reads
	if listing {
		left = &c.listings
	}
	if *left <= 0 {
		return []string{pdu}
	}
	*left--
	if c.listings <= 0 && c.reads <= 0 {
		delete(s.corrupt, n)
	}
	switch c.kind {
	case CorruptFlip:
		last := strings.IndexByte("0123456789ABCDEF", pdu[len(pdu)-1])
		return []string{pdu[:len(pdu)-1] + string("0123456789ABCDEF"[(last+1)%16])}
	case CorruptShort:
		return []string{pdu[:len(pdu)-2]}
	default: // CorruptStray
		return []string{"00", pdu}
	}
}

// StoreDraft puts PDUs (SMS-SUBMIT, see EncodeSubmit) into free slots with
// stat 2 (STO UNSENT), as a phone's or a tool's draft: a message stored to
// be sent, never a received one. It returns the indexes used; storage full
// is ErrStorageFull as for Store.
func (m *Modem) StoreDraft(pduHex ...string) ([]int, error) {
	msgs := make([]message, len(pduHex))
	for i, h := range pduHex {
		msg, err := parsePDU(h)
		if err != nil {
			return nil, fmt.Errorf("store draft %d: %w", i+1, err)
		}
		msg.stat = 2
		msgs[i] = msg
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	var idx []int
	for i, msg := range msgs {
		n, ok := m.st.put(msg)
		if !ok {
			return idx, fmt.Errorf("store draft %d of %d: %w", i+1, len(msgs), ErrStorageFull)
		}
		idx = append(idx, n)
	}
	m.broadcastLocked()
	return idx, nil
}

// EncodeSubmit builds the SMS-SUBMIT PDU, in PDU-mode hex without an SMSC
// address (the modem's default), of a one-part text to the number to.
func EncodeSubmit(to, text string) (string, error) {
	num := strings.TrimPrefix(to, "+")
	if num == "" || strings.Trim(num, "0123456789") != "" {
		return "", fmt.Errorf("encode submit: number %q: want digits with an optional leading '+'", to)
	}
	t, err := tpdu.NewSubmit(tpdu.WithDA(tpdu.NewAddress(tpdu.FromNumber(num))))
	if err != nil {
		return "", fmt.Errorf("encode submit: %w", err)
	}
	parts, err := sms.NewEncoder(sms.WithTemplate(*t)).Encode([]byte(text))
	if err != nil || len(parts) != 1 {
		return "", fmt.Errorf("encode submit: want one part: %w", err)
	}
	b, err := parts[0].MarshalBinary()
	if err != nil {
		return "", fmt.Errorf("encode submit: %w", err)
	}
	h, err := (&pdumode.PDU{TPDU: b}).MarshalHexString()
	if err != nil {
		return "", fmt.Errorf("encode submit: %w", err)
	}
	return strings.ToUpper(h), nil
}

// InjectStorm has the modem write line n times, each framed with its line
// endings, in one burst at its next opportunity (an indication storm:
// `+CMTI: "SM",1` twenty thousand times).
func (m *Modem) InjectStorm(line string, n int) {
	m.enqueue(action{kind: actRaw, text: strings.Repeat(frameLine(m.cfg.lineEnding, line), n)})
}

// InjectEndlessLine has the modem write n printable bytes without a line
// end at its next opportunity, as a modem with a wedged firmware or the
// wrong port (a GPS or diagnostics port) does. The line ends only with
// whatever the modem writes next.
func (m *Modem) InjectEndlessLine(n int) {
	const pattern = "0123456789ABCDEF$GPGSV,3,1,11,03,03,111,00*"
	m.enqueue(action{kind: actRaw, text: strings.Repeat(pattern, n/len(pattern)+1)[:n]})
}
