package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/server/store"
)

// Debian's kannel and kannel-extras.
const (
	bearerbox = "/usr/sbin/bearerbox"
	smsbox    = "/usr/sbin/smsbox"
	fakesmsc  = "/usr/lib/kannel/test/fakesmsc"
)

// freePort returns a loopback port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// syncBuffer is a bytes.Buffer safe for a process's output and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// startProc starts a helper process that the test ends.
func startProc(t *testing.T, out *syncBuffer, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
}

// TestWithRealKannel: the http link and the MO callback against Kannel
// 1.4.5 itself (bearerbox + smsbox, and fakesmsc as the SMS centre): an MO
// from the phone reaches /v1/sms/mo through smsbox's get-url, the platform
// binds, and the confirmation (two UCS2 parts with their concatenation
// header) and the reply reach the SMS centre through sendsms.
func TestWithRealKannel(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Kannel")
	}
	for _, b := range []string{bearerbox, smsbox, fakesmsc} {
		if _, err := os.Stat(b); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not installed (Debian: kannel, kannel-extras): .ci/run installs them", b)
			}
			t.Skipf("%s not installed (Debian: kannel, kannel-extras): the link is tested against a fake Kannel only", b)
		}
	}
	w := newPlatformWorld(t, "")
	w.enrol(t, 1)
	sendsms := freePort(t)
	b, err := os.ReadFile(w.config)
	require.NoError(t, err)
	cfg := strings.Replace(string(b), w.kannelURL(), fmt.Sprintf("http://127.0.0.1:%d/cgi-bin/sendsms", sendsms), 1)
	cfg = strings.Replace(cfg, "[link]\n", "[link]\nusername = \"bindpay\"\npassword = \"s3cret\"\n", 1)
	require.NoError(t, os.WriteFile(w.config, []byte(cfg), 0o644))
	p := startServe(t, w.bin, w.config)

	admin, box, smsc := freePort(t), freePort(t), freePort(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "kannel.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`
group = core
admin-port = %d
admin-password = x
smsbox-port = %d
box-allow-ip = 127.0.0.1
log-level = 1
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = fake
port = %d
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
sendsms-port = %d
log-level = 1

group = sendsms-user
username = bindpay
password = s3cret
max-messages = 10
concatenation = true

group = sms-service
keyword = default
catch-all = true
get-url = "http://%s/v1/sms/mo?key=cb-key&from=%%p&to=%%P&text=%%a&id=%%I"
max-messages = 0
`, admin, box, smsc, sendsms, p.addr)), 0o644))
	var bbOut, sbOut, fsOut syncBuffer
	startProc(t, &bbOut, bearerbox, conf)
	require.Eventually(t, func() bool { return dials(box) }, 30*time.Second, 50*time.Millisecond, "bearerbox up: %s", &bbOut)
	startProc(t, &sbOut, smsbox, conf)
	require.Eventually(t, func() bool { return dials(sendsms) }, 30*time.Second, 50*time.Millisecond, "smsbox up: %s", &sbOut)
	startProc(t, &fsOut, fakesmsc, "-H", "127.0.0.1", "-r", fmt.Sprint(smsc), "-i", "0.1", "-m", "1", "+8613800138000 10658000 text bind stb0")

	require.Eventually(t, func() bool { return strings.Count(fsOut.String(), "Got message") >= 3 }, 60*time.Second, 50*time.Millisecond,
		"the SMS centre gets the confirmation's two parts and the reply: %s", &fsOut)
	out := fsOut.String()
	assert.Contains(t, out, "10658000 +8614700000000 udh %05%00%03", "the confirmation to the terminal's SIM, concatenated")
	assert.Contains(t, out, "10658000 +8613800138000 ucs-2 ", "the reply to the phone, UCS2")

	s, err := store.Open(context.Background(), w.store, false)
	require.NoError(t, err)
	defer s.Close()
	tm, err := s.Terminal(context.Background(), "STB0")
	require.NoError(t, err)
	assert.Equal(t, store.TerminalBound, tm.State)
	assert.Equal(t, "+8613800138000", tm.MSISDN)
}

func dials(port int) bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
