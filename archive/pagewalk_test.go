package archive

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// walkPath runs walkFile over the bbolt file at path.
func walkPath(t testing.TB, path string) error {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return walkFile(f, os.Getpagesize())
}

// TestWalkPagesSound: a sound archive (nested buckets, overflow pages,
// branch pages, deletions that free pages) walks without a problem, and
// bbolt's own check agrees.
func TestWalkPagesSound(t *testing.T) {
	dir, _ := damageFixture(t)
	path := filepath.Join(dir, "archive.db")
	if err := walkPath(t, path); err != nil {
		t.Fatalf("sound file: %v", err)
	}

	// A plain bbolt file with many keys in nested buckets: branch pages
	// several levels deep, large values on overflow pages, and deletions.
	p := boltTree(t, 40, 200)
	if err := walkPath(t, p); err != nil {
		t.Fatalf("sound tree: %v", err)
	}
}

// boltTree writes a bbolt file of n nested buckets with keys+20·i keys
// each, some values spilling onto overflow pages, one bucket deleted and
// one inline, and returns its path.
func boltTree(tb testing.TB, n, keys int) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "tree.db")
	db, err := bolt.Open(p, 0o600, &bolt.Options{NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		tb.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		top, err := tx.CreateBucket([]byte("top"))
		if err != nil {
			return err
		}
		for i := range n {
			b, err := top.CreateBucket(binary.BigEndian.AppendUint32(nil, uint32(i)))
			if err != nil {
				return err
			}
			for j := range keys + i*20 {
				v := make([]byte, 20+(j%7)*3000)
				if err := b.Put(binary.BigEndian.AppendUint32(nil, uint32(j)), v); err != nil {
					return err
				}
			}
		}
		_, err = tx.CreateBucket([]byte("inline"))
		return err
	})
	if err == nil {
		err = db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("top")).DeleteBucket(binary.BigEndian.AppendUint32(nil, uint32(n/2)))
		})
	}
	if err != nil {
		tb.Fatal(err)
	}
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
	return p
}

// TestWalkPagesDamage: damage bbolt's free-page scan reports (or trips
// over) is reported here, as a CorruptError naming the page.
func TestWalkPagesDamage(t *testing.T) {
	dir, _ := damageFixture(t)
	path := filepath.Join(dir, "archive.db")
	pages, ps := reachablePages(t, path)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var leaf, branch *pageInfo
	for i := range pages {
		switch {
		case pages[i].typ == "leaf" && leaf == nil:
			leaf = &pages[i]
		case pages[i].typ == "branch" && branch == nil:
			branch = &pages[i]
		}
	}
	if leaf == nil || branch == nil {
		t.Fatalf("the fixture lacks a leaf or a branch page: %+v", pages)
	}
	put16 := func(b []byte, off int, v uint16) { binary.LittleEndian.PutUint16(b[off:], v) }
	put32 := func(b []byte, off int, v uint32) { binary.LittleEndian.PutUint32(b[off:], v) }
	put64 := func(b []byte, off int, v uint64) { binary.LittleEndian.PutUint64(b[off:], v) }
	cases := []struct {
		name   string
		change func(b []byte)
	}{
		{"page names another page", func(b []byte) { put64(b, int(leaf.id)*ps, uint64(leaf.id)+1) }},
		{"unknown page type", func(b []byte) { put16(b, int(leaf.id)*ps+8, 0x40) }},
		{"overflow past the end of the file", func(b []byte) { put32(b, int(leaf.id)*ps+12, 1<<30) }},
		{"branch points outside the file", func(b []byte) { put64(b, int(branch.id)*ps+16+8, 1<<40) }},
		{"branch points at a page twice", func(b []byte) {
			first := binary.LittleEndian.Uint64(b[int(branch.id)*ps+16+8:])
			put64(b, int(branch.id)*ps+16+16+8, first)
		}},
		{"element outside the page", func(b []byte) { put32(b, int(leaf.id)*ps+16+4, uint32(ps)*64) }},
		{"too many elements", func(b []byte) { put16(b, int(leaf.id)*ps+10, 0xffff) }},
		{"keys out of order", func(b []byte) {
			// The leaf's first two keys swap places: same lengths in this
			// fixture's fixed-size keys are not guaranteed, so swap the
			// element headers instead.
			e := int(leaf.id)*ps + 16
			var tmp [16]byte
			copy(tmp[:], b[e:e+16])
			copy(b[e:e+16], b[e+16:e+32])
			copy(b[e+16:e+32], tmp[:])
			// Positions are relative to each element: fix them up.
			put32(b, e+4, binary.LittleEndian.Uint32(b[e+4:])+16)
			put32(b, e+16+4, binary.LittleEndian.Uint32(b[e+16+4:])-16)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := bytes.Clone(orig)
			c.change(b)
			err := walkPages(b, ps)
			var ce *CorruptError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("walkPages: %v", err)
			}
		})
	}
}

// FuzzWalkPages: whatever the bytes, walkPages returns (an error at most)
// and never panics or reads outside what it was given.
func FuzzWalkPages(f *testing.F) {
	orig, err := os.ReadFile(boltTree(f, 4, 30))
	if err != nil {
		f.Fatal(err)
	}
	ps := os.Getpagesize()
	f.Add(uint32(0), byte(0), uint16(0))
	f.Add(uint32(2*ps+8), byte(0x40), uint16(0))
	f.Add(uint32(3*ps+16), byte(0xff), uint16(9))
	f.Fuzz(func(t *testing.T, off uint32, mask byte, cut uint16) {
		b := bytes.Clone(orig)
		if int(off) < len(b) {
			b[off] ^= mask
		}
		if int(cut) < len(b) {
			b = b[:len(b)-int(cut)]
		}
		_ = walkPages(b, ps)
	})
}
