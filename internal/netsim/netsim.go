package netsim

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/pdumode"
	"github.com/warthog618/sms/encoding/tpdu"

	"bindpay/internal/confirm"
	"bindpay/internal/modemsim"
	"bindpay/internal/server/activation"
	"bindpay/internal/server/config"
	"bindpay/internal/server/enrol"
	"bindpay/internal/server/link"
	"bindpay/internal/server/node"
	"bindpay/internal/server/number"
	"bindpay/internal/server/store"
)

// DefaultServiceNumber is the activation number users text, and the number
// the confirmation comes from, unless configured otherwise.
const DefaultServiceNumber = "10658000"

// maxPhoneInbox bounds how many SMS to phones are remembered.
const maxPhoneInbox = 64

// Errors of the simulated SMS centre and of the platform's outcomes for an
// MO; callers use errors.Is. The HTTP API maps them to status codes and
// says which one in its JSON error.
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
	// ErrBoundOther: the terminal is bound to another number; the platform
	// refuses (the operator unbinds first).
	ErrBoundOther = errors.New("terminal bound to another number")
	// ErrNotActivated: the platform did not activate (refused by policy,
	// failed, cancelled or still pending); the error says which.
	ErrNotActivated = errors.New("not activated")
)

// Deliverer is the terminal's SIM as the SMS centre sees it: it takes
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
	// The SMS centre routes MOs to it to the platform.
	ServiceNumber string
	// ConfirmSender is the number the platform's MTs (the confirmation, the
	// replies to phones) come from: its sms.from; default DefaultServiceNumber.
	ConfirmSender string
	// ConfirmDelay delays each MT to a terminal's SIM (the first part of a
	// concatenated one) in the SMS centre, after the platform handed it over.
	ConfirmDelay time.Duration
	// RequireSignedRequests makes unsigned platform queries fail with 401.
	// Signed queries are always verified, whatever this says.
	RequireSignedRequests bool
	// AdminToken enables the platform's admin API (/v1/admin/...) with this
	// bearer token; "" leaves it closed (every call 401).
	AdminToken string
	// StoreURL is the platform's store (store.Open's URL: sqlite:// or
	// postgres://), migrated at New; default: SQLite in the Network's
	// temporary directory.
	StoreURL string
	// Log receives the platform node's log; default: its lines go to Logf.
	Log *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logf receives the trace of what each network element does (the
	// platform's log lines among them); default: discard. It must not call
	// back into the Network.
	Logf func(format string, args ...any)
}

// Network is the operator's network side: a bindpay-platform node on
// SQLite in a temporary directory, with the sim link into the simulated
// SMS centre, the terminals' modems and the phones. Create it with New,
// register terminals with AddTerminal, mount Handler, and Close it when
// done.
type Network struct {
	cfg   Config
	dir   string // the platform's state directory, removed by Close
	st    store.Store
	node  *node.Node
	ctx   context.Context // cancelled by Close: ends the node and pending deliveries
	stop  context.CancelFunc
	ran   chan struct{} // closed when the node's Run has returned
	once  sync.Once     // Close's work
	smsID atomic.Int64  // the SMS centre's MO message ids
	ref   atomic.Uint32 // concatenation references of raw MTs

	mu     sync.Mutex
	closed bool
	sims   map[string]*sim // by terminal ID as registered
	byNum  map[string]*sim // by SIM number (E.164)
	inbox  []PhoneMessage  // SMS to phones, oldest first, at most maxPhoneInbox
}

// sim is a terminal's SIM in the SMS centre; guarded by Network.mu.
type sim struct {
	tid    string
	number string // E.164
	modem  Deliverer
}

// PhoneMessage is an SMS the platform sent to a phone (its replies).
type PhoneMessage struct {
	To   string // E.164
	From string
	Text string // one part's text
}

// New returns a Network with its platform node running. It panics if
// cfg.MasterKey is empty (a programming error) or if the platform's store
// cannot be opened (a temporary directory cannot be made, or StoreURL is
// not reachable).
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
	n, err := newNetwork(cfg)
	if err != nil {
		panic("netsim: " + err.Error())
	}
	return n
}

func newNetwork(cfg Config) (*Network, error) {
	dir, err := os.MkdirTemp("", "bindpay-netsim-")
	if err != nil {
		return nil, fmt.Errorf("platform state directory: %w (set TMPDIR to a writable directory)", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	n := &Network{cfg: cfg, dir: dir, ctx: ctx, stop: stop, ran: make(chan struct{}),
		sims: make(map[string]*sim), byNum: make(map[string]*sim)}
	fail := func(err error) (*Network, error) {
		stop()
		if n.st != nil {
			_ = n.st.Close()
		}
		_ = os.RemoveAll(dir)
		return nil, err
	}
	storeURL := cfg.StoreURL
	if storeURL == "" {
		storeURL = "sqlite://" + filepath.Join(dir, "platform.db")
	}
	n.st, err = store.Open(ctx, storeURL, true)
	if err != nil {
		return fail(fmt.Errorf("platform store: %w", err))
	}
	pc := config.Default()
	pc.Store.URL = storeURL
	pc.Link.Kind = "sim"
	pc.SMS.From = cfg.ConfirmSender
	pc.API.AllowUnsigned = !cfg.RequireSignedRequests
	pc.Link.Timeout = config.Duration(cfg.ConfirmDelay + 10*time.Second) // the SMS centre holds a part for ConfirmDelay
	pc.Outbox.Lease = config.Duration(cfg.ConfirmDelay + time.Minute)
	// Every MO carries the SMS centre's own id, which the platform
	// deduplicates on; the window on sender and text (for gateways that
	// give no id) would also swallow a user's second, deliberate BIND
	// within minutes, so it is kept to the least the platform accepts.
	pc.MO.DedupWindow = config.Duration(time.Millisecond)
	pc.Outbox.RetryInitial = config.Duration(100 * time.Millisecond) // a simulated SMS centre answers at once
	pc.Outbox.RetryMax = config.Duration(time.Second)
	if err := pc.Validate(); err != nil {
		return fail(fmt.Errorf("platform config: %w", err))
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(logfWriter(cfg.Logf), &slog.HandlerOptions{
			ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
				if len(groups) == 0 && a.Key == slog.TimeKey {
					return slog.Attr{} // Logf's sink has its own time stamps
				}
				return a
			},
		})).With("element", "platform")
	}
	l := &link.SIM{Network: simNetwork{n}, Now: cfg.Now}
	n.node, err = node.New(pc, n.st, l, node.Secrets{MasterKey: cfg.MasterKey, AdminToken: cfg.AdminToken},
		node.Options{Now: cfg.Now, Log: log, Owner: "netsim"})
	if err != nil {
		return fail(fmt.Errorf("platform node: %w", err))
	}
	go func() {
		defer close(n.ran)
		_ = n.node.Run(ctx) // logs its own errors; returns once ctx ends
	}()
	return n, nil
}

// logfWriter turns the platform's log lines into Logf calls.
type logfWriter func(format string, args ...any)

func (f logfWriter) Write(p []byte) (int, error) {
	f("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var _ io.Writer = logfWriter(nil)

// Close stops the platform node (its outbox and retry loops, pending
// deliveries), closes its store and removes its state directory. Later MO
// SMS are refused with ErrClosed.
func (n *Network) Close() {
	n.once.Do(func() {
		n.mu.Lock()
		n.closed = true
		n.mu.Unlock()
		n.stop()
		<-n.ran
		if err := n.st.Close(); err != nil {
			n.cfg.Logf("netsim: close the platform store: %v", err)
		}
		if err := os.RemoveAll(n.dir); err != nil {
			n.cfg.Logf("netsim: remove %s: %v", n.dir, err)
		}
	})
}

// SIMNumber is the stable number of the simulated SIM of terminal tid, to
// which the platform sends its confirmation: +86147 and 8 digits derived
// from the ID.
func SIMNumber(tid string) string {
	sum := sha256.Sum256([]byte(tid))
	return fmt.Sprintf("+86147%08d", binary.BigEndian.Uint64(sum[:8])%1e8)
}

// AddTerminal enrols a terminal in the platform, with the SIM number
// SIMNumber(tid), and registers the modem (its SIM) that receives its SMS
// in the SMS centre. modem may be nil: MTs for the terminal then fail in
// the SMS centre (and the platform's outbox retries them). Registering an
// ID again replaces its modem and keeps its binding.
func (n *Network) AddTerminal(tid string, modem Deliverer) {
	num := SIMNumber(tid)
	res, err := enrol.Apply(n.ctx, n.st, []store.Enrolment{{TerminalID: tid, SIMMSISDN: num}}, "oss", n.cfg.Now())
	if err != nil {
		n.cfg.Logf("OSS: enrolling terminal %s failed: %v", tid, err)
		return
	}
	if res.New > 0 {
		n.cfg.Logf("OSS: terminal %s enrolled, SIM %s", tid, num)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	s := &sim{tid: tid, number: num, modem: modem}
	n.sims[tid], n.byNum[num] = s, s
}

// Binding reports whether tid is bound and, if so, to which number (the
// platform's E.164 form, not masked).
func (n *Network) Binding(tid string) (bound bool, msisdn string) {
	t, err := n.st.Terminal(n.ctx, tid)
	if err != nil || t.State != store.TerminalBound {
		return false, ""
	}
	return true, t.MSISDN
}

// Unbind removes tid's binding in the platform, as if the user had
// cancelled the service. A terminal that is not bound is left alone.
func (n *Network) Unbind(tid string) {
	t, err := n.st.Terminal(n.ctx, tid)
	if err != nil || t.State != store.TerminalBound {
		return
	}
	if _, err := n.node.Activation().Unbind(n.ctx, tid, t.Version, "oss"); err != nil {
		n.cfg.Logf("OSS: unbinding terminal %s failed: %v", tid, err)
	}
}

// Timeline is the platform's audit log of tid, oldest first.
func (n *Network) Timeline(ctx context.Context, tid string) ([]store.AuditEntry, error) {
	es, err := n.st.AuditLog(ctx, tid, 1000)
	if err != nil {
		return nil, fmt.Errorf("netsim: timeline of %s: %w", tid, err)
	}
	return es, nil
}

// PhoneInbox returns the SMS the platform sent to the phone number (any
// spelling), oldest first, among the last ones the SMS centre remembers.
func (n *Network) PhoneInbox(phone string) []PhoneMessage {
	to, err := number.E164(phone)
	if err != nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []PhoneMessage
	for _, m := range n.inbox {
		if m.To == to {
			out = append(out, m)
		}
	}
	return out
}

// PhoneSend is a phone sending an MO SMS (from, to, body) through the SMS
// centre, which routes it to the platform when it is to the activation
// number. It returns once the platform has committed it and run the OSS
// step; the MT confirmation follows from the platform's outbox, through
// the sim link, into the terminal's modem.
func (n *Network) PhoneSend(ctx context.Context, from, to, body string) error {
	_, err := n.phoneSend(ctx, from, to, body)
	return err
}

// moResult is what an accepted activation request did.
type moResult struct {
	tid    string
	msisdn string // E.164
}

func (n *Network) phoneSend(ctx context.Context, from, to, body string) (moResult, error) {
	if err := ctx.Err(); err != nil {
		return moResult{}, err
	}
	n.mu.Lock()
	closed := n.closed
	n.mu.Unlock()
	if closed {
		return moResult{}, ErrClosed
	}
	n.cfg.Logf("SMS centre: MO from %s to %s: %q", from, to, body)
	if confirm.NormalizeNumber(to) != confirm.NormalizeNumber(n.cfg.ServiceNumber) {
		n.cfg.Logf("SMS centre: MO to %s not routed: %v (%s)", to, ErrWrongNumber, n.cfg.ServiceNumber)
		return moResult{}, fmt.Errorf("%w: %q, text %s", ErrWrongNumber, to, n.cfg.ServiceNumber)
	}
	id := fmt.Sprintf("netsim-%d", n.smsID.Add(1))
	res, err := n.node.Activation().ReceiveMO(ctx, activation.MO{SMSCID: id, From: from, To: n.cfg.ConfirmSender, Text: body})
	if err != nil {
		return moResult{}, fmt.Errorf("netsim: platform: %w", err)
	}
	n.cfg.Logf("SMS centre: MO %s to the platform: %s", id, strings.TrimSpace(string(res.Outcome)+" "+res.Detail))
	msisdn, _ := number.E164(from)
	if err := outcomeError(res, from, body); err != nil {
		return moResult{}, err
	}
	a, err := n.st.Activation(ctx, res.ActivationID)
	if err != nil {
		return moResult{}, fmt.Errorf("netsim: activation %d: %w", res.ActivationID, err)
	}
	return moResult{tid: a.TerminalID, msisdn: msisdn}, nil
}

// outcomeError maps the platform's outcome for an MO to this package's
// errors; nil for an activation.
func outcomeError(res activation.Result, from, body string) error {
	switch res.Outcome {
	case activation.OutcomeActivated:
		return nil
	case activation.OutcomeIgnored:
		return fmt.Errorf("%w: %q (%s)", ErrBadSender, from, res.Detail)
	case activation.OutcomeMalformed:
		return fmt.Errorf("%w: %q, want \"BIND <terminal ID>\"", ErrMalformed, body)
	case activation.OutcomeUnknown:
		return fmt.Errorf("%w: %q", ErrUnknownTerminal, body)
	case activation.OutcomeBoundOther:
		return fmt.Errorf("%w (unbind it first)", ErrBoundOther)
	default:
		return fmt.Errorf("%w: %s %s", ErrNotActivated, res.Outcome, res.Detail)
	}
}

// SendRaw delivers an arbitrary MT text, from any number, to tid's modem at
// once: what the SMS centre, or a spoofer, can do, past the platform. For
// tests and demos of the terminal's rejection paths.
func (n *Network) SendRaw(tid, from, text string) error {
	return n.sendRaw(tid, from, false, text)
}

// SendRawAlpha is SendRaw from an alphanumeric sender (type of number 5),
// even one spelled in digits, as an SMS centre lets a spoofer send.
func (n *Network) SendRawAlpha(tid, from, text string) error {
	return n.sendRaw(tid, from, true, text)
}

func (n *Network) sendRaw(tid, from string, alpha bool, text string) error {
	if !alpha && !isNumber(from) {
		return fmt.Errorf("%w: %q: want digits with an optional leading '+'", ErrBadSender, from)
	}
	n.mu.Lock()
	s, ok := n.sims[tid]
	n.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownTerminal, tid)
	}
	if s.modem == nil {
		return ErrNoModem
	}
	encode := modemsim.EncodeDeliver
	if alpha {
		encode = modemsim.EncodeDeliverAlpha
	}
	pdus, err := encode(from, text, n.cfg.Now(), byte(n.ref.Add(1)))
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	n.cfg.Logf("SMS centre: raw MT to terminal %s from %s (alphanumeric %v): %q", tid, from, alpha, text)
	slots, err := s.modem.Deliver(pdus...)
	if err != nil {
		return fmt.Errorf("deliver: %w", err)
	}
	n.cfg.Logf("SMS centre: MT to terminal %s from %s in %d part(s) (SIM slots %v)", tid, from, len(pdus), slots)
	return nil
}

// ConfirmationText returns the platform's confirmation text for tid with a
// token over msisdnMasked and nonce signed by tid's key: what the platform
// sends once a binding consumes nonce. Long enough to need two
// concatenated UCS2 parts, as real confirmations often do.
func (n *Network) ConfirmationText(tid, msisdnMasked, nonce string) string {
	tok := confirm.Sign(confirm.DeriveKey(n.cfg.MasterKey, tid), confirm.Token{TerminalID: tid, MSISDN: msisdnMasked, Nonce: nonce})
	return activation.ConfirmationText(tid, msisdnMasked, tok.String())
}

// simNetwork is the SMS centre as the platform's sim link sees it.
type simNetwork struct{ n *Network }

// DeliverPDU routes one MT part: to a terminal's modem when to is a SIM
// number (after ConfirmDelay for the first part), else to a phone's inbox.
func (s simNetwork) DeliverPDU(ctx context.Context, to, pduHex string) error {
	n := s.n
	seg, err := decodePDU(pduHex)
	if err != nil {
		return fmt.Errorf("netsim: MT to %s: %w", to, err)
	}
	n.mu.Lock()
	sm, ok := n.byNum[to]
	n.mu.Unlock()
	if !ok {
		text, _ := sms.Decode([]*tpdu.TPDU{seg})
		n.cfg.Logf("SMS centre: MT to phone %s from %s: %q", number.Mask(to), seg.OA.Number(), text)
		n.mu.Lock()
		n.inbox = append(n.inbox, PhoneMessage{To: to, From: seg.OA.Number(), Text: string(text)})
		if len(n.inbox) > maxPhoneInbox {
			n.inbox = append(n.inbox[:0], n.inbox[len(n.inbox)-maxPhoneInbox:]...)
		}
		n.mu.Unlock()
		return nil
	}
	if sm.modem == nil {
		return fmt.Errorf("netsim: terminal %s: %w", sm.tid, ErrNoModem)
	}
	_, seq, _, _ := seg.ConcatInfo()
	if d := n.cfg.ConfirmDelay; d > 0 && seq <= 1 {
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	slots, err := sm.modem.Deliver(pduHex)
	if err != nil {
		return fmt.Errorf("netsim: deliver to terminal %s: %w", sm.tid, err)
	}
	n.cfg.Logf("SMS centre: MT to terminal %s (SIM %s) from %s, part %d (SIM slots %v)", sm.tid, number.Mask(to), seg.OA.Number(), max(seq, 1), slots)
	return nil
}

func decodePDU(h string) (*tpdu.TPDU, error) {
	p, err := pdumode.UnmarshalHexString(h)
	if err != nil {
		return nil, fmt.Errorf("decode PDU: %w", err)
	}
	seg, err := sms.Unmarshal(p.TPDU)
	if err != nil {
		return nil, fmt.Errorf("decode PDU: %w", err)
	}
	return seg, nil
}

// isNumber: digits with an optional leading '+', as an SMS centre takes a
// numeric sender.
func isNumber(s string) bool {
	d := strings.TrimPrefix(s, "+")
	return d != "" && strings.Trim(d, "0123456789") == ""
}
