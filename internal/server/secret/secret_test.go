package secret

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func write(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(p, []byte(content), mode))
	require.NoError(t, os.Chmod(p, mode))
	return p
}

func TestMasterKey(t *testing.T) {
	good := strings.Repeat("ab", 32)
	cases := []struct {
		name    string
		content string
		mode    os.FileMode
		want    error
	}{
		{"0600", good + "\n", 0o600, nil},
		{"0400", "  " + good, 0o400, nil},
		{"world readable", good, 0o644, ErrPermissions},
		{"group readable", good, 0o640, ErrPermissions},
		{"executable", good, 0o700, ErrPermissions},
		{"empty", "\n", 0o600, ErrBadSecret},
		{"short", "abcd", 0o600, ErrBadSecret},
		{"odd", good + "a", 0o600, ErrBadSecret},
		{"not hex", strings.Repeat("zz", 32), 0o600, ErrBadSecret},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := write(t, c.content, c.mode)
			key, err := MasterKey(p)
			if c.want != nil {
				require.ErrorIs(t, err, c.want)
				assert.Contains(t, err.Error(), p, "the error names the file")
				assert.NotContains(t, err.Error(), good, "the error never echoes the key")
				return
			}
			require.NoError(t, err)
			assert.Len(t, key, 32)
		})
	}
}

func TestReadFile(t *testing.T) {
	p := write(t, " token \n", 0o600)
	b, err := ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, "token", string(b))

	_, err = ReadFile(filepath.Join(t.TempDir(), "missing"))
	require.ErrorIs(t, err, os.ErrNotExist)

	_, err = ReadFile(t.TempDir())
	require.ErrorIs(t, err, ErrBadSecret, "a directory")
}
