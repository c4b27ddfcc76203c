package modemsim

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/warthog618/sms/encoding/pdumode"
)

// message is what one storage slot holds.
type message struct {
	stat    int
	pdu     string // upper-case hex, SMSC + TPDU
	tpduLen int    // octets, excluding the SMSC part, as +CMGL/+CMGR report
}

// parsePDU validates a PDU-mode hex string.
func parsePDU(h string) (message, error) {
	h = strings.ToUpper(strings.TrimSpace(h))
	p, err := pdumode.UnmarshalHexString(h)
	if err != nil {
		return message{}, fmt.Errorf("%w: %q: %v", ErrInvalidPDU, h, err)
	}
	if len(p.TPDU) == 0 {
		return message{}, fmt.Errorf("%w: %q: no TPDU after the SMSC address", ErrInvalidPDU, h)
	}
	return message{stat: 0, pdu: h, tpduLen: len(p.TPDU)}, nil
}

// state is the modem's settings, storage and command log. It does no I/O:
// execLine turns one command line into the bytes of its reply. The Modem
// guards it with its mutex.
type state struct {
	cfg   config
	echo  bool
	cmee  int
	cmgf  int
	cnmi  [5]int // mode, mt, bm, ds, bfr
	cscs  string
	csca  string
	tosca int
	csms  int
	reg   map[string]int // <n> of +CREG, +CGREG, +CEREG
	slots []*message     // slots[i] is index i+1; nil when free
	cmds  []string
}

func newState(cfg config) *state {
	return &state{
		cfg:   cfg,
		echo:  true,
		cscs:  "GSM",
		csca:  cfg.smsc,
		tosca: tosca(cfg.smsc),
		reg:   map[string]int{},
		slots: make([]*message, cfg.capacity),
	}
}

func tosca(number string) int {
	if strings.HasPrefix(number, "+") {
		return 145
	}
	return 129
}

// put stores msg in the lowest free slot.
func (s *state) put(msg message) (int, bool) {
	for i, sl := range s.slots {
		if sl == nil {
			s.slots[i] = &msg
			return i + 1, true
		}
	}
	return 0, false
}

func (s *state) used() int {
	n := 0
	for _, sl := range s.slots {
		if sl != nil {
			n++
		}
	}
	return n
}

func (s *state) slotsSnapshot() []Slot {
	var out []Slot
	for i, sl := range s.slots {
		if sl != nil {
			out = append(out, Slot{Index: i + 1, Stat: sl.stat, PDU: sl.pdu})
		}
	}
	return out
}

// indicationsOn reports whether a stored SMS is announced with +CMTI.
func (s *state) indicationsOn() bool { return s.cnmi[1] == 1 }

// reset is ATZ / AT&F.
func (s *state) reset() {
	s.cnmi = [5]int{}
	s.cmgf = 0
}

// errClass says how a failed command reports its error.
type errClass int

const (
	errPlain errClass = iota // always "ERROR": syntax, unknown command
	errCME                   // "+CME ERROR: <n>" with AT+CMEE=1/2
	errCMS                   // "+CMS ERROR: <n>" with AT+CMEE=1/2
)

type cmdErr struct {
	class errClass
	code  int
}

var (
	errSyntax = &cmdErr{class: errPlain}
	// 3GPP TS 27.007 §9.2 codes.
	errNotAllowed = &cmdErr{class: errCME, code: 3}
	errBadParam   = &cmdErr{class: errCME, code: 50}
	// 3GPP TS 27.005 §3.2.5 codes.
	errSMSNotSupported = &cmdErr{class: errCMS, code: 303}
	errSMSNotAllowed   = &cmdErr{class: errCMS, code: 302}
	errSMSBadParam     = &cmdErr{class: errCMS, code: 304}
	errSMSBadIndex     = &cmdErr{class: errCMS, code: 321}
)

var cmeText = map[int]string{
	3:  "operation not allowed",
	4:  "operation not supported",
	50: "Incorrect parameters",
}

var cmsText = map[int]string{
	302: "operation not allowed",
	303: "operation not supported",
	304: "invalid PDU mode parameter",
	321: "invalid memory index",
	322: "memory full",
}

// final is the result code line for e.
func (s *state) final(e *cmdErr) string {
	if e == nil {
		return "OK"
	}
	if e.class == errPlain || s.cmee == 0 {
		return "ERROR"
	}
	prefix, texts := "+CME ERROR: ", cmeText
	if e.class == errCMS {
		prefix, texts = "+CMS ERROR: ", cmsText
	}
	if t, ok := texts[e.code]; ok && s.cmee == 2 {
		return prefix + t
	}
	return prefix + strconv.Itoa(e.code)
}

// execLine executes one command line, records it, and returns the reply:
// the echo (if echo was on when the line arrived), the information lines
// and the result code, framed as a modem frames them.
func (s *state) execLine(line string) string {
	var b strings.Builder
	if s.echo {
		b.WriteString(line)
		b.WriteString("\r\n")
	}
	info, e := s.run(strings.TrimSpace(line))
	s.cmds = append(s.cmds, line)
	if len(info) > 0 {
		b.WriteString("\r\n")
		for _, l := range info {
			b.WriteString(l)
			b.WriteString("\r\n")
		}
	}
	b.WriteString("\r\n")
	b.WriteString(s.final(e))
	b.WriteString("\r\n")
	return b.String()
}

// overflowReply answers a line longer than the input buffer.
func (s *state) overflowReply(line string) string {
	s.cmds = append(s.cmds, line)
	return "\r\nERROR\r\n"
}

func (s *state) run(line string) ([]string, *cmdErr) {
	if len(line) < 2 || !strings.EqualFold(line[:2], "AT") {
		return nil, errSyntax
	}
	var info []string
	for _, seg := range splitOutsideQuotes(line[2:], ';') {
		seg = strings.TrimSpace(seg)
		if seg == "" {
			continue
		}
		i, e := s.runOne(seg)
		info = append(info, i...)
		if e != nil {
			return info, e
		}
	}
	return info, nil
}

// op is the form of an extended command.
type op int

const (
	opExec op = iota // AT+X
	opRead           // AT+X?
	opTest           // AT+X=?
	opSet            // AT+X=<args>
)

type handler func(s *state, o op, args []string) ([]string, *cmdErr)

// handlers maps upper-case extended command names to their implementation.
var handlers = map[string]handler{
	"+CMEE":   (*state).cmdCMEE,
	"+CGMI":   identity(func(c config) string { return c.manufacturer }),
	"+GMI":    identity(func(c config) string { return c.manufacturer }),
	"+CGMM":   identity(func(c config) string { return c.model }),
	"+GMM":    identity(func(c config) string { return c.model }),
	"+CGMR":   identity(func(c config) string { return c.revision }),
	"+GMR":    identity(func(c config) string { return c.revision }),
	"+CGSN":   identity(func(c config) string { return c.imei }),
	"+GSN":    identity(func(c config) string { return c.imei }),
	"+CIMI":   identity(func(c config) string { return c.imsi }),
	"+CCID":   iccid("+CCID"),
	"+QCCID":  iccid("+QCCID"),
	"+CICCID": iccid("+ICCID"),
	"+GCAP":   (*state).cmdGCAP,
	"+CPIN":   (*state).cmdCPIN,
	"+CSQ":    (*state).cmdCSQ,
	"+CFUN":   (*state).cmdCFUN,
	"+CREG":   registration("+CREG"),
	"+CGREG":  registration("+CGREG"),
	"+CEREG":  registration("+CEREG"),
	"+COPS":   (*state).cmdCOPS,
	"+CMGF":   (*state).cmdCMGF,
	"+CSCS":   (*state).cmdCSCS,
	"+CSMS":   (*state).cmdCSMS,
	"+CSCA":   (*state).cmdCSCA,
	"+CPMS":   (*state).cmdCPMS,
	"+CNMI":   (*state).cmdCNMI,
	"+CMGL":   (*state).cmdCMGL,
	"+CMGR":   (*state).cmdCMGR,
	"+CMGD":   (*state).cmdCMGD,
}

func (s *state) runOne(seg string) ([]string, *cmdErr) {
	up := strings.ToUpper(seg)
	switch up {
	case "Z", "Z0", "&F", "&F0":
		s.reset()
		return nil, nil
	case "E", "E0":
		s.echo = false
		return nil, nil
	case "E1":
		s.echo = true
		return nil, nil
	case "I", "I0":
		return []string{s.cfg.manufacturer, s.cfg.model, "Revision: " + s.cfg.revision}, nil
	}
	if up[0] != '+' {
		return nil, errSyntax
	}
	end := strings.IndexAny(up, "=?")
	if end < 0 {
		end = len(up)
	}
	h, ok := handlers[up[:end]]
	if !ok {
		return nil, errSyntax
	}
	rest := seg[end:]
	switch {
	case rest == "":
		return h(s, opExec, nil)
	case rest == "?":
		return h(s, opRead, nil)
	case rest == "=?":
		return h(s, opTest, nil)
	case rest[0] == '=':
		return h(s, opSet, parseArgs(rest[1:]))
	}
	return nil, errSyntax
}

// splitOutsideQuotes splits s at sep, except inside double quotes.
func splitOutsideQuotes(s string, sep byte) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case sep:
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// parseArgs splits a parameter list; surrounding spaces and quotes go.
func parseArgs(s string) []string {
	args := splitOutsideQuotes(s, ',')
	for i, a := range args {
		a = strings.TrimSpace(a)
		if len(a) >= 2 && a[0] == '"' && a[len(a)-1] == '"' {
			a = a[1 : len(a)-1]
		}
		args[i] = a
	}
	return args
}

// intArg returns args[i] as an int, or def when it is absent or empty.
func intArg(args []string, i, def int) (int, bool) {
	if i >= len(args) || args[i] == "" {
		return def, true
	}
	n, err := strconv.Atoi(args[i])
	if err != nil {
		return 0, false
	}
	return n, true
}

func identity(get func(config) string) handler {
	return func(s *state, o op, _ []string) ([]string, *cmdErr) {
		switch o {
		case opExec:
			return []string{get(s.cfg)}, nil
		case opTest:
			return nil, nil
		}
		return nil, errSyntax
	}
}

func iccid(prefix string) handler {
	return func(s *state, o op, _ []string) ([]string, *cmdErr) {
		switch o {
		case opExec, opRead:
			return []string{prefix + ": " + s.cfg.iccid}, nil
		case opTest:
			return nil, nil
		}
		return nil, errSyntax
	}
}

func registration(name string) handler {
	return func(s *state, o op, args []string) ([]string, *cmdErr) {
		switch o {
		case opRead:
			n := s.reg[name]
			if n == 2 {
				return []string{fmt.Sprintf(`%s: 2,1,"1A2B","0C3D4E5F",7`, name)}, nil
			}
			return []string{fmt.Sprintf("%s: %d,1", name, n)}, nil
		case opTest:
			return []string{name + ": (0-2)"}, nil
		case opSet:
			n, ok := intArg(args, 0, 0)
			if !ok || n < 0 || n > 2 || len(args) > 1 {
				return nil, errBadParam
			}
			s.reg[name] = n
			return nil, nil
		}
		return nil, errSyntax
	}
}

func (s *state) cmdCMEE(o op, args []string) ([]string, *cmdErr) {
	switch o {
	case opExec:
		s.cmee = 0
		return nil, nil
	case opRead:
		return []string{fmt.Sprintf("+CMEE: %d", s.cmee)}, nil
	case opTest:
		return []string{"+CMEE: (0-2)"}, nil
	}
	n, ok := intArg(args, 0, 0)
	if !ok || n < 0 || n > 2 || len(args) > 1 {
		return nil, errBadParam
	}
	s.cmee = n
	return nil, nil
}

func (s *state) cmdGCAP(o op, _ []string) ([]string, *cmdErr) {
	switch o {
	case opExec:
		return []string{"+GCAP: +CGSM"}, nil
	case opTest:
		return nil, nil
	}
	return nil, errSyntax
}

func (s *state) cmdCPIN(o op, _ []string) ([]string, *cmdErr) {
	switch o {
	case opRead:
		return []string{"+CPIN: READY"}, nil
	case opTest:
		return nil, nil
	case opSet:
		return nil, errNotAllowed // no PIN is pending
	}
	return nil, errSyntax
}

func (s *state) cmdCSQ(o op, _ []string) ([]string, *cmdErr) {
	switch o {
	case opExec:
		return []string{"+CSQ: 20,99"}, nil
	case opTest:
		return []string{"+CSQ: (0-31,99),(0-7,99)"}, nil
	}
	return nil, errSyntax
}

func (s *state) cmdCFUN(o op, args []string) ([]string, *cmdErr) {
	switch o {
	case opRead:
		return []string{"+CFUN: 1"}, nil
	case opTest:
		return []string{"+CFUN: (0,1,4),(0-1)"}, nil
	case opSet:
		fun, ok := intArg(args, 0, 1)
		if !ok || (fun != 0 && fun != 1 && fun != 4) {
			return nil, errBadParam
		}
		return nil, nil // accepted, not simulated
	}
	return nil, errSyntax
}

func (s *state) cmdCOPS(o op, _ []string) ([]string, *cmdErr) {
	switch o {
	case opRead:
		return []string{fmt.Sprintf("+COPS: 0,0,%q,7", s.cfg.operator)}, nil
	case opTest:
		return []string{fmt.Sprintf("+COPS: (2,%q,\"CMCC\",\"46000\",7),,(0-4),(0-2)", s.cfg.operator)}, nil
	case opSet:
		return nil, nil // accepted, not simulated
	}
	return nil, errSyntax
}

func (s *state) cmdCMGF(o op, args []string) ([]string, *cmdErr) {
	switch o {
	case opRead:
		return []string{fmt.Sprintf("+CMGF: %d", s.cmgf)}, nil
	case opTest:
		return []string{"+CMGF: (0,1)"}, nil
	case opSet:
		n, ok := intArg(args, 0, 0)
		if !ok || n < 0 || n > 1 || len(args) > 1 {
			return nil, errBadParam
		}
		s.cmgf = n
		return nil, nil
	}
	return nil, errSyntax
}

func (s *state) cmdCSCS(o op, args []string) ([]string, *cmdErr) {
	switch o {
	case opRead:
		return []string{fmt.Sprintf("+CSCS: %q", s.cscs)}, nil
	case opTest:
		return []string{`+CSCS: ("GSM","IRA","UCS2")`}, nil
	case opSet:
		if len(args) != 1 {
			return nil, errBadParam
		}
		cs := strings.ToUpper(args[0])
		switch cs {
		case "GSM", "IRA", "UCS2":
			s.cscs = cs
			return nil, nil
		}
		return nil, errBadParam
	}
	return nil, errSyntax
}

func (s *state) cmdCSMS(o op, args []string) ([]string, *cmdErr) {
	switch o {
	case opRead:
		return []string{fmt.Sprintf("+CSMS: %d,1,1,1", s.csms)}, nil
	case opTest:
		return []string{"+CSMS: (0,1)"}, nil
	case opSet:
		n, ok := intArg(args, 0, 0)
		if !ok || n < 0 || n > 1 || len(args) > 1 {
			return nil, errSMSBadParam
		}
		s.csms = n
		return []string{"+CSMS: 1,1,1"}, nil
	}
	return nil, errSyntax
}

func (s *state) cmdCSCA(o op, args []string) ([]string, *cmdErr) {
	switch o {
	case opRead:
		return []string{fmt.Sprintf("+CSCA: %q,%d", s.csca, s.tosca)}, nil
	case opTest:
		return nil, nil
	case opSet:
		if len(args) < 1 || len(args) > 2 || args[0] == "" {
			return nil, errSMSBadParam
		}
		t, ok := intArg(args, 1, tosca(args[0]))
		if !ok {
			return nil, errSMSBadParam
		}
		s.csca, s.tosca = args[0], t
		return nil, nil
	}
	return nil, errSyntax
}

func (s *state) cmdCPMS(o op, args []string) ([]string, *cmdErr) {
	u, c := s.used(), len(s.slots)
	switch o {
	case opRead:
		return []string{fmt.Sprintf(`+CPMS: "SM",%d,%d,"SM",%d,%d,"SM",%d,%d`, u, c, u, c, u, c)}, nil
	case opTest:
		return []string{`+CPMS: ("SM"),("SM"),("SM")`}, nil
	case opSet:
		if len(args) > 3 {
			return nil, errSMSBadParam
		}
		for _, a := range args {
			if !strings.EqualFold(a, "SM") {
				return nil, errSMSNotAllowed // the only memory there is
			}
		}
		return []string{fmt.Sprintf("+CPMS: %d,%d,%d,%d,%d,%d", u, c, u, c, u, c)}, nil
	}
	return nil, errSyntax
}

func (s *state) cmdCNMI(o op, args []string) ([]string, *cmdErr) {
	switch o {
	case opRead:
		n := s.cnmi
		return []string{fmt.Sprintf("+CNMI: %d,%d,%d,%d,%d", n[0], n[1], n[2], n[3], n[4])}, nil
	case opTest:
		return []string{"+CNMI: (0-2),(0,1),(0,2),(0,1),(0,1)"}, nil
	case opSet:
		if len(args) > 5 {
			return nil, errSMSNotSupported
		}
		n := s.cnmi // an omitted parameter keeps its value
		for i := range args {
			v, ok := intArg(args, i, n[i])
			if !ok {
				return nil, errSMSNotSupported
			}
			n[i] = v
		}
		if n[0] < 0 || n[0] > 2 || n[1] < 0 || n[1] > 1 || (n[2] != 0 && n[2] != 2) ||
			n[3] < 0 || n[3] > 1 || n[4] < 0 || n[4] > 1 {
			return nil, errSMSNotSupported
		}
		s.cnmi = n
		return nil, nil
	}
	return nil, errSyntax
}

// statMatches reports whether a slot's stat is selected by a +CMGL <stat>.
func statMatches(want, stat int) bool { return want == 4 || want == stat }

func (s *state) cmdCMGL(o op, args []string) ([]string, *cmdErr) {
	if o == opRead {
		return nil, errSyntax
	}
	if s.cmgf != 0 {
		return nil, errSMSNotSupported // text mode is not simulated
	}
	if o == opTest {
		return []string{"+CMGL: (0-4)"}, nil
	}
	want, ok := intArg(args, 0, 0)
	if !ok || want < 0 || want > 4 || len(args) > 1 {
		return nil, errSMSBadParam
	}
	var info []string
	for i, sl := range s.slots {
		if sl == nil || !statMatches(want, sl.stat) {
			continue
		}
		info = append(info, fmt.Sprintf("+CMGL: %d,%d,,%d", i+1, sl.stat, sl.tpduLen), sl.pdu)
		if sl.stat == 0 {
			sl.stat = 1 // listing reads the message, as on real modems
		}
	}
	return info, nil
}

func (s *state) cmdCMGR(o op, args []string) ([]string, *cmdErr) {
	switch o {
	case opTest:
		return nil, nil
	case opExec:
		return nil, errSMSBadParam
	case opRead:
		return nil, errSyntax
	}
	if s.cmgf != 0 {
		return nil, errSMSNotSupported // text mode is not simulated
	}
	i, ok := intArg(args, 0, -1)
	if !ok || len(args) > 1 {
		return nil, errSMSBadParam
	}
	if i < 1 || i > len(s.slots) || s.slots[i-1] == nil {
		return nil, errSMSBadIndex
	}
	sl := s.slots[i-1]
	info := []string{fmt.Sprintf("+CMGR: %d,,%d", sl.stat, sl.tpduLen), sl.pdu}
	if sl.stat == 0 {
		sl.stat = 1
	}
	return info, nil
}

func (s *state) cmdCMGD(o op, args []string) ([]string, *cmdErr) {
	switch o {
	case opTest:
		var used []string
		for i, sl := range s.slots {
			if sl != nil {
				used = append(used, strconv.Itoa(i+1))
			}
		}
		return []string{fmt.Sprintf("+CMGD: (%s),(0-4)", strings.Join(used, ","))}, nil
	case opSet:
	default:
		return nil, errSyntax
	}
	if len(args) > 2 {
		return nil, errSMSBadParam
	}
	i, ok := intArg(args, 0, 0)
	if !ok {
		return nil, errSMSBadParam
	}
	flag, ok := intArg(args, 1, 0)
	if !ok || flag < 0 || flag > 4 {
		return nil, errSMSBadParam
	}
	if flag == 0 {
		if i < 1 || i > len(s.slots) {
			return nil, errSMSBadIndex
		}
		s.slots[i-1] = nil // deleting an empty slot is not an error
		return nil, nil
	}
	// <delflag> 1: read; 2: read and sent; 3: read, sent and unsent; 4: all.
	// The index is ignored.
	for j, sl := range s.slots {
		if sl == nil {
			continue
		}
		if flag == 4 || sl.stat == 1 || (flag >= 2 && sl.stat == 3) || (flag == 3 && sl.stat == 2) {
			s.slots[j] = nil
		}
	}
	return nil, nil
}
