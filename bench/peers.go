package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"bindpay/internal/modemsim"
	"bindpay/internal/netsim"
)

// The peers: smstools3's smsd and gammu-smsd (files backend), each on its
// own simulated modem at 115200 baud, with minimal configuration files in a
// temporary directory and every polling setting at its default. They run
// in the foreground as the benchmark's children and are stopped at the
// end.

// peerTrials is how many messages each peer receives, timed.
const peerTrials = 6

// peer is one SMS daemon under test.
type peer struct {
	name string
	// poll is its documented default interval between two looks at the
	// modem's storage (smsd: delaytime = 10 s; gammu-smsd: ReceiveFrequency
	// = 15 s); the trials spread their deliveries over it.
	poll  time.Duration
	dir   string
	inbox string
	sim   *modemsim.Modem
	rec   *recorder
	cmd   *exec.Cmd
	done  chan struct{}
	err   error
	log   string
	ready func(cmds []string) bool // its first look at the storage is done
}

// smsdConfig is smsd's configuration: spool directories, one modem that
// receives, nothing else (delaytime and check_memory_method at their
// defaults, 10 s and CPMS).
func smsdConfig(dir, device string) string {
	return fmt.Sprintf(`# make bench: smsd with its defaults; only paths and the modem are set.
devices = GSM1
outgoing = %[1]s/outgoing
checked = %[1]s/checked
failed = %[1]s/failed
incoming = %[1]s/incoming
sent = %[1]s/sent
logfile = %[1]s/smsd.log
loglevel = 5

[GSM1]
device = %[2]s
baudrate = %[3]d
incoming = yes
`, dir, device, baud)
}

// gammuConfig is gammu-smsd's configuration: the modem and the files
// backend's directories; ReceiveFrequency, LoopSleep, CommTimeout and
// StatusFrequency at their defaults (15 s, 1 s, 30 s, 60 s).
func gammuConfig(dir, device string) string {
	return fmt.Sprintf(`# make bench: gammu-smsd with its defaults; only paths and the modem are set.
[gammu]
device = %[2]s
connection = at%[3]d

[smsd]
service = files
inboxpath = %[1]s/inbox/
outboxpath = %[1]s/outbox/
sentsmspath = %[1]s/sent/
errorsmspath = %[1]s/error/
logfile = %[1]s/gammu-smsd.log
`, dir, device, baud)
}

// startPeer sets up and starts one daemon.
func startPeer(name, dir string) (*peer, error) {
	p := &peer{name: name, dir: filepath.Join(dir, name), rec: &recorder{}, done: make(chan struct{})}
	sim, err := modemsim.New(modemsim.WithIMEI("861234567890124"), modemsim.WithBaud(baud), modemsim.WithObserver(p.rec.observe))
	if err != nil {
		return nil, err
	}
	p.sim = sim
	var conf string
	var args []string
	var dirs []string
	switch name {
	case "smsd":
		p.poll = 10 * time.Second
		dirs = []string{"outgoing", "checked", "failed", "incoming", "sent"}
		p.inbox = filepath.Join(p.dir, "incoming")
		conf = smsdConfig(p.dir, sim.Path())
		// -t: stay in the foreground (run in terminal); pid and info
		// files in the temporary directory instead of /var/run.
		args = []string{"-t", "-c" + filepath.Join(p.dir, "smsd.conf"),
			"-p" + filepath.Join(p.dir, "smsd.pid"), "-i" + filepath.Join(p.dir, "smsd.working")}
		p.ready = func(cmds []string) bool {
			return slices.ContainsFunc(cmds, func(c string) bool { return strings.Contains(c, "+CPMS?") })
		}
	case "gammu-smsd":
		p.poll = 15 * time.Second
		dirs = []string{"inbox", "outbox", "sent", "error"}
		p.inbox = filepath.Join(p.dir, "inbox")
		conf = gammuConfig(p.dir, sim.Path())
		// In the foreground unless -d; pid file in the temporary directory.
		args = []string{"-c", filepath.Join(p.dir, "gammu-smsdrc"), "-p", filepath.Join(p.dir, "gammu-smsd.pid")}
		// It looks at the storage with AT+CPMS="SM","SM", whose answer
		// carries the count of stored messages, and lists only when the
		// count is not 0.
		p.ready = func(cmds []string) bool {
			return slices.ContainsFunc(cmds, func(c string) bool { return strings.Contains(c, `+CPMS="SM"`) })
		}
	default:
		return nil, fmt.Errorf("unknown peer %q", name)
	}
	for _, d := range append([]string{""}, dirs...) {
		if err := os.MkdirAll(filepath.Join(p.dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	confName := map[string]string{"smsd": "smsd.conf", "gammu-smsd": "gammu-smsdrc"}[name]
	if err := os.WriteFile(filepath.Join(p.dir, confName), []byte(conf), 0o644); err != nil {
		return nil, err
	}
	bin, err := exec.LookPath(name)
	if err != nil {
		for _, d := range []string{"/usr/sbin", "/usr/bin", "/sbin"} {
			if _, serr := os.Stat(filepath.Join(d, name)); serr == nil {
				bin, err = filepath.Join(d, name), nil
				break
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s not installed (make bench installs it with apt-get): %w", name, err)
		}
	}
	p.log = filepath.Join(p.dir, name+".out")
	out, err := os.Create(p.log)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = p.dir
	p.cmd.Stdout, p.cmd.Stderr = out, out
	// Its own process group, so that stopping it reaches its children.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// waitReady waits until the daemon has looked at the modem's storage once
// and the line has been quiet for a second.
func (p *peer) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for !p.ready(p.sim.Commands()) {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited during start-up: %v (see %s)", p.name, p.err, p.log)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not read the modem's storage within %v (commands: %q; see %s)", p.name, limit, p.sim.Commands(), p.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return p.rec.waitQuiet(time.Second, 30*time.Second)
}

// pids returns the daemon's processes (smsd forks one per modem).
func (p *peer) pids() []int { return descendants(p.cmd.Process.Pid) }

// sampleAll sums the counters of the daemon's processes; hwm lists each
// process's VmHWM.
func (p *peer) sampleAll() (sum procSample, hwm []int64) {
	for _, pid := range p.pids() {
		s, err := sample(pid)
		if err != nil {
			continue
		}
		sum.ticks += s.ticks
		sum.vcsw += s.vcsw
		sum.ivcsw += s.ivcsw
		hwm = append(hwm, s.hwmKB)
	}
	return sum, hwm
}

// stop ends the daemon and its children (SIGTERM, then SIGKILL).
func (p *peer) stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		pg := -p.cmd.Process.Pid
		_ = syscall.Kill(pg, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(pg, syscall.SIGKILL)
			<-p.done
		}
	}
	if p.sim != nil {
		_ = p.sim.Close()
	}
}

// trial is one timed delivery to a peer.
type trial struct {
	latency time.Duration // delivery into storage → message file complete
	files   []string
}

// receive delivers the two-part confirmation into the peer's modem storage
// and waits until the daemon has handed it over: the moment its last part
// is in the incoming directory (smsd combines the parts into one file,
// keeping the first part meanwhile in GSM1-concatenated, which does not
// count; gammu-smsd's files backend writes one file per part). Delivery is timed
// from the call that stores the message; modemsim writes +CMTI at once when
// the daemon enabled indications, which neither uses to read the message.
func (p *peer) receive(w *watcher, parts []string, limit time.Duration) (trial, error) {
	want := map[string]int{"smsd": 1, "gammu-smsd": len(parts)}[p.name]
	for len(w.events) > 0 {
		<-w.events // the last message's stragglers
	}
	t0 := time.Now()
	if _, err := p.sim.Deliver(parts...); err != nil {
		return trial{}, fmt.Errorf("%s: deliver: %w", p.name, err)
	}
	var tr trial
	timeout := time.After(limit)
	for len(tr.files) < want {
		select {
		case ev, ok := <-w.events:
			if !ok {
				return trial{}, fmt.Errorf("%s: inotify watch ended", p.name)
			}
			if strings.HasPrefix(ev.name, ".") || strings.HasSuffix(ev.name, ".LOCK") || strings.HasSuffix(ev.name, "-concatenated") {
				// A daemon's own temporary or lock file, or smsd's store
				// of the parts it has not combined yet.
				continue
			}
			tr.files = append(tr.files, ev.name)
			tr.latency = ev.at.Sub(t0)
		case <-p.done:
			return trial{}, fmt.Errorf("%s exited: %v (see %s)", p.name, p.err, p.log)
		case <-timeout:
			return trial{}, fmt.Errorf("%s: message not in %s after %v (files so far %q; see %s)", p.name, p.inbox, limit, tr.files, p.log)
		}
	}
	return tr, nil
}

// confirmationPDUs is the network's two-part UCS2 confirmation, the same
// message the agent receives.
func confirmationPDUs(ref byte) ([]string, error) {
	n := netsim.New(netsim.Config{MasterKey: []byte(masterKey)})
	defer n.Close()
	text := n.ConfirmationText(terminalID, "138****8000", "q8x3k2ab")
	return modemsim.EncodeDeliver(serviceNumber, text, time.Now(), ref)
}

// trials times peerTrials deliveries. After each hand-over it waits
// (i+0.5)/peerTrials of the poll interval before the next delivery, so that
// the deliveries fall evenly over the daemon's polling cycle (stratified
// sampling of a uniformly random arrival time): the median then estimates
// what a message arriving at any moment waits.
func (p *peer) trials() ([]trial, error) {
	w, err := watch(p.inbox)
	if err != nil {
		return nil, err
	}
	defer w.close()
	var out []trial
	for i := range peerTrials {
		time.Sleep(time.Duration((float64(i) + 0.5) / peerTrials * float64(p.poll)))
		parts, err := confirmationPDUs(byte(40 + i))
		if err != nil {
			return nil, err
		}
		tr, err := p.receive(w, parts, 4*p.poll+30*time.Second)
		if err != nil {
			return nil, err
		}
		logf("%s: message %d handed over after %v (%s)", p.name, i+1, tr.latency.Round(time.Millisecond), strings.Join(tr.files, ", "))
		out = append(out, tr)
	}
	return out, nil
}
