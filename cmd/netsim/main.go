// Command bindpay-netsim runs the operator's network side of bindpay on
// loopback (service platform, OSS, SMS platform, a phone) with a simulated
// AT modem on a pty per terminal, and talks to a running one: a phone
// texting the activation request, or anyone texting a terminal's SIM.
//
//	bindpay-netsim serve --terminal STB0012345678 [flags]
//	bindpay-netsim phone --url URL [--from N] [--to N] BODY...
//	bindpay-netsim sms --url URL --terminal TID --from N TEXT...
//	bindpay-netsim help
//
// Exit codes: 0 success, 1 failure (a refused SMS, an unreachable
// simulator), 2 usage or configuration error.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}
