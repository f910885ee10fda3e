// Package ratelimit counts attempts per key (a client address, a login) for
// doors whose guesses are cheap to make and must stay few. Window counts
// events in a sliding window (the playback zone's code requests, refused
// Flex tokens); BackoffTable counts failures with a doubling back-off that
// a right attempt takes back (the archive's password doors, the playback
// zone's one-time codes). What a door counts, and per what, stays with the
// door (archive auth_limit.go, share code_limit.go).
package ratelimit

import (
	"sync"
	"time"
)

// maxKeys bounds the keys kept; past it, any are dropped until half remain
// (a dropped key only starts counting afresh).
const maxKeys = 10000

// Window allows Limit events per key within any Period. Times come from
// the caller (the appliance's clock); a time before a recorded one counts
// that one as past.
type Window struct {
	limit  int
	period time.Duration

	mu     sync.Mutex
	events map[string][]time.Time
}

// New returns a window of limit events per period.
func New(limit int, period time.Duration) *Window {
	return &Window{limit: limit, period: period, events: map[string][]time.Time{}}
}

// Wait is how long key must wait at now before its next event: 0 while it
// is below the limit.
func (w *Window) Wait(key string, now time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	ts := w.events[key][:0]
	for _, t := range w.events[key] {
		if now.Sub(t) < w.period && !t.After(now) {
			ts = append(ts, t)
		}
	}
	if len(ts) == 0 {
		delete(w.events, key)
		return 0
	}
	w.events[key] = ts
	if len(ts) < w.limit {
		return 0
	}
	return w.period - now.Sub(ts[len(ts)-w.limit])
}

// Note records an event of key at now.
func (w *Window) Note(key string, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.events[key]; !ok && len(w.events) >= maxKeys {
		for k := range w.events {
			delete(w.events, k)
			if len(w.events) < maxKeys/2 {
				break
			}
		}
	}
	w.events[key] = append(w.events[key], now)
}
