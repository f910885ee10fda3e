// Package kvtest is the contract of the kv seam as a test suite: Run
// checks, against any backend, every semantic that package kv documents,
// so that the archive above the seam behaves the same on each. It runs
// unchanged against boltkv and pgkv, as restic's backend tests do against
// its backends.
package kvtest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/callvault/callvault/archive/kv"
)

// Run runs the contract against the backend that open makes. open is
// called once for each subtest and returns a store on fresh, empty data,
// which the suite closes, and a function that returns another Store
// instance on the same data, as a second daemon would have (a backend
// that allows one instance per data, as bbolt's file lock does, returns
// the first again). open registers with t.Cleanup whatever else it must
// close or remove.
func Run(t *testing.T, open func(t *testing.T) (first kv.Store, another func() kv.Store)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s kv.Store, another func() kv.Store)
	}{
		{"Order", testOrder},
		{"Buckets", testBuckets},
		{"NestedBuckets", testNestedBuckets},
		{"Sequences", testSequences},
		{"CursorEdges", testCursorEdges},
		{"CursorAfterWrites", testCursorAfterWrites},
		{"CursorDelete", testCursorDelete},
		{"OwnWritesVisible", testOwnWrites},
		{"Rollback", testRollback},
		{"OnCommit", testOnCommit},
		{"Snapshot", testSnapshot},
		{"OneWriter", testOneWriter},
		{"OneWriterAcrossInstances", testOneWriterAcrossInstances},
		{"LargeValues", testLargeValues},
		{"ManyKeys", testManyKeys},
		{"Errors", testErrors},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, another := open(t)
			closed := false
			t.Cleanup(func() {
				if !closed {
					s.Close()
				}
			})
			if tc.name == "Closed" {
				closed = true
			}
			tc.fn(t, s, another)
		})
	}
}

func update(t *testing.T, s kv.Store, fn func(kv.Tx) error) {
	t.Helper()
	if err := s.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func view(t *testing.T, s kv.Store, fn func(kv.Tx) error) {
	t.Helper()
	if err := s.View(fn); err != nil {
		t.Fatal(err)
	}
}

type pair struct{ k, v string }

// pairs lists a bucket with a cursor, forward, copying as the contract
// asks; nested buckets show with the value "<bucket>".
func pairs(b kv.Bucket) []pair {
	var out []pair
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		out = append(out, mkpair(k, v))
	}
	return out
}

func mkpair(k, v []byte) pair {
	if v == nil {
		return pair{string(k), "<bucket>"}
	}
	return pair{string(k), string(v)}
}

func backwards(b kv.Bucket) []pair {
	var out []pair
	c := b.Cursor()
	for k, v := c.Last(); k != nil; k, v = c.Prev() {
		out = append(out, mkpair(k, v))
	}
	return out
}

func byForEach(t *testing.T, b kv.Bucket) []pair {
	var out []pair
	if err := b.ForEach(func(k, v []byte) error { out = append(out, mkpair(k, v)); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func samePairs(t *testing.T, what string, got, want []pair) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// testOrder: keys come back in bytes.Compare order, 0x00 and 0xff bytes
// and prefixes included, by cursor both ways and by ForEach, within the
// write transaction and after commit.
func testOrder(t *testing.T, s kv.Store, _ func() kv.Store) {
	keys := [][]byte{
		{0xff}, {0x00}, {0x00, 0x00}, {0xff, 0xff, 0xff}, {0x7f}, {0x80}, []byte("a"), []byte("ab"),
		[]byte("a\x00"), []byte("a\xff"), []byte("B"), {0x01, 0x00}, {0x00, 0xff}, []byte("abc"),
	}
	want := slices.Clone(keys)
	slices.SortFunc(want, bytes.Compare)
	var wantPairs []pair
	for _, k := range want {
		wantPairs = append(wantPairs, pair{string(k), "v" + string(k)})
	}
	check := func(b kv.Bucket) {
		samePairs(t, "forward", pairs(b), wantPairs)
		rev := slices.Clone(wantPairs)
		slices.Reverse(rev)
		samePairs(t, "backward", backwards(b), rev)
		samePairs(t, "ForEach", byForEach(t, b), wantPairs)
		if n := b.KeyN(); n != len(keys) {
			t.Fatalf("KeyN = %d, want %d", n, len(keys))
		}
	}
	update(t, s, func(tx kv.Tx) error {
		b, err := tx.CreateBucket([]byte("order"))
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := b.Put(k, append([]byte("v"), k...)); err != nil {
				return err
			}
		}
		check(b)
		return nil
	})
	view(t, s, func(tx kv.Tx) error {
		b := tx.Bucket([]byte("order"))
		check(b)
		for _, k := range keys {
			if got := b.Get(k); !bytes.Equal(got, append([]byte("v"), k...)) {
				t.Fatalf("Get(%x) = %q", k, got)
			}
		}
		if b.Get([]byte("zz")) != nil || b.Get([]byte{0x00, 0x00, 0x00}) != nil {
			t.Fatal("Get of an absent key is not nil")
		}
		return nil
	})
}

// testBuckets: top-level buckets are created, listed in name order,
// deleted with all they hold; CreateBucket refuses an existing name.
func testBuckets(t *testing.T, s kv.Store, _ func() kv.Store) {
	update(t, s, func(tx kv.Tx) error {
		if tx.Bucket([]byte("x")) != nil {
			t.Fatal("absent bucket is not nil")
		}
		for _, n := range []string{"m", "a", "\xff", "\x00", "z"} {
			b, err := tx.CreateBucket([]byte(n))
			if err != nil {
				return err
			}
			if err := b.Put([]byte("k"), []byte(n)); err != nil {
				return err
			}
		}
		if _, err := tx.CreateBucket([]byte("a")); err == nil {
			t.Fatal("CreateBucket of an existing bucket did not fail")
		}
		b, err := tx.CreateBucketIfNotExists([]byte("a"))
		if err != nil || !bytes.Equal(b.Get([]byte("k")), []byte("a")) {
			t.Fatalf("CreateBucketIfNotExists of an existing bucket: %v", err)
		}
		if !tx.Writable() {
			t.Fatal("Update's transaction is not writable")
		}
		return nil
	})
	update(t, s, func(tx kv.Tx) error {
		if err := tx.DeleteBucket([]byte("m")); err != nil {
			return err
		}
		if err := tx.DeleteBucket([]byte("nope")); err == nil {
			t.Fatal("DeleteBucket of an absent bucket did not fail")
		}
		if tx.Bucket([]byte("m")) != nil {
			t.Fatal("deleted bucket still there in its transaction")
		}
		return nil
	})
	update(t, s, func(tx kv.Tx) error {
		b, err := tx.CreateBucket([]byte("m"))
		if err != nil {
			return err
		}
		if b.Get([]byte("k")) != nil || b.KeyN() != 0 {
			t.Fatal("a bucket created again after delete holds old keys")
		}
		return nil
	})
	view(t, s, func(tx kv.Tx) error {
		if tx.Writable() {
			t.Fatal("View's transaction is writable")
		}
		var names []string
		err := tx.ForEach(func(name []byte, b kv.Bucket) error {
			names = append(names, string(name)+"="+string(b.Get([]byte("k"))))
			return nil
		})
		if err != nil {
			return err
		}
		if want := []string{"\x00=\x00", "a=a", "m=", "z=z", "\xff=\xff"}; !slices.Equal(names, want) {
			t.Fatalf("buckets %q, want %q", names, want)
		}
		return nil
	})
}

// testNestedBuckets: nested buckets sit among the keys (nil value), keep
// their own keys and sequence, and go with their parent.
func testNestedBuckets(t *testing.T, s kv.Store, _ func() kv.Store) {
	update(t, s, func(tx kv.Tx) error {
		top, err := tx.CreateBucket([]byte("top"))
		if err != nil {
			return err
		}
		top.Put([]byte("a"), []byte("1"))
		top.Put([]byte("c"), []byte("3"))
		n, err := top.CreateBucketIfNotExists([]byte("b"))
		if err != nil {
			return err
		}
		n.Put([]byte("a"), []byte("nested"))
		deep, err := n.CreateBucketIfNotExists([]byte("deep"))
		if err != nil {
			return err
		}
		deep.Put([]byte("x"), []byte("y"))
		if _, err := deep.NextSequence(); err != nil {
			return err
		}
		if _, err := top.CreateBucketIfNotExists([]byte("a")); err == nil {
			t.Fatal("CreateBucketIfNotExists over a value did not fail")
		}
		if err := top.Put([]byte("b"), []byte("v")); err == nil {
			t.Fatal("Put over a nested bucket did not fail")
		}
		if err := top.Delete([]byte("b")); err == nil {
			t.Fatal("Delete of a nested bucket's name did not fail")
		}
		return nil
	})
	view(t, s, func(tx kv.Tx) error {
		top := tx.Bucket([]byte("top"))
		samePairs(t, "top", pairs(top), []pair{{"a", "1"}, {"b", "<bucket>"}, {"c", "3"}})
		samePairs(t, "top ForEach", byForEach(t, top), []pair{{"a", "1"}, {"b", "<bucket>"}, {"c", "3"}})
		if top.Get([]byte("b")) != nil {
			t.Fatal("Get of a nested bucket's name is not nil")
		}
		if top.KeyN() != 6 {
			t.Fatalf("KeyN = %d, want 6 (the keys of nested buckets and their names)", top.KeyN())
		}
		n := top.Bucket([]byte("b"))
		if n == nil || !bytes.Equal(n.Get([]byte("a")), []byte("nested")) {
			t.Fatal("nested bucket lost")
		}
		if top.Bucket([]byte("a")) != nil || top.Bucket([]byte("zz")) != nil {
			t.Fatal("Bucket of a value or absent key is not nil")
		}
		deep := n.Bucket([]byte("deep"))
		if deep == nil || deep.Sequence() != 1 || !bytes.Equal(deep.Get([]byte("x")), []byte("y")) {
			t.Fatal("deep bucket lost")
		}
		if top.Sequence() != 0 || n.Sequence() != 0 {
			t.Fatal("sequences are not per bucket")
		}
		return nil
	})
	update(t, s, func(tx kv.Tx) error {
		top := tx.Bucket([]byte("top"))
		if err := top.DeleteBucket([]byte("b")); err != nil {
			return err
		}
		if err := top.DeleteBucket([]byte("a")); err == nil {
			t.Fatal("DeleteBucket of a value did not fail")
		}
		if top.Bucket([]byte("b")) != nil {
			t.Fatal("deleted nested bucket still there")
		}
		n, err := top.CreateBucketIfNotExists([]byte("b"))
		if err != nil {
			return err
		}
		if n.KeyN() != 0 || n.Bucket([]byte("deep")) != nil {
			t.Fatal("nested bucket created again holds old keys")
		}
		return nil
	})
	update(t, s, func(tx kv.Tx) error { return tx.DeleteBucket([]byte("top")) })
	update(t, s, func(tx kv.Tx) error {
		top, err := tx.CreateBucket([]byte("top"))
		if err != nil {
			return err
		}
		if top.KeyN() != 0 {
			t.Fatal("top bucket created again holds old keys")
		}
		return nil
	})
}

// testSequences: NextSequence counts from 0 by one, SetSequence sets,
// both are kept on commit and undone on rollback.
func testSequences(t *testing.T, s kv.Store, _ func() kv.Store) {
	update(t, s, func(tx kv.Tx) error {
		b, _ := tx.CreateBucket([]byte("seq"))
		if b.Sequence() != 0 {
			t.Fatal("new bucket's sequence is not 0")
		}
		for i := uint64(1); i <= 3; i++ {
			if n, err := b.NextSequence(); err != nil || n != i {
				t.Fatalf("NextSequence = %d, %v; want %d", n, err, i)
			}
		}
		if b.Sequence() != 3 {
			t.Fatal("Sequence does not see NextSequence")
		}
		return nil
	})
	errBoom := errors.New("boom")
	if err := s.Update(func(tx kv.Tx) error {
		b := tx.Bucket([]byte("seq"))
		b.NextSequence()
		b.SetSequence(100)
		return errBoom
	}); !errors.Is(err, errBoom) {
		t.Fatalf("Update returned %v, want fn's error", err)
	}
	update(t, s, func(tx kv.Tx) error {
		b := tx.Bucket([]byte("seq"))
		if b.Sequence() != 3 {
			t.Fatalf("sequence after rollback = %d, want 3", b.Sequence())
		}
		if err := b.SetSequence(1 << 62); err != nil {
			return err
		}
		if n, _ := b.NextSequence(); n != 1<<62+1 {
			t.Fatalf("NextSequence after SetSequence = %d", n)
		}
		return nil
	})
	view(t, s, func(tx kv.Tx) error {
		if got := tx.Bucket([]byte("seq")).Sequence(); got != 1<<62+1 {
			t.Fatalf("committed sequence = %d", got)
		}
		return nil
	})
}

func fill(t *testing.T, s kv.Store, name string, keys ...string) {
	t.Helper()
	update(t, s, func(tx kv.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(name))
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := b.Put([]byte(k), []byte("v"+k)); err != nil {
				return err
			}
		}
		return nil
	})
}

func key(k []byte) string {
	if k == nil {
		return "<nil>"
	}
	return string(k)
}

// testCursorEdges: Seek to an absent key lands on the next one, past the
// end gives nil; Prev from the first and Next from the last give nil; an
// empty bucket gives nil everywhere.
func testCursorEdges(t *testing.T, s kv.Store, _ func() kv.Store) {
	fill(t, s, "empty")
	fill(t, s, "c", "b", "d", "f")
	view(t, s, func(tx kv.Tx) error {
		e := tx.Bucket([]byte("empty")).Cursor()
		for _, k := range [][]byte{first(e), last(e), seek(e, "a")} {
			if k != nil {
				t.Fatalf("empty bucket cursor gave %q", k)
			}
		}
		b := tx.Bucket([]byte("c"))
		c := b.Cursor()
		steps := []struct {
			name string
			got  []byte
			want string
		}{
			{"Seek(a)", seek(c, "a"), "b"},
			{"Prev at first", prev(c), "<nil>"},
			{"Seek(c)", seek(c, "c"), "d"},
			{"Seek(d)", seek(c, "d"), "d"},
			{"Prev", prev(c), "b"},
			{"Next", next(c), "d"},
			{"Seek(e)", seek(c, "e"), "f"},
			{"Next at last", next(c), "<nil>"},
			{"Seek(g)", seek(c, "g"), "<nil>"},
			{"Last", last(c), "f"},
			{"Next after Last", next(c), "<nil>"},
			{"First", first(c), "b"},
			{"Prev after First", prev(c), "<nil>"},
			{"Seek(\\x00)", seek(c, "\x00"), "b"},
			{"Seek(d\\x00)", seek(c, "d\x00"), "f"},
		}
		for _, st := range steps {
			if key(st.got) != st.want {
				t.Fatalf("%s = %s, want %s", st.name, key(st.got), st.want)
			}
		}
		k, v := c.Seek([]byte("d"))
		if string(k) != "d" || string(v) != "vd" {
			t.Fatalf("Seek value %q=%q", k, v)
		}
		return nil
	})
}

func first(c kv.Cursor) []byte          { k, _ := c.First(); return k }
func last(c kv.Cursor) []byte           { k, _ := c.Last(); return k }
func next(c kv.Cursor) []byte           { k, _ := c.Next(); return k }
func prev(c kv.Cursor) []byte           { k, _ := c.Prev(); return k }
func seek(c kv.Cursor, s string) []byte { k, _ := c.Seek([]byte(s)); return k }

// testCursorAfterWrites: inside the write transaction a cursor
// positioned (First, Last, Seek) after puts and deletes sees them, across
// the edges of a batching backend's fetches. As in bbolt, a cursor is
// repositioned after the bucket changes; Cursor.Delete is the one change
// a walk may make and go on with Next (see testCursorDelete).
func testCursorAfterWrites(t *testing.T, s kv.Store, _ func() kv.Store) {
	var keys []string
	for i := range 600 { // more than one batch of a batching backend
		keys = append(keys, fmt.Sprintf("k%04d", i))
	}
	fill(t, s, "w", keys...)
	update(t, s, func(tx kv.Tx) error {
		b := tx.Bucket([]byte("w"))
		c := b.Cursor()
		if k := seek(c, "k0100"); key(k) != "k0100" {
			t.Fatalf("Seek = %s", key(k))
		}
		b.Delete([]byte("k0101"))
		b.Put([]byte("k0100a"), []byte("new"))
		if k := seek(c, "k0100"); key(k) != "k0100" {
			t.Fatalf("Seek again = %s", key(k))
		}
		if k, v := c.Next(); key(k) != "k0100a" || string(v) != "new" {
			t.Fatalf("Next after writes = %s=%q, want k0100a=new", key(k), v)
		}
		if k := next(c); key(k) != "k0102" {
			t.Fatalf("Next over a deleted key = %s, want k0102", key(k))
		}
		b.Put([]byte("k0099z"), []byte("z"))
		b.Delete([]byte("k0100"))
		if k := seek(c, "k0100a"); key(k) != "k0100a" {
			t.Fatalf("Seek = %s, want k0100a", key(k))
		}
		if k := prev(c); key(k) != "k0099z" {
			t.Fatalf("Prev over a deleted key = %s, want k0099z", key(k))
		}
		// Writes ahead and behind, then whole walks both ways.
		b.Put([]byte("k0450x"), []byte("x"))
		b.Delete([]byte("k0451"))
		b.Delete([]byte("k0000"))
		b.Put([]byte("k0599"), []byte("changed"))
		var fwd []string
		for k, v := c.First(); k != nil; k, v = c.Next() {
			fwd = append(fwd, string(k))
			if string(k) == "k0599" && string(v) != "changed" {
				t.Fatalf("walk saw k0599=%q, not the overwrite", v)
			}
		}
		want := slices.Clone(keys)
		want = slices.DeleteFunc(want, func(k string) bool {
			return k == "k0000" || k == "k0100" || k == "k0101" || k == "k0451"
		})
		want = append(want, "k0099z", "k0100a", "k0450x")
		slices.Sort(want)
		if !slices.Equal(fwd, want) {
			t.Fatalf("forward walk after writes: %d keys, want %d", len(fwd), len(want))
		}
		var back []string
		for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
			back = append(back, string(k))
		}
		slices.Reverse(back)
		if !slices.Equal(back, want) {
			t.Fatalf("backward walk after writes: %d keys, want %d", len(back), len(want))
		}
		b.Put([]byte("zzz"), []byte("end"))
		if k, v := c.Last(); key(k) != "zzz" || string(v) != "end" {
			t.Fatalf("Last = %s", key(k))
		}
		b.Put([]byte("k0001"), []byte("first"))
		if k, v := c.First(); key(k) != "k0001" || string(v) != "first" {
			t.Fatalf("First = %s=%q after an overwrite", key(k), v)
		}
		return nil
	})
}

// testCursorDelete: Cursor.Delete removes the pair under the cursor, and
// Next goes on with the pair after it, so a walk can delete as it goes.
func testCursorDelete(t *testing.T, s kv.Store, _ func() kv.Store) {
	var keys []string
	for i := range 700 {
		keys = append(keys, fmt.Sprintf("%04d", i))
	}
	fill(t, s, "d", keys...)
	update(t, s, func(tx kv.Tx) error {
		c := tx.Bucket([]byte("d")).Cursor()
		seen := 0
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			seen++
			var i int
			fmt.Sscanf(string(k), "%d", &i)
			if i%2 == 0 {
				if err := c.Delete(); err != nil {
					return err
				}
			}
		}
		if seen != 700 {
			t.Fatalf("walk deleting as it goes saw %d keys, want 700", seen)
		}
		return nil
	})
	update(t, s, func(tx kv.Tx) error {
		b := tx.Bucket([]byte("d"))
		if b.KeyN() != 350 {
			t.Fatalf("KeyN = %d after deleting every other key, want 350", b.KeyN())
		}
		if b.Get([]byte("0000")) != nil || b.Get([]byte("0001")) == nil {
			t.Fatal("wrong keys deleted")
		}
		// Delete all that is left in one walk.
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		if b.KeyN() != 0 {
			t.Fatalf("KeyN = %d after deleting all", b.KeyN())
		}
		return nil
	})
	if err := s.View(func(tx kv.Tx) error {
		c := tx.Bucket([]byte("d")).Cursor()
		c.First()
		return c.Delete()
	}); err == nil {
		t.Fatal("Cursor.Delete in a read transaction did not fail")
	}
}

// testOwnWrites: Get, KeyN, ForEach and Bucket see the transaction's own
// puts, overwrites and deletes before commit.
func testOwnWrites(t *testing.T, s kv.Store, _ func() kv.Store) {
	fill(t, s, "o", "a", "b")
	update(t, s, func(tx kv.Tx) error {
		b := tx.Bucket([]byte("o"))
		b.Put([]byte("a"), []byte("A"))
		b.Delete([]byte("b"))
		b.Put([]byte("c"), []byte("C"))
		b.Delete([]byte("absent"))
		if string(b.Get([]byte("a"))) != "A" || b.Get([]byte("b")) != nil || string(b.Get([]byte("c"))) != "C" {
			t.Fatal("Get does not see the transaction's own writes")
		}
		if b.KeyN() != 2 {
			t.Fatalf("KeyN = %d, want 2", b.KeyN())
		}
		samePairs(t, "ForEach", byForEach(t, b), []pair{{"a", "A"}, {"c", "C"}})
		// Another handle on the same bucket sees them too.
		b2 := tx.Bucket([]byte("o"))
		if string(b2.Get([]byte("c"))) != "C" {
			t.Fatal("a second handle does not see the writes")
		}
		return nil
	})
	view(t, s, func(tx kv.Tx) error {
		samePairs(t, "committed", pairs(tx.Bucket([]byte("o"))), []pair{{"a", "A"}, {"c", "C"}})
		return nil
	})
}

// testRollback: an error or a panic from fn keeps nothing fn did:
// values, buckets, sequences.
func testRollback(t *testing.T, s kv.Store, _ func() kv.Store) {
	fill(t, s, "r", "keep")
	errBoom := errors.New("boom")
	change := func(tx kv.Tx) {
		b := tx.Bucket([]byte("r"))
		b.Put([]byte("keep"), []byte("changed"))
		b.Put([]byte("new"), []byte("x"))
		b.NextSequence()
		tx.CreateBucket([]byte("new bucket"))
		tx.Bucket([]byte("r")).CreateBucketIfNotExists([]byte("nested"))
	}
	if err := s.Update(func(tx kv.Tx) error { change(tx); return errBoom }); !errors.Is(err, errBoom) {
		t.Fatalf("Update = %v, want fn's error", err)
	}
	func() {
		defer func() {
			if r := recover(); r != "panic in fn" {
				t.Fatalf("recovered %v, want fn's panic passed on", r)
			}
		}()
		s.Update(func(tx kv.Tx) error { change(tx); panic("panic in fn") })
	}()
	view(t, s, func(tx kv.Tx) error {
		b := tx.Bucket([]byte("r"))
		samePairs(t, "after rollback", pairs(b), []pair{{"keep", "vkeep"}})
		if b.Sequence() != 0 || tx.Bucket([]byte("new bucket")) != nil {
			t.Fatal("rolled back sequence or bucket kept")
		}
		return nil
	})
	// The store still works after the panic: the writer was released.
	fill(t, s, "r", "after")
}

// testOnCommit: OnCommit's functions run after commit, in order, once the
// writer is free again, and never when the transaction rolls back.
func testOnCommit(t *testing.T, s kv.Store, _ func() kv.Store) {
	fill(t, s, "oc")
	var ran []string
	update(t, s, func(tx kv.Tx) error {
		tx.Bucket([]byte("oc")).Put([]byte("k"), []byte("v"))
		tx.OnCommit(func() {
			ran = append(ran, "first")
			// The commit is visible to a new transaction by now.
			view(t, s, func(tx kv.Tx) error {
				if tx.Bucket([]byte("oc")).Get([]byte("k")) == nil {
					t.Error("OnCommit ran before the commit was visible")
				}
				return nil
			})
		})
		tx.OnCommit(func() {
			ran = append(ran, "second")
			// The writer is free again: a commit handler may write.
			update(t, s, func(tx kv.Tx) error { return tx.Bucket([]byte("oc")).Put([]byte("k2"), []byte("v2")) })
		})
		if len(ran) != 0 {
			t.Fatal("OnCommit ran before commit")
		}
		return nil
	})
	if !slices.Equal(ran, []string{"first", "second"}) {
		t.Fatalf("OnCommit ran %q", ran)
	}
	ran = nil
	s.Update(func(tx kv.Tx) error {
		tx.OnCommit(func() { ran = append(ran, "rolled back") })
		return errors.New("no")
	})
	if ran != nil {
		t.Fatal("OnCommit ran on rollback")
	}
}

// testSnapshot: a read transaction keeps seeing the data as it was when it
// began while a write commits, and does not block that write.
func testSnapshot(t *testing.T, s kv.Store, another func() kv.Store) {
	fill(t, s, "s", "a", "b", "c")
	for _, other := range []struct {
		name  string
		store func() kv.Store
	}{{"same instance", func() kv.Store { return s }}, {"another instance", another}} {
		w := other.store()
		view(t, s, func(tx kv.Tx) error {
			b := tx.Bucket([]byte("s"))
			before := pairs(b)
			done := make(chan error, 1)
			go func() {
				done <- w.Update(func(tx kv.Tx) error {
					b := tx.Bucket([]byte("s"))
					b.Put([]byte("a"), []byte(other.name))
					b.Delete([]byte("b"))
					b.Put([]byte("d"), []byte("D"))
					_, err := b.NextSequence()
					return err
				})
			}()
			if err := <-done; err != nil { // the writer is not blocked by this reader
				t.Fatal(err)
			}
			samePairs(t, "snapshot", pairs(b), before)
			samePairs(t, "snapshot by a new handle", pairs(tx.Bucket([]byte("s"))), before)
			if string(b.Get([]byte("a"))) == other.name || b.Get([]byte("b")) == nil {
				t.Fatal("read transaction saw a later commit")
			}
			if b.Sequence() != 0 && other.name == "same instance" {
				t.Fatal("read transaction saw a later sequence")
			}
			return nil
		})
		view(t, s, func(tx kv.Tx) error {
			if string(tx.Bucket([]byte("s")).Get([]byte("a"))) != other.name {
				t.Fatal("a new read transaction does not see the commit")
			}
			return nil
		})
		fill(t, s, "s", "a", "b", "c")
		update(t, s, func(tx kv.Tx) error { return tx.Bucket([]byte("s")).Delete([]byte("d")) })
	}
}

// counters runs read-modify-write increments from several goroutines on
// the given stores; with one writer at a time the count ends exact.
func counters(t *testing.T, stores []kv.Store, perWorker int) {
	fill(t, stores[0], "n")
	update(t, stores[0], func(tx kv.Tx) error { return tx.Bucket([]byte("n")).Put([]byte("n"), []byte("0")) })
	var wg sync.WaitGroup
	errs := make(chan error, len(stores)*2)
	for w := range len(stores) * 2 {
		s := stores[w%len(stores)]
		wg.Go(func() {
			for range perWorker {
				err := s.Update(func(tx kv.Tx) error {
					b := tx.Bucket([]byte("n"))
					var n int
					fmt.Sscanf(string(b.Get([]byte("n"))), "%d", &n)
					if err := b.Put([]byte("n"), fmt.Appendf(nil, "%d", n+1)); err != nil {
						return err
					}
					// A second key written from the same read, so an
					// interleaving writer shows as a mismatch too.
					_, err := b.NextSequence()
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	view(t, stores[0], func(tx kv.Tx) error {
		b := tx.Bucket([]byte("n"))
		want := len(stores) * 2 * perWorker
		if got := string(b.Get([]byte("n"))); got != fmt.Sprint(want) {
			t.Fatalf("counter = %s, want %d: writers interleaved", got, want)
		}
		if b.Sequence() != uint64(want) {
			t.Fatalf("sequence = %d, want %d", b.Sequence(), want)
		}
		return nil
	})
}

// testOneWriter: Updates from several goroutines never interleave.
func testOneWriter(t *testing.T, s kv.Store, _ func() kv.Store) {
	counters(t, []kv.Store{s}, 50)
}

// testOneWriterAcrossInstances: Updates through two Store instances on
// the same data (two daemons) never interleave.
func testOneWriterAcrossInstances(t *testing.T, s kv.Store, another func() kv.Store) {
	counters(t, []kv.Store{s, another()}, 40)
}

// testLargeValues: 1 MiB values and 32 KiB keys round-trip intact.
func testLargeValues(t *testing.T, s kv.Store, _ func() kv.Store) {
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	bigKey := bytes.Repeat([]byte{0xab}, 32768)
	update(t, s, func(tx kv.Tx) error {
		b, _ := tx.CreateBucket([]byte("big"))
		if err := b.Put([]byte("v"), big); err != nil {
			return err
		}
		if err := b.Put(bigKey, []byte("long key")); err != nil {
			return err
		}
		return b.Put([]byte("empty"), []byte{})
	})
	view(t, s, func(tx kv.Tx) error {
		b := tx.Bucket([]byte("big"))
		if !bytes.Equal(b.Get([]byte("v")), big) {
			t.Fatal("1 MiB value changed")
		}
		if string(b.Get(bigKey)) != "long key" {
			t.Fatal("32 KiB key lost")
		}
		if v := b.Get([]byte("empty")); v == nil || len(v) != 0 {
			t.Fatalf("empty value = %v, want empty and not nil", v)
		}
		c := b.Cursor()
		if k, v := c.Seek([]byte("v")); string(k) != "v" || !bytes.Equal(v, big) {
			t.Fatal("cursor's 1 MiB value changed")
		}
		return nil
	})
}

// testManyKeys: many keys in one transaction, and across several, count
// and walk exactly.
func testManyKeys(t *testing.T, s kv.Store, _ func() kv.Store) {
	const n = 5000
	update(t, s, func(tx kv.Tx) error {
		b, _ := tx.CreateBucket([]byte("many"))
		for i := range n {
			if err := b.Put(fmt.Appendf(nil, "%08d", (i*7919)%n), fmt.Appendf(nil, "%d", i)); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(tx kv.Tx) error {
		b := tx.Bucket([]byte("many"))
		if b.KeyN() != n {
			t.Fatalf("KeyN = %d", b.KeyN())
		}
		c := b.Cursor()
		i := 0
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if string(k) != fmt.Sprintf("%08d", i) {
				t.Fatalf("key %d = %q", i, k)
			}
			i++
		}
		if i != n {
			t.Fatalf("walked %d", i)
		}
		for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
			i--
		}
		if i != 0 {
			t.Fatalf("walked back to %d", i)
		}
		return nil
	})
}

// testErrors: Put refuses an empty or too long key;
// a read transaction refuses every write.
func testErrors(t *testing.T, s kv.Store, _ func() kv.Store) {
	fill(t, s, "e")
	update(t, s, func(tx kv.Tx) error {
		b := tx.Bucket([]byte("e"))
		if b.Put(nil, []byte("v")) == nil || b.Put([]byte{}, []byte("v")) == nil {
			t.Fatal("Put of an empty key did not fail")
		}
		if b.Put(make([]byte, 32769), []byte("v")) == nil {
			t.Fatal("Put of a key over 32768 bytes did not fail")
		}
		return nil
	})
	view(t, s, func(tx kv.Tx) error {
		b := tx.Bucket([]byte("e"))
		if b.Put([]byte("k"), []byte("v")) == nil {
			t.Fatal("Put in a read transaction did not fail")
		}
		if b.Delete([]byte("k")) == nil {
			t.Fatal("Delete in a read transaction did not fail")
		}
		if _, err := b.NextSequence(); err == nil {
			t.Fatal("NextSequence in a read transaction did not fail")
		}
		if b.SetSequence(3) == nil {
			t.Fatal("SetSequence in a read transaction did not fail")
		}
		if _, err := tx.CreateBucket([]byte("x")); err == nil {
			t.Fatal("CreateBucket in a read transaction did not fail")
		}
		if _, err := tx.CreateBucketIfNotExists([]byte("x")); err == nil {
			t.Fatal("CreateBucketIfNotExists in a read transaction did not fail")
		}
		if _, err := b.CreateBucketIfNotExists([]byte("x")); err == nil {
			t.Fatal("nested CreateBucketIfNotExists in a read transaction did not fail")
		}
		if tx.DeleteBucket([]byte("e")) == nil {
			t.Fatal("DeleteBucket in a read transaction did not fail")
		}
		return nil
	})
	view(t, s, func(tx kv.Tx) error {
		if b := tx.Bucket([]byte("e")); b == nil || b.Get([]byte("k")) != nil {
			t.Fatal("a refused write changed the store")
		}
		return nil
	})
}

// testClosed: transactions begun after Close fail.
func testClosed(t *testing.T, s kv.Store, _ func() kv.Store) {
	fill(t, s, "c", "a")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.View(func(kv.Tx) error { return nil }) == nil {
		t.Fatal("View after Close did not fail")
	}
	if s.Update(func(kv.Tx) error { return nil }) == nil {
		t.Fatal("Update after Close did not fail")
	}
}
