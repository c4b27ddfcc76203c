package node

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/pdumode"
	"github.com/warthog618/sms/encoding/tpdu"

	"bindpay/internal/confirm"
	"bindpay/internal/server/activation"
	"bindpay/internal/server/config"
	"bindpay/internal/server/link"
	"bindpay/internal/server/store"
)

// simNetwork is what netsim implements: it takes the PDUs for each SIM.
type simNetwork struct {
	mu   sync.Mutex
	pdus map[string][]string
}

func (n *simNetwork) DeliverPDU(ctx context.Context, to, pdu string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.pdus[to] = append(n.pdus[to], pdu)
	return nil
}

func (n *simNetwork) text(t *testing.T, to string) (string, int) {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	var segs []*tpdu.TPDU
	for _, h := range n.pdus[to] {
		p, err := pdumode.UnmarshalHexString(h)
		require.NoError(t, err)
		seg, err := sms.Unmarshal(p.TPDU)
		require.NoError(t, err)
		segs = append(segs, seg)
	}
	if len(segs) == 0 {
		return "", 0
	}
	msg, err := sms.Decode(segs)
	require.NoError(t, err)
	return string(msg), len(segs)
}

// TestInProcess is netsim's use of a node: SQLite in a temp dir, the sim
// link, the terminal API through the Handler, MOs handed to Activation,
// and Run delivering the confirmation as PDUs to the terminal's SIM.
func TestInProcess(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "p.db"), true)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	_, _, err = st.Enrol(ctx, store.Enrolment{TerminalID: "STB0012345678", SIMMSISDN: "+8614700000001"}, time.Now())
	require.NoError(t, err)

	cfg := config.Default()
	cfg.Link.Kind = "sim"
	cfg.Outbox.Poll = config.Duration(time.Hour) // only Notify wakes it
	require.NoError(t, cfg.Validate())
	master := []byte("example master key")
	net := &simNetwork{pdus: map[string][]string{}}
	n, err := New(cfg, st, &link.SIM{Network: net}, Secrets{MasterKey: master}, Options{})
	require.NoError(t, err)

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- n.Run(runCtx) }()
	defer func() { stop(); require.NoError(t, <-done) }()

	srv := httptest.NewServer(n.Handler())
	t.Cleanup(srv.Close)
	key := confirm.DeriveKey(master, "STB0012345678")
	path := "/v1/terminals/STB0012345678/binding"
	query := func() (int, map[string]any) {
		date := time.Now().UTC().Format(time.RFC3339)
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		require.NoError(t, err)
		req.Header.Set("X-Bindpay-Date", date)
		req.Header.Set("Authorization", confirm.AuthorizationHeader(key, "GET", path, date))
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var v map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
		return resp.StatusCode, v
	}
	code, v := query()
	require.Equal(t, http.StatusOK, code)
	nonce := v["activation"].(map[string]any)["nonce"].(string)

	res, err := n.Activation().ReceiveMO(ctx, activation.MO{SMSCID: "sim-1", From: "+8613800138000", To: "10658000", Text: "BIND STB0012345678"})
	require.NoError(t, err)
	require.Equal(t, activation.OutcomeActivated, res.Outcome)

	var text string
	var parts int
	require.Eventually(t, func() bool { text, parts = net.text(t, "+8614700000001"); return parts == 2 }, 10*time.Second, 10*time.Millisecond,
		"the confirmation reaches the terminal's SIM in two parts")
	tok, err := confirm.Find(text)
	require.NoError(t, err)
	assert.True(t, confirm.Verify(key, tok), "the terminal's key verifies the token")
	assert.Equal(t, nonce, tok.Nonce, "the token carries the nonce the terminal was given")
	require.Eventually(t, func() bool {
		reply, _ := net.text(t, "+8613800138000")
		return reply == activation.ReplyText("zh-CN", activation.ReplyActivated, "STB0012345678", "")
	}, 10*time.Second, 10*time.Millisecond, "the phone gets its reply")

	code, v = query()
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, true, v["bound"])
	assert.Equal(t, tok.String(), v["token"], "the query's proof is the SMS's token")
	require.Eventually(t, func() bool {
		ms, err := st.Messages(ctx, "STB0012345678")
		return err == nil && len(ms) == 2 && ms[0].State == store.MessageDelivered && ms[1].State == store.MessageDelivered
	}, 10*time.Second, 10*time.Millisecond, "the sim link delivers at once")
}

// TestConsoleAndMetricsMounted: the node serves the console (sign-in first)
// and the Prometheus metrics beside the API, and the API's queries are
// counted.
func TestConsoleAndMetricsMounted(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "p.db"), true)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	cfg := config.Default()
	cfg.Link.Kind = "sim"
	require.NoError(t, cfg.Validate())
	n, err := New(cfg, st, &link.SIM{Network: &simNetwork{pdus: map[string][]string{}}}, Secrets{MasterKey: []byte("example master key"), AdminToken: "t0ken"}, Options{})
	require.NoError(t, err)
	srv := httptest.NewServer(n.Handler())
	t.Cleanup(srv.Close)
	c := srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	resp, err := c.Get(srv.URL + "/console/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "an unauthenticated console page redirects to sign-in")

	resp, err = c.Get(srv.URL + "/v1/terminals/STB0012345678/binding") // unsigned: 401
	require.NoError(t, err)
	resp.Body.Close()
	resp, err = c.Get(srv.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Contains(t, string(body), "bindpay_terminal_queries_total")
}
