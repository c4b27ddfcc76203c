package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/afero"

	"bindpay/internal/flagstore"
)

// fastPathRuns is how many times each program runs, interleaved.
const fastPathRuns = 300

// fastPathLimit: the bound path may take at most twice as long as a Go
// program that only exits.
const fastPathLimit = 2.0

// fastPath times `bindpay-agent run` on a bound terminal against the
// exit-only program, alternately, fastPathRuns times each, and compares
// the medians. The modem path does not exist: any attempt to open it would
// fail the run, so a pass also proves the bound path does no modem I/O;
// the platform URL points at a closed port for the same reason.
func fastPath(agent, exitOnly, dir string, keyFile string) (row, string, error) {
	state := filepath.Join(dir, "bound-state")
	if err := os.Mkdir(state, 0o755); err != nil {
		return row{}, "", err
	}
	store := flagstore.New(afero.NewOsFs(), state, time.Now)
	if err := store.Save(flagstore.Record{
		TerminalID: terminalID, MSISDN: "138****8000", Source: flagstore.SourceSMS,
		BoundAt: time.Now().UTC(), Nonce: "q8x3k2ab",
	}); err != nil {
		return row{}, "", fmt.Errorf("write the binding record: %w", err)
	}
	args := []string{
		"--config", os.DevNull,
		"--terminal-id", terminalID,
		"--state-dir", state,
		"--modem", filepath.Join(dir, "no-such-modem"),
		"--platform-url", "http://127.0.0.1:9",
		"--sms-sender", serviceNumber,
		"--key-file", keyFile,
		"run",
	}
	// One run with its output kept: it must say it is bound.
	var stderr bytes.Buffer
	cmd := exec.Command(agent, args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return row{}, "", fmt.Errorf("bound run: %w: %s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "already bound") {
		return row{}, "", fmt.Errorf("bound run did not take the bound path: %s", stderr.String())
	}
	once := func(path string, args ...string) (time.Duration, error) {
		cmd := exec.Command(path, args...)
		start := time.Now()
		err := cmd.Run()
		d := time.Since(start)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", filepath.Base(path), err)
		}
		return d, nil
	}
	// Warm both up (page cache, first exec), then measure alternately.
	for range 20 {
		if _, err := once(agent, args...); err != nil {
			return row{}, "", err
		}
		if _, err := once(exitOnly); err != nil {
			return row{}, "", err
		}
	}
	var ta, tb []time.Duration
	for range fastPathRuns {
		a, err := once(agent, args...)
		if err != nil {
			return row{}, "", err
		}
		b, err := once(exitOnly)
		if err != nil {
			return row{}, "", err
		}
		ta, tb = append(ta, a), append(tb, b)
	}
	ma, mb := median(ta), median(tb)
	x := float64(ma) / float64(mb)
	ratio, v := atMost(x, fastPathLimit)
	r := row{
		name:   fmt.Sprintf("bound fast path: `run` wall time, median of %d", fastPathRuns),
		figure: fmt.Sprintf("%s = %.2f× exit-only %s", ms(ma), x, ms(mb)),
		limit:  fmt.Sprintf("≤ %.1f× = %s", fastPathLimit, ms(time.Duration(fastPathLimit*float64(mb)))),
		ratio:  ratio, v: v,
	}
	detail := fmt.Sprintf("bound fast path: %d interleaved runs each after 20 warm-up runs; agent min/median/max %s / %s / %s, exit-only %s / %s / %s; every agent run exited 0 with --modem %s (absent)",
		fastPathRuns, ms(slices.Min(ta)), ms(ma), ms(slices.Max(ta)), ms(slices.Min(tb)), ms(mb), ms(slices.Max(tb)), filepath.Join(dir, "no-such-modem"))
	return r, detail, nil
}
