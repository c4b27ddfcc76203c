package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/confirm"
	"bindpay/internal/server/store"
)

// world is a config file with its store and master key in a temp dir.
type world struct {
	dir, config, db, masterKey string
	master                     []byte
}

func newWorld(t *testing.T) world {
	t.Helper()
	dir := t.TempDir()
	w := world{dir: dir, config: filepath.Join(dir, "platform.toml"), db: filepath.Join(dir, "platform.db"),
		masterKey: filepath.Join(dir, "master.key")}
	w.master = bytes.Repeat([]byte{0x5a}, 32)
	require.NoError(t, os.WriteFile(w.masterKey, []byte(hex.EncodeToString(w.master)+"\n"), 0o600))
	require.NoError(t, os.WriteFile(w.config, []byte(fmt.Sprintf(`
master_key_file = %q
[store]
url = "sqlite://%s"
[link]
kind = "sim"
`, w.masterKey, w.db)), 0o644))
	return w
}

// cli runs the command line and returns the exit code, stdout and stderr.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := report(run(context.Background(), args, &out, &errOut), &errOut)
	return code, out.String(), errOut.String()
}

func TestUsageErrors(t *testing.T) {
	w := newWorld(t)
	cases := []struct {
		name   string
		args   []string
		errHas string
	}{
		{"no command", []string{"--config", w.config}, "no command"},
		{"unknown command", []string{"--config", w.config, "fly"}, `unknown command "fly"`},
		{"unknown flag", []string{"--colour", "x", "version"}, "flag provided but not defined"},
		{"missing config", []string{"--config", filepath.Join(w.dir, "none.toml"), "migrate"}, "none.toml"},
		{"bad log format", []string{"--config", w.config, "--log-format", "xml", "migrate"}, "log_format"},
		{"keys without derive", []string{"--config", w.config, "keys", "make", "X"}, "keys derive TID"},
		{"keys bad tid", []string{"--config", w.config, "keys", "derive", "no/slash"}, "terminal ID"},
		{"enrol no file", []string{"--config", w.config, "enrol"}, "enrol wants one"},
		{"enrol missing file", []string{"--config", w.config, "enrol", filepath.Join(w.dir, "none.csv")}, "none.csv"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := cli(t, c.args...)
			assert.Equal(t, exitUsage, code, "stderr: %s", stderr)
			assert.Contains(t, stderr, c.errHas)
			assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
		})
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := cli(t, "version")
	assert.Equal(t, exitOK, code)
	assert.Equal(t, "bindpay-platform dev\n", out)
}

func TestKeysDeriveNeedsOnlyTheMasterKey(t *testing.T) {
	w := newWorld(t)
	cfg := filepath.Join(w.dir, "factory.toml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf("master_key_file = %q\n", w.masterKey)), 0o644))
	code, out, stderr := cli(t, "--config", cfg, "keys", "derive", "STB1")
	require.Equal(t, exitOK, code, stderr)
	assert.Len(t, strings.TrimSpace(out), 64)
	code, _, stderr = cli(t, "--config", cfg, "serve")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "link.sendsms_url", "serve needs its link")
}

func TestKeysDerive(t *testing.T) {
	w := newWorld(t)
	code, out, stderr := cli(t, "--config", w.config, "keys", "derive", "STB0012345678")
	require.Equal(t, exitOK, code, stderr)
	assert.Equal(t, hex.EncodeToString(confirm.DeriveKey(w.master, "STB0012345678"))+"\n", out)

	require.NoError(t, os.Chmod(w.masterKey, 0o644))
	code, out, stderr = cli(t, "--config", w.config, "keys", "derive", "STB0012345678")
	assert.Equal(t, exitUsage, code)
	assert.Empty(t, out, "nothing derived from a world-readable key")
	assert.Contains(t, stderr, w.masterKey, "the error names the file")
	assert.Contains(t, stderr, "chmod 600")
}

func TestMigrateAndEnrol(t *testing.T) {
	w := newWorld(t)
	csv := filepath.Join(w.dir, "terminals.csv")
	require.NoError(t, os.WriteFile(csv, []byte("terminal_id,key_version,sim_msisdn\nSTB1,1,13800138001\nSTB2\n"), 0o644))

	code, _, stderr := cli(t, "--config", w.config, "enrol", csv)
	assert.Equal(t, exitFailure, code, "an unmigrated store is refused")
	assert.Contains(t, stderr, "schema version 0, this build wants 1")

	code, out, stderr := cli(t, "--config", w.config, "migrate")
	require.Equal(t, exitOK, code, stderr)
	assert.Equal(t, "store sqlite: schema version 1\n", out)

	code, out, stderr = cli(t, "--config", w.config, "enrol", csv)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, out, "2 new, 0 updated, 0 unchanged")
	code, out, _ = cli(t, "--config", w.config, "enrol", csv)
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "0 new, 0 updated, 2 unchanged", "idempotent")

	bad := filepath.Join(w.dir, "bad.csv")
	require.NoError(t, os.WriteFile(bad, []byte("STB3\nSTB 4\nSTB5,x\n"), 0o644))
	code, _, stderr = cli(t, "--config", w.config, "enrol", bad)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, bad+":2: terminal_id")
	assert.Contains(t, stderr, bad+":3: key_version")
	assert.Contains(t, stderr, "nothing enrolled")

	s, err := store.Open(context.Background(), "sqlite://"+w.db, false)
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Terminal(context.Background(), "STB3")
	require.ErrorIs(t, err, store.ErrNotFound, "the good row of a bad file is not enrolled")
	tm, err := s.Terminal(context.Background(), "STB1")
	require.NoError(t, err)
	assert.Equal(t, "+8613800138001", tm.SIMMSISDN)
}
