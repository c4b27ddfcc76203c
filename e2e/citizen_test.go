package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// queryLog records when the world's platform was asked, and passes the
// queries on to it (or answers first with override, once).
type queryLog struct {
	mu    sync.Mutex
	times []time.Time
	added chan struct{}
}

// countQueries puts a queryLog in front of w's platform. first, when set,
// answers the first query instead of the platform.
func countQueries(w *world, first http.HandlerFunc) *queryLog {
	q := &queryLog{added: make(chan struct{}, 1024)}
	real := w.net.Handler()
	w.interceptWith(func(rw http.ResponseWriter, r *http.Request) {
		q.mu.Lock()
		q.times = append(q.times, time.Now())
		n := len(q.times)
		q.mu.Unlock()
		q.added <- struct{}{}
		if n == 1 && first != nil {
			first(rw, r)
			return
		}
		real.ServeHTTP(rw, r)
	})
	return q
}

// wait waits until n queries have come; it returns their times.
func (q *queryLog) wait(t *testing.T, n int) []time.Time {
	t.Helper()
	deadline := time.After(3 * waitLimit)
	for {
		q.mu.Lock()
		got := append([]time.Time(nil), q.times...)
		q.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-q.added:
		case <-deadline:
			t.Fatalf("only %d of %d platform queries came", len(got), n)
		}
	}
}

func gaps(ts []time.Time) []time.Duration {
	var g []time.Duration
	for i := 1; i < len(ts); i++ {
		g = append(g, ts[i].Sub(ts[i-1]))
	}
	return g
}

// TestPollingSpread: agents powered on together do not poll in step: every
// interval is jittered (never shorter than 80 % of platform.poll_interval),
// so their queries spread.
func TestPollingSpread(t *testing.T) {
	const agents, queries = 2, 6
	var logs []*queryLog
	for range agents {
		w := newWorld(t)
		logs = append(logs, countQueries(w, nil))
		start(t, w.args("--poll-interval", "1s")...)
	}
	var all [][]time.Duration
	for i, q := range logs {
		g := gaps(q.wait(t, queries))[:queries-1]
		all = append(all, g)
		distinct := map[time.Duration]bool{}
		for _, d := range g {
			assert.GreaterOrEqual(t, d, 800*time.Millisecond-10*time.Millisecond, "agent %d: an interval shorter than the jitter allows: %v", i, g)
			distinct[d.Round(10*time.Millisecond)] = true
		}
		assert.Greater(t, len(distinct), 1, "agent %d: intervals %v all the same: no jitter", i, g)
	}
	assert.NotEqual(t, roundAll(all[0]), roundAll(all[1]), "two agents poll on the same schedule")
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(10 * time.Millisecond)
	}
	return out
}

// TestRetryAfterKeepsTheAgentQuiet: a 503 with Retry-After is a minimum:
// no query comes before it has passed (at least 10 s, DESIGN's floor), even
// with a short poll interval.
func TestRetryAfterKeepsTheAgentQuiet(t *testing.T) {
	w := newWorld(t)
	q := countQueries(w, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Retry-After", "12")
		http.Error(rw, "overloaded, come back later", http.StatusServiceUnavailable)
	})
	a := start(t, w.args("--poll-interval", "1s")...)
	a.waitOutput(a.stdout, "BIND "+tid) // the fallback prompt while told to wait
	ts := q.wait(t, 2)
	assert.GreaterOrEqual(t, ts[1].Sub(ts[0]), 12*time.Second, "the second query came before the Retry-After had passed")
}

// snapshot is what a state file looks like on flash: any write changes it.
type snapshot map[string]string

func snapshotDir(t *testing.T, dirs ...string) snapshot {
	t.Helper()
	s := snapshot{}
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, e := range entries {
			fi, err := os.Lstat(filepath.Join(dir, e.Name()))
			require.NoError(t, err)
			st := fi.Sys().(*syscall.Stat_t)
			s[filepath.Join(dir, e.Name())] = strings.Join([]string{fi.ModTime().Format(time.RFC3339Nano), fi.Mode().String(),
				time.Duration(st.Ino).String(), time.Duration(fi.Size()).String()}, " ")
		}
	}
	return s
}

func (s snapshot) names() []string {
	var n []string
	for k := range s {
		n = append(n, filepath.Base(k))
	}
	sort.Strings(n)
	return n
}

// TestIdenticalAnswersWriteNothing: a waiting agent asked again and again,
// with the same answer each time (protocol v2: a stable nonce), writes
// nothing to flash: no ledger, no inbox, no status file rewrite.
func TestIdenticalAnswersWriteNothing(t *testing.T) {
	w := newWorld(t)
	q := countQueries(w, nil)
	run := t.TempDir()
	status := filepath.Join(run, "status.json")
	a := start(t, w.args("--poll-interval", "1s", "--display", "console,status", "--status-file", status)...)
	a.waitOutput(a.stdout, "BIND "+tid)
	q.wait(t, 2)
	before := snapshotDir(t, w.stateDir, run)
	assert.Contains(t, before.names(), "nonces.json", "the first answer's nonce is recorded, once")
	q.wait(t, 6)
	after := snapshotDir(t, w.stateDir, run)
	assert.Equal(t, before, after, "state written while nothing changed")
	assert.True(t, a.running())
}

// TestStuckConsoleStopsTheWatchdog: a console write that never returns (a
// tty stopped by flow control; here a FIFO nobody reads) does not block the
// flow, but it stops WATCHDOG=1, so systemd restarts the agent; once the
// write returns, the pings resume.
func TestStuckConsoleStopsTheWatchdog(t *testing.T) {
	w := newWorld(t)
	q := countQueries(w, nil)
	fifo := filepath.Join(t.TempDir(), "tty")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	sd := newFakeSystemd(t)
	a := startEnv(t, []string{"NOTIFY_SOCKET=" + sd.path, "WATCHDOG_USEC=400000"},
		w.args("--poll-interval", "1s", "--console", fifo)...)
	a.waitOutput(a.stderr, "not feeding the watchdog")
	sd.await(t, "READY=1") // the flow carried on: the prompt is up, if unseen
	n := strings.Count(sd.buf.String(), "WATCHDOG=1")
	// Three more polls: seconds, a dozen watchdog periods.
	q.wait(t, len(q.wait(t, 1))+3)
	assert.Equal(t, n, strings.Count(sd.buf.String(), "WATCHDOG=1"), "WATCHDOG=1 sent while the console write was stuck")

	// Someone reads the tty: the write returns, the pings resume.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			return
		}
		defer f.Close()
		buf := make([]byte, 4096)
		for ctx.Err() == nil {
			if _, err := f.Read(buf); err != nil {
				return
			}
		}
	}()
	a.waitOutput(a.stderr, "agent answering again")
	sd.used = 0
	for range n + 1 {
		sd.await(t, "WATCHDOG=1")
	}
}
