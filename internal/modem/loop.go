package modem

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// rescanGap is the least time between two re-scans of the storage that
// indications asked for (a garbled +CMTI, one naming another storage, more
// distinct indexes than the Session remembers): a storm of them costs one
// listing every rescanGap, not one per line.
const rescanGap = 5 * time.Second

// loop is the state of one working session, owned by Run's goroutine.
type loop struct {
	r   *Receiver
	s   *Session
	asm *assembler

	queue   []Message       // messages not yet handed over
	emitted map[string]bool // IDs of complete messages handed over or queued in this session
	// pending are the eviction candidates handed over or queued whose
	// removal has not completed: they are not offered again meanwhile.
	pending map[string]bool

	drafts []stored  // the last scan's slots stored to be sent
	bad    []badSlot // the last scan's unreadable slots

	lastRescan time.Time        // last re-scan asked for by indications
	rescanAt   <-chan time.Time // a re-scan put off by rescanGap; nil when none
	dropped    filterStats      // what the line filter dropped, as last logged
}

func newLoop(r *Receiver, s *Session) *loop {
	return &loop{r: r, s: s, asm: newAssembler(), emitted: map[string]bool{}, pending: map[string]bool{}}
}

// slotKey identifies what a slot holds, for Receiver.seen.
func slotKey(st stored) string {
	h := sha256.Sum256([]byte(strings.ToUpper(st.pdu)))
	return strconv.Itoa(st.index) + "/" + hex.EncodeToString(h[:8])
}

// scan lists the whole storage and queues every message not yet handed over
// in this session, then the eviction candidates.
func (l *loop) scan(ctx context.Context) error {
	slots, bad, perrs, err := l.s.list(ctx)
	if err != nil {
		return fmt.Errorf("scan stored SMS: %w", err)
	}
	var problems []string
	for _, e := range perrs {
		problems = append(problems, e.Error())
	}
	for _, b := range bad {
		problems = append(problems, fmt.Sprintf("slot %d: %v", b.index, b.err))
	}
	msg := ""
	if len(problems) > 0 {
		msg = "unreadable entries in the SMS listing: " + strings.Join(problems, "; ")
	}
	l.r.note("SMS listing", msg)

	now := l.r.cfg.Now()
	present := map[string]bool{}
	for _, st := range slots {
		present[slotKey(st)] = true
	}
	for k := range l.r.seen {
		if !present[k] {
			delete(l.r.seen, k)
		}
	}
	l.asm = newAssembler()
	l.drafts, l.bad = nil, bad
	from := len(l.queue)
	for _, st := range slots {
		if st.received() || st.stat < 0 && !isSubmit(st.pdu) {
			l.take(st, now)
		} else {
			l.drafts = append(l.drafts, st)
		}
	}
	err = l.tidy(ctx)
	// What a scan finds to free goes first: a caller that stops at the
	// first confirmation has freed the storage by then.
	slices.SortStableFunc(l.queue[from:], func(a, b Message) int {
		return cmp.Compare(rank(a), rank(b))
	})
	return err
}

// rank orders a scan's finds: eviction candidates before messages.
func rank(m Message) int {
	if isCandidate(m.Err) {
		return 0
	}
	return 1
}

// take hands over what one received slot completes.
func (l *loop) take(st stored, now time.Time) {
	k := slotKey(st)
	seen, ok := l.r.seen[k]
	if !ok {
		seen = now
		l.r.seen[k] = now
	}
	for _, m := range l.asm.add(st, seen) {
		if isCandidate(m.Err) {
			l.offer(m)
			continue
		}
		if l.emitted[m.ID] {
			continue
		}
		l.emitted[m.ID] = true
		l.queue = append(l.queue, m)
	}
}

func isCandidate(err error) bool {
	return errors.Is(err, ErrIncomplete) || errors.Is(err, ErrDuplicatePart) ||
		errors.Is(err, ErrDraft) || errors.Is(err, ErrUnparseable)
}

// offer queues an eviction candidate unless it is already waiting for its
// removal.
func (l *loop) offer(m Message) {
	if l.pending[m.ID] {
		return
	}
	l.pending[m.ID] = true
	l.queue = append(l.queue, m)
}

// release forgets that m was handed over: its removal completed, or its
// slots changed.
func (l *loop) release(m Message) {
	delete(l.emitted, m.ID)
	delete(l.pending, m.ID)
}

// tidy offers the eviction candidates: incomplete messages kept too long or
// taking storage over 80 %, and, with storage full, drafts and unreadable
// slots. Storage is asked for its fill; when it does not answer, only the
// time rule applies.
func (l *loop) tidy(ctx context.Context) error {
	st, err := l.s.storage(ctx)
	if isSessionFatal(err) {
		return err
	}
	if err != nil {
		st = storageState{}
	}
	ps := l.asm.partials()
	for _, e := range evictPartials(ps, l.r.cfg.Now(), l.r.cfg.PartialTTL, st.used, st.total) {
		g := ps[e.i].g
		l.offer(g.candidate(fmt.Errorf("%w: %s, %s", ErrIncomplete, g.describe(), e.reason)))
	}
	if st.total == 0 || st.used < st.total {
		return nil
	}
	full := fmt.Sprintf("storage full (%d of %d)", st.used, st.total)
	for _, d := range l.drafts {
		l.offer(slotCandidate(d.index, d.pdu, fmt.Errorf("%w: slot %d (stat %d), %s", ErrDraft, d.index, d.stat, full)))
	}
	for _, b := range l.bad {
		l.offer(slotCandidate(b.index, unreadable, fmt.Errorf("%w: slot %d: %v, %s", ErrUnparseable, b.index, b.err, full)))
	}
	return nil
}

func (l *loop) run(ctx context.Context) error {
	health := l.r.cfg.After(l.r.cfg.HealthInterval)
	for {
		var out chan<- Message
		var next Message
		if len(l.queue) > 0 {
			out, next = l.r.out, l.queue[0]
		} else if !l.r.scannedDone {
			l.r.scannedDone = true
			close(l.r.scanned)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-l.s.Closed():
			return ErrClosed
		case <-l.s.Resets():
			return ErrModemReset
		case out <- next:
			l.queue[0] = Message{}
			l.queue = l.queue[1:]
		case <-l.s.Indications():
			if err := l.indicated(ctx); err != nil {
				return err
			}
		case <-l.rescanAt:
			l.rescanAt = nil
			l.lastRescan = l.r.cfg.Now()
			if err := l.scan(ctx); err != nil {
				return err
			}
		case <-l.s.Anomalies():
			l.reportDropped(true)
		case ack := <-l.r.alive:
			close(ack)
		case req := <-l.r.del:
			var err error
			if req.discard {
				err = l.discard(req.ctx, req.msg)
			} else {
				err = l.remove(req.ctx, req.msg)
			}
			req.reply <- err
			if isSessionFatal(err) && ctx.Err() == nil && req.ctx.Err() == nil {
				return err
			}
		case <-health:
			health = l.r.cfg.After(l.r.cfg.HealthInterval)
			if err := l.s.Ping(ctx); err != nil {
				return fmt.Errorf("health check: %w", err)
			}
			// A modem that restarted without a boot line has lost its
			// indication settings.
			if on, err := l.s.IndicationsOn(ctx); isSessionFatal(err) {
				return fmt.Errorf("health check: %w", err)
			} else if err == nil && !on {
				l.r.cfg.Log.Warn("modem lost its new-message indication setting; restoring it")
				if err := l.s.enableIndications(ctx); err != nil {
					return fmt.Errorf("health check: %w", err)
				}
			}
			l.r.checkNetwork(ctx, l.s)
			l.reportDropped(false)
			if err := l.scan(ctx); err != nil {
				return err
			}
		}
	}
}

// reportDropped logs what the line filter dropped: the first time in a
// session at once, later growth in one line at each health check, never a
// line per dropped line.
func (l *loop) reportDropped(first bool) {
	d := l.s.Dropped()
	if d.LongLines > l.dropped.LongLines && (l.dropped.LongLines == 0 || !first) {
		l.r.cfg.Log.Warn("modem sent lines without an end within the line limit; their rest was dropped (is this the modem's AT port?)",
			"lines", d.LongLines-l.dropped.LongLines, "bytes", d.LongBytes-l.dropped.LongBytes, "limit", maxLine)
		l.dropped.LongLines, l.dropped.LongBytes = d.LongLines, d.LongBytes
	}
	if d.CutReplies > l.dropped.CutReplies && (l.dropped.CutReplies == 0 || !first) {
		l.r.cfg.Log.Warn("modem replies longer than the limit were cut",
			"replies", d.CutReplies-l.dropped.CutReplies, "lines_dropped", d.CutLines-l.dropped.CutLines,
			"limit_lines", maxReplyLines, "limit_bytes", maxReplyBytes)
		l.dropped.CutReplies, l.dropped.CutLines = d.CutReplies, d.CutLines
	}
}

// indicated reads the slots +CMTI lines announced, or re-scans the storage
// when they cannot be read by index (at most every rescanGap).
func (l *loop) indicated(ctx context.Context) error {
	p := l.s.takeIndications()
	if p.Garbled != "" {
		l.r.note("indications", "modem sent +CMTI lines the agent cannot read; the storage is re-scanned instead (at most every "+rescanGap.String()+")")
	}
	if p.Foreign != "" {
		l.s.mu.Lock()
		mem := l.s.readMem
		l.s.mu.Unlock()
		l.r.note("indication storage", fmt.Sprintf("modem announced a message in storage %q while the agent reads %q: it is not read by index; %q is selected for new messages again and the storage re-scanned",
			p.Foreign, mem, mem))
		if _, err := l.s.command(ctx, fmt.Sprintf(`+CPMS="%s","%s","%s"`, mem, mem, mem), l.s.timeout); isSessionFatal(err) {
			return err
		}
	}
	now := l.r.cfg.Now()
	for _, idx := range p.Indexes {
		st, found, err := l.s.read(ctx, idx)
		switch {
		case isSessionFatal(err):
			return err
		case err != nil:
			// The slot could not be read; the next scan will list it.
			l.r.note("announced SMS", fmt.Sprintf("could not read an announced SMS (the next scan lists it): %v", err))
			continue
		case !found:
			continue
		}
		l.r.note("announced SMS", "")
		if st.received() || st.stat < 0 && !isSubmit(st.pdu) {
			l.take(st, now)
		}
	}
	if p.Rescan {
		if wait := rescanGap - now.Sub(l.lastRescan); wait > 0 {
			if l.rescanAt == nil {
				l.rescanAt = l.r.cfg.After(wait)
			}
			return nil
		}
		l.lastRescan = now
		return l.scan(ctx)
	}
	if len(p.Indexes) > 0 {
		return l.tidy(ctx)
	}
	return nil
}

// remove deletes every slot of m (Delete).
func (l *loop) remove(ctx context.Context, m Message) error {
	for _, idx := range m.Indexes {
		if err := l.s.remove(ctx, idx); err != nil {
			return fmt.Errorf("delete SMS %s: %w", m.ID, err)
		}
	}
	l.asm.forget(m.Indexes)
	l.release(m)
	return nil
}

// discard deletes the slots of m only when each still holds what m was
// built from (Discard).
func (l *loop) discard(ctx context.Context, m Message) error {
	if len(m.pdus) != len(m.Indexes) {
		return fmt.Errorf("discard SMS %s: not a message this receiver delivered", m.ID)
	}
	var reads []stored // what the slots hold now
	changed := []int{}
	for i, idx := range m.Indexes {
		st, found, err := l.s.read(ctx, idx)
		want := m.pdus[i]
		switch {
		case isSessionFatal(err):
			return fmt.Errorf("discard SMS %s: %w", m.ID, err)
		case want == unreadable:
			// Still unreadable, or gone: it may go. Readable now: judge it.
			if err == nil && found {
				changed = append(changed, idx)
				reads = append(reads, st)
			}
		case err != nil:
			delete(l.pending, m.ID) // offered again by a later scan
			return fmt.Errorf("discard SMS %s: slot %d not read again, nothing deleted: %w", m.ID, idx, err)
		case !found:
			// Already free.
		default:
			reads = append(reads, st)
			if !strings.EqualFold(st.pdu, want) {
				changed = append(changed, idx)
			}
		}
	}
	if len(changed) > 0 {
		// Judge again what the slots hold now, all of them: an unchanged
		// part belongs to the changed message as much as the changed one.
		l.release(m)
		l.asm.forget(m.Indexes)
		now := l.r.cfg.Now()
		for _, st := range reads {
			if st.received() || st.stat < 0 && !isSubmit(st.pdu) {
				l.take(st, now)
			}
		}
		return fmt.Errorf("discard SMS %s: slots %v read differently, nothing deleted: %w", m.ID, changed, ErrChanged)
	}
	for _, idx := range m.Indexes {
		if err := l.s.remove(ctx, idx); err != nil {
			delete(l.pending, m.ID)
			return fmt.Errorf("discard SMS %s: %w", m.ID, err)
		}
	}
	l.asm.forget(m.Indexes)
	l.release(m)
	return nil
}
