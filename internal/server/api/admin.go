package api

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"bindpay/internal/server/activation"
	"bindpay/internal/server/enrol"
	"bindpay/internal/server/store"
)

func (s *server) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/admin/terminals/{tid}", s.admin(s.adminTerminal))
	mux.HandleFunc("POST /v1/admin/terminals", s.admin(s.adminEnrol))
	mux.HandleFunc("POST /v1/admin/terminals/{tid}/unbind", s.admin(s.adminUnbind))
	mux.HandleFunc("POST /v1/admin/terminals/{tid}/resend", s.admin(s.adminResend))
	mux.HandleFunc("POST /v1/admin/activations/{id}/cancel", s.admin(s.adminCancel))
}

// admin requires Authorization: Bearer <admin token>.
func (s *server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || s.AdminToken == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.AdminToken)) != 1 {
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeError(w, http.StatusUnauthorized, "unauthorized", "Authorization: Bearer <admin token> required (admin.token_file)")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		h(w, r)
	}
}

// TerminalView is a terminal as the admin API shows it (full numbers:
// the admin API is the operator's).
type TerminalView struct {
	TerminalID   string         `json:"terminal_id"`
	State        string         `json:"state"`
	KeyVersion   int            `json:"key_version"`
	SIMMSISDN    string         `json:"sim_msisdn,omitempty"`
	MSISDN       string         `json:"msisdn,omitempty"`
	MSISDNMasked string         `json:"msisdn_masked,omitempty"`
	BoundAt      string         `json:"bound_at,omitempty"`
	EnrolledAt   string         `json:"enrolled_at"`
	Version      int64          `json:"version"`
	Activations  []ActivationV  `json:"activations"`
	Messages     []MessageView  `json:"messages"`
	Timeline     []TimelineItem `json:"timeline"`
}

// ActivationV is one activation in a TerminalView.
type ActivationV struct {
	ID        int64  `json:"id"`
	State     string `json:"state"`
	MSISDN    string `json:"msisdn"`
	Reason    string `json:"reason,omitempty"`
	Attempts  int    `json:"attempts"`
	Version   int64  `json:"version"`
	CreatedAt string `json:"created_at"`
}

// MessageView is one MT in a TerminalView.
type MessageView struct {
	ID        int64    `json:"id"`
	Kind      string   `json:"kind"`
	To        string   `json:"to"`
	State     string   `json:"state"`
	Attempts  int      `json:"attempts"`
	Parts     []string `json:"parts"` // each part's state
	LastError string   `json:"last_error,omitempty"`
}

// TimelineItem is one audit entry.
type TimelineItem struct {
	At     string `json:"at"`
	Actor  string `json:"actor"`
	Event  string `json:"event"`
	Detail string `json:"detail,omitempty"`
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func etag(v int64) string { return strconv.Quote("v" + strconv.FormatInt(v, 10)) }

// ifMatch returns the version an If-Match header names; ok is false when
// it is missing or malformed (428).
func ifMatch(r *http.Request) (int64, bool) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	s, err := strconv.Unquote(strings.TrimPrefix(h, "W/"))
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimPrefix(s, "v"), 10, 64)
	return v, err == nil && strings.HasPrefix(s, "v")
}

func (s *server) adminTerminal(w http.ResponseWriter, r *http.Request) {
	ctx, tid := r.Context(), r.PathValue("tid")
	t, err := s.Store.Terminal(ctx, tid)
	if s.storeError(w, err, "terminal "+tid) {
		return
	}
	acts, err := s.Store.Activations(ctx, tid)
	if s.storeError(w, err, "activations") {
		return
	}
	msgs, err := s.Store.Messages(ctx, tid)
	if s.storeError(w, err, "messages") {
		return
	}
	log, err := s.Store.AuditLog(ctx, tid, 200)
	if s.storeError(w, err, "audit log") {
		return
	}
	v := TerminalView{TerminalID: t.ID, State: string(t.State), KeyVersion: t.KeyVersion, SIMMSISDN: t.SIMMSISDN,
		MSISDN: t.MSISDN, MSISDNMasked: t.MSISDNMasked, BoundAt: rfc3339(t.BoundAt), EnrolledAt: rfc3339(t.EnrolledAt),
		Version: t.Version, Activations: []ActivationV{}, Messages: []MessageView{}, Timeline: []TimelineItem{}}
	for _, a := range acts {
		v.Activations = append(v.Activations, ActivationV{ID: a.ID, State: string(a.State), MSISDN: a.MSISDN, Reason: a.Reason,
			Attempts: a.Attempts, Version: a.Version, CreatedAt: rfc3339(a.CreatedAt)})
	}
	for _, m := range msgs {
		mv := MessageView{ID: m.ID, Kind: m.Kind, To: m.To, State: string(m.State), Attempts: m.Attempts, LastError: m.LastError}
		for _, p := range m.Parts {
			mv.Parts = append(mv.Parts, string(p.State))
		}
		v.Messages = append(v.Messages, mv)
	}
	for _, e := range log {
		v.Timeline = append(v.Timeline, TimelineItem{At: rfc3339(e.At), Actor: e.Actor, Event: e.Event, Detail: e.Detail})
	}
	w.Header().Set("ETag", etag(t.Version))
	writeJSON(w, http.StatusOK, v)
}

func (s *server) adminEnrol(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "body over 64 KiB: enrol in several requests")
		return
	}
	rows, err := enrol.Parse("body.json", b)
	var bad enrol.Errors
	if errors.As(err, &bad) {
		writeError(w, http.StatusUnprocessableEntity, "bad_rows", "nothing enrolled: "+bad.Error())
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error()+" (a JSON array of {terminal_id, key_version, sim_msisdn})")
		return
	}
	res, err := enrol.Apply(r.Context(), s.Store, rows, "admin", s.Now())
	if s.storeError(w, err, "enrol") {
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"new": res.New, "updated": res.Updated, "unchanged": res.Unchanged})
}

func (s *server) adminUnbind(w http.ResponseWriter, r *http.Request) {
	v, ok := ifMatch(r)
	if !ok {
		writeError(w, http.StatusPreconditionRequired, "if_match_required", `If-Match: "v<version>" (the terminal's ETag) is required`)
		return
	}
	t, err := s.Activation.Unbind(r.Context(), r.PathValue("tid"), v, "admin")
	if errors.Is(err, activation.ErrNotBound) {
		writeError(w, http.StatusConflict, "not_bound", err.Error())
		return
	}
	if s.storeError(w, err, "unbind") {
		return
	}
	w.Header().Set("ETag", etag(t.Version))
	writeJSON(w, http.StatusOK, map[string]string{"status": "unbound"})
}

func (s *server) adminResend(w http.ResponseWriter, r *http.Request) {
	tid := r.PathValue("tid")
	if v, ok := ifMatch(r); ok {
		t, err := s.Store.Terminal(r.Context(), tid)
		if s.storeError(w, err, "terminal "+tid) {
			return
		}
		if t.Version != v {
			writeError(w, http.StatusPreconditionFailed, "conflict", fmt.Sprintf("terminal %s changed (version %d, not %d): read it again", tid, t.Version, v))
			return
		}
	}
	err := s.Activation.Resend(r.Context(), tid, "admin")
	switch {
	case errors.Is(err, activation.ErrNotBound), errors.Is(err, activation.ErrNoSIM):
		writeError(w, http.StatusConflict, "not_bound", err.Error())
	case s.storeError(w, err, "resend"):
	default:
		if s.Outbox != nil {
			s.Outbox.Notify()
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "queued"})
	}
}

func (s *server) adminCancel(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusNotFound, "not_found", "no such activation")
		return
	}
	v, ok := ifMatch(r)
	if !ok {
		writeError(w, http.StatusPreconditionRequired, "if_match_required", `If-Match: "v<version>" (the activation's version) is required`)
		return
	}
	a, err := s.Activation.Cancel(r.Context(), id, v, "admin")
	if errors.Is(err, activation.ErrNotPending) {
		writeError(w, http.StatusConflict, "not_pending", err.Error())
		return
	}
	if s.storeError(w, err, "cancel") {
		return
	}
	w.Header().Set("ETag", etag(a.Version))
	writeJSON(w, http.StatusOK, map[string]string{"status": "cancelled"})
}

// storeError answers for a store error and reports whether there was one.
func (s *server) storeError(w http.ResponseWriter, err error, what string) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", what+": not found")
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusPreconditionFailed, "conflict", err.Error())
	default:
		s.Log.Error("admin", "what", what, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", what+": the store failed; see the platform's log")
	}
	return true
}
