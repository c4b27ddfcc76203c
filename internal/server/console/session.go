package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"
)

// session is one signed-in operator.
type session struct {
	id      string
	csrf    string // the token every form of this session carries
	who     string // the name the operator gave at sign-in
	created time.Time
	seen    time.Time
}

// sessions is a bounded in-memory table of sessions. A node forgets them
// when it restarts (staff sign in again); behind a load balancer the
// console needs sticky sessions. Its mutex guards the map; nothing runs in
// the background: expired sessions are dropped when met and when the
// table is full.
type sessions struct {
	mu      sync.Mutex
	m       map[string]*session
	max     int
	idle    time.Duration
	maxLife time.Duration
}

func newSessions(max int, idle, maxLife time.Duration) *sessions {
	return &sessions{m: make(map[string]*session), max: max, idle: idle, maxLife: maxLife}
}

// randomToken returns 32 random bytes in base64url.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// sessionLive is the rule for a session's life: it ends after idle
// without a request, and after maxLife whatever happens.
func sessionLive(created, seen, now time.Time, idle, maxLife time.Duration) bool {
	return now.Sub(seen) < idle && now.Sub(created) < maxLife && !now.Before(created)
}

// create starts a session for who; when the table is full, expired
// sessions go first, then the least recently used one.
func (s *sessions) create(who string, now time.Time) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= s.max {
		var oldest *session
		for id, x := range s.m {
			if !sessionLive(x.created, x.seen, now, s.idle, s.maxLife) {
				delete(s.m, id)
				continue
			}
			if oldest == nil || x.seen.Before(oldest.seen) {
				oldest = x
			}
		}
		if len(s.m) >= s.max && oldest != nil {
			delete(s.m, oldest.id)
		}
	}
	x := &session{id: randomToken(), csrf: randomToken(), who: who, created: now, seen: now}
	s.m[x.id] = x
	return x
}

// get returns the live session id names (a copy), refreshing its idle time.
func (s *sessions) get(id string, now time.Time) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.m[id]
	if !ok {
		return session{}, false
	}
	if !sessionLive(x.created, x.seen, now, s.idle, s.maxLife) {
		delete(s.m, id)
		return session{}, false
	}
	x.seen = now
	return *x, true
}

func (s *sessions) delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

// tokenEqual compares a submitted token with the expected one in constant
// time; an empty expected token matches nothing.
func tokenEqual(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
