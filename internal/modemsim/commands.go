package modemsim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// handlers maps upper-case extended command names to their implementation.
// Vendor commands live in the profiles (config.vendor).
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
	"+CGATT":  (*state).cmdCGATT,
	"+CMMS":   (*state).cmdCMMS,
	"+CLIP":   flag("+CLIP", func(s *state) *int { return &s.clip }, ",1"),
	"+CSDH":   flag("+CSDH", func(s *state) *int { return &s.csdh }, ""),
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

// accepted is a command that is answered OK in every form and otherwise
// not simulated (vendor configuration such as AT+QURCCFG).
func accepted(*state, op, []string) ([]string, *cmdErr) { return nil, nil }

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

// flag is a setting that is 0 or 1; suffix follows it in the read reply.
func flag(name string, field func(*state) *int, suffix string) handler {
	return func(s *state, o op, args []string) ([]string, *cmdErr) {
		switch o {
		case opRead:
			return []string{fmt.Sprintf("%s: %d%s", name, *field(s), suffix)}, nil
		case opTest:
			return []string{name + ": (0,1)"}, nil
		case opSet:
			n, ok := intArg(args, 0, 0)
			if !ok || n < 0 || n > 1 || len(args) > 1 {
				return nil, errBadParam
			}
			*field(s) = n
			return nil, nil
		}
		return nil, errSyntax
	}
}

// regStat is the registration <stat>: the configured one once the SIM is
// usable, searching (2) while it is busy, not registered (0) without it.
func (s *state) regStat() int {
	switch {
	case s.sim != SIMReady:
		return 0
	case s.simBusy:
		return 2
	}
	return s.cfg.regStat
}

func registration(name string) handler {
	return func(s *state, o op, args []string) ([]string, *cmdErr) {
		switch o {
		case opRead:
			n, stat := s.reg[name], s.regStat()
			if n == 2 && (stat == 1 || stat == 5) {
				return []string{fmt.Sprintf(`%s: 2,%d,"1A2B","0C3D4E5F",7`, name, stat)}, nil
			}
			return []string{fmt.Sprintf("%s: %d,%d", name, n, stat)}, nil
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

func (s *state) cmdCPIN(o op, args []string) ([]string, *cmdErr) {
	if o == opTest {
		return nil, nil
	}
	switch {
	case s.sim == SIMNotInserted:
		return nil, errSIMNotInserted
	case s.simBusy:
		return nil, errSIMBusy
	}
	switch o {
	case opRead:
		s.noFinal = s.cfg.cpinNoFinalOK
		return []string{"+CPIN: " + s.sim}, nil
	case opSet:
		if s.sim != SIMPIN {
			return nil, errNotAllowed // no PIN is pending
		}
		if len(args) < 1 || args[0] != s.cfg.pin {
			return nil, errBadPassword
		}
		s.sim = SIMReady
		return nil, nil
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
		if st := s.regStat(); st != 1 && st != 5 {
			return []string{"+COPS: 0"}, nil
		}
		return []string{fmt.Sprintf("+COPS: 0,0,%q,7", s.cfg.operator)}, nil
	case opTest:
		return []string{fmt.Sprintf("+COPS: (2,%q,\"CMCC\",\"46000\",7),,(0-4),(0-2)", s.cfg.operator)}, nil
	case opSet:
		return nil, nil // accepted, not simulated
	}
	return nil, errSyntax
}

func (s *state) cmdCGATT(o op, args []string) ([]string, *cmdErr) {
	switch o {
	case opRead:
		attached := 0
		if st := s.regStat(); st == 1 || st == 5 {
			attached = 1
		}
		return []string{fmt.Sprintf("+CGATT: %d", attached)}, nil
	case opTest:
		return []string{"+CGATT: (0,1)"}, nil
	case opSet:
		return nil, nil // accepted, not simulated
	}
	return nil, errSyntax
}

// cmdCMMS is "more messages to send": accepted, not simulated.
func (s *state) cmdCMMS(o op, args []string) ([]string, *cmdErr) {
	switch o {
	case opRead:
		return []string{"+CMMS: 0"}, nil
	case opTest:
		return []string{"+CMMS: (0-2)"}, nil
	case opSet:
		n, ok := intArg(args, 0, 0)
		if !ok || n < 0 || n > 2 || len(args) > 1 {
			return nil, errSMSBadParam
		}
		return nil, nil
	}
	return nil, errSyntax
}

// cmdCURC is Huawei's AT^CURC: 0 stops the periodic vendor reports.
func (s *state) cmdCURC(o op, args []string) ([]string, *cmdErr) {
	switch o {
	case opRead:
		return []string{fmt.Sprintf("^CURC: %d", s.curc)}, nil
	case opTest:
		return []string{"^CURC: (0-1)"}, nil
	case opSet:
		n, ok := intArg(args, 0, 0)
		if !ok || n < 0 || n > 1 || len(args) > 1 {
			return nil, errBadParam
		}
		s.curc = n
		return nil, nil
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

// cnmiRanges is the <mode> and <mt> part of the AT+CNMI=? reply.
func (s *state) cnmiRanges() string {
	if s.cfg.cnmiModes == nil {
		return "(0-2),(0,1)"
	}
	var modes, mts []int
	for _, p := range s.cfg.cnmiModes {
		mode, mt, _ := parseModePair(p) // validated by New
		modes, mts = append(modes, mode), append(mts, mt)
	}
	return "(" + joinSet(modes) + "),(" + joinSet(mts) + ")"
}

// joinSet lists distinct numbers in ascending order, comma-separated.
func joinSet(ns []int) string {
	slices.Sort(ns)
	ns = slices.Compact(ns)
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = strconv.Itoa(n)
	}
	return strings.Join(out, ",")
}

func (s *state) cmdCNMI(o op, args []string) ([]string, *cmdErr) {
	switch o {
	case opRead:
		n := s.cnmi
		return []string{fmt.Sprintf("+CNMI: %d,%d,%d,%d,%d", n[0], n[1], n[2], n[3], n[4])}, nil
	case opTest:
		return []string{"+CNMI: " + s.cnmiRanges() + ",(0,2),(0,1),(0,1)"}, nil
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
		if s.cfg.cnmiModes != nil && !slices.Contains(s.cfg.cnmiModes, fmt.Sprintf("%d,%d", n[0], n[1])) {
			return nil, errSMSNotSupported
		}
		s.cnmi = n
		return nil, nil
	}
	return nil, errSyntax
}

// header is the +CMGL or +CMGR line before a message's PDU, shaped by the
// profile's alpha and stat quirks. idx < 0 leaves out the index (+CMGR).
func (s *state) header(name string, idx int, m *message, missingStat bool) string {
	var f []string
	if idx >= 0 {
		f = append(f, strconv.Itoa(idx))
	}
	if missingStat {
		f = append(f, "")
	} else {
		f = append(f, strconv.Itoa(m.stat))
	}
	switch s.cfg.alpha {
	case AlphaEmpty:
		f = append(f, "")
	case AlphaQuoted:
		f = append(f, `""`)
	}
	f = append(f, strconv.Itoa(m.tpduLen))
	return name + ": " + strings.Join(f, ",")
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
		info = append(info, s.header("+CMGL", s.wire(i), sl, s.cfg.missingStatCMGL))
		info = append(info, s.pduLines(s.wire(i), sl.pdu, true)...)
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
	n, ok := intArg(args, 0, -1)
	if !ok || len(args) > 1 {
		return nil, errSMSBadParam
	}
	i := s.slot(n)
	if i < 0 || s.slots[i] == nil {
		return nil, errSMSBadIndex
	}
	sl := s.slots[i]
	info := append([]string{s.header("+CMGR", -1, sl, s.cfg.missingStatCMGR)}, s.pduLines(n, sl.pdu, false)...)
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
				used = append(used, strconv.Itoa(s.wire(i)))
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
	n, ok := intArg(args, 0, s.cfg.indexBase-1)
	if !ok {
		return nil, errSMSBadParam
	}
	delflag, ok := intArg(args, 1, 0)
	if !ok || delflag < 0 || delflag > 4 {
		return nil, errSMSBadParam
	}
	if delflag == 0 {
		i := s.slot(n)
		if i < 0 {
			return nil, errSMSBadIndex
		}
		s.slots[i] = nil // deleting an empty slot is not an error
		delete(s.corrupt, n)
		return nil, nil
	}
	// <delflag> 1: read; 2: read and sent; 3: read, sent and unsent; 4: all.
	// The index is ignored.
	for j, sl := range s.slots {
		if sl == nil {
			continue
		}
		if delflag == 4 || sl.stat == 1 || (delflag >= 2 && sl.stat == 3) || (delflag == 3 && sl.stat == 2) {
			s.slots[j] = nil
		}
	}
	return nil, nil
}
