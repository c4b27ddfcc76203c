package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/server/store"
	"bindpay/internal/server/store/storetest"
)

func TestServeRefusesBadSecrets(t *testing.T) {
	w := newWorld(t)
	cfg := w.config
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`
master_key_file = %q
listen = "127.0.0.1:0"
[store]
url = "sqlite://%s"
migrate = true
[link]
sendsms_url = "http://127.0.0.1:1/cgi-bin/sendsms"
dlr_url_base = "http://127.0.0.1:1"
callback_key_file = %q
`, w.masterKey, w.db, filepath.Join(w.dir, "callback.key"))), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(w.dir, "callback.key"), []byte("cb\n"), 0o600))

	require.NoError(t, os.Chmod(w.masterKey, 0o644))
	code, _, stderr := cli(t, "--config", cfg, "serve")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, w.masterKey)
	require.NoError(t, os.Chmod(w.masterKey, 0o600))

	require.NoError(t, os.Chmod(filepath.Join(w.dir, "callback.key"), 0o640))
	code, _, stderr = cli(t, "--config", cfg, "serve")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "callback.key")
	_, err := os.Stat(w.db)
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing was touched")
	require.NoError(t, os.Chmod(filepath.Join(w.dir, "callback.key"), 0o600))

	b, err := os.ReadFile(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cfg, []byte(strings.Replace(string(b), "migrate = true", "migrate = false", 1)), 0o644))
	code, _, stderr = cli(t, "--config", cfg, "serve")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "schema version 0, this build wants 1", "an unmigrated store is refused, naming both versions")
}

func TestServeRefusesSimLink(t *testing.T) {
	w := newWorld(t)
	code, _, stderr := cli(t, "--config", w.config, "serve")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "bindpay-netsim")
}

// kannelFake plays Kannel's sendsms for the serve process: while down it
// answers 503; it records every part it accepts.
type kannelFake struct {
	mu    sync.Mutex
	down  bool
	parts map[string][]string // to → texts of parts accepted
}

func (k *kannelFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.down {
		http.Error(w, "Queue full", http.StatusServiceUnavailable)
		return
	}
	q := r.URL.Query()
	k.parts[q.Get("to")] = append(k.parts[q.Get("to")], q.Get("text"))
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, "0: Accepted for delivery")
}

func (k *kannelFake) setDown(d bool) { k.mu.Lock(); k.down = d; k.mu.Unlock() }

func (k *kannelFake) got(to string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return strings.Join(k.parts[to], "")
}

// serveProc is one bindpay-platform serve process.
type serveProc struct {
	cmd      *exec.Cmd
	addr     string
	done     chan error
	stopping chan struct{} // closed when serve logs that it is stopping
}

var listening = regexp.MustCompile(`msg=listening addr=(\S+)`)

func startServe(t *testing.T, bin, cfg string, env ...string) *serveProc {
	t.Helper()
	cmd := exec.Command(bin, "--config", cfg, "serve")
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &serveProc{cmd: cmd, done: make(chan error, 1), stopping: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		stopped := false
		for sc.Scan() {
			if !stopped && strings.Contains(sc.Text(), `msg="stopping`) {
				stopped = true
				close(p.stopping)
			}
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case p.addr = <-addr:
	case err := <-p.done:
		t.Fatalf("serve exited before listening: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not start listening within 60 s")
	}
	return p
}

// platformWorld is a built binary, a fake Kannel and a config over a store.
type platformWorld struct {
	world
	bin       string
	kannel    *kannelFake
	kannelSrv *httptest.Server
	store     string
}

// kannelURL is the fake Kannel's sendsms URL in the config.
func (p *platformWorld) kannelURL() string { return p.kannelSrv.URL + "/cgi-bin/sendsms" }

func newPlatformWorld(t *testing.T, storeURL string) *platformWorld {
	t.Helper()
	w := newWorld(t)
	p := &platformWorld{world: w, bin: filepath.Join(w.dir, "bindpay-platform"), store: storeURL}
	if p.store == "" {
		p.store = "sqlite://" + w.db
	}
	out, err := exec.Command("go", "build", "-o", p.bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	p.kannel = &kannelFake{down: true, parts: map[string][]string{}}
	ks := httptest.NewServer(p.kannel)
	t.Cleanup(ks.Close)
	p.kannelSrv = ks
	keyFile := filepath.Join(w.dir, "callback.key")
	require.NoError(t, os.WriteFile(keyFile, []byte("cb-key\n"), 0o600))
	require.NoError(t, os.WriteFile(w.config, []byte(fmt.Sprintf(`
master_key_file = %q
listen = "127.0.0.1:0"
[store]
url = %q
migrate = true
[link]
sendsms_url = %q
dlr_url_base = "http://127.0.0.1:1"
callback_key_file = %q
timeout = "2s"
[outbox]
poll = "50ms"
retry_initial = "100ms"
retry_max = "300ms"
lease = "3s"
`, w.masterKey, p.store, ks.URL+"/cgi-bin/sendsms", keyFile)), 0o644))
	code, _, stderr := cli(t, "--config", w.config, "migrate")
	require.Equal(t, exitOK, code, stderr)
	return p
}

// enrol enrols STB0…STB<n-1>, terminal i with SIM +861470000000i.
func (p *platformWorld) enrol(t *testing.T, n int) {
	t.Helper()
	var csv strings.Builder
	for i := range n {
		fmt.Fprintf(&csv, "STB%d,1,1470000000%d\n", i, i)
	}
	terminals := filepath.Join(p.dir, "t.csv")
	require.NoError(t, os.WriteFile(terminals, []byte(csv.String()), 0o644))
	code, _, stderr := cli(t, "--config", p.config, "enrol", terminals)
	require.Equal(t, exitOK, code, stderr)
}

// sendMO is the gateway's get-url for "BIND STB<i>" from phone i; it
// reports whether the platform acknowledged it.
func sendMO(addr string, i int) bool {
	q := url.Values{"key": {"cb-key"}, "from": {fmt.Sprintf("+861380013800%d", i)}, "to": {"10658000"},
		"text": {fmt.Sprintf("BIND STB%d", i)}, "id": {fmt.Sprintf("mo-%d", i)}}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + addr + "/v1/sms/mo?" + q.Encode())
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// checkOneConfirmationEach: every terminal is bound and has exactly one
// confirmation, whose text reached the SMS centre once.
func (p *platformWorld) checkOneConfirmationEach(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		to := fmt.Sprintf("+861470000000%d", i)
		require.Eventually(t, func() bool { return strings.Contains(p.kannel.got(to), "BP1 t=STB") }, 60*time.Second, 50*time.Millisecond,
			"the confirmation of terminal STB%d reaches the SMS centre", i)
	}
	s, err := store.Open(context.Background(), p.store, false)
	require.NoError(t, err)
	defer s.Close()
	for i := range n {
		tid := fmt.Sprintf("STB%d", i)
		tm, err := s.Terminal(context.Background(), tid)
		require.NoError(t, err)
		assert.Equal(t, store.TerminalBound, tm.State, tid)
		msgs, err := s.Messages(context.Background(), tid)
		require.NoError(t, err)
		confirmations := 0
		for _, m := range msgs {
			if m.Kind == store.KindConfirmation {
				confirmations++
			}
		}
		assert.Equal(t, 1, confirmations, "%s: one confirmation however often the MO came", tid)
		got := p.kannel.got(fmt.Sprintf("+861470000000%d", i))
		assert.Equal(t, 1, strings.Count(got, "BP1 t="+tid+" "), "%s: the SMS centre got its confirmation once: %q", tid, got)
	}
}

// TestKill9LosesNothing: serve is killed with SIGKILL while MOs arrive and
// while its confirmations cannot be sent; after a restart every
// acknowledged MO has its binding and its confirmation reaches the SMS
// centre, once per terminal. On SQLite, and on PostgreSQL.
func TestKill9LosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Run("sqlite", func(t *testing.T) { testKill9(t, "") })
	t.Run("postgres", func(t *testing.T) { testKill9(t, storetest.PostgresURL(t)) })
}

func testKill9(t *testing.T, storeURL string) {
	w := newPlatformWorld(t, storeURL)
	const n = 8
	w.enrol(t, n)

	p := startServe(t, w.bin, w.config)
	acked := map[int]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	killAfter := 2 + rand.IntN(n-2) // kill while MOs are still arriving
	for i := range n {
		if i == killAfter {
			require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if sendMO(p.addr, i) {
				mu.Lock()
				acked[i] = true
				mu.Unlock()
			}
		}()
		if i < killAfter {
			wg.Wait() // the first ones one by one: surely acknowledged before the kill
		}
	}
	wg.Wait()
	<-p.done
	for i := range killAfter {
		require.True(t, acked[i], "MO %d was sent before the kill", i)
	}

	w.kannel.setDown(false)
	p = startServe(t, w.bin, w.config)
	for i := range n { // the gateway retries what was not acknowledged; duplicates of the rest change nothing
		if !acked[i] {
			require.True(t, sendMO(p.addr, i), "MO %d after the restart", i)
		}
	}
	require.True(t, sendMO(p.addr, 0), "a duplicate is acknowledged")
	w.checkOneConfirmationEach(t, n)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, <-p.done, "a graceful stop exits 0")
}

// TestTwoNodesOnePostgres: two serve processes share one PostgreSQL; MOs
// (and their duplicates) arrive at both; every terminal is bound once and
// its confirmation sent once.
func TestTwoNodesOnePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	w := newPlatformWorld(t, storetest.PostgresURL(t))
	const n = 8
	w.enrol(t, n)
	a, b := startServe(t, w.bin, w.config), startServe(t, w.bin, w.config)
	var wg sync.WaitGroup
	for i := range n {
		for _, p := range []*serveProc{a, b} { // the gateway delivers each MO to both nodes at once
			wg.Add(1)
			go func() {
				defer wg.Done()
				assert.True(t, sendMO(p.addr, i), "MO %d", i)
			}()
		}
	}
	wg.Wait()
	w.kannel.setDown(false)
	w.checkOneConfirmationEach(t, n)
	for _, p := range []*serveProc{a, b} {
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
		require.NoError(t, <-p.done)
	}
}

// TestServeNotifiesSystemd: READY=1 once listening, WATCHDOG=1 while the
// store answers, STOPPING=1 at SIGTERM (Type=notify, WatchdogSec).
func TestServeNotifiesSystemd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	w := newPlatformWorld(t, "")
	sock := filepath.Join(w.dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	msgs := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	want := func(s string) {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case m, ok := <-msgs:
				require.True(t, ok, "notify socket closed before %q", s)
				if strings.Contains(m, s) {
					return
				}
			case <-timeout:
				t.Fatalf("no %q from serve within 30 s", s)
			}
		}
	}
	p := startServe(t, w.bin, w.config, "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=400000")
	want("READY=1")
	want("WATCHDOG=1")
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	want("STOPPING=1")
	require.NoError(t, <-p.done)
}

// TestServeDrainsOnSIGTERM: an MO still waiting for the OSS when SIGTERM
// comes is answered (and committed) before serve exits 0.
func TestServeDrainsOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	w := newPlatformWorld(t, "")
	w.enrol(t, 1)
	inOSS, release := make(chan struct{}, 1), make(chan struct{})
	oss := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		inOSS <- struct{}{}
		<-release
		_, _ = io.WriteString(rw, `{"allow":true}`)
	}))
	t.Cleanup(oss.Close)
	f, err := os.OpenFile(w.config, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = fmt.Fprintf(f, "\n[oss]\nurl = %q\ntimeout = \"30s\"\n", oss.URL)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	p := startServe(t, w.bin, w.config)
	acked := make(chan bool, 1)
	go func() { acked <- sendMO(p.addr, 0) }()
	<-inOSS // the MO's request is in flight, waiting for the OSS
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select { // serve is draining while the request waits for the OSS
	case <-p.stopping:
	case err := <-p.done:
		t.Fatalf("serve exited at SIGTERM before draining: %v", err)
	}
	close(release)
	require.True(t, <-acked, "the request in flight is answered")
	require.NoError(t, <-p.done, "then serve exits 0")

	s, err := store.Open(context.Background(), w.store, false)
	require.NoError(t, err)
	defer s.Close()
	tm, err := s.Terminal(context.Background(), "STB0")
	require.NoError(t, err)
	assert.Equal(t, store.TerminalBound, tm.State)
}
