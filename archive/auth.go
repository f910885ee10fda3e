package archive

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
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

	mu       sync.Mutex
	gen      uint64
	cache    map[[32]byte]authEntry
	inflight map[[32]byte]*authCall

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
		cache:    map[[32]byte]authEntry{},
		inflight: map[[32]byte]*authCall{},
	}
}

func (au *authenticator) close() {
	au.mu.Lock()
	clear(au.cache)
	au.gen++
	au.mu.Unlock()
}

// invalidate drops every cached success (called around user changes).
func (au *authenticator) invalidate() {
	au.mu.Lock()
	au.gen++
	clear(au.cache)
	au.mu.Unlock()
}

func (au *authenticator) cacheKey(login, password string) [32]byte {
	m := hmac.New(sha256.New, au.procKey)
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

// Authenticate checks a login and password and returns the user. Any
// failure — unknown login, wrong password, no password set, disabled
// account — is ErrBadCredentials, after the same argon2 work. The password
// never appears in errors or logs.
func (a *Archive) Authenticate(ctx context.Context, login, password string) (*User, error) {
	au := a.auth
	if validLogin(login) != nil || len(password) > maxPasswordLen {
		return nil, ErrBadCredentials
	}
	key := au.cacheKey(login, password)
	for {
		au.mu.Lock()
		if e, ok := au.cache[key]; ok && e.gen == au.gen && a.now().Before(e.expires) {
			au.mu.Unlock()
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
			return copyUser(c.user), nil
		}
		c := &authCall{done: make(chan struct{})}
		au.inflight[key] = c
		gen := au.gen
		au.mu.Unlock()

		c.user, c.err = a.checkPassword(ctx, login, password)
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
		if c.err != nil {
			return nil, c.err
		}
		return copyUser(c.user), nil
	}
}

func (a *Archive) checkPassword(ctx context.Context, login, password string) (*User, error) {
	var r *userRecord
	err := a.view(func(tx *bolt.Tx) error {
		var err error
		r, err = a.userTx(tx, login)
		return err
	})
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
