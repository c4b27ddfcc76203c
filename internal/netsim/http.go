package netsim

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"bindpay/internal/server/number"
)

// maxBody bounds request bodies; an SMS is small.
const maxBody = 8 << 10

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

// Error is the body of every 4xx/5xx answer, as the platform's API writes
// it too.
type Error struct {
	Code    string `json:"code"`    // for programs
	Message string `json:"message"` // for people
}

// Handler returns the HTTP API: the platform node's (the terminal API
// GET /v1/terminals/{tid}/binding, the gateway callbacks, the admin API),
// plus the simulated SMS centre's MO entry for phones (POST
// /v1/phone/sms) and its SIM entry for raw MT SMS (POST /v1/sim/sms).
func (n *Network) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/phone/sms", n.handlePhoneSMS)
	mux.HandleFunc("POST /v1/sim/sms", n.handleSIMSMS)
	mux.Handle("/", n.node.Handler())
	return mux
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
		"msisdn":      number.Mask(res.msisdn),
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
	case errors.Is(err, ErrBoundOther):
		return http.StatusConflict, "bound_other"
	case errors.Is(err, ErrNotActivated):
		return http.StatusConflict, "not_activated"
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
	writeJSON(w, status, Error{Code: code, Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away: nothing to do
}
