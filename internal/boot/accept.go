package boot

import (
	"errors"
	"fmt"
	"slices"

	"bindpay/internal/confirm"
	"bindpay/internal/flagstore"
	"bindpay/internal/modem"
	"bindpay/internal/platform"
)

// Verdict is what the acceptance rules (DESIGN.md, "Acceptance of an SMS")
// decide for one stored SMS. The flow carries it out.
type Verdict int

const (
	// Reject: not a confirmation. Logged with its reason, recorded in the
	// inbox log, removed from the modem (once a second read agrees).
	Reject Verdict = iota
	// Hold: maybe a confirmation, but only the platform can tell and it
	// cannot be reached: keep the SMS in the modem and judge it again once
	// the platform answers.
	Hold
	// AskPlatform: acceptable only if the platform confirms the binding:
	// the flow asks it now and judges the SMS again with its word.
	AskPlatform
	// Accept: a confirmation proven by its own signed token and a nonce
	// this terminal was issued: bind offline, with the SMS's token as proof.
	Accept
	// AcceptByPlatform: the platform confirmed the binding (bound:true with
	// a valid token): bind with the platform's answer as proof, and remove
	// the SMS.
	AcceptByPlatform
)

func (v Verdict) String() string {
	switch v {
	case Reject:
		return "reject"
	case Hold:
		return "hold"
	case AskPlatform:
		return "ask the platform"
	case Accept:
		return "accept"
	case AcceptByPlatform:
		return "accept (platform confirms)"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// Word is what the platform said, as far as judging an SMS goes.
type Word int

const (
	// NotAsked: the platform has not been asked for this judgement.
	NotAsked Word = iota
	// Unreachable: it could not be asked, or its answer could not be
	// believed (unsigned, malformed, an error status).
	Unreachable
	// NotBound: it answered, signed, that this terminal is not bound (or
	// that it does not know this terminal).
	NotBound
	// Bound: it answered, signed, bound:true with a valid proof.
	Bound
)

// Knowledge is what the flow knows when it judges an SMS.
type Knowledge struct {
	TerminalID string
	Senders    confirm.Allowlist
	Key        []byte           // nil without a terminal key
	Nonces     flagstore.Nonces // issued and consumed, from the ledger
	Platform   Word
}

// Assessment is a verdict with its reason, for the log and the inbox log.
type Assessment struct {
	Verdict Verdict
	Reason  string
	// Token is the SMS's token, when one was found for this terminal.
	Token confirm.Token
}

// Assess applies the acceptance rules to one stored SMS. It is pure: the
// flow gathers what it knows into k and carries out the verdict.
//
//  1. The sender must be allowed (numeric entries never match an
//     alphanumeric sender; '*' entries match a prefix).
//  2. A token must be present, for this terminal, its nonce not consumed. A
//     token for this terminal that the agent cannot parse (an operator's
//     template the agent does not know) fails only on grammar: only the
//     platform can judge it.
//  3. With a key: a valid signature and an issued nonce → accept offline; a
//     bad signature → reject. Otherwise the platform decides: bound:true →
//     accept, bound:false → reject, unreachable → hold.
//
// Rule 4 (delete only when certain) is the flow's and the modem's: a
// rejection is carried out only once a second read of the slots agrees.
func Assess(m modem.Message, k Knowledge) Assessment {
	switch {
	case errors.Is(m.Err, modem.ErrIncomplete), errors.Is(m.Err, modem.ErrDuplicatePart),
		errors.Is(m.Err, modem.ErrDraft), errors.Is(m.Err, modem.ErrUnparseable):
		return reject("storage hygiene: %v", m.Err)
	case m.Err != nil:
		return reject("undecodable: %v", m.Err)
	}
	if !k.Senders.Allows(m.Sender, m.SenderAlpha) {
		if m.SenderAlpha {
			return reject("alphanumeric sender %q is not in sms.senders (a number entry never matches a sender name)", m.Sender)
		}
		return reject("sender %q is not in sms.senders", m.Sender)
	}
	tok, err := confirm.Find(m.Text)
	switch {
	case errors.Is(err, confirm.ErrNoToken):
		return reject("no confirmation token")
	case err != nil && confirm.TerminalOf(m.Text) == k.TerminalID:
		return byPlatform(k.Platform, confirm.Token{}, "token for this terminal the agent cannot parse ("+err.Error()+")")
	case err != nil:
		return reject("no valid confirmation token: %v", err)
	case tok.TerminalID != k.TerminalID:
		return reject("confirmation is for terminal %q, this is %q", tok.TerminalID, k.TerminalID)
	}
	if ferr := tokenFields(tok); ferr != nil {
		return byPlatform(k.Platform, tok, "token for this terminal with a field the agent does not accept ("+ferr.Error()+")")
	}
	if tok.Nonce != "" && slices.Contains(k.Nonces.Consumed, tok.Nonce) {
		return reject("replayed confirmation: nonce %q was already used", tok.Nonce)
	}
	if k.Key != nil && tok.Sig != "" {
		if !confirm.Verify(k.Key, tok) {
			return reject("bad signature: not signed with this terminal's key")
		}
		if tok.Nonce != "" && slices.Contains(k.Nonces.Issued, tok.Nonce) {
			return Assessment{Verdict: Accept, Reason: "signature valid, nonce issued to this terminal", Token: tok}
		}
	}
	why := "no terminal key: only the platform can confirm it"
	switch {
	case k.Key != nil && tok.Sig == "":
		why = "unsigned token: only the platform can confirm it"
	case k.Key != nil && tok.Nonce == "":
		why = "signed, without a nonce: only the platform can confirm it"
	case k.Key != nil:
		why = fmt.Sprintf("signed, but nonce %q was not issued to this terminal (or not yet seen): only the platform can confirm it", tok.Nonce)
	}
	return byPlatform(k.Platform, tok, why)
}

// byPlatform is rule 3's "otherwise": the platform's word decides.
func byPlatform(w Word, tok confirm.Token, why string) Assessment {
	switch w {
	case Bound:
		return Assessment{Verdict: AcceptByPlatform, Reason: why + "; the platform confirms the binding", Token: tok}
	case NotBound:
		return Assessment{Verdict: Reject, Reason: why + "; the platform says this terminal is not bound", Token: tok}
	case Unreachable:
		return Assessment{Verdict: Hold, Reason: why + "; kept until the platform can be asked", Token: tok}
	}
	return Assessment{Verdict: AskPlatform, Reason: why, Token: tok}
}

func reject(format string, args ...any) Assessment {
	return Assessment{Verdict: Reject, Reason: fmt.Sprintf(format, args...)}
}

// tokenFields checks what a token puts on screen and in the record.
func tokenFields(tok confirm.Token) error {
	if err := confirm.CheckMaskedMSISDN(tok.MSISDN); err != nil {
		return err
	}
	if tok.Nonce != "" {
		return confirm.CheckNonce(tok.Nonce)
	}
	return nil
}

// RecordVerdict is what a stored binding record is worth at boot.
type RecordVerdict int

const (
	// RecordBound: the record is this terminal's, with its proof where a
	// key can check one: the terminal is bound.
	RecordBound RecordVerdict = iota
	// RecordUnproven: the record is this terminal's but carries no proof
	// while a key is configured (a version 1 record, or one written before
	// the key was installed). Not bound until the platform proves it again;
	// the record is kept (the next binding replaces it).
	RecordUnproven
	// RecordForeign: the record is another terminal's, or its proof does not
	// verify with this terminal's key (copied from another box or a golden
	// image): not bound, and `run` moves it aside.
	RecordForeign
)

// CheckRecord judges a stored record (DESIGN.md, "The record and the
// activation's life"). terminalID is this terminal's ID, or "" when it is
// not known without the modem (IMEI mode): the record's own ID is then all
// there is to check a proof against. Without a key there is no proof to
// check: the terminal ID is all that is compared.
func CheckRecord(r flagstore.Record, terminalID string, key []byte) (RecordVerdict, string) {
	if terminalID != "" && r.TerminalID != terminalID {
		return RecordForeign, fmt.Sprintf("record is for terminal %q, this is %q", r.TerminalID, terminalID)
	}
	if key == nil {
		return RecordBound, ""
	}
	if r.Token == "" {
		return RecordUnproven, fmt.Sprintf("record (version %d) carries no proof of the binding to check with the terminal key", r.Version)
	}
	if err := platform.CheckToken(r.Token, r.TerminalID, r.MSISDN, key); err != nil {
		return RecordForeign, "record's proof does not hold (copied from another box?): " + err.Error()
	}
	return RecordBound, ""
}
