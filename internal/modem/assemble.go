package modem

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/tpdu"
)

// partWindow is how far apart the service centre time stamps of two parts
// of one message may be. The parts of one long SMS are stamped within
// seconds of each other; a leftover part with the same reference from
// another day is another message and must not merge with a real one.
const partWindow = time.Hour

// assembler groups stored parts into complete messages. It keeps the parts
// of concatenated messages until every part is present; it is owned by one
// goroutine (the Receiver's loop). It holds at most one part per storage
// slot, so it is bounded by the storage.
type assembler struct {
	groups []*group
	// done are the groups completed lately (at most maxDone), so that a
	// part found again after its message was complete is known for a
	// duplicate.
	done []*group
}

// maxDone bounds assembler.done.
const maxDone = 64

// groupKey is what the parts of one concatenated message share.
type groupKey struct {
	sender    string
	ref, segs int
	alphabet  tpdu.Alphabet
}

// group is the parts of one concatenated message found so far.
type group struct {
	key   groupKey
	scts  time.Time    // the first part's service centre time stamp
	parts map[int]part // by sequence number
}

type part struct {
	slot stored
	t    *tpdu.TPDU
	seen time.Time // when this process first saw the slot
}

func newAssembler() *assembler { return &assembler{} }

// add takes one stored slot, first seen at seen, and returns what it
// completes: the message it completes, or an ErrDuplicatePart candidate
// for the older slot of a part found twice. The same slot added again
// (re-read) changes nothing.
func (a *assembler) add(s stored, seen time.Time) []Message {
	t, err := decodePDU(s.pdu)
	if err != nil {
		return []Message{newMessage([]part{{slot: s}}, err)}
	}
	segs, seq, ref, ok := t.ConcatInfo()
	if !ok || segs <= 1 {
		return []Message{complete([]part{{slot: s, t: t}})}
	}
	alpha, _ := t.Alphabet()
	key := groupKey{sender: t.OA.Number(), ref: ref, segs: segs, alphabet: alpha}
	p := part{slot: s, t: t, seen: seen}
	if d := a.findIn(a.done, key, t.SCTS.Time); d != nil {
		if old, ok := d.parts[seq]; ok && old.slot.index == s.index && old.slot.pdu == s.pdu {
			return nil // a part of a complete message, read again
		} else if ok && old.slot.index != s.index {
			// A copy of a part of a message already complete: the copy is
			// what is freed, whatever its age; the message keeps its slots.
			dup := newMessage([]part{p}, fmt.Errorf("%w: part %d of %d from %s ref %d, already in slot %d",
				ErrDuplicatePart, seq, segs, key.sender, ref, old.slot.index))
			dup.Sender, dup.Time = key.sender, t.SCTS.Time
			dup.SenderAlpha = t.OA.TypeOfNumber() == tpdu.TonAlphanumeric
			return []Message{dup}
		}
	}
	g := a.findIn(a.groups, key, t.SCTS.Time)
	if g == nil {
		g = &group{key: key, scts: t.SCTS.Time, parts: map[int]part{}}
		a.groups = append(a.groups, g)
	}
	var out []Message
	if old, ok := g.parts[seq]; ok {
		if old.slot.index == s.index {
			if old.slot.pdu == s.pdu {
				return nil // read again: nothing new
			}
		} else {
			// The same part twice (the centre sent it again): the older
			// slot is freed, the newer kept.
			keep, drop := p, old
			if olderPart(p, old) {
				keep, drop = old, p
			}
			p = keep
			dup := newMessage([]part{drop}, fmt.Errorf("%w: part %d of %d from %s ref %d, again in slot %d",
				ErrDuplicatePart, seq, segs, key.sender, ref, keep.slot.index))
			dup.Sender, dup.Time = key.sender, drop.t.SCTS.Time
			dup.SenderAlpha = drop.t.OA.TypeOfNumber() == tpdu.TonAlphanumeric
			out = append(out, dup)
		}
	}
	g.parts[seq] = p
	if len(g.parts) < segs {
		return out
	}
	a.remove(g)
	a.done = append(a.done, g)
	if len(a.done) > maxDone {
		a.done = slices.Delete(a.done, 0, len(a.done)-maxDone)
	}
	ps := make([]part, 0, segs)
	for i := 1; i <= segs; i++ {
		p, ok := g.parts[i]
		if !ok {
			// Sequence numbers out of range: treat what we have as complete,
			// in the order of their numbers.
			ps = ps[:0]
			for _, seq := range slices.Sorted(maps.Keys(g.parts)) {
				ps = append(ps, g.parts[seq])
			}
			break
		}
		ps = append(ps, p)
	}
	return append(out, complete(ps))
}

// olderPart reports whether a was stored before b: by the centre's time
// stamp, then by when this process saw them, then by slot.
func olderPart(a, b part) bool {
	if c := a.t.SCTS.Time.Compare(b.t.SCTS.Time); c != 0 {
		return c < 0
	}
	if c := a.seen.Compare(b.seen); c != 0 {
		return c < 0
	}
	return a.slot.index < b.slot.index
}

// findIn returns the group of gs with key whose time stamp is within
// partWindow of scts, the closest one when there are several.
func (a *assembler) findIn(gs []*group, key groupKey, scts time.Time) *group {
	var best *group
	var bestGap time.Duration
	for _, g := range gs {
		if g.key != key {
			continue
		}
		gap := g.scts.Sub(scts).Abs()
		if gap <= partWindow && (best == nil || gap < bestGap) {
			best, bestGap = g, gap
		}
	}
	return best
}

func (a *assembler) remove(g *group) {
	a.groups = slices.DeleteFunc(a.groups, func(h *group) bool { return h == g })
}

// forget drops any partial parts held in the given slots (they were deleted
// or changed).
func (a *assembler) forget(indexes []int) {
	drop := func(gs []*group) []*group {
		for _, g := range gs {
			for seq, p := range g.parts {
				if slices.Contains(indexes, p.slot.index) {
					delete(g.parts, seq)
				}
			}
		}
		return slices.DeleteFunc(gs, func(g *group) bool { return len(g.parts) == 0 })
	}
	a.groups = drop(a.groups)
	a.done = drop(a.done)
}

// partial is an incomplete group as the eviction rule sees it.
type partial struct {
	g     *group
	seen  time.Time // when its oldest part was first seen
	slots int
}

// partials returns the incomplete groups, oldest first.
func (a *assembler) partials() []partial {
	out := make([]partial, 0, len(a.groups))
	for _, g := range a.groups {
		p := partial{g: g, slots: len(g.parts)}
		for _, pt := range g.parts {
			if p.seen.IsZero() || pt.seen.Before(p.seen) {
				p.seen = pt.seen
			}
		}
		out = append(out, p)
	}
	slices.SortStableFunc(out, func(x, y partial) int {
		if c := x.seen.Compare(y.seen); c != 0 {
			return c
		}
		return x.g.scts.Compare(y.g.scts)
	})
	return out
}

// candidate is the message that asks the caller to free an incomplete
// group's slots, err saying why.
func (g *group) candidate(err error) Message {
	ps := make([]part, 0, len(g.parts))
	for _, seq := range slices.Sorted(maps.Keys(g.parts)) {
		ps = append(ps, g.parts[seq])
	}
	m := newMessage(ps, err)
	m.Sender = g.key.sender
	m.SenderAlpha = ps[0].t.OA.TypeOfNumber() == tpdu.TonAlphanumeric
	m.Time = g.scts
	return m
}

// describe says which parts a group holds: "part 1 of 2 from 10690000 ref 7".
func (g *group) describe() string {
	seqs := slices.Sorted(maps.Keys(g.parts))
	word := "part"
	if len(seqs) > 1 {
		word = "parts"
	}
	n := make([]string, len(seqs))
	for i, s := range seqs {
		n[i] = strconv.Itoa(s)
	}
	return fmt.Sprintf("%s %s of %d from %s ref %d", word, strings.Join(n, ", "), g.key.segs, g.key.sender, g.key.ref)
}

// eviction is one decision of evictPartials: give up the partial at index
// i of its input, for reason.
type eviction struct {
	i      int
	reason string
}

// evictPartials decides which incomplete messages to give up. ps is oldest
// first. A message whose oldest part was first seen ttl or more ago goes;
// then, while the storage is over 80 % full (used of total, as AT+CPMS?
// reports it; total 0: not known), the oldest others go until it is not.
func evictPartials(ps []partial, now time.Time, ttl time.Duration, used, total int) []eviction {
	var out []eviction
	over := func() bool { return total > 0 && used*5 > total*4 }
	for i, p := range ps {
		switch {
		case now.Sub(p.seen) >= ttl:
			out = append(out, eviction{i, "kept " + shortDuration(ttl)})
		case over():
			out = append(out, eviction{i, fmt.Sprintf("storage over 80%% full (%d of %d)", used, total)})
		default:
			continue
		}
		used -= p.slots
	}
	return out
}

// shortDuration writes 24h0m0s as 24h and 1m30s as 1m30s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func complete(ps []part) Message {
	segs := make([]*tpdu.TPDU, len(ps))
	for i, p := range ps {
		segs[i] = p.t
	}
	text, err := sms.Decode(segs)
	if err != nil {
		return newMessage(ps, fmt.Errorf("decode text: %w", err))
	}
	m := newMessage(ps, nil)
	m.Text = string(text)
	m.Sender = ps[0].t.OA.Number()
	m.SenderAlpha = ps[0].t.OA.TypeOfNumber() == tpdu.TonAlphanumeric
	m.Time = ps[0].t.SCTS.Time
	return m
}

func newMessage(ps []part, err error) Message {
	h := sha256.New()
	m := Message{Err: err}
	for _, p := range ps {
		m.Indexes = append(m.Indexes, p.slot.index)
		m.pdus = append(m.pdus, p.slot.pdu)
		h.Write([]byte(p.slot.pdu))
	}
	idx := make([]string, len(m.Indexes))
	for i, n := range m.Indexes {
		idx[i] = strconv.Itoa(n)
	}
	m.ID = strings.Join(idx, "+") + "/" + hex.EncodeToString(h.Sum(nil)[:6])
	return m
}

// slotCandidate is the message that asks the caller to free one slot that
// holds no message for the agent (a draft, an unreadable slot); pdu is what
// the slot held (unreadable when it could not be read).
func slotCandidate(index int, pdu string, err error) Message {
	return newMessage([]part{{slot: stored{index: index, pdu: pdu}}}, err)
}
