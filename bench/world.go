package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"bindpay/internal/confirm"
	"bindpay/internal/modemsim"
	"bindpay/internal/netsim"
)

// The simulated terminal, network and user of the benchmark.
const (
	terminalID    = "STB0012345678"
	serviceNumber = netsim.DefaultServiceNumber
	userPhone     = "13800138000"
	masterKey     = "example master key" // DESIGN.md's public test vector
	baud          = 115200
)

// recorder keeps the traffic modemsim's observer reports.
type recorder struct {
	mu   sync.Mutex
	ts   []traffic
	last time.Time
}

func (r *recorder) observe(rx bool, start, end time.Time, b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ts = append(r.ts, traffic{rx: rx, start: start, end: end, data: string(b)})
	r.last = end
}

// since returns the traffic recorded from index i on, and the next index.
func (r *recorder) since(i int) ([]traffic, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]traffic(nil), r.ts[i:]...), len(r.ts)
}

func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ts)
}

// waitQuiet waits until nothing has crossed the line for d.
func (r *recorder) waitQuiet(d, limit time.Duration) error {
	return waitQuiet(&r.mu, &r.last, d, limit)
}

// waitQuiet waits until *last, read under mu, is at least d ago, for at
// most limit: the modem line has gone quiet.
func waitQuiet(mu *sync.Mutex, last *time.Time, d, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		mu.Lock()
		l := *last
		mu.Unlock()
		if time.Since(l) >= d {
			return nil
		}
		time.Sleep(d / 4)
	}
	return fmt.Errorf("the modem line did not go quiet for %v within %v", d, limit)
}

// world is one terminal's simulated modem at 115200 baud and the operator's
// network around it, with the platform on a loopback HTTP server.
type world struct {
	sim *modemsim.Modem
	rec *recorder
	net *netsim.Network
	srv *http.Server
	url string
}

func newWorld() (*world, error) {
	rec := &recorder{}
	return newWorldWith(rec, modemsim.WithBaud(baud), modemsim.WithObserver(rec.observe))
}

// newWorldWith is the world around a modem configured by opts; rec is kept
// in the world for the caller.
func newWorldWith(rec *recorder, opts ...modemsim.Option) (*world, error) {
	sim, err := modemsim.New(append([]modemsim.Option{modemsim.WithIMEI("861234567890123")}, opts...)...)
	if err != nil {
		return nil, err
	}
	n := netsim.New(netsim.Config{MasterKey: []byte(masterKey), RequireSignedRequests: true})
	n.AddTerminal(terminalID, sim)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		n.Close()
		sim.Close()
		return nil, err
	}
	srv := &http.Server{Handler: n.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &world{sim: sim, rec: rec, net: n, srv: srv, url: "http://" + ln.Addr().String()}, nil
}

func (w *world) close() {
	_ = w.srv.Close()
	w.net.Close()
	_ = w.sim.Close()
}

// writeKey writes the terminal's key file (mode 0600, as the agent wants).
func writeKey(dir string) (string, error) {
	path := filepath.Join(dir, "terminal.key")
	key := confirm.DeriveKey([]byte(masterKey), terminalID)
	return path, os.WriteFile(path, []byte(fmt.Sprintf("%x\n", key)), 0o600)
}

// agentProc is one bindpay-agent waiting at the prompt.
type agentProc struct {
	cmd    *exec.Cmd
	state  string
	stderr string // its log file
	done   chan struct{}
	err    error
}

// startAgent starts the agent against w with a fresh state directory under
// dir, and waits for READY=1 (the prompt is up, sent on $NOTIFY_SOCKET as
// systemd would get it) and for the modem line to go quiet.
func startAgent(agent, dir, name string, w *world, keyFile string, extra ...string) (*agentProc, error) {
	state := filepath.Join(dir, name+"-state")
	if err := os.Mkdir(state, 0o755); err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, name+"-notify.sock")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	logPath := filepath.Join(dir, name+"-agent.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(agent,
		"--config", os.DevNull,
		"--terminal-id", terminalID,
		"--state-dir", state,
		"--modem", w.sim.Path(),
		"--platform-url", w.url,
		"--sms-sender", serviceNumber,
		"--key-file", keyFile,
		"--lang", "en",
		"--log-format", "json")
	cmd.Args = append(append(cmd.Args, extra...), "run")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock)
	cmd.Stderr = logFile // stdout (the console prompt) goes to /dev/null
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	a := &agentProc{cmd: cmd, state: state, stderr: logPath, done: make(chan struct{})}
	go func() {
		a.err = cmd.Wait()
		close(a.done)
	}()
	ready := make(chan error, 1)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := nc.Read(buf)
			if err != nil {
				ready <- err
				return
			}
			for _, l := range strings.Split(string(buf[:n]), "\n") {
				if l == "READY=1" {
					ready <- nil
					return
				}
			}
		}
	}()
	_ = nc.SetReadDeadline(time.Now().Add(60 * time.Second))
	select {
	case err := <-ready:
		if err != nil {
			a.kill()
			return nil, fmt.Errorf("agent %s: no READY=1: %w (log %s)", name, err, logPath)
		}
	case <-a.done:
		return nil, fmt.Errorf("agent %s exited before the prompt: %v (log %s)", name, a.err, logPath)
	}
	if err := w.rec.waitQuiet(300*time.Millisecond, 30*time.Second); err != nil {
		a.kill()
		return nil, err
	}
	return a, nil
}

func (a *agentProc) pid() int { return a.cmd.Process.Pid }

func (a *agentProc) kill() {
	select {
	case <-a.done:
	default:
		_ = a.cmd.Process.Signal(syscall.SIGKILL)
		<-a.done
	}
}

// wait waits for the agent to exit 0. (Its rusage is no use for peak RSS:
// Linux carries the parent's high-water mark into a child's ru_maxrss
// across fork and exec, and the benchmark is the larger process.)
func (a *agentProc) wait(limit time.Duration) error {
	select {
	case <-a.done:
	case <-time.After(limit):
		a.kill()
		return fmt.Errorf("agent still running after %v (log %s)", limit, a.stderr)
	}
	if a.err != nil {
		return fmt.Errorf("agent: %w (log %s)", a.err, a.stderr)
	}
	return nil
}

// watchHWM samples the agent's VmHWM every millisecond until it exits and
// returns the last value read: the peak, short of what its last
// millisecond may add.
func (a *agentProc) watchHWM() <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var hwm int64
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", a.pid())); err == nil {
				if v := parseStatus(string(b))["VmHWM"]; v > 0 {
					hwm = v
				}
			}
			select {
			case <-a.done:
				out <- hwm
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// logTime returns the time of the agent's first JSON log line with msg.
func (a *agentProc) logTime(msg string) (time.Time, error) {
	f, err := os.Open(a.stderr)
	if err != nil {
		return time.Time{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l struct {
			Time time.Time `json:"time"`
			Msg  string    `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == msg {
			return l.Time, nil
		}
	}
	return time.Time{}, fmt.Errorf("no log line %q in %s", msg, a.stderr)
}

// sendConfirmation is the user texting BIND <tid>: the network activates
// and delivers the two-part confirmation into the modem at once.
func (w *world) sendConfirmation() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.net.PhoneSend(ctx, userPhone, serviceNumber, "BIND "+terminalID); err != nil {
		return fmt.Errorf("phone: %w", err)
	}
	return nil
}

var errNoCMTI = errors.New("no +CMTI written")
