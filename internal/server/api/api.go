// Package api is bindpay-platform's HTTP face: the terminal API of
// protocol version 2 (GET /v1/terminals/{tid}/binding, signed both ways),
// the SMS gateway's callbacks (/v1/sms/mo, /v1/sms/dlr) and the admin API
// under /v1/admin/. Handlers decide nothing themselves beyond HTTP: the
// activation and outbox packages do the work, the store keeps the state.
//
// [New] returns one http.Handler; the caller (cmd/platform, or netsim in
// process) serves it. Handlers start no goroutines; every store call runs
// with the request's context.
package api

import (
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"bindpay/internal/server/activation"
	"bindpay/internal/server/outbox"
	"bindpay/internal/server/store"
)

// MaxDateSkew is how far a request's X-Bindpay-Date may be from our clock.
const MaxDateSkew = 5 * time.Minute

// maxBody bounds request bodies (an MO, a DLR, an admin request).
const maxBody = 64 << 10

// Deps is what the handlers need.
type Deps struct {
	Store         store.Store
	MasterKey     []byte // derives terminal keys (confirm.DeriveKey)
	SMSFrom       string // the short code terminals are told to text
	NonceTTL      time.Duration
	AllowUnsigned bool // api.allow_unsigned: keyless fleets may query unsigned
	MaxInFlight   int  // terminal queries at once before 429
	CallbackKey   string
	AdminToken    string
	Activation    *activation.Service
	Outbox        *outbox.Worker
	Now           func() time.Time
	Log           *slog.Logger
	NewNonce      func() string // default: 8 random [a-z0-9]
}

type server struct {
	Deps
	slots chan struct{} // terminal queries in flight
}

// New returns the platform's HTTP handler.
func New(d Deps) http.Handler {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.NewNonce == nil {
		d.NewNonce = NewNonce
	}
	if d.MaxInFlight < 1 {
		d.MaxInFlight = 256
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	s := &server{Deps: d, slots: make(chan struct{}, d.MaxInFlight)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/terminals/{tid}/binding", s.shed(s.binding))
	mux.HandleFunc("GET /v1/sms/mo", s.callback(s.mo))
	mux.HandleFunc("POST /v1/sms/mo", s.callback(s.mo))
	mux.HandleFunc("GET /v1/sms/dlr", s.callback(s.dlr))
	mux.HandleFunc("POST /v1/sms/dlr", s.callback(s.dlr))
	s.adminRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return mux
}

// shed answers 429 with Retry-After when MaxInFlight queries are running,
// instead of slowing every terminal down.
func (s *server) shed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case s.slots <- struct{}{}:
			defer func() { <-s.slots }()
			h(w, r)
		default:
			w.Header().Set("Retry-After", "30")
			writeError(w, http.StatusTooManyRequests, "over_capacity", "the platform is over capacity; retry after 30 s")
		}
	}
}

// Error is the body of every error answer.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, Error{Code: code, Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n')) // the client went away: nothing to do
}

const nonceAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// NewNonce returns 8 random characters of [a-z0-9], unbiased.
func NewNonce() string {
	out := make([]byte, 0, 8)
	var buf [16]byte
	for len(out) < 8 {
		_, _ = rand.Read(buf[:]) // crypto/rand.Read never fails
		for _, b := range buf {
			if b < 252 && len(out) < 8 { // 252 = 7*36
				out = append(out, nonceAlphabet[int(b)%36])
			}
		}
	}
	return string(out)
}
