package netsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"bindpay/internal/confirm"
)

// maxDateSkew is how far X-Bindpay-Date may be from the platform's clock.
const maxDateSkew = 5 * time.Minute

// maxBody bounds request bodies; an SMS is small.
const maxBody = 8 << 10

// Activation is what a terminal that is not bound is told to have texted.
type Activation struct {
	SMSTo   string `json:"sms_to"`
	SMSBody string `json:"sms_body"`
	Nonce   string `json:"nonce"`
}

// BindingStatus is the service platform's answer to GET /v1/terminals/{tid}/binding.
type BindingStatus struct {
	TerminalID string      `json:"terminal_id"`
	Bound      bool        `json:"bound"`
	MSISDN     string      `json:"msisdn,omitempty"`   // masked
	BoundAt    string      `json:"bound_at,omitempty"` // RFC 3339
	Token      string      `json:"token,omitempty"`    // the binding's signed BP1 token
	Activation *Activation `json:"activation,omitempty"`
}

// PhoneSMS is the body of POST /v1/phone/sms: an MO SMS from a phone.
type PhoneSMS struct {
	From string `json:"from"`
	To   string `json:"to"`
	Body string `json:"body"`
}

// SIMSMS is the body of POST /v1/sim/sms: an MT SMS into a terminal's modem.
type SIMSMS struct {
	Terminal string `json:"terminal"`
	From     string `json:"from"`
	Text     string `json:"text"`
	// Alpha sends from an alphanumeric sender (type of number 5), even one
	// spelled in digits.
	Alpha bool `json:"alpha,omitempty"`
}

// Error is the body of every 4xx/5xx answer.
type Error struct {
	Error string `json:"error"` // for people
	Code  string `json:"code"`  // for programs
}

// Handler returns the HTTP API: the service platform (terminal queries),
// the SMS platform's MO entry (phones) and a SIM entry (raw MT SMS).
func (n *Network) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/terminals/{tid}/binding", n.handleBinding)
	mux.HandleFunc("POST /v1/phone/sms", n.handlePhoneSMS)
	mux.HandleFunc("POST /v1/sim/sms", n.handleSIMSMS)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return mux
}

func (n *Network) handleBinding(w http.ResponseWriter, r *http.Request) {
	tid := r.PathValue("tid")
	if reason := n.checkSignature(r, tid); reason != "" {
		n.cfg.Logf("service platform: query for %s refused: %s", tid, reason)
		w.Header().Set("WWW-Authenticate", "BPH1")
		writeError(w, http.StatusUnauthorized, "unauthorized", reason)
		return
	}
	n.mu.Lock()
	t, ok := n.terminals[tid]
	if !ok {
		n.mu.Unlock()
		n.cfg.Logf("service platform: query for unknown terminal %s", tid)
		n.writeSigned(w, r, tid, http.StatusNotFound, Error{Error: fmt.Sprintf("terminal %s is not known to the operator", tid), Code: "unknown_terminal"})
		return
	}
	st := BindingStatus{TerminalID: t.id}
	if t.msisdn != "" {
		st.Bound, st.MSISDN, st.BoundAt, st.Token = true, mask(t.msisdn), t.boundAt.UTC().Format(time.RFC3339), t.token
	} else {
		st.Activation = &Activation{
			SMSTo:   n.cfg.ServiceNumber,
			SMSBody: "BIND " + t.id,
			Nonce:   n.currentNonce(t),
		}
	}
	n.mu.Unlock()
	if st.Bound {
		n.cfg.Logf("service platform: %s is bound to %s", tid, st.MSISDN)
	} else {
		n.cfg.Logf("service platform: %s is not bound; told to text %q to %s (nonce %s)", tid, st.Activation.SMSBody, st.Activation.SMSTo, st.Activation.Nonce)
	}
	n.writeSigned(w, r, tid, http.StatusOK, st)
}

// writeSigned answers a terminal's query with v as JSON, signed (protocol
// v2) over the exact body bytes when the request was signed: the terminal
// believes nothing else.
func (n *Network) writeSigned(w http.ResponseWriter, r *http.Request, tid string, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	body = append(body, '\n')
	if date := r.Header.Get("X-Bindpay-Date"); date != "" {
		w.Header().Set(confirm.SignatureHeader, confirm.AnswerHeader(n.key(tid), status, r.URL.EscapedPath(), date, body))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client went away: nothing to do
}

// checkSignature verifies a signed query, or refuses an unsigned one when
// signatures are required. It returns why the request is refused, or "".
func (n *Network) checkSignature(r *http.Request, tid string) string {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		if n.cfg.RequireSignedRequests {
			return "request not signed (Authorization: BPH1 and X-Bindpay-Date required)"
		}
		return ""
	}
	date := r.Header.Get("X-Bindpay-Date")
	if date == "" {
		return "signed request without X-Bindpay-Date"
	}
	at, err := time.Parse(time.RFC3339, date)
	if err != nil {
		return fmt.Sprintf("X-Bindpay-Date %q is not RFC 3339", date)
	}
	if skew := n.cfg.Now().Sub(at); skew > maxDateSkew || skew < -maxDateSkew {
		return fmt.Sprintf("X-Bindpay-Date %s is more than %v from the platform's clock", date, maxDateSkew)
	}
	if !confirm.VerifyRequest(n.key(tid), r.Method, r.URL.EscapedPath(), date, auth) {
		return "bad request signature"
	}
	return ""
}

func (n *Network) handlePhoneSMS(w http.ResponseWriter, r *http.Request) {
	var m PhoneSMS
	if !readJSON(w, r, &m) {
		return
	}
	res, err := n.phoneSend(r.Context(), m.From, m.To, m.Body)
	if err != nil {
		status, code := errorStatus(err)
		writeError(w, status, code, err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{
		"status":      "accepted",
		"terminal_id": res.tid,
		"msisdn":      mask(res.msisdn),
	})
}

func (n *Network) handleSIMSMS(w http.ResponseWriter, r *http.Request) {
	var m SIMSMS
	if !readJSON(w, r, &m) {
		return
	}
	if m.Terminal == "" || m.From == "" {
		writeError(w, http.StatusBadRequest, "bad_request", `"terminal" and "from" are required`)
		return
	}
	if err := n.sendRaw(m.Terminal, m.From, m.Alpha, m.Text); err != nil {
		status, code := errorStatus(err)
		writeError(w, status, code, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "delivered", "terminal": m.Terminal})
}

// errorStatus maps the package's errors to an HTTP status and error code.
func errorStatus(err error) (int, string) {
	switch {
	case errors.Is(err, ErrUnknownTerminal):
		return http.StatusNotFound, "unknown_terminal"
	case errors.Is(err, ErrWrongNumber):
		return http.StatusUnprocessableEntity, "wrong_number"
	case errors.Is(err, ErrBadSender):
		return http.StatusUnprocessableEntity, "bad_sender"
	case errors.Is(err, ErrMalformed):
		return http.StatusUnprocessableEntity, "malformed"
	case errors.Is(err, ErrClosed):
		return http.StatusServiceUnavailable, "closed"
	case errors.Is(err, ErrNoModem):
		return http.StatusConflict, "no_modem"
	default:
		return http.StatusInternalServerError, "internal"
	}
}

// readJSON decodes a bounded JSON request body into v, answering 400 itself
// when it can't.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "malformed JSON body: "+err.Error())
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		writeError(w, http.StatusBadRequest, "bad_request", "malformed JSON body: trailing data")
		return false
	}
	return true
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, Error{Error: msg, Code: code})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away: nothing to do
}
