package display

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const statusPath = "/run/bindpay/status.json"

// tickClock returns a clock that advances one second at each reading.
func tickClock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2026, 11, 25, 20, 0, 0, 0, time.FixedZone("CST", 8*3600))
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

func newStatus(t *testing.T, fs afero.Fs, lang string) *StatusFile {
	t.Helper()
	f, err := NewStatusFile(fs, statusPath, lang, tickClock())
	require.NoError(t, err)
	return f
}

// dirNames lists the status file's directory.
func dirNames(t *testing.T, fs afero.Fs) []string {
	t.Helper()
	entries, err := afero.ReadDir(fs, filepath.Dir(statusPath))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestStatusFileRoundTrip(t *testing.T) {
	fs := afero.NewMemMapFs()
	f := newStatus(t, fs, "zh")
	prompt := Screen{State: StatePrompt, TerminalID: tid, SMSTo: "10658000", SMSBody: "BIND STB0012345678", Offline: true, Error: "platform: timeout"}
	bound := Screen{State: StateBound, TerminalID: tid, MSISDN: "138****8000"}

	require.NoError(t, f.Show(prompt))
	st, err := ReadStatus(fs, statusPath)
	require.NoError(t, err)
	assert.Equal(t, Status{
		Version: 1, State: StatePrompt, TerminalID: tid, SMSTo: "10658000", SMSBody: "BIND STB0012345678",
		QRPayload: "SMSTO:10658000:BIND STB0012345678", Error: "platform: timeout", Offline: true,
		Language: "zh-CN", UpdatedAt: "2026-11-25T12:00:01Z",
	}, st)

	require.NoError(t, f.Show(bound))
	st, err = ReadStatus(fs, statusPath)
	require.NoError(t, err)
	assert.Equal(t, Status{
		Version: 1, State: StateBound, TerminalID: tid, MSISDN: "138****8000", Language: "zh-CN", UpdatedAt: "2026-11-25T12:00:02Z",
	}, st)
	assert.Equal(t, []string{"status.json"}, dirNames(t, fs), "no temporary file may be left")
}

// TestStatusFileSchema pins the JSON itself: the README documents it and
// the UI app parses it.
func TestStatusFileSchema(t *testing.T) {
	fs := afero.NewMemMapFs()
	f := newStatus(t, fs, "en")
	require.NoError(t, f.Show(Screen{State: StatePrompt, TerminalID: tid, SMSTo: "10658000", SMSBody: "BIND <x> & y"}))
	data, err := afero.ReadFile(fs, statusPath)
	require.NoError(t, err)
	assert.Equal(t, `{
  "version": 1,
  "state": "prompt",
  "terminal_id": "STB0012345678",
  "sms_to": "10658000",
  "sms_body": "BIND <x> & y",
  "qr_payload": "SMSTO:10658000:BIND <x> & y",
  "msisdn": "",
  "error": "",
  "offline": false,
  "language": "en",
  "updated_at": "2026-11-25T12:00:01Z"
}
`, string(data))
	info, err := fs.Stat(statusPath)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), info.Mode().Perm(), "the UI app may run as another user")
}

func TestStatusFileEveryStateIsValidJSON(t *testing.T) {
	fs := afero.NewMemMapFs()
	f := newStatus(t, fs, "en")
	for _, g := range goldenScreens {
		require.NoError(t, f.Show(g.screen), "Show(%+v)", g.screen)
		data, err := afero.ReadFile(fs, statusPath)
		require.NoError(t, err)
		var st map[string]any
		require.NoError(t, json.Unmarshal(data, &st), "after Show(%+v): %s", g.screen, data)
		assert.Equal(t, string(g.screen.State), st["state"])
		for _, k := range []string{"version", "state", "terminal_id", "sms_to", "sms_body", "qr_payload", "msisdn", "error", "offline", "language", "updated_at"} {
			assert.Contains(t, st, k, "field %s after Show(%+v)", k, g.screen)
		}
		_, err = time.Parse(time.RFC3339, st["updated_at"].(string))
		assert.NoError(t, err, "updated_at is RFC 3339")
		assert.Equal(t, []string{"status.json"}, dirNames(t, fs), "no temporary file may be left after Show(%+v)", g.screen)
	}
}

func TestStatusFileWritesOnlyChanges(t *testing.T) {
	fs := afero.NewMemMapFs()
	f := newStatus(t, fs, "en")
	a := Screen{State: StateChecking, TerminalID: tid}
	b := Screen{State: StateChecking, TerminalID: tid, Error: "platform: timeout"}
	read := func() Status {
		st, err := ReadStatus(fs, statusPath)
		require.NoError(t, err)
		return st
	}
	require.NoError(t, f.Show(a))
	first := read()
	require.NoError(t, f.Show(a))
	assert.Equal(t, first, read(), "the same screen again must not rewrite the file (updated_at tells when the state changed)")
	require.NoError(t, f.Show(b))
	assert.NotEqual(t, first.UpdatedAt, read().UpdatedAt)
	assert.Equal(t, "platform: timeout", read().Error)
}

// renameFailFs fails renames, and counts file syncs.
type renameFailFs struct {
	afero.Fs
	renameErr error
}

func (r *renameFailFs) Rename(o, n string) error {
	if r.renameErr != nil {
		return r.renameErr
	}
	return r.Fs.Rename(o, n)
}

func TestStatusFileAtomicOnFailure(t *testing.T) {
	mem := afero.NewMemMapFs()
	fs := &renameFailFs{Fs: mem}
	f := newStatus(t, fs, "en")
	a := Screen{State: StateChecking, TerminalID: tid}
	require.NoError(t, f.Show(a))
	before, err := afero.ReadFile(mem, statusPath)
	require.NoError(t, err)

	fs.renameErr = errors.New("disk on fire")
	err = f.Show(Screen{State: StateBound, TerminalID: tid})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "disk on fire")
	after, err := afero.ReadFile(mem, statusPath)
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after), "a failed write must leave the old file whole")
	assert.Equal(t, []string{"status.json"}, dirNames(t, mem), "a failed write must not leave its temporary file")

	fs.renameErr = nil
	require.NoError(t, f.Show(Screen{State: StateBound, TerminalID: tid}), "after a failure the screen is written again")
	st, err := ReadStatus(mem, statusPath)
	require.NoError(t, err)
	assert.Equal(t, StateBound, st.State)
}

func TestStatusFileReadOnly(t *testing.T) {
	mem := afero.NewMemMapFs()
	require.NoError(t, mem.MkdirAll(filepath.Dir(statusPath), 0o755))
	f := newStatus(t, afero.NewReadOnlyFs(mem), "en")
	err := f.Show(Screen{State: StateChecking})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "status file")
	assert.Contains(t, err.Error(), "/run/bindpay")
}

// TestStatusFileOnDisk runs the real file system: rename over an existing
// file, directory sync, and no temporary file left.
func TestStatusFileOnDisk(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "status.json")
	f, err := NewStatusFile(afero.NewOsFs(), path, "zh-CN", tickClock())
	require.NoError(t, err)
	for _, g := range goldenScreens {
		require.NoError(t, f.Show(g.screen))
		st, err := ReadStatus(afero.NewOsFs(), path)
		require.NoError(t, err)
		assert.Equal(t, g.screen.State, st.State)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1, "only the status file: %v", entries)
	assert.Equal(t, "status.json", entries[0].Name())
}

func TestNewStatusFileErrors(t *testing.T) {
	now := time.Now
	fs := afero.NewMemMapFs()
	_, err := NewStatusFile(nil, statusPath, "en", now)
	assert.Error(t, err)
	_, err = NewStatusFile(fs, "", "en", now)
	assert.Error(t, err)
	_, err = NewStatusFile(fs, statusPath, "en", nil)
	assert.Error(t, err)
	_, err = NewStatusFile(fs, statusPath, "fr", now)
	assert.ErrorIs(t, err, ErrUnsupportedLanguage)
	f, err := NewStatusFile(fs, statusPath, "en", now)
	require.NoError(t, err)
	assert.ErrorIs(t, f.Show(Screen{State: "sleeping"}), ErrInvalidScreen)
	exists, err := afero.Exists(fs, filepath.Dir(statusPath))
	require.NoError(t, err)
	assert.False(t, exists, "nothing is created before a valid Show")
}

func TestReadStatusErrors(t *testing.T) {
	fs := afero.NewMemMapFs()
	_, err := ReadStatus(fs, statusPath)
	assert.ErrorIs(t, err, os.ErrNotExist)
	require.NoError(t, afero.WriteFile(fs, statusPath, []byte(`{"version":2,"state":"bound"}`), 0o644))
	_, err = ReadStatus(fs, statusPath)
	assert.ErrorContains(t, err, "version 2, want 1")
	require.NoError(t, afero.WriteFile(fs, statusPath, []byte(`{"version":1,`), 0o644))
	_, err = ReadStatus(fs, statusPath)
	assert.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), statusPath), "error names the file: %v", err)
}
