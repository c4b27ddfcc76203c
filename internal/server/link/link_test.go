package link

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/pdumode"
	"github.com/warthog618/sms/encoding/tpdu"

	"bindpay/internal/smsenc"
)

// kannel plays Kannel's smsbox sendsms interface: it records each request
// and answers as its script says.
type kannel struct {
	mu     sync.Mutex
	got    []url.Values
	status int
	body   string
}

func (k *kannel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if r.URL.Path != "/cgi-bin/sendsms" || r.Method != http.MethodGet {
		http.Error(w, "not sendsms", http.StatusNotFound)
		return
	}
	k.got = append(k.got, r.URL.Query())
	w.WriteHeader(k.status)
	_, _ = w.Write([]byte(k.body))
}

func TestHTTPSendsKannelSendSMS(t *testing.T) {
	k := &kannel{status: http.StatusAccepted, body: "0: Accepted for delivery"}
	srv := httptest.NewServer(k)
	t.Cleanup(srv.Close)
	h := &HTTP{SendSMSURL: srv.URL + "/cgi-bin/sendsms", Username: "bindpay", Password: "s3cr&t",
		DLRURLBase: "http://platform.example:8080/", CallbackKey: "cb-key", Client: srv.Client()}

	parts, err := smsenc.Split("【号码绑定支付】终端STB0012345678已开通，绑定号码138****8000。BP1 t=STB0012345678 m=138****8000 n=q8x3k2 s=FWC0YGwf5vt1dIPLmlT2ww")
	require.NoError(t, err)
	require.Len(t, parts, 2)
	for i, p := range parts {
		_, err := h.Send(context.Background(), Part{ID: 70 + int64(i), From: "10658000", To: "+8614700000001", Text: p,
			Concat: smsenc.Concat{Ref: 9, Seq: i + 1, Total: 2}})
		require.NoError(t, err)
	}
	require.Len(t, k.got, 2)
	q := k.got[1]
	assert.Equal(t, "bindpay", q.Get("username"))
	assert.Equal(t, "s3cr&t", q.Get("password"))
	assert.Equal(t, "10658000", q.Get("from"))
	assert.Equal(t, "+8614700000001", q.Get("to"))
	assert.Equal(t, parts[1], q.Get("text"))
	assert.Equal(t, "2", q.Get("coding"))
	assert.Equal(t, "UTF-8", q.Get("charset"))
	assert.Equal(t, "19", q.Get("dlr-mask"), "delivered, failed and SMSC rejected")
	assert.Equal(t, string([]byte{5, 0, 3, 9, 2, 2}), q.Get("udh"))
	assert.Equal(t, "http://platform.example:8080/v1/sms/dlr?key=cb-key&part=71&type=%d", q.Get("dlr-url"),
		"Kannel fills %d with the report type")

	_, err = h.Send(context.Background(), Part{ID: 1, From: "10658000", To: "+8613800138000", Text: "hi", Concat: smsenc.Concat{Seq: 1, Total: 1}})
	require.NoError(t, err)
	assert.Empty(t, k.got[2].Get("udh"), "no header for a single part")

	k.status, k.body = http.StatusBadRequest, "Invalid receiver"
	_, err = h.Send(context.Background(), Part{ID: 2, From: "10658000", To: "x", Text: "hi"})
	require.ErrorIs(t, err, ErrRejected)
	k.status, k.body = http.StatusServiceUnavailable, "Queue full"
	_, err = h.Send(context.Background(), Part{ID: 3, From: "10658000", To: "+8613800138000", Text: "hi"})
	require.Error(t, err)
	assert.False(t, errors.Is(err, ErrRejected), "a 503 is worth a retry")

	srv.Close()
	_, err = h.Send(context.Background(), Part{ID: 4, From: "10658000", To: "+8613800138000", Text: "hi"})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cr", "the password never shows in an error")
}

type network struct {
	got map[string][]string
	err error
}

func (n *network) DeliverPDU(ctx context.Context, to, pdu string) error {
	if n.err != nil {
		return n.err
	}
	n.got[to] = append(n.got[to], pdu)
	return nil
}

func TestSIMDeliversPDUs(t *testing.T) {
	n := &network{got: map[string][]string{}}
	s := &SIM{Network: n, Now: func() time.Time { return time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC) }}
	text := "【号码绑定支付】终端STB0012345678已开通，绑定号码138****8000。BP1 t=STB0012345678 m=138****8000 n=q8x3k2 s=FWC0YGwf5vt1dIPLmlT2ww"
	parts, err := smsenc.Split(text)
	require.NoError(t, err)
	for i, p := range parts {
		res, err := s.Send(context.Background(), Part{ID: int64(i + 1), From: "10658000", To: "+8614700000001", Text: p,
			Concat: smsenc.Concat{Ref: 3, Seq: i + 1, Total: len(parts)}})
		require.NoError(t, err)
		assert.True(t, res.Delivered)
		assert.NotEmpty(t, res.SMSCID)
	}
	var segs []*tpdu.TPDU
	for _, h := range n.got["+8614700000001"] {
		p, err := pdumode.UnmarshalHexString(h)
		require.NoError(t, err)
		seg, err := sms.Unmarshal(p.TPDU)
		require.NoError(t, err)
		segs = append(segs, seg)
	}
	msg, err := sms.Decode(segs)
	require.NoError(t, err)
	assert.Equal(t, text, string(msg))

	n.err = errors.New("no such SIM")
	_, err = s.Send(context.Background(), Part{ID: 9, From: "10658000", To: "+8614700000002", Text: "x"})
	require.Error(t, err)
}
