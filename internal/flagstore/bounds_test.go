package flagstore

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/flagstore/crashfs"
)

func TestFileKind(t *testing.T) {
	tests := []struct {
		name string
		mode fs.FileMode
		want string
	}{
		{"regular", 0o600, "a regular file"},
		{"symlink", fs.ModeSymlink | 0o777, "a symbolic link"},
		{"directory", fs.ModeDir | 0o755, "a directory"},
		{"fifo", fs.ModeNamedPipe | 0o644, "a named pipe (FIFO)"},
		{"socket", fs.ModeSocket | 0o755, "a socket"},
		{"character device", fs.ModeDevice | fs.ModeCharDevice | 0o666, "a character device"},
		{"block device", fs.ModeDevice | 0o660, "a block device"},
		{"irregular", fs.ModeIrregular, "of mode ?---------"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, fileKind(tc.mode), "fileKind(%v)", tc.mode)
		})
	}
}

func TestParseQuarantined(t *testing.T) {
	stamp := time.Date(2026, 11, 26, 8, 30, 15, 0, time.UTC)
	tests := []struct {
		name   string
		in     string
		ok     bool
		wantN  int
		wantTS time.Time
	}{
		{"plain", "binding.json.corrupt-20261126T083015Z", true, 0, stamp},
		{"suffix", "binding.json.corrupt-20261126T083015Z.12", true, 12, stamp},
		{"the file itself", "binding.json", false, 0, time.Time{}},
		{"another file's copy", "nonces.json.corrupt-20261126T083015Z", false, 0, time.Time{}},
		{"a temporary file", "binding.json.tmp-0123456789abcdef", false, 0, time.Time{}},
		{"renamed by a person", "binding.json.corrupt-keep-me", false, 0, time.Time{}},
		{"bad suffix", "binding.json.corrupt-20261126T083015Z.x", false, 0, time.Time{}},
		{"zero suffix", "binding.json.corrupt-20261126T083015Z.0", false, 0, time.Time{}},
		{"leading zero", "binding.json.corrupt-20261126T083015Z.01", false, 0, time.Time{}},
		{"empty suffix", "binding.json.corrupt-20261126T083015Z.", false, 0, time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, ok := parseQuarantined(FileName, tc.in)
			require.Equal(t, tc.ok, ok, "parseQuarantined(%q)", tc.in)
			if ok {
				assert.Equal(t, tc.wantN, q.n, "suffix of %q", tc.in)
				assert.True(t, tc.wantTS.Equal(q.stamp), "stamp of %q: got %v, want %v", tc.in, q.stamp, tc.wantTS)
			}
		})
	}
}

func TestStaleCopies(t *testing.T) {
	c := func(stamp string) string { return FileName + corruptInfix + stamp }
	tests := []struct {
		name  string
		names []string
		keep  string
		want  []string
	}{
		{"none", []string{FileName}, c("20261126T083015Z"), nil},
		{"three with the new one", []string{c("20261124T000000Z"), c("20261125T000000Z"), c("20261126T000000Z")}, c("20261126T000000Z"), nil},
		{"four: the oldest goes", []string{c("20261123T000000Z"), c("20261124T000000Z"), c("20261125T000000Z"), c("20261126T000000Z")}, c("20261126T000000Z"), []string{c("20261123T000000Z")}},
		{"six: three go, oldest first", []string{
			c("20261126T000000Z"), c("20261121T000000Z"), c("20261123T000000Z"), c("20261122T000000Z"), c("20261124T000000Z"), c("20261125T000000Z"),
		}, c("20261126T000000Z"), []string{c("20261121T000000Z"), c("20261122T000000Z"), c("20261123T000000Z")}},
		{"suffixes ordered as numbers", []string{
			c("20261126T000000Z"), c("20261126T000000Z.10"), c("20261126T000000Z.2"), c("20261126T000000Z.1"), c("20261126T000000Z.11"),
		}, c("20261126T000000Z.11"), []string{c("20261126T000000Z"), c("20261126T000000Z.1")}},
		{"clock set back: the new copy is kept", []string{c("20261124T000000Z"), c("20261125T000000Z"), c("20261126T000000Z"), c("19700101T000012Z")}, c("19700101T000012Z"), []string{c("20261124T000000Z")}},
		{"other files and names are not copies", []string{
			FileName, NoncesFile, NoncesFile + corruptInfix + "20261120T000000Z", c("keep-me"), FileName + tempInfix + "00",
			c("20261123T000000Z"), c("20261124T000000Z"), c("20261125T000000Z"), c("20261126T000000Z"),
		}, c("20261126T000000Z"), []string{c("20261123T000000Z")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := staleCopies(FileName, tc.names, tc.keep, MaxQuarantined)
			assert.Equal(t, tc.want, got, "staleCopies(%q, keep %q)", tc.names, tc.keep)
		})
	}
}

// TestQuarantineKeepsThree: a record corrupted again and again leaves at
// most MaxQuarantined copies, the newest; the same for the ledger's files.
func TestQuarantineKeepsThree(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			fsys, dir := b.make(t)
			now := clockAt
			clock := func() time.Time { return now }
			s := New(fsys, dir, clock)
			l := NewLedger(fsys, dir, clock)
			for i := range 6 {
				body := fmt.Sprintf("garbage %d", i)
				require.NoError(t, afero.WriteFile(fsys, s.Path(), []byte(body), 0o644))
				require.NoError(t, afero.WriteFile(fsys, filepath.Join(dir, NoncesFile), []byte(body), 0o644))
				require.NoError(t, afero.WriteFile(fsys, filepath.Join(dir, InboxFile), []byte(body), 0o644))
				_, err := s.Load(tid)
				require.ErrorIs(t, err, ErrCorrupt, "load %d", i)
				_, err = l.Nonces()
				require.ErrorIs(t, err, ErrCorrupt, "nonces %d", i)
				_, err = l.Inbox()
				require.ErrorIs(t, err, ErrCorrupt, "inbox %d", i)
				if i%2 == 1 {
					now = now.Add(time.Hour) // two copies per stamp: .1 suffixes too
				}
			}
			for _, name := range []string{FileName, NoncesFile, InboxFile} {
				copies, err := afero.Glob(fsys, filepath.Join(dir, name+corruptInfix+"*"))
				require.NoError(t, err)
				require.Len(t, copies, MaxQuarantined, "copies of %s after 6 quarantines: %q", name, copies)
				var bodies []string
				for _, c := range copies {
					data, err := afero.ReadFile(fsys, c)
					require.NoError(t, err)
					bodies = append(bodies, string(data))
					fi, err := fsys.Stat(c)
					require.NoError(t, err)
					assert.Equal(t, os.FileMode(fileMode), fi.Mode().Perm(), "mode of the quarantined copy %s (written 0644)", c)
				}
				slices.Sort(bodies)
				assert.Equal(t, []string{"garbage 3", "garbage 4", "garbage 5"}, bodies, "the newest copies of %s are kept", name)
			}
		})
	}
}

func TestClipEncoded(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		chars    int
		maxBytes int
		want     string
	}{
		{"short", "hello", 160, 480, "hello"},
		{"empty", "", 160, 480, ""},
		{"characters", strings.Repeat("号", 200), 160, 480, strings.Repeat("号", 160)},
		{"bytes of Chinese on a character boundary", strings.Repeat("号", 200), 160, 100, strings.Repeat("号", 33)},
		{"ampersands are one byte", strings.Repeat("&", 300), 160, 480, strings.Repeat("&", 160)},
		{"angle brackets are one byte", strings.Repeat("<>", 100), 160, 480, strings.Repeat("<>", 80)},
		{"quotes escape to two bytes", strings.Repeat(`"`, 300), 160, 100, strings.Repeat(`"`, 50)},
		{"backslashes escape to two bytes", strings.Repeat(`\`, 300), 160, 101, strings.Repeat(`\`, 50)},
		{"control characters escape to six bytes", strings.Repeat("\x01", 300), 160, 480, strings.Repeat("\x01", 80)},
		{"newlines escape to two bytes", strings.Repeat("\n", 300), 160, 480, strings.Repeat("\n", 160)},
		{"line separator escapes to six bytes", strings.Repeat("\u2028", 100), 160, 60, strings.Repeat("\u2028", 10)},
		{"emoji are four bytes", strings.Repeat("😀", 200), 160, 480, strings.Repeat("😀", 120)},
		{"invalid UTF-8 replaced", "ab\xffcd", 160, 480, "ab\uFFFDcd"},
		{"invalid UTF-8 then clipped", strings.Repeat("\xff", 200), 160, 30, strings.Repeat("\uFFFD", 10)},
		{"a character that does not fit is dropped whole", "a号", 160, 3, "a"},
		{"zero bytes", "abc", 160, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := clipEncoded(tc.in, tc.chars, tc.maxBytes)
			assert.Equal(t, tc.want, got, "clipEncoded(%q, %d, %d)", clip(tc.in, 40), tc.chars, tc.maxBytes)
			assert.True(t, utf8.ValidString(got), "valid UTF-8")
			assert.LessOrEqual(t, encodedLen(got), tc.maxBytes, "encoded length")
			assert.LessOrEqual(t, utf8.RuneCountInString(got), tc.chars, "characters")
		})
	}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func TestEncodeInbox(t *testing.T) {
	entry := func(i int, text string) InboxEntry {
		return InboxEntry{Time: boundAt.Add(time.Duration(i) * time.Minute), From: "95555", Reason: "sender not allowed", Text: text}
	}
	var small, big []InboxEntry
	for i := range 10 {
		small = append(small, entry(i, "hi"))
		big = append(big, entry(i, strings.Repeat("x", 400)))
	}
	one, err := encodeInbox([]InboxEntry{entry(0, "hi")}, 1<<30)
	require.NoError(t, err)
	assert.Equal(t, "[\n"+`{"time":"2026-11-25T20:00:00Z","from":"95555","reason":"sender not allowed","text":"hi"}`+"\n]\n", string(one), "the file format")
	tests := []struct {
		name    string
		entries []InboxEntry
		limit   int
	}{
		{"fits", small, MaxInboxSize},
		{"none", nil, MaxInboxSize},
		{"drops the oldest", big, 2000},
		{"exactly one entry's size", small, len(one)},
		{"one byte short of one entry", small, len(one) - 1},
		{"too small for any", small, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The newest entries that fit, by trying every count.
			keep := 0
			for k := len(tc.entries); k > 0; k-- {
				if data, err := encodeInbox(tc.entries[len(tc.entries)-k:], 1<<30); err == nil && len(data) <= tc.limit {
					keep = k
					break
				}
			}
			data, err := encodeInbox(tc.entries, tc.limit)
			require.NoError(t, err)
			var got []InboxEntry
			require.NoError(t, json.Unmarshal(data, &got))
			if keep > 0 {
				assert.LessOrEqual(t, len(data), tc.limit, "size of %d entries under limit %d", len(tc.entries), tc.limit)
			}
			require.Len(t, got, keep, "entries kept of %d under limit %d", len(tc.entries), tc.limit)
			if keep > 0 {
				assert.Equal(t, tc.entries[len(tc.entries)-keep:], got, "the newest %d are kept", keep)
			}
		})
	}
}

// TestInboxSpamStaysUnderCap: a flood of hostile SMS (escaping characters,
// long texts, long senders and reasons) never makes the inbox file bigger
// than its cap, so it is never quarantined as too big.
func TestInboxSpamStaysUnderCap(t *testing.T) {
	hostile := []string{
		strings.Repeat("&", 1000),
		strings.Repeat("\x01\x02\"\\", 500),
		strings.Repeat("号&", 800),
		strings.Repeat("\u2028😀", 400),
		strings.Repeat("\xff", 900),
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			fsys, dir := b.make(t)
			l := NewLedger(fsys, dir, fixedClock)
			const n = MaxInbox + 20 // full-size entries: fewer than MaxInbox fit
			for i := range n {
				text := hostile[i%len(hostile)]
				require.NoError(t, l.LogRejected(InboxEntry{
					Time: clockAt.Add(time.Duration(i) * time.Second), From: text, Reason: "reason " + text, Text: text,
				}), "entry %d", i)
			}
			data, err := afero.ReadFile(fsys, filepath.Join(dir, InboxFile))
			require.NoError(t, err)
			assert.LessOrEqual(t, len(data), MaxInboxSize, "inbox size")
			entries, err := l.Inbox()
			require.NoError(t, err, "the inbox reads back")
			require.NotEmpty(t, entries)
			assert.Less(t, len(entries), MaxInbox, "the byte cap, not the count, bounds this inbox")
			last := entries[len(entries)-1]
			assert.True(t, last.Time.Equal(clockAt.Add(time.Duration(n-1)*time.Second)), "the newest entry is kept")
			for _, e := range entries {
				assert.LessOrEqual(t, encodedLen(e.Text), InboxTextBytes)
				assert.LessOrEqual(t, encodedLen(e.Reason), InboxReasonBytes)
				assert.LessOrEqual(t, encodedLen(e.From), InboxFromBytes)
				assert.LessOrEqual(t, utf8.RuneCountInString(e.Text), InboxText)
			}
			names, err := afero.Glob(fsys, filepath.Join(dir, "*"+corruptInfix+"*"))
			require.NoError(t, err)
			assert.Empty(t, names, "nothing quarantined")
		})
	}
}

// writes counts the operations of ops that change the state directory.
func writes(ops []crashfs.Op) []crashfs.Op {
	var out []crashfs.Op
	for _, op := range ops {
		switch op.Kind {
		case "open", "stat", "close", "sync", "syncdir":
			// sync of a file opened for reading writes nothing either,
			// but the ledger never does it.
		case "openfile":
			if op.Detail == "O_RDONLY" {
				continue
			}
			out = append(out, op)
		default:
			out = append(out, op)
		}
	}
	return out
}

// TestLedgerWritesOnlyChanges: what changes nothing writes nothing to the
// flash.
func TestLedgerWritesOnlyChanges(t *testing.T) {
	entry := InboxEntry{Time: boundAt, From: "95555", Reason: "sender not allowed", Text: "广告 & more"}
	setup := func(t *testing.T, l *Ledger) {
		require.NoError(t, l.Issue("aaaaaa"))
		require.NoError(t, l.Issue("bbbbbb"))
		require.NoError(t, l.Consume("cccccc"))
		require.NoError(t, l.LogRejected(entry))
	}
	tests := []struct {
		name    string
		op      func(l *Ledger) error
		write   bool
		noFiles bool // start from an empty state directory
	}{
		{"Issue of no nonce, no file", func(l *Ledger) error { return l.Issue("") }, false, true},
		{"Consume of no nonce, no file", func(l *Ledger) error { return l.Consume("") }, false, true},
		{"UpdateNonces that changes nothing, no file", func(l *Ledger) error { return l.UpdateNonces(func(*Nonces) {}) }, false, true},
		{"reads, no file", func(l *Ledger) error {
			_, err := l.Nonces()
			if err == nil {
				_, err = l.Inbox()
			}
			return err
		}, false, true},
		{"Issue, no file", func(l *Ledger) error { return l.Issue("aaaaaa") }, true, true},
		{"Issue of an issued nonce", func(l *Ledger) error { return l.Issue("aaaaaa") }, false, false},
		{"Issue of a consumed nonce", func(l *Ledger) error { return l.Issue("cccccc") }, false, false},
		{"Issue of no nonce", func(l *Ledger) error { return l.Issue("") }, false, false},
		{"Consume of a consumed nonce", func(l *Ledger) error { return l.Consume("cccccc") }, false, false},
		{"Consume of no nonce", func(l *Ledger) error { return l.Consume("") }, false, false},
		{"UpdateNonces that changes nothing", func(l *Ledger) error { return l.UpdateNonces(func(*Nonces) {}) }, false, false},
		{"LogRejected of a logged SMS", func(l *Ledger) error { return l.LogRejected(entry) }, false, false},
		{"LogRejected of a logged SMS, its time in another zone", func(l *Ledger) error {
			e := entry
			e.Time = e.Time.In(time.FixedZone("CST", 8*3600))
			return l.LogRejected(e)
		}, false, false},
		{"reads", func(l *Ledger) error {
			_, err := l.Nonces()
			if err == nil {
				_, err = l.Inbox()
			}
			return err
		}, false, false},
		{"Issue of a new nonce", func(l *Ledger) error { return l.Issue("dddddd") }, true, false},
		{"Consume of an issued nonce", func(l *Ledger) error { return l.Consume("aaaaaa") }, true, false},
		{"LogRejected of a new SMS", func(l *Ledger) error {
			e := entry
			e.Time = e.Time.Add(time.Second)
			return l.LogRejected(e)
		}, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCrashFS(t, func(t *testing.T, fsys afero.Fs) {
				if !tc.noFiles {
					setup(t, NewLedger(fsys, crashDir, fixedClock))
				}
			})
			require.NoError(t, tc.op(NewLedger(c, crashDir, fixedClock)))
			w := writes(c.Ops())
			if tc.write {
				assert.NotEmpty(t, w, "%s writes the file", tc.name)
			} else {
				assert.Empty(t, w, "%s: want no write, got %v", tc.name, w)
			}
		})
	}
}

// TestLedgerFixesMode: a ledger file of an older version, mode 0644, is
// rewritten 0600 at its next update even when nothing else changes, and
// then no more.
func TestLedgerFixesMode(t *testing.T) {
	c := newCrashFS(t, func(t *testing.T, fsys afero.Fs) {
		require.NoError(t, NewLedger(fsys, crashDir, fixedClock).Issue("aaaaaa"))
		require.NoError(t, fsys.Chmod(filepath.Join(crashDir, NoncesFile), 0o644))
	})
	l := NewLedger(c, crashDir, fixedClock)
	require.NoError(t, l.Issue("aaaaaa"))
	assert.NotEmpty(t, writes(c.Ops()), "a 0644 file is rewritten")
	fi, err := c.Stat(filepath.Join(crashDir, NoncesFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(fileMode), fi.Mode().Perm())
	c.Checkpoint()
	require.NoError(t, l.Issue("aaaaaa"))
	assert.Empty(t, writes(c.Ops()), "once 0600, nothing is written")
	n, err := l.Nonces()
	require.NoError(t, err)
	assert.Equal(t, []string{"aaaaaa"}, n.Issued)
}

// TestUpdateNoncesBounds: UpdateNonces keeps the newest MaxIssued and
// MaxConsumed whatever edit does (room for "consume every issued nonce").
func TestUpdateNoncesBounds(t *testing.T) {
	fsys := afero.NewMemMapFs()
	require.NoError(t, fsys.MkdirAll("/s", 0o755))
	l := NewLedger(fsys, "/s", fixedClock)
	require.NoError(t, l.UpdateNonces(func(n *Nonces) {
		for i := range MaxIssued + 3 {
			n.Issued = append(n.Issued, fmt.Sprintf("i%03d", i))
		}
		for i := range MaxConsumed + 3 {
			n.Consumed = append(n.Consumed, fmt.Sprintf("c%03d", i))
		}
	}))
	require.NoError(t, l.UpdateNonces(func(n *Nonces) {
		for _, s := range slices.Clone(n.Issued) {
			consume(n, s)
		}
	}))
	n, err := l.Nonces()
	require.NoError(t, err)
	assert.Empty(t, n.Issued, "every issued nonce consumed")
	require.Len(t, n.Consumed, MaxConsumed)
	assert.Equal(t, fmt.Sprintf("i%03d", MaxIssued+2), n.Consumed[MaxConsumed-1], "newest last")
}

func TestEncodeNonces(t *testing.T) {
	long := func(prefix string, i int) string {
		return fmt.Sprintf("%s%03d%s", prefix, i, strings.Repeat("x", 1000))
	}
	var big Nonces
	for i := range 40 {
		big.Consumed = append(big.Consumed, long("c", i))
	}
	for i := range 30 {
		big.Issued = append(big.Issued, long("i", i))
	}
	tests := []struct {
		name         string
		in           Nonces
		limit        int
		wantIssued   int
		wantConsumed int
	}{
		{"fits", Nonces{Issued: []string{"a"}, Consumed: []string{"b"}}, MaxSize, 1, 1},
		{"oldest consumed go first", big, 40 * 1010, 30, 9},
		{"then the oldest issued", big, 10 * 1010, 9, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := encodeNonces(tc.in, tc.limit)
			require.NoError(t, err)
			assert.LessOrEqual(t, len(data), tc.limit)
			var got Nonces
			require.NoError(t, json.Unmarshal(data, &got))
			require.Len(t, got.Issued, tc.wantIssued, "issued kept")
			require.Len(t, got.Consumed, tc.wantConsumed, "consumed kept")
			if tc.wantIssued > 0 {
				assert.Equal(t, tc.in.Issued[len(tc.in.Issued)-1], got.Issued[tc.wantIssued-1], "the newest issued is kept")
			}
			if tc.wantConsumed > 0 {
				assert.Equal(t, tc.in.Consumed[len(tc.in.Consumed)-1], got.Consumed[tc.wantConsumed-1], "the newest consumed is kept")
			}
		})
	}
}
