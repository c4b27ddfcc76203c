package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/flagstore"
)

// runCmd runs the command line and returns the exit code and both outputs.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, &stdout, &stderr)
	code := report(err, &stderr)
	return code, stdout.String(), stderr.String()
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) string {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), mode))
	return path
}

const goodKey = "82583d3b77d3cddbf5183ac3cf45aaaab9c750d470e3ce8a292ca6a49900e1c8\n"

// TestConfigErrors: every bad configuration is exit 2 with one line saying
// what and where, before anything is opened.
func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	state := t.TempDir()
	key := writeFile(t, filepath.Join(dir, "ok.key"), goodKey, 0o600)
	openKey := writeFile(t, filepath.Join(dir, "open.key"), goodKey, 0o644)
	unknown := writeFile(t, filepath.Join(dir, "unknown.toml"), "state_dir = \"/x\"\n[modem]\nspeed = 9600\n", 0o644)
	broken := writeFile(t, filepath.Join(dir, "broken.toml"), "state_dir = \n", 0o644)
	base := []string{"--state-dir", state, "--modem", "/dev/null", "--platform-url", "http://127.0.0.1:1", "--sms-sender", "10658000"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing named config", []string{"--config", filepath.Join(dir, "nope.toml"), "run"}, "nope.toml"},
		{"unknown key", []string{"--config", unknown, "run"}, "unknown key modem.speed"},
		{"malformed toml", []string{"--config", broken, "run"}, "broken.toml"},
		{"bad flag", []string{"--no-such-flag"}, "no-such-flag"},
		{"unknown command", []string{"--config", os.DevNull, "fly"}, `unknown command "fly"`},
		{"empty allowlist", []string{"--config", os.DevNull, "--state-dir", state, "--platform-url", "https://x"}, "sms.senders"},
		{"plain http to a remote host", append([]string{"--config", os.DevNull}, append(base, "--platform-url", "http://bind.example.net")...), `platform.url "http://bind.example.net": plain http`},
		{"ftp platform url", append([]string{"--config", os.DevNull}, append(base, "--platform-url", "ftp://bind.example.net")...), `platform.url "ftp://bind.example.net"`},
		{"bad terminal id", append([]string{"--config", os.DevNull, "--terminal-id", "STB 1\nREADY=1"}, base...), "terminal_id"},
		{"terminal id file with a bad id", append([]string{"--config", os.DevNull, "--terminal-id-file", writeFile(t, filepath.Join(dir, "tid"), "a/b\n", 0o644)}, base...), "terminal_id_file"},
		{"bad fallback body", append([]string{"--config", os.DevNull, "--sms-fallback-body", "BIND {tid}\nREADY=1"}, base...), "sms.fallback_body"},
		{"bad fallback number", append([]string{"--config", os.DevNull, "--sms-fallback-to", "1065x"}, base...), "sms.fallback_to"},
		{"missing ca file", append([]string{"--config", os.DevNull, "--ca-file", filepath.Join(dir, "none.pem")}, base...), "platform.ca_file"},
		{"no platform url", []string{"--config", os.DevNull, "--state-dir", state, "--sms-sender", "10658000"}, "platform.url"},
		{"world-readable key", append([]string{"--config", os.DevNull, "--key-file", openKey}, base...), "chmod 600"},
		{"missing key", append([]string{"--config", os.DevNull, "--key-file", filepath.Join(dir, "none.key")}, base...), "none.key"},
		{"bad log format", append([]string{"--config", os.DevNull, "--key-file", key, "--log-format", "xml"}, base...), "log_format"},
		{"bad language", append([]string{"--config", os.DevNull, "--lang", "fr"}, base...), "display.lang"},
		{"bad display", append([]string{"--config", os.DevNull, "--display", "hologram"}, base...), "hologram"},
		{"run with arguments", append(append([]string{"--config", os.DevNull}, base...), "run", "now"), "run takes no arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCmd(t, tc.args...)
			assert.Equal(t, exitUsage, code, "args %q: stderr %q", tc.args, stderr)
			assert.Contains(t, stderr, tc.want, "args %q", tc.args)
			assert.Equal(t, 1, strings.Count(strings.TrimSpace(stderr), "\n")+1, "one line: %q", stderr)
		})
	}
}

// TestFlagsOverrideConfig: the file sets every key, a flag wins where given.
func TestFlagsOverrideConfig(t *testing.T) {
	dir := t.TempDir()
	cfgFile := writeFile(t, filepath.Join(dir, "agent.toml"), `
terminal_id = "FROMFILE"
state_dir = "/from/file"
log_format = "json"
[modem]
device = "/dev/ttyFILE"
baud = 9600
[platform]
url = "http://file"
[sms]
senders = ["10658000", "10658001"]
[display]
outputs = ["console"]
lang = "en"
console = "/dev/tty1"
`, 0o644)
	o, cmd, rest, err := parseArgs([]string{"--config", cfgFile, "--terminal-id", "FROMFLAG", "--baud", "115200", "--sms-sender", "106", "status", "--json"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "status", cmd)
	assert.Equal(t, []string{"--json"}, rest)
	cfg, err := loadConfig(o)
	require.NoError(t, err)
	assert.Equal(t, "FROMFLAG", cfg.TerminalID, "flag wins")
	assert.Equal(t, 115200, cfg.Modem.Baud, "flag wins")
	assert.Equal(t, []string{"106"}, cfg.SMS.Senders, "a repeated flag replaces the file's list")
	assert.Equal(t, "/from/file", cfg.StateDir, "file used where no flag")
	assert.Equal(t, "/dev/ttyFILE", cfg.Modem.Device)
	assert.Equal(t, "json", cfg.LogFormat)
	assert.Equal(t, "/dev/tty1", cfg.Display.Console)
	assert.Equal(t, "10658000", cfg.SMS.FallbackTo, "default kept")
}

func TestMissingDefaultConfigIsFine(t *testing.T) {
	o, _, _, err := parseArgs(nil, &bytes.Buffer{})
	require.NoError(t, err)
	o.configPath = filepath.Join(t.TempDir(), "agent.toml") // as if the default did not exist
	cfg, err := loadConfig(o)
	require.NoError(t, err)
	assert.Equal(t, defaultConfig().StateDir, cfg.StateDir)
}

func TestStatusAndReset(t *testing.T) {
	state := t.TempDir()
	args := []string{"--config", os.DevNull, "--state-dir", state}

	code, out, _ := runCmd(t, append(args, "status")...)
	assert.Equal(t, exitFailure, code, "not bound: exit 1")
	assert.Contains(t, out, "not bound")

	code, out, _ = runCmd(t, append(args, "status", "--json")...)
	assert.Equal(t, exitFailure, code)
	var st map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	assert.Equal(t, false, st["bound"])

	rec := flagstore.Record{TerminalID: "STB0012345678", MSISDN: "138****8000", Source: flagstore.SourceSMS,
		BoundAt: time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC), Nonce: "q8x3k2"}
	require.NoError(t, flagstore.New(afero.NewOsFs(), state, nil).Save(rec))
	code, out, _ = runCmd(t, append(args, "status", "--json")...)
	assert.Equal(t, exitBound, code, "bound: exit 0")
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	assert.Equal(t, true, st["bound"])
	assert.Equal(t, "STB0012345678", st["terminal_id"])
	assert.Equal(t, "138****8000", st["msisdn"])
	assert.Equal(t, "sms", st["source"])
	assert.Equal(t, "2026-11-25T20:00:00Z", st["bound_at"])

	// A corrupt record: status reports it and leaves it for run to quarantine.
	path := filepath.Join(state, flagstore.FileName)
	require.NoError(t, os.WriteFile(path, []byte("{"), 0o644))
	code, out, _ = runCmd(t, append(args, "status")...)
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, out, "not bound")
	_, err := os.Stat(path)
	assert.NoError(t, err, "status only reads")

	code, out, _ = runCmd(t, append(args, "reset")...)
	assert.Equal(t, exitBound, code)
	assert.Contains(t, out, "removed")
	_, err = os.Stat(path)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestVersion(t *testing.T) {
	code, out, _ := runCmd(t, "version")
	assert.Equal(t, 0, code)
	assert.Equal(t, "bindpay-agent "+version+"\n", out)
}

func TestSignalBeforeBindingIsExit3(t *testing.T) {
	assert.Equal(t, exitSignaled, report(context.Canceled, &bytes.Buffer{}))
}

// TestBinaryDeps: test helpers, fakes and simulators never reach the agent
// binary.
func TestBinaryDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	require.NoError(t, err)
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"testing", "net/http/httptest", "bindpay/internal/modemsim", "bindpay/internal/netsim", "github.com/creack/pty", "github.com/stretchr/testify"} {
			assert.NotEqual(t, banned, dep, "bindpay-agent must not import %s", banned)
		}
	}
}

// TestEverySettingHasOneKey: the settings table and the Config struct agree:
// every TOML key of Config has exactly one setting (flag, help, default),
// and every setting names a key that exists.
func TestEverySettingHasOneKey(t *testing.T) {
	var keys []string
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			tag := f.Tag.Get("toml")
			if tag == "" {
				continue
			}
			if f.Type.Kind() == reflect.Struct {
				walk(prefix+tag+".", f.Type)
				continue
			}
			keys = append(keys, prefix+tag)
		}
	}
	walk("", reflect.TypeOf(Config{}))
	var named []string
	for _, s := range settings {
		named = append(named, s.key)
	}
	assert.ElementsMatch(t, keys, named, "Config's TOML keys and the settings table")
	for _, s := range settings {
		var c Config
		assert.NotNil(t, s.field(&c), "setting %s", s.flag)
	}
}
