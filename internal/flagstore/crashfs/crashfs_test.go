package crashfs_test

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/flagstore/crashfs"
)

// setup returns a file system holding /d/old = "old", all durable.
func setup(t *testing.T) *crashfs.FS {
	t.Helper()
	c := crashfs.New()
	require.NoError(t, c.MkdirAll("/d", 0o755))
	require.NoError(t, afero.WriteFile(c, "/d/old", []byte("old"), 0o644))
	c.Checkpoint()
	return c
}

// content reads name from a reboot view; "<absent>" when it is not there.
func content(t *testing.T, fsys afero.Fs, name string) string {
	t.Helper()
	data, err := afero.ReadFile(fsys, name)
	if errors.Is(err, fs.ErrNotExist) {
		return "<absent>"
	}
	require.NoError(t, err)
	return string(data)
}

func syncDir(t *testing.T, c afero.Fs, dir string) {
	t.Helper()
	d, err := c.Open(dir)
	require.NoError(t, err)
	require.NoError(t, d.Sync())
	require.NoError(t, d.Close())
}

func write(t *testing.T, c afero.Fs, name, data string, flag int, sync bool) {
	t.Helper()
	f, err := c.OpenFile(name, flag, 0o644)
	require.NoError(t, err)
	_, err = f.Write([]byte(data))
	require.NoError(t, err)
	if sync {
		require.NoError(t, f.Sync())
	}
	require.NoError(t, f.Close())
}

// views returns the content of name in every crash view, deduplicated.
func views(t *testing.T, c *crashfs.FS, name string) []string {
	t.Helper()
	crashes, err := c.Crashes()
	require.NoError(t, err)
	var out []string
	for _, cr := range crashes {
		if s := content(t, cr.FS, name); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

func TestDurabilityModel(t *testing.T) {
	const create = os.O_WRONLY | os.O_CREATE | os.O_EXCL
	tests := []struct {
		name string
		do   func(t *testing.T, c *crashfs.FS)
		file string
		// strict: what Reboot finds; all: what the crash views may find.
		strict string
		all    []string
	}{
		{
			name:   "nothing done",
			do:     func(*testing.T, *crashfs.FS) {},
			file:   "/d/old",
			strict: "old",
			all:    []string{"old"},
		},
		{
			name: "unsynced write to a durable entry is lost",
			do: func(t *testing.T, c *crashfs.FS) {
				write(t, c, "/d/new", "new data", create, false)
				syncDir(t, c, "/d")
			},
			file:   "/d/new",
			strict: "", // the entry is durable, the data is not
			all:    []string{"", "new ", "new data"},
		},
		{
			name: "synced file without a directory sync disappears",
			do: func(t *testing.T, c *crashfs.FS) {
				write(t, c, "/d/new", "new data", create, true)
			},
			file:   "/d/new",
			strict: "<absent>",
			all:    []string{"<absent>", "new data"},
		},
		{
			name: "synced file and directory are durable",
			do: func(t *testing.T, c *crashfs.FS) {
				write(t, c, "/d/new", "new data", create, true)
				syncDir(t, c, "/d")
			},
			file:   "/d/new",
			strict: "new data",
			all:    []string{"new data"},
		},
		{
			name: "rename is lost without a directory sync",
			do: func(t *testing.T, c *crashfs.FS) {
				write(t, c, "/d/tmp", "new", create, true)
				require.NoError(t, c.Rename("/d/tmp", "/d/old"))
			},
			file:   "/d/old",
			strict: "old",
			all:    []string{"new", "old"},
		},
		{
			name: "rename made durable by the directory sync",
			do: func(t *testing.T, c *crashfs.FS) {
				write(t, c, "/d/tmp", "new", create, true)
				require.NoError(t, c.Rename("/d/tmp", "/d/old"))
				syncDir(t, c, "/d")
			},
			file:   "/d/old",
			strict: "new",
			all:    []string{"new"},
		},
		{
			name: "rename of an unsynced file may expose empty or torn data",
			do: func(t *testing.T, c *crashfs.FS) {
				write(t, c, "/d/tmp", "new!", create, false)
				require.NoError(t, c.Rename("/d/tmp", "/d/old"))
				syncDir(t, c, "/d")
			},
			file:   "/d/old",
			strict: "",
			all:    []string{"", "ne", "new!"},
		},
		{
			name: "write in place passes through empty and torn states, even with fsync",
			do: func(t *testing.T, c *crashfs.FS) {
				write(t, c, "/d/old", "NEWER", os.O_WRONLY|os.O_TRUNC, true)
			},
			file:   "/d/old",
			strict: "NEWER",
			all:    []string{"NEWER"}, // synced: nothing left to lose
		},
		{
			name: "remove is lost without a directory sync",
			do: func(t *testing.T, c *crashfs.FS) {
				require.NoError(t, c.Remove("/d/old"))
			},
			file:   "/d/old",
			strict: "old",
			all:    []string{"<absent>", "old"},
		},
		{
			name: "mkdir is lost without a sync of its parent",
			do: func(t *testing.T, c *crashfs.FS) {
				require.NoError(t, c.Mkdir("/d/sub", 0o755))
				write(t, c, "/d/sub/f", "x", create, true)
				syncDir(t, c, "/d/sub")
			},
			file:   "/d/sub/f",
			strict: "<absent>",
			all:    []string{"<absent>", "x"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := setup(t)
			tt.do(t, c)
			assert.Equal(t, tt.strict, content(t, c.Reboot(), tt.file), "strict reboot view of %s", tt.file)
			assert.Equal(t, tt.all, views(t, c, tt.file), "crash views of %s", tt.file)
		})
	}
}

// Between the write in place and its fsync, the crash views include the
// truncated and the half-written file.
func TestWriteInPlaceTornBeforeSync(t *testing.T) {
	c := setup(t)
	f, err := c.OpenFile("/d/old", os.O_WRONLY|os.O_TRUNC, 0)
	require.NoError(t, err)
	_, err = f.Write([]byte("NEWER"))
	require.NoError(t, err)
	assert.Equal(t, []string{"", "NE", "NEWER", "old"}, views(t, c, "/d/old"))
	assert.Equal(t, "NEWER", content(t, c, "/d/old"), "the live view sees the write")
	require.NoError(t, f.Close())
}

func TestCrashAfter(t *testing.T) {
	c := setup(t)
	c.CrashAfter(2)
	f, err := c.OpenFile("/d/new", os.O_WRONLY|os.O_CREATE, 0o644) // 1
	require.NoError(t, err)
	_, err = f.Write([]byte("abc")) // 2
	require.NoError(t, err)
	assert.False(t, c.PowerLost())
	err = f.Sync() // 3: the power is out
	require.ErrorIs(t, err, crashfs.ErrPowerLost)
	assert.True(t, c.PowerLost())
	require.ErrorIs(t, f.Close(), crashfs.ErrPowerLost, "everything fails once the power is out")
	_, err = c.Stat("/d/old")
	require.ErrorIs(t, err, crashfs.ErrPowerLost)
	_, err = f.Read(make([]byte, 1))
	require.ErrorIs(t, err, crashfs.ErrPowerLost)

	ops := c.Ops()
	require.Len(t, ops, 2, "ops: %v", ops)
	assert.Equal(t, "1 openfile /d/new O_WRONLY|O_CREATE", ops[0].String())
	assert.Equal(t, "2 write /d/new 3 bytes at 0", ops[1].String())
	assert.Equal(t, "<absent>", content(t, c.Reboot(), "/d/new"), "the failed sync made nothing durable")
	assert.Equal(t, "old", content(t, c.Reboot(), "/d/old"))
}

func TestCrashAfterZero(t *testing.T) {
	c := setup(t)
	c.CrashAfter(0)
	_, err := c.OpenFile("/d/new", os.O_WRONLY|os.O_CREATE, 0o644)
	require.ErrorIs(t, err, crashfs.ErrPowerLost)
	assert.Empty(t, c.Ops())
	exists, err := afero.Exists(c.Reboot(), "/d/new")
	require.NoError(t, err)
	assert.False(t, exists, "an operation refused for lack of power has no effect")
}

func TestOpsRecordsEveryKind(t *testing.T) {
	c := setup(t)
	write(t, c, "/d/tmp", "x", os.O_WRONLY|os.O_CREATE|os.O_EXCL, true)
	require.NoError(t, c.Rename("/d/tmp", "/d/old"))
	syncDir(t, c, "/d")
	require.NoError(t, c.Mkdir("/d/sub", 0o755))
	require.NoError(t, c.Remove("/d/old"))
	var got []string
	for _, op := range c.Ops() {
		got = append(got, op.Kind)
	}
	assert.Equal(t, []string{"openfile", "write", "sync", "close", "rename", "open", "syncdir", "close", "mkdir", "remove"}, got)
}

func TestCheckpointMakesEverythingDurable(t *testing.T) {
	c := crashfs.New()
	require.NoError(t, c.MkdirAll("/a/b", 0o755))
	require.NoError(t, afero.WriteFile(c, "/a/b/f", []byte("data"), 0o600))
	assert.Equal(t, "<absent>", content(t, c.Reboot(), "/a/b/f"), "nothing synced yet")
	c.Checkpoint()
	assert.Empty(t, c.Ops(), "the log starts afresh")
	r := c.Reboot()
	assert.Equal(t, "data", content(t, r, "/a/b/f"))
	fi, err := r.Stat("/a/b/f")
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the mode survives")
}

func TestFailHook(t *testing.T) {
	c := setup(t)
	c.Fail = func(op crashfs.Op) error {
		if op.Kind == "write" {
			return &fs.PathError{Op: "write", Path: op.Path, Err: syscall.ENOSPC}
		}
		return nil
	}
	f, err := c.OpenFile("/d/new", os.O_WRONLY|os.O_CREATE, 0o644)
	require.NoError(t, err)
	_, err = f.Write([]byte("abc"))
	require.ErrorIs(t, err, syscall.ENOSPC)
	require.NoError(t, f.Close())
	assert.Equal(t, "", content(t, c, "/d/new"), "a failed write has no effect")
}

// TestNotInAgentBinary: crashfs is a test helper; the agent must not
// import it.
func TestNotInAgentBinary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "bindpay/cmd/agent").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Skipf("go list bindpay/cmd/agent failed (another package broken?): %s", ee.Stderr)
		}
		require.NoError(t, err)
	}
	for _, dep := range strings.Fields(string(out)) {
		assert.NotEqual(t, "bindpay/internal/flagstore/crashfs", dep, "bindpay-agent must not import the crash-testing file system")
	}
}
