// Package node assembles one bindpay-platform node from its parts: the
// HTTP API, the activation service (with its OSS retries), the outbox
// worker and the link. cmd/platform's serve wraps it with a listener,
// systemd and signals; netsim embeds it in process with the sim link and
// a store in a temporary directory.
//
// Ownership: [Node.Run] owns the background loops (outbox, activation
// retries, MO pruning), each on a goroutine it starts and waits for; it
// returns once all have stopped, after ctx ends. The Handler may serve
// requests from any goroutine, before, during and after Run.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"bindpay/internal/server/activation"
	"bindpay/internal/server/api"
	"bindpay/internal/server/config"
	"bindpay/internal/server/console"
	"bindpay/internal/server/link"
	"bindpay/internal/server/metrics"
	"bindpay/internal/server/outbox"
	"bindpay/internal/server/store"
)

// Secrets are what the secret files hold, read by the caller.
type Secrets struct {
	MasterKey   []byte
	AdminToken  string // "" disables the admin API (every call 401)
	CallbackKey string // the gateway's secret on /v1/sms/mo and /v1/sms/dlr
}

// Options are the parts tests and netsim replace.
type Options struct {
	Now       func() time.Time // default time.Now
	Log       *slog.Logger     // default: discard
	Owner     string           // outbox lease name; default host:pid
	OSSClient *http.Client     // default: one with no redirects
	NewNonce  func() string    // default api.NewNonce
}

// Node is one platform node.
type Node struct {
	cfg     config.Config
	st      store.Store
	act     *activation.Service
	ob      *outbox.Worker
	handler http.Handler
	metrics *metrics.Metrics
	now     func() time.Time
	log     *slog.Logger
}

// New builds a node over st, sending MTs through l.
func New(cfg config.Config, st store.Store, l link.Link, sec Secrets, o Options) (*Node, error) {
	if len(sec.MasterKey) == 0 {
		return nil, errors.New("node: no master key")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Owner == "" {
		host, _ := os.Hostname()
		o.Owner = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if o.OSSClient == nil {
		o.OSSClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	ob := outbox.New(outbox.Config{Store: st, Link: l, Owner: o.Owner, Lease: cfg.Outbox.Lease.D(), Poll: cfg.Outbox.Poll.D(),
		LinkTimeout: cfg.Link.Timeout.D(), RetryInitial: cfg.Outbox.RetryInitial.D(), RetryMax: cfg.Outbox.RetryMax.D(),
		Batch: cfg.Outbox.Batch, Now: o.Now, Log: o.Log.With("part", "outbox")})
	var oss activation.OSS
	if cfg.OSS.URL != "" {
		oss = activation.HTTPOSS{URL: cfg.OSS.URL, Client: o.OSSClient}
	}
	act := activation.New(activation.Config{Store: st, MasterKey: sec.MasterKey, From: cfg.SMS.From, Lang: cfg.SMS.Lang,
		OSS: oss, OSSTimeout: cfg.OSS.Timeout.D(), RetryInitial: cfg.OSS.RetryInitial.D(), RetryMax: cfg.OSS.RetryMax.D(),
		DedupWindow: cfg.MO.DedupWindow.D(), Validity: cfg.Outbox.Validity.D(), Poll: cfg.OSS.RetryInitial.D() / 2,
		Now: o.Now, Log: o.Log.With("part", "activation"), Notify: ob.Notify})
	h := api.New(api.Deps{Store: st, MasterKey: sec.MasterKey, SMSFrom: cfg.SMS.From, NonceTTL: cfg.API.NonceTTL.D(),
		AllowUnsigned: cfg.API.AllowUnsigned, MaxInFlight: cfg.API.MaxInFlight, CallbackKey: sec.CallbackKey,
		AdminToken: sec.AdminToken, Activation: act, Outbox: ob, Now: o.Now, Log: o.Log.With("part", "api"), NewNonce: o.NewNonce})
	// The operators' console and the metrics beside the API. The metrics'
	// outbox gauges need a store query that does not exist yet (nil).
	m := metrics.New(nil)
	con, err := console.New(console.Options{Store: st, Actions: act, AdminToken: sec.AdminToken,
		Secure: cfg.TLS.CertFile != "", Now: o.Now, Log: o.Log.With("part", "console")})
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(console.Prefix, con)
	mux.Handle("GET /metrics", m.Handler())
	mux.Handle("/", m.Middleware(h))
	return &Node{cfg: cfg, st: st, act: act, ob: ob, handler: mux, metrics: m, now: o.Now, log: o.Log}, nil
}

// Metrics is the node's metrics (served at /metrics).
func (n *Node) Metrics() *metrics.Metrics { return n.metrics }

// Handler is the node's HTTP API, the console at /console/ and /metrics.
func (n *Node) Handler() http.Handler { return n.handler }

// Activation is the node's activation service: netsim's SMS centre hands
// it the MOs of its phones (the link's MO callback).
func (n *Node) Activation() *activation.Service { return n.act }

// Outbox is the node's outbox worker (netsim reports receipts to it).
func (n *Node) Outbox() *outbox.Worker { return n.ob }

// Run runs the background loops until ctx ends and all have stopped.
func (n *Node) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	run := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil {
				n.log.Error(name+" stopped", "err", err)
			}
		}()
	}
	run("outbox", n.ob.Run)
	run("activation retries", n.act.Run)
	run("MO pruning", n.prune)
	wg.Wait()
	return nil
}

// prune forgets MO records older than mo.retention, hourly.
func (n *Node) prune(ctx context.Context) error {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if c, err := n.st.PruneMO(ctx, n.now().Add(-n.cfg.MO.Retention.D())); err != nil && ctx.Err() == nil {
			n.log.Warn("MO pruning failed; retried in an hour", "err", err)
		} else if c > 0 {
			n.log.Info("MO records pruned", "count", c)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
