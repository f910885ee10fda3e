package archive

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/callvault/callvault/archive/kv"
)

// Role is a user's role.
type Role string

// Roles.
const (
	RoleAdmin      Role = "admin"
	RoleSupervisor Role = "supervisor"
	RoleUser       Role = "user"
	RoleIngest     Role = "ingest" // devices uploading recordings
	// RoleIntegration is a PBX or contact centre: its API tokens reach
	// the integration routes (call detail records) and nothing else.
	RoleIntegration Role = "integration"
)

// Valid reports whether r is one of the defined roles.
func (r Role) Valid() bool {
	switch r {
	case RoleAdmin, RoleSupervisor, RoleUser, RoleIngest, RoleIntegration:
		return true
	}
	return false
}

// User is an account. Name, Email and Extensions are personal data and are
// stored encrypted, like the login itself (the index holds a keyed hash).
type User struct {
	Login      string // case-sensitive, no control characters, no ':'
	Name       string
	Email      string
	Role       Role
	Extensions []string
	Disabled   bool
	// AccessList holds extra logins, extensions or numbers whose
	// recordings this user may read (see MayRead).
	AccessList []string
	// Supervisor is the login of the user's supervisor (for four-eyes
	// approvals); "" for none.
	Supervisor string
	// Seat marks a user who holds a recording seat (a licensed recorded
	// line).
	Seat bool
	// MaySendLinks allows sending external links to recordings.
	MaySendLinks bool
	// MaySeeExternal allows the page of external accesses.
	MaySeeExternal bool
	// MayProtect allows putting a legal hold on recordings the user may
	// read, and lifting it (admins always may).
	MayProtect bool
	// DeletionMode says what deleting a recording does for this user:
	// move it to the recycle bin, purge it, or nothing (refused). ""
	// means DeleteRecoverable.
	DeletionMode DeletionMode
	// MaskDTMF masks DTMF tones in the recordings this user owns (whose
	// upload names this login), also when the appliance setting is off:
	// for payment desks.
	MaskDTMF bool
	// Language is the language the user chose for the web pages ("en",
	// "de"; "" follows the browser). Set by SetUserLanguage; PutUser
	// keeps it.
	Language string
	// Set by the archive; ignored by PutUser.
	HasPassword      bool
	Created, Updated time.Time
}

// DeletionMode is what a user's delete does.
type DeletionMode string

// Deletion modes.
const (
	// DeleteRecoverable moves the recording to the recycle bin, from
	// which its owner or an admin restores it and admins purge it.
	DeleteRecoverable DeletionMode = "recoverable"
	// DeletePermanent purges at once (crypto-shredding).
	DeletePermanent DeletionMode = "permanent"
	// DeleteDenied refuses every delete.
	DeleteDenied DeletionMode = "denied"
)

// Valid reports whether m is a defined mode or "" (recoverable).
func (m DeletionMode) Valid() bool {
	switch m {
	case "", DeleteRecoverable, DeletePermanent, DeleteDenied:
		return true
	}
	return false
}

// Effective returns m with "" read as DeleteRecoverable.
func (m DeletionMode) Effective() DeletionMode {
	if m == "" {
		return DeleteRecoverable
	}
	return m
}

// Limits on user fields.
const (
	maxLoginLen    = 128
	maxUserField   = 512
	maxExtensions  = 1024
	maxPasswordLen = 1024
	saltLen        = 16
	pwHashLen      = 32
)

// passwordHash is an argon2id hash with its parameters.
type passwordHash struct {
	Alg  string `json:"alg"` // "argon2id"
	V    int    `json:"v"`   // argon2 version, 0x13
	T    uint32 `json:"t"`
	M    uint32 `json:"m"` // KiB
	P    uint8  `json:"p"`
	Salt []byte `json:"salt"`
	Hash []byte `json:"hash"`
}

func (h *passwordHash) params() KDFParams { return KDFParams{Time: h.T, MemoryKiB: h.M, Threads: h.P} }

func (h *passwordHash) valid() bool {
	return h.Alg == "argon2id" && h.V == 0x13 && h.params().validate() == nil &&
		len(h.Salt) >= 8 && len(h.Salt) <= 64 && len(h.Hash) >= 16 && len(h.Hash) <= 64
}

// userRecord is the stored (encrypted) form of a user.
type userRecord struct {
	V          int           `json:"v"`
	Login      string        `json:"login"`
	Name       string        `json:"name,omitempty"`
	Email      string        `json:"email,omitempty"`
	Role       Role          `json:"role"`
	Extensions []string      `json:"extensions,omitempty"`
	Disabled   bool          `json:"disabled,omitempty"`
	AccessList []string      `json:"accessList,omitempty"`
	Supervisor string        `json:"supervisor,omitempty"`
	Seat       bool          `json:"seat,omitempty"`
	MayLinks   bool          `json:"mayLinks,omitempty"`
	MayExt     bool          `json:"mayExternal,omitempty"`
	MayProtect bool          `json:"mayProtect,omitempty"`
	DelMode    DeletionMode  `json:"deletionMode,omitempty"`
	MaskDTMF   bool          `json:"maskDtmf,omitempty"`
	Lang       string        `json:"lang,omitempty"`
	Created    int64         `json:"created"`
	Updated    int64         `json:"updated"`
	PW         *passwordHash `json:"pw,omitempty"`
}

func (r *userRecord) user() *User {
	return &User{
		Login: r.Login, Name: r.Name, Email: r.Email, Role: r.Role,
		Extensions: slices.Clone(r.Extensions), Disabled: r.Disabled,
		AccessList: slices.Clone(r.AccessList), Supervisor: r.Supervisor, Seat: r.Seat,
		MaySendLinks: r.MayLinks, MaySeeExternal: r.MayExt,
		MayProtect: r.MayProtect, DeletionMode: r.DelMode.Effective(), MaskDTMF: r.MaskDTMF, Language: r.Lang,
		HasPassword: r.PW != nil, Created: timeOf(r.Created), Updated: timeOf(r.Updated),
	}
}

func validLogin(login string) error {
	if login == "" || len(login) > maxLoginLen || !utf8.ValidString(login) ||
		strings.ContainsRune(login, ':') || strings.IndexFunc(login, unicode.IsControl) >= 0 {
		return fmt.Errorf("archive: login: empty, too long, or contains ':' or control characters: %w", ErrInvalid)
	}
	return nil
}

func validUser(u *User) error {
	if err := validLogin(u.Login); err != nil {
		return err
	}
	if !u.Role.Valid() {
		return fmt.Errorf("archive: user role %q: %w", u.Role, ErrInvalid)
	}
	if !u.DeletionMode.Valid() {
		return fmt.Errorf("archive: user deletion mode %q not recoverable, permanent or denied: %w", u.DeletionMode, ErrInvalid)
	}
	if len(u.Extensions) > maxExtensions || len(u.AccessList) > maxExtensions {
		return fmt.Errorf("archive: user: too many extensions or access-list entries: %w", ErrInvalid)
	}
	if u.Supervisor != "" {
		if err := validLogin(u.Supervisor); err != nil {
			return fmt.Errorf("archive: user: supervisor: %w", err)
		}
		// Logins compare without case (4-eyes access too): a supervisor
		// that differs from the login only in case is the user.
		if strings.EqualFold(strings.TrimSpace(u.Supervisor), u.Login) {
			return fmt.Errorf("archive: user: %q cannot be their own supervisor: %w", u.Login, ErrInvalid)
		}
	}
	fields := append([]string{u.Name, u.Email}, u.Extensions...)
	for _, s := range append(fields, u.AccessList...) {
		if len(s) > maxUserField || !utf8.ValidString(s) {
			return fmt.Errorf("archive: user: field too long or not UTF-8: %w", ErrInvalid)
		}
	}
	return nil
}

func (a *Archive) userKey(login string) []byte {
	h := keyedHash(a.keys.index, "user", login)
	return h[:]
}

// userTx loads and decrypts a user inside tx; nil, nil when absent.
func (a *Archive) userTx(tx kv.Tx, login string) (*userRecord, error) {
	k := a.userKey(login)
	box := tx.Bucket(bucketUsers).Get(k)
	if box == nil {
		return nil, nil
	}
	return a.openUser(k, box)
}

// existingUserTx is userTx for a user that must exist: ErrNotFound when
// there is none.
func (a *Archive) existingUserTx(tx kv.Tx, login string) (*userRecord, error) {
	u, err := a.userTx(tx, login)
	if err == nil && u == nil {
		err = ErrNotFound
	}
	return u, err
}

func (a *Archive) openUser(k, box []byte) (*userRecord, error) {
	plain, err := boxOpen(a.keys.state, boxAAD(aadUser, k), box)
	if err != nil {
		return nil, fmt.Errorf("archive: user record: %w", ErrCorrupt)
	}
	var r userRecord
	if err := json.Unmarshal(plain, &r); err != nil || r.V != curFormat || (r.PW != nil && !r.PW.valid()) {
		return nil, fmt.Errorf("archive: user record: %w", ErrCorrupt)
	}
	return &r, nil
}

// hashNewPassword hashes a password being set: nil for "" (no change or
// none), ErrInvalid when it is longer than maxPasswordLen.
func (a *Archive) hashNewPassword(ctx context.Context, password string) (*passwordHash, error) {
	if len(password) > maxPasswordLen {
		return nil, fmt.Errorf("archive: password longer than %d bytes: %w", maxPasswordLen, ErrInvalid)
	}
	if password == "" {
		return nil, nil
	}
	return a.auth.hashPassword(ctx, password)
}

// PutUser creates or updates a user. A non-empty password replaces the
// password (hashed with argon2id); "" keeps the existing one (a new user
// without a password cannot log in). Cached authentications are dropped.
func (a *Archive) PutUser(ctx context.Context, u User, password string) error {
	if err := validUser(&u); err != nil {
		return err
	}
	pw, err := a.hashNewPassword(ctx, password)
	if err != nil {
		return err
	}
	now := nsOf(a.now())
	k := a.userKey(u.Login)
	a.auth.invalidate()
	err = a.update(ctx, func(tx kv.Tx) error {
		old, err := a.userTx(tx, u.Login)
		if err != nil {
			return err
		}
		if old == nil {
			// Owners and access lists match logins ignoring case
			// (MayRead): a second login that differs only in case
			// would read the first one's recordings.
			same, err := a.usersFoldTx(tx, u.Login)
			if err != nil {
				return err
			}
			if len(same) > 0 {
				return fmt.Errorf("a user whose login differs only in letter case exists: %w", ErrExists)
			}
		}
		r := &userRecord{
			V: curFormat, Login: u.Login, Name: u.Name, Email: u.Email, Role: u.Role,
			Extensions: slices.Clone(u.Extensions), Disabled: u.Disabled, Created: now, Updated: now, PW: pw,
			AccessList: slices.Clone(u.AccessList), Supervisor: u.Supervisor, Seat: u.Seat,
			MayLinks: u.MaySendLinks, MayExt: u.MaySeeExternal,
			MayProtect: u.MayProtect, DelMode: u.DeletionMode.Effective(), MaskDTMF: u.MaskDTMF,
		}
		if old != nil {
			r.Created, r.Lang = old.Created, old.Lang
			if pw == nil {
				r.PW = old.PW
			}
		}
		if err := a.seatChangeTx(tx, old, r, now); err != nil {
			return err
		}
		return a.putUserTx(tx, k, r)
	})
	a.auth.invalidate()
	if err != nil {
		return fmt.Errorf("archive: put user: %w", err)
	}
	return nil
}

// putUserTx seals r and stores it under its users key k.
func (a *Archive) putUserTx(tx kv.Tx, k []byte, r *userRecord) error {
	plain, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketUsers).Put(k, boxSeal(a.keys.state, boxAAD(aadUser, k), plain))
}

// maxLanguageLen bounds a user's language tag.
const maxLanguageLen = 16

// SetUserLanguage stores the language login chose for the web pages; ""
// returns to the browser's. The archive keeps the tag without judging it
// (the pages know their languages); ErrInvalid for one longer than 16
// bytes or not of letters and '-'; ErrNotFound for no such user.
func (a *Archive) SetUserLanguage(ctx context.Context, login, lang string) error {
	if len(lang) > maxLanguageLen || strings.IndexFunc(lang, func(r rune) bool { return r != '-' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') }) >= 0 {
		return fmt.Errorf("archive: language: %w", ErrInvalid)
	}
	k := a.userKey(login)
	a.auth.invalidate()
	err := a.update(ctx, func(tx kv.Tx) error {
		r, err := a.existingUserTx(tx, login)
		if err != nil {
			return err
		}
		r.Lang = lang
		return a.putUserTx(tx, k, r)
	})
	a.auth.invalidate()
	if err != nil {
		return fmt.Errorf("archive: set language: %w", err)
	}
	return nil
}

// DeleteUser removes a user with their API tokens and sessions. Cached
// authentications are dropped.
func (a *Archive) DeleteUser(ctx context.Context, login string) error {
	k := a.userKey(login)
	a.auth.invalidate()
	err := a.update(ctx, func(tx kv.Tx) error {
		b := tx.Bucket(bucketUsers)
		if b.Get(k) == nil {
			return ErrNotFound
		}
		if err := a.deleteUserSecrets(tx, login); err != nil {
			return err
		}
		if err := a.seatLostTx(tx, login, nsOf(a.now()), false); err != nil {
			return err
		}
		return b.Delete(k)
	})
	a.auth.invalidate()
	if err != nil {
		return fmt.Errorf("archive: delete user: %w", err)
	}
	return nil
}

// userView reads login's record in a read transaction of its own; nil
// when there is no such user.
func (a *Archive) userView(login string) (*userRecord, error) {
	var r *userRecord
	err := a.view(func(tx kv.Tx) error {
		var err error
		r, err = a.userTx(tx, login)
		return err
	})
	return r, err
}

// GetUser returns a user, or ErrNotFound.
func (a *Archive) GetUser(ctx context.Context, login string) (*User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, err := a.userView(login)
	if err != nil {
		return nil, fmt.Errorf("archive: get user: %w", err)
	}
	if r == nil {
		return nil, fmt.Errorf("archive: get user: %w", ErrNotFound)
	}
	return r.user(), nil
}

// Users returns all users ordered by login.
func (a *Archive) Users(ctx context.Context) ([]User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []User
	err := a.view(func(tx kv.Tx) error {
		return a.eachUserTx(tx, func(r *userRecord) error {
			out = append(out, *r.user())
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("archive: users: %w", err)
	}
	slices.SortFunc(out, func(x, y User) int { return cmp.Compare(x.Login, y.Login) })
	return out, nil
}

// UsersFold returns the users whose login equals login ignoring case
// (strings.EqualFold), as owners and access lists are matched (MayRead):
// at most one, unless an older build stored logins that differ only in
// case. The users are read once and kept until a user changes here or on
// another daemon, as cached logins are: the recorder asks at each upload.
func (a *Archive) UsersFold(ctx context.Context, login string) ([]User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	au := a.auth
	au.mu.Lock()
	folds, gen := au.folds, au.gen
	au.mu.Unlock()
	if folds == nil {
		folds = map[string][]User{}
		err := a.view(func(tx kv.Tx) error {
			return a.eachUserTx(tx, func(r *userRecord) error {
				k := foldKey(r.Login)
				folds[k] = append(folds[k], *r.user())
				return nil
			})
		})
		if err != nil {
			return nil, fmt.Errorf("archive: users: %w", err)
		}
		au.mu.Lock()
		if au.gen == gen { // no change since the read began
			au.folds = folds
		}
		au.mu.Unlock()
	}
	var out []User
	for _, u := range folds[foldKey(login)] {
		u.Extensions, u.AccessList = slices.Clone(u.Extensions), slices.Clone(u.AccessList)
		out = append(out, u)
	}
	return out, nil
}

// foldKey is the same for two strings exactly when strings.EqualFold
// says they are equal: each rune replaced by the smallest of its case
// folding orbit (unicode.SimpleFold).
func foldKey(s string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, s)
}

// usersFoldTx reads the users whose login equals login ignoring case.
func (a *Archive) usersFoldTx(tx kv.Tx, login string) ([]*userRecord, error) {
	var out []*userRecord
	err := a.eachUserTx(tx, func(r *userRecord) error {
		if strings.EqualFold(r.Login, login) {
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// eachUserTx calls fn with every user, decrypted.
func (a *Archive) eachUserTx(tx kv.Tx, fn func(*userRecord) error) error {
	return tx.Bucket(bucketUsers).ForEach(func(k, v []byte) error {
		r, err := a.openUser(bytes.Clone(k), v)
		if err != nil {
			return err
		}
		return fn(r)
	})
}

// holdsSeat reports whether the user record holds a recording seat as the
// lifecycle counts it (ingest and integration logins never do).
func (r *userRecord) holdsSeat() bool {
	return r != nil && r.Seat && r.Role != RoleIngest && r.Role != RoleIntegration
}

// seatKey is a login's key in bucketSeatLost (case-folded like the
// owner names Expire matches to users).
func (a *Archive) seatKey(login string) []byte {
	h := keyedHash(a.keys.index, "seat", strings.ToLower(login))
	return h[:]
}

// seatChangeTx records, when a user is stored as cur over old (nil: new),
// the moment the login lost its recording seat, and clears it when the
// seat is given (back).
func (a *Archive) seatChangeTx(tx kv.Tx, old, cur *userRecord, now int64) error {
	switch {
	case cur.holdsSeat():
		return tx.Bucket(bucketSeatLost).Delete(a.seatKey(cur.Login))
	case old.holdsSeat():
		return a.seatLostTx(tx, cur.Login, now, true)
	}
	return nil
}

// seatLostTx records that login lost its seat at now; an earlier record
// is kept unless replace.
func (a *Archive) seatLostTx(tx kv.Tx, login string, now int64, replace bool) error {
	b, k := tx.Bucket(bucketSeatLost), a.seatKey(login)
	if !replace && b.Get(k) != nil {
		return nil
	}
	return b.Put(k, binary.BigEndian.AppendUint64(nil, uint64(now)))
}

// SeatLost returns when login (case-folded) lost its recording seat by
// the archive's clock — deleted, or its seat or role taken away — and
// false when no loss is recorded (it holds a seat, or never held one).
func (a *Archive) SeatLost(ctx context.Context, login string) (time.Time, bool, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, false, err
	}
	var v []byte
	err := a.view(func(tx kv.Tx) error {
		v = bytes.Clone(tx.Bucket(bucketSeatLost).Get(a.seatKey(login)))
		return nil
	})
	if err != nil || len(v) != 8 {
		return time.Time{}, false, err
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC(), true, nil
}
