package activation

import (
	"strings"
	"time"

	"bindpay/internal/server/store"
)

// Request is a parsed activation SMS: "BIND <tid> [nonce]".
type Request struct {
	TerminalID string // as typed
	Nonce      string // lower case, "" when none
}

// ParseMO parses an MO text: the keyword BIND in any case, then the
// terminal ID and an optional nonce, words separated by any white space.
// ok is false for anything else.
func ParseMO(text string) (r Request, ok bool) {
	w := strings.Fields(text)
	if len(w) < 2 || len(w) > 3 || !strings.EqualFold(w[0], "BIND") {
		return Request{}, false
	}
	r.TerminalID = w[1]
	if len(w) == 3 {
		r.Nonce = strings.ToLower(w[2])
	}
	return r, true
}

// Lang is the language of the replies to a phone: the configured one
// (zh-CN by default) for Chinese numbers, English for other countries'.
func Lang(msisdn, def string) string {
	if strings.HasPrefix(msisdn, "+") && !strings.HasPrefix(msisdn, "+86") {
		return "en"
	}
	return def
}

// Verdict is what the OSS step does with a pending activation.
type Verdict int

// Verdicts.
const (
	Bind        Verdict = iota // bind the number, queue the confirmation
	ConfirmSame                // already bound to this number: confirm again
	BoundOther                 // bound to another number: refuse
	Refuse                     // the OSS's policy says no
	NoSIM                      // no number to send the confirmation to: fail
)

// OSSDecision is the OSS's answer for one activation.
type OSSDecision struct {
	Allow          bool
	Reason         string
	TerminalMSISDN string // the terminal's SIM number, when the OSS knows it (E.164)
}

// Decide is the OSS step's rule: given the terminal as locked, the
// activation and the OSS's decision (nil when no OSS is configured), what
// to do, and the number the confirmation goes to.
func Decide(t store.Terminal, a store.Activation, oss *OSSDecision) (Verdict, string) {
	switch {
	case t.State == store.TerminalBound && t.MSISDN == a.MSISDN:
		return ConfirmSame, confirmTo(t, oss)
	case t.State == store.TerminalBound:
		return BoundOther, ""
	case oss != nil && !oss.Allow:
		return Refuse, ""
	}
	to := confirmTo(t, oss)
	if to == "" {
		return NoSIM, ""
	}
	return Bind, to
}

// confirmTo: the SIM number from enrolment, else the OSS's.
func confirmTo(t store.Terminal, oss *OSSDecision) string {
	if t.SIMMSISDN != "" {
		return t.SIMMSISDN
	}
	if oss != nil {
		return oss.TerminalMSISDN
	}
	return ""
}

// TokenNonce is the nonce the confirmation's token carries: the
// terminal's current nonce (the one its last query was given, so the
// agent accepts the SMS offline), or none when it has expired at now. A
// nonce the MO names is recorded with the activation but never put in a
// token unless it is this one: the agent only trusts nonces it was issued.
func TokenNonce(t store.Terminal, now time.Time) string {
	if t.Nonce == "" || !now.Before(t.NonceExpires) {
		return ""
	}
	return t.Nonce
}

// Backoff is the wait before attempt n+1 after n failed attempts:
// initial, doubling, capped at max.
func Backoff(n int, initial, max time.Duration) time.Duration {
	d := initial
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}
