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
		return message{}, fmt.Errorf("%w: %q: %w", ErrInvalidPDU, h, err)
	}
	if len(p.TPDU) == 0 {
		return message{}, fmt.Errorf("%w: %q: no TPDU after the SMSC address", ErrInvalidPDU, h)
	}
	return message{stat: 0, pdu: h, tpduLen: len(p.TPDU)}, nil
}

// state is the modem's settings, storage and command log. It does no I/O
// and reads no clock: execLine turns one command line into its reply, and
// the time-dependent flags (simBusy, smsReady) are flipped by the Modem's
// server when their windows end. The Modem guards it with its mutex.
type state struct {
	cfg      config
	echo     bool
	cmee     int
	cmgf     int
	cnmi     [5]int // mode, mt, bm, ds, bfr
	cscs     string
	csca     string
	tosca    int
	csms     int
	clip     int
	csdh     int
	curc     int            // Huawei ^CURC: periodic vendor URCs on (1) or off
	reg      map[string]int // <n> of +CREG, +CGREG, +CEREG
	sregs    map[int]int    // S-registers set with ATSn=v
	sim      string         // SIMReady, SIMPIN or SIMNotInserted
	simBusy  bool           // within the SIM-busy window after power-on
	smsReady bool           // the SMS-not-ready window after power-on is over
	slots    []*message     // slots[i] is wire index i+cfg.indexBase; nil when free
	cmds     []string
	corrupt  map[int]*corruption // by wire index: PDU lines shown wrong (CorruptListing, CorruptRead)

	noFinal bool // set by a command whose reply must have no result code
}

func newState(cfg config) *state {
	s := &state{
		cfg:   cfg,
		csca:  cfg.smsc,
		tosca: tosca(cfg.smsc),
		slots: make([]*message, cfg.capacity),
	}
	s.powerOn()
	return s
}

// powerOn restores what a modem forgets when it restarts. The storage and
// the SMSC address live on the SIM and are kept, as is the command log.
func (s *state) powerOn() {
	s.echo = s.cfg.echoAtPowerOn
	s.cmee, s.cmgf, s.csms, s.clip, s.csdh = 0, 0, 0, 0, 0
	s.cnmi = [5]int{}
	s.cscs = "GSM"
	s.curc = 1
	s.reg = map[string]int{}
	s.sregs = map[int]int{}
	s.sim = s.cfg.simState
	s.simBusy = s.cfg.simBusyFor > 0
	s.smsReady = s.cfg.smsReadyAfter == 0
}

func tosca(number string) int {
	if strings.HasPrefix(number, "+") {
		return 145
	}
	return 129
}

// wire converts a slot position to the index the modem reports.
func (s *state) wire(i int) int { return i + s.cfg.indexBase }

// slot converts an index from the wire to a slot position, or -1.
func (s *state) slot(n int) int {
	i := n - s.cfg.indexBase
	if i < 0 || i >= len(s.slots) {
		return -1
	}
	return i
}

// put stores msg in the lowest free slot and returns its wire index.
func (s *state) put(msg message) (int, bool) {
	for i, sl := range s.slots {
		if sl == nil {
			s.slots[i] = &msg
			return s.wire(i), true
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
			out = append(out, Slot{Index: s.wire(i), Stat: sl.stat, PDU: sl.pdu})
		}
	}
	return out
}

// indicationsOn reports whether a stored SMS is announced with +CMTI.
func (s *state) indicationsOn() bool { return s.cnmi[1] == 1 }

// cmti is the indication of a message stored at wire index n.
func cmti(n int) string { return fmt.Sprintf(`+CMTI: "SM",%d`, n) }

// reset is ATZ / AT&F: the settings of the stored profile come back.
func (s *state) reset() {
	s.echo = s.cfg.echoAtPowerOn
	s.cnmi = [5]int{}
	s.cmgf = 0
}

// errClass says how a failed command reports its error.
type errClass int

const (
	errPlain errClass = iota // unknown or unsupported: the profile's final error
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
	errNotAllowed     = &cmdErr{class: errCME, code: 3}
	errSIMNotInserted = &cmdErr{class: errCME, code: 10}
	errSIMPINRequired = &cmdErr{class: errCME, code: 11}
	errSIMBusy        = &cmdErr{class: errCME, code: 14}
	errBadPassword    = &cmdErr{class: errCME, code: 16}
	errBadParam       = &cmdErr{class: errCME, code: 50}
	// 3GPP TS 27.005 §3.2.5 codes.
	errSMSNotAllowed     = &cmdErr{class: errCMS, code: 302}
	errSMSNotSupported   = &cmdErr{class: errCMS, code: 303}
	errSMSBadParam       = &cmdErr{class: errCMS, code: 304}
	errSMSSIMNotInserted = &cmdErr{class: errCMS, code: 310}
	errSMSSIMPIN         = &cmdErr{class: errCMS, code: 311}
	errSMSSIMBusy        = &cmdErr{class: errCMS, code: 314}
	errSMSBadIndex       = &cmdErr{class: errCMS, code: 321}
	errSMSUnknown        = &cmdErr{class: errCMS, code: 500}
)

var cmeText = map[int]string{
	3:  "operation not allowed",
	4:  "operation not supported",
	10: "SIM not inserted",
	11: "SIM PIN required",
	14: "SIM busy",
	16: "incorrect password",
	50: "Incorrect parameters",
}

var cmsText = map[int]string{
	302: "operation not allowed",
	303: "operation not supported",
	304: "invalid PDU mode parameter",
	310: "SIM not inserted",
	311: "SIM PIN required",
	314: "SIM busy",
	321: "invalid memory index",
	322: "memory full",
	500: "unknown error",
}

// final is the result code line for e.
func (s *state) final(e *cmdErr) string {
	if e == nil {
		return "OK"
	}
	if e.class == errPlain {
		return s.cfg.finalError
	}
	if s.cmee == 0 {
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

// reply is the modem's answer to one command line, before framing.
type reply struct {
	echo   string // the line as received, sent back when echoed
	echoed bool
	info   []string
	final  string // the result code; "" when the modem sends none
}

// execLine executes one command line, records it, and returns the reply:
// the echo (if echo was on when the line arrived), the information lines
// and the result code.
func (s *state) execLine(line string) reply {
	r := reply{echo: line, echoed: s.echo}
	s.noFinal = false
	info, e := s.run(strings.TrimSpace(line))
	s.cmds = append(s.cmds, line)
	r.info = info
	if e != nil || !s.noFinal {
		r.final = s.final(e)
	}
	return r
}

// overflowReply answers a line longer than the input buffer.
func (s *state) overflowReply(line string) reply {
	s.cmds = append(s.cmds, line)
	return reply{final: s.final(errSyntax)}
}

// isHeader reports whether an information line is a message header that
// its PDU line must follow without anything in between.
func isHeader(l string) bool {
	return strings.HasPrefix(l, "+CMGL:") || strings.HasPrefix(l, "+CMGR:")
}

// frame renders r as the modem sends it, every line ended with le. between,
// when not nil, is called at each point where a real modem may slip in an
// unsolicited line: before the echo, after it, after each information line
// (or header and PDU pair) and after the result code.
func (r reply) frame(le string, between func(*strings.Builder)) string {
	var b strings.Builder
	opportunity := func() {
		if between != nil {
			between(&b)
		}
	}
	opportunity()
	if r.echoed {
		b.WriteString(r.echo)
		b.WriteString(le)
		opportunity()
	}
	if len(r.info) > 0 {
		b.WriteString(le)
		for i := 0; i < len(r.info); {
			n := 1
			if isHeader(r.info[i]) && i+1 < len(r.info) {
				n = 2
			}
			for _, l := range r.info[i : i+n] {
				b.WriteString(l)
				b.WriteString(le)
			}
			i += n
			opportunity()
		}
	}
	if r.final != "" {
		b.WriteString(le)
		b.WriteString(r.final)
		b.WriteString(le)
		opportunity()
	}
	return b.String()
}

// frameLine renders an unsolicited line as a modem sends it.
func frameLine(le, line string) string { return le + line + le }

// run executes the commands of a line: basic commands (E0, V1, &F, S0=0…)
// possibly followed by extended commands separated by ';'. The first error
// ends the line.
func (s *state) run(line string) ([]string, *cmdErr) {
	if len(line) < 2 || !strings.EqualFold(line[:2], "AT") {
		return nil, errSyntax
	}
	var info []string
	rest := line[2:]
	for rest != "" {
		c := rest[0]
		switch {
		case c == ' ' || c == ';':
			rest = rest[1:]
			continue
		case isExtendedPrefix(c):
			seg := rest
			if parts := splitOutsideQuotes(rest, ';'); len(parts) > 1 {
				seg = parts[0]
				rest = rest[len(seg)+1:]
			} else {
				rest = ""
			}
			i, e := s.runExtended(strings.TrimSpace(seg))
			info = append(info, i...)
			if e != nil {
				return info, e
			}
		default:
			var (
				i []string
				e *cmdErr
			)
			i, rest, e = s.runBasic(rest)
			info = append(info, i...)
			if e != nil {
				return info, e
			}
		}
	}
	return info, nil
}

// isExtendedPrefix reports whether c starts an extended (+CMGL) or vendor
// (^CURC, $QCPMS, *ETC, #CLS) command.
func isExtendedPrefix(c byte) bool { return c == '+' || c == '^' || c == '$' || c == '*' || c == '#' }

// runBasic executes the basic command at the start of cmd and returns what
// follows it.
func (s *state) runBasic(cmd string) (info []string, rest string, e *cmdErr) {
	name := strings.ToUpper(cmd[:1])
	cmd = cmd[1:]
	if name == "&" {
		if cmd == "" {
			return nil, "", errSyntax
		}
		name += strings.ToUpper(cmd[:1])
		cmd = cmd[1:]
	}
	if name == "S" { // Sn? or Sn=v
		digits := leadingDigits(cmd)
		reg, err := strconv.Atoi(digits)
		cmd = cmd[len(digits):]
		if err != nil || reg > 255 || cmd == "" {
			return nil, "", errSyntax
		}
		if cmd[0] == '?' {
			return []string{fmt.Sprintf("%03d", s.sregs[reg])}, cmd[1:], nil
		}
		if cmd[0] != '=' {
			return nil, "", errSyntax
		}
		v := leadingDigits(cmd[1:])
		n, err := strconv.Atoi(v)
		if err != nil || n > 255 {
			return nil, "", errSyntax
		}
		s.sregs[reg] = n
		return nil, cmd[1+len(v):], nil
	}
	digits := leadingDigits(cmd)
	rest = cmd[len(digits):]
	n := 0
	if digits != "" {
		var err error
		if n, err = strconv.Atoi(digits); err != nil {
			return nil, "", errSyntax
		}
	}
	switch name {
	case "E":
		if n > 1 {
			return nil, "", errSyntax
		}
		s.echo = n == 1
	case "Z", "&F":
		if n != 0 {
			return nil, "", errSyntax
		}
		s.reset()
	case "V": // numeric result codes (V0) are not simulated
		if digits == "" || n != 1 {
			return nil, "", errSyntax
		}
	case "Q": // quiet mode (Q1) is not simulated
		if n != 0 {
			return nil, "", errSyntax
		}
	case "I":
		if n != 0 {
			return nil, "", errSyntax
		}
		info = []string{s.cfg.manufacturer, s.cfg.model, "Revision: " + s.cfg.revision}
	case "H": // nothing to hang up
	case "&C", "&D", "&K", "&W", "&S": // accepted, not simulated
		if n > 6 {
			return nil, "", errSyntax
		}
	default:
		return nil, "", errSyntax
	}
	return info, rest, nil
}

func leadingDigits(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
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

// smsCmds are the commands of the SMS subsystem: they fail until it is
// ready after power-on.
var smsCmds = map[string]bool{
	"+CMGF": true, "+CPMS": true, "+CNMI": true, "+CMGL": true, "+CMGR": true,
	"+CMGD": true, "+CSCA": true, "+CSMS": true,
}

// simCmds are the commands that read the SIM: they fail while it is busy,
// locked or absent.
var simCmds = map[string]bool{
	"+CIMI": true, "+CCID": true, "+QCCID": true, "+CICCID": true, "+CNUM": true,
	"+CPMS": true, "+CMGL": true, "+CMGR": true, "+CMGD": true, "+CSCA": true,
}

// gate returns the error a command gets before it runs, if any.
func (s *state) gate(name string) *cmdErr {
	sms := smsCmds[name]
	if simCmds[name] {
		var e, smsErr *cmdErr
		switch {
		case s.sim == SIMNotInserted:
			e, smsErr = errSIMNotInserted, errSMSSIMNotInserted
		case s.sim == SIMPIN:
			e, smsErr = errSIMPINRequired, errSMSSIMPIN
		case s.simBusy:
			e, smsErr = errSIMBusy, errSMSSIMBusy
		}
		if e != nil && sms {
			return smsErr
		}
		if e != nil {
			return e
		}
	}
	if sms && !s.smsReady {
		return errSMSUnknown
	}
	return nil
}

func (s *state) runExtended(seg string) ([]string, *cmdErr) {
	up := strings.ToUpper(seg)
	end := strings.IndexAny(up, "=?")
	if end < 0 {
		end = len(up)
	}
	name := up[:end]
	h, ok := handlers[name]
	if !ok {
		h, ok = s.cfg.vendor[name]
	}
	if !ok {
		return nil, errSyntax
	}
	rest := seg[end:]
	var o op
	var args []string
	switch {
	case rest == "":
		o = opExec
	case rest == "?":
		o = opRead
	case rest == "=?":
		o = opTest
	case rest[0] == '=':
		o, args = opSet, parseArgs(rest[1:])
	default:
		return nil, errSyntax
	}
	if o != opTest {
		if e := s.gate(name); e != nil {
			return nil, e
		}
	}
	return h(s, o, args)
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
