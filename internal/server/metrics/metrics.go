// Package metrics holds bindpay-platform's Prometheus metrics
// (github.com/prometheus/client_golang) in one registry of its own, and
// serves them at /metrics. The other packages report through the methods
// of *Metrics; every method is safe on a nil *Metrics (metrics off) and
// from any goroutine.
//
// What is measured, and who reports it:
//   - bindpay_terminal_queries_total{outcome}: Middleware, from the status
//     of GET /v1/terminals/{tid}/binding (ok, unknown, unauthorized,
//     shed, error);
//   - bindpay_http_throttled_total{path}: Middleware, every 429;
//   - bindpay_activations_total{outcome}: Activation, from what
//     activation.Service.ReceiveMO returned;
//   - bindpay_confirmation_submit_seconds: ConfirmationSubmitted, from the
//     MO's arrival to the confirmation's last part accepted by the SMS centre;
//   - bindpay_confirmation_delivery_seconds: ConfirmationDelivered, from
//     submission to the delivery receipt of its last part;
//   - bindpay_outbox_depth, bindpay_outbox_oldest_age_seconds: a scrape-time
//     reading by the OutboxReader given to New;
//   - bindpay_link_up{kind}: LinkState;
//   - bindpay_store_errors_total{op}: StoreError.
package metrics

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// OutboxReader reads the outbox's depth (queued messages) and the age of
// its oldest queued message, at each scrape.
type OutboxReader func(ctx context.Context) (depth int, oldest time.Duration, err error)

// Metrics is the platform's set of metrics.
type Metrics struct {
	reg        *prometheus.Registry
	queries    *prometheus.CounterVec
	throttled  *prometheus.CounterVec
	acts       *prometheus.CounterVec
	submit     prometheus.Histogram
	delivery   prometheus.Histogram
	link       *prometheus.GaugeVec
	storeErrs  *prometheus.CounterVec
	outboxErrs prometheus.Counter
}

// Latency buckets, in seconds: an SMS round trip takes seconds to minutes,
// a stuck one hours.
var latencyBuckets = []float64{0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600}

// scrapeTimeout bounds the outbox reading of one scrape.
const scrapeTimeout = 5 * time.Second

// New returns the metrics, with Go runtime and process metrics, and the
// outbox gauges read by outbox at each scrape (none when outbox is nil).
func New(outbox OutboxReader) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bindpay_terminal_queries_total",
			Help: "Terminal binding queries (GET /v1/terminals/{tid}/binding) by outcome."}, []string{"outcome"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bindpay_http_throttled_total",
			Help: "Requests answered 429 (over capacity), by API."}, []string{"api"}),
		acts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bindpay_activations_total",
			Help: "MOs received by what they led to (activated, refused, pending, unknown, duplicate, …)."}, []string{"outcome"}),
		submit: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bindpay_confirmation_submit_seconds",
			Help: "From the MO's arrival to the confirmation's last part accepted by the SMS centre.", Buckets: latencyBuckets}),
		delivery: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bindpay_confirmation_delivery_seconds",
			Help: "From the confirmation's submission to the delivery receipt of its last part.", Buckets: latencyBuckets}),
		link: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bindpay_link_up",
			Help: "1 when the link to the SMS centre is up (bound), else 0."}, []string{"kind"}),
		storeErrs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bindpay_store_errors_total",
			Help: "Store operations that failed (not counting not-found and conflicts), by operation."}, []string{"op"}),
		outboxErrs: prometheus.NewCounter(prometheus.CounterOpts{Name: "bindpay_outbox_scrape_errors_total",
			Help: "Scrapes whose outbox reading failed (the outbox gauges are then missing)."}),
	}
	m.reg.MustRegister(m.queries, m.throttled, m.acts, m.submit, m.delivery, m.link, m.storeErrs, m.outboxErrs,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if outbox != nil {
		m.reg.MustRegister(&outboxCollector{read: outbox, errs: m.outboxErrs})
	}
	return m
}

// Registry is the registry the metrics are in (for tests and for adding
// a package's own collector).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in Prometheus' text or OpenMetrics format;
// mount it at /metrics. A failed outbox reading leaves its gauges out of
// that scrape (and counts bindpay_outbox_scrape_errors_total) instead of
// failing the whole scrape.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, Timeout: 2 * scrapeTimeout,
		MaxRequestsInFlight: 4, EnableOpenMetrics: true, ErrorHandling: promhttp.ContinueOnError})
}

// Activation counts an MO by the outcome activation.Service.ReceiveMO
// reported (string(res.Outcome)).
func (m *Metrics) Activation(outcome string) {
	if m != nil {
		m.acts.WithLabelValues(outcome).Inc()
	}
}

// ConfirmationSubmitted observes the time from an MO's arrival to its
// confirmation's last part accepted by the SMS centre.
func (m *Metrics) ConfirmationSubmitted(d time.Duration) {
	if m != nil {
		m.submit.Observe(d.Seconds())
	}
}

// ConfirmationDelivered observes the time from a confirmation's
// submission to the delivery receipt of its last part.
func (m *Metrics) ConfirmationDelivered(d time.Duration) {
	if m != nil {
		m.delivery.Observe(d.Seconds())
	}
}

// LinkState records whether the link of kind (smpp, http, sim) is up.
func (m *Metrics) LinkState(kind string, up bool) {
	if m == nil {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	m.link.WithLabelValues(kind).Set(v)
}

// StoreError counts a failed store operation op ("update", "terminal", …).
func (m *Metrics) StoreError(op string) {
	if m != nil {
		m.storeErrs.WithLabelValues(op).Inc()
	}
}

// QueryOutcome is the rule for a terminal query's outcome label, from the
// status the API answered with.
func QueryOutcome(status int) string {
	switch {
	case status == http.StatusOK:
		return "ok"
	case status == http.StatusNotFound:
		return "unknown"
	case status == http.StatusUnauthorized:
		return "unauthorized"
	case status == http.StatusTooManyRequests, status == http.StatusServiceUnavailable:
		return "shed"
	case status >= 500:
		return "error"
	default:
		return "bad_request"
	}
}

// apiOf names the API a path belongs to, for the throttled label (a small,
// fixed set: never the terminal ID).
func apiOf(path string) string {
	switch {
	case strings.HasPrefix(path, "/v1/terminals/"):
		return "terminal"
	case strings.HasPrefix(path, "/v1/sms/"):
		return "sms"
	case strings.HasPrefix(path, "/v1/admin/"):
		return "admin"
	case strings.HasPrefix(path, "/console/"):
		return "console"
	default:
		return "other"
	}
}

// Middleware counts terminal queries by outcome and every 429, from the
// answers of h (the api package's handler), without changing them.
func (m *Metrics) Middleware(h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/terminals/") && strings.HasSuffix(r.URL.Path, "/binding") {
			m.queries.WithLabelValues(QueryOutcome(sw.status)).Inc()
		}
		if sw.status == http.StatusTooManyRequests {
			m.throttled.WithLabelValues(apiOf(r.URL.Path)).Inc()
		}
	})
}

// statusWriter remembers the status written through it.
type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// outboxCollector reads the outbox at scrape time, so that the gauges are
// never stale and nothing polls between scrapes.
type outboxCollector struct {
	read OutboxReader
	errs prometheus.Counter
}

var (
	outboxDepthDesc = prometheus.NewDesc("bindpay_outbox_depth", "Messages queued in the outbox (not yet accepted by the SMS centre).", nil, nil)
	outboxAgeDesc   = prometheus.NewDesc("bindpay_outbox_oldest_age_seconds", "Age of the oldest queued message (0 when none).", nil, nil)
)

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxDepthDesc
	ch <- outboxAgeDesc
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	depth, oldest, err := c.read(ctx)
	if err != nil {
		c.errs.Inc()
		ch <- prometheus.NewInvalidMetric(outboxDepthDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(outboxDepthDesc, prometheus.GaugeValue, float64(depth))
	ch <- prometheus.MustNewConstMetric(outboxAgeDesc, prometheus.GaugeValue, oldest.Seconds())
}
