package ui

import (
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Login rate limits: failed attempts counted in a window, per client
// address (IPv6 by /64) and per login. Past the limit, attempts are
// refused without checking the password until the window ends.
const (
	limitWindow     = 15 * time.Minute
	limitPerIP      = 20
	limitPerLogin   = 8
	limitMaxEntries = 10000 // per table; the oldest windows go first
)

type failures struct {
	n     int
	start time.Time
}

// loginLimiter counts failed logins in memory. Its tables are bounded, so
// a flood of addresses or names cannot grow it without limit.
type loginLimiter struct {
	mu      sync.Mutex
	now     func() time.Time
	byIP    map[string]*failures
	byLogin map[string]*failures
}

func newLoginLimiter(now func() time.Time) *loginLimiter {
	return &loginLimiter{now: now, byIP: map[string]*failures{}, byLogin: map[string]*failures{}}
}

// blocked returns how long ip or login must wait, or 0.
func (l *loginLimiter) blocked(ip, login string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	check := func(m map[string]*failures, k string, max int) {
		f := m[k]
		if f == nil {
			return
		}
		end := f.start.Add(limitWindow)
		if !now.Before(end) {
			delete(m, k)
			return
		}
		if f.n >= max {
			wait = maxDur(wait, end.Sub(now))
		}
	}
	check(l.byIP, ip, limitPerIP)
	check(l.byLogin, login, limitPerLogin)
	return wait
}

// fail counts a failed attempt.
func (l *loginLimiter) fail(ip, login string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	add(l.byIP, ip, now)
	add(l.byLogin, login, now)
}

// succeed forgets the login's failures (not the address's).
func (l *loginLimiter) succeed(login string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.byLogin, login)
}

func add(m map[string]*failures, k string, now time.Time) {
	f := m[k]
	if f != nil && !now.Before(f.start.Add(limitWindow)) {
		f = nil
	}
	if f == nil {
		if len(m) >= limitMaxEntries {
			prune(m, now)
		}
		f = &failures{start: now}
		m[k] = f
	}
	f.n++
}

// prune drops expired windows, and if the table is still full, the oldest
// quarter of it.
func prune(m map[string]*failures, now time.Time) {
	for k, f := range m {
		if !now.Before(f.start.Add(limitWindow)) {
			delete(m, k)
		}
	}
	if len(m) < limitMaxEntries {
		return
	}
	starts := make([]time.Time, 0, len(m))
	for _, f := range m {
		starts = append(starts, f.start)
	}
	slices.SortFunc(starts, time.Time.Compare)
	cut := starts[len(starts)/4]
	for k, f := range m {
		if !f.start.After(cut) {
			delete(m, k)
		}
	}
}

func maxDur(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

// clientIP returns the connection's address, IPv6 reduced to its /64, for
// counting attempts per client.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}

func itoa(i int) string { return strconv.Itoa(i) }
