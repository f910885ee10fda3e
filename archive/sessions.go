package archive

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/callvault/callvault/archive/kv"
)

// Limits on sessions.
const (
	MinSessionTTL = time.Minute
	MaxSessionTTL = 90 * 24 * time.Hour
)

// Session is a server-side login session of the web UI. The session token
// (a cookie value) is stored only as a keyed hash, like API tokens;
// sessions survive restarts until they expire or are deleted.
type Session struct {
	ID                         string // 16 hex digits, for listing and revoking
	Login                      string
	Created, Expires, LastSeen time.Time
	Remote, UserAgent          string
}

type sessionRecord struct {
	V        int    `json:"v"`
	ID       string `json:"id"`
	Login    string `json:"login"`
	Created  int64  `json:"created"`
	Expires  int64  `json:"expires"`
	LastSeen int64  `json:"lastSeen"`
	Remote   string `json:"remote,omitempty"`
	Agent    string `json:"agent,omitempty"`
}

func (r *sessionRecord) session() Session {
	return Session{ID: r.ID, Login: r.Login, Created: timeOf(r.Created), Expires: timeOf(r.Expires),
		LastSeen: timeOf(r.LastSeen), Remote: r.Remote, UserAgent: r.Agent}
}

func (a *Archive) openSession(k, box []byte) (*sessionRecord, error) {
	var r sessionRecord
	if err := a.openState(aadSession, k, box, &r); err != nil || r.V != curFormat || r.Login == "" || r.ID == "" {
		return nil, fmt.Errorf("archive: session record: %w", ErrCorrupt)
	}
	return &r, nil
}

// CreateSession starts a session for an existing, enabled user and returns
// its token (shown once; the archive keeps a keyed hash). ttl is between
// MinSessionTTL and MaxSessionTTL; remote and ua (the client address and
// User-Agent) are kept, cut to 512 bytes, for the user's list of sessions.
func (a *Archive) CreateSession(ctx context.Context, login string, ttl time.Duration, remote, ua string) (string, Session, error) {
	if ttl < MinSessionTTL || ttl > MaxSessionTTL {
		return "", Session{}, fmt.Errorf("archive: create session: ttl %v outside %v..%v: %w", ttl, MinSessionTTL, MaxSessionTTL, ErrInvalid)
	}
	if err := validLogin(login); err != nil {
		return "", Session{}, fmt.Errorf("archive: create session: %w", err)
	}
	now := a.now()
	token := newSecret(sessionPrefix)
	k := a.secretKey("session", token)
	r := &sessionRecord{
		V: curFormat, ID: hex.EncodeToString(randomBytes(tokenIDLen)), Login: login,
		Created: nsOf(now), Expires: nsOf(now.Add(ttl)), LastSeen: nsOf(now),
		Remote: cutField(remote, maxSessionAgent), Agent: cutField(ua, maxSessionAgent),
	}
	box, err := a.sealState(aadSession, k, r)
	if err != nil {
		return "", Session{}, fmt.Errorf("archive: create session: %w", err)
	}
	err = a.update(ctx, func(tx kv.Tx) error {
		u, err := a.userTx(tx, login)
		if err != nil {
			return err
		}
		if u == nil || u.Disabled {
			return ErrNotFound
		}
		return tx.Bucket(bucketSessions).Put(k, box)
	})
	if err != nil {
		return "", Session{}, fmt.Errorf("archive: create session: %w", err)
	}
	return token, r.session(), nil
}

// SessionByToken returns a live session and its user. An unknown,
// malformed, expired or deleted session, or one whose user is gone or
// disabled, is ErrNotFound (an expired one is deleted). LastSeen is
// updated at most once a minute.
func (a *Archive) SessionByToken(ctx context.Context, token string) (*Session, *User, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if !wellFormedSecret(token, sessionPrefix) {
		return nil, nil, fmt.Errorf("archive: session: %w", ErrNotFound)
	}
	k := a.secretKey("session", token)
	var (
		r *sessionRecord
		u *userRecord
	)
	err := a.view(func(tx kv.Tx) error {
		box := tx.Bucket(bucketSessions).Get(k)
		if box == nil {
			return nil
		}
		var err error
		if r, err = a.openSession(k, box); err != nil {
			return err
		}
		u, err = a.userTx(tx, r.Login)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("archive: session: %w", err)
	}
	if r == nil {
		return nil, nil, fmt.Errorf("archive: session: %w", ErrNotFound)
	}
	now := a.now()
	if !now.Before(timeOf(r.Expires)) || u == nil || u.Disabled {
		if err := a.update(ctx, func(tx kv.Tx) error { return tx.Bucket(bucketSessions).Delete(k) }); err != nil {
			a.log.Warn("archive: stale session not deleted", "err", err)
		}
		return nil, nil, fmt.Errorf("archive: session: %w", ErrNotFound)
	}
	if now.Sub(timeOf(r.LastSeen)) >= lastUsedEvery {
		r.LastSeen = nsOf(now)
		if box, err := a.sealState(aadSession, k, r); err == nil {
			err = a.update(ctx, func(tx kv.Tx) error {
				b := tx.Bucket(bucketSessions)
				if b.Get(k) == nil { // logged out meanwhile
					return nil
				}
				return b.Put(k, box)
			})
			if err != nil {
				a.log.Warn("archive: session last-seen time not saved", "err", err)
			}
		}
	}
	s := r.session()
	return &s, u.user(), nil
}

// DeleteSession ends a session (logout); ErrNotFound when it does not
// exist.
func (a *Archive) DeleteSession(ctx context.Context, token string) error {
	if !wellFormedSecret(token, sessionPrefix) {
		return fmt.Errorf("archive: delete session: %w", ErrNotFound)
	}
	k := a.secretKey("session", token)
	err := a.update(ctx, func(tx kv.Tx) error {
		b := tx.Bucket(bucketSessions)
		if b.Get(k) == nil {
			return ErrNotFound
		}
		return b.Delete(k)
	})
	if err != nil {
		return fmt.Errorf("archive: delete session: %w", err)
	}
	return nil
}

// Sessions lists a user's live sessions, newest first.
func (a *Archive) Sessions(ctx context.Context, login string) ([]Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := nsOf(a.now())
	var out []Session
	err := a.view(func(tx kv.Tx) error {
		return tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
			r, err := a.openSession(k, v)
			if err != nil {
				return err
			}
			if r.Login == login && r.Expires > now {
				out = append(out, r.session())
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("archive: sessions: %w", err)
	}
	slices.SortFunc(out, func(x, y Session) int { return cmp.Or(y.Created.Compare(x.Created), cmp.Compare(x.ID, y.ID)) })
	return out, nil
}

// DeleteSessions ends sessions of a user: all of them when keepID is "",
// otherwise all but the session with ID keepID (after a password change,
// the session that made it stays). It returns how many it ended.
func (a *Archive) DeleteSessions(ctx context.Context, login, keepID string) (int, error) {
	var n int
	err := a.update(ctx, func(tx kv.Tx) error {
		var err error
		n, err = a.deleteSessionsTx(tx, func(s *sessionRecord) bool { return s.Login == login && s.ID != keepID })
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("archive: delete sessions: %w", err)
	}
	return n, nil
}

// PurgeSessions deletes every expired session and returns how many; run it
// now and then (SessionByToken deletes expired sessions it meets anyway).
func (a *Archive) PurgeSessions(ctx context.Context) (int, error) {
	now := nsOf(a.now())
	var n int
	err := a.update(ctx, func(tx kv.Tx) error {
		var err error
		n, err = a.deleteSessionsTx(tx, func(s *sessionRecord) bool { return s.Expires <= now })
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("archive: purge sessions: %w", err)
	}
	return n, nil
}

// deleteSessionsTx deletes the sessions del selects; records that do not
// decrypt are deleted too (they can never be used).
func (a *Archive) deleteSessionsTx(tx kv.Tx, del func(*sessionRecord) bool) (int, error) {
	b := tx.Bucket(bucketSessions)
	var keys [][]byte
	err := b.ForEach(func(k, v []byte) error {
		r, err := a.openSession(k, v)
		if err != nil || del(r) {
			keys = append(keys, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}
