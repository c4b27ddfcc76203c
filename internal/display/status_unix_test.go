//go:build unix

package display

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStatusFileReadableUnderUmask: the agent's unit sets UMask=0077; the
// UI app, another user, must still read the file.
func TestStatusFileReadableUnderUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	t.Cleanup(func() { syscall.Umask(old) })
	path := filepath.Join(t.TempDir(), "status.json")
	f, err := NewStatusFile(afero.NewOsFs(), path, "en", tickClock())
	require.NoError(t, err)
	require.NoError(t, f.Show(Screen{State: StateChecking, TerminalID: tid}))
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), info.Mode().Perm(), "mode of %s under umask 077", path)
}
