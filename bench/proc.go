package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// What the benchmark reads from /proc about a process.

// procSample is a process's counters at one moment.
type procSample struct {
	ticks int64 // utime+stime of the whole process, in clock ticks (USER_HZ)
	// vcsw and ivcsw are the voluntary and involuntary context switches
	// summed over the process's live threads: /proc/PID/status counts only
	// the thread it names, and a Go program sleeps in several threads.
	vcsw, ivcsw int64
	threads     int
	hwmKB       int64 // VmHWM: peak resident set
	rssKB       int64 // VmRSS
	anonKB      int64 // RssAnon
	fileKB      int64 // RssFile
}

// parseStatTicks returns utime+stime from the text of /proc/PID/stat. The
// command name is in parentheses and may hold spaces and parentheses, so
// the fields are counted from the last ')'.
func parseStatTicks(stat string) (int64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat: no command name in %q", stat)
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("stat: only %d fields after the name", len(f))
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("stat: bad utime/stime %q %q", f[11], f[12])
	}
	return u + s, nil
}

// parseStatPPID returns the parent's PID from the text of /proc/PID/stat.
func parseStatPPID(stat string) (int, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat: no command name in %q", stat)
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 2 {
		return 0, fmt.Errorf("stat: too short")
	}
	return strconv.Atoi(f[1])
}

// parseStatus returns the named fields of a /proc/PID/status text as
// numbers (the "kB" unit dropped).
func parseStatus(status string) map[string]int64 {
	out := map[string]int64{}
	sc := bufio.NewScanner(strings.NewReader(status))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		if n, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
			out[k] = n
		}
	}
	return out
}

// sample reads a process's counters.
func sample(pid int) (procSample, error) {
	var s procSample
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	if s.ticks, err = parseStatTicks(string(b)); err != nil {
		return s, err
	}
	b, err = os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	st := parseStatus(string(b))
	s.hwmKB, s.rssKB, s.anonKB, s.fileKB = st["VmHWM"], st["VmRSS"], st["RssAnon"], st["RssFile"]
	s.threads = int(st["Threads"])
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // the thread ended meanwhile
		}
		ts := parseStatus(string(b))
		s.vcsw += ts["voluntary_ctxt_switches"]
		s.ivcsw += ts["nonvoluntary_ctxt_switches"]
	}
	return s, nil
}

// descendants returns pid and every live process below it.
func descendants(pid int) []int {
	parent := map[int]int{}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		p, err := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		if err != nil {
			continue
		}
		if pp, err := parseStatPPID(string(b)); err == nil {
			parent[p] = pp
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		for p, pp := range parent {
			if pp == out[i] {
				out = append(out, p)
			}
		}
	}
	return out
}

// machine describes the computer the figures were taken on.
type machine struct {
	cpu    string
	cores  int
	kernel string
}

func readMachine() machine {
	m := machine{cpu: "unknown CPU", kernel: "unknown kernel"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(l, ":")
			if !ok {
				continue
			}
			switch strings.TrimSpace(k) {
			case "model name":
				if m.cpu == "unknown CPU" {
					m.cpu = strings.TrimSpace(v)
				}
			case "processor":
				m.cores++
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return m
}
