package pgkv

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/callvault/callvault/archive/kv"
	"github.com/callvault/callvault/internal/servertest"
)

func changeStrings(cs []kv.Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, string(c.Bucket)+"/"+string(c.Key))
	}
	slices.Sort(out)
	return out
}

// TestFeed: two Stores on one database; each sees the keys the other's
// commits changed in the fed buckets, never its own, never a rolled back
// transaction's, nothing of a bucket not fed; WaitChanges returns once
// the other commits; old rows are pruned and a reader left behind them
// is told to reset; a named lock is held by one Store at a time and
// released by Close.
func TestFeed(t *testing.T) {
	pg := servertest.StartPostgres(t)
	url := pg.NewDatabase(t)
	ctx := t.Context()
	a := open(t, url, Options{feedKeep: 5})
	defer a.Close()
	b := open(t, url, Options{feedKeep: 5})
	defer b.Close()
	for _, s := range []*Store{a, b} {
		s.FeedBuckets([][]byte{[]byte("f"), []byte("g")})
	}
	start, err := b.FeedEnd(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = a.Update(func(tx kv.Tx) error {
		f, err := tx.CreateBucketIfNotExists([]byte("f"))
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists([]byte("u")); err != nil {
			return err
		}
		if err := tx.Bucket([]byte("u")).Put([]byte("x"), []byte("1")); err != nil {
			return err
		}
		if err := f.Put([]byte("k1"), []byte("v")); err != nil {
			return err
		}
		n, err := f.CreateBucketIfNotExists([]byte("n"))
		if err != nil {
			return err
		}
		deep, err := n.CreateBucketIfNotExists([]byte("deep"))
		if err != nil {
			return err
		}
		return deep.Put([]byte("z"), []byte("1"))
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.ChangesSince(ctx, start)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"f/", "f/k1", "f/n"}; !slices.Equal(changeStrings(got.Changes), want) || got.Reset {
		t.Fatalf("B sees %q (reset %v), want %q", changeStrings(got.Changes), got.Reset, want)
	}
	if own, err := a.ChangesSince(ctx, start); err != nil || len(own.Changes) != 0 || own.Next != got.Next {
		t.Fatalf("A sees its own changes: %q, next %d/%d, %v", changeStrings(own.Changes), own.Next, got.Next, err)
	}
	cursor := got.Next

	// Rolled back: nothing.
	err = a.Update(func(tx kv.Tx) error {
		if err := tx.Bucket([]byte("f")).Put([]byte("gone"), []byte("v")); err != nil {
			return err
		}
		return errors.New("roll back")
	})
	if err == nil {
		t.Fatal("no error")
	}
	if got, err := b.ChangesSince(ctx, cursor); err != nil || len(got.Changes) != 0 || got.Next != cursor {
		t.Fatalf("after a rollback: %q next %d, %v", changeStrings(got.Changes), got.Next, err)
	}

	// WaitChanges returns once A commits a delete.
	waited := make(chan error, 1)
	go func() { waited <- b.WaitChanges(ctx, cursor) }()
	if err := a.Update(func(tx kv.Tx) error { return tx.Bucket([]byte("f")).Delete([]byte("k1")) }); err != nil {
		t.Fatal(err)
	}
	for {
		if err := <-waited; err != nil {
			t.Fatal(err)
		}
		got, err = b.ChangesSince(ctx, cursor)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Changes) > 0 {
			break
		}
		go func() { waited <- b.WaitChanges(ctx, cursor) }()
	}
	if want := []string{"f/k1"}; !slices.Equal(changeStrings(got.Changes), want) {
		t.Fatalf("after a delete B sees %q", changeStrings(got.Changes))
	}
	behind := got.Next

	// Pruned: 5 rows are kept; a reader behind them resets.
	for i := range 8 {
		err := a.Update(func(tx kv.Tx) error { return tx.Bucket([]byte("f")).Put(fmt.Appendf(nil, "p%d", i), []byte("v")) })
		if err != nil {
			t.Fatal(err)
		}
	}
	var rows, oldest int64
	if err := a.pool.QueryRow(ctx, `SELECT count(*), min(seq) FROM kv_changes`).Scan(&rows, &oldest); err != nil {
		t.Fatal(err)
	}
	end, _ := b.FeedEnd(ctx)
	if rows != 5 || oldest != int64(end)-4 {
		t.Fatalf("%d change rows kept from %d, end %d", rows, oldest, end)
	}
	if got, err := b.ChangesSince(ctx, behind); err != nil || !got.Reset || got.Next != end {
		t.Fatalf("a reader behind the pruned rows: %+v, %v", got, err)
	}
	if got, err := b.ChangesSince(ctx, end-2); err != nil || got.Reset || len(got.Changes) != 2 {
		t.Fatalf("a reader within the kept rows: %+v, %v", got, err)
	}

	// The named lock.
	unlock, ok, err := a.TryLock(ctx, "expire")
	if err != nil || !ok {
		t.Fatalf("A's lock: %v %v", ok, err)
	}
	if _, ok, err := b.TryLock(ctx, "expire"); err != nil || ok {
		t.Fatalf("B took the lock A holds: %v %v", ok, err)
	}
	if u, ok, err := b.TryLock(ctx, "other"); err != nil || !ok {
		t.Fatalf("another name: %v %v", ok, err)
	} else {
		u()
	}
	unlock()
	unlock() // twice is harmless
	unlockB, ok, err := b.TryLock(ctx, "expire")
	if err != nil || !ok {
		t.Fatalf("B after A unlocked: %v %v", ok, err)
	}
	unlockB()
	// Released when unlock returns, not when the server gets round to
	// ending the connection.
	for i := range 20 {
		x, y := a, b
		if i%2 == 1 {
			x, y = b, a
		}
		u, ok, err := x.TryLock(ctx, "expire")
		if err != nil || !ok {
			t.Fatalf("round %d: first: %v %v", i, ok, err)
		}
		u()
		u, ok, err = y.TryLock(ctx, "expire")
		if err != nil || !ok {
			t.Fatalf("round %d: the lock is still held after unlock: %v %v", i, ok, err)
		}
		u()
	}
	if _, ok, err := a.TryLock(ctx, "expire"); err != nil || !ok {
		t.Fatalf("A again: %v %v", ok, err)
	}
	a.Close() // held, not unlocked: the server releases it
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		u, ok, err := b.TryLock(cctx, "expire")
		if err != nil {
			t.Fatalf("B after A closed: %v", err)
		}
		if ok {
			u()
			break
		}
	}
}

// BenchmarkChangesSince is the price of reading the feed when nothing
// changed, which the archive pays before each list and password check.
func BenchmarkChangesSince(b *testing.B) {
	pg := servertest.StartPostgres(b)
	s := open(b, pg.NewDatabase(b), Options{})
	defer s.Close()
	end, err := s.FeedEnd(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.ChangesSince(b.Context(), end); err != nil {
			b.Fatal(err)
		}
	}
}
