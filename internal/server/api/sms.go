package api

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"bindpay/internal/server/activation"
	"bindpay/internal/server/outbox"
)

// callback requires the gateway's secret: ?key= or Authorization: Bearer.
// An unauthenticated MO could bind any box to any number.
func (s *server) callback(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		got := r.URL.Query().Get("key")
		if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			got = b
		}
		if s.CallbackKey == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.CallbackKey)) != 1 {
			writeError(w, http.StatusUnauthorized, "unauthorized", "the gateway's callback key is required (key= or Authorization: Bearer)")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		h(w, r)
	}
}

// MOAnswer is the answer of /v1/sms/mo.
type MOAnswer struct {
	Status       string `json:"status"` // the activation.Outcome
	ActivationID int64  `json:"activation_id,omitempty"`
}

// mo is Kannel's get-url (GET) or a gateway's POST form: from, to, text,
// id. 2xx only once what the MO led to is committed.
func (s *server) mo(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "unreadable form: "+err.Error())
		return
	}
	in := activation.MO{SMSCID: r.Form.Get("id"), From: r.Form.Get("from"), To: r.Form.Get("to"), Text: r.Form.Get("text")}
	if in.From == "" || !r.Form.Has("text") {
		writeError(w, http.StatusBadRequest, "bad_request", "from and text are required (Kannel get-url: from=%p&to=%P&text=%a&id=%I)")
		return
	}
	res, err := s.Activation.ReceiveMO(r.Context(), in)
	if err != nil {
		s.Log.Error("MO not recorded; the gateway will retry", "err", err)
		w.Header().Set("Retry-After", "10")
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the MO could not be recorded; retry")
		return
	}
	s.Log.Info("MO", "outcome", res.Outcome, "activation", res.ActivationID, "smsc_id", in.SMSCID)
	writeJSON(w, http.StatusOK, MOAnswer{Status: string(res.Outcome), ActivationID: res.ActivationID})
}

// dlr is Kannel's dlr-url: part (ours) and type (Kannel's %d).
func (s *server) dlr(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "unreadable form: "+err.Error())
		return
	}
	part, err1 := strconv.ParseInt(r.Form.Get("part"), 10, 64)
	typ, err2 := strconv.Atoi(r.Form.Get("type"))
	if err1 != nil || err2 != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "part and type are required numbers (dlr-url …&part=<id>&type=%d)")
		return
	}
	err := s.Outbox.Receipt(r.Context(), part, typ)
	switch {
	case errors.Is(err, outbox.ErrUnknownPart):
		writeError(w, http.StatusNotFound, "unknown_part", err.Error())
	case err != nil:
		s.Log.Error("receipt not recorded", "part", part, "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the receipt could not be recorded; retry")
	default:
		writeJSON(w, http.StatusOK, map[string]string{"status": "recorded"})
	}
}
