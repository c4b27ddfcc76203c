package netsim

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"bindpay/internal/confirm"
	"bindpay/internal/modemsim"
)

// DefaultServiceNumber is the activation number users text, and the number
// the confirmation comes from, unless configured otherwise.
const DefaultServiceNumber = "10658000"

// maxNonces is how many issued nonces are remembered per terminal.
const maxNonces = 16

// Errors of the SMS platform and OSS; callers use errors.Is. The HTTP API
// maps them to status codes and says which one in its JSON error.
var (
	// ErrClosed: the Network was closed.
	ErrClosed = errors.New("network closed")
	// ErrWrongNumber: the MO SMS was not sent to the activation number.
	ErrWrongNumber = errors.New("not the activation number")
	// ErrBadSender: the MO sender is not a phone number that can be bound.
	ErrBadSender = errors.New("sender is not a phone number")
	// ErrMalformed: the MO body does not follow "BIND <tid> [nonce]".
	ErrMalformed = errors.New("malformed activation request")
	// ErrUnknownTerminal: the terminal ID is not known to the operator.
	ErrUnknownTerminal = errors.New("unknown terminal")
	// ErrNoModem: the terminal has no modem (SIM) to receive SMS.
	ErrNoModem = errors.New("terminal has no modem")
)

// Deliverer is the terminal's SIM as the SMS platform sees it: it takes
// SMS-DELIVER PDUs (hex, as in AT+CMGL output) and stores them, telling the
// terminal. *modemsim.Modem satisfies it.
type Deliverer interface {
	Deliver(pduHex ...string) ([]int, error)
}

var _ Deliverer = (*modemsim.Modem)(nil)

// Config configures a Network. MasterKey is required: there is no built-in
// default, so a demo key is always the caller's explicit choice.
type Config struct {
	// MasterKey derives the per-terminal keys: confirm.DeriveKey(MasterKey, tid).
	MasterKey []byte
	// ServiceNumber is the activation number users text; default DefaultServiceNumber.
	ServiceNumber string
	// ConfirmSender is the number the MT confirmation comes from; default DefaultServiceNumber.
	ConfirmSender string
	// ConfirmDelay delays the MT confirmation after the MO is accepted.
	ConfirmDelay time.Duration
	// RequireSignedRequests makes unsigned platform queries fail with 401.
	// Signed queries are always verified, whatever this says.
	RequireSignedRequests bool
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logf receives the trace of what each network element does; default:
	// discard. It may be called with the Network's lock held, so it must
	// not call back into the Network.
	Logf func(format string, args ...any)
}

// Network is the operator's network side. Create it with New, register
// terminals with AddTerminal, mount Handler, and Close it when done.
type Network struct {
	cfg    Config
	ctx    context.Context // cancelled by Close; ends pending deliveries
	cancel context.CancelFunc
	wg     sync.WaitGroup // pending deliveries

	mu        sync.Mutex
	closed    bool
	terminals map[string]*terminal // by terminal ID as registered
	concatRef byte                 // last concatenation reference used
}

// terminal is what the operator knows of one terminal; guarded by Network.mu.
type terminal struct {
	id      string
	key     []byte
	modem   Deliverer
	nonces  []string // issued, oldest first, at most maxNonces
	nonce   string   // the current nonce: stable until a binding consumes it
	msisdn  string   // bound number, normalised; "" when not bound
	boundAt time.Time
	token   string // the signed BP1 token of the binding; "" when not bound
}

// New returns a Network. It panics if cfg.MasterKey is empty: that is a
// programming error, not a runtime condition.
func New(cfg Config) *Network {
	if len(cfg.MasterKey) == 0 {
		panic("netsim: Config.MasterKey is required")
	}
	cfg.MasterKey = append([]byte(nil), cfg.MasterKey...)
	if cfg.ServiceNumber == "" {
		cfg.ServiceNumber = DefaultServiceNumber
	}
	if cfg.ConfirmSender == "" {
		cfg.ConfirmSender = DefaultServiceNumber
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Network{
		cfg:       cfg,
		ctx:       ctx,
		cancel:    cancel,
		terminals: make(map[string]*terminal),
	}
}

// Close cancels pending confirmation deliveries and waits for every
// delivery goroutine to end. Later MO SMS are refused with ErrClosed.
func (n *Network) Close() {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	n.cancel()
	n.wg.Wait()
}

// AddTerminal registers a terminal known to the operator, with the modem
// (its SIM) that receives its SMS. modem may be nil: confirmations for the
// terminal are then logged and dropped. Registering an ID again replaces
// its modem and keeps its binding.
func (n *Network) AddTerminal(tid string, modem Deliverer) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if t, ok := n.terminals[tid]; ok {
		t.modem = modem
		return
	}
	n.terminals[tid] = &terminal{id: tid, key: n.key(tid), modem: modem}
}

func (n *Network) key(tid string) []byte { return confirm.DeriveKey(n.cfg.MasterKey, tid) }

// Binding reports whether tid is bound and, if so, to which number
// (normalised, not masked).
func (n *Network) Binding(tid string) (bound bool, msisdn string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	t, ok := n.terminals[tid]
	if !ok || t.msisdn == "" {
		return false, ""
	}
	return true, t.msisdn
}

// Unbind removes tid's binding, as if the user had cancelled the service.
func (n *Network) Unbind(tid string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if t, ok := n.terminals[tid]; ok && t.msisdn != "" {
		n.cfg.Logf("OSS: unbound terminal %s from %s", tid, mask(t.msisdn))
		t.msisdn, t.boundAt, t.token = "", time.Time{}, ""
	}
}

// PhoneSend is a phone sending an MO SMS (from, to, body) to the SMS
// platform. It returns once the request is accepted and the OSS has
// activated; the MT confirmation follows on a goroutine owned by the
// Network, after Config.ConfirmDelay.
func (n *Network) PhoneSend(ctx context.Context, from, to, body string) error {
	_, err := n.phoneSend(ctx, from, to, body)
	return err
}

// moResult is what an accepted activation request did.
type moResult struct {
	tid    string
	msisdn string
}

func (n *Network) phoneSend(ctx context.Context, from, to, body string) (moResult, error) {
	if err := ctx.Err(); err != nil {
		return moResult{}, err
	}
	n.cfg.Logf("SMS platform: MO from %s to %s: %q", from, to, body)
	if confirm.NormalizeNumber(to) != confirm.NormalizeNumber(n.cfg.ServiceNumber) {
		n.cfg.Logf("SMS platform: MO to %s rejected: %v (%s)", to, ErrWrongNumber, n.cfg.ServiceNumber)
		return moResult{}, fmt.Errorf("%w: %q, text %s", ErrWrongNumber, to, n.cfg.ServiceNumber)
	}
	msisdn := confirm.NormalizeNumber(from)
	if !isPhoneNumber(msisdn) {
		n.cfg.Logf("SMS platform: MO from %q rejected: %v", from, ErrBadSender)
		return moResult{}, fmt.Errorf("%w: %q", ErrBadSender, from)
	}
	tidWord, nonce, err := parseMO(body)
	if err != nil {
		n.cfg.Logf("SMS platform: MO from %s rejected: %v", msisdn, err)
		return moResult{}, err
	}

	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return moResult{}, ErrClosed
	}
	t := n.lookup(tidWord)
	if t == nil {
		n.mu.Unlock()
		n.cfg.Logf("SMS platform: MO from %s rejected: %v %s", msisdn, ErrUnknownTerminal, tidWord)
		return moResult{}, fmt.Errorf("%w: %s", ErrUnknownTerminal, tidWord)
	}
	n.cfg.Logf("SMS platform: forwarding to OSS: bind terminal %s to %s", t.id, msisdn)
	now := n.cfg.Now()
	switch {
	case t.msisdn == "":
		n.cfg.Logf("OSS: activated terminal %s, bound to %s", t.id, msisdn)
	case t.msisdn == msisdn:
		n.cfg.Logf("OSS: terminal %s already bound to %s; confirming again", t.id, msisdn)
	default:
		n.cfg.Logf("OSS: terminal %s re-bound: %s replaced by %s", t.id, mask(t.msisdn), msisdn)
	}
	t.msisdn, t.boundAt = msisdn, now
	n.cfg.Logf("OSS: activation succeeded for %s, telling the service platform", t.id)

	switch {
	case nonce != "" && slices.Contains(t.nonces, nonce):
	case nonce != "":
		n.cfg.Logf("service platform: nonce %q in the MO is not among the last nonces issued to %s; using the latest", nonce, t.id)
		nonce = ""
		fallthrough
	default:
		nonce = n.currentNonce(t)
	}
	tok := confirm.Sign(t.key, confirm.Token{TerminalID: t.id, MSISDN: mask(msisdn), Nonce: nonce})
	t.token = tok.String()
	t.nonce = "" // the binding consumes it: the next activation gets a new one
	text := confirmationBody(t.id, mask(msisdn), tok)
	n.cfg.Logf("service platform: terminal %s activated; asking the SMS platform to confirm (nonce %s)", t.id, nonce)
	n.concatRef++
	ref, modem := n.concatRef, t.modem
	n.wg.Add(1)
	n.mu.Unlock()

	go n.deliverLater(t.id, modem, text, ref)
	return moResult{tid: t.id, msisdn: msisdn}, nil
}

// deliverLater is the goroutine of one MT confirmation; it ends on delivery
// or on Close.
func (n *Network) deliverLater(tid string, modem Deliverer, text string, ref byte) {
	defer n.wg.Done()
	if d := n.cfg.ConfirmDelay; d > 0 {
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-n.ctx.Done():
			n.cfg.Logf("SMS platform: MT to terminal %s cancelled: network closed", tid)
			return
		}
	}
	if err := n.deliver(tid, modem, n.cfg.ConfirmSender, false, text, ref); err != nil {
		n.cfg.Logf("SMS platform: MT to terminal %s failed: %v", tid, err)
	}
}

// deliver encodes text from the sender (alphanumeric or a number) and
// stores it in the terminal's modem.
func (n *Network) deliver(tid string, modem Deliverer, from string, alpha bool, text string, ref byte) error {
	if modem == nil {
		return ErrNoModem
	}
	encode := modemsim.EncodeDeliver
	if alpha {
		encode = modemsim.EncodeDeliverAlpha
	}
	pdus, err := encode(from, text, n.cfg.Now(), ref)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	slots, err := modem.Deliver(pdus...)
	if err != nil {
		return fmt.Errorf("deliver: %w", err)
	}
	parts := "1 part"
	if len(pdus) > 1 {
		parts = fmt.Sprintf("%d parts", len(pdus))
	}
	n.cfg.Logf("SMS platform: MT to terminal %s from %s in %s (SIM slots %v)", tid, from, parts, slots)
	return nil
}

// SendRaw delivers an arbitrary MT text, from any number, to tid's modem at
// once: what the SMS platform, or a spoofer, can do. For tests and demos of
// the terminal's rejection paths.
func (n *Network) SendRaw(tid, from, text string) error {
	return n.sendRaw(tid, from, false, text)
}

// SendRawAlpha is SendRaw from an alphanumeric sender (type of number 5),
// even one spelled in digits, as an SMS centre lets a spoofer send.
func (n *Network) SendRawAlpha(tid, from, text string) error {
	return n.sendRaw(tid, from, true, text)
}

func (n *Network) sendRaw(tid, from string, alpha bool, text string) error {
	if !alpha && !isPhoneNumber(from) {
		return fmt.Errorf("%w: %q: want digits with an optional leading '+'", ErrBadSender, from)
	}
	n.mu.Lock()
	t, ok := n.terminals[tid]
	if !ok {
		n.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrUnknownTerminal, tid)
	}
	n.concatRef++
	ref, modem := n.concatRef, t.modem
	n.mu.Unlock()
	n.cfg.Logf("SMS platform: raw MT to terminal %s from %s (alphanumeric %v): %q", tid, from, alpha, text)
	return n.deliver(tid, modem, from, alpha, text, ref)
}

// ConfirmationText returns the free text of the MT confirmation for tid:
// Chinese for people, with the signed machine token at the end. Long enough
// to need two concatenated UCS2 parts, as real confirmations often do.
func (n *Network) ConfirmationText(tid, msisdnMasked, nonce string) string {
	return n.confirmationText(tid, n.key(tid), msisdnMasked, nonce)
}

func (n *Network) confirmationText(tid string, key []byte, masked, nonce string) string {
	return confirmationBody(tid, masked, confirm.Sign(key, confirm.Token{TerminalID: tid, MSISDN: masked, Nonce: nonce}))
}

func confirmationBody(tid, masked string, tok confirm.Token) string {
	return "【号码绑定支付】终端" + tid + "已开通，绑定号码" + masked + "。回复TD退订。" + tok.String()
}

// currentNonce returns t's current nonce, issuing one (remembered among the
// last maxNonces) when there is none: protocol v2's stable nonce, so that a
// repeated query is a pure read. n.mu must be held.
func (n *Network) currentNonce(t *terminal) string {
	if t.nonce != "" {
		return t.nonce
	}
	t.nonce = newNonce()
	t.nonces = append(t.nonces, t.nonce)
	if len(t.nonces) > maxNonces {
		t.nonces = append(t.nonces[:0], t.nonces[len(t.nonces)-maxNonces:]...)
	}
	return t.nonce
}

// lookup finds a terminal by the ID a user typed: exactly, else ignoring
// case (phones capitalise freely). n.mu must be held.
func (n *Network) lookup(word string) *terminal {
	if t, ok := n.terminals[word]; ok {
		return t
	}
	for id, t := range n.terminals {
		if strings.EqualFold(id, word) {
			return t
		}
	}
	return nil
}

// parseMO parses an activation request body: "BIND <tid> [nonce]", the
// keyword in any case, words separated by any amount of white space. The
// nonce is returned in lower case.
func parseMO(body string) (tid, nonce string, err error) {
	w := strings.Fields(body)
	if len(w) < 2 || len(w) > 3 || !strings.EqualFold(w[0], "BIND") {
		return "", "", fmt.Errorf("%w: %q, want \"BIND <terminal ID>\"", ErrMalformed, body)
	}
	if len(w) == 3 {
		nonce = strings.ToLower(w[2])
	}
	return w[1], nonce, nil
}

// mask hides the middle of a phone number: the first 3 digits, "****" and
// the last 4 of the national number (+86 and similar prefixes removed).
func mask(number string) string {
	s := confirm.NormalizeNumber(number)
	if len(s) < 8 {
		if len(s) <= 4 {
			return "****"
		}
		return "****" + s[len(s)-4:]
	}
	return s[:3] + "****" + s[len(s)-4:]
}

// isPhoneNumber: a normalised number that can pay: digits only (after a
// '+' for international numbers), of a plausible length.
func isPhoneNumber(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if len(s) < 5 || len(s) > 15 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

const nonceAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// nonceLen is within the 6 to 8 characters the token format expects.
const nonceLen = 8

// newNonce returns nonceLen random characters of [a-z0-9], unbiased.
func newNonce() string {
	out := make([]byte, 0, nonceLen)
	var buf [16]byte
	for len(out) < nonceLen {
		_, _ = rand.Read(buf[:]) // crypto/rand.Read never fails
		for _, b := range buf {
			if b < 252 && len(out) < nonceLen { // 252 = 7*36
				out = append(out, nonceAlphabet[int(b)%36])
			}
		}
	}
	return string(out)
}
