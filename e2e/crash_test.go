//go:build linux

package e2e

// Nothing lost, end to end: the real agent killed with SIGKILL at random
// moments around the confirmation and restarted until it exits 0; a state
// directory that is missing, read-only or full; a corrupt record at start.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"bindpay/internal/flagstore"
)

// Environment of TestKillDuringActivation: `make test` runs the default
// iterations, `make test-long` sets BINDPAY_KILL_ITERATIONS=200. A failing
// run prints its seed; BINDPAY_KILL_SEED replays it (and -run
// 'TestKillDuringActivation/iter-017' one iteration of it: each iteration's
// random choices depend only on the seed and its number).
const (
	envIterations       = "BINDPAY_KILL_ITERATIONS"
	envSeed             = "BINDPAY_KILL_SEED"
	defaultIterations   = 10
	iterationLimit      = 60 * time.Second // a hang guard only
	confirmationParts   = 2                // the simulated confirmation is two UCS2 parts
	recordWrittenLog    = "binding record written and synced"
	alreadyBoundLog     = "already bound; nothing to do"
	activationDoneLog   = "activation complete"
	quarantineLog       = "binding record unusable; continuing as not bound"
	maxKillsInIteration = 3
)

// killPoint is when, in one run of the agent, the test kills it.
type killPoint int

// The delays are drawn log-uniformly where the interesting window is much
// shorter than the range: on a developer's PC the agent reads, saves and
// deletes a delivered confirmation in 2–5 ms, of which Save takes well
// under one, and sends its two deletes about 100 µs apart.
const (
	killAtStart       killPoint = iota // 50 µs–100 ms after the process starts: runtime, Load, modem init, scan, query; or the bind from a stored SMS
	killWhileWaiting                   // 0–20 ms after the prompt, before the user texts
	killAfterDelivery                  // 20 µs–20 ms after the confirmation is stored in the modem: read, verify, Save, deletes
	killAtSave                         // 1 µs–1 ms after the record's temporary file appears: inside Save, or just after
	killAtDelete                       // 0–200 µs after the modem receives the first AT+CMGD: between the deletes
	noKill                             // the last run: wait for the exit
)

func (k killPoint) String() string {
	return [...]string{"at start", "while waiting", "after delivery", "at save", "at delete", "no kill"}[k]
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	require.NoError(t, err, "%s=%q", name, s)
	return n
}

// TestKillDuringActivation: whatever moment the agent dies at, the
// restarted agent ends bound, exactly once, with one valid record; the
// confirmation is never deleted from the modem before the record is on
// disk, so none is ever lost.
func TestKillDuringActivation(t *testing.T) {
	iterations := envInt(t, envIterations, defaultIterations)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(envSeed); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "%s=%q", envSeed, s)
	}
	t.Logf("seed %d, %d iterations (replay: %s=%d %s=%d)", seed, iterations, envSeed, seed, envIterations, iterations)
	stats := map[string]int{}
	start := time.Now()
	for i := range iterations {
		ok := t.Run(fmt.Sprintf("iter-%03d", i), func(t *testing.T) {
			c := newCrashIteration(t, rand.New(rand.NewPCG(seed, uint64(i))))
			c.run()
			for k, v := range c.outcomes {
				stats[k] += v
			}
		})
		if !ok {
			t.Logf("iteration %d failed; replay with %s=%d -run 'TestKillDuringActivation/iter-%03d'", i, envSeed, seed, i)
		}
	}
	var lines []string
	for k, v := range stats {
		lines = append(lines, fmt.Sprintf("%5d  %s", v, k))
	}
	slices.Sort(lines)
	t.Logf("%d iterations in %v (seed %d); what each kill found:\n%s", iterations, time.Since(start).Round(time.Millisecond), seed, strings.Join(lines, "\n"))
}

// crashIteration is one terminal activated through kills and restarts.
type crashIteration struct {
	t     *testing.T
	w     *world
	rng   *rand.Rand
	store *flagstore.Store // reads only (Peek)
	plan  []killPoint

	sent     bool   // the user has texted; the confirmation is in the modem
	record   []byte // the record file as first seen; it must never change
	written  int    // runs that logged the record written
	outcomes map[string]int

	mu         sync.Mutex
	violations []string // found by the delete watcher
}

func newCrashIteration(t *testing.T, rng *rand.Rand) *crashIteration {
	w := newWorld(t)
	c := &crashIteration{
		t: t, w: w, rng: rng,
		store:    flagstore.New(afero.NewOsFs(), w.stateDir, nil),
		outcomes: map[string]int{},
	}
	for range 1 + rng.IntN(maxKillsInIteration) {
		c.plan = append(c.plan, killPoint(rng.IntN(int(noKill))))
	}
	c.plan = append(c.plan, noKill)
	return c
}

func (c *crashIteration) run() {
	t, w := c.t, c.w
	t.Logf("plan: %v", c.plan)
	ctx, cancel := context.WithTimeout(context.Background(), iterationLimit)
	defer cancel()
	watchDone := c.watchDeletes(ctx)
	defer func() { cancel(); <-watchDone }()

	for i, k := range c.plan {
		require.NoError(t, ctx.Err(), "iteration took longer than %v", iterationLimit)
		_, err := c.store.Peek(tid)
		boundBefore := err == nil
		exited, code, a := c.runOnce(k)
		switch {
		case exited && code == exitBound:
			how := "exited 0 before the kill"
			if k == noKill {
				how = "exited 0"
			}
			if !strings.Contains(a.stderr.String(), alreadyBoundLog) {
				assert.Contains(t, a.stderr.String(), activationDoneLog, "run %d (%v) exited 0", i, k)
			}
			c.postmortem(k, a, how, boundBefore)
		case exited:
			t.Fatalf("run %d (%v) exited %d; stderr:\n%s", i, k, code, a.stderr)
		default:
			c.postmortem(k, a, "killed", boundBefore)
		}
	}

	// Bound, exactly once, one record.
	rec, err := c.store.Peek(tid)
	require.NoError(t, err, "the record after the last run")
	assert.Equal(t, "138****8000", rec.MSISDN)
	assert.Contains(t, []string{flagstore.SourceSMS, flagstore.SourcePlatform}, rec.Source)
	assert.LessOrEqual(t, c.written, 1, "the record was written by %d runs, want at most one (and none after it was on disk)", c.written)
	data, err := os.ReadFile(c.store.Path())
	require.NoError(t, err)
	assert.Equal(t, string(c.record), string(data), "the record never changes once written")
	bound, msisdn := w.net.Binding(tid)
	assert.True(t, bound && msisdn == "+86"+phone, "the platform binds the terminal to the phone once (its E.164 number)")
	deletes := countPrefix(w.sim.Commands(), "AT+CMGD")
	assert.LessOrEqual(t, deletes, confirmationParts, "each part of the confirmation is deleted at most once; commands: %q", w.sim.Commands())
	assert.Equal(t, confirmationParts-deletes, len(w.sim.Stored()),
		"the modem holds exactly the parts not deleted (a run killed after the record was written but before the deletes leaves them: the bound fast path never touches the modem)")
	c.assertNoTempPileUp()

	c.mu.Lock()
	defer c.mu.Unlock()
	for _, v := range c.violations {
		t.Error(v)
	}
}

// runOnce starts the agent and kills it at k. It returns whether the agent
// exited on its own, and its exit code.
func (c *crashIteration) runOnce(k killPoint) (exited bool, code int, a *agent) {
	t, w := c.t, c.w
	var saveSeen <-chan string
	if k == killAtSave {
		var stop func()
		saveSeen, stop = watchCreate(t, w.stateDir, flagstore.FileName+".tmp-")
		defer stop()
	}
	deletesBefore := countPrefix(w.sim.Commands(), "AT+CMGD")
	a = start(t, w.args()...)
	uniform := func(hi time.Duration) time.Duration { return time.Duration(c.rng.Int64N(int64(hi))) }
	logUniform := func(lo, hi time.Duration) time.Duration {
		return time.Duration(float64(lo) * math.Pow(float64(hi)/float64(lo), c.rng.Float64()))
	}

	// sendWhenPrompted texts the activation request once the prompt is
	// shown; false when the agent exited first (bound from the stored SMS).
	sendWhenPrompted := func() bool {
		if c.sent {
			return true
		}
		if !waitOutputOrExit(t, a, a.stdout, "BIND "+tid) {
			return false
		}
		require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+tid))
		w.waitStored(confirmationParts) // the agent may be deleting it already
		c.sent = true
		return true
	}

	switch k {
	case noKill:
		if sendWhenPrompted() {
			return true, a.wait(), a
		}
	case killAtStart:
		time.Sleep(logUniform(50*time.Microsecond, 100*time.Millisecond))
	case killWhileWaiting:
		if c.sent {
			// No prompt to wait for: the stored SMS binds at start.
			time.Sleep(logUniform(50*time.Microsecond, 100*time.Millisecond))
		} else if waitOutputOrExit(t, a, a.stdout, "BIND "+tid) {
			time.Sleep(uniform(20 * time.Millisecond))
		}
	case killAfterDelivery:
		if sendWhenPrompted() {
			time.Sleep(logUniform(20*time.Microsecond, 20*time.Millisecond))
		}
	case killAtSave:
		if sendWhenPrompted() {
			select {
			case <-saveSeen:
				time.Sleep(logUniform(time.Microsecond, time.Millisecond))
			case <-a.done:
			case <-time.After(waitLimit):
				t.Fatalf("the agent neither wrote its record nor exited within %v; stderr:\n%s", waitLimit, a.stderr)
			}
		}
	case killAtDelete:
		if sendWhenPrompted() {
			deleted := make(chan struct{})
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				if w.sim.WaitFor(ctx, func(cmds []string) bool { return countPrefix(cmds, "AT+CMGD") > deletesBefore }) == nil {
					close(deleted)
				}
			}()
			select {
			case <-deleted:
				time.Sleep(uniform(200 * time.Microsecond))
			case <-a.done:
			case <-time.After(waitLimit):
				t.Fatalf("the agent neither deleted the confirmation nor exited within %v; stderr:\n%s", waitLimit, a.stderr)
			}
			cancel()
		}
	}
	if !a.running() {
		return true, a.wait(), a
	}
	_ = a.cmd.Process.Signal(syscall.SIGKILL)
	code = a.wait()
	// -1: killed by the signal; anything else: it exited first.
	return code >= 0, code, a
}

// postmortem checks the disk and the modem once a run is over, and counts
// what the kill found.
func (c *crashIteration) postmortem(k killPoint, a *agent, how string, boundBefore bool) {
	t := c.t
	t.Helper()
	stderr := a.stderr.String()
	if strings.Contains(stderr, recordWrittenLog) {
		c.written++
	}
	rec, err := c.store.Peek(tid)
	present := err == nil
	if !present && !errors.Is(err, flagstore.ErrNotFound) {
		t.Fatalf("kill %v (%s): the record is unusable: %v", k, how, err)
	}
	if present {
		require.Equal(t, tid, rec.TerminalID)
		data, err := os.ReadFile(c.store.Path())
		require.NoError(t, err)
		if c.record == nil {
			c.record = data
		} else {
			require.Equal(t, string(c.record), string(data), "kill %v (%s): the record was rewritten", k, how)
		}
	}
	if boundBefore {
		// The record was there at start: the fast path, nothing else.
		assert.NotContains(t, stderr, "SMS received", "%v (%s): a run started bound read the modem", k, how)
		assert.NotContains(t, stderr, recordWrittenLog, "%v (%s): a run started bound wrote the record again", k, how)
		if how != "killed" {
			assert.Contains(t, stderr, alreadyBoundLog, "%v (%s): a run started bound takes the fast path", k, how)
		}
	}
	stored := len(c.w.sim.Stored())
	if c.sent && stored < confirmationParts && !present {
		t.Fatalf("kill %v (%s): the confirmation was deleted (%d of %d parts left) but there is no record: a confirmation was lost",
			k, how, stored, confirmationParts)
	}

	var what string
	switch {
	case !c.sent:
		what = "nothing sent yet"
	case !present && hasFile(t, c.w.stateDir, flagstore.FileName+".tmp-"):
		what = "confirmation stored, record being written (temporary file, no record)"
	case !present:
		what = "confirmation stored, no record yet"
	case stored == confirmationParts:
		what = "record written, confirmation not yet deleted"
	case stored > 0:
		what = "record written, confirmation partly deleted"
	default:
		what = "record written, confirmation deleted"
	}
	c.outcomes[fmt.Sprintf("%-15s %-24s %s", k, how, what)]++
}

// watchDeletes checks, at every AT+CMGD the modem receives, that the record
// is already on disk and valid. (The check runs just after the modem has
// executed the command, while the agent waits for its reply; the
// postmortem of each kill checks the same after the fact.)
func (c *crashIteration) watchDeletes(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	seen := 0
	go func() {
		defer close(done)
		_ = c.w.sim.WaitFor(ctx, func(cmds []string) bool {
			n := countPrefix(cmds, "AT+CMGD")
			if n > seen {
				seen = n
				if _, err := c.store.Peek(tid); err != nil {
					c.mu.Lock()
					c.violations = append(c.violations, fmt.Sprintf("the modem received delete #%d (%q) while the record was not on disk: %v", n, lastPrefix(cmds, "AT+CMGD"), err))
					c.mu.Unlock()
				}
			}
			return false
		})
	}()
	return done
}

// assertNoTempPileUp: a temporary file of the record is gone once the
// record is written; one left by a killed ledger write may stay until that
// file's next write, but no more than one per file. And no kill ever left a
// state file that had to be quarantined.
func (c *crashIteration) assertNoTempPileUp() {
	t := c.t
	entries, err := os.ReadDir(c.w.stateDir)
	require.NoError(t, err)
	perFile := map[string]int{}
	for _, e := range entries {
		if base, _, ok := strings.Cut(e.Name(), ".tmp-"); ok {
			perFile[base]++
		}
		assert.NotContains(t, e.Name(), ".corrupt-", "no state file was ever found corrupt")
	}
	assert.Zero(t, perFile[flagstore.FileName], "temporary files of the record left: %v", entries)
	for f, n := range perFile {
		assert.LessOrEqual(t, n, 1, "temporary files of %s pile up: %v", f, entries)
	}
}

func hasFile(t *testing.T, dir, prefix string) bool {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			return true
		}
	}
	return false
}

func lastPrefix(cmds []string, prefix string) string {
	for i := len(cmds) - 1; i >= 0; i-- {
		if strings.HasPrefix(strings.ToUpper(cmds[i]), prefix) {
			return cmds[i]
		}
	}
	return ""
}

// waitOutputOrExit waits until b holds want (true) or the agent exits
// first (false).
func waitOutputOrExit(t *testing.T, a *agent, b *watchedBuffer, want string) bool {
	t.Helper()
	timeout := time.After(waitLimit)
	for {
		text, changed := b.snapshot()
		if strings.Contains(text, want) {
			return true
		}
		select {
		case <-changed:
		case <-a.done:
			text, _ := b.snapshot()
			return strings.Contains(text, want)
		case <-timeout:
			t.Fatalf("agent neither printed %q nor exited within %v\nstdout:\n%s\nstderr:\n%s", want, waitLimit, a.stdout, a.stderr)
		}
	}
}

// watchCreate reports on the channel the names of files created in dir
// that start with prefix (inotify: no polling, and the kill follows the
// creation within microseconds). stop ends the watch.
func watchCreate(t *testing.T, dir, prefix string) (<-chan string, func()) {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	require.NoError(t, err)
	_, err = unix.InotifyAddWatch(fd, dir, unix.IN_CREATE)
	require.NoError(t, err)
	f := os.NewFile(uintptr(fd), "inotify") // non-blocking: Close ends a pending Read
	ch := make(chan string, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			// struct inotify_event: wd, mask, cookie, len, then len bytes of name.
			for off := 0; off+unix.SizeofInotifyEvent <= n; {
				l := int(binary.NativeEndian.Uint32(buf[off+12:]))
				name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+l]), "\x00")
				off += unix.SizeofInotifyEvent + l
				if strings.HasPrefix(name, prefix) {
					select {
					case ch <- name:
					default:
					}
				}
			}
		}
	}()
	return ch, func() {
		f.Close()
		<-done
	}
}

// State directory faults: the record cannot be written. The agent does not
// exit into a restart loop: it stays up, says it is bound but could not save
// it (naming the path), keeps the confirmation in the modem and retries with
// backoff; once the fault is gone it saves, deletes the SMS and exits 0. The
// same when the binding comes from the platform's signed bound:true.
func TestStateDirFaults(t *testing.T) {
	tests := []struct {
		name string
		// fault breaks the world's state directory and returns the
		// --state-dir to use, what the error must say, and the repair.
		fault func(t *testing.T, w *world) (dir, want string, repair func())
	}{
		{
			name: "state directory missing",
			fault: func(t *testing.T, w *world) (string, string, func()) {
				dir := filepath.Join(w.stateDir, "missing")
				return dir, "state directory " + dir + " does not exist", func() { require.NoError(t, os.Mkdir(dir, 0o755)) }
			},
		},
		{
			name: "read-only file system",
			fault: func(t *testing.T, w *world) (string, string, func()) {
				// A read-only bind mount: root ignores permission bits, not
				// a read-only mount. Needs CAP_SYS_ADMIN.
				mount(t, w.stateDir, w.stateDir, "", unix.MS_BIND, "")
				mount(t, "", w.stateDir, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, "")
				return w.stateDir, "read-only file system", func() { unmount(t, w.stateDir) }
			},
		},
		{
			name: "disk full",
			fault: func(t *testing.T, w *world) (string, string, func()) {
				// A tiny tmpfs filled to the last page. Needs CAP_SYS_ADMIN.
				mount(t, "tmpfs", w.stateDir, "tmpfs", 0, "size=64k,mode=0755")
				filler := filepath.Join(w.stateDir, "filler")
				f, err := os.Create(filler)
				require.NoError(t, err)
				_, err = f.Write(make([]byte, 1<<20))
				require.ErrorIs(t, err, syscall.ENOSPC, "the tmpfs fills up")
				require.NoError(t, f.Close())
				return w.stateDir, "no space left on device", func() { require.NoError(t, os.Remove(filler)) }
			},
		},
	}
	for _, tt := range tests {
		for _, viaPlatform := range []bool{false, true} {
			name := tt.name + ", confirmed by SMS"
			if viaPlatform {
				name = tt.name + ", bound:true from the platform"
			}
			t.Run(name, func(t *testing.T) {
				w := newWorld(t)
				dir, want, repair := tt.fault(t, w)
				args := w.args("--state-dir", dir)
				if viaPlatform {
					w.dropMT.Store(true) // no SMS: only the platform's answer binds
					require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+tid))
				}
				a := start(t, args...)
				if !viaPlatform {
					a.waitOutput(a.stdout, "BIND "+tid)
					require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+tid))
					w.waitStored(confirmationParts)
				}
				a.waitOutput(a.stderr, "bound, but the binding record cannot be saved; retrying")
				a.waitOutput(a.stdout, "138****8000") // the screen says it is activated
				stderr := a.stderr.String()
				assert.Contains(t, stderr, dir, "the log names the path")
				assert.Contains(t, stderr, want)
				assert.True(t, a.running(), "input: %s; the agent stays up instead of exiting into a restart loop", name)
				if !viaPlatform {
					assert.Len(t, w.sim.Stored(), confirmationParts, "the confirmation is kept in the modem")
				}
				assert.Zero(t, countPrefix(w.sim.Commands(), "AT+CMGD"), "nothing deleted from the modem")

				repair()
				require.Equal(t, exitBound, a.wait(), "after the repair the retry saves the record and the agent exits 0\nstderr:\n%s", a.stderr)
				assert.Contains(t, a.stderr.String(), "binding record saved after all")
				assert.Empty(t, w.sim.Stored(), "deleted once the record is written")
				rec, err := flagstore.New(afero.NewOsFs(), dir, nil).Peek(tid)
				require.NoError(t, err)
				assert.Equal(t, "138****8000", rec.MSISDN)
			})
		}
	}
}

// mount mounts or skips the test when this process may not (CI without
// CAP_SYS_ADMIN); the boot-level TestRunStateDirFaults covers the same
// faults there with afero.
func mount(t *testing.T, source, target, fstype string, flags uintptr, data string) {
	t.Helper()
	what := fstype
	if what == "" {
		what = "bind"
	}
	err := unix.Mount(source, target, fstype, flags, data)
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		t.Skipf("mount (%s) on %s: %v: needs CAP_SYS_ADMIN; covered at the boot level by internal/boot TestRunStateDirFaults", what, target, err)
	}
	require.NoError(t, err, "mount (%s) on %s", what, target)
	if flags&unix.MS_REMOUNT == 0 {
		t.Cleanup(func() { _ = unix.Unmount(target, unix.MNT_DETACH) })
	}
}

func unmount(t *testing.T, target string) {
	t.Helper()
	require.NoError(t, unix.Unmount(target, 0))
}

// A corrupt record at start, or one written for another terminal, is moved
// aside and reported; the agent carries on as not bound, prompts, binds.
func TestCorruptRecordQuarantined(t *testing.T) {
	tests := []struct {
		name   string
		record func(t *testing.T, w *world) []byte
		why    string
	}{
		{"garbage", func(*testing.T, *world) []byte { return []byte("\x00\x17garbage{\"version\":1") }, "not a JSON record"},
		{"truncated", func(t *testing.T, w *world) []byte {
			s := flagstore.New(afero.NewOsFs(), w.stateDir, nil)
			require.NoError(t, s.Save(flagstore.Record{TerminalID: tid, MSISDN: "139****0000", Source: flagstore.SourceSMS}))
			data, err := os.ReadFile(s.Path())
			require.NoError(t, err)
			return data[:len(data)/2]
		}, "not a JSON record"},
		{"checksum mismatch", func(t *testing.T, w *world) []byte {
			s := flagstore.New(afero.NewOsFs(), w.stateDir, nil)
			require.NoError(t, s.Save(flagstore.Record{TerminalID: tid, MSISDN: "139****0000", Source: flagstore.SourceSMS}))
			data, err := os.ReadFile(s.Path())
			require.NoError(t, err)
			return bytes.Replace(data, []byte("139****0000"), []byte("139****9999"), 1)
		}, "checksum mismatch"},
		{"another terminal's record", func(t *testing.T, w *world) []byte {
			s := flagstore.New(afero.NewOsFs(), w.stateDir, nil)
			require.NoError(t, s.Save(flagstore.Record{TerminalID: "STB0099999999", MSISDN: "139****0000", Source: flagstore.SourceSMS}))
			data, err := os.ReadFile(s.Path())
			require.NoError(t, err)
			return data
		}, `written for terminal \"STB0099999999\"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			path := filepath.Join(w.stateDir, flagstore.FileName)
			bad := tt.record(t, w)
			require.NoError(t, os.WriteFile(path, bad, 0o644))

			a := start(t, w.args()...)
			a.waitOutput(a.stderr, quarantineLog)
			a.waitOutput(a.stdout, "BIND "+tid)
			stderr := a.stderr.String()
			assert.Contains(t, stderr, tt.why, "the log says what is wrong")
			assert.Contains(t, stderr, "moved aside to "+path+".corrupt-", "the log says where it went")
			require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+tid))
			require.Equal(t, exitBound, a.wait(), "stderr:\n%s", a.stderr)

			rec, err := flagstore.New(afero.NewOsFs(), w.stateDir, nil).Peek(tid)
			require.NoError(t, err, "a valid record replaces the quarantined one")
			assert.Equal(t, "138****8000", rec.MSISDN)
			aside, err := filepath.Glob(path + ".corrupt-*")
			require.NoError(t, err)
			require.Len(t, aside, 1, "the corrupt record is kept aside for a person to inspect")
			kept, err := os.ReadFile(aside[0])
			require.NoError(t, err)
			assert.Equal(t, bad, kept, "moved aside unchanged")
			assert.Equal(t, true, statusJSON(t, w)["bound"])
		})
	}
}
