package display

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hangLimit only catches a test that would otherwise hang; nothing is timed.
const hangLimit = 30 * time.Second

// gateDisplay is a Display whose Show announces itself on started and then
// returns what the test sends on finish.
type gateDisplay struct {
	started chan Screen
	finish  chan error
}

func newGate() *gateDisplay {
	return &gateDisplay{started: make(chan Screen, 16), finish: make(chan error)}
}

func (g *gateDisplay) Show(s Screen) error {
	g.started <- s
	return <-g.finish
}

// manualClock is a clock whose timers fire when the test says.
type manualClock struct {
	mu    sync.Mutex
	t     time.Time
	timer chan time.Time // every After returns it
}

func newManualClock() *manualClock {
	return &manualClock{t: time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC), timer: make(chan time.Time, 1)}
}

func (c *manualClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *manualClock) after(time.Duration) <-chan time.Time { return c.timer }

func (c *manualClock) fire() { c.timer <- c.now() }

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(hangLimit):
		t.Fatalf("%s: nothing within %v", what, hangLimit)
		var zero T
		return zero
	}
}

func noneWaiting[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("%s: got %v, want nothing", what, v)
	default:
	}
}

var (
	checking = Screen{State: StateChecking, TerminalID: tid}
	prompt   = Screen{State: StatePrompt, TerminalID: tid, SMSTo: "10658000", SMSBody: "BIND " + tid}
	bound    = Screen{State: StateBound, TerminalID: tid, MSISDN: "138****8000"}
)

func TestDeadlinePassesResults(t *testing.T) {
	errDisplay := errors.New("display failed")
	for _, tc := range []struct {
		name string
		err  error
	}{{"success", nil}, {"failure", errDisplay}} {
		t.Run(tc.name, func(t *testing.T) {
			gate, clock := newGate(), newManualClock()
			d, err := NewDeadline(gate, time.Second, clock.now, clock.after)
			require.NoError(t, err)
			done := make(chan error, 1)
			go func() { done <- d.Show(prompt) }()
			assert.Equal(t, prompt, recv(t, gate.started, "Show reaches the display"))
			gate.finish <- tc.err
			got := recv(t, done, "Show returns")
			if tc.err == nil {
				assert.NoError(t, got)
			} else {
				assert.ErrorIs(t, got, tc.err, "the display's error is returned")
				assert.NotErrorIs(t, got, ErrStuck)
			}
			assert.NoError(t, d.Alive(context.Background()), "nothing blocked")
		})
	}
}

// TestDeadlineBlockedWrite: a blocked write costs the caller one timeout,
// later Shows return at once without touching the display, Alive reports
// the block once it outlasts the timeout, and the newest screen is shown
// when the write returns.
func TestDeadlineBlockedWrite(t *testing.T) {
	gate, clock := newGate(), newManualClock()
	d, err := NewDeadline(gate, time.Minute, clock.now, clock.after)
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() { done <- d.Show(checking) }()
	recv(t, gate.started, "the first Show reaches the display")
	clock.fire()
	err = recv(t, done, "Show returns at its deadline")
	require.ErrorIs(t, err, ErrStuck)
	assert.Contains(t, err.Error(), "no answer within 1m0s")

	assert.NoError(t, d.Alive(context.Background()), "blocked, but not for longer than the timeout yet")
	clock.advance(2 * time.Minute)
	err = d.Alive(context.Background())
	require.ErrorIs(t, err, ErrStuck, "blocked for twice the timeout")
	assert.Contains(t, err.Error(), "for 2m0s (since 2026-11-25T20:00:00Z)")

	for _, s := range []Screen{prompt, bound} {
		err := d.Show(s) // returns at once: no timer fires
		require.ErrorIs(t, err, ErrStuck, "Show of %s while blocked", s.State)
		assert.Contains(t, err.Error(), "blocked since 2026-11-25T20:00:00Z")
	}
	noneWaiting(t, gate.started, "the display while a write is blocked")

	gate.finish <- nil // the blocked write returns
	assert.Equal(t, bound, recv(t, gate.started, "the newest screen is shown next"), "catch-up screen")
	assert.NoError(t, d.Alive(context.Background()), "the catch-up write has just started")
	gate.finish <- nil
	noneWaiting(t, gate.started, "nothing more is pending")

	// Back to normal: the next Show waits for the display again. The run
	// goroutine may still be finishing; Show then reports it as stuck and
	// queues the screen, which the display receives all the same.
	go func() { done <- d.Show(prompt) }()
	assert.Equal(t, prompt, recv(t, gate.started, "Show after the catch-up"))
	gate.finish <- nil
	err = recv(t, done, "Show after the catch-up returns")
	if err != nil {
		require.ErrorIs(t, err, ErrStuck)
	}
	noneWaiting(t, gate.started, "one Show, one write")
}

func TestNewDeadlineErrors(t *testing.T) {
	clock := newManualClock()
	tests := []struct {
		name    string
		d       Display
		timeout time.Duration
		now     func() time.Time
		after   func(time.Duration) <-chan time.Time
		want    string
	}{
		{"no display", nil, time.Second, clock.now, clock.after, "needs a display"},
		{"zero timeout", newGate(), 0, clock.now, clock.after, "want a positive duration"},
		{"negative timeout", newGate(), -time.Second, clock.now, clock.after, "want a positive duration"},
		{"no now", newGate(), time.Second, nil, clock.after, "needs a clock"},
		{"no after", newGate(), time.Second, clock.now, nil, "needs a clock"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewDeadline(tc.d, tc.timeout, tc.now, tc.after)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// stallFs blocks the first file it opens for writing until released, and
// tells of every rename (a status file replaced).
type stallFs struct {
	afero.Fs
	once    sync.Once
	stalled chan struct{}
	release chan struct{}
	renamed chan string
}

func (s *stallFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
		s.once.Do(func() {
			close(s.stalled)
			<-s.release
		})
	}
	return s.Fs.OpenFile(name, flag, perm)
}

func (s *stallFs) Rename(oldname, newname string) error {
	err := s.Fs.Rename(oldname, newname)
	s.renamed <- newname
	return err
}

// TestDeadlineStatusFile: the status file on a file system that hangs:
// the flow gets ErrStuck instead of hanging, and the file catches up with
// the newest screen once the file system answers.
func TestDeadlineStatusFile(t *testing.T) {
	mem := afero.NewMemMapFs()
	fs := &stallFs{Fs: mem, stalled: make(chan struct{}), release: make(chan struct{}), renamed: make(chan string, 4)}
	st := newStatus(t, fs, "en")
	clock := newManualClock()
	d, err := NewDeadline(st, time.Second, clock.now, clock.after)
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() { done <- d.Show(checking) }()
	recv(t, fs.stalled, "the write reaches the file system")
	clock.fire()
	require.ErrorIs(t, recv(t, done, "Show at its deadline"), ErrStuck)
	require.ErrorIs(t, d.Show(prompt), ErrStuck, "the next screen is queued")

	close(fs.release)
	assert.Equal(t, statusPath, recv(t, fs.renamed, "the blocked write completes"))
	assert.Equal(t, statusPath, recv(t, fs.renamed, "the queued screen is written"))
	got, err := ReadStatus(mem, statusPath)
	require.NoError(t, err)
	assert.Equal(t, StatePrompt, got.State, "the file shows the newest screen")
}
