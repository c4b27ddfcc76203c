package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"bindpay/internal/confirm"
	"bindpay/internal/modemsim"
	"bindpay/internal/netsim"
)

const (
	tid        = "STB0012345678"
	phone      = "13800138000"
	service    = "10658000"
	masterKey  = "example master key"
	waitLimit  = 30 * time.Second // only catches hangs; nothing is timed
	exitBound  = 0
	exitFailed = 1
	exitUsage  = 2
)

// agentBin is the bindpay-agent binary built once for the package.
var agentBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bindpay-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	agentBin = filepath.Join(dir, "bindpay-agent")
	build := exec.Command("go", "build", "-o", agentBin, "bindpay/cmd/agent")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build bindpay-agent:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// world is one terminal's modem and the network around it.
type world struct {
	t        *testing.T
	sim      *modemsim.Modem
	net      *netsim.Network
	url      string
	caFile   string // the throwaway CA of an https:// world (withTLS), else ""
	stateDir string
	keyFile  string
	// delivered receives one value per PDU the network stored in the modem.
	delivered chan struct{}
	// platformDown makes the service platform answer 503.
	platformDown *atomic.Bool
	// intercept, when set, answers terminal queries in the platform's place
	// (a captive portal, a rogue DNS answer, a proxy on the path).
	intercept *atomic.Pointer[http.HandlerFunc]
	// dropMT loses the network's SMS to this terminal on the way.
	dropMT *atomic.Bool
}

// notifyingModem tells the test when the network has delivered into the
// simulated modem; with drop set, the network's SMS are lost on the way (as
// an SMS centre may lose or delay them).
type notifyingModem struct {
	*modemsim.Modem
	delivered chan<- struct{}
	drop      *atomic.Bool
}

func (m notifyingModem) Deliver(pdus ...string) ([]int, error) {
	if m.drop.Load() {
		return nil, nil
	}
	idx, err := m.Modem.Deliver(pdus...)
	for range idx {
		m.delivered <- struct{}{}
	}
	return idx, err
}

func newWorld(t *testing.T) *world {
	t.Helper()
	return newWorldWith(t)
}

// newWorldWith is newWorld with a modem configured by opts (a profile,
// quirks, faults).
func newWorldWith(t *testing.T, opts ...modemsim.Option) *world {
	t.Helper()
	return buildWorld(t, false, "", opts...)
}

// newTLSWorld is newWorld with the platform served over https:// by a
// throwaway CA (netsim.NewTLS), which args passes to the agent as
// --ca-file.
func newTLSWorld(t *testing.T) *world {
	t.Helper()
	return buildWorld(t, true, "")
}

// newWorldOn is newWorld with the platform's store at storeURL (a
// PostgreSQL database) instead of SQLite.
func newWorldOn(t *testing.T, storeURL string) *world {
	t.Helper()
	return buildWorld(t, false, storeURL)
}

func buildWorld(t *testing.T, withTLS bool, storeURL string, opts ...modemsim.Option) *world {
	t.Helper()
	sim, err := modemsim.New(append([]modemsim.Option{modemsim.WithIMEI("861234567890123")}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	// The platform refuses unsigned queries: the agent must sign them.
	n := netsim.New(netsim.Config{MasterKey: []byte(masterKey), RequireSignedRequests: true, StoreURL: storeURL, Logf: t.Logf})
	t.Cleanup(n.Close)
	delivered := make(chan struct{}, 64)
	var drop atomic.Bool
	n.AddTerminal(tid, notifyingModem{sim, delivered, &drop})
	var (
		down      atomic.Bool
		intercept atomic.Pointer[http.HandlerFunc]
	)
	h := n.Handler()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if down.Load() && strings.HasPrefix(r.URL.Path, "/v1/terminals/") {
			http.Error(rw, "service platform down for maintenance", http.StatusServiceUnavailable)
			return
		}
		if f := intercept.Load(); f != nil && strings.HasPrefix(r.URL.Path, "/v1/terminals/") {
			(*f)(rw, r)
			return
		}
		h.ServeHTTP(rw, r)
	}))
	dir := t.TempDir()
	caFile := ""
	if withTLS {
		tl, err := netsim.NewTLS(time.Now())
		require.NoError(t, err)
		caFile = filepath.Join(dir, "ca.pem")
		require.NoError(t, os.WriteFile(caFile, tl.CAPEM, 0o644))
		srv.TLS = tl.Config
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)

	w := &world{t: t, sim: sim, net: n, url: srv.URL, caFile: caFile,
		stateDir: filepath.Join(dir, "state"), keyFile: filepath.Join(dir, "terminal.key"),
		delivered: delivered, platformDown: &down, intercept: &intercept, dropMT: &drop}
	require.NoError(t, os.Mkdir(w.stateDir, 0o755))
	key := confirm.DeriveKey([]byte(masterKey), tid)
	require.NoError(t, os.WriteFile(w.keyFile, []byte(fmt.Sprintf("%x\n", key)), 0o600))
	return w
}

// args are the agent's flags for this world; extra ones are appended (a
// repeated flag wins).
func (w *world) args(extra ...string) []string {
	var a []string
	if w.caFile != "" {
		a = append(a, "--ca-file", w.caFile)
	}
	a = append(a,
		"--config", os.DevNull,
		"--terminal-id", tid,
		"--state-dir", w.stateDir,
		"--modem", w.sim.Path(),
		"--platform-url", w.url,
		"--sms-sender", service,
		"--key-file", w.keyFile,
		"--lang", "en",
	)
	return append(a, extra...)
}

// agent is one running bindpay-agent process.
type agent struct {
	t        *testing.T
	cmd      *exec.Cmd
	stdout   *watchedBuffer
	stderr   *watchedBuffer
	done     chan struct{}
	exitCode int
}

// start runs the agent with args (global flags, then the command).
func start(t *testing.T, args ...string) *agent {
	t.Helper()
	return startEnv(t, nil, args...)
}

// startEnv is start with extra environment variables.
func startEnv(t *testing.T, env []string, args ...string) *agent {
	t.Helper()
	a := &agent{t: t, stdout: newWatchedBuffer(), stderr: newWatchedBuffer(), done: make(chan struct{})}
	a.cmd = exec.Command(agentBin, args...)
	a.cmd.Env = append(os.Environ(), env...)
	a.cmd.Stdout, a.cmd.Stderr = a.stdout, a.stderr
	require.NoError(t, a.cmd.Start())
	go func() {
		defer close(a.done)
		err := a.cmd.Wait()
		a.exitCode = a.cmd.ProcessState.ExitCode()
		if err != nil && a.exitCode < 0 {
			a.exitCode = -1
		}
	}()
	t.Cleanup(func() {
		select {
		case <-a.done:
		default:
			_ = a.cmd.Process.Signal(syscall.SIGKILL)
			<-a.done
		}
		if t.Failed() {
			t.Logf("agent stdout:\n%s\nagent stderr:\n%s", a.stdout.String(), a.stderr.String())
		}
	})
	return a
}

// runAgent runs the agent to completion and returns its exit code.
func runAgent(t *testing.T, args ...string) (*agent, int) {
	t.Helper()
	a := start(t, args...)
	return a, a.wait()
}

// wait waits for the agent to exit and returns its exit code.
func (a *agent) wait() int {
	a.t.Helper()
	select {
	case <-a.done:
		return a.exitCode
	case <-time.After(waitLimit):
		a.t.Fatalf("agent still running after %v\nstdout:\n%s\nstderr:\n%s", waitLimit, a.stdout, a.stderr)
		return -1
	}
}

// running reports whether the agent has not exited.
func (a *agent) running() bool {
	select {
	case <-a.done:
		return false
	default:
		return true
	}
}

// waitOutput waits until b holds want; it fails the test if the agent exits
// first or the wait limit passes.
func (a *agent) waitOutput(b *watchedBuffer, want string) {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for {
		text, changed := b.snapshot()
		if strings.Contains(text, want) {
			return
		}
		select {
		case <-changed:
		case <-a.done:
			if text, _ := b.snapshot(); strings.Contains(text, want) {
				return
			}
			a.t.Fatalf("agent exited (%d) before printing %q\nstdout:\n%s\nstderr:\n%s", a.exitCode, want, a.stdout, a.stderr)
		case <-ctx.Done():
			a.t.Fatalf("agent did not print %q within %v\nstdout:\n%s\nstderr:\n%s", want, waitLimit, a.stdout, a.stderr)
		}
	}
}

// watchedBuffer is an output buffer whose readers can wait for the next write
// instead of polling.
type watchedBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newWatchedBuffer() *watchedBuffer { return &watchedBuffer{changed: make(chan struct{})} }

func (w *watchedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	close(w.changed)
	w.changed = make(chan struct{})
	return n, err
}

// snapshot returns the text so far and a channel closed at the next write.
func (w *watchedBuffer) snapshot() (string, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String(), w.changed
}

func (w *watchedBuffer) String() string {
	s, _ := w.snapshot()
	return s
}

// waitCommand waits until the simulated modem has received a command with
// the prefix at least n times in all.
func (w *world) waitCommand(prefix string, n int) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	err := w.sim.WaitFor(ctx, func(cmds []string) bool { return countPrefix(cmds, prefix) >= n })
	require.NoError(w.t, err, "modem never received %d× %q; commands: %q", n, prefix, w.sim.Commands())
}

func countPrefix(cmds []string, prefix string) int {
	n := 0
	for _, c := range cmds {
		if strings.HasPrefix(strings.ToUpper(c), prefix) {
			n++
		}
	}
	return n
}
