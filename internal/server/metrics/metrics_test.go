package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQueryOutcome(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		want   string
	}{
		{"answered", 200, "ok"},
		{"never enrolled", 404, "unknown"},
		{"unsigned", 401, "unauthorized"},
		{"over capacity", 429, "shed"},
		{"unavailable", 503, "shed"},
		{"store down", 500, "error"},
		{"bad path", 400, "bad_request"},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, QueryOutcome(tc.status)) })
	}
}

func TestMiddleware(t *testing.T) {
	m := New(nil)
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/terminals/STB1/binding":
			_, _ = io.WriteString(w, "{}") // implicit 200
		case "/v1/terminals/NOPE/binding":
			w.WriteHeader(http.StatusNotFound)
		case "/v1/terminals/BUSY/binding", "/v1/admin/terminals/X":
			w.WriteHeader(http.StatusTooManyRequests)
			w.WriteHeader(http.StatusOK) // a second WriteHeader is ignored, as net/http does
		default:
			w.WriteHeader(http.StatusTeapot)
		}
	}))
	for _, p := range []string{"/v1/terminals/STB1/binding", "/v1/terminals/STB1/binding", "/v1/terminals/NOPE/binding",
		"/v1/terminals/BUSY/binding", "/v1/admin/terminals/X", "/v1/sms/mo"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
	}
	assert.Equal(t, 2.0, testutil.ToFloat64(m.queries.WithLabelValues("ok")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.queries.WithLabelValues("unknown")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.queries.WithLabelValues("shed")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.throttled.WithLabelValues("terminal")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.throttled.WithLabelValues("admin")))
	assert.Equal(t, 3, testutil.CollectAndCount(m.queries), "no label for the other paths")
}

func TestReports(t *testing.T) {
	m := New(nil)
	m.Activation("activated")
	m.Activation("activated")
	m.Activation("refused")
	m.ConfirmationSubmitted(3 * time.Second)
	m.ConfirmationDelivered(40 * time.Second)
	m.ConfirmationDelivered(2 * time.Hour)
	m.LinkState("smpp", true)
	m.LinkState("smpp", false)
	m.StoreError("update")
	assert.Equal(t, 2.0, testutil.ToFloat64(m.acts.WithLabelValues("activated")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.acts.WithLabelValues("refused")))
	assert.Equal(t, 0.0, testutil.ToFloat64(m.link.WithLabelValues("smpp")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.storeErrs.WithLabelValues("update")))
	require.NoError(t, testutil.CollectAndCompare(m.delivery, strings.NewReader(`
# HELP bindpay_confirmation_delivery_seconds From the confirmation's submission to the delivery receipt of its last part.
# TYPE bindpay_confirmation_delivery_seconds histogram
bindpay_confirmation_delivery_seconds_bucket{le="0.5"} 0
bindpay_confirmation_delivery_seconds_bucket{le="1"} 0
bindpay_confirmation_delivery_seconds_bucket{le="2"} 0
bindpay_confirmation_delivery_seconds_bucket{le="5"} 0
bindpay_confirmation_delivery_seconds_bucket{le="10"} 0
bindpay_confirmation_delivery_seconds_bucket{le="20"} 0
bindpay_confirmation_delivery_seconds_bucket{le="30"} 0
bindpay_confirmation_delivery_seconds_bucket{le="60"} 1
bindpay_confirmation_delivery_seconds_bucket{le="120"} 1
bindpay_confirmation_delivery_seconds_bucket{le="300"} 1
bindpay_confirmation_delivery_seconds_bucket{le="600"} 1
bindpay_confirmation_delivery_seconds_bucket{le="1800"} 1
bindpay_confirmation_delivery_seconds_bucket{le="3600"} 1
bindpay_confirmation_delivery_seconds_bucket{le="14400"} 2
bindpay_confirmation_delivery_seconds_bucket{le="+Inf"} 2
bindpay_confirmation_delivery_seconds_sum 7240
bindpay_confirmation_delivery_seconds_count 2
`)))
	assert.Equal(t, 1, testutil.CollectAndCount(m.submit))
}

func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.Activation("activated")
	m.ConfirmationSubmitted(time.Second)
	m.ConfirmationDelivered(time.Second)
	m.LinkState("http", true)
	m.StoreError("x")
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	assert.NotNil(t, m.Middleware(h), "metrics off: the handler itself")
}

func TestOutboxAtScrape(t *testing.T) {
	var fail error
	depth := 3
	m := New(func(ctx context.Context) (int, time.Duration, error) {
		_, ok := ctx.Deadline()
		require.True(t, ok, "the reading has a deadline")
		return depth, 90 * time.Second, fail
	})
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	scrape := func() (int, string) {
		res, err := http.Get(srv.URL)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, string(b)
	}
	status, body := scrape()
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, "\nbindpay_outbox_depth 3\n")
	assert.Contains(t, body, "\nbindpay_outbox_oldest_age_seconds 90\n")
	assert.Contains(t, body, "go_goroutines")
	depth = 5
	_, body = scrape()
	assert.Contains(t, body, "\nbindpay_outbox_depth 5\n", "read at each scrape")

	fail = errors.New("database is locked")
	status, body = scrape()
	assert.Equal(t, http.StatusOK, status, "the other metrics are still served")
	assert.NotContains(t, body, "bindpay_outbox_depth", "a failed reading shows no value, never a stale one")
	assert.Contains(t, body, "go_goroutines")
	assert.Equal(t, 1.0, testutil.ToFloat64(m.outboxErrs))
}

// TestDashboard checks that every metric deploy/grafana-dashboard.json
// queries is one this package exports.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile("../../../deploy/grafana-dashboard.json")
	require.NoError(t, err)
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	require.NoError(t, json.Unmarshal(b, &d))
	m := New(func(context.Context) (int, time.Duration, error) { return 0, 0, nil })
	m.Activation("x")
	m.LinkState("sim", true)
	m.StoreError("x")
	m.ConfirmationSubmitted(time.Second)
	m.ConfirmationDelivered(time.Second)
	m.queries.WithLabelValues("ok").Inc()
	m.throttled.WithLabelValues("terminal").Inc()
	fams, err := m.Registry().Gather()
	require.NoError(t, err)
	have := map[string]bool{}
	for _, f := range fams {
		have[f.GetName()] = true
		if f.GetType().String() == "HISTOGRAM" {
			have[f.GetName()+"_bucket"] = true
		}
	}
	name := regexp.MustCompile(`bindpay_[a-z_]+`)
	require.NotEmpty(t, d.Panels)
	for _, p := range d.Panels {
		require.NotEmpty(t, p.Targets, p.Title)
		for _, tg := range p.Targets {
			for _, n := range name.FindAllString(tg.Expr, -1) {
				assert.True(t, have[n], "panel %q queries %s, which is not exported", p.Title, n)
			}
		}
	}
}
