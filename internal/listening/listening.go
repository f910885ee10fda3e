// Package listening tells a new listening from the next request of the
// same one. A player fetches a recording in many Range requests, seeks,
// pauses and switches channels; all the requests of one listener for one
// recording within Window of each other are one "play" in the audit log.
// The UI's API and the recipient's playback zone count plays this way.
package listening

import (
	"sync"
	"time"
)

// Window is the longest pause within one listening.
const Window = 10 * time.Minute

// maxSessions bounds the sessions kept in memory; past it, ended sessions are
// dropped first, then any until half remain (a dropped session only means
// that its next request is audited as a new play).
const maxSessions = 10000

// Sessions are listening sessions: per key (listener and recording), the
// time of the last audio request. The zero value is ready to use.
type Sessions struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// Start records an audio request at now and reports whether it starts a
// new listening (the first request, the first after a pause longer than
// Window, or one whose time runs before the last one's). A listening that
// could not be audited is undone with Forget.
func (s *Sessions) Start(key string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		s.last = map[string]time.Time{}
	}
	prev, ok := s.last[key]
	s.last[key] = now
	if ok && now.Sub(prev) <= Window && !now.Before(prev) {
		return false
	}
	if len(s.last) > maxSessions {
		s.prune(now)
	}
	return true
}

// Forget ends key's listening: its next request starts a new one.
func (s *Sessions) Forget(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.last, key)
}

func (s *Sessions) prune(now time.Time) {
	for k, t := range s.last {
		if now.Sub(t) > Window {
			delete(s.last, k)
		}
	}
	for k := range s.last {
		if len(s.last) <= maxSessions/2 {
			break
		}
		delete(s.last, k)
	}
}
