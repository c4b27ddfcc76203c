package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/spf13/afero"
	"go.bug.st/serial"

	"bindpay/internal/boot"
	"bindpay/internal/display"
	"bindpay/internal/flagstore"
	"bindpay/internal/modem"
	"bindpay/internal/platform"
)

// Compile-time checks that the implementations fit the flow's interfaces.
var (
	_ boot.FlagStore = (*flagstore.Store)(nil)
	_ boot.Ledger    = (*flagstore.Ledger)(nil)
	_ boot.Platform  = (*platform.Client)(nil)
	_ boot.Inbox     = (*modem.Receiver)(nil)
	_ boot.Display   = display.Multi(nil)
	_ boot.Display   = (*display.StatusFile)(nil)
)

// newLogger logs to w (standard error: journald adds its own timestamps).
// Times are written in UTC: field logs from boxes in several time zones line
// up, and the bound fast path never has to load the local time zone.
func newLogger(format string, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 && a.Value.Kind() == slog.KindTime {
			a.Value = slog.TimeValue(a.Value.Time().UTC())
		}
		return a
	}}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// cmdRun is `bindpay-agent run`.
func cmdRun(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	log := newLogger(cfg.LogFormat, stderr)
	osfs := afero.NewOsFs()
	store := flagstore.New(osfs, cfg.StateDir, time.Now)

	// The bound fast path: a valid record for this terminal, and nothing
	// else is set up (DESIGN.md: no modem, no network, no display; at most
	// twice the time of a Go program that only exits). Peek leaves a
	// corrupt record alone: boot.Run quarantines and reports it.
	// The record's proof is checked with the key (one HMAC).
	if rec, err := store.Peek(cfg.TerminalID); err == nil {
		if v, _ := boot.CheckRecord(rec, cfg.TerminalID, cfg.key); v == boot.RecordBound {
			notifier{log: log}.send(daemon.SdNotifyReady + "\n" + statusLine("bound to "+rec.MSISDN))
			log.Info("already bound; nothing to do", "terminal_id", rec.TerminalID, "msisdn", rec.MSISDN, "record", store.Path())
			return nil
		}
	}
	if cfg.insecureHTTP {
		log.Warn("platform.url is plain http to a remote host (platform.allow_insecure_http = true): answers are readable and, without a terminal key, forgeable on the way", "url", cfg.Platform.URL)
	}
	// Not bound: from here on the agent mostly waits. One processor is all
	// it needs, and fewer per-processor caches and threads keep its memory
	// down (make bench).
	runtime.GOMAXPROCS(1)
	ctx, stop := withSignals(ctx)
	defer stop()

	// A display write may take at most a quarter of the watchdog period, so
	// that a stuck one shows before systemd's deadline.
	timeout := displayTimeout
	if wd, err := daemon.SdWatchdogEnabled(false); err == nil && wd > 0 {
		timeout = min(timeout, wd/4)
	}
	disp, closeDisp, err := newDisplay(cfg, stdout, log, timeout)
	if err != nil {
		return err
	}
	defer closeDisp()

	rx := modem.NewReceiver(modem.Config{
		Open:           openSerial(cfg.Modem.Device, cfg.Modem.Baud),
		HealthInterval: time.Duration(cfg.Modem.HealthInterval),
		PartialTTL:     time.Duration(cfg.SMS.PartialTTL),
		Baud:           cfg.Modem.Baud,
		Log:            log.With("modem", cfg.Modem.Device),
	})
	// The watchdog is fed only while the modem loop, the flow and every
	// display answer: a hung modem, a flow stuck in a call, or a console
	// write that never returns all get the agent restarted.
	beat := boot.NewHeartbeat()
	sd := notifier{log: log}
	stopWatchdog := sd.startWatchdog(ctx, func(ctx context.Context) error {
		return errors.Join(rx.Alive(ctx), beat.Alive(ctx), disp.Alive(ctx))
	})
	defer stopWatchdog()
	pc, err := newPlatformClient(cfg, log)
	if err != nil {
		return err
	}
	out, err := boot.Run(ctx, boot.Config{
		TerminalID:   cfg.TerminalID,
		Senders:      cfg.allowlist,
		Key:          cfg.key,
		FallbackTo:   cfg.SMS.FallbackTo,
		FallbackBody: cfg.SMS.FallbackBody,
		PollInterval: time.Duration(cfg.Platform.PollInterval),
	}, boot.Deps{
		Flags:     store,
		Ledger:    flagstore.NewLedger(osfs, cfg.StateDir, time.Now),
		Platform:  pc,
		Inbox:     rx,
		Display:   disp,
		Clock:     realClock{},
		Log:       log,
		Status:    sd.Status,
		Ready:     sd.Ready,
		Heartbeat: beat,
	})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return fmt.Errorf("run: %w", err)
	}
	// One message, so that systemd reads both before the process is gone.
	sd.send(daemon.SdNotifyReady + "\n" + statusLine("bound to "+out.Record.MSISDN))
	if out.AlreadyBound {
		log.Info("already bound; nothing to do", "terminal_id", out.Record.TerminalID, "msisdn", out.Record.MSISDN, "record", store.Path())
		return nil
	}
	log.Info("activation complete", "terminal_id", out.Record.TerminalID, "msisdn", out.Record.MSISDN, "record", store.Path())
	return nil
}

// newPlatformClient is the service platform's client, signing its requests
// and verifying its answers when a terminal key is configured.
func newPlatformClient(cfg Config, log *slog.Logger) (*platform.Client, error) {
	hc, err := platform.NewHTTPClient(cfg.Platform.CAFile, 15*time.Second)
	if err != nil {
		return nil, usageErr("%w", err)
	}
	return &platform.Client{
		BaseURL: cfg.Platform.URL,
		HTTP:    hc,
		Key:     cfg.key,
		OnSkew: func(offset time.Duration) {
			log.Warn("this terminal's clock is off from the service platform's; signing requests with the platform's time (check NTP)", "offset", offset)
		},
	}, nil
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// newDisplay builds the configured displays. Nothing is opened here: the
// console tty, the framebuffer, its font and the status file are opened at
// their first use, so that the bound fast path touches none of them.
func newDisplay(cfg Config, stdout io.Writer, log *slog.Logger, timeout time.Duration) (guardedDisplay, func(), error) {
	var multi display.Multi
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	for _, o := range cfg.Display.Outputs {
		switch o {
		case "console":
			var w io.Writer = stdout
			if cfg.Display.Console != "" {
				lw := &lazyWriter{path: cfg.Display.Console}
				w = lw
				closers = append(closers, lw.close)
			}
			var opts []display.ConsoleOption
			switch cfg.Display.ConsoleQR {
			case "light":
				opts = append(opts, display.LightBackground())
			case "off":
				opts = append(opts, display.WithoutQR())
			}
			con, err := display.NewConsole(w, cfg.Display.Lang, opts...)
			if err != nil {
				closeAll()
				return guardedDisplay{}, nil, usageErr("display: %w", err)
			}
			multi = append(multi, con)
		case "framebuffer":
			f, closeFB, err := newFramebuffer(cfg, log)
			if err != nil {
				closeAll()
				return guardedDisplay{}, nil, err
			}
			multi = append(multi, f)
			closers = append(closers, closeFB)
		case "status":
			st, err := display.NewStatusFile(afero.NewOsFs(), cfg.Display.StatusFile, cfg.Display.Lang, time.Now)
			if err != nil {
				closeAll()
				return guardedDisplay{}, nil, usageErr("display.status_file: %w", err)
			}
			multi = append(multi, st)
		}
	}
	// Each output gets its own deadline: a stuck console must not delay the
	// status file, nor block the flow.
	var g guardedDisplay
	for _, d := range multi {
		dl, err := display.NewDeadline(d, timeout, time.Now, time.After)
		if err != nil {
			closeAll()
			return guardedDisplay{}, nil, err
		}
		g.Multi = append(g.Multi, dl)
		g.deadlines = append(g.deadlines, dl)
	}
	return g, closeAll, nil
}

// displayTimeout bounds one screen's write to one output (less under a
// short watchdog).
const displayTimeout = 10 * time.Second

// guardedDisplay is every output behind its deadline; Alive reports one
// whose write is blocked (for the watchdog).
type guardedDisplay struct {
	display.Multi
	deadlines []*display.Deadline
}

func (g guardedDisplay) Alive(ctx context.Context) error {
	var errs []error
	for _, d := range g.deadlines {
		errs = append(errs, d.Alive(ctx))
	}
	return errors.Join(errs...)
}

// lazyWriter opens a tty for writing at the first Write.
type lazyWriter struct {
	path string
	once sync.Once
	f    *os.File
	err  error
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	l.once.Do(func() {
		l.f, l.err = os.OpenFile(l.path, os.O_WRONLY|syscall.O_NOCTTY, 0)
		if l.err != nil {
			l.err = fmt.Errorf("open console %s: %w (check display.console)", l.path, l.err)
		}
	})
	if l.err != nil {
		return 0, l.err
	}
	return l.f.Write(p)
}

func (l *lazyWriter) close() {
	if l.f != nil {
		l.f.Close()
	}
}

// openSerial returns the opener of the modem's port, with errors a person
// can act on.
func openSerial(dev string, baud int) func(context.Context) (io.ReadWriteCloser, error) {
	return func(ctx context.Context) (io.ReadWriteCloser, error) {
		p, err := serial.Open(dev, &serial.Mode{BaudRate: baud})
		if err == nil {
			return p, nil
		}
		var pe *serial.PortError
		switch {
		case errors.As(err, &pe) && pe.Code() == serial.PortBusy:
			return nil, fmt.Errorf("open %s: device busy (held by ModemManager? see deploy/99-bindpay.rules, which makes ModemManager ignore the port)", dev)
		case errors.As(err, &pe) && pe.Code() == serial.PermissionDenied:
			return nil, fmt.Errorf("open %s: permission denied (is the agent's user in group dialout?)", dev)
		case errors.Is(err, syscall.EPERM):
			// The service's device policy was settled before the serial
			// driver appeared: only a restart picks the device up.
			return nil, fmt.Errorf("open %s: operation not permitted (the serial driver loaded after the agent started; restarting to pick it up): %w", dev, modem.ErrPermanent)
		case errors.Is(err, syscall.ENOENT):
			return nil, fmt.Errorf("open %s: no such device (is the modem plugged in? check modem.device)", dev)
		}
		return nil, fmt.Errorf("open %s: %w", dev, err)
	}
}
