package display

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Deadline is a Display that gives each Show of the display it wraps at
// most a timeout: a write that blocks (a console tty stopped by flow
// control, a status file on a hung file system) must not block the boot
// flow for ever. A Show that has not returned by then leaves Show with an
// error wrapping ErrStuck, which the flow logs and carries on from; the
// write goes on in the background.
//
// While that write is blocked, Show does not call the wrapped display again
// (at most one write is outstanding, so nothing piles up): it remembers
// the newest Screen and returns an ErrStuck error at once. When the blocked
// write returns, the newest Screen asked for meanwhile is shown, so the
// display catches up; the errors of these catch-up writes have no caller
// to go to and are dropped (a display that failed shows the next Screen
// again anyway). Alive reports a write blocked beyond the timeout, for the
// service watchdog: a flow whose display is stuck is not healthy.
//
// The background write runs in one goroutine owned by the Deadline; it ends
// when the wrapped Show returns and nothing more is pending. A write
// blocked in the kernel cannot be cancelled, so that goroutine cannot be
// stopped earlier: it is the one thing left behind, and only one at a time.
// A Deadline is safe for concurrent use.
type Deadline struct {
	d       Display
	timeout time.Duration
	now     func() time.Time
	after   func(time.Duration) <-chan time.Time

	mu      sync.Mutex // guards the fields below
	busy    bool       // a Show of d is running
	since   time.Time  // when it started
	pending *Screen    // the newest Screen asked for while busy
}

// NewDeadline wraps d so that its Show returns within timeout; now and
// after are the clock (time.Now and time.After in the agent).
func NewDeadline(d Display, timeout time.Duration, now func() time.Time, after func(time.Duration) <-chan time.Time) (*Deadline, error) {
	switch {
	case d == nil:
		return nil, errors.New("display: deadline needs a display")
	case timeout <= 0:
		return nil, fmt.Errorf("display: deadline %v: want a positive duration", timeout)
	case now == nil || after == nil:
		return nil, errors.New("display: deadline needs a clock")
	}
	return &Deadline{d: d, timeout: timeout, now: now, after: after}, nil
}

// Show shows s on the wrapped display, or returns an error wrapping
// ErrStuck when that takes longer than the timeout or an earlier Show is
// still blocked (s is then shown once it returns).
func (g *Deadline) Show(s Screen) error {
	g.mu.Lock()
	if g.busy {
		g.pending = &s
		since := g.since
		g.mu.Unlock()
		return fmt.Errorf("display: %w: a write blocked since %s has not returned; this screen is shown when it does", ErrStuck, since.UTC().Format(time.RFC3339))
	}
	g.busy, g.since = true, g.now()
	result := make(chan error, 1) // the goroutine never waits for this caller
	go g.run(s, result)
	g.mu.Unlock()

	select {
	case err := <-result:
		return err
	case <-g.after(g.timeout):
		return fmt.Errorf("display: %w: no answer within %v; the agent carries on and shows the next screen once the write returns", ErrStuck, g.timeout)
	}
}

// run shows s, then whatever was asked for while it ran, until nothing is
// pending. Only the first result has a reader.
func (g *Deadline) run(s Screen, result chan<- error) {
	for {
		err := g.d.Show(s)
		if result != nil {
			result <- err
			result = nil
		}
		g.mu.Lock()
		if g.pending == nil {
			g.busy = false
			g.mu.Unlock()
			return
		}
		s, g.pending, g.since = *g.pending, nil, g.now()
		g.mu.Unlock()
	}
}

// Alive returns nil unless a write has been blocked for longer than the
// timeout, then an error wrapping ErrStuck saying since when. It never
// blocks; its signature is that of the watchdog's probes.
func (g *Deadline) Alive(context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.busy {
		return nil
	}
	if blocked := g.now().Sub(g.since); blocked > g.timeout {
		return fmt.Errorf("display: %w for %v (since %s)", ErrStuck, blocked.Round(time.Second), g.since.UTC().Format(time.RFC3339))
	}
	return nil
}
