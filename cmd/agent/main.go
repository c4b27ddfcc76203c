// Command bindpay-agent is bindpay's boot-time agent on the terminal: it
// finds whether the terminal is bound to a paying mobile number, and if not,
// shows what to text and waits for the operator's confirmation SMS on the
// terminal's own modem. See DESIGN.md for the flow, the protocols and the
// command line.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is stamped at link time: -ldflags "-X main.version=$(git describe)".
var version = "dev"

// Exit codes of DESIGN.md.
const (
	exitBound    = 0 // run: bound
	exitFailure  = 1 // anything else (systemd retries)
	exitUsage    = 2 // usage or configuration error: never retried
	exitSignaled = 3 // stopped by a signal before binding
)

func main() {
	os.Exit(report(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr), os.Stderr))
}

// withSignals is ctx, cancelled by SIGINT or SIGTERM. The commands that
// wait (run, doctor) take it once they are about to wait, not in main:
// setting up the handlers starts a thread of the runtime's, which costs
// more than the whole bound fast path (make bench), and a signal before
// that ends the process by its default action, which the read-only work
// done until then allows.
func withSignals(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

// exitError carries an exit code other than 1 and a message already phrased
// for a person.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// silentExit ends with a code and nothing more to print (the command already
// said what it had to, e.g. `status` of an unbound terminal).
type silentExit int

func (s silentExit) Error() string { return fmt.Sprintf("exit status %d", int(s)) }

// report prints err (once, one line) and turns it into the exit code.
func report(err error, stderr io.Writer) int {
	if err == nil {
		return exitBound
	}
	var s silentExit
	if errors.As(err, &s) {
		return int(s)
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "bindpay-agent: stopped by a signal before the terminal was bound")
		return exitSignaled
	}
	fmt.Fprintln(stderr, "bindpay-agent:", err)
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return exitFailure
}

// run parses the command line and runs the command. Only main exits.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, cmd, cmdArgs, err := parseArgs(args, stderr)
	if err != nil {
		return err
	}
	switch cmd {
	case "version":
		if len(cmdArgs) > 0 {
			return usageErr("version takes no arguments")
		}
		fmt.Fprintln(stdout, "bindpay-agent", version)
		return nil
	case "run", "status", "reset", "doctor":
	default:
		return usageErr("unknown command %q (commands: run, status, reset, doctor, version)", cmd)
	}
	cfg, err := loadConfig(opts)
	if err != nil {
		return err
	}
	switch cmd {
	case "status":
		return cmdStatus(cfg, cmdArgs, stdout)
	case "doctor":
		ctx, stop := withSignals(ctx)
		defer stop()
		return cmdDoctor(ctx, cfg, cmdArgs, stdout)
	case "reset":
		if len(cmdArgs) > 0 {
			return usageErr("reset takes no arguments")
		}
		return cmdReset(cfg, stdout)
	}
	if len(cmdArgs) > 0 {
		return usageErr("run takes no arguments, got %q", cmdArgs)
	}
	return cmdRun(ctx, cfg, stdout, stderr)
}
