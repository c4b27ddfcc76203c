package e2e

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeSystemd is the notification socket of a service manager: it keeps
// every notification the agent sends with sd_notify.
type fakeSystemd struct {
	path string
	buf  *watchedBuffer // one notification per line
	used int            // notifications claimed by await (test goroutine only)
}

func newFakeSystemd(t *testing.T) *fakeSystemd {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	require.NoError(t, err)
	s := &fakeSystemd{path: path, buf: newWatchedBuffer()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := make([]byte, 4096)
		for {
			n, err := conn.Read(b)
			if err != nil {
				return
			}
			s.buf.Write([]byte(strings.TrimSpace(string(b[:n])) + "\n"))
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return s
}

// await waits for a notification starting with prefix after the one the
// previous await returned; it returns it.
func (s *fakeSystemd) await(t *testing.T, prefix string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for {
		text, changed := s.buf.snapshot()
		lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
		for i := s.used; i < len(lines) && text != ""; i++ {
			if strings.HasPrefix(lines[i], prefix) {
				s.used = i + 1
				return lines[i]
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("no %q notification after #%d within %v; got %q", prefix, s.used, waitLimit, lines)
			return ""
		}
	}
}

// TestSystemdNotify: under systemd (Type=notify) the agent says READY=1 once
// the prompt is up, a STATUS= per state, and feeds the watchdog while its
// modem loop answers.
func TestSystemdNotify(t *testing.T) {
	w := newWorld(t)
	sd := newFakeSystemd(t)
	a := startEnv(t, []string{"NOTIFY_SOCKET=" + sd.path, "WATCHDOG_USEC=400000"}, w.args()...)
	a.waitOutput(a.stdout, "BIND "+tid)
	sd.await(t, "READY=1") // once the prompt is up
	assert.Contains(t, sd.await(t, "STATUS="), "not activated", "status while waiting")
	sd.await(t, "WATCHDOG=1")
	sd.await(t, "WATCHDOG=1") // it keeps feeding it while the modem loop answers

	require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+tid))
	require.Equal(t, exitBound, a.wait())
	assert.Contains(t, sd.await(t, "STATUS=activated"), "138****8000")

	// The bound path says it is ready too, and exits.
	sd2 := newFakeSystemd(t)
	_, code := runAgentEnv(t, []string{"NOTIFY_SOCKET=" + sd2.path}, w.args()...)
	require.Equal(t, exitBound, code)
	sd2.await(t, "READY=1")
	assert.Contains(t, sd2.await(t, "STATUS=bound"), "138****8000")
}

func runAgentEnv(t *testing.T, env []string, args ...string) (*agent, int) {
	t.Helper()
	a := startEnv(t, env, args...)
	return a, a.wait()
}
