package archive

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/callvault/callvault/archive/kv"
)

// WebDAV passwords. An admin may give a user a password that only WebDAV
// accepts (for WinSCP, rclone and scripts), so the account password never
// sits in a client's configuration. When a user has one, WebDAV accepts it
// and not the account password; without one, WebDAV accepts the account
// password. The record lives in bucketWebDAV under the same keyed hash as
// the user, boxed under the state key, and is bound to the account's
// creation time: deleting the user and creating the login again leaves the
// old WebDAV password without effect.

const aadWebDAV = "callvault webdav\x00"

// webdavRecord is the stored (encrypted) WebDAV password of a user.
type webdavRecord struct {
	V           int           `json:"v"`
	Login       string        `json:"login"`
	UserCreated int64         `json:"userCreated"`
	Set         int64         `json:"set"`
	PW          *passwordHash `json:"pw"`
}

func (a *Archive) openWebDAV(k, box []byte) (*webdavRecord, error) {
	plain, err := boxOpen(a.keys.state, boxAAD(aadWebDAV, k), box)
	if err != nil {
		return nil, fmt.Errorf("archive: webdav password record: %w", ErrCorrupt)
	}
	var r webdavRecord
	if err := json.Unmarshal(plain, &r); err != nil || r.V != curFormat || r.PW == nil || !r.PW.valid() {
		return nil, fmt.Errorf("archive: webdav password record: %w", ErrCorrupt)
	}
	return &r, nil
}

// webdavTx returns the user and, when one is set for this incarnation of
// the account, its WebDAV password record (nil otherwise).
func (a *Archive) webdavTx(tx kv.Tx, login string) (*userRecord, *webdavRecord, error) {
	u, err := a.userTx(tx, login)
	if err != nil || u == nil {
		return nil, nil, err
	}
	k := a.userKey(login)
	box := tx.Bucket(bucketWebDAV).Get(k)
	if box == nil {
		return u, nil, nil
	}
	w, err := a.openWebDAV(k, box)
	if err != nil {
		return nil, nil, err
	}
	if w.UserCreated != u.Created || w.Login != u.Login {
		return u, nil, nil // left over from a deleted account of the same login
	}
	return u, w, nil
}

// SetWebDAVPassword sets the password login uses over WebDAV (argon2id,
// like account passwords); "" removes it, so WebDAV takes the account
// password again. The user must exist. Cached authentications are dropped.
func (a *Archive) SetWebDAVPassword(ctx context.Context, login, password string) error {
	if err := validLogin(login); err != nil {
		return err
	}
	pw, err := a.hashNewPassword(ctx, password)
	if err != nil {
		return err
	}
	k := a.userKey(login)
	now := nsOf(a.now())
	a.auth.invalidate()
	err = a.update(ctx, func(tx kv.Tx) error {
		u, err := a.existingUserTx(tx, login)
		if err != nil {
			return err
		}
		b := tx.Bucket(bucketWebDAV)
		if pw == nil {
			return b.Delete(k)
		}
		plain, err := json.Marshal(&webdavRecord{V: curFormat, Login: u.Login, UserCreated: u.Created, Set: now, PW: pw})
		if err != nil {
			return err
		}
		return b.Put(k, boxSeal(a.keys.state, boxAAD(aadWebDAV, k), plain))
	})
	a.auth.invalidate()
	if err != nil {
		return fmt.Errorf("archive: set webdav password: %w", err)
	}
	return nil
}

// WebDAVPasswordSet returns when login's WebDAV password was set, or the
// zero time when it has none (or the user does not exist).
func (a *Archive) WebDAVPasswordSet(ctx context.Context, login string) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	if validLogin(login) != nil {
		return time.Time{}, nil
	}
	var w *webdavRecord
	err := a.view(func(tx kv.Tx) error {
		var err error
		_, w, err = a.webdavTx(tx, login)
		return err
	})
	if err != nil || w == nil {
		return time.Time{}, err
	}
	return timeOf(w.Set), nil
}

// webdavCacheKey is HMAC(process key, 0xffffffff ‖ "webdav" ‖ u32 len(login)
// ‖ login ‖ password). Account-password keys start with u32 len(login) ≤
// maxLoginLen, so the two never share an input.
func (au *authenticator) webdavCacheKey(login, password string) [32]byte {
	return au.domainCacheKey(webdavCacheDomain, login, password)
}

// webdavCacheDomain starts the cache keys of WebDAV passwords: a length
// no login has, then "webdav".
var webdavCacheDomain = []byte("\xff\xff\xff\xffwebdav")

// AuthenticateWebDAV checks credentials given to WebDAV from the address
// from: the user's WebDAV password when one is set, else the account
// password (Authenticate). Any failure is ErrBadCredentials after the same
// argon2 work, and the guessing limit applies as for Authenticate.
// Successes are cached like Authenticate's, under a key of their own, and
// dropped when any user or WebDAV password changes.
func (a *Archive) AuthenticateWebDAV(ctx context.Context, from netip.Addr, login, password string) (*User, error) {
	au := a.auth
	if validLogin(login) != nil || len(password) > maxPasswordLen {
		return nil, au.malformed(a.now(), from, login)
	}
	return au.check(ctx, from, login, au.webdavCacheKey(login, password), func(ctx context.Context) (*User, error) {
		var u *userRecord
		var w *webdavRecord
		err := a.view(func(tx kv.Tx) error {
			var err error
			u, w, err = a.webdavTx(tx, login)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("archive: authenticate webdav: %w", err)
		}
		if w == nil {
			return a.checkPassword(ctx, login, password)
		}
		got, err := au.argon2id(ctx, password, w.PW)
		if err != nil {
			return nil, err
		}
		if subtle.ConstantTimeCompare(got, w.PW.Hash) != 1 || u.Disabled {
			return nil, ErrBadCredentials
		}
		return u.user(), nil
	})
}
