package archive

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/callvault/callvault/archive/kv"
)

// chainFixture: 5 sealed recordings, one deleted (tombstone), one more
// sealed after the deletion.
func chainFixture(t *testing.T) (*Archive, []*Recording) {
	t.Helper()
	a := OpenTest(t)
	ctx := t.Context()
	var recs []*Recording
	for i := range 5 {
		r := record(t, a, NewRecording{CallGUID: "g"}, data(1000*i, uint64(i)), data(16*i, 9), Final{Info: []byte(`{}`)})
		exp := [][32]byte{sha256.Sum256([]byte{byte(i)}), sha256.Sum256([]byte{byte(i), 1})}
		if err := a.Seal(ctx, r.ID, exp); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if err := a.Delete(ctx, recs[1].ID, "admin", "request of the data subject"); err != nil {
		t.Fatal(err)
	}
	r := record(t, a, NewRecording{}, data(10, 10), nil, Final{})
	if err := a.Seal(ctx, r.ID, nil); err != nil {
		t.Fatal(err)
	}
	recs = append(recs, r)
	return a, recs
}

func TestSealChain(t *testing.T) {
	a, recs := chainFixture(t)
	ctx := t.Context()
	res, err := a.VerifyChain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Valid || res.Entries != 7 || res.Seals != 6 || res.Tombstones != 1 || res.HeadSeq != 7 {
		t.Fatalf("chain: %+v", res)
	}
	for i, r := range recs {
		if i == 1 {
			continue
		}
		g, err := a.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		s := g.Seal
		if s == nil || s.ID != r.ID || s.MetaSHA256 != g.MetaSHA256() || s.OrigSHA256 != g.OrigSHA256 {
			t.Fatalf("seal of %d: %+v", i, s)
		}
		if err := s.Verify(a.PublicKey()); err != nil {
			t.Fatal(err)
		}
		other, _, _ := ed25519.GenerateKey(nil)
		if err := s.Verify(other); !errors.Is(err, ErrCorrupt) {
			t.Fatal("seal verified with another key")
		}
		b, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParseSeal(b)
		if err != nil || p.Hash != s.Hash || !p.Time.Equal(s.Time) || p.Seq != s.Seq {
			t.Fatalf("ParseSeal round trip: %v", err)
		}
		exports := func(*Recording) ([][32]byte, error) { return s.Exports, nil }
		if res, err := a.Verify(ctx, r.ID, exports); err != nil || !res.Valid || !res.Sealed {
			t.Fatalf("verify %d: %v %v", i, err, res.Problems)
		}
	}
	if s, _ := a.Get(ctx, recs[0].ID); s.Seal.Prev != GenesisHash(a.PublicKey()) {
		t.Fatal("first seal does not start at genesis")
	}
	// Exports that differ are reported.
	res, err = a.Verify(ctx, recs[2].ID, func(*Recording) ([][32]byte, error) {
		return [][32]byte{sha256.Sum256([]byte{2}), {}}, nil
	})
	if err != nil || res.Valid || !hasProblem(res, "export 1: sha256 differs") || hasProblem(res, "export 0") {
		t.Fatalf("export mismatch: %v %v", err, res.Problems)
	}
	res, _ = a.Verify(ctx, recs[2].ID, func(*Recording) ([][32]byte, error) { return nil, nil })
	if !hasProblem(res, "exports: 0 computed, 2 sealed") {
		t.Fatalf("export count: %v", res.Problems)
	}
}

func TestChainTamper(t *testing.T) {
	cases := []struct {
		name     string
		tamper   func(t *testing.T, a *Archive, tx kv.Tx, recs []*Recording) error
		chain    []string
		recIndex int // recording whose Verify must fail, -1 none
		rec      string
	}{
		{"remove seal entry", func(t *testing.T, a *Archive, tx kv.Tx, _ []*Recording) error {
			return tx.Bucket(bucketChain).Delete(seqKey(3))
		}, []string{"chain entries 3..3 missing (removed)", "chain entry 4: does not link", "its seal 3 is missing from the chain"}, 2, "seal 3: chain entry missing"},
		{"remove tombstone", func(t *testing.T, a *Archive, tx kv.Tx, _ []*Recording) error {
			return tx.Bucket(bucketChain).Delete(seqKey(6))
		}, []string{"chain entries 6..6 missing", "chain entry 7: does not link", "(seal 2) is gone without a tombstone"}, 5, "previous chain entry 6 missing"},
		{"remove last entry", func(t *testing.T, a *Archive, tx kv.Tx, _ []*Recording) error {
			return tx.Bucket(bucketChain).Delete(seqKey(7))
		}, []string{"chain head record names entry 7, but the chain ends at entry 6", "its seal 7 is missing"}, 5, "seal 7: chain entry missing"},
		{"insert entry", func(t *testing.T, a *Archive, tx kv.Tx, _ []*Recording) error {
			b := tx.Bucket(bucketChain)
			v := bytes.Clone(b.Get(seqKey(2)))
			return b.Put(append(seqKey(2), 0), v)
		}, []string{"entry under a key of length 9 (inserted)"}, -1, ""},
		{"replace entry", func(t *testing.T, a *Archive, tx kv.Tx, _ []*Recording) error {
			b := tx.Bucket(bucketChain)
			return b.Put(seqKey(4), bytes.Clone(b.Get(seqKey(5))))
		}, []string{"chain entry 5: stored under key 4", "chain entry 5: does not link"}, 3, "seal 4: chain entry belongs to seq 5"},
		{"flip signature", func(t *testing.T, a *Archive, tx kv.Tx, _ []*Recording) error {
			b := tx.Bucket(bucketChain)
			v := bytes.Clone(b.Get(seqKey(1)))
			v[len(v)-1] ^= 1
			return b.Put(seqKey(1), v)
		}, []string{"chain entry 1: bad signature", "chain entry 2: does not link"}, 0, "seal 1: bad signature"},
		{"delete recording without tombstone", func(t *testing.T, a *Archive, tx kv.Tx, recs []*Recording) error {
			for _, b := range [][]byte{bucketRecs, bucketDataKeys} {
				if err := tx.Bucket(b).Delete(recs[3].ID[:]); err != nil {
					return err
				}
			}
			return nil
		}, []string{"(seal 4) is gone without a tombstone"}, -1, ""},
		{"altered metadata", func(t *testing.T, a *Archive, tx kv.Tx, recs []*Recording) error {
			// An attacker holding the key rewrites the file name.
			id := recs[4].ID
			// a is closed: its keys are in memory, its data-key file
			// is opened again here.
			s, err := openSlots(SlotFile(a.Path()), false)
			if err != nil {
				return err
			}
			defer s.close()
			a.slots = s
			m, dk, err := a.loadTx(tx, id)
			if err != nil {
				return err
			}
			m.FileName = "forged.pcap"
			aead, _ := metaAEAD(dk)
			box, _ := sealMeta(aead, id, m)
			return tx.Bucket(bucketRecs).Put(id[:], box)
		}, nil, 4, "seal 5: metadata hash differs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, recs := chainFixture(t)
			a = withBolt(t, a, func(tx kv.Tx) error { return c.tamper(t, a, tx, recs) })
			res, err := a.VerifyChain(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if c.chain != nil && res.Valid {
				t.Fatal("chain still valid")
			}
			for _, p := range c.chain {
				if !hasProblem(res, p) {
					t.Errorf("chain problems %q lack %q", res.Problems, p)
				}
			}
			if c.recIndex >= 0 {
				r := mustVerify(t, a, recs[c.recIndex].ID)
				if r.Valid || !hasProblem(r, c.rec) {
					t.Errorf("verify problems %q lack %q", r.Problems, c.rec)
				}
			}
		})
	}
}
