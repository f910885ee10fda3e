package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/callvault/callvault/archive/kv"
	"github.com/callvault/callvault/internal/testclock"
)

// twoOnPostgres opens two archives on one new database and bucket, as
// two daemons would: each its own store (pool) and local files, the same
// key file, one clock.
func twoOnPostgres(t *testing.T, clk *testclock.Clock) (a, b *Archive) {
	return twoOnPostgresLog(t, clk, nil)
}

// twoOnPostgresLog is twoOnPostgres with b logging to bLog.
func twoOnPostgresLog(t *testing.T, clk *testclock.Clock, bLog *slog.Logger) (a, b *Archive) {
	t.Helper()
	dir := t.TempDir()
	target := newPostgresTarget(t)
	opt := storeOptions(dir)
	opt.Now = clk.Now
	var err error
	if a, err = target.openArchive(t, filepath.Join(dir, "a", "archive.db"), opt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	opt.Logger = bLog
	if b, err = target.openArchive(t, filepath.Join(dir, "b", "archive.db"), opt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return a, b
}

func listedIDs(t *testing.T, a *Archive) []ID {
	t.Helper()
	admin := &User{Login: "admin", Role: RoleAdmin}
	es, err := a.Listing(t.Context(), admin, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []ID
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	return ids
}

// TestTwoArchivesOnPostgres: what one daemon commits, the other sees on
// its next call, though it answered the same call from memory before: a
// recording stored, binned or given a CDR (the list index, its counts
// and Shared); a user given a new password, disabled or deleted (the
// authenticator's cache); a session created or ended; new settings (the
// watchers fire without a call).
func TestTwoArchivesOnPostgres(t *testing.T) {
	clk := testclock.New(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC))
	a, b := twoOnPostgres(t, clk)
	ctx := t.Context()
	admin := &User{Login: "admin", Role: RoleAdmin}

	// The list index: B's is built (empty) before A stores.
	if ids := listedIDs(t, b); len(ids) != 0 {
		t.Fatalf("B lists %d", len(ids))
	}
	r1 := record(t, a, NewRecording{CallGUID: "call-1"}, data(1000, 1), data(100, 2), Final{})
	if ids := listedIDs(t, b); !slices.Equal(ids, []ID{r1.ID}) {
		t.Fatalf("B lists %v after A stored %v", ids, r1.ID)
	}
	r2 := record(t, a, NewRecording{CallGUID: "call-1"}, data(1000, 3), data(100, 4), Final{})
	es, err := b.Listing(ctx, admin, nil)
	if err != nil || len(es) != 2 || !es[0].Shared || !es[1].Shared {
		t.Fatalf("B's listing after a second segment: %+v %v", es, err)
	}
	if n, err := b.CountListed(ctx, admin); err != nil || n != 1 {
		t.Fatalf("B counts %d calls: %v", n, err)
	}
	if err := a.Bin(ctx, r2.ID, "admin"); err != nil {
		t.Fatal(err)
	}
	es, err = b.Listing(ctx, admin, nil)
	if err != nil || len(es) != 1 || es[0].ID != r1.ID || es[0].Shared {
		t.Fatalf("B's listing after A binned one: %+v %v", es, err)
	}
	version := es[0].Version
	if _, err := a.PutCDR(ctx, CDR{CallID: "call-1", CallerNumber: "+49 89 1"}); err != nil {
		t.Fatal(err)
	}
	if es, err = b.Listing(ctx, admin, nil); err != nil || len(es) != 1 || es[0].Version == version {
		t.Fatalf("B's listing after A stored a CDR of the call: %+v %v (version was %d)", es, err, version)
	}

	// The authenticator: B caches alice's success, then A changes her.
	from := netip.MustParseAddr("127.0.0.1")
	alice := User{Login: "alice", Role: RoleUser}
	if err := a.PutUser(ctx, alice, "first password 1"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := b.Authenticate(ctx, from, "alice", "first password 1"); err != nil {
			t.Fatalf("B: %v", err)
		}
	}
	if err := a.PutUser(ctx, alice, "second password 2"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Authenticate(ctx, from, "alice", "first password 1"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("B takes the old password after A changed it: %v", err)
	}
	if _, err := b.Authenticate(ctx, from, "alice", "second password 2"); err != nil {
		t.Fatalf("B refuses the new password: %v", err)
	}
	alice.Disabled = true
	if err := a.PutUser(ctx, alice, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Authenticate(ctx, from, "alice", "second password 2"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("B takes a user A disabled: %v", err)
	}
	bob := User{Login: "bob", Role: RoleUser}
	if err := a.PutUser(ctx, bob, "bob password 12"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Authenticate(ctx, from, "bob", "bob password 12"); err != nil {
		t.Fatalf("B: %v", err)
	}
	if err := a.DeleteUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Authenticate(ctx, from, "bob", "bob password 12"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("B takes a user A deleted: %v", err)
	}

	// Sessions are read from the store on every request.
	carol := User{Login: "carol", Role: RoleUser}
	if err := a.PutUser(ctx, carol, "carol password 1"); err != nil {
		t.Fatal(err)
	}
	token, _, err := a.CreateSession(ctx, "carol", time.Hour, "127.0.0.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, u, err := b.SessionByToken(ctx, token); err != nil || u.Login != "carol" {
		t.Fatalf("B does not know A's session: %v", err)
	}
	if err := a.DeleteSession(ctx, token); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.SessionByToken(ctx, token); !errors.Is(err, ErrNotFound) {
		t.Fatalf("B keeps a session A ended: %v", err)
	}

	// Settings: B's watchers fire for A's PutSettings, with no call on B.
	seen := make(chan Settings, 4)
	stop := b.WatchSettings(func(s Settings) { seen <- s })
	defer stop()
	s, err := a.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.PBXName = "pbx from A"
	if err := a.PutSettings(ctx, s); err != nil {
		t.Fatal(err)
	}
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		select {
		case got := <-seen:
			if got.PBXName != "pbx from A" {
				continue
			}
		case <-wait.Done():
			t.Fatal("B's settings watcher did not fire for A's change")
		}
		break
	}
}

// TestExpireOneNodeAtATime: two archives on one store run the lifecycle
// together; each expired recording is purged once (one lifecycle.delete
// entry each), the chain verifies on both. While one holds the expiry
// lock the other's run returns at once, skipped, and removes nothing.
func TestExpireOneNodeAtATime(t *testing.T) {
	clk := testclock.New(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC))
	a, b := twoOnPostgres(t, clk)
	ctx := t.Context()
	setLifecycle(t, a, 30, 14)
	old := clk.Now().AddDate(0, 0, -40)
	var want []string
	for i := range 8 {
		r := record(t, a, NewRecording{User: "admin", Received: old, CallGUID: fmt.Sprint("c", i)},
			data(1000, uint64(i)), data(100, 2), Final{StartTime: old})
		want = append(want, r.ID.String())
	}
	keep := record(t, b, NewRecording{User: "admin", CallGUID: "new"}, data(1000, 9), data(100, 2), Final{})
	slices.Sort(want)

	// A holds the lock (as if its run were under way): B's run skips.
	unlock, ok, err := a.store.(kv.Locker).TryLock(ctx, expireLock)
	if err != nil || !ok {
		t.Fatalf("lock: %v %v", ok, err)
	}
	res, err := b.Expire(ctx)
	if err != nil || !res.Skipped || res.Removed() != 0 {
		t.Fatalf("B's run while A holds the lock: %+v %v", res, err)
	}
	unlock()

	var wg sync.WaitGroup
	results := make([]ExpireResult, 2)
	for i, x := range []*Archive{a, b} {
		wg.Go(func() {
			var err error
			if results[i], err = x.Expire(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	removed, skipped := 0, 0
	for _, r := range results {
		removed += r.Removed()
		if r.Skipped {
			skipped++
		}
		if r.Failed != 0 {
			t.Errorf("failed: %+v", r)
		}
	}
	if removed != len(want) {
		t.Fatalf("removed %d of %d (%d runs skipped): %+v", removed, len(want), skipped, results)
	}
	t.Logf("%d of 2 concurrent runs skipped", skipped)
	for _, x := range []*Archive{a, b} {
		if got := lifecycleAudit(t, x); !slices.Equal(got, want) {
			t.Fatalf("lifecycle.delete entries %q, want %q", got, want)
		}
		if res, err := x.VerifyChain(ctx); err != nil || !res.Valid {
			t.Fatalf("chain: %v %+v", err, res)
		}
		if ids := listedIDs(t, x); !slices.Equal(ids, []ID{keep.ID}) {
			t.Fatalf("listed after expiry: %v", ids)
		}
	}
}

// TestKeyRotatedElsewhere: a key-file rotation on one daemon re-boxes
// the master key; the other keeps reading with the master key it holds,
// and says that it needs the new key file before its next start.
func TestKeyRotatedElsewhere(t *testing.T) {
	var logs syncBuffer
	a, b := twoOnPostgresLog(t, testclock.New(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)), slog.New(slog.NewTextHandler(&logs, nil)))
	ctx := t.Context()
	r := record(t, a, NewRecording{CallGUID: "before"}, data(1000, 1), data(100, 2), Final{})
	if err := a.RotateKeyFile(ctx, filepath.Join(t.TempDir(), "new.key")); err != nil {
		t.Fatal(err)
	}
	if err := b.syncFeed(ctx); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(logs.Bytes(), []byte("archive key was changed on another daemon")) {
		t.Fatalf("B's log: %s", logs.Bytes())
	}
	if got := readBlob(t, b, r.ID, BlobOriginal); len(got) != 1000 {
		t.Fatalf("B reads %d bytes after the rotation", len(got))
	}
	r2 := record(t, b, NewRecording{CallGUID: "after"}, data(1000, 3), data(100, 4), Final{})
	if got := readBlob(t, a, r2.ID, BlobOriginal); len(got) != 1000 {
		t.Fatalf("A reads %d bytes of what B stored after the rotation", len(got))
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}
