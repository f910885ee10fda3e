package ratelimit

import (
	"math"
	"slices"
	"time"
)

// Backoff is a back-off rule for failed attempts: past Free failures each
// failure doubles the wait before the next attempt, from Base up to Max,
// and one failure is forgotten per Leak of time.
type Backoff struct {
	Free float64       // failures allowed before any wait
	Base time.Duration // wait after the first failure past Free; doubled for each further one
	Max  time.Duration // longest wait
	Leak time.Duration // one failure is forgotten per Leak of time
}

// Wait is the wait after a failure that brought the score to s: none up
// to Free, Base for the first failure past Free (a part of one counts as
// one), doubled for each further one, at most Max.
func (r *Backoff) Wait(s float64) time.Duration {
	excess := s - r.Free
	if excess <= 0 {
		return 0
	}
	w := r.Base
	for n := int(math.Ceil(excess)) - 1; n > 0 && w < r.Max; n-- {
		w *= 2
	}
	return min(w, r.Max)
}

// BackoffEntry is one key's count in a BackoffTable.
type BackoffEntry struct {
	score float64   // failures not yet forgotten, as of at
	at    time.Time // time of the last change to score
	until time.Time // no attempt before this
	noted time.Time // the until whose first refusal was reported
}

func (e *BackoffEntry) decayed(r *Backoff, now time.Time) float64 {
	return max(0, e.score-float64(now.Sub(e.at))/float64(r.Leak))
}

// FirstRefusal reports whether a refusal is the first one of the entry's
// current wait, and marks that wait as reported: callers log one refusal
// per wait, not one per refused attempt.
func (e *BackoffEntry) FirstRefusal() bool {
	if e.noted.Equal(e.until) {
		return false
	}
	e.noted = e.until
	return true
}

// BackoffTable counts failures per key under one Backoff rule. It holds at
// most a bound of keys: when a new key finds it full, forgotten keys are
// dropped and, if it is still full, the quarter whose waits end first.
// Times come from the caller. A BackoffTable is not safe for concurrent
// use: its owner checks and counts under a lock of its own, so that
// parallel attempts are all counted before any of them is checked.
type BackoffTable[K comparable] struct {
	rule  Backoff
	bound int
	m     map[K]*BackoffEntry
}

// NewBackoffTable returns an empty table of rule r holding at most bound
// keys.
func NewBackoffTable[K comparable](r Backoff, bound int) *BackoffTable[K] {
	return &BackoffTable[K]{rule: r, bound: bound, m: map[K]*BackoffEntry{}}
}

// Wait returns how long k must wait at now before its next attempt, and
// its entry (nil when k has none); an entry whose failures are all
// forgotten is dropped.
func (t *BackoffTable[K]) Wait(k K, now time.Time) (time.Duration, *BackoffEntry) {
	e := t.m[k]
	if e == nil {
		return 0, nil
	}
	if now.Before(e.until) {
		return e.until.Sub(now), e
	}
	if e.decayed(&t.rule, now) == 0 {
		delete(t.m, k)
		return 0, nil
	}
	return 0, e
}

// Fail counts a failure of k at now and returns the end of the wait it
// replaced, for Undo.
func (t *BackoffTable[K]) Fail(k K, now time.Time) (prev time.Time) {
	e := t.m[k]
	if e == nil {
		if len(t.m) >= t.bound {
			t.Prune(now)
		}
		e = &BackoffEntry{}
		t.m[k] = e
	}
	prev = e.until
	e.score = e.decayed(&t.rule, now) + 1
	e.at = now
	e.until = now.Add(t.rule.Wait(e.score))
	return prev
}

// Undo takes back a failure of k counted by Fail, which returned prev,
// when the attempt turned out not to be one (it was right, or it was not
// checked). The wait is shortened to the one of the lower score, never
// below prev.
func (t *BackoffTable[K]) Undo(k K, now, prev time.Time) {
	e := t.m[k]
	if e == nil {
		return
	}
	s := e.decayed(&t.rule, now) - 1
	e.score, e.at = max(0, s), now
	if until := now.Add(t.rule.Wait(e.score)); until.Before(e.until) {
		if until.Before(prev) {
			until = prev
		}
		e.until = until
	}
}

// Forget drops k's count.
func (t *BackoffTable[K]) Forget(k K) { delete(t.m, k) }

// Len is the number of keys held.
func (t *BackoffTable[K]) Len() int { return len(t.m) }

// Prune drops the entries that neither wait nor remember a failure at now
// and, if the table is still full, the quarter whose waits end first.
func (t *BackoffTable[K]) Prune(now time.Time) {
	for k, e := range t.m {
		if !now.Before(e.until) && e.decayed(&t.rule, now) == 0 {
			delete(t.m, k)
		}
	}
	if len(t.m) < t.bound || len(t.m) == 0 {
		return
	}
	ends := make([]time.Time, 0, len(t.m))
	for _, e := range t.m {
		ends = append(ends, e.until)
	}
	slices.SortFunc(ends, time.Time.Compare)
	cut := ends[len(ends)/4]
	for k, e := range t.m {
		if !e.until.After(cut) {
			delete(t.m, k)
		}
	}
}
