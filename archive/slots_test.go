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

// slotBox returns the stored box of a recording's data key and its
// plaintext (test-only view of what an attacker would look for).
func slotBox(t *testing.T, a *Archive, id ID) (box, dk []byte) {
	t.Helper()
	err := a.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketDataKeys).Get(id[:])
		if _, ok := parseSlotRef(v); !ok {
			t.Fatalf("data key of %s is not in a slot: %x", id, v)
		}
		b, err := a.dataKeyBox(id, v)
		if err != nil {
			return err
		}
		box = bytes.Clone(b)
		dk, err = a.unwrapDataKey(id, box)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return box, dk
}

// TestPurgeDefeatsFileCopy: after a purge, a copy of the archive file and
// of the data-key file — taken before any compaction, with the purged
// recording's chunks possibly still in bbolt's free pages — holds neither
// the recording's data key nor its wrapped form, so even with the archive
// key its chunks cannot be decrypted. Before the purge both are found
// (the check can fail).
func TestPurgeDefeatsFileCopy(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	keyFile := keyFileOf(a)
	victim := sealed(t, a, data(3*ChunkSize+17, 21), data(500, 22))
	keep := sealed(t, a, data(ChunkSize, 23), nil)
	box, dk := slotBox(t, a, victim.ID)
	contains := func(path string, needles ...[]byte) bool {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range needles {
			if bytes.Contains(b, n) {
				return true
			}
		}
		return false
	}
	if !contains(SlotFile(a.Path()), box) {
		t.Fatal("the data-key file does not hold the wrapped key before the purge: the check below proves nothing")
	}
	if err := a.Delete(ctx, victim.ID, "admin", "purge"); err != nil {
		t.Fatal(err)
	}
	// Copy both files while the archive is open, as a thief would.
	dir := t.TempDir()
	copyDB, copyKeys := filepath.Join(dir, "archive.db"), SlotFile(filepath.Join(dir, "archive.db"))
	copyFile(t, a.Path(), copyDB)
	copyFile(t, SlotFile(a.Path()), copyKeys)
	copyFile(t, keyFile, filepath.Join(dir, "archive.key"))
	for _, p := range []string{copyDB, copyKeys} {
		if contains(p, box, box[1:], dk) {
			t.Errorf("%s still holds the purged recording's data key", filepath.Base(p))
		}
	}
	// The copy opens with the archive key; the purged recording is gone,
	// the other one reads.
	b, err := Open(copyDB, Options{KeyFile: filepath.Join(dir, "archive.key"), KDF: FastKDF()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.OpenBlob(ctx, victim.ID, BlobOriginal); !errors.Is(err, ErrNotFound) {
		t.Fatalf("purged recording in the copy: %v", err)
	}
	if got := readBlob(t, b, keep.ID, BlobOriginal); !bytes.Equal(got, data(ChunkSize, 23)) {
		t.Fatal("other recording unreadable in the copy")
	}
	if res, err := b.VerifyChain(ctx); err != nil || !res.Valid || res.Tombstones != 1 {
		t.Fatalf("chain of the copy: %v %+v", err, res)
	}
}

// TestSlotSweep: a slot written for a transaction that never committed is
// zeroed at the next Open; a recording whose slot was zeroed by a purge
// that did not commit is purged at the next Open, with a tombstone.
func TestSlotSweep(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	r1 := sealed(t, a, data(1000, 1), nil)
	r2 := sealed(t, a, data(1000, 2), nil)
	path := a.Path()
	// Simulate both crashes on the closed files.
	var n1 uint64
	_ = a.view(func(tx *bolt.Tx) error {
		n1, _ = parseSlotRef(tx.Bucket(bucketDataKeys).Get(r1.ID[:]))
		return nil
	})
	a.Close()
	s, err := openSlots(SlotFile(path), false)
	if err != nil {
		t.Fatal(err)
	}
	orphan := s.alloc()
	if err := s.put(orphan, NewID(), make([]byte, boxOverhead+keyLen)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.f.WriteAt(make([]byte, slotSize), int64(n1*slotSize)); err != nil { // r1's purge, cut off
		t.Fatal(err)
	}
	s.close()
	b := reopen(t, a)
	if _, err := b.Get(ctx, r1.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("recording with a zeroed slot: %v", err)
	}
	if _, err := b.Get(ctx, r2.ID); err != nil {
		t.Fatal(err)
	}
	res, err := b.VerifyChain(ctx)
	if err != nil || !res.Valid || res.Tombstones != 1 {
		t.Fatalf("chain: %v %+v", err, res)
	}
	if who, _, err := b.TombstoneNote(ctx, res.HeadSeq); err != nil || who != SystemActor {
		t.Errorf("tombstone by %q: %v", who, err)
	}
	raw, _ := os.ReadFile(SlotFile(path))
	if !isZero(raw[orphan*slotSize : (orphan+1)*slotSize]) {
		t.Error("orphan slot not zeroed")
	}
	// Freed slots are reused.
	r3 := sealed(t, b, data(10, 3), nil)
	var n3 uint64
	_ = b.view(func(tx *bolt.Tx) error {
		n3, _ = parseSlotRef(tx.Bucket(bucketDataKeys).Get(r3.ID[:]))
		return nil
	})
	if n3 != min(n1, orphan) {
		t.Errorf("new recording got slot %d, want the freed %d", n3, min(n1, orphan))
	}
}

// TestSlotFileMismatch: an archive file whose data-key file is missing or
// belongs to another state is refused, not purged.
func TestSlotFileMismatch(t *testing.T) {
	a := OpenTest(t)
	for i := range 3 {
		sealed(t, a, data(100, uint64(i)), nil)
	}
	path := a.Path()
	a.Close()
	keys, _ := os.ReadFile(SlotFile(path))
	os.Remove(SlotFile(path))
	opt := Options{KeyFile: keyFileOf(a), KDF: FastKDF()}
	if _, err := Open(path, opt); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("missing data-key file: %v", err)
	}
	// A data-key file from before the recordings existed.
	if err := os.WriteFile(SlotFile(path), keys[:slotSize], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, opt); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short data-key file: %v", err)
	}
	if err := os.WriteFile(SlotFile(path), keys, 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := Open(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
}

// TestSchema2Migration: an archive whose data keys are stored in bbolt
// (schema 2) gets them moved into the data-key file at Open, and reads as
// before.
func TestSchema2Migration(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	r := sealed(t, a, data(2*ChunkSize, 5), data(10, 6))
	path := a.Path()
	_, dk := slotBox(t, a, r.ID)
	a.Close()
	// Turn it into schema 2: inline wrapped key, no data-key file.
	db := openBolt(t, path)
	if err := db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketDataKeys).Put(r.ID[:], a.wrapDataKey(r.ID, dk)); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(metaSchema, binary.BigEndian.AppendUint64(nil, 2))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	os.Remove(SlotFile(path))
	b := reopen(t, a)
	if got := readBlob(t, b, r.ID, BlobOriginal); !bytes.Equal(got, data(2*ChunkSize, 5)) {
		t.Fatal("migrated recording unreadable")
	}
	if b.storedSchema() != schemaVersion {
		t.Errorf("schema %d after migration", b.storedSchema())
	}
	box, _ := slotBox(t, b, r.ID)
	if len(box) != boxOverhead+keyLen {
		t.Errorf("box %d bytes", len(box))
	}
	if res, err := b.Verify(ctx, r.ID, nil); err != nil || !res.Valid {
		t.Fatalf("verify: %v %+v", err, res)
	}
}
