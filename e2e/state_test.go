//go:build linux

package e2e

// Tidy state, end to end (issue 13): a flood of hostile SMS leaves an inbox
// log under its cap and nothing quarantined; a FIFO in place of a state
// file hangs neither `status` nor `run`; every state file is 0600 whatever
// the umask the agent starts with.

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/flagstore"
	"bindpay/internal/modemsim"
)

// startUmask starts the agent with the given umask (the child inherits it
// at fork; the test's own is restored at once).
func startUmask(t *testing.T, umask int, args ...string) *agent {
	t.Helper()
	old := syscall.Umask(umask)
	defer syscall.Umask(old)
	return start(t, args...)
}

// spam is the i-th hostile SMS: never from an allowed sender, full of
// characters that JSON escaping or UTF-8 make big, some long enough to
// come in several parts.
func spam(i int) (from, text string) {
	from = fmt.Sprintf("1%019d", 1000000+i) // 20 digits
	switch i % 4 {
	case 0:
		text = strings.Repeat("&", 160) // one GSM 7-bit part
	case 1:
		text = strings.Repeat("&<>", 150) // 450 characters: three parts
	case 2:
		text = strings.Repeat("&免费", 100) // UCS2: five parts
	default:
		text = fmt.Sprintf("%d %s", i, strings.Repeat("&", 200))
	}
	return from, text
}

// assertStateFiles checks every file in the state directory: a regular
// file, mode 0600, and none quarantined.
func assertStateFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		fi, err := os.Lstat(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		assert.True(t, fi.Mode().IsRegular(), "%s is a regular file: %v", e.Name(), fi.Mode())
		assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm(), "mode of %s", e.Name())
		assert.NotContains(t, e.Name(), ".corrupt-", "nothing quarantined")
		assert.NotContains(t, e.Name(), ".tmp-", "no temporary file left")
	}
	return names
}

// TestSpamLeavesTidyState: 70 hostile SMS arrive while the agent waits;
// each is rejected, logged and deleted; the inbox log stays under its cap
// and readable, nothing is quarantined, and after the activation every
// state file is 0600 although the agent started with umask 000; the status
// file, which the UI app (another user) reads, is 0644.
func TestSpamLeavesTidyState(t *testing.T) {
	const messages = 70
	w := newWorldWith(t, modemsim.WithCapacity(60))
	statusFile := filepath.Join(t.TempDir(), "run", "status.json")
	a := startUmask(t, 0, w.args("--display", "console,status", "--status-file", statusFile)...)
	a.waitOutput(a.stdout, "BIND "+tid)

	parts := 0
	for i := 0; i < messages; {
		// A batch that fits the modem's storage, then wait until the agent
		// has deleted every part delivered so far.
		for batch := 0; batch < 5 && i < messages; batch, i = batch+1, i+1 {
			from, text := spam(i)
			pdus, err := modemsim.EncodeDeliver(from, text, time.Now(), byte(i))
			require.NoError(t, err)
			_, err = w.sim.Deliver(pdus...)
			require.NoError(t, err, "deliver spam %d", i)
			parts += len(pdus)
		}
		w.waitCommand("AT+CMGD=", parts)
	}
	require.True(t, a.running(), "the agent keeps waiting for its confirmation")
	// Logged before its deletion; the log may still be on its way to us.
	a.waitCount(a.stderr, "SMS rejected", messages)
	assert.Equal(t, messages, strings.Count(a.stderr.String(), "SMS rejected"), "every spam rejected once")

	inbox := filepath.Join(w.stateDir, flagstore.InboxFile)
	data, err := os.ReadFile(inbox)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(data), flagstore.MaxInboxSize, "inbox.json as written")
	var entries []flagstore.InboxEntry
	require.NoError(t, json.Unmarshal(data, &entries), "inbox.json is JSON")
	require.NotEmpty(t, entries)
	from, _ := spam(messages - 1)
	assert.Equal(t, from, entries[len(entries)-1].From, "the newest spam is logged last")
	for _, e := range entries {
		assert.LessOrEqual(t, len([]rune(e.Text)), flagstore.InboxText, "text clipped: %q", e.Text)
		assert.NotEmpty(t, e.Reason)
	}
	assert.NotContains(t, a.stderr.String(), "could not record the rejected SMS", "every rejection logged")
	assert.NotContains(t, a.stderr.String(), "corrupt", "no state file found corrupt")

	require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+tid))
	require.Equal(t, exitBound, a.wait(), "the agent binds after the flood")
	names := assertStateFiles(t, w.stateDir)
	assert.ElementsMatch(t, []string{flagstore.FileName, flagstore.NoncesFile, flagstore.InboxFile}, names, "the state directory")

	fi, err := os.Stat(statusFile)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o644), fi.Mode().Perm(), "the status file is for the UI app to read (README)")
}

// TestFIFOInPlaceOfStateFiles: a FIFO where a state file should be is never
// opened for reading (that would block for ever): `status` reports it and
// exits, `run` moves it aside, names it in its log, shows the prompt and
// binds.
func TestFIFOInPlaceOfStateFiles(t *testing.T) {
	tests := []struct {
		name  string
		files []string
	}{
		{"record", []string{flagstore.FileName}},
		{"every state file", []string{flagstore.FileName, flagstore.NoncesFile, flagstore.InboxFile}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			record := filepath.Join(w.stateDir, flagstore.FileName)
			for _, name := range tc.files {
				require.NoError(t, syscall.Mkfifo(filepath.Join(w.stateDir, name), 0o600))
			}

			// status: exits (1, not bound) within the wait limit, naming
			// the path and what is there; the FIFO stays (status only
			// reads).
			st, code := runAgent(t, append(w.args(), "status")...)
			assert.Equal(t, exitFailed, code, "status with a FIFO as the record")
			assert.Contains(t, st.stdout.String(), record+": it is a named pipe (FIFO), not a regular file")
			js := statusJSON(t, w)
			assert.Equal(t, false, js["bound"])
			assert.Contains(t, js["error"], "named pipe (FIFO)")
			fi, err := os.Lstat(record)
			require.NoError(t, err)
			assert.NotZero(t, fi.Mode()&fs.ModeNamedPipe, "status leaves the FIFO in place")

			// run: keeps running, as not bound.
			a := start(t, w.args()...)
			a.waitOutput(a.stderr, "binding record unusable; continuing as not bound")
			a.waitOutput(a.stdout, "BIND "+tid)
			require.True(t, a.running())
			stderr := a.stderr.String()
			assert.Contains(t, stderr, record)
			assert.Contains(t, stderr, "it is a named pipe (FIFO), not a regular file; moved aside to "+record+".corrupt-")

			// A foreign SMS: the inbox log is read and written.
			from, text := spam(0)
			pdus, err := modemsim.EncodeDeliver(from, text, time.Now(), 1)
			require.NoError(t, err)
			_, err = w.sim.Deliver(pdus...)
			require.NoError(t, err)
			w.waitCommand("AT+CMGD=", len(pdus))

			require.NoError(t, w.net.PhoneSend(context.Background(), phone, service, "BIND "+tid))
			require.Equal(t, exitBound, a.wait(), "the agent binds")
			assert.Equal(t, true, statusJSON(t, w)["bound"])
			for _, name := range tc.files {
				path := filepath.Join(w.stateDir, name)
				aside, err := filepath.Glob(path + ".corrupt-*")
				require.NoError(t, err)
				require.Len(t, aside, 1, "the FIFO in place of %s was moved aside", name)
				fi, err := os.Lstat(aside[0])
				require.NoError(t, err)
				assert.NotZero(t, fi.Mode()&fs.ModeNamedPipe, "what was moved aside is the FIFO")
			}
			for _, name := range []string{flagstore.FileName, flagstore.NoncesFile, flagstore.InboxFile} {
				fi, err := os.Lstat(filepath.Join(w.stateDir, name))
				require.NoError(t, err)
				assert.True(t, fi.Mode().IsRegular(), "a regular %s, written after the FIFO was moved aside", name)
				assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm(), "mode of %s", name)
			}
		})
	}
}

// waitCount waits until b holds want n times at least; it fails the test
// if the agent exits first or the wait limit passes.
func (a *agent) waitCount(b *watchedBuffer, want string, n int) {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for {
		text, changed := b.snapshot()
		if strings.Count(text, want) >= n {
			return
		}
		select {
		case <-changed:
		case <-a.done:
			if text, _ := b.snapshot(); strings.Count(text, want) >= n {
				return
			}
			a.t.Fatalf("agent exited (%d) before printing %q %d times\nstderr:\n%s", a.exitCode, want, n, a.stderr)
		case <-ctx.Done():
			a.t.Fatalf("agent did not print %q %d times within %v\nstderr:\n%s", want, n, waitLimit, a.stderr)
		}
	}
}
