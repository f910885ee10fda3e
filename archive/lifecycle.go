package archive

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/callvault/callvault/archive/kv"
)

// A recording's lifecycle: the legal hold (SetProtected), the recycle bin
// (Bin, Restore, RecycleBin; Delete purges), and the rules Expire applies
// every day: retention, seat grace and the recycle bin's own expiry. No
// path removes a protected recording. Every removal is a Delete: the data
// key is destroyed in the same transaction and the chain gets a tombstone
// saying who (a login, or "system") and why.
//
// The rules count on the archive's own clock only, never on times inside
// a capture (a phone's clock may be wrong, an import old): retention from
// when the recording was received (its retention base, which only an
// import asked to keep the call's time changes), the seat grace from when
// the owner lost the seat (SeatLost) or, later, from the retention base.

// SeatGraceDays is how long recordings of users without a recording seat,
// and of names no user matches, are kept (less when retention is
// shorter).
const SeatGraceDays = 30

// SystemActor is the "who" of removals made by Expire.
const SystemActor = "system"

// putMetaTx re-encrypts and stores m.
func (a *Archive) putMetaTx(tx kv.Tx, id ID, dk []byte, m *metaRecord) error {
	aead, err := metaAEAD(dk)
	if err != nil {
		return err
	}
	box, err := sealMeta(aead, id, m)
	if err != nil {
		return err
	}
	a.listTouchTx(tx, id)
	return tx.Bucket(bucketRecs).Put(id[:], box)
}

// indexTx adds (add) or removes the entries through which List, ListFor,
// ByCall and Expire find a recording: its time key, retention key, call
// key and who keys.
func (a *Archive) indexTx(tx kv.Tx, id ID, m *metaRecord, add bool) error {
	a.listTouchTx(tx, id)
	tk, rk := timeKey(m.indexNS(), id), timeKey(m.retentionNS(), id)
	keys := [][2][]byte{{bucketByTime, tk[:]}, {bucketByRetention, rk[:]}}
	if m.CallGUID != "" {
		keys = append(keys, [2][]byte{bucketByCall, a.callKey(m.CallGUID, id)})
	}
	for _, k := range keys {
		var err error
		if add {
			err = tx.Bucket(k[0]).Put(k[1], []byte{})
		} else {
			err = tx.Bucket(k[0]).Delete(k[1])
		}
		if err != nil {
			return err
		}
	}
	if add {
		return putWho(tx, a.whoKeys(m, id, a.cdrsTx(tx, m)))
	}
	// A pending recording has no who keys yet (whopending.go).
	if err := tx.Bucket(bucketWhoPending).Delete(tk[:]); err != nil {
		return err
	}
	return deleteWho(tx, a.whoKeys(m, id, a.cdrsTx(tx, m)))
}

// changeMeta loads a finished recording in a write transaction, lets fn
// change its metadata and indexes, and stores the result. fn returning
// errUnchanged stores nothing.
func (a *Archive) changeMeta(ctx context.Context, op string, id ID, fn func(tx kv.Tx, m *metaRecord) error) error {
	err := a.update(ctx, func(tx kv.Tx) error {
		m, dk, err := a.loadTx(tx, id)
		if err != nil {
			return err
		}
		defer clear(dk)
		if m.State == StateRecording {
			return fmt.Errorf("archive: recording %s is still being written: %w", id, ErrState)
		}
		if err := fn(tx, m); err != nil {
			if errors.Is(err, errUnchanged) {
				return nil
			}
			return err
		}
		return a.putMetaTx(tx, id, dk, m)
	})
	if err != nil {
		return fmt.Errorf("archive: %s %s: %w", op, id, err)
	}
	return nil
}

var errUnchanged = errors.New("archive: unchanged")

// SetProtected puts a finished recording on legal hold (on) or lifts the
// hold. A recording in the recycle bin is ErrState: restore it first.
func (a *Archive) SetProtected(ctx context.Context, id ID, on bool) error {
	op := "unprotect"
	if on {
		op = "protect"
	}
	return a.changeMeta(ctx, op, id, func(tx kv.Tx, m *metaRecord) error {
		switch {
		case m.Binned != 0:
			return fmt.Errorf("in the recycle bin: %w", ErrState)
		case m.Protected == on:
			return errUnchanged
		}
		m.Protected = on
		if on {
			return tx.Bucket(bucketProtected).Put(id[:], []byte{})
		}
		return tx.Bucket(bucketProtected).Delete(id[:])
	})
}

// Bin moves a finished recording to the recycle bin on behalf of who: it
// leaves List, ListFor and ByCall, nobody may read it (MayRead), and
// Expire purges it RecycleBinDays later unless it is restored. A protected
// recording is ErrProtected; one already in the bin is ErrState.
func (a *Archive) Bin(ctx context.Context, id ID, who string) error {
	if len(who) > maxWhoWhyLen {
		return fmt.Errorf("archive: bin %s: who too long: %w", id, ErrInvalid)
	}
	now := nsOf(a.now())
	return a.changeMeta(ctx, "bin", id, func(tx kv.Tx, m *metaRecord) error {
		switch {
		case m.Protected || tx.Bucket(bucketProtected).Get(id[:]) != nil:
			return ErrProtected
		case m.Binned != 0:
			return fmt.Errorf("already in the recycle bin: %w", ErrState)
		}
		if err := a.indexTx(tx, id, m, false); err != nil {
			return err
		}
		m.Binned, m.BinnedBy = now, who
		bk := timeKey(now, id)
		return tx.Bucket(bucketBin).Put(bk[:], []byte{})
	})
}

// Restore takes a recording out of the recycle bin, back where it was. A
// recording not in the bin is ErrState.
func (a *Archive) Restore(ctx context.Context, id ID) error {
	return a.changeMeta(ctx, "restore", id, func(tx kv.Tx, m *metaRecord) error {
		if m.Binned == 0 {
			return fmt.Errorf("not in the recycle bin: %w", ErrState)
		}
		bk := timeKey(m.Binned, id)
		if err := tx.Bucket(bucketBin).Delete(bk[:]); err != nil {
			return err
		}
		m.Binned, m.BinnedBy = 0, ""
		return a.indexTx(tx, id, m, true)
	})
}

// RecycleBin returns the recordings in the recycle bin, most recently
// binned first, in pages like List. From and To bound the time they were
// binned; Match filters (for example by MayRestore).
func (a *Archive) RecycleBin(ctx context.Context, q Query) ([]*Recording, string, error) {
	limit, upper, lower, err := listBounds(q)
	if err != nil {
		return nil, "", err
	}
	return a.page(ctx, limit, upper, descWalk(bucketBin, lower), q.Match)
}

// descWalk walks the time keys of bucket (time ‖ id) newest first, below
// upper (nil: from the newest) and down to lower (nil: to the oldest).
func descWalk(bucket, lower []byte) func(tx kv.Tx, upper []byte) func() ([timeKeyLen]byte, bool) {
	return func(tx kv.Tx, upper []byte) func() ([timeKeyLen]byte, bool) {
		c := tx.Bucket(bucket).Cursor()
		started := false
		return func() ([timeKeyLen]byte, bool) {
			for {
				var k []byte
				switch {
				case started:
					k, _ = c.Prev()
				case upper == nil:
					k, _ = c.Last()
				default:
					if k, _ = c.Seek(upper); k == nil {
						k, _ = c.Last()
					} else {
						k, _ = c.Prev()
					}
				}
				started = true
				if k == nil || lower != nil && bytes.Compare(k, lower) < 0 {
					return [timeKeyLen]byte{}, false
				}
				if len(k) == timeKeyLen {
					return [timeKeyLen]byte(k), true
				}
			}
		}
	}
}

// ascBatch visits, in key order, the keys of bucket after the key after
// (nil: from the first), calling fn with each key and value until fn
// returns false or max keys were visited. It returns a copy of the last
// key visited (nil when none) and how many fn accepted. Batch walks over
// many read transactions continue with after = last.
func ascBatch(tx kv.Tx, bucket, after []byte, max int, fn func(k, v []byte) bool) (last []byte, n int) {
	c := tx.Bucket(bucket).Cursor()
	var k, v []byte
	if after == nil {
		k, v = c.First()
	} else if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
		k, v = c.Next()
	}
	for ; k != nil && n < max; k, v = c.Next() {
		if !fn(k, v) {
			break
		}
		n++
		last = k
	}
	return bytes.Clone(last), n
}

// listedMetaTx returns the metadata of the recording with key k in
// bucketRecs when it is in the time index (not in the recycle bin); nil
// when it is not listed, an error when it is unreadable.
func (a *Archive) listedMetaTx(tx kv.Tx, k []byte) (*metaRecord, error) {
	if len(k) != len(ID{}) {
		return nil, nil
	}
	id := ID(k)
	m, dk, err := a.loadTx(tx, id)
	clear(dk)
	if err != nil {
		return nil, err
	}
	if tk := timeKey(m.indexNS(), id); tx.Bucket(bucketByTime).Get(tk[:]) == nil {
		return nil, nil
	}
	return m, nil
}

// MayRestore reports whether u may see rec in the recycle bin and restore
// it: an admin, or the recording's owner (its User is u's login).
func MayRestore(u *User, rec *Recording) bool {
	if u == nil || rec == nil || u.Disabled || rec.Binned.IsZero() {
		return false
	}
	return u.Role == RoleAdmin || (u.Role == RoleUser || u.Role == RoleSupervisor) && rec.User != "" && strings.EqualFold(rec.User, u.Login)
}

// MayDelete reports whether u may delete rec (by u's DeletionMode): an
// admin, or the owner, who may read it; never with mode denied, never a
// protected recording or one still being written.
func MayDelete(u *User, rec *Recording) bool {
	if !MayRead(u, rec) || u.DeletionMode.Effective() == DeleteDenied || rec.Protected || rec.State == StateRecording {
		return false
	}
	return u.Role == RoleAdmin || rec.User != "" && strings.EqualFold(rec.User, u.Login)
}

// DeleteRefusal says why a user may not delete a recording (or purge one
// from the recycle bin); DeleteAllowed when they may. The pages, the API
// and their audit records name the reasons apart.
type DeleteRefusal int

const (
	// DeleteAllowed: the user may.
	DeleteAllowed DeleteRefusal = iota
	// DeleteModeDenied: the user's DeletionMode is DeleteDenied.
	DeleteModeDenied
	// DeleteNotOwner: the user is neither an admin nor the owner.
	DeleteNotOwner
	// DeleteHeld: the recording is under legal hold (Protected).
	DeleteHeld
	// DeleteStillRecording: the recording is still being written.
	DeleteStillRecording
	// DeleteAdminsOnly: purging from the recycle bin is for admins.
	DeleteAdminsOnly
)

// CheckDelete says why u, who may read rec, may not delete it, or
// DeleteAllowed; DeleteAllowed exactly when MayDelete. The reasons are
// told apart in order: the right (not mode denied, owner or admin) first,
// then the legal hold and the state, so the hold is reported only to those
// who could delete without it.
func CheckDelete(u *User, rec *Recording) DeleteRefusal {
	if u.DeletionMode.Effective() == DeleteDenied {
		return DeleteModeDenied
	}
	free := *rec
	free.Protected, free.State = false, StateComplete
	switch {
	case !MayDelete(u, &free):
		return DeleteNotOwner
	case rec.Protected:
		return DeleteHeld
	case rec.State == StateRecording:
		return DeleteStillRecording
	case !MayDelete(u, rec):
		return DeleteNotOwner
	}
	return DeleteAllowed
}

// CheckPurge says why u may not purge recordings from the recycle bin, or
// DeleteAllowed: admins only, and not with deletion mode denied.
func CheckPurge(u *User) DeleteRefusal {
	switch {
	case u.Role != RoleAdmin:
		return DeleteAdminsOnly
	case u.DeletionMode.Effective() == DeleteDenied:
		return DeleteModeDenied
	}
	return DeleteAllowed
}

// DeletesPermanently reports whether u's delete purges a recording at once
// (DeletePermanent) instead of moving it to the recycle bin.
func DeletesPermanently(u *User) bool { return u.DeletionMode.Effective() == DeletePermanent }

// DeleteFor deletes recording id as u's deletion mode says: for good
// (Delete, with u's login and why in the tombstone) when
// DeletesPermanently(u), else to the recycle bin (Bin). It reports whether
// the deletion was permanent. The caller has checked CheckDelete.
func (a *Archive) DeleteFor(ctx context.Context, u *User, id ID, why string) (permanent bool, err error) {
	if DeletesPermanently(u) {
		return true, a.Delete(ctx, id, u.Login, why)
	}
	return false, a.Bin(ctx, id, u.Login)
}

// MayProtect reports whether u may put rec on legal hold or lift it: an
// admin, or a user with MayProtect who may read it.
func MayProtect(u *User, rec *Recording) bool {
	return MayRead(u, rec) && (u.Role == RoleAdmin || u.MayProtect) && rec.State != StateRecording
}

// Policy is the lifecycle configuration in force: what Expire applies, and
// what DeletionDate shows.
type Policy struct {
	RetentionDays  int // 0: off
	RecycleBinDays int
	Loc            *time.Location
	// Now is the archive's clock when the policy was read. Deletion dates
	// are never before its day: a recording already due goes at the next
	// run.
	Now time.Time
	// seat maps case-folded logins to whether the user holds a seat.
	seat map[string]bool
	// seatLost holds bucketSeatLost (seatKey → unix ns).
	seatLost map[[32]byte]int64
	seatKey  func(login string) []byte
}

// Policy returns the lifecycle policy from the settings and users.
func (a *Archive) Policy(ctx context.Context) (*Policy, error) {
	s, err := a.Settings(ctx)
	if err != nil {
		return nil, err
	}
	return a.policyFor(ctx, s)
}

// policyFor returns the lifecycle policy under settings s.
func (a *Archive) policyFor(ctx context.Context, s Settings) (*Policy, error) {
	users, err := a.Users(ctx)
	if err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	p := &Policy{RetentionDays: s.RetentionDays, RecycleBinDays: s.RecycleBinDays, Loc: loc, Now: a.now(),
		seat: map[string]bool{}, seatLost: map[[32]byte]int64{}, seatKey: a.seatKey}
	for _, u := range users {
		if u.Role != RoleIngest && u.Role != RoleIntegration {
			p.seat[strings.ToLower(u.Login)] = u.Seat
		}
	}
	err = a.view(func(tx kv.Tx) error {
		return tx.Bucket(bucketSeatLost).ForEach(func(k, v []byte) error {
			if len(k) == 32 && len(v) == 8 {
				p.seatLost[[32]byte(k)] = int64(binary.BigEndian.Uint64(v))
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("archive: policy: %w", err)
	}
	return p, nil
}

// graced reports whether the seat grace applies to recordings of owner:
// no user matches the name, or the user has no recording seat.
func (p *Policy) graced(owner string) bool {
	seat, ok := p.seat[strings.ToLower(owner)]
	return owner == "" || !ok || !seat
}

// graceStart is the instant (unix ns) the seat grace of a recording of
// owner with retention base base counts from — the later of base and the
// moment the owner lost the seat — and false when no grace applies.
func (p *Policy) graceStart(owner string, base int64) (int64, bool) {
	if !p.graced(owner) {
		return 0, false
	}
	if owner != "" && p.seatKey != nil {
		if lost, ok := p.seatLost[[32]byte(p.seatKey(owner))]; ok && lost > base {
			return lost, true
		}
	}
	return base, true
}

// graceDays is the seat grace in days: SeatGraceDays, less when
// retention is shorter.
func (p *Policy) graceDays() int {
	if p.RetentionDays > 0 && p.RetentionDays < SeatGraceDays {
		return p.RetentionDays
	}
	return SeatGraceDays
}

// day is local midnight of t's day.
func (p *Policy) day(t time.Time) time.Time {
	t = t.In(p.Loc)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, p.Loc)
}

// Today is local midnight of the day of Now (zero when Now is).
func (p *Policy) Today() time.Time {
	if p.Now.IsZero() {
		return time.Time{}
	}
	return p.day(p.Now)
}

// cutoffs returns, for a run at now, the instants before which retention
// bases fall to retention (zero when off) and grace starts to the seat
// grace.
func (p *Policy) cutoffs(now time.Time) (retention, grace time.Time) {
	today := p.day(now)
	if p.RetentionDays > 0 {
		retention = today.AddDate(0, 0, -p.RetentionDays)
	}
	return retention, today.AddDate(0, 0, -p.graceDays())
}

// DeletionRule names the lifecycle rule that removes a recording.
type DeletionRule string

// The rules of Expire.
const (
	RuleRetention  DeletionRule = "retention"
	RuleSeatGrace  DeletionRule = "seatGrace"
	RuleRecycleBin DeletionRule = "recycleBin"
)

// DeletionDate returns the local day from which Expire removes rec (its
// daily run on that day does), or the zero time when no rule will:
// protected recordings, retention off and the owner holding a seat. For a
// recording in the recycle bin it is when its bin time runs out. It is
// never before Today: a recording already due goes at the next run.
func (p *Policy) DeletionDate(rec *Recording) time.Time {
	t, _ := p.Deletion(rec)
	return t
}

// Deletion is DeletionDate with the rule that applies first ("" when
// none does).
func (p *Policy) Deletion(rec *Recording) (time.Time, DeletionRule) {
	if rec == nil || rec.Protected || rec.State == StateRecording {
		return time.Time{}, ""
	}
	var out time.Time
	var rule DeletionRule
	if !rec.Binned.IsZero() {
		out, rule = rec.Binned.In(p.Loc).AddDate(0, 0, p.RecycleBinDays), RuleRecycleBin
	} else {
		base := rec.RetentionBase
		if base.IsZero() {
			base = rec.Received
		}
		// A run on day D removes bases before D-N days: the first such
		// D is the day after day(base)+N.
		if p.RetentionDays > 0 {
			out, rule = p.day(base).AddDate(0, 0, p.RetentionDays+1), RuleRetention
		}
		if gs, ok := p.graceStart(rec.User, nsOf(base)); ok {
			g := p.day(time.Unix(0, gs)).AddDate(0, 0, p.graceDays()+1)
			if out.IsZero() || g.Before(out) {
				out, rule = g, RuleSeatGrace
			}
		}
	}
	if today := p.Today(); !out.IsZero() && !today.IsZero() && out.Before(today) {
		out = today
	}
	return out, rule
}

// Due reports whether deletion day d (from Deletion) is today or earlier:
// the next daily run removes the recording.
func (p *Policy) Due(d time.Time) bool {
	today := p.Today()
	return !d.IsZero() && !today.IsZero() && !d.After(today)
}

// ExpireResult says what one Expire run did.
type ExpireResult struct {
	Ran time.Time `json:"ran"`
	// RetentionCutoff: recordings received (retention base) before it
	// fell to retention (zero when retention is off); GraceCutoff
	// likewise for the start of the seat grace.
	RetentionCutoff time.Time `json:"retentionCutoff,omitzero"`
	GraceCutoff     time.Time `json:"graceCutoff"`
	// Purged by retention, by the seat grace, and from the recycle bin.
	Retention int `json:"retention"`
	Grace     int `json:"grace"`
	Bin       int `json:"bin"`
	// Protected counts recordings a rule would have removed but for the
	// legal hold.
	Protected int `json:"protected"`
	// Failed counts recordings whose removal failed (logged).
	Failed int `json:"failed"`
	// CDRs counts the calls whose CDRs were deleted because no recording
	// of theirs arrived before GraceCutoff (cdr_expire.go).
	CDRs int `json:"cdrs"`
	// Deleted lists the recordings purged, with the rule; each has a
	// "lifecycle.delete" audit entry. Not kept by LastExpire.
	Deleted []Expired `json:"-"`
	// Skipped: another daemon on the same archive was running the rules
	// (the store's lock, expireLock), so this run did nothing. Not kept
	// by LastExpire.
	Skipped bool `json:"-"`
}

// expireLock names the lock (kv.Locker) that lets one daemon at a time
// apply the lifecycle rules to an archive that several share.
const expireLock = "archive.expire"

// Expired is a recording removed by a lifecycle rule.
type Expired struct {
	ID   ID
	Rule DeletionRule
}

// Removed is the number of recordings the run purged.
func (r ExpireResult) Removed() int { return r.Retention + r.Grace + r.Bin }

const (
	expireScan  = 512 // index keys read per read transaction
	expireBatch = 64  // purges per write transaction
)

var metaLifecycle = []byte("lifecycle.last")

// AuditLifecycleDelete is the audit action of a recording removed by a
// lifecycle rule (actor SystemActor, target the recording's ID, detail
// the rule).
const AuditLifecycleDelete = "lifecycle.delete"

// expireCand is a recording a rule removes.
type expireCand struct {
	id   ID
	rule DeletionRule
}

// expireWalk applies the rules of p at now to the indexes, without
// changing anything: it calls fn with the recordings to remove, in
// batches, oldest retention base first and then the recycle bin oldest
// first, and counts in res.Protected those a legal hold keeps. fn runs
// outside any transaction and may purge what it is given. Expire and
// PreviewExpire both use it, so a preview counts exactly what a run
// removes.
func (a *Archive) expireWalk(ctx context.Context, p *Policy, now time.Time, res *ExpireResult, fn func([]expireCand)) error {
	retCut, graceCut := p.cutoffs(now)
	// Retention and grace: the retention index, oldest first, up to
	// graceCut (retCut is never later).
	limit := timeKey(graceCut.UnixNano(), ID{})
	err := a.expireBatches(ctx, bucketByRetention, fn, func(tx kv.Tx, k []byte, cands *[]expireCand) bool {
		if bytes.Compare(k, limit[:]) >= 0 {
			return false
		}
		if len(k) != timeKeyLen {
			return true
		}
		id := ID(k[8:])
		if tx.Bucket(bucketUnfinished).Get(id[:]) != nil {
			return true
		}
		protected := tx.Bucket(bucketProtected).Get(id[:]) != nil
		ns := int64(binary.BigEndian.Uint64(k[:8]) ^ (1 << 63))
		m, dk, err := a.loadTx(tx, id)
		clear(dk)
		switch {
		case err != nil:
			a.log.Error("archive expire: unreadable recording skipped", "id", id.String(), "err", err)
			return true
		case m.retentionNS() != ns || m.Binned != 0:
			// The index carries no signature: an entry that its
			// recording's metadata does not give deletes nothing
			// (VerifyChain reports it).
			a.log.Error("archive expire: retention index entry does not match its recording; skipped (run callvault verify)", "id", id.String())
			return true
		}
		protected = protected || m.Protected
		if !retCut.IsZero() && ns < retCut.UnixNano() {
			if protected {
				res.Protected++
			} else {
				*cands = append(*cands, expireCand{id, RuleRetention})
			}
			return true
		}
		if gs, ok := p.graceStart(m.User, m.retentionNS()); !ok || gs >= graceCut.UnixNano() {
			return true
		}
		if protected {
			res.Protected++
		} else {
			*cands = append(*cands, expireCand{id, RuleSeatGrace})
		}
		return true
	})
	if err != nil {
		return err
	}

	// The recycle bin, oldest first.
	binCut := timeKey(now.AddDate(0, 0, -p.RecycleBinDays).UnixNano(), ID{})
	return a.expireBatches(ctx, bucketBin, fn, func(_ kv.Tx, k []byte, cands *[]expireCand) bool {
		if bytes.Compare(k, binCut[:]) >= 0 {
			return false
		}
		if len(k) == timeKeyLen {
			*cands = append(*cands, expireCand{ID(k[8:]), RuleRecycleBin})
		}
		return true
	})
}

// expireBatches walks bucket oldest first in batches of expireScan keys:
// visit sees each key inside a read transaction, adds to cands what the
// rules remove and returns false to end the walk; fn gets each batch's
// candidates outside the transaction.
func (a *Archive) expireBatches(ctx context.Context, bucket []byte, fn func([]expireCand), visit func(tx kv.Tx, k []byte, cands *[]expireCand) bool) error {
	var after []byte
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var cands []expireCand
		var last []byte
		err := a.view(func(tx kv.Tx) error {
			last, _ = ascBatch(tx, bucket, after, expireScan, func(k, _ []byte) bool {
				return visit(tx, k, &cands)
			})
			return nil
		})
		if err != nil {
			return err
		}
		if len(cands) > 0 {
			fn(cands)
		}
		if last == nil {
			return nil
		}
		after = last
	}
}

// Expire applies the lifecycle rules at the archive's clock: it purges
// recordings whose retention base (when the appliance received them, see
// SetRetentionBase) is before local midnight RetentionDays ago;
// recordings whose owner has no recording seat or matches no user, when
// both their retention base and the moment the owner lost the seat
// (SeatLost) are before local midnight SeatGraceDays ago (fewer days when
// retention is shorter); and recycle-bin entries binned more than
// RecycleBinDays ago. Protected recordings and recordings still being
// written stay. It also deletes the CDRs of calls no recording answers
// to, the last of them received before the seat grace's cutoff
// (cdr_expire.go). Each purge gets a tombstone and a "lifecycle.delete"
// audit entry naming the recording and the rule, in the same transaction.
// It is safe to run at any time and as often as wanted; the daemon runs it
// at start and daily. The result is logged and kept for LastExpire.
//
// On a store that several daemons share (kv.Locker), one runs the rules
// at a time: a run that finds another under way returns at once with
// Skipped set.
func (a *Archive) Expire(ctx context.Context) (ExpireResult, error) {
	if l, ok := a.store.(kv.Locker); ok {
		unlock, held, err := l.TryLock(ctx, expireLock)
		if err != nil {
			return ExpireResult{}, fmt.Errorf("archive: expire: %w", err)
		}
		if !held {
			a.log.Info("archive lifecycle run skipped: another daemon is running it")
			return ExpireResult{Ran: a.now().UTC(), Skipped: true}, nil
		}
		defer unlock()
	}
	p, err := a.Policy(ctx)
	if err != nil {
		return ExpireResult{}, fmt.Errorf("archive: expire: %w", err)
	}
	now := p.Now
	res := ExpireResult{Ran: now.UTC()}
	retCut, graceCut := p.cutoffs(now)
	res.GraceCutoff = graceCut.UTC()
	if !retCut.IsZero() {
		res.RetentionCutoff = retCut.UTC()
	}
	whys := map[DeletionRule]string{
		RuleRetention:  fmt.Sprintf("retention: received more than %d days ago", p.RetentionDays),
		RuleSeatGrace:  fmt.Sprintf("seat grace: no recording seat for more than %d days", p.graceDays()),
		RuleRecycleBin: fmt.Sprintf("recycle bin: deleted more than %d days ago", p.RecycleBinDays),
	}
	err = a.expireWalk(ctx, p, now, &res, func(cands []expireCand) {
		for len(cands) > 0 {
			n := min(len(cands), expireBatch)
			a.purgeBatch(ctx, cands[:n], whys, &res)
			cands = cands[n:]
		}
	})
	if err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		return res, fmt.Errorf("archive: expire: %w", err)
	}
	cdrWhy := fmt.Sprintf("no recording of the call received within %d days", p.graceDays())
	res.CDRs, err = a.expireCDRs(ctx, graceCut, cdrWhy)
	if err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		a.log.Error("archive expire: deleting call detail records failed", "err", err)
	}
	if b, err := json.Marshal(res); err == nil {
		_ = a.update(ctx, func(tx kv.Tx) error { return tx.Bucket(bucketMeta).Put(metaLifecycle, b) })
	}
	a.log.Info("archive lifecycle run", "retention_days", p.RetentionDays, "retention_purged", res.Retention,
		"grace_purged", res.Grace, "bin_purged", res.Bin, "protected_kept", res.Protected, "failed", res.Failed,
		"cdr_calls_purged", res.CDRs)
	return res, nil
}

// purgeBatch purges cands in one transaction, each with a tombstone by
// SystemActor and an audit entry saying why (whys by rule), and adds the
// outcome to res.
func (a *Archive) purgeBatch(ctx context.Context, cands []expireCand, whys map[DeletionRule]string, res *ExpireResult) {
	notes, audits := make([][]byte, len(cands)), make([][]byte, len(cands))
	for i, c := range cands {
		notes[i], _ = json.Marshal(tombstoneNote{Who: SystemActor, Why: whys[c.rule]})
		audits[i], _ = auditPlain(AuditEvent{Actor: SystemActor, Action: AuditLifecycleDelete, Target: c.id.String(),
			OK: true, Detail: string(c.rule) + ": " + whys[c.rule]})
	}
	done := make([]bool, len(cands))
	protected := 0
	err := a.update(ctx, func(tx kv.Tx) error {
		protected = 0
		clear(done)
		for i, c := range cands {
			err := a.purgeTx(tx, c.id, notes[i])
			switch {
			case err == nil:
				done[i] = true
				if err := a.appendAuditTx(tx, time.Time{}, audits[i]); err != nil {
					return err
				}
			case errors.Is(err, ErrProtected):
				protected++
			case errors.Is(err, ErrNotFound):
			default:
				return err
			}
		}
		return nil
	})
	if err != nil {
		a.log.Error("archive expire: purge failed", "recordings", len(cands), "err", err)
		res.Failed += len(cands)
		return
	}
	res.Protected += protected
	for i, ok := range done {
		if !ok {
			continue
		}
		c := cands[i]
		switch c.rule {
		case RuleRetention:
			res.Retention++
		case RuleSeatGrace:
			res.Grace++
		default:
			res.Bin++
		}
		res.Deleted = append(res.Deleted, Expired{ID: c.id, Rule: c.rule})
		a.log.Info("archive recording deleted", "id", c.id.String(), "why", whys[c.rule])
	}
}

// ExpirePreview is what a lifecycle run would do now under other
// settings.
type ExpirePreview struct {
	// WouldDelete counts the recordings a run now would delete under the
	// new settings and not under the current ones: what saving them
	// deletes at the next run.
	WouldDelete int `json:"wouldDelete"`
	// Retention, Grace and Bin count everything a run now under the new
	// settings would delete, by rule; Protected what a legal hold keeps.
	Retention int `json:"retention"`
	Grace     int `json:"grace"`
	Bin       int `json:"bin"`
	Protected int `json:"protected"`
}

// PreviewExpire tells, without changing anything, what a lifecycle run
// at the archive's clock would delete under settings s, and how many of
// those the current settings would keep. It walks the indexes as Expire
// does (expireWalk).
func (a *Archive) PreviewExpire(ctx context.Context, s Settings) (ExpirePreview, error) {
	if err := s.Validate(); err != nil {
		return ExpirePreview{}, err
	}
	cur, err := a.Policy(ctx)
	if err != nil {
		return ExpirePreview{}, fmt.Errorf("archive: preview expire: %w", err)
	}
	next, err := a.policyFor(ctx, s)
	if err != nil {
		return ExpirePreview{}, fmt.Errorf("archive: preview expire: %w", err)
	}
	now := cur.Now
	before := map[ID]bool{}
	var r0, r1 ExpireResult
	if err := a.expireWalk(ctx, cur, now, &r0, func(c []expireCand) {
		for _, x := range c {
			before[x.id] = true
		}
	}); err != nil {
		return ExpirePreview{}, fmt.Errorf("archive: preview expire: %w", err)
	}
	var out ExpirePreview
	if err := a.expireWalk(ctx, next, now, &r1, func(c []expireCand) {
		for _, x := range c {
			switch x.rule {
			case RuleRetention:
				out.Retention++
			case RuleSeatGrace:
				out.Grace++
			default:
				out.Bin++
			}
			if !before[x.id] {
				out.WouldDelete++
			}
		}
	}); err != nil {
		return ExpirePreview{}, fmt.Errorf("archive: preview expire: %w", err)
	}
	out.Protected = r1.Protected
	return out, nil
}

// SetRetentionBase makes retention and the seat grace of a finished
// recording count from t instead of from when the appliance received it:
// for an import that keeps the call's own time. The zero time goes back
// to Received. A recording in the recycle bin is ErrState.
func (a *Archive) SetRetentionBase(ctx context.Context, id ID, t time.Time) error {
	return a.changeMeta(ctx, "set retention base", id, func(tx kv.Tx, m *metaRecord) error {
		if m.Binned != 0 {
			return fmt.Errorf("in the recycle bin: %w", ErrState)
		}
		old := timeKey(m.retentionNS(), id)
		m.RetentionBase = nsOf(t)
		cur := timeKey(m.retentionNS(), id)
		if old == cur {
			return errUnchanged
		}
		if err := tx.Bucket(bucketByRetention).Delete(old[:]); err != nil {
			return err
		}
		return tx.Bucket(bucketByRetention).Put(cur[:], []byte{})
	})
}

// migrateRetention brings an archive of an older schema to schema 4: it
// indexes every recording outside the recycle bin by its retention base
// (Received) in bucketByRetention and — since nobody recorded when
// earlier seats were lost — records the migration's moment as the seat
// loss of every owner the seat grace applies to, so the grace counts from
// the upgrade, never from a call's time. One transaction; it runs in Open
// before the committer starts.
func (a *Archive) migrateRetention() error {
	if a.storedSchema() >= schemaVersion {
		return nil
	}
	now := nsOf(a.now())
	n := 0
	err := a.store.Update(func(tx kv.Tx) error {
		seat := map[string]bool{}
		err := tx.Bucket(bucketUsers).ForEach(func(k, v []byte) error {
			r, err := a.openUser(bytes.Clone(k), v)
			if err != nil { // its owner's recordings get the grace from now
				a.log.Error("archive schema 4: unreadable user record skipped", "err", err)
				return nil
			}
			seat[strings.ToLower(r.Login)] = seat[strings.ToLower(r.Login)] || r.holdsSeat()
			return nil
		})
		if err != nil {
			return err
		}
		var keys [][timeKeyLen]byte
		owners := map[string]bool{}
		err = tx.Bucket(bucketRecs).ForEach(func(k, _ []byte) error {
			if len(k) != len(ID{}) {
				return nil
			}
			id := ID(k)
			m, dk, err := a.loadTx(tx, id)
			clear(dk)
			if err != nil {
				a.log.Error("archive schema 4: unreadable recording not indexed for retention", "id", id.String(), "err", err)
				return nil
			}
			if m.Binned == 0 {
				keys = append(keys, timeKey(m.retentionNS(), id))
			}
			if o := strings.ToLower(m.User); o != "" && !seat[o] {
				owners[o] = true
			}
			return nil
		})
		if err != nil {
			return err
		}
		slices.SortFunc(keys, func(x, y [timeKeyLen]byte) int { return bytes.Compare(x[:], y[:]) })
		b := tx.Bucket(bucketByRetention)
		for _, k := range keys {
			if err := b.Put(k[:], []byte{}); err != nil {
				return err
			}
		}
		for o := range owners {
			if err := a.seatLostTx(tx, o, now, false); err != nil {
				return err
			}
		}
		n = len(keys)
		return tx.Bucket(bucketMeta).Put(metaSchema, binary.BigEndian.AppendUint64(nil, schemaVersion))
	})
	if err != nil {
		return fmt.Errorf("archive: migrate to schema %d: %w", schemaVersion, err)
	}
	a.log.Info("archive migrated: retention counts from when each recording was received, the seat grace of owners without a seat from now",
		"schema", schemaVersion, "recordings", n)
	return nil
}

// LastExpire returns the result of the last Expire run, false when none
// ran on this archive.
func (a *Archive) LastExpire(ctx context.Context) (ExpireResult, bool) {
	var res ExpireResult
	ok := false
	_ = a.view(func(tx kv.Tx) error {
		if b := tx.Bucket(bucketMeta).Get(metaLifecycle); b != nil {
			ok = json.Unmarshal(b, &res) == nil
		}
		return nil
	})
	return res, ok
}
