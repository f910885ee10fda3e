package archive

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/callvault/callvault/internal/testclock"
)

// lifecycleFixture opens an archive on a settable clock at now (Berlin
// time zone) and returns a function recording a finished call by owner
// that started at start.
func lifecycleFixture(t *testing.T, now time.Time) (*Archive, *testclock.Clock, func(owner string, start time.Time) ID) {
	t.Helper()
	clk := testclock.New(now)
	a := OpenTestOptions(t, Options{Now: clk.Now})
	ctx := t.Context()
	s, err := a.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.TimeZone = "Europe/Berlin"
	if err := a.PutSettings(ctx, s); err != nil {
		t.Fatal(err)
	}
	rec := func(owner string, start time.Time) ID {
		t.Helper()
		r := record(t, a, NewRecording{User: owner, Received: start, CallGUID: "call-" + owner + start.String()},
			data(1000, 1), data(100, 2), Final{StartTime: start, Parties: []string{"+49 89 1234"}})
		return r.ID
	}
	return a, clk, rec
}

func setLifecycle(t *testing.T, a *Archive, retention, bin int) {
	t.Helper()
	s, err := a.Settings(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s.RetentionDays, s.RecycleBinDays = retention, bin
	if err := a.PutSettings(t.Context(), s); err != nil {
		t.Fatal(err)
	}
}

func exists(t *testing.T, a *Archive, id ID) bool {
	t.Helper()
	_, err := a.Get(t.Context(), id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func TestLifecycleSettingsBounds(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	for _, c := range []struct {
		ret, bin int
		ok       bool
	}{
		{0, 30, true}, {1, 1, true}, {11000, 11000, true}, {365, 30, true},
		{-1, 30, false}, {11001, 30, false}, {30, 0, false}, {30, 11001, false}, {30, -5, false},
	} {
		s := DefaultSettings()
		s.RetentionDays, s.RecycleBinDays = c.ret, c.bin
		err := a.PutSettings(ctx, s)
		if (err == nil) != c.ok || err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("retention %d bin %d: err %v, want ok=%v", c.ret, c.bin, err, c.ok)
		}
		if c.ok {
			got, err := a.Settings(ctx)
			if err != nil || got.RetentionDays != c.ret || got.RecycleBinDays != c.bin {
				t.Errorf("stored %+v, %v", got, err)
			}
		}
	}
	if d := DefaultSettings(); d.RetentionDays != 0 || d.RecycleBinDays != DefaultRecycleBinDays {
		t.Errorf("defaults %+v", d)
	}
}

func TestRetention(t *testing.T) {
	// 2026-11-21 10:00 in Berlin (CET, UTC+1).
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	a, clk, rec := lifecycleFixture(t, now)
	ctx := t.Context()
	berlin, _ := time.LoadLocation("Europe/Berlin")
	// Everyone holds a seat, so only retention applies.
	for _, l := range []string{"anna", "bo"} {
		if err := a.PutUser(ctx, User{Login: l, Role: RoleUser, Seat: true}, ""); err != nil {
			t.Fatal(err)
		}
	}
	// Retention 10 days: local midnight 2026-11-11 00:00 Berlin is the
	// cutoff. A call at 23:59:59 Berlin on the 10th goes; one at 00:00:00
	// on the 11th stays.
	before := rec("anna", time.Date(2026, 11, 10, 23, 59, 59, 0, berlin))
	at := rec("anna", time.Date(2026, 11, 11, 0, 0, 0, 0, berlin))
	old := rec("bo", time.Date(2020, 1, 1, 12, 0, 0, 0, berlin))
	held := rec("bo", time.Date(2019, 6, 1, 12, 0, 0, 0, berlin))
	recent := rec("bo", now.Add(-time.Hour))
	if err := a.SetProtected(ctx, held, true); err != nil {
		t.Fatal(err)
	}
	// Retention off: nothing goes.
	res, err := a.Expire(ctx)
	if err != nil || res.Removed() != 0 {
		t.Fatalf("retention off: %+v, %v", res, err)
	}
	setLifecycle(t, a, 10, 30)
	p, err := a.Policy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := a.Get(ctx, before); !p.DeletionDate(r).Equal(time.Date(2026, 11, 21, 0, 0, 0, 0, berlin)) {
		t.Errorf("deletion date of the call on the 10th: %v", p.DeletionDate(r))
	} else if _, rule := p.Deletion(r); rule != RuleRetention {
		t.Errorf("rule %q, want retention", rule)
	}
	if r, _ := a.Get(ctx, held); !p.DeletionDate(r).IsZero() {
		t.Errorf("protected recording has a deletion date %v", p.DeletionDate(r))
	}
	res, err = a.Expire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Retention != 2 || res.Grace != 0 || res.Protected != 1 || res.Failed != 0 {
		t.Errorf("result %+v", res)
	}
	for id, want := range map[ID]bool{before: false, old: false, at: true, held: true, recent: true} {
		if exists(t, a, id) != want {
			t.Errorf("%s exists = %v, want %v", id, !want, want)
		}
	}
	// The tombstones say who and why, and the chain verifies.
	vr, err := a.VerifyChain(ctx)
	if err != nil || !vr.Valid {
		t.Fatalf("chain: %+v, %v", vr, err)
	}
	// Idempotent; a day later the call of the 11th goes too.
	if res, _ := a.Expire(ctx); res.Removed() != 0 {
		t.Errorf("second run removed %d", res.Removed())
	}
	clk.Add(24 * time.Hour)
	if res, _ := a.Expire(ctx); res.Retention != 1 || exists(t, a, at) {
		t.Errorf("next day: %+v", res)
	}
	last, ok := a.LastExpire(ctx)
	if !ok || last.Retention != 1 || !last.Ran.Equal(clk.Now()) {
		t.Errorf("last expire %+v %v", last, ok)
	}
	// Lifting the hold lets retention take it.
	if err := a.SetProtected(ctx, held, false); err != nil {
		t.Fatal(err)
	}
	if res, _ := a.Expire(ctx); res.Retention != 1 || exists(t, a, held) {
		t.Errorf("after unprotect: %+v", res)
	}
	// 11000 days (30 years and about 43 days) keeps a call from 1996-12
	// and takes one from 1996-09.
	setLifecycle(t, a, MaxRetentionDays, 30)
	kept := rec("bo", time.Date(1996, 12, 1, 0, 0, 0, 0, berlin))
	ancient := rec("bo", time.Date(1996, 9, 1, 0, 0, 0, 0, berlin))
	if res, _ := a.Expire(ctx); res.Retention != 1 || exists(t, a, ancient) || !exists(t, a, kept) {
		t.Errorf("11000 days: %+v", res)
	}
}

func TestSeatGrace(t *testing.T) {
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	a, _, rec := lifecycleFixture(t, now)
	ctx := t.Context()
	for _, u := range []User{
		{Login: "seat", Role: RoleUser, Seat: true},
		{Login: "noseat", Role: RoleUser},
		{Login: "Admin", Role: RoleAdmin}, // admins need a seat too
	} {
		if err := a.PutUser(ctx, u, ""); err != nil {
			t.Fatal(err)
		}
	}
	days := func(n int) time.Time { return now.AddDate(0, 0, -n) }
	keep := map[string]ID{
		"seat holder, 400 days": rec("SEAT", days(400)), // owner matched without case
		"no seat, 29 days":      rec("noseat", days(29)),
		"unknown, 20 days":      rec("ghost", days(20)),
	}
	gone := map[string]ID{
		"no seat, 32 days":  rec("noseat", days(32)),
		"unknown, 40 days":  rec("ghost", days(40)),
		"no owner, 31 days": rec("", days(31)),
		"admin, 60 days":    rec("admin", days(60)),
	}
	held := rec("noseat", days(90))
	if err := a.SetProtected(ctx, held, true); err != nil {
		t.Fatal(err)
	}
	keep["protected, no seat, 90 days"] = held
	p, _ := a.Policy(ctx)
	for name, id := range gone {
		r, _ := a.Get(ctx, id)
		if d, rule := p.Deletion(r); d.IsZero() || d.After(now) || rule != RuleSeatGrace {
			t.Errorf("%s: deletion date %v (%s) not before now by the seat grace", name, d, rule)
		}
	}
	if r, _ := a.Get(ctx, keep["unknown, 20 days"]); p.DeletionDate(r).Before(now.AddDate(0, 0, 10)) {
		t.Errorf("unknown owner, 20 days: deletion date %v", p.DeletionDate(r))
	}
	if r, _ := a.Get(ctx, keep["seat holder, 400 days"]); !p.DeletionDate(r).IsZero() {
		t.Errorf("seat holder: deletion date %v", p.DeletionDate(r))
	}
	res, err := a.Expire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Grace != len(gone) || res.Retention != 0 || res.Protected != 1 {
		t.Errorf("result %+v", res)
	}
	for name, id := range gone {
		if exists(t, a, id) {
			t.Errorf("%s: still there", name)
		}
	}
	for name, id := range keep {
		if !exists(t, a, id) {
			t.Errorf("%s: removed", name)
		}
	}
	// Retention shorter than the grace: 7 days takes the 20-day call of
	// an unknown owner and the 29-day one; the seat holder's 400-day call
	// goes by retention.
	setLifecycle(t, a, 7, 30)
	res, _ = a.Expire(ctx)
	if res.Retention != 3 || exists(t, a, keep["seat holder, 400 days"]) || !exists(t, a, held) {
		t.Errorf("retention 7: %+v", res)
	}
}

func TestRecycleBin(t *testing.T) {
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	a, clk, rec := lifecycleFixture(t, now)
	ctx := t.Context()
	if err := a.PutUser(ctx, User{Login: "anna", Role: RoleUser, Seat: true}, ""); err != nil {
		t.Fatal(err)
	}
	anna := &User{Login: "anna", Role: RoleUser}
	admin := &User{Login: "root", Role: RoleAdmin}
	other := &User{Login: "bo", Role: RoleUser, Extensions: []string{"+49 89 1234"}}
	var ids []ID
	for i := range 5 {
		ids = append(ids, rec("anna", now.Add(-time.Duration(i+1)*time.Hour)))
	}
	held := ids[4]
	if err := a.SetProtected(ctx, held, true); err != nil {
		t.Fatal(err)
	}
	if err := a.Bin(ctx, held, "anna"); !errors.Is(err, ErrProtected) {
		t.Fatalf("bin protected: %v", err)
	}
	if err := a.Delete(ctx, held, "root", "test"); !errors.Is(err, ErrProtected) {
		t.Fatalf("delete protected: %v", err)
	}
	for _, id := range ids[:3] {
		clk.Add(time.Minute)
		if err := a.Bin(ctx, id, "anna"); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Bin(ctx, ids[0], "anna"); !errors.Is(err, ErrState) {
		t.Errorf("bin twice: %v", err)
	}
	if err := a.SetProtected(ctx, ids[0], true); !errors.Is(err, ErrState) {
		t.Errorf("protect binned: %v", err)
	}
	// Binned recordings leave List, ListFor and ByCall and nobody reads them.
	list, _, _ := a.List(ctx, Query{})
	if len(list) != 2 {
		t.Errorf("list has %d recordings, want 2", len(list))
	}
	forBo, _, _ := a.ListFor(ctx, other, Query{})
	if len(forBo) != 2 {
		t.Errorf("bo's list has %d recordings, want 2", len(forBo))
	}
	r0, err := a.Get(ctx, ids[0])
	if err != nil || r0.Binned.IsZero() || r0.BinnedBy != "anna" {
		t.Fatalf("binned recording %+v %v", r0, err)
	}
	if calls, _ := a.ByCall(ctx, r0.CallGUID); len(calls) != 0 {
		t.Errorf("by call finds a binned recording")
	}
	if MayRead(admin, r0) || MayRead(anna, r0) || !MayRestore(anna, r0) || !MayRestore(admin, r0) || MayRestore(other, r0) {
		t.Errorf("rights on a binned recording")
	}
	// The bin pages newest first.
	var binned []ID
	pageThrough(t, 10, func(cursor string) (string, error) {
		recs, next, err := a.RecycleBin(ctx, Query{Limit: 2, Cursor: cursor})
		for _, r := range recs {
			binned = append(binned, r.ID)
		}
		return next, err
	})
	if !slices.Equal(binned, []ID{ids[2], ids[1], ids[0]}) {
		t.Errorf("bin order %v", binned)
	}
	// Restore puts it back everywhere.
	if err := a.Restore(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	if err := a.Restore(ctx, ids[1]); !errors.Is(err, ErrState) {
		t.Errorf("restore twice: %v", err)
	}
	if r, _ := a.Get(ctx, ids[1]); !MayRead(anna, r) || !r.Binned.IsZero() {
		t.Errorf("restored: %+v", r)
	}
	if list, _, _ := a.List(ctx, Query{}); len(list) != 3 {
		t.Errorf("after restore list has %d", len(list))
	}
	// Bin entries expire after RecycleBinDays; the others stay.
	setLifecycle(t, a, 0, 2)
	clk.Add(47 * time.Hour)
	if res, _ := a.Expire(ctx); res.Bin != 0 {
		t.Errorf("bin purged early: %+v", res)
	}
	p, _ := a.Policy(ctx)
	r2, _ := a.Get(ctx, ids[2])
	if d, rule := p.Deletion(r2); !d.Equal(r2.Binned.AddDate(0, 0, 2)) || rule != RuleRecycleBin {
		t.Errorf("bin deletion date %v, binned %v", d, r2.Binned)
	}
	clk.Add(2 * time.Hour)
	res, _ := a.Expire(ctx)
	if res.Bin != 2 || exists(t, a, ids[0]) || exists(t, a, ids[2]) || !exists(t, a, ids[1]) || !exists(t, a, ids[3]) {
		t.Errorf("bin expiry: %+v", res)
	}
	if recs, _, _ := a.RecycleBin(ctx, Query{}); len(recs) != 0 {
		t.Errorf("bin still holds %d", len(recs))
	}
	// An admin purges a bin entry with Delete.
	if err := a.Bin(ctx, ids[3], "root"); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx, ids[3], "root", "purged from the recycle bin"); err != nil {
		t.Fatal(err)
	}
	if recs, _, _ := a.RecycleBin(ctx, Query{}); len(recs) != 0 {
		t.Errorf("purged entry still in the bin")
	}
	vr, err := a.VerifyChain(ctx)
	if err != nil || !vr.Valid {
		t.Fatalf("chain: %+v %v", vr, err)
	}
}

func TestDeletionRights(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	if err := a.PutUser(ctx, User{Login: "x", Role: RoleUser, DeletionMode: "sometimes"}, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad deletion mode: %v", err)
	}
	for _, m := range []DeletionMode{"", DeleteRecoverable, DeletePermanent, DeleteDenied} {
		login := "u" + string(m)
		if err := a.PutUser(ctx, User{Login: login, Role: RoleUser, DeletionMode: m}, ""); err != nil {
			t.Fatal(err)
		}
		u, err := a.GetUser(ctx, login)
		if err != nil || u.DeletionMode != m.Effective() {
			t.Errorf("mode %q stored as %q, %v", m, u.DeletionMode, err)
		}
	}
	rec := &Recording{User: "anna", State: StateComplete, Parties: []string{"204"}}
	owner := &User{Login: "anna", Role: RoleUser}
	denied := &User{Login: "anna", Role: RoleUser, DeletionMode: DeleteDenied}
	ext := &User{Login: "bo", Role: RoleUser, Extensions: []string{"204"}}
	admin := &User{Login: "root", Role: RoleAdmin, DeletionMode: DeletePermanent}
	protector := &User{Login: "bo", Role: RoleUser, Extensions: []string{"204"}, MayProtect: true}
	for _, c := range []struct {
		u                  *User
		del, prot, restore bool
	}{
		{owner, true, false, false}, {denied, false, false, false}, {ext, false, false, false},
		{admin, true, true, false}, {protector, false, true, false},
	} {
		if got := MayDelete(c.u, rec); got != c.del {
			t.Errorf("%s/%s MayDelete = %v", c.u.Login, c.u.DeletionMode, got)
		}
		if got := MayProtect(c.u, rec); got != c.prot {
			t.Errorf("%s MayProtect = %v", c.u.Login, got)
		}
	}
	held := *rec
	held.Protected = true
	if MayDelete(admin, &held) || MayDelete(owner, &held) {
		t.Error("a protected recording may be deleted")
	}
	for i := range 3 {
		rec := &Recording{User: fmt.Sprint(i), State: StateRecording}
		if MayDelete(admin, rec) || MayProtect(admin, rec) {
			t.Error("a recording being written may be deleted or protected")
		}
	}
}

// TestCheckDelete: the reasons a delete or purge is refused, in the order
// pages and API report them, and DeleteAllowed exactly when MayDelete.
func TestCheckDelete(t *testing.T) {
	rec := &Recording{User: "anna", State: StateComplete, Parties: []string{"204"}}
	held := &Recording{User: "anna", State: StateComplete, Parties: []string{"204"}, Protected: true}
	writing := &Recording{User: "anna", State: StateRecording, Parties: []string{"204"}}
	owner := &User{Login: "anna", Role: RoleUser}
	denied := &User{Login: "anna", Role: RoleUser, DeletionMode: DeleteDenied}
	ext := &User{Login: "bo", Role: RoleUser, Extensions: []string{"204"}}
	admin := &User{Login: "root", Role: RoleAdmin, DeletionMode: DeletePermanent}
	deniedAdmin := &User{Login: "root", Role: RoleAdmin, DeletionMode: DeleteDenied}
	for _, c := range []struct {
		u    *User
		rec  *Recording
		want DeleteRefusal
	}{
		{owner, rec, DeleteAllowed}, {admin, rec, DeleteAllowed},
		{denied, rec, DeleteModeDenied}, {denied, held, DeleteModeDenied},
		{ext, rec, DeleteNotOwner}, {ext, held, DeleteNotOwner}, {ext, writing, DeleteNotOwner},
		{owner, held, DeleteHeld}, {admin, held, DeleteHeld},
		{owner, writing, DeleteStillRecording}, {admin, writing, DeleteStillRecording},
	} {
		got := CheckDelete(c.u, c.rec)
		if got != c.want {
			t.Errorf("%s/%s on protected=%v state=%s: %d, want %d", c.u.Login, c.u.DeletionMode, c.rec.Protected, c.rec.State, got, c.want)
		}
		if (got == DeleteAllowed) != MayDelete(c.u, c.rec) {
			t.Errorf("%s: CheckDelete and MayDelete disagree", c.u.Login)
		}
	}
	for _, c := range []struct {
		u    *User
		want DeleteRefusal
	}{{admin, DeleteAllowed}, {deniedAdmin, DeleteModeDenied}, {owner, DeleteAdminsOnly}, {denied, DeleteAdminsOnly}} {
		if got := CheckPurge(c.u); got != c.want {
			t.Errorf("CheckPurge(%s/%s) = %d, want %d", c.u.Login, c.u.DeletionMode, got, c.want)
		}
	}
	if DeletesPermanently(owner) || !DeletesPermanently(admin) {
		t.Error("DeletesPermanently does not follow the deletion mode")
	}
}

// TestDeleteFor: a recoverable delete moves the recording to the recycle
// bin; a permanent one purges it with the user and reason in the tombstone.
func TestDeleteFor(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	anna := &User{Login: "anna", Role: RoleUser, DeletionMode: DeleteRecoverable}
	root := &User{Login: "root", Role: RoleAdmin, DeletionMode: DeletePermanent}
	r1 := record(t, a, NewRecording{User: "anna"}, data(100, 1), nil, Final{})
	r2 := record(t, a, NewRecording{User: "anna"}, data(100, 2), nil, Final{})
	if err := a.Seal(ctx, r2.ID, nil); err != nil {
		t.Fatal(err)
	}

	permanent, err := a.DeleteFor(ctx, anna, r1.ID, "no longer needed")
	if err != nil || permanent {
		t.Fatalf("recoverable delete: permanent %v, %v", permanent, err)
	}
	got, err := a.Get(ctx, r1.ID)
	if err != nil || got.Binned.IsZero() || got.BinnedBy != "anna" {
		t.Fatalf("not in the recycle bin: %+v %v", got, err)
	}

	permanent, err = a.DeleteFor(ctx, root, r2.ID, "no longer needed")
	if err != nil || !permanent {
		t.Fatalf("permanent delete: permanent %v, %v", permanent, err)
	}
	if _, err := a.Get(ctx, r2.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("purged recording: %v", err)
	}
	res, err := a.VerifyChain(ctx)
	if err != nil || res.Tombstones != 1 {
		t.Fatalf("chain: %+v %v", res, err)
	}
	if who, why, err := a.TombstoneNote(ctx, res.HeadSeq); err != nil || who != "root" || why != "no longer needed" {
		t.Fatalf("tombstone note %q %q %v", who, why, err)
	}
}
