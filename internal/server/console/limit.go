package console

import (
	"net"
	"sync"
	"time"
)

// Sign-in guessing is slowed per client host: after signinFailures wrong
// tokens within signinWindow, its next attempts are refused (429) until
// the window since its first failure has passed. Behind a reverse proxy
// every client is the proxy's host: all staff then share one allowance.
const (
	signinFailures = 5
	signinWindow   = 5 * time.Minute
	maxHosts       = 10000
)

// failures is one host's recent wrong sign-ins.
type failures struct {
	first time.Time
	n     int
}

// signinAllowed is the rule: a host may try unless it failed max times in
// the window that began at its first failure.
func signinAllowed(f failures, now time.Time, window time.Duration, max int) bool {
	return f.n < max || now.Sub(f.first) >= window
}

// limiter counts wrong sign-ins by host, in a bounded map guarded by mu;
// stale entries are dropped when the map is full.
type limiter struct {
	mu sync.Mutex
	m  map[string]failures
}

func newLimiter() *limiter { return &limiter{m: make(map[string]failures)} }

func hostOf(remoteAddr string) string {
	if h, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return h
	}
	return remoteAddr
}

func (l *limiter) allowed(host string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return signinAllowed(l.m[host], now, signinWindow, signinFailures)
}

func (l *limiter) fail(host string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.m[host]
	if !ok || now.Sub(f.first) >= signinWindow {
		f = failures{first: now}
	}
	f.n++
	if !ok && len(l.m) >= maxHosts {
		for h, x := range l.m {
			if now.Sub(x.first) >= signinWindow {
				delete(l.m, h)
			}
		}
		if len(l.m) >= maxHosts {
			return // full of live entries: this host is not tracked (the others still are)
		}
	}
	l.m[host] = f
}

func (l *limiter) succeed(host string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, host)
}
