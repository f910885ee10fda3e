package archive

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

const (
	authTTL        = 5 * time.Minute
	authMaxCached  = 10000
	authConcurrent = 2 // argon2 computations at once (each takes KDF memory)
)

// authenticator checks passwords. Successful checks are cached under
// HMAC(process key, login, password) — never the password — until the TTL
// passes or any user changes. Concurrent checks of the same credentials
// share one computation, and a semaphore bounds concurrent argon2 runs, so
// a burst of requests with the same Basic credentials costs one argon2.
type authenticator struct {
	a       *Archive
	procKey []byte
	sem     chan struct{}
	dummy   passwordHash // compared for unknown users, so timing does not tell
	limit   *guessLimiter

	mu       sync.Mutex
	gen      uint64
	cache    map[[32]byte]authEntry
	inflight map[[32]byte]*authCall
	// folds are the users by foldKey of their login (UsersFold); nil
	// until read, and after a change.
	folds map[string][]User

	runs   atomic.Int64 // argon2 computations, for tests and metrics
	active atomic.Int64
	peak   atomic.Int64
}

type authEntry struct {
	user    User
	gen     uint64
	expires time.Time
}

type authCall struct {
	done chan struct{}
	user *User
	err  error
}

func newAuthenticator(a *Archive) *authenticator {
	p := a.kdf
	return &authenticator{
		a:       a,
		procKey: randomKey(),
		sem:     make(chan struct{}, authConcurrent),
		dummy: passwordHash{Alg: "argon2id", V: argon2.Version, T: p.Time, M: p.MemoryKiB, P: p.Threads,
			Salt: randomBytes(saltLen), Hash: randomBytes(pwHashLen)},
		limit:    newGuessLimiter(defaultGuessPolicy(), a.log),
		cache:    map[[32]byte]authEntry{},
		inflight: map[[32]byte]*authCall{},
	}
}

func (au *authenticator) close() {
	au.mu.Lock()
	clear(au.cache)
	au.folds = nil
	au.gen++
	au.mu.Unlock()
}

// invalidate drops every cached success (called around user changes).
func (au *authenticator) invalidate() {
	au.mu.Lock()
	au.gen++
	clear(au.cache)
	au.folds = nil
	au.mu.Unlock()
}

func (au *authenticator) cacheKey(login, password string) [32]byte {
	return au.domainCacheKey(nil, login, password)
}

// domainCacheKey is the cache key of login and password under domain, a
// prefix that keeps one kind of credential from standing for another
// (nil for account passwords).
func (au *authenticator) domainCacheKey(domain []byte, login, password string) [32]byte {
	m := hmac.New(sha256.New, au.procKey)
	m.Write(domain)
	m.Write(binary.BigEndian.AppendUint32(nil, uint32(len(login))))
	m.Write([]byte(login))
	m.Write([]byte(password))
	var k [32]byte
	m.Sum(k[:0])
	return k
}

// argon2id runs one bounded computation.
func (au *authenticator) argon2id(ctx context.Context, password string, h *passwordHash) ([]byte, error) {
	select {
	case au.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-au.sem }()
	n := au.active.Add(1)
	for p := au.peak.Load(); n > p && !au.peak.CompareAndSwap(p, n); p = au.peak.Load() {
	}
	defer au.active.Add(-1)
	au.runs.Add(1)
	return argon2.IDKey([]byte(password), h.Salt, h.T, h.M, h.P, uint32(len(h.Hash))), nil
}

func (au *authenticator) hashPassword(ctx context.Context, password string) (*passwordHash, error) {
	p := au.a.kdf
	h := &passwordHash{Alg: "argon2id", V: argon2.Version, T: p.Time, M: p.MemoryKiB, P: p.Threads,
		Salt: randomBytes(saltLen), Hash: make([]byte, pwHashLen)}
	sum, err := au.argon2id(ctx, password, h)
	if err != nil {
		return nil, err
	}
	h.Hash = sum
	return h, nil
}

func copyUser(u *User) *User {
	c := *u
	c.Extensions = slices.Clone(u.Extensions)
	c.AccessList = slices.Clone(u.AccessList)
	return &c
}

// Authenticate checks a login and password given from the address from
// and returns the user. Any failure — unknown login, wrong password, no
// password set, disabled account — is ErrBadCredentials, after the same
// argon2 work. Past the guessing limit (see auth_limit.go) the attempt is
// refused with a *LimitedError before any password work. The password
// never appears in errors or logs.
func (a *Archive) Authenticate(ctx context.Context, from netip.Addr, login, password string) (*User, error) {
	if validLogin(login) != nil || len(password) > maxPasswordLen {
		return nil, a.auth.malformed(a.now(), from, login)
	}
	return a.auth.check(ctx, from, login, a.auth.cacheKey(login, password), func(ctx context.Context) (*User, error) {
		return a.checkPassword(ctx, login, password)
	})
}

// malformed counts credentials that cannot be right without looking
// them up, and returns the error for them.
func (au *authenticator) malformed(now time.Time, from netip.Addr, login string) error {
	at := newAttempt(from, login)
	if le := au.limit.begin(now, &at); le != nil {
		return le
	}
	return ErrBadCredentials
}

// check runs checkCreds for the credentials whose cache key is key, from
// the cache when they succeeded lately, sharing one run among concurrent
// callers, and within the guessing limit.
func (au *authenticator) check(ctx context.Context, from netip.Addr, login string, key [32]byte, checkCreds func(context.Context) (*User, error)) (*User, error) {
	a := au.a
	at := newAttempt(from, login)
	if le := au.limit.check(a.now(), &at); le != nil {
		return nil, le
	}
	if err := a.syncFeed(ctx); err != nil { // users changed on other daemons (feed.go)
		return nil, err
	}
	for {
		au.mu.Lock()
		if e, ok := au.cache[key]; ok && e.gen == au.gen && a.now().Before(e.expires) {
			au.mu.Unlock()
			au.limit.succeed(a.now(), &at)
			return copyUser(&e.user), nil
		}
		if c, ok := au.inflight[key]; ok {
			au.mu.Unlock()
			select {
			case <-c.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if c.err != nil && (errors.Is(c.err, context.Canceled) || errors.Is(c.err, context.DeadlineExceeded)) {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				continue // the leader gave up; try again
			}
			if c.err != nil {
				return nil, c.err
			}
			au.limit.succeed(a.now(), &at)
			return copyUser(c.user), nil
		}
		// This call checks the credentials: count it as a failure first,
		// so guesses sent in parallel are all counted.
		if le := au.limit.begin(a.now(), &at); le != nil {
			au.mu.Unlock()
			return nil, le
		}
		c := &authCall{done: make(chan struct{})}
		au.inflight[key] = c
		gen := au.gen
		au.mu.Unlock()

		c.user, c.err = checkCreds(ctx)
		close(c.done)

		au.mu.Lock()
		delete(au.inflight, key)
		if c.err == nil && gen == au.gen {
			if len(au.cache) >= authMaxCached {
				now := a.now()
				for k, e := range au.cache {
					if !now.Before(e.expires) {
						delete(au.cache, k)
					}
				}
				if len(au.cache) >= authMaxCached {
					clear(au.cache)
				}
			}
			au.cache[key] = authEntry{user: *copyUser(c.user), gen: gen, expires: a.now().Add(authTTL)}
		}
		au.mu.Unlock()
		switch {
		case c.err == nil:
			au.limit.succeed(a.now(), &at)
			return copyUser(c.user), nil
		case !errors.Is(c.err, ErrBadCredentials) && ctx.Err() == nil:
			au.limit.undo(a.now(), &at) // the check broke: not a guess
		}
		return nil, c.err
	}
}

func (a *Archive) checkPassword(ctx context.Context, login, password string) (*User, error) {
	r, err := a.userView(login)
	if err != nil {
		return nil, fmt.Errorf("archive: authenticate: %w", err)
	}
	h := &a.auth.dummy
	if r != nil && r.PW != nil {
		h = r.PW
	}
	got, err := a.auth.argon2id(ctx, password, h)
	if err != nil {
		return nil, err
	}
	ok := subtle.ConstantTimeCompare(got, h.Hash) == 1
	if r == nil || r.PW == nil || !ok || r.Disabled {
		return nil, ErrBadCredentials
	}
	return r.user(), nil
}
