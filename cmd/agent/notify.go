package main

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/coreos/go-systemd/v22/daemon"
)

// notifier tells systemd (Type=notify) where the agent stands: READY=1 once
// the prompt is up or the bound path is done, STATUS= at each change, and
// WATCHDOG=1 while the modem loop, the flow and the displays answer. Outside systemd
// ($NOTIFY_SOCKET unset) every call is a no-op.
type notifier struct {
	log *slog.Logger
}

func (n notifier) send(state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		n.log.Debug("sd_notify failed", "state", state, "err", err)
	}
}

// Ready says the service has started (the prompt is up, or it is bound).
func (n notifier) Ready() { n.send(daemon.SdNotifyReady) }

// Status sets the one-line status systemctl shows.
func (n notifier) Status(s string) { n.send(statusLine(s)) }

// maxStatus bounds a STATUS= line (systemctl shows one line).
const maxStatus = 512

// statusLine is "STATUS=" and s as one line of printable text: every field
// in it was validated before, and this is the last guard, since a newline
// would start another assignment of the sd_notify protocol (READY=1,
// MAINPID=…): an injection.
func statusLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || !unicode.IsPrint(r) && r != ' ' {
			return '?'
		}
		return r
	}, s)
	if len(s) > maxStatus {
		s = strings.ToValidUTF8(s[:maxStatus], "") + "…"
	}
	return "STATUS=" + s
}

// startWatchdog feeds systemd's watchdog every WatchdogSec/2 for as long as
// alive answers within that time: a modem loop stuck in a hung modem, a flow
// stuck in a call or a display write that never returns stops the pings,
// and systemd restarts the agent. It returns the function that
// stops it and waits for its goroutine.
func (n notifier) startWatchdog(ctx context.Context, alive func(context.Context) error) (stop func()) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		n.log.Warn("cannot read the watchdog settings; not feeding it", "err", err)
	}
	if interval <= 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval / 2)
		defer t.Stop()
		last := ""
		for {
			probe, done := context.WithTimeout(ctx, interval/2)
			err := alive(probe)
			done()
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				if e := err.Error(); e != last {
					last = e
					n.log.Error("agent stuck (modem loop, activation flow or a display); not feeding the watchdog, systemd will restart it", "err", err)
				}
			default:
				if last != "" {
					last = ""
					n.log.Info("agent answering again; feeding the watchdog")
				}
				n.send(daemon.SdNotifyWatchdog)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}
