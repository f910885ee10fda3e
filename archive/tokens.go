package archive

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/callvault/callvault/archive/kv"
)

// API tokens: "cvt_" followed by 26 base32 characters (128 random bits).
// The archive keeps only HMAC(index key, "token\0" ‖ token) as the bucket
// key and, boxed under the state key, the owner, label and times; the token
// itself is shown once by CreateToken and cannot be recovered.
const (
	tokenPrefix     = "cvt_"
	sessionPrefix   = "cvs_"
	secretTextLen   = 26 // len(rand.Text())
	maxTokenLabel   = 128
	maxUserTokens   = 100
	lastUsedEvery   = time.Minute // LastUsed/LastSeen are written at most this often
	aadToken        = "callvault token\x00"
	aadSession      = "callvault session\x00"
	tokenIDLen      = 8 // random bytes, shown as 16 hex digits
	maxSessionAgent = 512
)

// TokenInfo describes an API token; the token itself is never stored.
type TokenInfo struct {
	ID       string // 16 hex digits, for listing and revoking
	Label    string
	Created  time.Time
	LastUsed time.Time // zero until first used; updated at most once a minute
}

type tokenRecord struct {
	V        int    `json:"v"`
	ID       string `json:"id"`
	Login    string `json:"login"`
	Label    string `json:"label,omitempty"`
	Created  int64  `json:"created"`
	LastUsed int64  `json:"lastUsed,omitempty"`
}

func (r *tokenRecord) info() TokenInfo {
	return TokenInfo{ID: r.ID, Label: r.Label, Created: timeOf(r.Created), LastUsed: timeOf(r.LastUsed)}
}

// newSecret returns prefix ‖ 26 base32 characters.
func newSecret(prefix string) string { return prefix + rand.Text() }

// wellFormedSecret checks the shape of a token or session secret before
// any lookup.
func wellFormedSecret(s, prefix string) bool {
	if len(s) != len(prefix)+secretTextLen || !strings.HasPrefix(s, prefix) {
		return false
	}
	for _, c := range s[len(prefix):] {
		if !(c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

func (a *Archive) secretKey(label, secret string) []byte {
	h := keyedHash(a.keys.index, label, secret)
	return h[:]
}

// sealState boxes a JSON record under the state key, bound to its bucket
// key and kind.
func (a *Archive) sealState(aad string, k []byte, v any) ([]byte, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return boxSeal(a.keys.state, boxAAD(aad, k), plain), nil
}

func (a *Archive) openState(aad string, k, box []byte, v any) error {
	plain, err := boxOpen(a.keys.state, boxAAD(aad, k), box)
	if err != nil {
		return ErrCorrupt
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return ErrCorrupt
	}
	return nil
}

func (a *Archive) openToken(k, box []byte) (*tokenRecord, error) {
	var r tokenRecord
	if err := a.openState(aadToken, k, box, &r); err != nil || r.V != curFormat || r.Login == "" || r.ID == "" {
		return nil, fmt.Errorf("archive: token record: %w", ErrCorrupt)
	}
	return &r, nil
}

// CreateToken creates an API token for an existing user and returns it
// (the only time it is available) with its description. label is a
// free-form name of at most 128 bytes; a user has at most 100 tokens.
func (a *Archive) CreateToken(ctx context.Context, login, label string) (string, TokenInfo, error) {
	label = strings.TrimSpace(label)
	if len(label) > maxTokenLabel || !plainText(label) {
		return "", TokenInfo{}, fmt.Errorf("archive: create token: label longer than %d bytes or not text: %w", maxTokenLabel, ErrInvalid)
	}
	if err := validLogin(login); err != nil {
		return "", TokenInfo{}, fmt.Errorf("archive: create token: %w", err)
	}
	token := newSecret(tokenPrefix)
	k := a.secretKey("token", token)
	r := &tokenRecord{V: curFormat, ID: hex.EncodeToString(randomBytes(tokenIDLen)), Login: login, Label: label, Created: nsOf(a.now())}
	box, err := a.sealState(aadToken, k, r)
	if err != nil {
		return "", TokenInfo{}, fmt.Errorf("archive: create token: %w", err)
	}
	err = a.update(ctx, func(tx kv.Tx) error {
		if _, err := a.existingUserTx(tx, login); err != nil {
			return err
		}
		n := 0
		if err := a.eachToken(tx, func(_ []byte, t *tokenRecord) error {
			if t.Login == login {
				n++
			}
			return nil
		}); err != nil {
			return err
		}
		if n >= maxUserTokens {
			return fmt.Errorf("more than %d tokens: %w", maxUserTokens, ErrInvalid)
		}
		return tx.Bucket(bucketTokens).Put(k, box)
	})
	if err != nil {
		return "", TokenInfo{}, fmt.Errorf("archive: create token: %w", err)
	}
	return token, r.info(), nil
}

// eachToken decrypts every token record inside tx.
func (a *Archive) eachToken(tx kv.Tx, fn func(k []byte, r *tokenRecord) error) error {
	return tx.Bucket(bucketTokens).ForEach(func(k, v []byte) error {
		r, err := a.openToken(k, v)
		if err != nil {
			return err
		}
		return fn(k, r)
	})
}

// AuthenticateToken returns the user a token given from the address from
// belongs to. An unknown, malformed or revoked token, or one whose user is
// gone or disabled, is ErrBadCredentials. Failures count toward the
// guessing limit of the source (all logins, see auth_limit.go); past it the
// token is refused with a *LimitedError without being looked up. LastUsed
// is updated at most once a minute.
func (a *Archive) AuthenticateToken(ctx context.Context, from netip.Addr, token string) (*User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	at := newAttempt(from, "")
	if le := a.auth.limit.check(a.now(), &at); le != nil {
		return nil, le
	}
	u, err := a.authenticateToken(ctx, token)
	if errors.Is(err, ErrBadCredentials) {
		if le := a.auth.limit.begin(a.now(), &at); le != nil {
			return nil, le
		}
	}
	return u, err
}

func (a *Archive) authenticateToken(ctx context.Context, token string) (*User, error) {
	if !wellFormedSecret(token, tokenPrefix) {
		return nil, ErrBadCredentials
	}
	k := a.secretKey("token", token)
	var (
		r *tokenRecord
		u *userRecord
	)
	err := a.view(func(tx kv.Tx) error {
		box := tx.Bucket(bucketTokens).Get(k)
		if box == nil {
			return nil
		}
		var err error
		if r, err = a.openToken(k, box); err != nil {
			return err
		}
		u, err = a.userTx(tx, r.Login)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("archive: authenticate token: %w", err)
	}
	if r == nil || u == nil || u.Disabled {
		return nil, ErrBadCredentials
	}
	now := a.now()
	if now.Sub(timeOf(r.LastUsed)) >= lastUsedEvery {
		r.LastUsed = nsOf(now)
		if box, err := a.sealState(aadToken, k, r); err == nil {
			err = a.update(ctx, func(tx kv.Tx) error {
				b := tx.Bucket(bucketTokens)
				if b.Get(k) == nil { // revoked meanwhile
					return nil
				}
				return b.Put(k, box)
			})
			if err != nil {
				a.log.Warn("archive: token last-used time not saved", "err", err)
			}
		}
	}
	return u.user(), nil
}

// Tokens lists a user's API tokens, oldest first.
func (a *Archive) Tokens(ctx context.Context, login string) ([]TokenInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []TokenInfo
	err := a.view(func(tx kv.Tx) error {
		return a.eachToken(tx, func(_ []byte, r *tokenRecord) error {
			if r.Login == login {
				out = append(out, r.info())
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("archive: tokens: %w", err)
	}
	slices.SortFunc(out, func(x, y TokenInfo) int { return cmp.Or(x.Created.Compare(y.Created), cmp.Compare(x.ID, y.ID)) })
	return out, nil
}

// RevokeToken deletes a user's token by its ID; ErrNotFound when the user
// has no such token.
func (a *Archive) RevokeToken(ctx context.Context, login, id string) error {
	err := a.update(ctx, func(tx kv.Tx) error {
		var key []byte
		if err := a.eachToken(tx, func(k []byte, r *tokenRecord) error {
			if r.Login == login && r.ID == id {
				key = bytes.Clone(k)
			}
			return nil
		}); err != nil {
			return err
		}
		if key == nil {
			return ErrNotFound
		}
		return tx.Bucket(bucketTokens).Delete(key)
	})
	if err != nil {
		return fmt.Errorf("archive: revoke token: %w", err)
	}
	return nil
}

// deleteUserSecrets removes a user's tokens and sessions inside tx (when
// the user is deleted).
func (a *Archive) deleteUserSecrets(tx kv.Tx, login string) error {
	var keys [][]byte
	if err := a.eachToken(tx, func(k []byte, r *tokenRecord) error {
		if r.Login == login {
			keys = append(keys, bytes.Clone(k))
		}
		return nil
	}); err != nil {
		return err
	}
	for _, k := range keys {
		if err := tx.Bucket(bucketTokens).Delete(k); err != nil {
			return err
		}
	}
	_, err := a.deleteSessionsTx(tx, func(s *sessionRecord) bool { return s.Login == login })
	return err
}

// plainText reports valid UTF-8 without control characters.
func plainText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
