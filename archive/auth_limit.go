package archive

import (
	"log/slog"
	"math"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Password guessing is bounded where credentials are checked, so every
// door that calls Authenticate, AuthenticateWebDAV or AuthenticateToken —
// the login form, the API (Basic and Bearer), WebDAV, ingest, backup —
// shares one count. Failures are counted in three tables:
//
//   - one login from one source (an IPv4 address, an IPv6 /64): the
//     attacker's guesses from their address slow only that address, so the
//     real user still gets in from their own;
//   - one source, all logins: stops one address trying one password on
//     many logins (spraying);
//   - one login, from sources where that login never succeeded: slows
//     guessing spread over many addresses, without touching the addresses
//     the user is known to log in from.
//
// Past a rule's free failures each failure doubles the wait before the next
// attempt, up to the rule's longest wait, and one failure is forgotten per
// leak period. A waiting attempt is refused before any password
// work (no argon2, no cache lookup), with the same answer whether or not
// the login exists. A success forgets the login's failures from that
// source. Tables are bounded; the entries whose wait ends first are dropped
// first.

// limitRule is one table's back-off.
type limitRule struct {
	free float64       // failures allowed before any wait
	base time.Duration // wait after the first failure past free; doubled for each further one
	max  time.Duration // longest wait
	leak time.Duration // one failure is forgotten per leak of time
}

// guessPolicy is the whole guessing limit.
type guessPolicy struct {
	loginSource limitRule // one login from one source
	source      limitRule // one source, all logins
	login       limitRule // one login, from sources where it never succeeded
	entries     int       // bound of each table
}

func defaultGuessPolicy() guessPolicy {
	return guessPolicy{
		loginSource: limitRule{free: 5, base: time.Second, max: 15 * time.Minute, leak: 15 * time.Minute},
		source:      limitRule{free: 20, base: time.Second, max: time.Hour, leak: 5 * time.Minute},
		login:       limitRule{free: 20, base: time.Second, max: 5 * time.Minute, leak: 5 * time.Minute},
		entries:     10000,
	}
}

// wait returns the wait after a failure that brought the score to s.
func (r *limitRule) wait(s float64) time.Duration {
	excess := s - r.free
	if excess <= 0 {
		return 0
	}
	w := r.base
	for n := int(math.Ceil(excess)) - 1; n > 0 && w < r.max; n-- {
		w *= 2
	}
	return min(w, r.max)
}

// guessEntry is one key's count.
type guessEntry struct {
	score float64   // failures not yet forgotten, as of at
	at    time.Time // time of the last change to score
	until time.Time // no attempt before this
	noted time.Time // the until whose refusals were logged
}

func (e *guessEntry) decayed(r *limitRule, now time.Time) float64 {
	return max(0, e.score-float64(now.Sub(e.at))/float64(r.leak))
}

type guessTable[K comparable] struct {
	rule limitRule
	m    map[K]*guessEntry
}

func newGuessTable[K comparable](r limitRule) guessTable[K] {
	return guessTable[K]{rule: r, m: map[K]*guessEntry{}}
}

// wait returns how long key must wait, and its entry; a forgotten entry
// is dropped.
func (t *guessTable[K]) wait(k K, now time.Time) (time.Duration, *guessEntry) {
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

// fail counts a failure of k and returns the until it replaced.
func (t *guessTable[K]) fail(k K, now time.Time, bound int) time.Time {
	e := t.m[k]
	if e == nil {
		if len(t.m) >= bound {
			t.prune(now, bound)
		}
		e = &guessEntry{}
		t.m[k] = e
	}
	prev := e.until
	e.score = e.decayed(&t.rule, now) + 1
	e.at = now
	e.until = now.Add(t.rule.wait(e.score))
	return prev
}

// undo takes back a failure counted by fail, which returned prev, when the
// attempt turned out not to be one (it succeeded, or the check broke).
func (t *guessTable[K]) undo(k K, now, prev time.Time) {
	e := t.m[k]
	if e == nil {
		return
	}
	s := e.decayed(&t.rule, now) - 1
	e.score, e.at = max(0, s), now
	if until := now.Add(t.rule.wait(e.score)); until.Before(e.until) {
		if until.Before(prev) {
			until = prev
		}
		e.until = until
	}
}

// prune drops forgotten entries and, if the table is still full, the
// quarter whose waits end first.
func (t *guessTable[K]) prune(now time.Time, bound int) {
	for k, e := range t.m {
		if !now.Before(e.until) && e.decayed(&t.rule, now) == 0 {
			delete(t.m, k)
		}
	}
	if len(t.m) < bound {
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

type loginSource struct {
	login string
	src   netip.Prefix
}

// guessLimiter holds the counts. It is safe for concurrent use.
type guessLimiter struct {
	p   guessPolicy
	log *slog.Logger

	mu          sync.Mutex
	loginSource guessTable[loginSource]
	source      guessTable[netip.Prefix]
	login       guessTable[string]
	known       map[loginSource]time.Time // where each login succeeded, and when last
}

func newGuessLimiter(p guessPolicy, log *slog.Logger) *guessLimiter {
	return &guessLimiter{
		p: p, log: log,
		loginSource: newGuessTable[loginSource](p.loginSource),
		source:      newGuessTable[netip.Prefix](p.source),
		login:       newGuessTable[string](p.login),
		known:       map[loginSource]time.Time{},
	}
}

// attempt is one credential check in progress: who it claims to be, from
// where, and what was counted for it.
type attempt struct {
	login string // "" for tokens and malformed logins: only the source is counted
	src   netip.Prefix

	counted         bool // begin counted it as a failure
	global          bool // counted in the login table too
	prevSrc         time.Time
	prevLoginSource time.Time
	prevLogin       time.Time
}

// SourcePrefix is the unit a guessing limit counts per source: an IPv4
// address or an IPv6 /64 (one subscriber's network, whose addresses a
// client picks at will). An address that does not parse counts as one
// shared source.
func SourcePrefix(a netip.Addr) netip.Prefix {
	a = a.Unmap().WithZone("")
	switch {
	case !a.IsValid():
		return netip.Prefix{}
	case a.Is4():
		return netip.PrefixFrom(a, 32)
	default:
		p, _ := a.Prefix(64)
		return p
	}
}

func newAttempt(from netip.Addr, login string) attempt {
	at := attempt{src: SourcePrefix(from)}
	if validLogin(login) == nil {
		at.login = login
	}
	return at
}

func (l *guessLimiter) knownLocked(login string, src netip.Prefix) bool {
	_, ok := l.known[loginSource{login, src}]
	return ok
}

// waitLocked returns how long at must wait, logging the first refusal of
// each waiting period.
func (l *guessLimiter) waitLocked(now time.Time, at *attempt) *LimitedError {
	wait, e := l.source.wait(at.src, now)
	rule := "source"
	var w time.Duration
	var e2 *guessEntry
	if at.login != "" {
		if w, e2 = l.loginSource.wait(loginSource{at.login, at.src}, now); w > wait {
			wait, e, rule = w, e2, "login and source"
		}
		if !l.knownLocked(at.login, at.src) {
			if w, e2 = l.login.wait(at.login, now); w > wait {
				wait, e, rule = w, e2, "login from new sources"
			}
		}
	}
	if wait <= 0 {
		return nil
	}
	le := &LimitedError{RetryAfter: wait}
	if e != nil && !e.noted.Equal(e.until) {
		e.noted, le.First = e.until, true
		l.log.Warn("archive: credentials refused without checking: too many failed attempts",
			"login", at.login, "source", at.src.String(), "limit", rule, "retryAfter", wait.Round(time.Second))
	}
	return le
}

// check returns a *LimitedError when at must wait before its credentials
// are looked at.
func (l *guessLimiter) check(now time.Time, at *attempt) *LimitedError {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waitLocked(now, at)
}

// begin checks at and, when it may go on, counts it as a failure until
// succeed or undo says otherwise: parallel guesses are counted before any
// of them is checked.
func (l *guessLimiter) begin(now time.Time, at *attempt) *LimitedError {
	l.mu.Lock()
	defer l.mu.Unlock()
	if le := l.waitLocked(now, at); le != nil {
		return le
	}
	at.counted = true
	at.prevSrc = l.source.fail(at.src, now, l.p.entries)
	if at.login == "" {
		return nil
	}
	at.prevLoginSource = l.loginSource.fail(loginSource{at.login, at.src}, now, l.p.entries)
	if !l.knownLocked(at.login, at.src) {
		at.global = true
		at.prevLogin = l.login.fail(at.login, now, l.p.entries)
	}
	return nil
}

// undo takes back what begin counted.
func (l *guessLimiter) undo(now time.Time, at *attempt) {
	if !at.counted {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.undoLocked(now, at)
}

func (l *guessLimiter) undoLocked(now time.Time, at *attempt) {
	at.counted = false
	l.source.undo(at.src, now, at.prevSrc)
	if at.login != "" {
		l.loginSource.undo(loginSource{at.login, at.src}, now, at.prevLoginSource)
	}
	if at.global {
		l.login.undo(at.login, now, at.prevLogin)
	}
}

// succeed records that at's credentials were right: the login's failures
// from that source are forgotten and the source becomes known for the
// login.
func (l *guessLimiter) succeed(now time.Time, at *attempt) {
	if at.login == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if at.counted {
		l.undoLocked(now, at)
	}
	k := loginSource{at.login, at.src}
	delete(l.loginSource.m, k)
	if _, ok := l.known[k]; !ok && len(l.known) >= l.p.entries {
		l.pruneKnownLocked()
	}
	l.known[k] = now
}

// pruneKnownLocked forgets the quarter of known sources that succeeded
// longest ago.
func (l *guessLimiter) pruneKnownLocked() {
	ats := make([]time.Time, 0, len(l.known))
	for _, at := range l.known {
		ats = append(ats, at)
	}
	slices.SortFunc(ats, time.Time.Compare)
	cut := ats[len(ats)/4]
	for k, at := range l.known {
		if !at.After(cut) {
			delete(l.known, k)
		}
	}
}

// ClientAddr parses the address of a connection's peer ("host:port", as in
// net/http's Request.RemoteAddr, or a bare address) for Authenticate. What
// does not parse is the zero Addr, which the guessing limit counts as one
// shared source.
func ClientAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr()
	}
	a, _ := netip.ParseAddr(remote)
	return a
}
