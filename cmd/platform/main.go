// Command bindpay-platform is the operator side of bindpay: the service
// platform terminals query, the MO intake and OSS step, the outbox that
// sends confirmations through the SMS centre's link, and the admin API.
//
//	bindpay-platform [--config FILE] [--log-format text|json] serve|migrate|enrol FILE|keys derive TID|version
//
// Exit codes: 0 done; 2 usage or configuration error (one line on stderr,
// never worth retrying); 1 anything else.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"bindpay/internal/confirm"
	"bindpay/internal/server/config"
	"bindpay/internal/server/enrol"
	"bindpay/internal/server/secret"
	"bindpay/internal/server/store"
)

// version is stamped at link time (Makefile: -X main.version=…).
var version = "dev"

const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := report(run(ctx, os.Args[1:], os.Stdout, os.Stderr), os.Stderr)
	stop()
	os.Exit(code)
}

// exitError carries exit code 2 and a message already phrased for people.
type exitError struct{ err error }

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{err: fmt.Errorf(format, args...)}
}

// report prints err on one line and turns it into the exit code.
func report(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, context.Canceled) {
		return exitOK
	}
	fmt.Fprintln(stderr, "bindpay-platform: "+strings.ReplaceAll(err.Error(), "\n", "; "))
	var e *exitError
	if errors.As(err, &e) {
		return exitUsage
	}
	return exitFailure
}

const usage = `usage: bindpay-platform [--config FILE] [--log-format text|json] COMMAND
commands:
  serve              run the platform (terminal API, MO/DLR intake, outbox, admin API)
  migrate            bring the store to this build's schema
  enrol FILE         enrol terminals from FILE.csv or FILE.json (all rows or none)
  keys derive TID    print terminal TID's key (64 hex digits) for the factory
  version            print the version`

// run parses the command line and runs the command. Only main exits.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bindpay-platform", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfgPath := fs.String("config", "", "configuration file (default "+config.DefaultPath+")")
	logFormat := fs.String("log-format", "", "log format: text or json (default: the config's log_format)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, usage)
			return nil
		}
		return usageErr("%v (bindpay-platform --help lists the commands)", err)
	}
	if fs.NArg() == 0 {
		return usageErr("no command: want serve, migrate, enrol, keys or version (bindpay-platform --help)")
	}
	cmd, rest := fs.Arg(0), fs.Args()[1:]
	if cmd == "version" {
		if len(rest) > 0 {
			return usageErr("version takes no arguments")
		}
		fmt.Fprintln(stdout, "bindpay-platform "+version)
		return nil
	}
	path, explicit := config.DefaultPath, false
	if *cfgPath != "" {
		path, explicit = *cfgPath, true
	}
	cfg, err := config.Load(path, explicit)
	if err != nil {
		return &exitError{err: err}
	}
	if *logFormat != "" {
		cfg.LogFormat = *logFormat
		if err := cfg.Validate(); err != nil {
			return usageErr("--log-format: %v", err)
		}
	}
	log := newLogger(cfg.LogFormat, stderr)
	switch cmd {
	case "migrate":
		if len(rest) > 0 {
			return usageErr("migrate takes no arguments")
		}
		return migrate(ctx, cfg, stdout)
	case "enrol":
		if len(rest) != 1 {
			return usageErr("enrol wants one FILE.csv or FILE.json")
		}
		return enrolFile(ctx, cfg, rest[0], stdout)
	case "keys":
		if len(rest) != 2 || rest[0] != "derive" {
			return usageErr("keys wants: keys derive TID")
		}
		return deriveKey(cfg, rest[1], stdout)
	case "serve":
		if len(rest) > 0 {
			return usageErr("serve takes no arguments")
		}
		return serve(ctx, cfg, log)
	default:
		return usageErr("unknown command %q: want serve, migrate, enrol, keys or version", cmd)
	}
}

func newLogger(format string, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			a.Value = slog.TimeValue(a.Value.Time().UTC())
		}
		return a
	}}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// masterKey reads the master key file, refusing an unsafe one as a
// configuration error (exit 2, naming the file).
func masterKey(cfg config.Config) ([]byte, error) {
	key, err := secret.MasterKey(cfg.MasterKeyFile)
	if err != nil {
		return nil, &exitError{err: fmt.Errorf("master_key_file: %w", err)}
	}
	return key, nil
}

func migrate(ctx context.Context, cfg config.Config, stdout io.Writer) error {
	s, err := store.Open(ctx, cfg.Store.URL, true)
	if err != nil {
		return err
	}
	defer s.Close()
	cur, _, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "store %s: schema version %d\n", s.Kind(), cur)
	return nil
}

func enrolFile(ctx context.Context, cfg config.Config, file string, stdout io.Writer) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return usageErr("enrol: %v", err)
	}
	rows, err := enrol.Parse(file, data)
	var bad enrol.Errors
	if errors.As(err, &bad) {
		lines := make([]string, len(bad))
		for i, r := range bad {
			lines[i] = fmt.Sprintf("%s:%d: %s", file, r.Line, r.Reason)
		}
		return usageErr("enrol: nothing enrolled, %d bad row(s): %s", len(bad), strings.Join(lines, "; "))
	}
	if err != nil {
		return usageErr("enrol %s: %v", file, err)
	}
	s, err := store.Open(ctx, cfg.Store.URL, false)
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := enrol.Apply(ctx, s, rows, "cli", time.Now())
	if errors.Is(err, store.ErrConflict) {
		return usageErr("enrol %s: nothing enrolled: %v", file, err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "enrolled %d terminal(s) from %s: %d new, %d updated, %d unchanged\n",
		len(rows), file, res.New, res.Updated, res.Unchanged)
	return nil
}

func deriveKey(cfg config.Config, tid string, stdout io.Writer) error {
	if !enrol.ValidTerminalID(tid) {
		return usageErr("keys derive %q: want a terminal ID of 1 to 32 of A-Z a-z 0-9 _ -", tid)
	}
	key, err := masterKey(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%x\n", confirm.DeriveKey(key, tid))
	return nil
}
