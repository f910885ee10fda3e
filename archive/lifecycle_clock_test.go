package archive

import (
	"encoding/binary"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/callvault/callvault/archive/kv"

	"github.com/callvault/callvault/internal/testclock"
)

// The lifecycle counts on the archive's own clock: retention from when a
// recording was received, the seat grace from when its owner lost the
// seat. These tests run on one settable clock, also across reopens.

// reopenAt closes a and opens its file again on clk.
func reopenAt(t *testing.T, a *Archive, clk *testclock.Clock) *Archive {
	t.Helper()
	path := a.Path()
	a.Close()
	b, err := reopenTestArchive(t, path, Options{KeyFile: filepath.Join(filepath.Dir(path), "archive.key"), KDF: FastKDF(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// receivedNow records a finished call by owner, received at the clock's
// now, whose capture says it started at start.
func receivedNow(t *testing.T, a *Archive, owner string, start time.Time) ID {
	t.Helper()
	r := record(t, a, NewRecording{User: owner, FileName: "0123456789abcdef0123456789abcdef-009033302ab1-11--" + owner + ".pcap"},
		data(500, 3), data(50, 4), Final{StartTime: start})
	return r.ID
}

// lifecycleAudit returns the targets of the "lifecycle.delete" audit
// entries.
func lifecycleAudit(t *testing.T, a *Archive) []string {
	t.Helper()
	evs, _, err := a.AuditLog(t.Context(), AuditQuery{Action: AuditLifecycleDelete, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		if e.Actor != SystemActor || !e.OK {
			t.Errorf("audit entry %+v", e)
		}
		out = append(out, e.Target)
	}
	slices.Sort(out)
	return out
}

// TestOldCaptureUploadedThenRestart: a capture whose packets say 2002,
// uploaded today under a name no user has, stays (the seat grace counts
// from its receipt), also after a restart; its deletion date is the
// grace period after today, never 2002; it goes when the grace has run
// out by the archive's clock, with an audit entry naming it.
func TestOldCaptureUploadedThenRestart(t *testing.T) {
	now := time.Date(2026, 12, 6, 11, 0, 0, 0, time.UTC)
	a, clk, _ := lifecycleFixture(t, now)
	ctx := t.Context()
	id := receivedNow(t, a, "nobody", time.Date(2002, 7, 26, 14, 0, 0, 0, time.UTC))
	if res, err := a.Expire(ctx); err != nil || res.Removed() != 0 {
		t.Fatalf("run after the upload: %+v, %v", res, err)
	}
	a = reopenAt(t, a, clk)
	if res, err := a.Expire(ctx); err != nil || res.Removed() != 0 {
		t.Fatalf("run after the restart: %+v, %v", res, err)
	}
	r, err := a.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !r.RetentionBase.Equal(now) {
		t.Errorf("retention base %v, want the receive time %v", r.RetentionBase, now)
	}
	p, err := a.Policy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d, rule := p.Deletion(r)
	berlin, _ := time.LoadLocation("Europe/Berlin")
	if want := time.Date(2027, 1, 6, 0, 0, 0, 0, berlin); !d.Equal(want) || rule != RuleSeatGrace || p.Due(d) {
		t.Errorf("deletion %v (%s, due %v), want %v by the seat grace", d, rule, p.Due(d), want)
	}
	clk.Add(30 * 24 * time.Hour) // 2027-01-05: the grace has not run out
	if res, _ := a.Expire(ctx); res.Removed() != 0 {
		t.Fatalf("run after 30 days: %+v", res)
	}
	clk.Add(24 * time.Hour)
	res, err := a.Expire(ctx)
	if err != nil || res.Grace != 1 || len(res.Deleted) != 1 || res.Deleted[0] != (Expired{id, RuleSeatGrace}) {
		t.Fatalf("run after 31 days: %+v, %v", res, err)
	}
	if got := lifecycleAudit(t, a); !slices.Equal(got, []string{id.String()}) {
		t.Errorf("audit entries for %v, want %s", got, id)
	}
	if vr, err := a.VerifyAudit(ctx); err != nil || !vr.Valid {
		t.Errorf("audit log: %+v, %v", vr, err)
	}
}

// TestDeletedUserKeepsRecordings: with retention off, deleting a user
// whose recordings are from 2022 keeps them for the seat grace counted
// from the deletion; taking a seat away does the same, and giving it back
// clears it.
func TestDeletedUserKeepsRecordings(t *testing.T) {
	then := time.Date(2022, 3, 1, 9, 0, 0, 0, time.UTC)
	a, clk, _ := lifecycleFixture(t, then)
	ctx := t.Context()
	for _, l := range []string{"carol", "dan"} {
		if err := a.PutUser(ctx, User{Login: l, Role: RoleUser, Seat: true}, ""); err != nil {
			t.Fatal(err)
		}
	}
	carol := receivedNow(t, a, "carol", then)
	dan := receivedNow(t, a, "Dan", then)
	clk.Add(4 * 365 * 24 * time.Hour) // 2026-02-28
	deleted := clk.Now()
	if err := a.DeleteUser(ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	if err := a.PutUser(ctx, User{Login: "dan", Role: RoleUser}, ""); err != nil { // seat taken away
		t.Fatal(err)
	}
	for _, l := range []string{"carol", "DAN"} {
		if at, ok, err := a.SeatLost(ctx, l); err != nil || !ok || !at.Equal(deleted) {
			t.Errorf("%s: seat lost %v %v %v, want %v", l, at, ok, err, deleted)
		}
	}
	a = reopenAt(t, a, clk)
	if res, err := a.Expire(ctx); err != nil || res.Removed() != 0 {
		t.Fatalf("run at the next start: %+v, %v", res, err)
	}
	p, _ := a.Policy(ctx)
	r, _ := a.Get(ctx, carol)
	if d, rule := p.Deletion(r); rule != RuleSeatGrace || !d.Equal(p.day(deleted).AddDate(0, 0, SeatGraceDays+1)) {
		t.Errorf("deletion %v %s", d, rule)
	}
	// Dan gets his seat back: his recording stays for good.
	if err := a.PutUser(ctx, User{Login: "dan", Role: RoleUser, Seat: true}, ""); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := a.SeatLost(ctx, "dan"); ok {
		t.Error("seat loss kept after the seat was given back")
	}
	clk.Add(31 * 24 * time.Hour)
	res, err := a.Expire(ctx)
	if err != nil || res.Grace != 1 || !exists(t, a, dan) || exists(t, a, carol) {
		t.Fatalf("run after the grace: %+v, %v", res, err)
	}
	if got := lifecycleAudit(t, a); !slices.Equal(got, []string{carol.String()}) {
		t.Errorf("audit entries for %v", got)
	}
}

// TestRetentionSavedThenRestart: saving a retention of 365 days deletes
// nothing received in the last 365 days whatever the calls' own times;
// the preview counts exactly what the next run deletes.
func TestRetentionSavedThenRestart(t *testing.T) {
	start := time.Date(2025, 10, 1, 9, 0, 0, 0, time.UTC)
	a, clk, _ := lifecycleFixture(t, start)
	ctx := t.Context()
	if err := a.PutUser(ctx, User{Login: "erin", Role: RoleUser, Seat: true}, ""); err != nil {
		t.Fatal(err)
	}
	old := receivedNow(t, a, "erin", start) // received 14 months before the save
	clk.Add(430 * 24 * time.Hour)           // 2026-12-05
	var fresh []ID
	for i := range 4 { // calls from 2023 (a phone with a wrong clock), received now
		fresh = append(fresh, receivedNow(t, a, "erin", time.Date(2023, 1, 1+i, 9, 0, 0, 0, time.UTC)))
	}
	s, _ := a.Settings(ctx)
	s.RetentionDays = 365
	pv, err := a.PreviewExpire(ctx, s)
	if err != nil || pv.WouldDelete != 1 || pv.Retention != 1 || pv.Grace != 0 || pv.Bin != 0 {
		t.Fatalf("preview %+v, %v", pv, err)
	}
	setLifecycle(t, a, 365, s.RecycleBinDays)
	if pv, _ := a.PreviewExpire(ctx, s); pv.WouldDelete != 0 || pv.Retention != 1 {
		t.Errorf("preview of the settings in force: %+v", pv)
	}
	clk.Add(time.Minute)
	a = reopenAt(t, a, clk)
	res, err := a.Expire(ctx)
	if err != nil || res.Retention != 1 || len(res.Deleted) != 1 || res.Deleted[0].ID != old {
		t.Fatalf("run at the restart: %+v, %v", res, err)
	}
	for _, id := range fresh {
		if !exists(t, a, id) {
			t.Errorf("%s received today was deleted", id)
		}
	}
	if got := lifecycleAudit(t, a); !slices.Equal(got, []string{old.String()}) {
		t.Errorf("audit entries for %v", got)
	}
}

// TestKeepCallTime: SetRetentionBase (import --keep-call-time) makes
// retention count from the call's time; the deletion date of a recording
// already due is today, never a day in the past.
func TestKeepCallTime(t *testing.T) {
	now := time.Date(2026, 12, 6, 11, 0, 0, 0, time.UTC)
	a, _, _ := lifecycleFixture(t, now)
	ctx := t.Context()
	if err := a.PutUser(ctx, User{Login: "fay", Role: RoleUser, Seat: true}, ""); err != nil {
		t.Fatal(err)
	}
	call := time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)
	kept := receivedNow(t, a, "fay", call)
	moved := receivedNow(t, a, "fay", call)
	setLifecycle(t, a, 365, 30)
	s, _ := a.Settings(ctx)
	if pv, _ := a.PreviewExpire(ctx, s); pv.Retention != 0 {
		t.Fatalf("preview before: %+v", pv)
	}
	if err := a.SetRetentionBase(ctx, moved, call); err != nil {
		t.Fatal(err)
	}
	p, _ := a.Policy(ctx)
	r, _ := a.Get(ctx, moved)
	if d, rule := p.Deletion(r); !d.Equal(p.Today()) || rule != RuleRetention || !p.Due(d) {
		t.Errorf("deletion of a recording past its retention: %v %s, want today %v", d, rule, p.Today())
	}
	if pv, _ := a.PreviewExpire(ctx, s); pv.Retention != 1 {
		t.Errorf("preview after: %+v", pv)
	}
	res, err := a.Expire(ctx)
	if err != nil || res.Retention != 1 || exists(t, a, moved) || !exists(t, a, kept) {
		t.Fatalf("run: %+v, %v", res, err)
	}
}

// TestSchema4Migration: an archive of schema 3 (no retention index, no
// seat losses) gets both at Open: retention counts from Received, and the
// seat grace of owners without a seat from the upgrade.
func TestSchema4Migration(t *testing.T) {
	then := time.Date(2024, 1, 10, 9, 0, 0, 0, time.UTC)
	a, clk, _ := lifecycleFixture(t, then)
	ctx := t.Context()
	if err := a.PutUser(ctx, User{Login: "gus", Role: RoleUser, Seat: true}, ""); err != nil {
		t.Fatal(err)
	}
	seat := receivedNow(t, a, "gus", time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC))
	ghost := receivedNow(t, a, "ghost", then)
	binned := receivedNow(t, a, "gus", then)
	if err := a.Bin(ctx, binned, "gus"); err != nil {
		t.Fatal(err)
	}
	path := a.Path()
	a.Close()
	db := openBolt(t, path)
	if err := db.Update(func(tx kv.Tx) error {
		for _, b := range [][]byte{bucketByRetention, bucketSeatLost} {
			if err := tx.DeleteBucket(b); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(metaSchema, binary.BigEndian.AppendUint64(nil, schemaSlots))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	clk.Add(2 * 365 * 24 * time.Hour) // 2026-01-09
	upgraded := clk.Now()
	b := reopenAt(t, a, clk)
	if b.storedSchema() != schemaVersion {
		t.Fatalf("schema %d", b.storedSchema())
	}
	var keys int
	_ = b.view(func(tx kv.Tx) error { keys = tx.Bucket(bucketByRetention).KeyN(); return nil })
	if keys != 2 {
		t.Errorf("retention index has %d keys, want 2 (the binned recording has none)", keys)
	}
	if at, ok, _ := b.SeatLost(ctx, "ghost"); !ok || !at.Equal(upgraded) {
		t.Errorf("ghost: seat lost %v %v, want the upgrade %v", at, ok, upgraded)
	}
	if _, ok, _ := b.SeatLost(ctx, "gus"); ok {
		t.Error("a seat holder has a seat loss")
	}
	// Retention 800 days from 2024-01-10 runs out on 2026-03-20; the
	// binned recording's 30 days ran out long ago.
	setLifecycle(t, b, 800, 30)
	if res, _ := b.Expire(ctx); res.Bin != 1 || res.Retention != 0 || res.Grace != 0 {
		t.Fatalf("run after the upgrade: %+v", res)
	}
	if !exists(t, b, seat) || !exists(t, b, ghost) {
		t.Fatal("a recording went at the upgrade")
	}
	clk.Add(31 * 24 * time.Hour) // 2026-02-09
	if res, _ := b.Expire(ctx); res.Grace != 1 || res.Retention != 0 || exists(t, b, ghost) || !exists(t, b, seat) {
		t.Errorf("after the grace from the upgrade: %+v", res)
	}
	clk.Add(40 * 24 * time.Hour) // 2026-03-21
	if res, _ := b.Expire(ctx); res.Retention != 1 || exists(t, b, seat) {
		t.Errorf("retention from Received: %+v", res)
	}
}

// TestSeatLostRecords: when the archive records that a login lost its
// seat, and when it clears or keeps that record.
func TestSeatLostRecords(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	a, clk, _ := lifecycleFixture(t, t0)
	ctx := t.Context()
	put := func(u User) {
		t.Helper()
		if err := a.PutUser(ctx, u, ""); err != nil {
			t.Fatal(err)
		}
	}
	lost := func(login string) time.Time {
		t.Helper()
		at, ok, err := a.SeatLost(ctx, login)
		if err != nil || ok == at.IsZero() {
			t.Fatalf("%s: %v %v %v", login, at, ok, err)
		}
		return at
	}
	put(User{Login: "never", Role: RoleUser})
	put(User{Login: "held", Role: RoleUser, Seat: true})
	put(User{Login: "dev", Role: RoleUser, Seat: true})
	if !lost("never").IsZero() || !lost("held").IsZero() {
		t.Fatal("a seat loss without a loss")
	}
	clk.Add(time.Hour)
	t1 := clk.Now()
	put(User{Login: "held", Role: RoleUser})              // seat taken away
	put(User{Login: "dev", Role: RoleIngest, Seat: true}) // an ingest login holds no seat
	if !lost("HELD").Equal(t1) || !lost("dev").Equal(t1) {
		t.Fatalf("seat taken away: %v %v", lost("held"), lost("dev"))
	}
	clk.Add(time.Hour)
	put(User{Login: "held", Role: RoleUser, Name: "still no seat"}) // other changes keep the first loss
	if err := a.DeleteUser(ctx, "held"); err != nil {
		t.Fatal(err)
	}
	if !lost("held").Equal(t1) {
		t.Errorf("deleting a user without a seat moved the loss to %v", lost("held"))
	}
	if err := a.DeleteUser(ctx, "never"); err != nil {
		t.Fatal(err)
	}
	if !lost("never").Equal(clk.Now()) {
		t.Errorf("deleting a user: %v", lost("never"))
	}
	put(User{Login: "Held", Role: RoleSupervisor, Seat: true}) // the seat given back, any case
	if !lost("held").IsZero() {
		t.Error("the seat given back kept the loss")
	}
}
