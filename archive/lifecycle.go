package archive

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A recording's lifecycle: the legal hold (SetProtected), the recycle bin
// (Bin, Restore, RecycleBin; Delete purges), and the rules Expire applies
// every day: retention, seat grace and the recycle bin's own expiry. No
// path removes a protected recording. Every removal is a Delete: the data
// key is destroyed in the same transaction and the chain gets a tombstone
// saying who (a login, or "system") and why.

// SeatGraceDays is how long recordings of users without a recording seat,
// and of names no user matches, are kept (less when retention is
// shorter).
const SeatGraceDays = 30

// SystemActor is the "who" of removals made by Expire.
const SystemActor = "system"

// putMetaTx re-encrypts and stores m.
func (a *Archive) putMetaTx(tx *bolt.Tx, id ID, dk []byte, m *metaRecord) error {
	aead, err := metaAEAD(dk)
	if err != nil {
		return err
	}
	box, err := sealMeta(aead, id, m)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketRecs).Put(id[:], box)
}

// indexTx adds (add) or removes the entries through which List, ListFor
// and ByCall find a recording: its time key, call key and who keys.
func (a *Archive) indexTx(tx *bolt.Tx, id ID, m *metaRecord, add bool) error {
	tk := timeKey(m.indexNS(), id)
	keys := [][2][]byte{{bucketByTime, tk[:]}}
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
		return putWho(tx, a.whoKeys(m, id))
	}
	return deleteWho(tx, a.whoKeys(m, id))
}

// changeMeta loads a finished recording in a write transaction, lets fn
// change its metadata and indexes, and stores the result. fn returning
// errUnchanged stores nothing.
func (a *Archive) changeMeta(ctx context.Context, op string, id ID, fn func(tx *bolt.Tx, m *metaRecord) error) error {
	err := a.update(ctx, func(tx *bolt.Tx) error {
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
	return a.changeMeta(ctx, op, id, func(tx *bolt.Tx, m *metaRecord) error {
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
	return a.changeMeta(ctx, "bin", id, func(tx *bolt.Tx, m *metaRecord) error {
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
	return a.changeMeta(ctx, "restore", id, func(tx *bolt.Tx, m *metaRecord) error {
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
func descWalk(bucket, lower []byte) func(tx *bolt.Tx, upper []byte) func() ([timeKeyLen]byte, bool) {
	return func(tx *bolt.Tx, upper []byte) func() ([timeKeyLen]byte, bool) {
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
func ascBatch(tx *bolt.Tx, bucket, after []byte, max int, fn func(k, v []byte) bool) (last []byte, n int) {
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
func (a *Archive) listedMetaTx(tx *bolt.Tx, k []byte) (*metaRecord, error) {
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
	// seat maps case-folded logins to whether the user holds a seat.
	seat map[string]bool
}

// Policy returns the lifecycle policy from the settings and users.
func (a *Archive) Policy(ctx context.Context) (*Policy, error) {
	s, err := a.Settings(ctx)
	if err != nil {
		return nil, err
	}
	users, err := a.Users(ctx)
	if err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	p := &Policy{RetentionDays: s.RetentionDays, RecycleBinDays: s.RecycleBinDays, Loc: loc, seat: map[string]bool{}}
	for _, u := range users {
		if u.Role != RoleIngest {
			p.seat[strings.ToLower(u.Login)] = u.Seat
		}
	}
	return p, nil
}

// graced reports whether the seat grace applies to recordings of owner:
// no user matches the name, or the user has no recording seat.
func (p *Policy) graced(owner string) bool {
	seat, ok := p.seat[strings.ToLower(owner)]
	return owner == "" || !ok || !seat
}

// day is local midnight of t's day.
func (p *Policy) day(t time.Time) time.Time {
	t = t.In(p.Loc)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, p.Loc)
}

// cutoffs returns, for a run at now, the instants before which call
// starts fall to retention (zero when off) and to the seat grace.
func (p *Policy) cutoffs(now time.Time) (retention, grace time.Time) {
	today := p.day(now)
	grace = today.AddDate(0, 0, -SeatGraceDays)
	if p.RetentionDays > 0 {
		retention = today.AddDate(0, 0, -p.RetentionDays)
		if retention.After(grace) {
			grace = retention
		}
	}
	return retention, grace
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
// recording in the recycle bin it is when its bin time runs out.
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
	if !rec.Binned.IsZero() {
		return rec.Binned.In(p.Loc).AddDate(0, 0, p.RecycleBinDays), RuleRecycleBin
	}
	t := rec.StartTime
	if t.IsZero() {
		t = rec.Received
	}
	// A run on day D removes starts before D-N days: the first such D is
	// the day after day(t)+N.
	var out time.Time
	var rule DeletionRule
	if p.RetentionDays > 0 {
		out, rule = p.day(t).AddDate(0, 0, p.RetentionDays+1), RuleRetention
	}
	if p.graced(rec.User) {
		g := p.day(t).AddDate(0, 0, SeatGraceDays+1)
		if out.IsZero() || g.Before(out) {
			out, rule = g, RuleSeatGrace
		}
	}
	return out, rule
}

// ExpireResult says what one Expire run did.
type ExpireResult struct {
	Ran time.Time `json:"ran"`
	// RetentionCutoff: call starts before it fell to retention (zero when
	// retention is off); GraceCutoff likewise for the seat grace.
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
}

// Removed is the number of recordings the run purged.
func (r ExpireResult) Removed() int { return r.Retention + r.Grace + r.Bin }

const (
	expireScan  = 512 // time keys read per read transaction
	expireBatch = 64  // purges per write transaction
)

var metaLifecycle = []byte("lifecycle.last")

// Expire applies the lifecycle rules at the archive's clock: it purges
// recordings whose call started before local midnight RetentionDays ago,
// recordings older than SeatGraceDays whose owner has no recording seat or
// matches no user (sooner when retention is shorter), and recycle-bin
// entries binned more than RecycleBinDays ago. Protected recordings and
// recordings still being written stay. It is safe to run at any time and
// as often as wanted; the daemon runs it at start and daily. The result is
// logged and kept for LastExpire.
func (a *Archive) Expire(ctx context.Context) (ExpireResult, error) {
	p, err := a.Policy(ctx)
	if err != nil {
		return ExpireResult{}, fmt.Errorf("archive: expire: %w", err)
	}
	now := a.now()
	res := ExpireResult{Ran: now.UTC()}
	retCut, graceCut := p.cutoffs(now)
	res.RetentionCutoff, res.GraceCutoff = retCut.UTC(), graceCut.UTC()
	if retCut.IsZero() {
		res.RetentionCutoff = time.Time{}
	}
	retWhy := fmt.Sprintf("retention: call older than %d days", p.RetentionDays)
	graceWhy := fmt.Sprintf("seat grace: no recording seat, older than %d days", SeatGraceDays)

	// Retention and grace: the time index, oldest first, up to graceCut.
	limit := timeKey(graceCut.UnixNano(), ID{})
	var after []byte
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		type cand struct {
			id  ID
			why string
		}
		var cands []cand
		var last []byte
		err := a.view(func(tx *bolt.Tx) error {
			last, _ = ascBatch(tx, bucketByTime, after, expireScan, func(k, _ []byte) bool {
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
				if !retCut.IsZero() && ns < retCut.UnixNano() {
					if protected {
						res.Protected++
					} else {
						cands = append(cands, cand{id, retWhy})
					}
					return true
				}
				m, dk, err := a.loadTx(tx, id)
				clear(dk)
				switch {
				case err != nil:
					a.log.Error("archive expire: unreadable recording skipped", "id", id.String(), "err", err)
				case !p.graced(m.User):
				case protected || m.Protected:
					res.Protected++
				default:
					cands = append(cands, cand{id, graceWhy})
				}
				return true
			})
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("archive: expire: %w", err)
		}
		for len(cands) > 0 {
			n := min(len(cands), expireBatch)
			ids, whys := make([]ID, n), make([]string, n)
			for i, c := range cands[:n] {
				ids[i], whys[i] = c.id, c.why
			}
			done, prot, failed := a.purgeBatch(ctx, ids, whys)
			for i, ok := range done {
				if ok && whys[i] == retWhy {
					res.Retention++
				} else if ok {
					res.Grace++
				}
			}
			res.Protected += prot
			res.Failed += failed
			cands = cands[n:]
		}
		if last == nil {
			break
		}
		after = last
	}

	// The recycle bin, oldest first.
	binCut := timeKey(now.AddDate(0, 0, -p.RecycleBinDays).UnixNano(), ID{})
	binWhy := fmt.Sprintf("recycle bin: deleted more than %d days ago", p.RecycleBinDays)
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		var ids []ID
		_ = a.view(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketBin).Cursor()
			for k, _ := c.First(); k != nil && len(ids) < expireBatch && bytes.Compare(k, binCut[:]) < 0; k, _ = c.Next() {
				if len(k) == timeKeyLen {
					ids = append(ids, ID(k[8:]))
				}
			}
			return nil
		})
		if len(ids) == 0 {
			break
		}
		whys := make([]string, len(ids))
		for i := range whys {
			whys[i] = binWhy
		}
		done, prot, failed := a.purgeBatch(ctx, ids, whys)
		n := 0
		for _, ok := range done {
			if ok {
				n++
			}
		}
		res.Bin += n
		res.Protected += prot
		res.Failed += failed
		if n == 0 { // nothing more can go: do not spin
			break
		}
	}

	if b, err := json.Marshal(res); err == nil {
		_ = a.update(ctx, func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(metaLifecycle, b) })
	}
	a.log.Info("archive lifecycle run", "retention_days", p.RetentionDays, "retention_purged", res.Retention,
		"grace_purged", res.Grace, "bin_purged", res.Bin, "protected_kept", res.Protected, "failed", res.Failed)
	return res, nil
}

// purgeBatch purges ids (tombstones by SystemActor with whys) in one
// transaction. It reports which were purged, how many were protected and
// how many failed.
func (a *Archive) purgeBatch(ctx context.Context, ids []ID, whys []string) (done []bool, protected, failed int) {
	notes := make([][]byte, len(ids))
	for i := range ids {
		notes[i], _ = json.Marshal(tombstoneNote{Who: SystemActor, Why: whys[i]})
	}
	done = make([]bool, len(ids))
	err := a.update(ctx, func(tx *bolt.Tx) error {
		protected = 0
		clear(done)
		for i, id := range ids {
			err := a.purgeTx(tx, id, notes[i])
			switch {
			case err == nil:
				done[i] = true
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
		a.log.Error("archive expire: purge failed", "recordings", len(ids), "err", err)
		clear(done)
		return done, 0, len(ids)
	}
	for i, ok := range done {
		if ok {
			a.log.Info("archive recording deleted", "id", ids[i].String(), "why", whys[i])
		}
	}
	return done, protected, 0
}

// LastExpire returns the result of the last Expire run, false when none
// ran on this archive.
func (a *Archive) LastExpire(ctx context.Context) (ExpireResult, bool) {
	var res ExpireResult
	ok := false
	_ = a.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketMeta).Get(metaLifecycle); b != nil {
			ok = json.Unmarshal(b, &res) == nil
		}
		return nil
	})
	return res, ok
}
