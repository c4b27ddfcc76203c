package modem

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/modemsim"
)

// long is a text that needs two parts.
var long = strings.Repeat("【号码绑定支付】终端已开通。", 6) + "BP1 t=STB1 m=138****8000"

func ctx10(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func waitScanned(t *testing.T, r *Receiver) {
	t.Helper()
	select {
	case <-r.Scanned():
	case <-ctx10(t).Done():
		t.Fatal("first scan not handed over within 10 s")
	}
}

func slotsOf(sim *modemsim.Modem) []int {
	var out []int
	for _, s := range sim.Stored() {
		out = append(out, s.Index)
	}
	return out
}

// fakeNow is a clock a test moves.
type fakeNow struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeNow) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeNow) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestReceiverPartialsOver80Percent(t *testing.T) {
	sim := newSim(t, modemsim.WithCapacity(10))
	// Nine foreign "part 1 of 2", stamped an hour apart: 90 % full.
	for i := range 9 {
		parts := encodeAt(t, "10690000", long, scts.Add(time.Duration(i)*time.Hour), byte(i))
		_, err := sim.Store(parts[0])
		require.NoError(t, err)
	}
	r := startReceiver(t, sim)
	m := next(t, r)
	require.ErrorIs(t, m.Err, ErrIncomplete)
	assert.Equal(t, "incomplete message: part 1 of 2 from 10690000 ref 0, storage over 80% full (9 of 10)", m.Err.Error())
	assert.Equal(t, []int{1}, m.Indexes, "the oldest, and only it: 8 of 10 is not over 80 %")
	assert.Equal(t, "10690000", m.Sender)
	waitScanned(t, r)
	assert.Len(t, sim.Stored(), 9, "a candidate is not deleted by the receiver")

	require.NoError(t, r.Discard(ctx10(t), m))
	assert.Equal(t, []int{2, 3, 4, 5, 6, 7, 8, 9}, slotsOf(sim))

	// The storage fills again with a live partial: the next oldest goes.
	parts := encodeAt(t, "10690000", long, scts.Add(20*time.Hour), 99)
	_, err := sim.Deliver(parts[0])
	require.NoError(t, err)
	m = next(t, r)
	require.ErrorIs(t, m.Err, ErrIncomplete)
	assert.Equal(t, []int{2}, m.Indexes)
}

func TestReceiverPartialTTL(t *testing.T) {
	clock := &fakeNow{now: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)}
	sim := newSim(t)
	old := encode(t, "10690000", long, 7)
	_, err := sim.Store(old[0])
	require.NoError(t, err)
	r := startReceiverWith(t, sim, func(c *Config) { c.Now = clock.Now; c.PartialTTL = 2 * time.Hour })
	waitScanned(t, r) // nothing handed over: the part is young

	clock.Add(2 * time.Hour)
	_, err = sim.Deliver(encode(t, "+8613900139000", "hi", 1)...)
	require.NoError(t, err)
	got := map[string]Message{}
	for range 2 {
		m := next(t, r)
		got[m.Text] = m
	}
	require.Contains(t, got, "hi")
	c := got[""]
	require.ErrorIs(t, c.Err, ErrIncomplete)
	assert.Equal(t, "incomplete message: part 1 of 2 from 10690000 ref 7, kept 2h", c.Err.Error())
	assert.Equal(t, []int{1}, c.Indexes)

	// Not offered again while its removal is pending, even by a re-scan
	// that an indication asks for.
	sim.InjectLine(`+CMTI: "SM",x`)
	_, err = sim.Deliver(encode(t, "+8613900139000", "again", 2)...)
	require.NoError(t, err)
	assert.Equal(t, "again", next(t, r).Text)
	require.NoError(t, r.Discard(ctx10(t), c))
	assert.Equal(t, []int{2, 3}, slotsOf(sim))
}

func TestReceiverDuplicatePart(t *testing.T) {
	sim := newSim(t)
	parts := encode(t, "10658000", long, 7)
	_, err := sim.Store(parts[0], parts[0], parts[1])
	require.NoError(t, err)
	r := startReceiver(t, sim)
	dup := next(t, r)
	require.ErrorIs(t, dup.Err, ErrDuplicatePart)
	assert.Equal(t, []int{1}, dup.Indexes)
	m := next(t, r)
	require.NoError(t, m.Err)
	assert.Equal(t, long, m.Text)
	assert.Equal(t, []int{2, 3}, m.Indexes)
	require.NoError(t, r.Discard(ctx10(t), dup))
	require.NoError(t, r.Delete(ctx10(t), m))
	assert.Empty(t, sim.Stored(), "no slot left behind")
}

func TestReceiverDiscardChanged(t *testing.T) {
	sim := newSim(t)
	idx, err := sim.Store(encode(t, "10658000", long, 7)...)
	require.NoError(t, err)
	// The last part listed once with a flipped digit: the length is right,
	// the text is not.
	require.NoError(t, sim.CorruptListing(idx[1], modemsim.CorruptFlip, 1))
	r := startReceiver(t, sim)
	bad := next(t, r)
	require.NoError(t, bad.Err)
	require.NotEqual(t, long, bad.Text, "the corrupted listing is what was delivered")

	err = r.Discard(ctx10(t), bad)
	require.ErrorIs(t, err, ErrChanged)
	assert.Len(t, sim.Stored(), 2, "nothing deleted")
	good := next(t, r)
	assert.Equal(t, long, good.Text, "read again and delivered to be judged again")
	assert.Equal(t, idx, good.Indexes)
	require.NoError(t, r.Discard(ctx10(t), good), "the same bytes now: deleted")
	assert.Empty(t, sim.Stored())
}

func TestReceiverLengthCheck(t *testing.T) {
	t.Run("a short PDU in the listing is read again", func(t *testing.T) {
		sim := newSim(t)
		idx, err := sim.Store(encode(t, "10658000", "hello", 1)...)
		require.NoError(t, err)
		require.NoError(t, sim.CorruptListing(idx[0], modemsim.CorruptShort, 1))
		require.NoError(t, sim.CorruptRead(idx[0], modemsim.CorruptShort, 1))
		r := startReceiver(t, sim)
		m := next(t, r)
		require.NoError(t, m.Err)
		assert.Equal(t, "hello", m.Text)
		assert.Equal(t, 2, countPrefix(sim.Commands(), "AT+CMGR="), "read until the length matches")
	})
	t.Run("a stray line after the header", func(t *testing.T) {
		sim := newSim(t)
		idx, err := sim.Store(encode(t, "10658000", "hello", 1)...)
		require.NoError(t, err)
		require.NoError(t, sim.CorruptListing(idx[0], modemsim.CorruptStray, 1))
		r := startReceiver(t, sim)
		assert.Equal(t, "hello", next(t, r).Text)
	})
	t.Run("never the right length: unreadable, offered when storage is full", func(t *testing.T) {
		sim := newSim(t, modemsim.WithCapacity(1))
		idx, err := sim.Store(encode(t, "10658000", "hello", 1)...)
		require.NoError(t, err)
		require.NoError(t, sim.CorruptListing(idx[0], modemsim.CorruptShort, 1))
		require.NoError(t, sim.CorruptRead(idx[0], modemsim.CorruptShort, readTries))
		r := startReceiver(t, sim)
		m := next(t, r)
		require.ErrorIs(t, m.Err, ErrUnparseable)
		assert.Contains(t, m.Err.Error(), "storage slot cannot be read: slot 1: AT+CMGR=1: PDU length differs from its header")
		assert.Equal(t, []int{1}, m.Indexes)
		// The slot reads right now: Discard deletes nothing and delivers it.
		require.ErrorIs(t, r.Discard(ctx10(t), m), ErrChanged)
		assert.Equal(t, "hello", next(t, r).Text)
		assert.Len(t, sim.Stored(), 1)
	})
}

func TestReceiverDraftsWhenFull(t *testing.T) {
	sim := newSim(t, modemsim.WithCapacity(3))
	d1, err := modemsim.EncodeSubmit("13800138000", "draft one")
	require.NoError(t, err)
	_, err = sim.StoreDraft(d1, d1)
	require.NoError(t, err)
	_, err = sim.Store(encode(t, "10658000", "hello", 1)...)
	require.NoError(t, err)
	r := startReceiver(t, sim)
	var drafts []Message
	var texts []string
	for range 3 {
		m := next(t, r)
		if m.Err != nil {
			require.ErrorIs(t, m.Err, ErrDraft)
			drafts = append(drafts, m)
			continue
		}
		texts = append(texts, m.Text)
	}
	assert.Equal(t, []string{"hello"}, texts)
	require.Len(t, drafts, 2)
	assert.Equal(t, "message stored to be sent, not received: slot 1 (stat 2), storage full (3 of 3)", drafts[0].Err.Error())
	for _, d := range drafts {
		require.NoError(t, r.Discard(ctx10(t), d))
	}
	assert.Equal(t, []int{3}, slotsOf(sim), "the drafts freed, the message kept")
}

func TestReceiverDraftsKeptWhenRoomy(t *testing.T) {
	sim := newSim(t)
	d, err := modemsim.EncodeSubmit("13800138000", "draft")
	require.NoError(t, err)
	_, err = sim.StoreDraft(d)
	require.NoError(t, err)
	r := startReceiver(t, sim)
	waitScanned(t, r)
	_, err = sim.Deliver(encode(t, "10658000", "hello", 1)...)
	require.NoError(t, err)
	assert.Equal(t, "hello", next(t, r).Text, "the first thing handed over: no draft")
}

func TestReceiverIndicationStorm(t *testing.T) {
	sim := newSim(t)
	r := startReceiver(t, sim)
	waitScanned(t, r)
	reads := countPrefix(sim.Commands(), "AT+CMGR=")
	sim.InjectStorm(`+CMTI: "SM",1`, 20000)
	_, err := sim.Deliver(encode(t, "10658000", "after the storm", 1)...)
	require.NoError(t, err)
	m := next(t, r)
	assert.Equal(t, "after the storm", m.Text)
	assert.Less(t, countPrefix(sim.Commands(), "AT+CMGR=")-reads, 20, "repeats of one index collapse")
}

func TestReceiverEndlessLine(t *testing.T) {
	sim := newSim(t)
	r := startReceiver(t, sim)
	waitScanned(t, r)
	sim.InjectEndlessLine(4 << 20)
	_, err := sim.Deliver(encode(t, "10658000", "after the line", 1)...)
	require.NoError(t, err)
	assert.Equal(t, "after the line", next(t, r).Text)
}

func TestReceiverForeignStorageIndication(t *testing.T) {
	sim := newSim(t)
	r := startReceiver(t, sim)
	waitScanned(t, r)
	scans := countPrefix(sim.Commands(), "AT+CMGL=4")
	// The message lands in SM slot 1 without a word, then the modem names
	// another storage: slot 1 of SM is not what "ME",1 means.
	_, err := sim.Store(encode(t, "10658000", "in SM", 1)...)
	require.NoError(t, err)
	sim.InjectLine(`+CMTI: "ME",1`)
	m := next(t, r)
	assert.Equal(t, "in SM", m.Text, "found by the re-scan")
	cmds := sim.Commands()
	assert.Equal(t, scans+1, countPrefix(cmds, "AT+CMGL=4"), "re-scanned")
	assert.Zero(t, countPrefix(cmds, "AT+CMGR=1"), "never read by the other storage's index")
	assert.Contains(t, cmds, `AT+CPMS="SM","SM","SM"`)
}

func countPrefix(cmds []string, prefix string) int {
	n := 0
	for _, c := range cmds {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func TestReceiverCandidateAgainAfterReinit(t *testing.T) {
	sim := newSim(t, modemsim.WithCapacity(5), modemsim.WithBootLines("RDY"))
	for i := range 5 {
		_, err := sim.Store(encodeAt(t, "10690000", long, scts.Add(time.Duration(i)*time.Hour), byte(i))[0])
		require.NoError(t, err)
	}
	r := startReceiver(t, sim)
	c := next(t, r)
	require.ErrorIs(t, c.Err, ErrIncomplete)
	waitScanned(t, r)
	// Not removed; a new message arrives and is all that comes meanwhile.
	_, err := sim.Deliver(encode(t, "+8613900139000", "hi", 1)...)
	require.ErrorIs(t, err, modemsim.ErrStorageFull, "the storage is full: nothing was removed")
	sim.Reset() // the modem restarts: the receiver re-initialises
	again := next(t, r)
	assert.Equal(t, c.ID, again.ID, "offered again after the re-initialisation")
	assert.Equal(t, c.Err.Error(), again.Err.Error())
}

func FuzzParseCMTI(f *testing.F) {
	for _, s := range []string{`+CMTI: "SM",3`, `+CMTI: ME,0`, `+CMTI: 7`, `+CMTI: "SM",`, `+CMTI: "S1",1`, `+CMTI: "SM",1,2`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		mem, idx, err := parseCMTI(line)
		if err != nil {
			return
		}
		assert.GreaterOrEqual(t, idx, 0)
		// Round trip: the parsed line, written as a modem writes it, parses
		// to the same.
		canon := fmt.Sprintf("+CMTI: %d", idx)
		if mem != "" {
			canon = fmt.Sprintf(`+CMTI: "%s",%d`, mem, idx)
		}
		m2, i2, err := parseCMTI(canon)
		require.NoError(t, err, "%q", canon)
		assert.Equal(t, mem, m2)
		assert.Equal(t, idx, i2)
	})
}
