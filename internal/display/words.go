package display

import (
	"strings"
)

// Role says what a line of a worded screen is for, so that each backend can
// style it in its own medium (size, weight, colour) without knowing the
// wording.
type Role int

// The roles of a worded screen's lines.
const (
	RoleTitle         Role = iota // the product's name
	RoleHeadline                  // where activation stands: "Not activated."
	RoleTerminal                  // "Terminal ID: …"
	RoleInstruction               // what to do: text this to that, call support
	RoleScanHint                  // what the QR code is for; shown only with a QR code
	RoleQR                        // the place of the QR code (no text: see Words.QR)
	RoleNote                      // a side note (platform unreachable)
	RoleProblem                   // "Problem: <first line of the error>"
	RoleProblemDetail             // each further line of a multi-line error
	RoleStatus                    // what the agent is doing: waiting, checking
)

// Span is a run of text within a Line. Value marks text that comes from the
// Screen (terminal ID, SMS number and body, bound number, error text) rather
// than from the catalogue, which a backend may emphasise. Control
// characters in values are already replaced with U+FFFD.
type Span struct {
	Text  string
	Value bool
}

// Line is one paragraph of a worded screen. Its text may contain "\n"
// where the catalogue breaks a message in two; a backend with a narrow
// column wraps it further.
type Line struct {
	Role  Role
	Spans []Span
}

// String returns the line's text.
func (l Line) String() string {
	var b strings.Builder
	for _, s := range l.Spans {
		b.WriteString(s.Text)
	}
	return b.String()
}

// Words is a Screen put into words in one language: what every backend
// shows, in order, with the QR code's payload.
type Words struct {
	Lang  string // the catalogue used, e.g. "zh-CN"
	Lines []Line
	// QR is the payload of the QR code to show at the RoleQR line: the
	// SMSTO URI of the prompt, or "" when the screen has none.
	QR string
}

// Word puts s into words in lang ("en", "zh-CN", or an accepted spelling
// such as "zh"; "" means "en"). It fails on an unknown language or a Screen
// that cannot be shown.
func Word(lang string, s Screen) (Words, error) {
	key, err := Language(lang)
	if err != nil {
		return Words{}, err
	}
	if err := s.Validate(); err != nil {
		return Words{}, err
	}
	return word(key, catalogues[key], s), nil
}

// QRPayload returns what the QR code of s encodes: for a prompt, the SMSTO
// URI "SMSTO:<sms_to>:<sms_body>", which a phone's camera app opens as a
// new SMS to that number with that text; "" for other states. Number and
// body are verbatim, as the platform sent them.
func QRPayload(s Screen) string {
	if s.State != StatePrompt || s.SMSTo == "" || s.SMSBody == "" {
		return ""
	}
	return "SMSTO:" + s.SMSTo + ":" + s.SMSBody
}

// word does the work of Word for a valid Screen and a known catalogue.
func word(lang string, msgs map[msgID]string, s Screen) Words {
	w := Words{Lang: lang}
	add := func(r Role, id msgID) {
		w.Lines = append(w.Lines, Line{Role: r, Spans: fill(msgs[id], s)})
	}
	problem := func() {
		if s.Error == "" {
			return
		}
		// Error text may be several lines (errors.Join): the first after
		// "Problem:", the others as details.
		lines := strings.Split(strings.TrimRight(s.Error, "\n"), "\n")
		w.Lines = append(w.Lines, Line{Role: RoleProblem, Spans: fillWith(msgs[msgProblem], map[string]string{"{error}": lines[0]})})
		for _, l := range lines[1:] {
			w.Lines = append(w.Lines, Line{Role: RoleProblemDetail, Spans: []Span{{Text: clean(l), Value: true}}})
		}
	}
	terminal := func() {
		if s.TerminalID != "" {
			add(RoleTerminal, msgTerminalID)
		}
	}

	add(RoleTitle, msgTitle)
	switch s.State {
	case StateChecking:
		terminal()
		add(RoleStatus, msgChecking)
		problem()
	case StatePrompt:
		add(RoleHeadline, msgNotActivated)
		terminal()
		add(RoleInstruction, msgTextToActivate)
		w.QR = QRPayload(s)
		add(RoleScanHint, msgScanQR)
		w.Lines = append(w.Lines, Line{Role: RoleQR})
		if s.Offline {
			add(RoleNote, msgOffline)
		}
		problem()
		add(RoleStatus, msgWaiting)
	case StateUnknown:
		add(RoleHeadline, msgUnknown)
		terminal()
		add(RoleInstruction, msgContactSupport)
		problem()
	case StateBound:
		if s.MSISDN != "" {
			add(RoleHeadline, msgBound)
		} else {
			add(RoleHeadline, msgBoundNoNumber)
		}
		terminal()
	case StateError:
		add(RoleHeadline, msgAttention)
		terminal()
		if s.Error != "" {
			problem()
		} else {
			add(RoleStatus, msgSeeLog)
		}
	}
	return w
}

// fill splits msg at its placeholders and fills them from s, in one pass,
// so that a value that happens to contain "{to}" is shown as is.
func fill(msg string, s Screen) []Span {
	return fillWith(msg, map[string]string{
		"{tid}":    s.TerminalID,
		"{to}":     s.SMSTo,
		"{body}":   s.SMSBody,
		"{msisdn}": s.MSISDN,
	})
}

func fillWith(msg string, vals map[string]string) []Span {
	var spans []Span
	for msg != "" {
		i := strings.IndexByte(msg, '{')
		j := -1
		if i >= 0 {
			j = strings.IndexByte(msg[i:], '}')
		}
		if i < 0 || j < 0 {
			spans = append(spans, Span{Text: msg})
			break
		}
		name := msg[i : i+j+1]
		v, ok := vals[name]
		if !ok {
			spans = append(spans, Span{Text: msg[:i+j+1]})
			msg = msg[i+j+1:]
			continue
		}
		if i > 0 {
			spans = append(spans, Span{Text: msg[:i]})
		}
		spans = append(spans, Span{Text: clean(v), Value: true})
		msg = msg[i+j+1:]
	}
	return merge(spans)
}

// merge joins neighbouring catalogue spans, so that an unknown "{…}" in a
// message does not split it.
func merge(spans []Span) []Span {
	var out []Span
	for _, s := range spans {
		if n := len(out); n > 0 && !out[n-1].Value && !s.Value {
			out[n-1].Text += s.Text
			continue
		}
		out = append(out, s)
	}
	return out
}
