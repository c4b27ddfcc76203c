package main

import (
	"fmt"
	"sync"
	"time"

	"bindpay/internal/modemsim"
)

// The floods DESIGN.md's "under any input" bound is measured with.
const (
	stormLines   = 20_000  // `+CMTI: "SM",1`, one burst
	endlessBytes = 4 << 20 // printable bytes without a line end
	// floodRSSLimit: "under any input (line floods, indication storms,
	// huge answers) peak RSS stays ≤ 12 MB".
	floodRSSLimit = 12_000_000
	// backMargin is how far above the waiting figure RSS may stay once the
	// floods are over: what a few pages of heap and stack the floods
	// touched cost, not a flood's size.
	backMargin = 250_000
)

// writeWatcher signals the end of each write of the simulated modem of at
// least min bytes, without keeping the bytes.
type writeWatcher struct {
	mu   sync.Mutex
	last time.Time
	big  chan int
}

func (w *writeWatcher) observe(rx bool, _, end time.Time, b []byte) {
	w.mu.Lock()
	w.last = end
	w.mu.Unlock()
	if !rx && len(b) >= 100_000 {
		select {
		case w.big <- len(b):
		default:
		}
	}
}

// waitQuiet waits until the modem has written nothing for d.
func (w *writeWatcher) waitQuiet(d, limit time.Duration) error {
	return waitQuiet(&w.mu, &w.last, d, limit)
}

// newFloodWorld is newWorld without the UART pacing: a flood reaches the
// agent as fast as the pty carries it, the worst case for its memory (at
// 115200 baud the 4 MB line alone would take six minutes).
func newFloodWorld(ww *writeWatcher) (*world, error) {
	return newWorldWith(&recorder{}, modemsim.WithObserver(ww.observe))
}

// floods has the agent, waiting at the prompt, take a 20,000-line +CMTI
// storm and then a 4 MB line without an end, and measures its peak RSS
// (VmHWM, which covers start-up too: the floods only count if they raise
// it) and its RSS once they are over against the waiting figure before
// them; the confirmation sent after them must bind.
func floods(agent, dir, keyFile string) (rows []row, detail string, err error) {
	ww := &writeWatcher{big: make(chan int, 1)}
	w, err := newFloodWorld(ww)
	if err != nil {
		return nil, "", err
	}
	defer w.close()
	a, err := startAgent(agent, dir, "floods", w, keyFile)
	if err != nil {
		return nil, "", err
	}
	defer a.kill()
	if err := ww.waitQuiet(300*time.Millisecond, 30*time.Second); err != nil {
		return nil, "", err
	}
	before, err := sample(a.pid())
	if err != nil {
		return nil, "", err
	}
	flood := func(name string, inject func()) error {
		inject()
		select {
		case <-ww.big:
		case <-time.After(60 * time.Second):
			return fmt.Errorf("%s: not written within 60 s", name)
		}
		return ww.waitQuiet(300*time.Millisecond, 60*time.Second)
	}
	if err := flood("storm", func() { w.sim.InjectStorm(`+CMTI: "SM",1`, stormLines) }); err != nil {
		return nil, "", err
	}
	storm, err := sample(a.pid())
	if err != nil {
		return nil, "", err
	}
	if err := flood("endless line", func() { w.sim.InjectEndlessLine(endlessBytes) }); err != nil {
		return nil, "", err
	}
	// A second for the runtime's background scavenger to hand back what
	// the floods' garbage took; the agent asks the modem nothing meanwhile.
	time.Sleep(time.Second)
	after, err := sample(a.pid())
	if err != nil {
		return nil, "", err
	}
	hwm := a.watchHWM()
	if err := w.sendConfirmation(); err != nil {
		return nil, "", err
	}
	if err := a.wait(30 * time.Second); err != nil {
		return nil, "", fmt.Errorf("the confirmation after the floods: %w", err)
	}
	peakAll := <-hwm
	cmgr := 0
	for _, c := range w.sim.Commands() {
		if len(c) > 7 && c[:8] == "AT+CMGR=" {
			cmgr++
		}
	}

	peak := after.hwmKB * 1024
	ratio, v := atMost(float64(peak), floodRSSLimit)
	rows = append(rows, row{
		name:   fmt.Sprintf("under floods: peak RSS (VmHWM) through a %s-line +CMTI storm and a %d MB line without an end", thousands(stormLines), endlessBytes>>20),
		figure: fmt.Sprintf("%s (waiting before them %s)", mb(after.hwmKB), mb(before.hwmKB)),
		limit:  fmt.Sprintf("≤ %.2f MB", floodRSSLimit/1e6),
		ratio:  ratio, v: v,
	})
	growth := (after.rssKB - before.rssKB) * 1024
	ratio, v = atMost(float64(max(growth, 0)), backMargin)
	rows = append(rows, row{
		name:   "after the floods: RSS (VmRSS) back to the waiting figure",
		figure: fmt.Sprintf("%+.2f MB (%s → %s)", float64(growth)/1e6, mb(before.rssKB), mb(after.rssKB)),
		limit:  fmt.Sprintf("≤ +%.2f MB", backMargin/1e6),
		ratio:  ratio, v: v,
	})
	detail = fmt.Sprintf("floods: the agent waiting at the prompt on a modemsim without UART pacing (the floods arrive as fast as the pty carries them); "+
		"a burst of %s `+CMTI: \"SM\",1` lines (storage empty), then %s printable bytes without a line end, each followed by 300 ms of quiet; "+
		"VmRSS waiting %s, after the storm %s (VmHWM %s), after the line and 1 s %s; anon %s → %s; the agent sent %d AT+CMGR in all "+
		"(repeats of one index collapse); the confirmation sent afterwards bound it (VmHWM over the whole run %s)",
		thousands(stormLines), thousands(endlessBytes), mb(before.rssKB), mb(storm.rssKB), mb(storm.hwmKB), mb(after.rssKB),
		mb(before.anonKB), mb(after.anonKB), cmgr, mb(peakAll))
	return rows, detail, nil
}
