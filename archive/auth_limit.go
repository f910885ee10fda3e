package archive

import (
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/callvault/callvault/internal/ratelimit"
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
// first. The tables are internal/ratelimit's BackoffTable, which also
// counts the playback zone's one-time codes (share code_limit.go).

// guessPolicy is the whole guessing limit.
type guessPolicy struct {
	loginSource ratelimit.Backoff // one login from one source
	source      ratelimit.Backoff // one source, all logins
	login       ratelimit.Backoff // one login, from sources where it never succeeded
	entries     int               // bound of each table
}

func defaultGuessPolicy() guessPolicy {
	return guessPolicy{
		loginSource: ratelimit.Backoff{Free: 5, Base: time.Second, Max: 15 * time.Minute, Leak: 15 * time.Minute},
		source:      ratelimit.Backoff{Free: 20, Base: time.Second, Max: time.Hour, Leak: 5 * time.Minute},
		login:       ratelimit.Backoff{Free: 20, Base: time.Second, Max: 5 * time.Minute, Leak: 5 * time.Minute},
		entries:     10000,
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
	loginSource *ratelimit.BackoffTable[loginSource]
	source      *ratelimit.BackoffTable[netip.Prefix]
	login       *ratelimit.BackoffTable[string]
	known       map[loginSource]time.Time // where each login succeeded, and when last
}

func newGuessLimiter(p guessPolicy, log *slog.Logger) *guessLimiter {
	return &guessLimiter{
		p: p, log: log,
		loginSource: ratelimit.NewBackoffTable[loginSource](p.loginSource, p.entries),
		source:      ratelimit.NewBackoffTable[netip.Prefix](p.source, p.entries),
		login:       ratelimit.NewBackoffTable[string](p.login, p.entries),
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
	wait, e := l.source.Wait(at.src, now)
	rule := "source"
	var w time.Duration
	var e2 *ratelimit.BackoffEntry
	if at.login != "" {
		if w, e2 = l.loginSource.Wait(loginSource{at.login, at.src}, now); w > wait {
			wait, e, rule = w, e2, "login and source"
		}
		if !l.knownLocked(at.login, at.src) {
			if w, e2 = l.login.Wait(at.login, now); w > wait {
				wait, e, rule = w, e2, "login from new sources"
			}
		}
	}
	if wait <= 0 {
		return nil
	}
	le := &LimitedError{RetryAfter: wait}
	if e != nil && e.FirstRefusal() {
		le.First = true
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
	at.prevSrc = l.source.Fail(at.src, now)
	if at.login == "" {
		return nil
	}
	at.prevLoginSource = l.loginSource.Fail(loginSource{at.login, at.src}, now)
	if !l.knownLocked(at.login, at.src) {
		at.global = true
		at.prevLogin = l.login.Fail(at.login, now)
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
	l.source.Undo(at.src, now, at.prevSrc)
	if at.login != "" {
		l.loginSource.Undo(loginSource{at.login, at.src}, now, at.prevLoginSource)
	}
	if at.global {
		l.login.Undo(at.login, now, at.prevLogin)
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
	l.loginSource.Forget(k)
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
