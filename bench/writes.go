package main

import (
	"fmt"
	"math"
	"time"
)

// writesWindow is how long the waiting agent is watched for state writes,
// and writesPoll its poll interval then: every poll is an identical answer
// (protocol v2: a stable nonce), so the window holds about 30 of them, as
// many as 2.5 hours of the default 5 min polling.
const (
	writesWindow = 30 * time.Second
	writesPoll   = "1s"
)

// stateWrites counts the files written into the state directory (closed
// after writing, or renamed in: every atomic replace is both) while the
// agent waits and the platform answers the same each time. DESIGN.md:
// nothing is rewritten on flash unless it changed; target 0.
func stateWrites(agent, dir, keyFile string) (row, string, error) {
	w, err := newWorld()
	if err != nil {
		return row{}, "", err
	}
	defer w.close()
	a, err := startAgent(agent, dir, "writes", w, keyFile, "--poll-interval", writesPoll)
	if err != nil {
		return row{}, "", err
	}
	defer a.kill()
	// The first answer's nonce is written once; let that settle.
	time.Sleep(3 * time.Second)
	wt, err := watch(a.state)
	if err != nil {
		return row{}, "", err
	}
	var names []string
	deadline := time.After(writesWindow)
loop:
	for {
		select {
		case ev, ok := <-wt.events:
			if !ok {
				break loop
			}
			names = append(names, ev.name)
		case <-deadline:
			break loop
		}
	}
	wt.close()
	perHour := float64(len(names)) * float64(time.Hour) / float64(writesWindow)
	v := pass
	if len(names) > 0 {
		v = fail
	}
	r := row{
		name:   fmt.Sprintf("waiting, identical answers: state-directory writes (%v at %s polling, scaled to an hour)", writesWindow, writesPoll),
		figure: fmt.Sprintf("%.0f/h", perHour),
		limit:  "0/h",
		ratio:  math.NaN(), // a limit of 0 has no ratio
		v:      v,
	}
	detail := fmt.Sprintf("state writes while waiting: %d file events in %v (%q)", len(names), writesWindow, names)
	return r, detail, nil
}
