package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"bindpay/internal/server/store"
)

func adminReq(method, path, body, ifMatch string) *http.Request {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer admin-token")
	if ifMatch != "" {
		r.Header.Set("If-Match", ifMatch)
	}
	return r
}

func TestAdmin(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, false)

	res, body := f.do(t, httptest.NewRequest(http.MethodGet, "/v1/admin/terminals/STB1", nil))
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, body)
	var e Error
	require.NoError(t, json.Unmarshal([]byte(body), &e))
	assert.Equal(t, "unauthorized", e.Code)
	assert.NotEmpty(t, e.Message)

	res, body = f.do(t, adminReq(http.MethodPost, "/v1/admin/terminals", `[{"terminal_id":"STB1","sim_msisdn":"14700000001"},{"terminal_id":"bad id"}]`, ""))
	assert.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, body)
	assert.Contains(t, body, "line 1")
	_, err := f.st.Terminal(ctx, "STB1")
	require.ErrorIs(t, err, store.ErrNotFound, "nothing enrolled from a bad request")
	res, body = f.do(t, adminReq(http.MethodPost, "/v1/admin/terminals", `[{"terminal_id":"STB1","sim_msisdn":"14700000001"}]`, ""))
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.JSONEq(t, `{"new":1,"updated":0,"unchanged":0}`, body)

	res, body = f.do(t, adminReq(http.MethodGet, "/v1/admin/terminals/NOPE", "", ""))
	assert.Equal(t, http.StatusNotFound, res.StatusCode, body)

	mo := url.Values{"from": {"+8613800138000"}, "to": {"10658000"}, "text": {"BIND STB1"}, "id": {"1"}}
	res, body = f.do(t, moRequest(http.MethodGet, mo, "cb-key"))
	require.Equal(t, http.StatusOK, res.StatusCode, body)

	res, body = f.do(t, adminReq(http.MethodGet, "/v1/admin/terminals/STB1", "", ""))
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	var v TerminalView
	require.NoError(t, json.Unmarshal([]byte(body), &v))
	assert.Equal(t, "bound", v.State)
	assert.Equal(t, "+8613800138000", v.MSISDN)
	tag := res.Header.Get("ETag")
	assert.Equal(t, etag(v.Version), tag)
	var events []string
	for _, e := range v.Timeline {
		events = append(events, e.Event)
	}
	assert.Equal(t, []string{"enrolled", "activation_requested", "bound"}, events)
	require.Len(t, v.Messages, 2, "confirmation and reply")

	res, _ = f.do(t, adminReq(http.MethodPost, "/v1/admin/terminals/STB1/unbind", "", ""))
	assert.Equal(t, http.StatusPreconditionRequired, res.StatusCode)
	res, body = f.do(t, adminReq(http.MethodPost, "/v1/admin/terminals/STB1/unbind", "", `"v999"`))
	assert.Equal(t, http.StatusPreconditionFailed, res.StatusCode, body)
	tm, err := f.st.Terminal(ctx, "STB1")
	require.NoError(t, err)
	assert.Equal(t, store.TerminalBound, tm.State, "a stale If-Match changes nothing")

	res, body = f.do(t, adminReq(http.MethodPost, "/v1/admin/terminals/STB1/resend", "", tag))
	require.Equal(t, http.StatusAccepted, res.StatusCode, body)
	res, body = f.do(t, adminReq(http.MethodPost, "/v1/admin/terminals/STB1/unbind", "", tag))
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	res, body = f.do(t, adminReq(http.MethodPost, "/v1/admin/terminals/STB1/resend", "", ""))
	assert.Equal(t, http.StatusConflict, res.StatusCode, body)

	cancel := "/v1/admin/activations/" + itoa(v.Activations[0].ID) + "/cancel"
	res, body = f.do(t, adminReq(http.MethodPost, cancel, "", `"v1"`))
	assert.Equal(t, http.StatusPreconditionFailed, res.StatusCode, "a stale version: %s", body)
	res, body = f.do(t, adminReq(http.MethodPost, cancel, "", etag(v.Activations[0].Version)))
	assert.Equal(t, http.StatusConflict, res.StatusCode, body)
	assert.Contains(t, body, `"code":"not_pending"`, "an activation that is done cannot be cancelled")
}
