//go:build unix

package confirm_test

import (
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/confirm"
)

// LoadKey's permission checks only exist on Unix, hence the build tag.

// writeKey writes content to a file with exactly mode perm (no umask) in a
// fresh temporary directory and returns its path.
func writeKey(t *testing.T, content string, perm fs.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "terminal.key")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	require.NoError(t, os.Chmod(path, perm))
	return path
}

func TestLoadKey(t *testing.T) {
	tests := []struct {
		name    string
		content string
		perm    fs.FileMode
		err     error
		msg     []string // parts of the error message; "{path}" is replaced
	}{
		{name: "0600", content: vecKeyHex + "\n", perm: 0o600},
		{name: "0400", content: vecKeyHex + "\n", perm: 0o400},
		{name: "0700", content: vecKeyHex, perm: 0o700},
		{name: "0640", content: vecKeyHex, perm: 0o640, err: confirm.ErrKeyPermissions, msg: []string{"{path}", "mode 0640", "chmod 600 {path}"}},
		{name: "0644", content: vecKeyHex, perm: 0o644, err: confirm.ErrKeyPermissions, msg: []string{"{path}", "mode 0644", "chmod 600 {path}"}},
		{name: "0604", content: vecKeyHex, perm: 0o604, err: confirm.ErrKeyPermissions, msg: []string{"mode 0604", "chmod 600 {path}"}},
		{name: "0660", content: vecKeyHex, perm: 0o660, err: confirm.ErrKeyPermissions, msg: []string{"mode 0660"}},
		{name: "0602", content: vecKeyHex, perm: 0o602, err: confirm.ErrKeyPermissions, msg: []string{"mode 0602"}},
		{name: "bad content", content: "not a key\n", perm: 0o600, err: confirm.ErrBadKey, msg: []string{"{path}", "not a hex digit"}},
		{name: "short content", content: vecKeyHex[:40], perm: 0o600, err: confirm.ErrBadKey, msg: []string{"{path}", "40 hex digits"}},
		{name: "huge file", content: strings.Repeat("0", 1<<20), perm: 0o600, err: confirm.ErrBadKey, msg: []string{"{path}", "larger than"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeKey(t, tc.content, tc.perm)
			got, err := confirm.LoadKey(path)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err, "LoadKey of a %04o file holding %.20q: got %x, err %v; want %v", tc.perm, tc.content, got, err, tc.err)
				for _, m := range tc.msg {
					m = strings.ReplaceAll(m, "{path}", path)
					assert.Contains(t, err.Error(), m, "LoadKey: error %q should say %q", err, m)
				}
				return
			}
			require.NoError(t, err, "LoadKey of a %04o file", tc.perm)
			assert.Equal(t, vecKeyHex, hex.EncodeToString(got))
		})
	}
}

func TestLoadKeyMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.key")
	got, err := confirm.LoadKey(path)
	require.ErrorIs(t, err, fs.ErrNotExist, "LoadKey(%q): got %x, err %v; want not-exist", path, got, err)
	assert.Contains(t, err.Error(), path, "error %q should name the path", err)
}

func TestLoadKeyDirectory(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o700))
	_, err := confirm.LoadKey(dir)
	require.ErrorIs(t, err, confirm.ErrBadKey, "LoadKey of a directory")
	assert.Contains(t, err.Error(), "not a regular file")
	assert.Contains(t, err.Error(), dir)
}

func TestLoadKeySymlink(t *testing.T) {
	target := writeKey(t, vecKeyHex, 0o600)
	link := filepath.Join(t.TempDir(), "link.key")
	require.NoError(t, os.Symlink(target, link))
	got, err := confirm.LoadKey(link)
	require.NoError(t, err, "LoadKey through a symlink to a 0600 file")
	assert.Equal(t, vecKeyHex, hex.EncodeToString(got))
}

func TestLoadKeyOtherOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	path := writeKey(t, vecKeyHex, 0o600)
	require.NoError(t, os.Chown(path, 4242, 4242))
	_, err := confirm.LoadKey(path)
	require.ErrorIs(t, err, confirm.ErrKeyPermissions, "LoadKey of a file owned by uid 4242 while running as root")
	assert.Contains(t, err.Error(), "owned by uid 4242")
	assert.Contains(t, err.Error(), path)
}
