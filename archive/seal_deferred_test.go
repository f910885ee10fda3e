package archive

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/callvault/callvault/archive/kv"

	"github.com/callvault/callvault/archive/seal"
)

// deferredFixture: one recording sealed with its exports (the old,
// single-entry form) and one sealed deferred, its exports entry not yet
// written.
func deferredFixture(t *testing.T) (a *Archive, old, pending *Recording) {
	t.Helper()
	a = OpenTest(t)
	ctx := t.Context()
	old = record(t, a, NewRecording{}, data(3000, 1), data(64, 2), Final{Info: []byte(`{}`)})
	if err := a.Seal(ctx, old.ID, [][32]byte{sha256.Sum256([]byte("old"))}); err != nil {
		t.Fatal(err)
	}
	pending = record(t, a, NewRecording{}, data(5000, 3), data(80, 4), Final{Info: []byte(`{}`)})
	if err := a.SealDeferred(ctx, pending.ID); err != nil {
		t.Fatal(err)
	}
	return a, old, pending
}

func fixedExports(want [][32]byte, called *int) func(*Recording) ([][32]byte, error) {
	return func(*Recording) ([][32]byte, error) {
		*called++
		return want, nil
	}
}

func TestDeferredSealPendingThenDone(t *testing.T) {
	a, old, rec := deferredFixture(t)
	ctx := t.Context()
	exp := [][32]byte{sha256.Sum256([]byte("call 1")), sha256.Sum256([]byte("call 2"))}

	// Pending: original, map and metadata sealed; the exports are due.
	g, err := a.Get(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if g.Seal == nil || !g.Seal.Deferred || !g.Seal.Pending() || g.Seal.Exports != nil {
		t.Fatalf("pending seal: %+v", g.Seal)
	}
	if due, err := a.ExportsDue(ctx); err != nil || !slices.Equal(due, []ID{rec.ID}) {
		t.Fatalf("due: %v %v", due, err)
	}
	if u, err := a.Usage(ctx); err != nil || u.ExportsDue != 1 {
		t.Fatalf("usage: %+v %v", u, err)
	}
	calls := 0
	res, err := a.Verify(ctx, rec.ID, fixedExports(exp, &calls))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Valid || !res.Sealed || !res.ExportsPending || calls != 0 {
		t.Fatalf("pending verify: %+v, exports computed %d times", res, calls)
	}
	if st, err := a.CheckPlayback(ctx, rec.ID); err != nil || st != SealValid {
		t.Fatalf("playback check: %v %v", st, err)
	}
	chain, err := a.VerifyChain(ctx)
	if err != nil || !chain.Valid || chain.Entries != 2 || chain.Seals != 2 || chain.Exports != 0 {
		t.Fatalf("chain while pending: %+v %v", chain, err)
	}

	// Done: the second entry signs the export hashes.
	if err := a.SealExports(ctx, rec.ID, exp); err != nil {
		t.Fatal(err)
	}
	if err := a.SealExports(ctx, rec.ID, exp); !errors.Is(err, ErrState) {
		t.Fatalf("second exports entry: %v", err)
	}
	if err := a.SealExports(ctx, old.ID, exp); !errors.Is(err, ErrState) {
		t.Fatalf("exports entry for a seal that holds its exports: %v", err)
	}
	if due, err := a.ExportsDue(ctx); err != nil || len(due) != 0 {
		t.Fatalf("due after: %v %v", due, err)
	}
	g, err = a.Get(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	s := g.Seal
	if s.Pending() || s.Later == nil || s.Later.Seq != s.Seq+1 || s.Later.SealSeq != s.Seq || !slices.Equal(s.Exports, exp) {
		t.Fatalf("seal with its exports entry: %+v", s)
	}
	if err := s.Verify(a.PublicKey()); err != nil {
		t.Fatalf("offline check of both entries: %v", err)
	}
	res, err = a.Verify(ctx, rec.ID, fixedExports(exp, &calls))
	if err != nil || !res.Valid || res.ExportsPending || calls != 1 {
		t.Fatalf("verify when done: %+v %v, exports computed %d times", res, err, calls)
	}
	// Stored audio that renders differently than the sealed hashes.
	res, err = a.Verify(ctx, rec.ID, fixedExports(exp[:1], &calls))
	if err != nil || res.Valid || !hasProblem(res, "1 computed, 2 sealed") {
		t.Fatalf("verify with other exports: %+v %v", res, err)
	}
	chain, err = a.VerifyChain(ctx)
	if err != nil || !chain.Valid || chain.Entries != 3 || chain.Exports != 1 {
		t.Fatalf("chain when done: %+v %v", chain, err)
	}

	// The single-entry seal made before deferred seals verifies as before.
	g, err = a.Get(ctx, old.ID)
	if err != nil || g.Seal.Deferred || len(g.Seal.Exports) != 1 {
		t.Fatalf("old seal: %+v %v", g.Seal, err)
	}
	res, err = a.Verify(ctx, old.ID, fixedExports(g.Seal.Exports, &calls))
	if err != nil || !res.Valid || res.ExportsPending {
		t.Fatalf("old seal verify: %+v %v", res, err)
	}
}

// A restart between the seal and its exports entry: the due list is in
// the file, written with the seal.
func TestDeferredSealDueSurvivesReopen(t *testing.T) {
	a, _, rec := deferredFixture(t)
	a = reopen(t, a)
	ctx := t.Context()
	due, err := a.ExportsDue(ctx)
	if err != nil || !slices.Equal(due, []ID{rec.ID}) {
		t.Fatalf("due after reopen: %v %v", due, err)
	}
	if err := a.SealExports(ctx, rec.ID, nil); err != nil {
		t.Fatal(err)
	}
	calls := 0
	if res, err := a.Verify(ctx, rec.ID, fixedExports(nil, &calls)); err != nil || !res.Valid || res.ExportsPending {
		t.Fatalf("verify: %+v %v", res, err)
	}
}

// Deleting a recording whose exports are due takes it off the due list.
func TestDeferredSealDeleteWhileDue(t *testing.T) {
	a, _, rec := deferredFixture(t)
	ctx := t.Context()
	if err := a.Delete(ctx, rec.ID, "admin", "test"); err != nil {
		t.Fatal(err)
	}
	if due, err := a.ExportsDue(ctx); err != nil || len(due) != 0 {
		t.Fatalf("due: %v %v", due, err)
	}
	if err := a.SealExports(ctx, rec.ID, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("exports of a deleted recording: %v", err)
	}
	if chain, err := a.VerifyChain(ctx); err != nil || !chain.Valid {
		t.Fatalf("chain: %+v %v", chain, err)
	}
}

// An exports entry replaced in the file, by one signed with another key
// or with a hash changed, or removed from the chain, fails verification.
func TestForgedExportsEntryFails(t *testing.T) {
	exp := [][32]byte{sha256.Sum256([]byte("call"))}
	forged := [][32]byte{sha256.Sum256([]byte("other audio"))}
	_, otherKey, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		edit    func(t *testing.T, e *seal.Entry) []byte
		problem string
	}{
		"signed by another key": {func(t *testing.T, e *seal.Entry) []byte {
			e.Exports = forged
			e.Sign(otherKey)
			return e.Marshal()
		}, "bad signature"},
		"hash changed": {func(t *testing.T, e *seal.Entry) []byte {
			e.Exports = forged
			return e.Marshal()
		}, "bad signature"},
		"removed": {func(t *testing.T, e *seal.Entry) []byte { return nil }, "chain entry missing"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			a, _, rec := deferredFixture(t)
			ctx := t.Context()
			if err := a.SealExports(ctx, rec.ID, exp); err != nil {
				t.Fatal(err)
			}
			g, err := a.Get(ctx, rec.ID)
			if err != nil {
				t.Fatal(err)
			}
			key := seqKey(g.Seal.Later.Seq)
			a = withBolt(t, a, func(tx kv.Tx) error {
				b := tx.Bucket(bucketChain)
				e, err := seal.ParseEntry(b.Get(key))
				if err != nil {
					t.Fatal(err)
				}
				if v := c.edit(t, e); v != nil {
					return b.Put(key, v)
				}
				return b.Delete(key)
			})
			calls := 0
			res, err := a.Verify(ctx, rec.ID, fixedExports(forged, &calls))
			if err != nil {
				t.Fatal(err)
			}
			if res.Valid || !hasProblem(res, c.problem) {
				t.Fatalf("verify: %+v", res)
			}
			chain, err := a.VerifyChain(ctx)
			if err != nil || chain.Valid {
				t.Fatalf("chain: %+v %v", chain, err)
			}
			if g, err := a.Get(ctx, rec.ID); err == nil && g.Seal.Verify(a.PublicKey()) == nil && !g.Seal.Pending() {
				t.Fatal("the forged entry verifies offline")
			}
		})
	}
}

// salvageDeferredFixture: A sealed with its exports entry (entries 1, 2),
// B deferred and due (3), C sealed with its exports entry (4, 5).
func salvageDeferredFixture(t *testing.T) (dir string, ids []ID) {
	t.Helper()
	a := OpenTest(t)
	ctx := t.Context()
	for i := range 3 {
		r := record(t, a, NewRecording{}, data(2000+i, uint64(i)), data(32, 5), Final{Info: []byte(`{}`)})
		if err := a.SealDeferred(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
		if i != 1 {
			if err := a.SealExports(ctx, r.ID, [][32]byte{{byte(i)}}); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, r.ID)
	}
	dir = filepath.Dir(a.Path())
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, ids
}

func TestSalvageDeferredSeals(t *testing.T) {
	ctx := t.Context()
	t.Run("intact", func(t *testing.T) {
		dir, ids := salvageDeferredFixture(t)
		res, b := salvageInto(t, dir)
		if !res.Complete() || res.ChainKept != 5 || !res.Chain.Valid {
			t.Fatalf("%+v", res)
		}
		if due, err := b.ExportsDue(ctx); err != nil || !slices.Equal(due, []ID{ids[1]}) {
			t.Fatalf("due: %v %v", due, err)
		}
		for i, id := range ids {
			v, err := b.Verify(ctx, id, nil)
			if err != nil || !v.Valid || v.ExportsPending != (i == 1) {
				t.Fatalf("recording %d: %+v %v", i, v, err)
			}
		}
	})
	t.Run("exports entry lost", func(t *testing.T) {
		dir, ids := salvageDeferredFixture(t)
		db := openBolt(t, filepath.Join(dir, "archive.db"))
		if err := db.Update(func(tx kv.Tx) error { return tx.Bucket(bucketChain).Delete(seqKey(2)) }); err != nil {
			t.Fatal(err)
		}
		db.Close()
		res, b := salvageInto(t, dir)
		if res.ChainKept != 1 || res.Resealed != 2 || !res.Chain.Valid {
			t.Fatalf("%+v", res)
		}
		// A keeps its seal, its exports entry is gone: due again; B and C
		// are sealed again, deferred: due.
		due, err := b.ExportsDue(ctx)
		if err != nil || len(due) != 3 {
			t.Fatalf("due: %v %v", due, err)
		}
		for _, id := range ids {
			if err := b.SealExports(ctx, id, nil); err != nil {
				t.Fatal(err)
			}
			if v, err := b.Verify(ctx, id, nil); err != nil || !v.Valid || v.ExportsPending {
				t.Fatalf("%s: %+v %v", id, v, err)
			}
		}
		if v, err := b.VerifyChain(ctx); err != nil || !v.Valid {
			t.Fatalf("chain: %+v %v", v, err)
		}
	})
}
