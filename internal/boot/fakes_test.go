package boot_test

// Scripted fakes for boot.Run and the harness that drives it. Every fake
// appends what it is asked to one shared event log, so a test can wait for
// the step it needs next (no sleeping, no polling) and can assert the order
// of steps across fakes (Save before Delete). Time never passes on its own:
// the fake clock's channels fire only when the test fires them.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bindpay/internal/boot"
	"bindpay/internal/confirm"
	"bindpay/internal/display"
	"bindpay/internal/flagstore"
	"bindpay/internal/modem"
	"bindpay/internal/platform"
)

// guard bounds every wait of a test: a hang guard only, never reached by a
// passing test.
const guard = 10 * time.Second

var (
	_ boot.FlagStore = (*fakeFlags)(nil)
	_ boot.Platform  = (*fakePlatform)(nil)
	_ boot.Inbox     = (*fakeInbox)(nil)
	_ boot.Display   = (*fakeDisplay)(nil)
	_ boot.Clock     = (*fakeClock)(nil)
)

// event is one call made by boot.Run into a fake.
type event struct {
	kind   string           // load, imei, platform, after, show, save, delete
	detail string           // load/platform: terminal ID; show: state; save: record source; delete: message ID; after: duration
	d      time.Duration    // after: the duration asked for
	timer  chan<- time.Time // after: fires the channel handed out
}

func (e event) String() string { return e.kind + ":" + e.detail }

// eventLog is the ordered record of calls shared by all the fakes.
type eventLog struct {
	mu      sync.Mutex
	events  []event
	changed chan struct{} // closed and replaced at each add
	cursor  int           // next event await looks at; test goroutine only
}

func newEventLog() *eventLog { return &eventLog{changed: make(chan struct{})} }

func (l *eventLog) add(e event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *eventLog) all() []event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]event(nil), l.events...)
}

// list returns "kind:detail" of the events of the given kinds, in order.
func (l *eventLog) list(kinds ...string) []string {
	var out []string
	for _, e := range l.all() {
		for _, k := range kinds {
			if e.kind == k {
				out = append(out, e.String())
			}
		}
	}
	return out
}

// await returns the first event of kind after the previous awaited one,
// waiting for it if it has not happened yet.
func (l *eventLog) await(t *testing.T, kind string) event {
	t.Helper()
	timeout := time.NewTimer(guard)
	defer timeout.Stop()
	for {
		l.mu.Lock()
		for i := l.cursor; i < len(l.events); i++ {
			if e := l.events[i]; e.kind == kind {
				l.cursor = i + 1
				l.mu.Unlock()
				return e
			}
		}
		changed := l.changed
		l.mu.Unlock()
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("waited %v for boot.Run to make a %q call; got only: %v", guard, kind, l.all())
		}
	}
}

// fakeFlags is an in-memory flag store.
type fakeFlags struct {
	events *eventLog

	mu      sync.Mutex
	rec     *flagstore.Record // what Load finds; nil: none
	loadErr error             // returned by Load when set
	saveErr error             // returned by Save when set (the record is then not kept)
	loads   []string          // terminal IDs Load was asked for
	saves   []flagstore.Record

	quarantined []string // why, for each Quarantine
}

func (f *fakeFlags) Load(terminalID string) (flagstore.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loads = append(f.loads, terminalID)
	f.events.add(event{kind: "load", detail: terminalID})
	switch {
	case f.loadErr != nil:
		return flagstore.Record{}, f.loadErr
	case f.rec == nil:
		return flagstore.Record{}, fmt.Errorf("load /var/lib/bindpay/binding.json: %w", flagstore.ErrNotFound)
	}
	return *f.rec, nil
}

func (f *fakeFlags) Save(r flagstore.Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.saves = append(f.saves, r)
	f.events.add(event{kind: "save", detail: r.Source})
	if f.saveErr != nil {
		return f.saveErr
	}
	f.rec = &r
	return nil
}

// Quarantine moves the record "aside": Load finds none afterwards.
func (f *fakeFlags) Quarantine(why string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rec = nil
	f.quarantined = append(f.quarantined, why)
	f.events.add(event{kind: "quarantine", detail: why})
	return fmt.Errorf("load /var/lib/bindpay/binding.json: %w: %s; moved aside", flagstore.ErrCorrupt, why)
}

func (f *fakeFlags) saved() []flagstore.Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]flagstore.Record(nil), f.saves...)
}

func (f *fakeFlags) loaded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.loads...)
}

// reply is one scripted answer of the platform.
type reply struct {
	ans platform.Binding
	err error
}

// fakePlatform plays back a script of answers, one per call, in order. A
// call beyond the script fails the test; assertUsed checks that every
// scripted answer was asked for (periph's conntest.Playback).
type fakePlatform struct {
	t      *testing.T
	events *eventLog

	mu     sync.Mutex
	script []reply
	calls  []string // terminal IDs asked about
}

var errUnscripted = errors.New("fake platform: call beyond the script")

func (p *fakePlatform) Binding(ctx context.Context, terminalID string) (platform.Binding, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, terminalID)
	p.events.add(event{kind: "platform", detail: terminalID})
	n := len(p.calls)
	if n > len(p.script) {
		p.t.Errorf("input: platform.Binding(%q), call %d; got: a call beyond the script; want: at most %d calls", terminalID, n, len(p.script))
		return platform.Binding{}, errUnscripted
	}
	r := p.script[n-1]
	return r.ans, r.err
}

func (p *fakePlatform) called() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.calls...)
}

// assertUsed checks that boot.Run asked for exactly the scripted answers.
func (p *fakePlatform) assertUsed(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	require.Len(t, p.calls, len(p.script), "platform calls: got %d (%q), want every one of the %d scripted answers used", len(p.calls), p.calls, len(p.script))
}

// fakeInbox is the modem: the test feeds Messages and closes Scanned.
type fakeInbox struct {
	events  *eventLog
	msgs    chan modem.Message // unbuffered: a send returns once Run has taken the message
	scanned chan struct{}
	imei    string
	imeiErr error

	runs    atomic.Int32 // Run calls started
	stopped atomic.Bool  // a Run call saw its context end and returned

	mu      sync.Mutex
	deletes []string // IDs of deleted messages
}

func (in *fakeInbox) Run(ctx context.Context) error {
	in.runs.Add(1)
	<-ctx.Done()
	in.stopped.Store(true)
	return ctx.Err()
}

func (in *fakeInbox) Messages() <-chan modem.Message { return in.msgs }

func (in *fakeInbox) Scanned() <-chan struct{} { return in.scanned }

func (in *fakeInbox) Delete(ctx context.Context, m modem.Message) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.deletes = append(in.deletes, m.ID)
	in.events.add(event{kind: "delete", detail: m.ID})
	return nil
}

// Discard is Delete for the fake: its slots always read the same.
func (in *fakeInbox) Discard(ctx context.Context, m modem.Message) error {
	return in.Delete(ctx, m)
}

func (in *fakeInbox) IMEI(ctx context.Context) (string, error) {
	in.events.add(event{kind: "imei", detail: in.imei})
	return in.imei, in.imeiErr
}

func (in *fakeInbox) deleted() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.deletes...)
}

// fakeDisplay records the screens shown and checks that each is showable.
type fakeDisplay struct {
	t      *testing.T
	events *eventLog

	mu      sync.Mutex
	screens []display.Screen
}

func (d *fakeDisplay) Show(s display.Screen) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := s.Validate(); err != nil {
		d.t.Errorf("input: Display.Show(%+v); got: %v; want: a screen the displays can show", s, err)
	}
	d.screens = append(d.screens, s)
	d.events.add(event{kind: "show", detail: string(s.State)})
	return nil
}

func (d *fakeDisplay) shown() []display.Screen {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]display.Screen(nil), d.screens...)
}

func (d *fakeDisplay) last() display.Screen {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.screens) == 0 {
		return display.Screen{}
	}
	return d.screens[len(d.screens)-1]
}

// fakeClock stands still; its After channels fire when the test says so.
type fakeClock struct {
	events *eventLog
	now    time.Time
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.events.add(event{kind: "after", detail: d.String(), d: d, timer: ch})
	return ch
}

// syncBuffer is a bytes.Buffer safe for the logger and the test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type runResult struct {
	out boot.Outcome
	err error
}

// harness runs boot.Run in a goroutine over the fakes.
type harness struct {
	t        *testing.T
	events   *eventLog
	flags    *fakeFlags
	plat     *fakePlatform
	inbox    *fakeInbox
	disp     *fakeDisplay
	clock    *fakeClock
	logs     *syncBuffer
	statuses chan string
	ledger   boot.Ledger // a real ledger on memory; tests may replace it before start

	cancel   context.CancelFunc
	done     chan runResult
	res      *runResult
	barriers int
}

func newHarness(t *testing.T, script ...reply) *harness {
	ev := newEventLog()
	return &harness{
		t:      t,
		events: ev,
		flags:  &fakeFlags{events: ev},
		plat:   &fakePlatform{t: t, events: ev, script: script},
		inbox: &fakeInbox{
			events:  ev,
			msgs:    make(chan modem.Message),
			scanned: make(chan struct{}),
			imei:    imei,
		},
		disp:     &fakeDisplay{t: t, events: ev},
		clock:    &fakeClock{events: ev, now: clockNow},
		logs:     &syncBuffer{},
		statuses: make(chan string, 100),
		ledger:   newLedger(t),
	}
}

// start runs boot.Run(cfg) in a goroutine, under a context with a hang
// guard. Cleanup cancels it and waits for it.
func (h *harness) start(cfg boot.Config) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	h.cancel = cancel
	h.done = make(chan runResult, 1)
	d := boot.Deps{
		Flags:    h.flags,
		Ledger:   h.ledger,
		Platform: h.plat,
		Inbox:    h.inbox,
		Display:  h.disp,
		Clock:    h.clock,
		Log:      slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Status: func(s string) {
			select {
			case h.statuses <- s:
			default:
			}
		},
	}
	go func() {
		out, err := boot.Run(ctx, cfg, d)
		h.done <- runResult{out: out, err: err}
	}()
	h.t.Cleanup(func() {
		cancel()
		if h.res != nil {
			return
		}
		select {
		case r := <-h.done:
			h.res = &r
		case <-time.After(guard):
			h.t.Errorf("boot.Run did not return within %v of its context being cancelled", guard)
		}
	})
}

// run is start and result, for runs that need no interaction.
func (h *harness) run(cfg boot.Config) (boot.Outcome, error) {
	h.t.Helper()
	h.start(cfg)
	return h.result()
}

// result waits for boot.Run to return.
func (h *harness) result() (boot.Outcome, error) {
	h.t.Helper()
	if h.res == nil {
		select {
		case r := <-h.done:
			h.res = &r
		case <-time.After(2 * guard):
			h.t.Fatalf("boot.Run did not return within %v; calls so far: %v", 2*guard, h.events.all())
		}
	}
	return h.res.out, h.res.err
}

// returned reports, without waiting, whether boot.Run has returned.
func (h *harness) returned() bool {
	if h.res != nil {
		return true
	}
	select {
	case r := <-h.done:
		h.res = &r
		return true
	default:
		return false
	}
}

// stop cancels boot.Run's context and waits for it to return.
func (h *harness) stop() (boot.Outcome, error) {
	h.t.Helper()
	h.cancel()
	return h.result()
}

// send delivers m as the modem would; it fails the test if boot.Run has
// returned instead of taking it.
func (h *harness) send(m modem.Message) {
	h.t.Helper()
	select {
	case h.inbox.msgs <- m:
	case r := <-h.done:
		h.res = &r
		h.t.Fatalf("input: SMS %q; got: boot.Run had already returned (%+v, %v); want: Run waiting for SMS", m.ID, r.out, r.err)
	case <-time.After(guard):
		h.t.Fatalf("input: SMS %q; got: boot.Run did not take it within %v; want: Run waiting for SMS", m.ID, guard)
	}
}

// finishScan tells boot.Run that the first scan of the modem is complete.
func (h *harness) finishScan() { close(h.inbox.scanned) }

func (h *harness) await(kind string) event {
	h.t.Helper()
	return h.events.await(h.t, kind)
}

// fire fires the channel that an After call handed out.
func (h *harness) fire(e event) {
	h.t.Helper()
	require.Equal(h.t, "after", e.kind, "fire: got a %q event, want an After call", e.kind)
	select {
	case e.timer <- h.clock.now.Add(e.d):
	default:
		h.t.Fatalf("fire: the After(%v) channel was already fired", e.d)
	}
}

// barrier sends a foreign SMS and waits until boot.Run has deleted it: all
// that Run took before it has then been handled.
func (h *harness) barrier() {
	h.t.Helper()
	h.barriers++
	id := fmt.Sprintf("barrier-%d", h.barriers)
	h.send(sms(id, "95555", "【某银行】您尾号1234的账户支出100.00元。"))
	e := h.await("delete")
	require.Equal(h.t, id, e.detail, "input: foreign SMS %q; got the deletion of %q; want the foreign SMS deleted next", id, e.detail)
}

// logRecords returns the JSON log records whose msg is msg.
func (h *harness) logRecords(msg string) []map[string]any {
	h.t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(h.logs.String()), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		require.NoError(h.t, json.Unmarshal([]byte(line), &r), "log line %q is not JSON", line)
		if r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

// rejection returns the logged reason for rejecting the SMS id.
func (h *harness) rejection(id string) (reason string, ok bool) {
	h.t.Helper()
	for _, r := range h.logRecords("SMS rejected") {
		if r["sms"] == id {
			s, _ := r["reason"].(string)
			return s, true
		}
	}
	return "", false
}

// Fixtures.

const (
	tid          = "STB0012345678"
	otherTID     = "STB0099999999"
	imei         = "861234567890123"
	masked       = "138****8000"
	nonce        = "q8x3k2"
	senderConf   = "10658000"    // the sms.senders entry
	senderSeen   = "+8610658000" // the same number as the network presents it
	fallbackTo   = "10658000"
	promptTo     = "1065800088"
	promptBody   = "bind  STB0012345678 q8x3k2" // odd spacing and case: must be shown verbatim
	poll         = 7 * time.Minute
	retryMin     = 4 * time.Second
	scanWait     = 20 * time.Second
	unknownNonce = "zz9k7p" // a nonce the platform never issued in the test
)

var (
	masterKey       = []byte("example master key")
	termKey         = confirm.DeriveKey(masterKey, tid)
	clockNow        = time.Date(2026, 11, 25, 20, 0, 5, 0, time.FixedZone("CST", 8*60*60))
	platformBoundAt = time.Date(2026, 11, 26, 4, 0, 0, 0, time.FixedZone("CST", 8*60*60))
	errUnreachable  = errors.New("query platform https://bind.example.net/v1/terminals/STB0012345678/binding: dial tcp 192.0.2.1:443: connect: connection refused")
)

// config is the usual configuration; key may be nil.
func config(t *testing.T, key []byte) boot.Config {
	t.Helper()
	senders, err := confirm.NewAllowlist([]string{senderConf})
	require.NoError(t, err)
	return boot.Config{
		TerminalID:   tid,
		Senders:      senders,
		Key:          key,
		FallbackTo:   fallbackTo,
		FallbackBody: "BIND {tid}",
		PollInterval: poll,
		RetryMin:     retryMin,
		// The middle of every jitter range: an answered query waits exactly
		// poll, a failed one half its backoff ceiling.
		Rand: func() float64 { return 0.5 },
	}
}

// notBound is the platform's "not bound" answer with the usual prompt.
func notBound(terminalID, n string) reply {
	return reply{ans: platform.Binding{
		TerminalID: terminalID,
		Activation: &platform.Activation{SMSTo: promptTo, SMSBody: promptBody, Nonce: n},
	}}
}

// boundAns is the platform's "bound" answer, with its token signed with
// the test's terminal key (as the client has checked it).
func boundAns(terminalID string) reply {
	return reply{ans: platform.Binding{TerminalID: terminalID, Bound: true, MSISDN: masked, BoundAt: platformBoundAt, Token: boundToken(terminalID)}}
}

// boundToken is the token a bound answer carries.
func boundToken(terminalID string) string {
	return confirm.Sign(confirm.DeriveKey(masterKey, terminalID), confirm.Token{TerminalID: terminalID, MSISDN: masked, Nonce: nonce}).String()
}

func failing(err error) reply { return reply{err: err} }

// signed returns a confirmation SMS text as the SMS platform writes it:
// Chinese text with the token signed by key.
func signed(key []byte, terminalID, n string) string {
	tok := confirm.Sign(key, confirm.Token{TerminalID: terminalID, MSISDN: masked, Nonce: n})
	return "【号码绑定支付】终端" + terminalID + "已开通，绑定号码" + masked + "。" + tok.String()
}

// smsToken is the token of signed(key, terminalID, n).
func smsToken(key []byte, terminalID, n string) string {
	return confirm.Sign(key, confirm.Token{TerminalID: terminalID, MSISDN: masked, Nonce: n}).String()
}

// unsigned is a confirmation text whose token has no signature.
func unsigned(terminalID, n string) string {
	tok := confirm.Token{TerminalID: terminalID, MSISDN: masked, Nonce: n}
	return "【号码绑定支付】终端" + terminalID + "已开通，绑定号码" + masked + "。" + tok.String()
}

var slot atomic.Int32

func sms(id, sender, text string) modem.Message {
	n := int(slot.Add(1))
	return modem.Message{ID: id, Indexes: []int{n, n + 1}, Sender: sender, Text: text, Time: clockNow.Add(-time.Minute)}
}
