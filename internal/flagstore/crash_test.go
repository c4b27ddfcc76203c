package flagstore

// Crash-point tests: every write of the state directory is run against
// crashfs, the power is cut after each of its operations in turn, and every
// view a reboot may find is checked: the old state or the new one, never
// garbage, never neither; and once the write has returned nil, the new one.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/flagstore/crashfs"
)

const crashDir = "/var/lib/bindpay"

// crashCase is one write whose every crash point is explored.
type crashCase struct {
	// setup writes the starting state; it is made durable before op runs.
	setup func(t *testing.T, fsys afero.Fs)
	// op is the write under test.
	op func(fsys afero.Fs) error
	// check says what is wrong with what a reboot found ("" when nothing
	// is); completed: op returned nil before the power went out.
	check func(view afero.Fs, completed bool) string
}

// crashReport is what exploring a crashCase found.
type crashReport struct {
	ops        []crashfs.Op // of the run without a crash
	points     int          // crash points tried
	views      int          // reboot views checked
	violations []string
}

// newCrashFS returns a crashfs holding the state directory and what setup
// writes, all durable.
func newCrashFS(t *testing.T, setup func(t *testing.T, fsys afero.Fs)) *crashfs.FS {
	t.Helper()
	c := crashfs.New()
	require.NoError(t, c.MkdirAll(crashDir, 0o755))
	if setup != nil {
		setup(t, c)
	}
	c.Checkpoint()
	return c
}

// exploreCrashes runs c.op once to count its operations, then again for
// every k from 0 to that count with the power cut after operation k, and
// checks every reboot view of each crash.
func exploreCrashes(t *testing.T, c crashCase) crashReport {
	t.Helper()
	dry := newCrashFS(t, c.setup)
	require.NoError(t, c.op(dry), "the write without a crash")
	var r crashReport
	r.ops = dry.Ops()
	for k := 0; k <= len(r.ops); k++ {
		fsys := newCrashFS(t, c.setup)
		fsys.CrashAfter(k)
		err := c.op(fsys)
		completed := err == nil
		if k < len(r.ops) && !errors.Is(err, crashfs.ErrPowerLost) {
			r.violations = append(r.violations, fmt.Sprintf("power lost after op %d of %d: got err %v, want one wrapping ErrPowerLost", k, len(r.ops), err))
		}
		crashes, err := fsys.Crashes()
		require.NoError(t, err)
		r.points++
		for _, cr := range crashes {
			r.views++
			found := crashfs.Dump(cr.FS) // before check changes it (Load quarantines)
			if why := c.check(cr.FS, completed); why != "" {
				where := "before any operation"
				if k > 0 {
					where = "after op " + r.ops[k-1].String()
				}
				r.violations = append(r.violations, fmt.Sprintf("power lost %s (%s), write returned nil: %v: %s\nreboot found:\n%s",
					where, cr.Desc, completed, why, found))
			}
		}
	}
	return r
}

// requireCrashSafe fails the test with the first violations, if any.
func requireCrashSafe(t *testing.T, c crashCase) {
	t.Helper()
	r := exploreCrashes(t, c)
	t.Logf("%d operations, %d crash points, %d reboot views checked", len(r.ops), r.points, r.views)
	if len(r.violations) > 0 {
		var ops []string
		for _, op := range r.ops {
			ops = append(ops, op.String())
		}
		t.Fatalf("%d of %d reboot views are wrong; first ones:\n%s\noperations of the write:\n%s",
			len(r.violations), r.views, strings.Join(r.violations[:min(3, len(r.violations))], "\n"), strings.Join(ops, "\n"))
	}
}

var (
	oldRecord = validRecord()
	newRecord = Record{Version: Version, TerminalID: tid, MSISDN: "139****0001", Source: SourcePlatform, BoundAt: boundAt.Add(time.Hour), Nonce: "n2n2n2"}
)

func sameRecord(a, b Record) bool {
	return a.BoundAt.Equal(b.BoundAt) && a.Version == b.Version && a.TerminalID == b.TerminalID &&
		a.MSISDN == b.MSISDN && a.Source == b.Source && a.Nonce == b.Nonce
}

// checkRecord accepts the old record (none when old is nil) unless the
// write completed, and the new one (none when want is nil).
func checkRecord(old, want *Record) func(view afero.Fs, completed bool) string {
	is := func(r *Record, got Record, err error) bool {
		if r == nil {
			return errors.Is(err, ErrNotFound)
		}
		return err == nil && sameRecord(got, *r)
	}
	return func(view afero.Fs, completed bool) string {
		got, err := New(view, crashDir, fixedClock).Load(tid)
		switch {
		case is(want, got, err):
			return ""
		case !completed && is(old, got, err):
			return ""
		case completed:
			return fmt.Sprintf("Load: got (%+v, %v), want the new state %+v: the write had returned", got, err, want)
		}
		return fmt.Sprintf("Load: got (%+v, %v), want the old state %+v or the new %+v", got, err, old, want)
	}
}

func saveOp(r Record) func(afero.Fs) error {
	return func(fsys afero.Fs) error { return New(fsys, crashDir, fixedClock).Save(r) }
}

func withRecord(r Record) func(t *testing.T, fsys afero.Fs) {
	return func(t *testing.T, fsys afero.Fs) {
		require.NoError(t, New(fsys, crashDir, fixedClock).Save(r))
	}
}

func TestCrashSave(t *testing.T) {
	t.Run("over none", func(t *testing.T) {
		requireCrashSafe(t, crashCase{op: saveOp(newRecord), check: checkRecord(nil, &newRecord)})
	})
	t.Run("over an existing record", func(t *testing.T) {
		requireCrashSafe(t, crashCase{setup: withRecord(oldRecord), op: saveOp(newRecord), check: checkRecord(&oldRecord, &newRecord)})
	})
	t.Run("over the same record", func(t *testing.T) {
		requireCrashSafe(t, crashCase{setup: withRecord(oldRecord), op: saveOp(oldRecord), check: checkRecord(&oldRecord, &oldRecord)})
	})
	t.Run("over a record and the leftover of an interrupted write", func(t *testing.T) {
		requireCrashSafe(t, crashCase{
			setup: func(t *testing.T, fsys afero.Fs) {
				withRecord(oldRecord)(t, fsys)
				require.NoError(t, afero.WriteFile(fsys, filepath.Join(crashDir, FileName+tempInfix+"0123456789abcdef"), []byte(`{"version":1,"termi`), 0o644))
			},
			op:    saveOp(newRecord),
			check: checkRecord(&oldRecord, &newRecord),
		})
	})
}

func TestCrashRemove(t *testing.T) {
	requireCrashSafe(t, crashCase{
		setup: withRecord(oldRecord),
		op:    func(fsys afero.Fs) error { return New(fsys, crashDir, fixedClock).Remove() },
		check: checkRecord(&oldRecord, nil),
	})
}

// A corrupt record being quarantined is never lost: after any crash it is
// still the record (to be quarantined again) or beside it, and never taken
// for a binding.
func TestCrashQuarantine(t *testing.T) {
	const garbage = `{"version":1,"terminal_id":"STB0012345678","checksum":"sha256:0"}`
	requireCrashSafe(t, crashCase{
		setup: func(t *testing.T, fsys afero.Fs) {
			require.NoError(t, afero.WriteFile(fsys, filepath.Join(crashDir, FileName), []byte(garbage), 0o644))
		},
		op: func(fsys afero.Fs) error {
			_, err := New(fsys, crashDir, fixedClock).Load(tid)
			if c, ok := fsys.(*crashfs.FS); ok && c.PowerLost() {
				// Load ignores the failure of its final close; the
				// power is out all the same.
				return crashfs.ErrPowerLost
			}
			if errors.Is(err, ErrCorrupt) {
				return nil // quarantined: what Load is meant to do
			}
			if err == nil {
				return errors.New("a corrupt record was loaded")
			}
			return err
		},
		check: func(view afero.Fs, _ bool) string {
			names, err := afero.Glob(view, filepath.Join(crashDir, FileName+"*"))
			if err != nil {
				return err.Error()
			}
			kept := 0
			for _, n := range names {
				if data, _ := afero.ReadFile(view, n); string(data) == garbage {
					kept++
				}
			}
			if kept != 1 {
				return fmt.Sprintf("the corrupt record is in %d files of %q, want exactly 1", kept, names)
			}
			if _, err := New(view, crashDir, fixedClock).Load(tid); !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNotFound) {
				return fmt.Sprintf("Load: got %v, want ErrCorrupt or ErrNotFound", err)
			}
			return ""
		},
	})
}

// normNonces compares nonce sets with nil and empty alike.
func sameNonces(a, b Nonces) bool {
	return slices.Equal(a.Issued, b.Issued) && slices.Equal(a.Consumed, b.Consumed)
}

func checkNonces(old, want Nonces) func(afero.Fs, bool) string {
	return func(view afero.Fs, completed bool) string {
		got, err := NewLedger(view, crashDir, fixedClock).Nonces()
		switch {
		case err != nil:
			return fmt.Sprintf("Nonces: %v", err)
		case sameNonces(got, want):
			return ""
		case !completed && sameNonces(got, old):
			return ""
		}
		return fmt.Sprintf("Nonces: got %+v, want old %+v or new %+v (write returned nil: %v)", got, old, want, completed)
	}
}

func inboxJSON(entries []InboxEntry) string {
	if len(entries) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(entries)
	return string(b)
}

func checkInbox(old, want []InboxEntry) func(afero.Fs, bool) string {
	return func(view afero.Fs, completed bool) string {
		got, err := NewLedger(view, crashDir, fixedClock).Inbox()
		switch {
		case err != nil:
			return fmt.Sprintf("Inbox: %v", err)
		case inboxJSON(got) == inboxJSON(want):
			return ""
		case !completed && inboxJSON(got) == inboxJSON(old):
			return ""
		}
		return fmt.Sprintf("Inbox: got %s, want old %s or new %s (write returned nil: %v)", inboxJSON(got), inboxJSON(old), inboxJSON(want), completed)
	}
}

func TestCrashLedger(t *testing.T) {
	issued := func(t *testing.T, fsys afero.Fs) {
		l := NewLedger(fsys, crashDir, fixedClock)
		require.NoError(t, l.Issue("aaaaaa"))
		require.NoError(t, l.Issue("bbbbbb"))
		require.NoError(t, l.Consume("cccccc"))
	}
	entry := func(i int) InboxEntry {
		return InboxEntry{Time: boundAt.Add(time.Duration(i) * time.Minute), From: "95555", Reason: "sender not allowed", Text: fmt.Sprintf("message %d", i)}
	}
	logged := func(t *testing.T, fsys afero.Fs) {
		require.NoError(t, NewLedger(fsys, crashDir, fixedClock).LogRejected(entry(1)))
	}
	ledger := func(fsys afero.Fs) *Ledger { return NewLedger(fsys, crashDir, fixedClock) }
	tests := []struct {
		name string
		c    crashCase
	}{
		{"Issue over none", crashCase{
			op:    func(fsys afero.Fs) error { return ledger(fsys).Issue("dddddd") },
			check: checkNonces(Nonces{}, Nonces{Issued: []string{"dddddd"}}),
		}},
		{"Issue over existing nonces", crashCase{
			setup: issued,
			op:    func(fsys afero.Fs) error { return ledger(fsys).Issue("dddddd") },
			check: checkNonces(
				Nonces{Issued: []string{"aaaaaa", "bbbbbb"}, Consumed: []string{"cccccc"}},
				Nonces{Issued: []string{"aaaaaa", "bbbbbb", "dddddd"}, Consumed: []string{"cccccc"}}),
		}},
		{"Consume an issued nonce", crashCase{
			setup: issued,
			op:    func(fsys afero.Fs) error { return ledger(fsys).Consume("aaaaaa") },
			check: checkNonces(
				Nonces{Issued: []string{"aaaaaa", "bbbbbb"}, Consumed: []string{"cccccc"}},
				Nonces{Issued: []string{"bbbbbb"}, Consumed: []string{"cccccc", "aaaaaa"}}),
		}},
		{"Consume over none", crashCase{
			op:    func(fsys afero.Fs) error { return ledger(fsys).Consume("aaaaaa") },
			check: checkNonces(Nonces{}, Nonces{Consumed: []string{"aaaaaa"}}),
		}},
		{"LogRejected over none", crashCase{
			op:    func(fsys afero.Fs) error { return ledger(fsys).LogRejected(entry(1)) },
			check: checkInbox(nil, []InboxEntry{entry(1)}),
		}},
		{"LogRejected over an existing log", crashCase{
			setup: logged,
			op:    func(fsys afero.Fs) error { return ledger(fsys).LogRejected(entry(2)) },
			check: checkInbox([]InboxEntry{entry(1)}, []InboxEntry{entry(1), entry(2)}),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { requireCrashSafe(t, tt.c) })
	}
}

// Broken writers, written here, must fail the property: the checker is
// only worth something if it catches them.

// encodeRecord is what Save writes for r.
func encodeRecord(r Record) []byte { return mustEncode(r) }

// saveInPlace rewrites the record in place, with fsync: a torn or empty
// record is visible between the truncation and the sync.
func saveInPlace(fsys afero.Fs, r Record) error {
	f, err := fsys.OpenFile(filepath.Join(crashDir, FileName), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(encodeRecord(r)); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// saveSteps is the temp-file dance with steps optionally left out.
func saveSteps(fsys afero.Fs, r Record, fileSync, dirSync bool) error {
	path := filepath.Join(crashDir, FileName)
	f, err := fsys.OpenFile(path+tempInfix+"x", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(encodeRecord(r)); err != nil {
		f.Close()
		return err
	}
	if fileSync {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := fsys.Rename(path+tempInfix+"x", path); err != nil {
		return err
	}
	if dirSync {
		return syncDir(fsys, crashDir)
	}
	return nil
}

func TestCrashCheckerCatchesBrokenWriters(t *testing.T) {
	tests := []struct {
		name  string
		save  func(afero.Fs, Record) error
		catch string // what the first violation must say
	}{
		{"write in place", saveInPlace, "binding record is corrupt"},
		{"no fsync of the file before the rename", func(fsys afero.Fs, r Record) error { return saveSteps(fsys, r, false, true) }, "binding record is corrupt"},
		{"no fsync of the directory after the rename", func(fsys afero.Fs, r Record) error { return saveSteps(fsys, r, true, false) }, "the write had returned"},
		{"the correct sequence, for contrast", func(fsys afero.Fs, r Record) error { return saveSteps(fsys, r, true, true) }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := exploreCrashes(t, crashCase{
				setup: withRecord(oldRecord),
				op:    func(fsys afero.Fs) error { return tt.save(fsys, newRecord) },
				check: checkRecord(&oldRecord, &newRecord),
			})
			if tt.catch == "" {
				assert.Empty(t, r.violations)
				return
			}
			require.NotEmpty(t, r.violations, "input: %s over %d crash points; got no violation; want the checker to catch it", tt.name, r.points)
			all := strings.Join(r.violations, "\n")
			assert.Contains(t, all, tt.catch)
			t.Logf("%d of %d reboot views caught, e.g.:\n%s", len(r.violations), r.views, r.violations[0])
		})
	}
}

// A write interrupted by a power cut may leave its temporary file behind;
// the next write of the same file removes it, so that crashes cannot fill
// the state directory.
func TestCrashLeftoversRemovedByNextWrite(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, fsys afero.Fs)
		op    func(fsys afero.Fs) error
	}{
		{"Save", withRecord(oldRecord), saveOp(newRecord)},
		{"Ledger.Issue", nil, func(fsys afero.Fs) error { return NewLedger(fsys, crashDir, fixedClock).Issue("dddddd") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := len(func() []crashfs.Op { c := newCrashFS(t, tt.setup); require.NoError(t, tt.op(c)); return c.Ops() }())
			leftovers := 0
			for k := range n {
				c := newCrashFS(t, tt.setup)
				c.CrashAfter(k)
				require.Error(t, tt.op(c))
				crashes, err := c.Crashes()
				require.NoError(t, err)
				for _, cr := range crashes {
					if hasTemp(t, cr.FS) {
						leftovers++
					}
					require.NoError(t, tt.op(cr.FS), "the write after the reboot")
					assert.False(t, hasTemp(t, cr.FS), "power lost after %d ops (%s); the next write left a temporary file:\n%s", k, cr.Desc, crashfs.Dump(cr.FS))
				}
			}
			assert.NotZero(t, leftovers, "some crash must leave a temporary file, or this test proves nothing")
		})
	}
}

func hasTemp(t *testing.T, fsys afero.Fs) bool {
	t.Helper()
	entries, err := afero.ReadDir(fsys, crashDir)
	require.NoError(t, err)
	for _, e := range entries {
		if strings.Contains(e.Name(), tempInfix) {
			return true
		}
	}
	return false
}

// A ledger file that cannot be read (an I/O error, not corruption) must not
// be overwritten with only the new entry: consumed nonces are what rejects
// a replayed confirmation, and the inbox log is evidence.
func TestLedgerReadErrorKeepsHistory(t *testing.T) {
	eio := func(name string) func(op crashfs.Op) error {
		return func(op crashfs.Op) error {
			if op.Kind == "open" && op.Path == filepath.Join(crashDir, name) {
				return &fs.PathError{Op: "open", Path: op.Path, Err: syscall.EIO}
			}
			return nil
		}
	}
	tests := []struct {
		name  string
		file  string
		write func(l *Ledger) error
	}{
		{"Issue", NoncesFile, func(l *Ledger) error { return l.Issue("dddddd") }},
		{"Consume", NoncesFile, func(l *Ledger) error { return l.Consume("dddddd") }},
		{"LogRejected", InboxFile, func(l *Ledger) error {
			return l.LogRejected(InboxEntry{Time: boundAt, From: "95555", Reason: "r", Text: "t"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCrashFS(t, func(t *testing.T, fsys afero.Fs) {
				l := NewLedger(fsys, crashDir, fixedClock)
				require.NoError(t, l.Issue("aaaaaa"))
				require.NoError(t, l.Consume("cccccc"))
				require.NoError(t, l.LogRejected(InboxEntry{Time: boundAt, From: "95555", Reason: "first", Text: "first"}))
			})
			path := filepath.Join(crashDir, tt.file)
			before, err := afero.ReadFile(c, path)
			require.NoError(t, err)
			c.Fail = eio(tt.file)
			err = tt.write(NewLedger(c, crashDir, fixedClock))
			require.ErrorIs(t, err, syscall.EIO, "input: %s while %s cannot be read; got %v, want the read error", tt.name, tt.file, err)
			c.Fail = nil
			after, err := afero.ReadFile(c, path)
			require.NoError(t, err)
			assert.Equal(t, string(before), string(after), "input: %s while %s cannot be read; got the file rewritten, want it left alone", tt.name, tt.file)
		})
	}
}
