package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// activationRuns is how many activations are timed.
const activationRuns = 7

// wireFactor: from the +CMTI to the durable record may take at most 1.5
// times the serial wire time of what is exchanged meanwhile, plus fsync.
const wireFactor = 1.5

// durableMsg is the agent's log line once Save returned: record file
// synced, renamed, directory synced.
const durableMsg = "binding record written and synced"

// fsyncCost measures, in dir (the state directories' file system), what the
// durable write costs beyond the write itself: the fsync of a ~300-byte file
// plus the fsync of its directory after the rename, as flagstore.WriteFile
// does them. The median of 50 is the allowance.
func fsyncCost(dir string) (time.Duration, error) {
	d := filepath.Join(dir, "fsync")
	if err := os.Mkdir(d, 0o755); err != nil {
		return 0, err
	}
	data := []byte(strings.Repeat("x", 300))
	var costs []time.Duration
	for i := range 50 {
		tmp := filepath.Join(d, fmt.Sprintf("binding.json.tmp%d", i))
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return 0, err
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return 0, err
		}
		t0 := time.Now()
		if err := f.Sync(); err != nil {
			f.Close()
			return 0, err
		}
		c := time.Since(t0)
		if err := f.Close(); err != nil {
			return 0, err
		}
		if err := os.Rename(tmp, filepath.Join(d, "binding.json")); err != nil {
			return 0, err
		}
		df, err := os.Open(d)
		if err != nil {
			return 0, err
		}
		t1 := time.Now()
		err = df.Sync()
		c += time.Since(t1)
		df.Close()
		if err != nil {
			return 0, err
		}
		costs = append(costs, c)
	}
	return median(costs), nil
}

// activationRun is one timed activation.
type activationRun struct {
	latency time.Duration // +CMTI write began → record durable
	ex      exchange
}

// activate starts an agent at the prompt, has the user text BIND, and times
// the confirmation from the moment the simulated modem began writing its
// +CMTI to the moment the agent logged that the record was durable (the
// log line's own timestamp, taken right after Save returned, i.e. after the
// fsync of the file and of its directory; both clocks are the same machine's
// wall clock).
func activate(agent, dir string, i int, keyFile string) (activationRun, error) {
	w, err := newWorld()
	if err != nil {
		return activationRun{}, err
	}
	defer w.close()
	a, err := startAgent(agent, dir, fmt.Sprintf("activation%d", i), w, keyFile)
	if err != nil {
		return activationRun{}, err
	}
	defer a.kill()
	mark := w.rec.mark()
	if err := w.sendConfirmation(); err != nil {
		return activationRun{}, err
	}
	if err := a.wait(30 * time.Second); err != nil {
		return activationRun{}, err
	}
	durable, err := a.logTime(durableMsg)
	if err != nil {
		return activationRun{}, err
	}
	ts, _ := w.rec.since(mark)
	ex, ok := window(ts, durable)
	if !ok {
		return activationRun{}, fmt.Errorf("activation %d: %w before the record was durable", i, errNoCMTI)
	}
	if ex.reads != 2 {
		return activationRun{}, fmt.Errorf("activation %d: %d AT+CMGR in the window, want 2 (one per part)", i, ex.reads)
	}
	return activationRun{latency: durable.Sub(ex.start), ex: ex}, nil
}

// activations runs the timed activations and judges their median.
func activations(agent, dir, keyFile string) (r row, runs []activationRun, fsync time.Duration, detail string, err error) {
	fsync, err = fsyncCost(dir)
	if err != nil {
		return row{}, nil, 0, "", fmt.Errorf("fsync: %w", err)
	}
	var lat, wire []time.Duration
	for i := range activationRuns {
		run, err := activate(agent, dir, i, keyFile)
		if err != nil {
			return row{}, nil, 0, "", err
		}
		runs = append(runs, run)
		lat = append(lat, run.latency)
		wire = append(wire, wireTime(run.ex.total(), baud))
	}
	L, W := median(lat), median(wire)
	limit := time.Duration(wireFactor*float64(W)) + fsync
	ratio, v := atMost(float64(L), float64(limit))
	r = row{
		name:   fmt.Sprintf("new SMS → durable record: +CMTI write to fsync done, median of %d", activationRuns),
		figure: fmt.Sprintf("%s = %.2f× wire", ms(L), float64(L)/float64(W)),
		limit:  fmt.Sprintf("≤ %.1f × wire %s + fsync %s = %s", wireFactor, ms(W), ms(fsync), ms(limit)),
		ratio:  ratio, v: v,
	}
	ex := runs[len(runs)/2].ex
	var per []string
	for _, run := range runs {
		per = append(per, ms(run.latency))
	}
	detail = fmt.Sprintf("new SMS → durable record at %d baud (10 bits a byte): a typical window carries %d bytes = %s of wire time: "+
		"+CMTI lines %d B, AT+CMGR commands %d B (%d), their answers %d B, other %d B; "+
		"the two AT+CMGD and their answers come after the record is durable and are not counted. "+
		"modemsim paces only what it writes; the host's %d command bytes reach it at once, so the figure lacks the %s a real UART would take to carry them, which the wire time includes. "+
		"Latencies: %s; fsync allowance (file + directory, median of 50 on the state directory's file system): %s",
		baud, ex.total(), ms(wireTime(ex.total(), baud)), ex.cmti, ex.cmgrCmd, ex.reads, ex.cmgrReply, ex.other,
		ex.cmgrCmd, ms(wireTime(ex.cmgrCmd, baud)), strings.Join(per, ", "), ms(fsync))
	return r, runs, fsync, detail, nil
}
