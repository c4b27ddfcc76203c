package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/afero"

	"bindpay/internal/confirm"
	"bindpay/internal/flagstore"
	"bindpay/internal/modemsim"
	"bindpay/internal/netsim"
)

// demoMasterKey is the master key of DESIGN.md's test vector: public, for
// simulation only.
const demoMasterKey = "example master key"

// serveConfig is the command line of "serve".
type serveConfig struct {
	listen        string
	terminals     []string
	masterKeyFile string
	masterKeyHex  string
	keyDir        string
	confirmDelay  time.Duration
	requireSigned bool
	stateFile     string
	verbose       bool
	modemProfile  string
	tlsDir        string
	adminToken    string // file
}

func parseServe(args []string, stderr io.Writer) (serveConfig, error) {
	var c serveConfig
	fs := newFlagSet("serve", stderr)
	fs.StringVar(&c.listen, "listen", "127.0.0.1:0", "HTTP listen address")
	fs.Func("terminal", "a terminal `ID` known to the operator (repeatable)", func(s string) error {
		if !validTerminalID(s) {
			return fmt.Errorf("%q: want 1 to 64 of A-Z a-z 0-9 _ -", s)
		}
		for _, t := range c.terminals {
			if strings.EqualFold(t, s) {
				return fmt.Errorf("%q given twice", s)
			}
		}
		c.terminals = append(c.terminals, s)
		return nil
	})
	fs.StringVar(&c.masterKeyFile, "master-key-file", "", "`file` holding the master key in hex")
	fs.StringVar(&c.masterKeyHex, "master-key-hex", "", "master key in `hex`")
	fs.StringVar(&c.keyDir, "key-dir", "", "write each terminal's key to `dir`/TID.key")
	fs.DurationVar(&c.confirmDelay, "confirm-delay", 0, "delay before the confirmation SMS")
	fs.BoolVar(&c.requireSigned, "require-signed", false, "refuse unsigned platform queries")
	fs.StringVar(&c.stateFile, "state-file", "", "write the URL and modem ptys as JSON to `file` once ready")
	fs.BoolVar(&c.verbose, "verbose", false, "also log every HTTP request and the modems' AT traffic")
	fs.StringVar(&c.tlsDir, "tls-dir", "", "serve https:// with a throwaway CA, written to `dir`/ca.pem (the agent's platform.ca_file)")
	fs.StringVar(&c.adminToken, "admin-token-file", "", "open the platform's admin API with the bearer token in `file` (created, random, mode 0600, when missing)")
	fs.StringVar(&c.modemProfile, "modem-profile", "generic", "simulated modem `family`: "+strings.Join(modemsim.Profiles(), ", "))
	if err := parseFlags(fs, args); err != nil {
		return c, err
	}
	switch {
	case fs.NArg() > 0:
		return c, usagef("serve: unexpected argument %q", fs.Arg(0))
	case len(c.terminals) == 0:
		return c, usagef("serve: no terminal: give at least one --terminal ID")
	case c.masterKeyFile != "" && c.masterKeyHex != "":
		return c, usagef("serve: --master-key-file and --master-key-hex are exclusive")
	case c.confirmDelay < 0:
		return c, usagef("serve: --confirm-delay %v is negative", c.confirmDelay)
	case !slices.Contains(modemsim.Profiles(), c.modemProfile):
		return c, usagef("serve: --modem-profile %q: want one of %s", c.modemProfile, strings.Join(modemsim.Profiles(), ", "))
	}
	return c, nil
}

// validTerminalID keeps IDs safe in URL paths, SMS bodies and file names.
func validTerminalID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		ok := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// masterKey returns the configured master key, and whether it is the demo one.
func (c serveConfig) masterKey() (key []byte, demo bool, err error) {
	src, text := "--master-key-hex", c.masterKeyHex
	if c.masterKeyFile != "" {
		b, err := os.ReadFile(c.masterKeyFile)
		if err != nil {
			return nil, false, usagef("serve: master key: %v", err)
		}
		src, text = c.masterKeyFile, string(b)
	}
	if text == "" && c.masterKeyFile == "" {
		return []byte(demoMasterKey), true, nil
	}
	key, err = hex.DecodeString(strings.TrimSpace(text))
	if err != nil || len(key) == 0 {
		return nil, false, usagef("serve: master key in %s: want hex digits", src)
	}
	return key, false, nil
}

// serve runs the simulator until ctx is cancelled.
func serve(ctx context.Context, c serveConfig, stdout, stderr io.Writer) (err error) {
	level := slog.LevelInfo
	if c.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	master, demo, err := c.masterKey()
	if err != nil {
		return err
	}
	if demo {
		log.Warn(fmt.Sprintf("using the documented demo master key %q: for simulation only, never in production", demoMasterKey))
	}

	var adminToken string
	if c.adminToken != "" {
		if adminToken, err = loadAdminToken(c.adminToken); err != nil {
			return err
		}
	}

	var modems []*modemsim.Modem
	defer func() {
		for _, m := range modems {
			if cerr := m.Close(); cerr != nil {
				log.Warn("close modem", "err", cerr)
			}
		}
	}()
	nw := netsim.New(netsim.Config{
		MasterKey:             master,
		ConfirmDelay:          c.confirmDelay,
		RequireSignedRequests: c.requireSigned,
		AdminToken:            adminToken,
		Log:                   log.With("element", "platform"),
		Logf:                  func(format string, args ...any) { log.Info(fmt.Sprintf(format, args...)) },
	})
	defer nw.Close() // runs before the modems close: deliveries use them

	state := stateFile{Modems: make(map[string]string)}
	for _, tid := range c.terminals {
		opts := []modemsim.Option{modemsim.WithProfile(c.modemProfile), modemsim.WithIMEI(imeiFor(tid))}
		if c.verbose {
			mlog := log.With("terminal", tid)
			opts = append(opts, modemsim.WithLog(func(format string, args ...any) { mlog.Debug(fmt.Sprintf(format, args...)) }))
		}
		m, err := modemsim.New(opts...)
		if err != nil {
			return fmt.Errorf("modem for terminal %s: %w", tid, err)
		}
		modems = append(modems, m)
		nw.AddTerminal(tid, m)
		state.Modems[tid] = m.Path()
	}

	if c.keyDir != "" {
		if err := writeKeys(c.keyDir, master, c.terminals); err != nil {
			return err
		}
	}

	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", c.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.listen, err)
	}
	state.URL = "http://" + ln.Addr().String()
	if c.tlsDir != "" {
		tl, err := netsim.NewTLS(time.Now())
		if err != nil {
			ln.Close()
			return err
		}
		if err := os.MkdirAll(c.tlsDir, 0o700); err != nil {
			ln.Close()
			return fmt.Errorf("tls dir: %w", err)
		}
		if err := writeFileAtomic(filepath.Join(c.tlsDir, "ca.pem"), tl.CAPEM, 0o644); err != nil {
			ln.Close()
			return fmt.Errorf("tls dir: %w", err)
		}
		ln = tls.NewListener(ln, tl.Config)
		state.URL = "https://" + ln.Addr().String()
	}

	var h http.Handler = nw.Handler()
	if c.verbose {
		h = logRequests(log, h)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }() // ends on Shutdown below

	if c.stateFile != "" {
		if err := writeState(c.stateFile, state); err != nil {
			_ = srv.Close()
			<-served
			return err
		}
		defer func() {
			if rerr := os.Remove(c.stateFile); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
				log.Warn("remove state file", "err", rerr)
			}
		}()
	}
	for _, tid := range c.terminals {
		fmt.Fprintf(stdout, "modem %s %s\n", tid, state.Modems[tid])
	}
	fmt.Fprintf(stdout, "url %s\n", state.URL)
	log.Info("network simulator ready", "url", state.URL, "terminals", len(c.terminals))

	select {
	case err := <-served:
		return fmt.Errorf("serve HTTP: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	<-served
	return nil
}

// loadAdminToken reads the admin token from path, or creates the file
// with a random token (mode 0600) when it does not exist.
func loadAdminToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if tok := strings.TrimSpace(string(b)); tok != "" {
			return tok, nil
		}
		return "", usagef("serve: admin token file %s is empty: remove it to have a token made", path)
	case !errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("admin token: %w", err)
	}
	var raw [16]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails
	tok := hex.EncodeToString(raw[:])
	if err := writeFileAtomic(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	return tok, nil
}

// stateFile is what --state-file holds, for scripts.
type stateFile struct {
	URL    string            `json:"url"`
	Modems map[string]string `json:"modems"`
}

func writeState(path string, s stateFile) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	return nil
}

// writeKeys writes each terminal's key as dir/TID.key, in the format the
// agent's key file wants: 64 lowercase hex digits and a newline, mode 0600.
func writeKeys(dir string, master []byte, tids []string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("key dir: %w", err)
	}
	for _, tid := range tids {
		key := hex.EncodeToString(confirm.DeriveKey(master, tid)) + "\n"
		if err := writeFileAtomic(filepath.Join(dir, tid+".key"), []byte(key), 0o600); err != nil {
			return fmt.Errorf("key of terminal %s: %w", tid, err)
		}
	}
	return nil
}

// writeFileAtomic replaces path by data the way the agent writes its state
// (flagstore.WriteFile: temp file, fsync, rename, fsync of the directory).
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	return flagstore.WriteFile(afero.NewOsFs(), path, data, perm)
}

// imeiFor gives each simulated modem a stable, valid IMEI: the terminal ID
// itself when it is one (15 digits), else one derived from it.
func imeiFor(tid string) string {
	if len(tid) == 15 && strings.Trim(tid, "0123456789") == "" {
		return tid
	}
	sum := sha256.Sum256([]byte(tid))
	body := fmt.Sprintf("35%012d", binary.BigEndian.Uint64(sum[:8])%1e12)
	return body + string(rune('0'+luhn(body)))
}

// luhn returns the check digit for the 14 digits of an IMEI body.
func luhn(digits string) int {
	sum := 0
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if (len(digits)-1-i)%2 == 0 { // doubled: rightmost first
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return (10 - sum%10) % 10
}

// logRequests logs each HTTP request with its status.
func logRequests(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		h.ServeHTTP(rec, r)
		log.Info("http", "method", r.Method, "path", r.URL.Path, "status", rec.status, "remote", r.RemoteAddr, "took", time.Since(start))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}
