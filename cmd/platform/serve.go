package main

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"bindpay/internal/server/config"
	"bindpay/internal/server/link"
	"bindpay/internal/server/node"
	"bindpay/internal/server/secret"
	"bindpay/internal/server/store"
)

// drainTimeout bounds the graceful shutdown of requests in flight.
const drainTimeout = 20 * time.Second

// serve runs the node until ctx ends: listener first (a port in use is
// reported at once), then the store, READY=1, the watchdog, and at the end
// a graceful shutdown that drains requests, then the background loops.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	if err := cfg.CheckLink(); err != nil {
		return usageErr("config: %v", err)
	}
	sec, err := secrets(cfg)
	if err != nil {
		return err
	}
	var l link.Link
	switch cfg.Link.Kind {
	case "http":
		l = &link.HTTP{SendSMSURL: cfg.Link.SendSMSURL, Username: cfg.Link.Username, Password: cfg.Link.Password,
			DLRURLBase: cfg.Link.DLRURLBase, CallbackKey: sec.CallbackKey,
			Client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	default:
		return usageErr("link.kind %q: serve speaks \"http\"; \"sim\" exists only inside bindpay-netsim", cfg.Link.Kind)
	}
	st, err := store.Open(ctx, cfg.Store.URL, cfg.Store.Migrate)
	if errors.Is(err, store.ErrSchema) {
		return &exitError{err: err}
	}
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := node.New(cfg, st, l, sec, node.Options{Log: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return usageErr("listen %s: %v", cfg.Listen, err)
	}
	srv := &http.Server{Handler: n.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	if cfg.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
		if err != nil {
			ln.Close()
			return usageErr("tls: %v", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(2)
	serveErr := make(chan error, 1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			serveErr <- err
		}
	}()
	go func() {
		defer wg.Done()
		_ = n.Run(bg)
	}()
	stopWatchdog := watchdog(bg, log, st.Ping)
	log.Info("listening", "addr", ln.Addr().String(), "store", st.Kind(), "link", cfg.Link.Kind, "version", version)
	notify(log, daemon.SdNotifyReady, "STATUS=serving on "+ln.Addr().String())

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("stopping: draining requests, then the outbox")
	case runErr = <-serveErr:
		log.Error("HTTP server failed", "err", runErr)
	}
	notify(log, daemon.SdNotifyStopping)
	drain, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
	defer cancel()
	if err := srv.Shutdown(drain); err != nil {
		log.Warn("requests still running at shutdown", "err", err)
	}
	stopBG()
	stopWatchdog()
	wg.Wait()
	log.Info("stopped")
	return runErr
}

// secrets reads the secret files the config names.
func secrets(cfg config.Config) (node.Secrets, error) {
	var sec node.Secrets
	var err error
	if sec.MasterKey, err = masterKey(cfg); err != nil {
		return sec, err
	}
	if cfg.Admin.TokenFile != "" {
		b, err := secret.ReadFile(cfg.Admin.TokenFile)
		if err != nil {
			return sec, usageErr("admin.token_file: %v", err)
		}
		sec.AdminToken = string(b)
	}
	if cfg.Link.CallbackKeyFile != "" {
		b, err := secret.ReadFile(cfg.Link.CallbackKeyFile)
		if err != nil {
			return sec, usageErr("link.callback_key_file: %v", err)
		}
		sec.CallbackKey = string(b)
	}
	return sec, nil
}

func notify(log *slog.Logger, states ...string) {
	for _, s := range states {
		if _, err := daemon.SdNotify(false, s); err != nil {
			log.Debug("sd_notify failed", "state", s, "err", err)
		}
	}
}

// watchdog feeds systemd's watchdog (WatchdogSec) every half interval
// while the store answers within that time. It returns the function that
// stops it and waits for its goroutine.
func watchdog(ctx context.Context, log *slog.Logger, alive func(context.Context) error) (stop func()) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		log.Warn("cannot read the watchdog settings; not feeding it", "err", err)
	}
	if interval <= 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval / 2)
		defer t.Stop()
		for {
			probe, cancelProbe := context.WithTimeout(ctx, interval/2)
			err := alive(probe)
			cancelProbe()
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				log.Error("store not answering; not feeding the watchdog", "err", err)
			default:
				notify(log, daemon.SdNotifyWatchdog)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { cancel(); <-done }
}
