package flagstore

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const tid = "STB0012345678"

var (
	boundAt = time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	clockAt = time.Date(2026, 11, 26, 8, 30, 15, 0, time.UTC)
)

func fixedClock() time.Time { return clockAt }

func validRecord() Record {
	return Record{
		Version:    Version,
		TerminalID: tid,
		MSISDN:     "138****8000",
		Source:     SourceSMS,
		BoundAt:    boundAt,
		Nonce:      "q8x3k2",
		Token:      "BP1 t=STB0012345678 m=138****8000 n=q8x3k2 s=FWC0YGwf5vt1dIPLmlT2ww",
	}
}

// backend makes a file system and an existing, empty state directory on it.
type backend struct {
	name string
	make func(t *testing.T) (afero.Fs, string)
}

var backends = []backend{
	{"MemMapFs", func(t *testing.T) (afero.Fs, string) {
		fsys := afero.NewMemMapFs()
		require.NoError(t, fsys.MkdirAll("/var/lib/bindpay", 0o755))
		return fsys, "/var/lib/bindpay"
	}},
	{"OsFs", func(t *testing.T) (afero.Fs, string) {
		return afero.NewOsFs(), t.TempDir()
	}},
}

// TestStoreConformance runs the same behaviour checks over every backend the
// agent or its tests use.
func TestStoreConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { runStoreConformance(t, b.make) })
	}
}

func runStoreConformance(t *testing.T, mk func(t *testing.T) (afero.Fs, string)) {
	t.Helper()

	t.Run("round trip", func(t *testing.T) {
		fsys, dir := mk(t)
		s := New(fsys, dir, fixedClock)
		want := validRecord()
		require.NoError(t, s.Save(want))
		got, err := s.Load(tid)
		require.NoError(t, err, "Load after Save(%+v)", want)
		assert.Equal(t, want, got, "Load after Save: got %+v, want %+v", got, want)
		assertNoTemp(t, fsys, dir)
	})

	t.Run("round trip without nonce, platform source, any terminal", func(t *testing.T) {
		fsys, dir := mk(t)
		s := New(fsys, dir, fixedClock)
		want := validRecord()
		want.Nonce = ""
		want.Source = SourcePlatform
		require.NoError(t, s.Save(want))
		got, err := s.Load("")
		require.NoError(t, err)
		assert.Equal(t, want, got)
	})

	t.Run("save stamps zero version and bound_at, stores UTC", func(t *testing.T) {
		fsys, dir := mk(t)
		s := New(fsys, dir, fixedClock)
		in := validRecord()
		in.Version = 0
		in.BoundAt = time.Time{}
		require.NoError(t, s.Save(in))
		got, err := s.Load(tid)
		require.NoError(t, err)
		assert.Equal(t, Version, got.Version, "version of a record saved with version 0")
		assert.Equal(t, clockAt, got.BoundAt, "bound_at of a record saved with zero bound_at")

		in.BoundAt = time.Date(2026, 11, 26, 4, 0, 0, 0, time.FixedZone("CST", 8*3600))
		require.NoError(t, s.Save(in))
		got, err = s.Load(tid)
		require.NoError(t, err)
		assert.Equal(t, time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC), got.BoundAt, "bound_at saved in +08:00")
	})

	t.Run("save replaces the previous record", func(t *testing.T) {
		fsys, dir := mk(t)
		s := New(fsys, dir, fixedClock)
		require.NoError(t, s.Save(validRecord()))
		second := validRecord()
		second.MSISDN = "139****0001"
		require.NoError(t, s.Save(second))
		got, err := s.Load(tid)
		require.NoError(t, err)
		assert.Equal(t, second, got)
		assertNoTemp(t, fsys, dir)
	})

	t.Run("missing record", func(t *testing.T) {
		fsys, dir := mk(t)
		s := New(fsys, dir, fixedClock)
		_, err := s.Load(tid)
		require.ErrorIs(t, err, ErrNotFound)
		assert.Contains(t, err.Error(), s.Path(), "error should name the path")
	})

	t.Run("remove is idempotent", func(t *testing.T) {
		fsys, dir := mk(t)
		s := New(fsys, dir, fixedClock)
		require.NoError(t, s.Remove(), "Remove with no record")
		require.NoError(t, s.Save(validRecord()))
		require.NoError(t, s.Remove())
		_, err := s.Load(tid)
		require.ErrorIs(t, err, ErrNotFound, "Load after Remove")
		require.NoError(t, s.Remove(), "second Remove")
	})

	t.Run("save into a missing directory", func(t *testing.T) {
		fsys, dir := mk(t)
		missing := filepath.Join(dir, "nope")
		s := New(fsys, missing, fixedClock)
		err := s.Save(validRecord())
		require.Error(t, err)
		assert.Contains(t, err.Error(), missing, "error should name the directory")
		assert.Contains(t, err.Error(), "does not exist")
		_, statErr := fsys.Stat(missing)
		assert.ErrorIs(t, statErr, fs.ErrNotExist, "Save must not create the state directory")
	})

	t.Run("corrupt records are quarantined", func(t *testing.T) {
		for _, tc := range corruptCases(t) {
			t.Run(tc.name, func(t *testing.T) {
				fsys, dir := mk(t)
				s := New(fsys, dir, fixedClock)
				require.NoError(t, afero.WriteFile(fsys, s.Path(), tc.data, 0o644))

				_, err := s.Load(tid)
				require.ErrorIs(t, err, ErrCorrupt, "Load of %s", tc.name)
				quarantined := s.Path() + ".corrupt-20261126T083015Z"
				assert.Contains(t, err.Error(), tc.why, "error should say why")
				assert.Contains(t, err.Error(), quarantined, "error should say where the file went")

				kept, readErr := afero.ReadFile(fsys, quarantined)
				require.NoError(t, readErr, "quarantined file")
				assert.Equal(t, tc.data, kept, "quarantined file must keep the original bytes")

				_, err = s.Load(tid)
				assert.ErrorIs(t, err, ErrNotFound, "Load after quarantine")
			})
		}
	})

	t.Run("record of another terminal accepted with empty terminal id", func(t *testing.T) {
		fsys, dir := mk(t)
		s := New(fsys, dir, fixedClock)
		other := validRecord()
		other.TerminalID = "STB9999999999"
		require.NoError(t, s.Save(other))
		got, err := s.Load("")
		require.NoError(t, err)
		assert.Equal(t, other, got)
	})

	t.Run("second quarantine in the same second keeps the first", func(t *testing.T) {
		fsys, dir := mk(t)
		s := New(fsys, dir, fixedClock)
		for i, data := range []string{"first", "second"} {
			require.NoError(t, afero.WriteFile(fsys, s.Path(), []byte(data), 0o644))
			_, err := s.Load(tid)
			require.ErrorIs(t, err, ErrCorrupt, "load %d", i)
		}
		first, err := afero.ReadFile(fsys, s.Path()+".corrupt-20261126T083015Z")
		require.NoError(t, err)
		second, err := afero.ReadFile(fsys, s.Path()+".corrupt-20261126T083015Z.1")
		require.NoError(t, err)
		assert.Equal(t, "first", string(first))
		assert.Equal(t, "second", string(second))
	})

	// Something other than a regular file in the record's place is
	// corrupt: moved aside (renamed, never opened for reading), so that the
	// terminal carries on as not bound and its next Save succeeds.
	t.Run("record path is a directory", func(t *testing.T) {
		fsys, dir := mk(t)
		s := New(fsys, dir, fixedClock)
		require.NoError(t, fsys.Mkdir(s.Path(), 0o755))
		_, err := s.Peek(tid)
		require.ErrorIs(t, err, ErrCorrupt, "Peek of a directory")
		assert.Contains(t, err.Error(), s.Path()+": it is a directory, not a regular file")
		fi, statErr := fsys.Stat(s.Path())
		require.NoError(t, statErr, "Peek leaves the directory in place")
		assert.True(t, fi.IsDir())

		_, err = s.Load(tid)
		require.ErrorIs(t, err, ErrCorrupt, "Load of a directory")
		assert.Contains(t, err.Error(), s.Path())
		assert.Contains(t, err.Error(), "it is a directory, not a regular file")
		aside := s.Path() + ".corrupt-20261126T083015Z"
		assert.Contains(t, err.Error(), "moved aside to "+aside)
		fi, statErr = fsys.Stat(aside)
		require.NoError(t, statErr, "the directory was moved aside")
		assert.True(t, fi.IsDir())
		_, err = s.Load(tid)
		require.ErrorIs(t, err, ErrNotFound, "Load after the directory was moved aside")
		require.NoError(t, s.Save(validRecord()), "Save once the directory was moved aside")
	})
}

type corruptCase struct {
	name string
	data []byte
	why  string // part of the error text
}

func corruptCases(t *testing.T) []corruptCase {
	t.Helper()
	valid := encodeFile(t, validRecord())
	rewrite := func(edit func(m map[string]any)) []byte {
		var m map[string]any
		require.NoError(t, json.Unmarshal(valid, &m))
		edit(m)
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return b
	}
	other := validRecord()
	other.TerminalID = "STB9999999999"
	badSource := validRecord()
	badSource.Source = "carrier-pigeon"
	return []corruptCase{
		{"tampered checksum", rewrite(func(m map[string]any) { m["checksum"] = "sha256:" + strings.Repeat("0", 64) }), "checksum mismatch"},
		{"tampered field", rewrite(func(m map[string]any) { m["msisdn"] = "139****0000" }), "checksum mismatch"},
		{"missing checksum", rewrite(func(m map[string]any) { delete(m, "checksum") }), "checksum mismatch"},
		{"truncated", valid[:len(valid)/2], "not a JSON record"},
		{"empty", []byte{}, "not a JSON record"},
		{"garbage", []byte("\x00\xffnot json at all"), "not a JSON record"},
		{"json array", []byte(`[1,2,3]`), "not a JSON record"},
		{"future version", rewrite(func(m map[string]any) { m["version"] = 3 }), "unsupported version 3"},
		{"no version", rewrite(func(m map[string]any) { delete(m, "version") }), "unsupported version 0"},
		{"other terminal", encodeFile(t, other), `written for terminal "STB9999999999"`},
		{"invalid source with valid checksum", encodeFile(t, badSource), "source"},
		{"oversized", append(valid, []byte(strings.Repeat(" ", MaxSize))...), "larger than"},
	}
}

// encodeFile builds a record file the way Save does, without validation, so
// tests can make well-formed files holding invalid records.
func encodeFile(t *testing.T, r Record) []byte {
	t.Helper()
	return mustEncode(r)
}

func assertNoTemp(t *testing.T, fsys afero.Fs, dir string) {
	t.Helper()
	entries, err := afero.ReadDir(fsys, dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.NotContains(t, e.Name(), tempInfix, "temporary file left in %s", dir)
	}
}

func TestChecksumMatchesDocumentedExample(t *testing.T) {
	// The example in doc.go; another implementation can check itself
	// against it.
	canonical := `{"version":2,"terminal_id":"STB0012345678","msisdn":"138****8000","source":"sms","bound_at":"2026-11-25T20:00:00Z","nonce":"q8x3k2","token":"BP1 t=STB0012345678 m=138****8000 n=q8x3k2 s=FWC0YGwf5vt1dIPLmlT2ww"}`
	const want = "sha256:ecba179898b518a1181318d93e336f652e66c56a6ec7ac4c406e4dcd0177017d"

	enc, err := json.Marshal(validRecord())
	require.NoError(t, err)
	assert.Equal(t, canonical, string(enc), "canonical encoding")
	sum := sha256.Sum256([]byte(canonical))
	assert.Equal(t, want, "sha256:"+hex.EncodeToString(sum[:]))
	got, err := checksum(validRecord())
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

func TestSavedFileFormat(t *testing.T) {
	fsys := afero.NewMemMapFs()
	require.NoError(t, fsys.Mkdir("/s", 0o755))
	s := New(fsys, "/s", fixedClock)
	require.NoError(t, s.Save(validRecord()))
	data, err := afero.ReadFile(fsys, "/s/binding.json")
	require.NoError(t, err)

	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m), "file %q", data)
	assert.Equal(t, map[string]any{
		"version":     2.0,
		"terminal_id": tid,
		"msisdn":      "138****8000",
		"source":      "sms",
		"bound_at":    "2026-11-25T20:00:00Z",
		"nonce":       "q8x3k2",
		"token":       "BP1 t=STB0012345678 m=138****8000 n=q8x3k2 s=FWC0YGwf5vt1dIPLmlT2ww",
		"checksum":    "sha256:ecba179898b518a1181318d93e336f652e66c56a6ec7ac4c406e4dcd0177017d",
	}, m)
	assert.True(t, strings.HasSuffix(string(data), "}\n"), "file ends with a newline")
}

func TestSaveRejectsInvalidRecords(t *testing.T) {
	tests := []struct {
		name string
		edit func(r *Record)
		want string
	}{
		{"empty terminal id", func(r *Record) { r.TerminalID = "" }, "terminal ID"},
		{"terminal id with a newline", func(r *Record) { r.TerminalID = "STB1\nX" }, "terminal ID"},
		{"msisdn with a newline", func(r *Record) { r.MSISDN = "138****8000\nREADY=1" }, "msisdn"},
		{"token with a newline", func(r *Record) { r.Token += "\nREADY=1" }, "token is not one line"},
		{"unknown source", func(r *Record) { r.Source = "oss" }, `source "oss"`},
		{"empty source", func(r *Record) { r.Source = "" }, `source ""`},
		{"invalid utf-8", func(r *Record) { r.MSISDN = "138\xff" }, "msisdn"},
		{"year out of range", func(r *Record) { r.BoundAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "out of range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys := afero.NewMemMapFs()
			require.NoError(t, fsys.Mkdir("/s", 0o755))
			s := New(fsys, "/s", fixedClock)
			r := validRecord()
			tc.edit(&r)
			err := s.Save(r)
			require.ErrorIs(t, err, ErrInvalid, "Save(%+v)", r)
			assert.Contains(t, err.Error(), tc.want)
			entries, err := afero.ReadDir(fsys, "/s")
			require.NoError(t, err)
			assert.Empty(t, entries, "nothing may be written for an invalid record")
		})
	}
}

func TestSaveReadOnlyFs(t *testing.T) {
	base := afero.NewMemMapFs()
	require.NoError(t, base.Mkdir("/ro", 0o755))
	s := New(afero.NewReadOnlyFs(base), "/ro", fixedClock)
	err := s.Save(validRecord())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "/ro", "error should name the state directory")
	assert.Contains(t, err.Error(), "writable")
	entries, err := afero.ReadDir(base, "/ro")
	require.NoError(t, err)
	assert.Empty(t, entries)
}

var errInjected = errors.New("injected fault")

// faultFs fails one step of Save, to check that every failure is reported
// and leaves no temporary file behind.
type faultFs struct {
	afero.Fs
	fail string // "write", "sync", "close", "rename", "dirsync", "quarantine"
}

func (f *faultFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	file, err := f.Fs.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fail: f.fail}, nil
}

func (f *faultFs) Open(name string) (afero.File, error) {
	file, err := f.Fs.Open(name)
	if err != nil || f.fail != "dirsync" {
		return file, err
	}
	return &faultFile{File: file, fail: "sync"}, nil
}

func (f *faultFs) Rename(oldname, newname string) error {
	if f.fail == "rename" || f.fail == "quarantine" {
		return errInjected
	}
	return f.Fs.Rename(oldname, newname)
}

type faultFile struct {
	afero.File
	fail string
}

func (f *faultFile) Write(p []byte) (int, error) {
	if f.fail == "write" {
		return 0, errInjected
	}
	return f.File.Write(p)
}

func (f *faultFile) Sync() error {
	if f.fail == "sync" {
		return errInjected
	}
	return f.File.Sync()
}

func (f *faultFile) Close() error {
	err := f.File.Close()
	if f.fail == "close" {
		return errInjected
	}
	return err
}

func TestSaveFailuresLeaveNoTempFile(t *testing.T) {
	tests := []struct {
		fail       string
		want       string
		recordKept bool // the new record is in place despite the error
	}{
		{"write", "write ", false},
		{"sync", "sync ", false},
		{"close", "close ", false},
		{"rename", "rename ", false},
		{"dirsync", "sync directory", true},
	}
	for _, b := range backends {
		for _, tc := range tests {
			t.Run(b.name+"/"+tc.fail, func(t *testing.T) {
				base, dir := b.make(t)
				s := New(&faultFs{Fs: base, fail: tc.fail}, dir, fixedClock)
				err := s.Save(validRecord())
				require.ErrorIs(t, err, errInjected, "Save with a failing %s", tc.fail)
				assert.Contains(t, err.Error(), tc.want)
				assert.Contains(t, err.Error(), s.Path())
				assertNoTemp(t, base, dir)

				_, err = New(base, dir, fixedClock).Load(tid)
				if tc.recordKept {
					assert.NoError(t, err, "record after a failed directory sync")
				} else {
					assert.ErrorIs(t, err, ErrNotFound, "record after a failed %s", tc.fail)
				}
			})
		}
	}
}

func TestQuarantineRenameFails(t *testing.T) {
	base := afero.NewMemMapFs()
	require.NoError(t, base.Mkdir("/s", 0o755))
	require.NoError(t, afero.WriteFile(base, "/s/binding.json", []byte("garbage"), 0o644))
	s := New(&faultFs{Fs: base, fail: "quarantine"}, "/s", fixedClock)
	_, err := s.Load(tid)
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorIs(t, err, errInjected)
	assert.Contains(t, err.Error(), "could not move it aside")
	assert.Contains(t, err.Error(), "/s/binding.json")
}

func TestOsFsFileMode(t *testing.T) {
	dir := t.TempDir()
	s := New(afero.NewOsFs(), dir, fixedClock)
	require.NoError(t, s.Save(validRecord()))
	fi, err := os.Stat(filepath.Join(dir, FileName))
	require.NoError(t, err)
	assert.Zero(t, fi.Mode().Perm()&0o022, "record must not be group or world writable: %v", fi.Mode())
}

func FuzzLoad(f *testing.F) {
	valid := mustEncode(validRecord())
	f.Add(valid)
	noNonce := validRecord()
	noNonce.Nonce = ""
	f.Add(mustEncode(noNonce))
	f.Add(valid[:len(valid)/2])
	f.Add([]byte(strings.Replace(string(valid), `"msisdn": "138`, `"msisdn": "139`, 1)))
	f.Add([]byte(strings.Replace(string(valid), `"version": 1`, `"version": 2`, 1)))
	f.Add([]byte(`{"version":1,"terminal_id":"x","msisdn":"","source":"sms","bound_at":"2026-11-25T20:00:00+08:00","checksum":"sha256:"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(``))
	f.Add([]byte("\x00\xff"))

	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := afero.NewMemMapFs()
		require.NoError(t, fsys.Mkdir("/s", 0o755))
		s := New(fsys, "/s", fixedClock)
		require.NoError(t, afero.WriteFile(fsys, s.Path(), data, 0o644))

		r, err := s.Load("")
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt, "Load(%q)", data)
			_, err = s.Load("")
			require.ErrorIs(t, err, ErrNotFound, "Load after quarantine of %q", data)
			return
		}
		require.NoError(t, s.Save(r), "re-Save of %+v loaded from %q", r, data)
		again, err := s.Load(r.TerminalID)
		require.NoError(t, err, "Load after re-Save of %+v", r)
		assert.True(t, r.BoundAt.Equal(again.BoundAt), "bound_at: got %v, want %v", again.BoundAt, r.BoundAt)
		r.BoundAt, again.BoundAt = time.Time{}, time.Time{}
		assert.Equal(t, r, again, "round trip of the record loaded from %q", data)
	})
}

// mustEncode is encodeFile for places without a *testing.T (fuzz seeds).
func mustEncode(r Record) []byte {
	sum, err := checksum(r)
	if err != nil {
		panic(err)
	}
	b, err := json.MarshalIndent(file{Record: r, Checksum: sum}, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

func TestVersion1RecordStillRead(t *testing.T) {
	// A record written by a release before the proof: version 1, no token,
	// its checksum as doc.go's first example gave it.
	v1 := `{
  "version": 1,
  "terminal_id": "STB0012345678",
  "msisdn": "138****8000",
  "source": "sms",
  "bound_at": "2026-11-25T20:00:00Z",
  "nonce": "q8x3k2",
  "checksum": "sha256:92803085fd9801f1120614922bb4cca5e939c00023914d7207479e2c546dee41"
}
`
	fsys := afero.NewMemMapFs()
	require.NoError(t, fsys.Mkdir("/s", 0o755))
	require.NoError(t, afero.WriteFile(fsys, "/s/binding.json", []byte(v1), 0o600))
	s := New(fsys, "/s", fixedClock)
	r, err := s.Load(tid)
	require.NoError(t, err)
	assert.Equal(t, Version1, r.Version)
	assert.Empty(t, r.Token)

	// Saved again, it becomes version 2.
	r.Token = validRecord().Token
	require.NoError(t, s.Save(r))
	r2, err := s.Load(tid)
	require.NoError(t, err)
	assert.Equal(t, Version, r2.Version)
	assert.Equal(t, r.Token, r2.Token)

	// A version 1 record with a token is not one release ever wrote.
	bad := strings.Replace(v1, `"nonce": "q8x3k2",`, `"nonce": "q8x3k2", "token": "BP1 t=STB0012345678 m=138****8000",`, 1)
	require.NoError(t, afero.WriteFile(fsys, "/s/binding.json", []byte(bad), 0o600))
	_, err = s.Load(tid)
	require.ErrorIs(t, err, ErrCorrupt)
}
