package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"bindpay/internal/confirm"
	"bindpay/internal/server/enrol"
	"bindpay/internal/server/store"
)

// Activation tells a terminal that is not bound what to text.
type Activation struct {
	SMSTo   string `json:"sms_to"`
	SMSBody string `json:"sms_body"`
	Nonce   string `json:"nonce"`
}

// Binding is the answer of GET /v1/terminals/{tid}/binding. Field order
// is the protocol's (DESIGN.md's vectors sign these exact bytes).
type Binding struct {
	TerminalID string      `json:"terminal_id"`
	Bound      bool        `json:"bound"`
	MSISDN     string      `json:"msisdn,omitempty"`   // masked
	BoundAt    string      `json:"bound_at,omitempty"` // RFC 3339
	Token      string      `json:"token,omitempty"`
	Activation *Activation `json:"activation,omitempty"`
}

// checkRequest verifies the request's signature and date before anything
// is looked up. It returns the date to sign the answer with ("" for an
// allowed unsigned request) or why the request is refused.
func checkRequest(r *http.Request, key []byte, now time.Time, allowUnsigned bool) (date, refusal string) {
	auth, date := r.Header.Get("Authorization"), r.Header.Get("X-Bindpay-Date")
	if auth == "" && date == "" {
		if allowUnsigned {
			return "", ""
		}
		return "", "request not signed: Authorization: BPH1 … and X-Bindpay-Date are required"
	}
	if date == "" {
		return "", "signed request without X-Bindpay-Date"
	}
	at, err := time.Parse(time.RFC3339, date)
	if err != nil {
		return "", fmt.Sprintf("X-Bindpay-Date %q is not RFC 3339", date)
	}
	if skew := now.Sub(at); skew > MaxDateSkew || skew < -MaxDateSkew {
		return "", fmt.Sprintf("X-Bindpay-Date %s is %s from the platform's clock (at most %s): sign with the Date of this answer",
			date, skew.Round(time.Second), MaxDateSkew)
	}
	if !confirm.VerifyRequest(key, r.Method, r.URL.EscapedPath(), date, auth) {
		return "", "bad request signature"
	}
	return date, ""
}

func (s *server) binding(w http.ResponseWriter, r *http.Request) {
	tid := r.PathValue("tid")
	now := s.Now()
	key := confirm.DeriveKey(s.MasterKey, tid)
	date, refusal := checkRequest(r, key, now, s.AllowUnsigned)
	if refusal != "" {
		s.Log.Info("terminal query refused", "terminal", tid, "reason", refusal)
		w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
		w.Header().Set("WWW-Authenticate", "BPH1")
		writeError(w, http.StatusUnauthorized, "unauthorized", refusal)
		return
	}
	signed := func(status int, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "internal", "encode answer")
			return
		}
		if date != "" {
			w.Header().Set(confirm.SignatureHeader, confirm.AnswerHeader(key, status, r.URL.EscapedPath(), date, b))
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(status)
		_, _ = w.Write(b)
	}
	if !enrol.ValidTerminalID(tid) {
		signed(http.StatusNotFound, Error{Code: "unknown_terminal", Message: "not a terminal ID"})
		return
	}
	t, err := s.Store.Terminal(r.Context(), tid)
	if errors.Is(err, store.ErrNotFound) {
		s.Log.Info("query from a terminal never enrolled", "terminal", tid)
		signed(http.StatusNotFound, Error{Code: "unknown_terminal", Message: "terminal " + tid + " is not enrolled with this platform"})
		return
	}
	if err != nil {
		s.Log.Error("terminal query", "terminal", tid, "err", err)
		w.Header().Set("Retry-After", "60")
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the platform cannot read its store; retry later")
		return
	}
	if t.State == store.TerminalBound {
		signed(http.StatusOK, Binding{TerminalID: t.ID, Bound: true, MSISDN: t.MSISDNMasked,
			BoundAt: t.BoundAt.UTC().Format(time.RFC3339), Token: t.Token})
		return
	}
	// A nonce that has not expired is answered as is: a query is a read.
	if t.Nonce == "" || !now.Before(t.NonceExpires) {
		t, err = s.Store.IssueNonce(r.Context(), tid, s.NewNonce(), now, now.Add(s.NonceTTL))
		if err != nil {
			s.Log.Error("issue nonce", "terminal", tid, "err", err)
			w.Header().Set("Retry-After", "60")
			writeError(w, http.StatusServiceUnavailable, "unavailable", "the platform cannot write its store; retry later")
			return
		}
	}
	signed(http.StatusOK, Binding{TerminalID: t.ID, Activation: &Activation{SMSTo: s.SMSFrom, SMSBody: "BIND " + t.ID, Nonce: t.Nonce}})
}
