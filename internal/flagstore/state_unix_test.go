//go:build unix

package flagstore

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hangLimit only catches an open that blocks (a FIFO opened for reading
// waits for a writer for ever); nothing is timed.
const hangLimit = 30 * time.Second

// plant puts something other than a regular file at path.
type plant struct {
	name string
	kind string // what the error says it is
	make func(t *testing.T, path string)
}

var plants = []plant{
	{"fifo", "a named pipe (FIFO)", func(t *testing.T, path string) {
		require.NoError(t, syscall.Mkfifo(path, 0o644))
	}},
	{"symlink to a valid record", "a symbolic link", func(t *testing.T, path string) {
		target := filepath.Join(t.TempDir(), "elsewhere.json")
		require.NoError(t, os.WriteFile(target, mustEncode(validRecord()), 0o600))
		require.NoError(t, os.Symlink(target, path))
	}},
	{"symlink to a fifo", "a symbolic link", func(t *testing.T, path string) {
		target := filepath.Join(t.TempDir(), "fifo")
		require.NoError(t, syscall.Mkfifo(target, 0o644))
		require.NoError(t, os.Symlink(target, path))
	}},
	{"symlink to a device", "a symbolic link", func(t *testing.T, path string) {
		require.NoError(t, os.Symlink("/dev/zero", path))
	}},
	{"dangling symlink", "a symbolic link", func(t *testing.T, path string) {
		require.NoError(t, os.Symlink(filepath.Join(t.TempDir(), "nothing"), path))
	}},
	{"directory", "a directory", func(t *testing.T, path string) {
		require.NoError(t, os.Mkdir(path, 0o755))
	}},
	{"socket", "a socket", func(t *testing.T, path string) {
		l, err := net.Listen("unix", path)
		require.NoError(t, err)
		t.Cleanup(func() { l.Close() })
	}},
}

// osBackends are the file systems over the real disk: the agent's OsFs
// (O_NOFOLLOW, O_NONBLOCK, fstat) and another afero file system over it
// (Lstat, then Stat of the open file).
var osBackends = []struct {
	name string
	make func(dir string) (afero.Fs, string)
}{
	{"OsFs", func(dir string) (afero.Fs, string) { return afero.NewOsFs(), dir }},
	{"BasePathFs", func(dir string) (afero.Fs, string) { return afero.NewBasePathFs(afero.NewOsFs(), dir), "/" }},
}

// withinHangLimit runs f, failing the test if it has not returned in
// hangLimit (a blocked open).
func withinHangLimit(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(hangLimit):
		t.Fatalf("%s did not return within %v: blocked opening a FIFO?", what, hangLimit)
	}
}

// TestOpenRegular: only a regular file is opened; anything else is reported
// with its path and what it is, without opening it for reading.
func TestOpenRegular(t *testing.T) {
	for _, b := range osBackends {
		for _, p := range plants {
			t.Run(b.name+"/"+p.name, func(t *testing.T) {
				dir := t.TempDir()
				fsys, root := b.make(dir)
				p.make(t, filepath.Join(dir, "state.json"))
				path := filepath.Join(root, "state.json")
				var err error
				withinHangLimit(t, "openRegular", func() {
					var f afero.File
					f, _, err = openRegular(fsys, path)
					if f != nil {
						f.Close()
					}
				})
				require.ErrorIs(t, err, errNotRegular, "openRegular of a %s", p.name)
				assert.Contains(t, err.Error(), "state.json is "+p.kind+", not a regular file")
			})
		}
		t.Run(b.name+"/regular", func(t *testing.T) {
			dir := t.TempDir()
			fsys, root := b.make(dir)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "state.json"), []byte("data"), 0o640))
			data, perm, err := readRegular(fsys, filepath.Join(root, "state.json"), 100)
			require.NoError(t, err)
			assert.Equal(t, "data", string(data))
			assert.Equal(t, fs.FileMode(0o640), perm)
		})
		t.Run(b.name+"/missing", func(t *testing.T) {
			fsys, root := b.make(t.TempDir())
			_, _, err := openRegular(fsys, filepath.Join(root, "state.json"))
			assert.ErrorIs(t, err, fs.ErrNotExist)
		})
	}
	t.Run("device", func(t *testing.T) {
		_, _, err := openRegular(afero.NewOsFs(), "/dev/null")
		require.ErrorIs(t, err, errNotRegular)
		assert.Contains(t, err.Error(), "/dev/null is a character device, not a regular file")
	})
}

// TestOpenCheckedOnOsFs: on the real file system the open itself neither
// follows a symbolic link nor blocks on a FIFO, should one be swapped in
// after the Lstat.
func TestOpenCheckedOnOsFs(t *testing.T) {
	for _, p := range plants {
		t.Run(p.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			p.make(t, path)
			var err error
			withinHangLimit(t, "openChecked", func() {
				var f afero.File
				f, _, err = openChecked(afero.NewOsFs(), path)
				if f != nil {
					f.Close()
				}
			})
			require.ErrorIs(t, err, errNotRegular, "openChecked of a %s", p.name)
			assert.Contains(t, err.Error(), path)
		})
	}
}

// TestNonRegularStateFiles: a FIFO, symbolic link, directory or socket in
// place of a state file is corrupt: Peek reports it and leaves it; Load
// and the Ledger move it aside (a rename: a symbolic link's target is never
// touched) and carry on; the next write puts a regular file in its place.
func TestNonRegularStateFiles(t *testing.T) {
	for _, b := range osBackends {
		for _, p := range plants {
			t.Run(b.name+"/"+p.name, func(t *testing.T) {
				dir := t.TempDir()
				fsys, root := b.make(dir)
				for _, name := range []string{FileName, NoncesFile, InboxFile} {
					p.make(t, filepath.Join(dir, name))
				}
				s := New(fsys, root, fixedClock)
				l := NewLedger(fsys, root, fixedClock)
				withinHangLimit(t, "Peek, Load, Nonces, Issue, LogRejected", func() {
					_, err := s.Peek(tid)
					require.ErrorIs(t, err, ErrCorrupt, "Peek")
					assert.Contains(t, err.Error(), s.Path()+": it is "+p.kind+", not a regular file")
					_, err = os.Lstat(filepath.Join(dir, FileName))
					require.NoError(t, err, "Peek leaves it in place")

					_, err = s.Load(tid)
					require.ErrorIs(t, err, ErrCorrupt, "Load")
					assert.Contains(t, err.Error(), s.Path())
					assert.Contains(t, err.Error(), "it is "+p.kind+", not a regular file; moved aside to "+s.Path()+".corrupt-")
					_, err = s.Load(tid)
					require.ErrorIs(t, err, ErrNotFound, "Load once it was moved aside")
					require.NoError(t, s.Save(validRecord()))

					_, err = l.Nonces()
					require.ErrorIs(t, err, ErrCorrupt, "Nonces")
					assert.Contains(t, err.Error(), filepath.Join(root, NoncesFile)+": it is "+p.kind)
					require.NoError(t, l.Issue("aaaaaa"))
					require.NoError(t, l.LogRejected(InboxEntry{Time: boundAt, From: "95555", Reason: "r", Text: "t"}))
				})
				for _, name := range []string{FileName, NoncesFile, InboxFile} {
					fi, err := os.Lstat(filepath.Join(dir, name))
					require.NoError(t, err)
					assert.True(t, fi.Mode().IsRegular(), "%s rewritten as a regular file: %v", name, fi.Mode())
					aside, err := filepath.Glob(filepath.Join(dir, name+corruptInfix+"*"))
					require.NoError(t, err)
					require.Len(t, aside, 1, "%s moved aside once", name)
					fi, err = os.Lstat(aside[0])
					require.NoError(t, err)
					assert.Equal(t, fileKind(fi.Mode()), p.kind, "what was moved aside is the %s itself", p.name)
				}
			})
		}
	}
}

// TestStateFileModes: every state file, its temporary file from the
// first byte written, and a quarantined copy are 0600 whatever the umask;
// the mode is set on the open file (the file system's Chmod by name is
// never needed on the real disk).
func TestStateFileModes(t *testing.T) {
	for _, umask := range []int{0, 0o022, 0o077, 0o777} {
		t.Run(os.FileMode(umask).String(), func(t *testing.T) {
			old := syscall.Umask(umask)
			t.Cleanup(func() { syscall.Umask(old) })
			dir := t.TempDir()
			require.NoError(t, os.Chmod(dir, 0o755)) // under umask 0777 t.TempDir is 0700 anyway
			spy := &modeSpyFs{Fs: afero.NewOsFs(), modes: map[string]fs.FileMode{}}
			s := New(spy, dir, fixedClock)
			l := NewLedger(spy, dir, fixedClock)
			require.NoError(t, s.Save(validRecord()))
			require.NoError(t, l.Issue("aaaaaa"))
			require.NoError(t, l.LogRejected(InboxEntry{Time: boundAt, From: "95555", Reason: "r", Text: "t"}))
			// A corrupt record, written 0644 by someone else, quarantined.
			require.NoError(t, os.WriteFile(filepath.Join(dir, NoncesFile), []byte("garbage"), 0o644))
			require.NoError(t, os.Chmod(filepath.Join(dir, NoncesFile), 0o644))
			_, err := l.Nonces()
			require.ErrorIs(t, err, ErrCorrupt)

			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Len(t, entries, 3, "binding.json, inbox.json and the quarantined nonces.json: %v", entries)
			for _, e := range entries {
				fi, err := e.Info()
				require.NoError(t, err)
				assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm(), "mode of %s under umask %04o", e.Name(), umask)
			}
			require.Len(t, spy.modes, 3, "temporary files written: %v", spy.modes)
			for name, mode := range spy.modes {
				assert.True(t, strings.Contains(name, tempInfix), "only temporary files are written to: %s", name)
				assert.Equal(t, fs.FileMode(0o600), mode, "mode of %s at its first write, under umask %04o", name, umask)
			}
		})
	}
}

// modeSpyFs records the mode of each file when it is first written to, and
// refuses Chmod by name: the real disk must get its modes by fchmod.
type modeSpyFs struct {
	afero.Fs
	modes map[string]fs.FileMode
}

func (m *modeSpyFs) LstatIfPossible(name string) (os.FileInfo, bool, error) {
	return m.Fs.(afero.Lstater).LstatIfPossible(name)
}

func (m *modeSpyFs) Chmod(name string, mode os.FileMode) error {
	return &fs.PathError{Op: "chmod", Path: name, Err: errors.New("chmod by name: want fchmod")}
}

func (m *modeSpyFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	f, err := m.Fs.OpenFile(name, flag, perm)
	if err != nil || flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return f, err
	}
	return &modeSpyFile{File: f.(*os.File), spy: m}, nil
}

// modeSpyFile is an *os.File (with its Chmod: fchmod) that records its mode
// at the first write.
type modeSpyFile struct {
	*os.File
	spy *modeSpyFs
}

func (f *modeSpyFile) Write(p []byte) (int, error) {
	if _, ok := f.spy.modes[f.Name()]; !ok {
		fi, err := os.Lstat(f.Name())
		if err != nil {
			return 0, err
		}
		f.spy.modes[f.Name()] = fi.Mode().Perm()
	}
	return f.File.Write(p)
}
