package share

import (
	"sync"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/ratelimit"
)

// One-time codes are guarded on the archive's principle for passwords
// (archive/auth_limit.go): counted per source address (an IPv4 address or
// an IPv6 /64), back-off and 429, counted before anything is checked, and
// never at the real recipient's expense. The archive's limiter knows
// logins and passwords only, so the code door keeps its counts here:
//
//   - A code belongs to the source that asked for it. A request mails a new
//     code for that source (voiding only that source's previous one), and
//     an entry is checked only against its own source's code. A stranger's
//     requests and wrong entries void nothing but the stranger's own code.
//   - Each code takes codeWrongMax (5) wrong entries, then it is void.
//   - Code requests per link and source: 3 an hour, 10 a day; per link from
//     sources it was never opened from (no right code came from them), all
//     together: 10 an hour, 30 a day. Both are kept in the link's record
//     and checked and counted in the transaction that mails the code.
//   - Per source, all links: 20 code requests an hour, and failed entries
//     back off — 10 free, then each failure doubles the wait from 1 s up to
//     1 h, one failure forgotten every 5 min (in memory, checked and counted
//     under one lock before the code is looked at; the archive's
//     back-off, internal/ratelimit's BackoffTable).
//
// The bound across sources: an entry is checked only against a code
// mailed for its own source, so wrong entries at a link are at most 5 per
// code mailed. However many sources an attacker has, sources the link was
// never opened from get at most 30 codes a day at one link: at most 150
// guesses a day, each right with probability 1e-6, so the chance of a
// right guess is at most 1.5e-4 a day (0.1% over a week's link, 5.5% over
// the 366 days of the longest one, were the attack kept up all that
// time). A right guess from a source the link was opened from needs the
// recipient's own network (its 10 codes a day add at most 50 guesses).
//
// The price of that bound: sources acting together (at least 4 in an
// hour, or 3 in a day) can hold back a new code for a source the link was
// never opened from, while they keep at it. They can never void a code
// already mailed nor refuse an entry of it, and never hold back a source
// the link was opened from. One source alone can do neither.
const (
	codesPerHour     = 3  // per link and source
	codesPerDay      = 10 // per link and source
	newCodesPerHour  = 10 // per link, sources it was never opened from
	newCodesPerDay   = 30 // per link, sources it was never opened from
	addrCodesPerHour = 20 // per source, all links
	maxOpened        = 16 // sources a link remembers it was opened from
	wrongFree        = 10 // per source, all links: failed entries before any wait
	wrongBase        = time.Second
	wrongMaxWait     = time.Hour
	wrongLeak        = 5 * time.Minute
	limiterEntries   = 10000
)

// wrongRule is the back-off of failed entries per source, all links.
var wrongRule = ratelimit.Backoff{Free: wrongFree, Base: wrongBase, Max: wrongMaxWait, Leak: wrongLeak}

// sourceOf is the unit a client address is counted as, the archive's
// (archive.SourcePrefix): an IPv4 address, written bare, or an IPv6 /64;
// what does not parse is one shared source, "?". The string names the
// source in the link's record (sourceKey) and in the audit, so it stays
// as it is.
func sourceOf(remote string) string {
	p := archive.SourcePrefix(archive.ClientAddr(remote))
	switch {
	case !p.IsValid():
		return "?"
	case p.Addr().Is4():
		return p.Addr().String()
	default:
		return p.String()
	}
}

// windowWait is how long until one more event fits limit events per
// period, given the events' times ts (oldest first, none in the future).
func windowWait(ts []time.Time, limit int, period time.Duration, now time.Time) time.Duration {
	var in []time.Time
	for _, t := range ts {
		if now.Sub(t) < period {
			in = append(in, t)
		}
	}
	if len(in) < limit {
		return 0
	}
	return period - now.Sub(in[len(in)-limit])
}

// addrLimiter holds the per-source counts of the playback zone. It is
// safe for concurrent use; each check and its count are one step.
type addrLimiter struct {
	mu    sync.Mutex
	codes *ratelimit.Window               // code requests per source
	wrong *ratelimit.BackoffTable[string] // failed entries per source
	quiet map[string]*quietPeriod         // refusals not audited one by one
}

func newAddrLimiter() *addrLimiter {
	return &addrLimiter{codes: ratelimit.New(addrCodesPerHour, time.Hour), wrong: ratelimit.NewBackoffTable[string](wrongRule, limiterEntries), quiet: map[string]*quietPeriod{}}
}

// takeCode counts a code request of src, or returns the wait when src
// has made too many.
func (a *addrLimiter) takeCode(src string, now time.Time) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	if w := a.codes.Wait(src, now); w > 0 {
		return w
	}
	a.codes.Note(src, now)
	return 0
}

// entry is a code entry counted as a failure until it proves right.
type entry struct {
	src  string
	prev time.Time // the until the count replaced
}

// beginEntry counts an entry of src as a failed one, or returns the wait
// when src must wait: parallel entries are all counted before any is
// checked.
func (a *addrLimiter) beginEntry(src string, now time.Time) (entry, time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if w, _ := a.wrong.Wait(src, now); w > 0 {
		return entry{}, w
	}
	return entry{src: src, prev: a.wrong.Fail(src, now)}, 0
}

// undo takes back the count of an entry that was right (or not checked).
func (a *addrLimiter) undo(en entry, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.wrong.Undo(en.src, now, en.prev)
}

// quietPeriod is a wait whose first refusal was audited; later ones are
// only counted.
type quietPeriod struct {
	until time.Time
	n     int
}

// refused notes a refusal (key names the door, link and source) that must
// wait until until. It says whether to audit this one, and how many
// refusals under key since the last one audited were not: one audit entry
// per wait, not one per refused attempt.
func (a *addrLimiter) refused(key string, until, now time.Time) (audit bool, skipped int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	q := a.quiet[key]
	if q != nil && now.Before(q.until) {
		q.n++
		return false, 0
	}
	if q == nil {
		if len(a.quiet) >= limiterEntries {
			for k, q := range a.quiet {
				if !now.Before(q.until) || len(a.quiet) >= limiterEntries {
					delete(a.quiet, k)
				}
			}
		}
		q = &quietPeriod{}
		a.quiet[key] = q
	}
	skipped, q.until, q.n = q.n, until, 0
	return true, skipped
}
