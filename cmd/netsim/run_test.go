package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const tid = "STB0012345678"

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunUsage(t *testing.T) {
	dir := t.TempDir()
	badKey := filepath.Join(dir, "bad.key")
	require.NoError(t, os.WriteFile(badKey, []byte("not hex\n"), 0o600))

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // substring
		stderr string // substring
	}{
		{"no command", nil, 2, "", "usage:"},
		{"unknown command", []string{"dial"}, 2, "", `unknown command "dial"`},
		{"help", []string{"help"}, 0, "bindpay-netsim serve", ""},
		{"--help", []string{"--help"}, 0, "bindpay-netsim phone", ""},
		{"serve -h", []string{"serve", "-h"}, 0, "", "usage:"},
		{"serve unknown flag", []string{"serve", "--terminal", tid, "--colour"}, 2, "", "flag provided but not defined: -colour"},
		{"serve no terminal", []string{"serve"}, 2, "", "give at least one --terminal"},
		{"serve bad terminal ID", []string{"serve", "--terminal", "../etc"}, 2, "", `invalid value "../etc"`},
		{"serve duplicate terminal", []string{"serve", "--terminal", tid, "--terminal", tid}, 2, "", "given twice"},
		{"serve stray argument", []string{"serve", "--terminal", tid, "now"}, 2, "", `unexpected argument "now"`},
		{"serve two master keys", []string{"serve", "--terminal", tid, "--master-key-hex", "00", "--master-key-file", badKey}, 2, "", "exclusive"},
		{"serve bad master key hex", []string{"serve", "--terminal", tid, "--master-key-hex", "xyz"}, 2, "", "want hex digits"},
		{"serve bad master key file", []string{"serve", "--terminal", tid, "--master-key-file", badKey}, 2, "", badKey},
		{"serve missing master key file", []string{"serve", "--terminal", tid, "--master-key-file", filepath.Join(dir, "none")}, 2, "", "no such file"},
		{"serve bad delay", []string{"serve", "--terminal", tid, "--confirm-delay", "soon"}, 2, "", "invalid value"},
		{"phone no url", []string{"phone", "BIND", tid}, 2, "", "--url is required"},
		{"phone bad url", []string{"phone", "--url", "localhost:8080", "BIND", tid}, 2, "", "want http://HOST:PORT"},
		{"phone no body", []string{"phone", "--url", "http://127.0.0.1:1"}, 2, "", "no SMS body"},
		{"sms no terminal", []string{"sms", "--url", "http://127.0.0.1:1", "--from", "10658000", "hi"}, 2, "", "--terminal is required"},
		{"sms no sender", []string{"sms", "--url", "http://127.0.0.1:1", "--terminal", tid, "hi"}, 2, "", "--from is required"},
		{"sms no text", []string{"sms", "--url", "http://127.0.0.1:1", "--terminal", tid, "--from", "10658000"}, 2, "", "no SMS text"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, &stdout, &stderr)
			code := exitCode(err, &stderr)
			assert.Equal(t, tc.code, code, "args %q: err %v, stderr %s", tc.args, err, stderr.String())
			assert.Contains(t, stdout.String(), tc.stdout)
			assert.Contains(t, stderr.String(), tc.stderr)
		})
	}
}

func TestServeCancelledContext(t *testing.T) {
	dir := t.TempDir()
	keyDir := filepath.Join(dir, "keys")
	state := filepath.Join(dir, "state.json")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"serve", "--terminal", tid, "--terminal", "STB-2", "--key-dir", keyDir, "--state-file", state}, &stdout, &stderr)
	require.NoError(t, err, "stderr: %s", stderr.String())

	assert.Regexp(t, `^modem STB0012345678 /\S+\nmodem STB-2 /\S+\nurl http://127\.0\.0\.1:\d+\n$`, stdout.String())
	assert.Contains(t, stderr.String(), "demo master key")
	assert.NoFileExists(t, state, "the state file is removed at exit")

	// DESIGN.md's test vector: the demo master key and STB0012345678.
	b, err := os.ReadFile(filepath.Join(keyDir, tid+".key"))
	require.NoError(t, err)
	assert.Equal(t, "82583d3b77d3cddbf5183ac3cf45aaaab9c750d470e3ce8a292ca6a49900e1c8\n", string(b))
	for _, name := range []string{tid + ".key", "STB-2.key"} {
		fi, err := os.Stat(filepath.Join(keyDir, name))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), name)
	}
	entries, err := os.ReadDir(keyDir)
	require.NoError(t, err)
	assert.Len(t, entries, 2, "no temporary files left: %v", entries)
}

func TestServeMasterKeyFile(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "master.hex")
	require.NoError(t, os.WriteFile(keyFile, []byte("  "+hex.EncodeToString([]byte("example master key"))+"\n"), 0o600))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(ctx, []string{"serve", "--terminal", tid, "--master-key-file", keyFile, "--key-dir", dir}, &stdout, &stderr))
	assert.NotContains(t, stderr.String(), "demo master key")
	b, err := os.ReadFile(filepath.Join(dir, tid+".key"))
	require.NoError(t, err)
	assert.Equal(t, "82583d3b77d3cddbf5183ac3cf45aaaab9c750d470e3ce8a292ca6a49900e1c8\n", string(b))
}

// TestServePhoneSMS runs serve, then the phone and sms commands against it.
func TestServePhoneSMS(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	tokenFile := filepath.Join(t.TempDir(), "admin.token")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"serve", "--terminal", tid, "--state-file", state, "--verbose", "--admin-token-file", tokenFile}, outW, stderr)
		outW.Close()
		done <- err
	}()

	// "url" is the last line serve prints once ready.
	var url, modem string
	sc := bufio.NewScanner(outR)
	for url == "" && sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 3 && f[0] == "modem" && f[1] == tid:
			modem = f[2]
		case len(f) == 2 && f[0] == "url":
			url = f[1]
		}
	}
	require.NotEmpty(t, url, "serve printed no url; stderr: %s", stderr.String())
	go func() { _, _ = io.Copy(io.Discard, outR) }()

	b, err := os.ReadFile(state)
	require.NoError(t, err)
	var st struct {
		URL    string            `json:"url"`
		Modems map[string]string `json:"modems"`
	}
	require.NoError(t, json.Unmarshal(b, &st))
	assert.Equal(t, url, st.URL)
	assert.Equal(t, map[string]string{tid: modem}, st.Modems)
	assert.FileExists(t, modem)

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"wrong number", []string{"phone", "--url", url, "--to", "10086", "BIND", tid}, 1, "", "not the activation number"},
		{"unknown terminal", []string{"phone", "--url", url, "BIND", "STB404"}, 1, "", "unknown terminal"},
		{"garbage", []string{"phone", "--url", url, "hello"}, 1, "", "malformed activation request"},
		{"bind", []string{"phone", "--url", url + "/", "--from", "+8613800138000", "bind", tid}, 0, "accepted: terminal STB0012345678 bound to 138****8000", ""},
		{"spoofed SMS", []string{"sms", "--url", url, "--terminal", tid, "--from", "13999999999", "BP1", "t=" + tid, "m=138****8000"}, 0, "delivered", ""},
		{"sms unknown terminal", []string{"sms", "--url", url, "--terminal", "STB404", "--from", "13999999999", "hi"}, 1, "", "unknown terminal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, errOut bytes.Buffer
			err := run(context.Background(), tc.args, &stdout, &errOut)
			assert.Equal(t, tc.code, exitCode(err, &errOut), "args %q: err %v", tc.args, err)
			assert.Contains(t, stdout.String(), tc.stdout)
			assert.Contains(t, errOut.String(), tc.stderr)
		})
	}

	resp, err := http.Get(url + "/v1/terminals/" + tid + "/binding")
	require.NoError(t, err)
	var binding map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&binding))
	resp.Body.Close()
	assert.Equal(t, true, binding["bound"])
	assert.Equal(t, "138****8000", binding["msisdn"])
	require.Eventually(t, func() bool {
		return strings.Contains(stderr.String(), "SMS centre: MT to terminal "+tid) && strings.Contains(stderr.String(), "part 2")
	}, 10*time.Second, 10*time.Millisecond, "the platform's outbox sends the confirmation through the sim link")

	info, err := os.Stat(tokenFile)
	require.NoError(t, err, "serve made the admin token")
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	var tl bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"timeline", "--url", url, "--admin-token-file", tokenFile, tid}, &tl, io.Discard))
	assert.Contains(t, tl.String(), "terminal "+tid+": bound to 138****8000\n")
	for _, ev := range []string{"enrolled", "activation_requested", "bound"} {
		assert.Regexp(t, `(?m)^\S+  \S+ +`+ev+` `, tl.String(), "the platform's audit timeline")
	}
	wrong := filepath.Join(t.TempDir(), "wrong.token")
	require.NoError(t, os.WriteFile(wrong, []byte("not the token\n"), 0o600))
	err = run(context.Background(), []string{"timeline", "--url", url, "--admin-token-file", wrong, tid}, io.Discard, io.Discard)
	assert.ErrorContains(t, err, "unauthorized", "another token")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		require.FailNow(t, "serve did not stop on cancellation")
	}
	assert.NoFileExists(t, state)
	trace := stderr.String()
	for _, want := range []string{
		"SMS centre: MO from +8613800138000 to 10658000",
		"to the platform: activated",
		"OSS: terminal " + tid + " enrolled",
		"SMS centre: raw MT to terminal " + tid,
		"method=POST path=/v1/phone/sms status=202",
	} {
		assert.Contains(t, trace, want, "trace:\n%s", trace)
	}
}

func TestIMEI(t *testing.T) {
	tests := []struct{ tid, want string }{
		{"490154203237518", "490154203237518"}, // already an IMEI
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, imeiFor(tc.tid))
	}
	for _, id := range []string{tid, "STB-2", "x"} {
		imei := imeiFor(id)
		assert.Regexp(t, `^35\d{13}$`, imei, id)
		assert.Equal(t, imei, imeiFor(id), "stable")
		assert.Equal(t, int(imei[14]-'0'), luhn(imei[:14]), "check digit of %s", imei)
	}
	assert.Equal(t, 8, luhn("49015420323751"), "Luhn check digit of a known IMEI")
}
