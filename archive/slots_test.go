package archive

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callvault/callvault/archive/kv"
	bolt "go.etcd.io/bbolt"
)

// slotBox returns the stored box of a recording's data key and its
// plaintext (test-only view of what an attacker would look for).
func slotBox(t *testing.T, a *Archive, id ID) (box, dk []byte) {
	t.Helper()
	err := a.view(func(tx kv.Tx) error {
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
	skipOnPostgres(t, "tests the data-key file, which only bbolt keeps (TestDataKeysOnPostgres is its PostgreSQL + S3 counterpart)")
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
	copyFile(t, ChunkFile(a.Path()), ChunkFile(copyDB))
	copyFile(t, keyFile, filepath.Join(dir, "archive.key"))
	for _, p := range []string{copyDB, copyKeys, ChunkFile(copyDB)} {
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
	skipOnPostgres(t, "tests the data-key file, which only bbolt keeps")
	a := OpenTest(t)
	ctx := t.Context()
	r1 := sealed(t, a, data(1000, 1), nil)
	r2 := sealed(t, a, data(1000, 2), nil)
	path := a.Path()
	// Simulate both crashes on the closed files.
	var n1 uint64
	_ = a.view(func(tx kv.Tx) error {
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
	_ = b.view(func(tx kv.Tx) error {
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
	skipOnPostgres(t, "tests the data-key file, which only bbolt keeps")
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
	skipOnPostgres(t, "tests the move of data keys into the data-key file, which only bbolt keeps")
	a := OpenTest(t)
	ctx := t.Context()
	r := sealed(t, a, data(2*ChunkSize, 5), data(10, 6))
	path := a.Path()
	_, dk := slotBox(t, a, r.ID)
	a.Close()
	// Turn it into schema 2: inline wrapped key, no data-key file.
	db := openBolt(t, path)
	if err := db.Update(func(tx kv.Tx) error {
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

// testStore is a further bbolt store for backups, with a key file of its
// own when keys is set (as the external-link store keeps one).
type testStore struct {
	db   *bolt.DB
	keys []byte
}

func (s *testStore) BackupSnapshot(fn func(tx *bolt.Tx, keys io.Reader, keysLen int64) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		if s.keys == nil {
			return fn(tx, nil, 0)
		}
		// Reads short, as a slot allocated but not yet written does.
		return fn(tx, bytes.NewReader(s.keys), int64(len(s.keys))+8)
	})
}

func openTestStore(tb testing.TB, path, value string, keys []byte) *testStore {
	tb.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("b"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte(value))
	})
	if err != nil {
		tb.Fatal(err)
	}
	return &testStore{db: db, keys: keys}
}

func testKeyFile(p string) string { return p + ".k" }

// testParts are two further stores, one with a key file ("links.db",
// "links.db.k") and one without ("hooks.db"), extracting into dir.
func testParts(tb testing.TB, dir string, open bool) []BackupPart {
	parts := []BackupPart{
		{Name: "links.db", KeyFile: testKeyFile, Path: filepath.Join(dir, "links.db")},
		{Name: "hooks.db", Path: filepath.Join(dir, "hooks.db")},
	}
	if open {
		src := tb.TempDir()
		parts[0].Store = openTestStore(tb, filepath.Join(src, "links.db"), "a link", []byte("link keys"))
		parts[1].Store = openTestStore(tb, filepath.Join(src, "hooks.db"), "a webhook", nil)
	}
	return parts
}

func storeValue(t *testing.T, path string) string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte("b")); b != nil {
			v = string(b.Get([]byte("k")))
		}
		return nil
	})
	return v
}

// retar copies a backup without the entries drop names and with add
// appended.
func retar(t *testing.T, in []byte, drop []string, add map[string][]byte) []byte {
	t.Helper()
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	tr := tar.NewReader(bytes.NewReader(in))
	dropped := map[string]bool{}
	for _, n := range drop {
		dropped[n] = true
	}
	for h, err := tr.Next(); !errors.Is(err, io.EOF); h, err = tr.Next() {
		if err != nil {
			t.Fatal(err)
		}
		if dropped[h.Name] {
			continue
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			t.Fatal(err)
		}
	}
	for name, b := range add {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestBackupRoundTrip: a backup (tar of both files) extracts into a
// working archive; a bare archive file (older backups) extracts too.
func TestBackupRoundTrip(t *testing.T) {
	a := OpenTest(t)
	r := sealed(t, a, data(ChunkSize+3, 7), nil)
	var buf bytes.Buffer
	n, err := a.WriteBackup(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("backup: %d %v (%d bytes)", n, err, buf.Len())
	}
	dir := t.TempDir()
	dst := filepath.Join(dir, "restored.db")
	if _, err := ExtractBackup(bytes.NewReader(buf.Bytes()), dst); err != nil {
		t.Fatal(err)
	}
	b, err := Open(dst, Options{KeyFile: keyFileOf(a), KDF: FastKDF()})
	if err != nil {
		t.Fatal(err)
	}
	if got := readBlob(t, b, r.ID, BlobOriginal); !bytes.Equal(got, data(ChunkSize+3, 7)) {
		t.Fatal("restored recording differs")
	}
	b.Close()
	// Damaged or foreign streams are refused with a clear error.
	for name, in := range map[string][]byte{
		"truncated tar": buf.Bytes()[:buf.Len()/2],
	} {
		if _, err := ExtractBackup(bytes.NewReader(in), filepath.Join(dir, "x.db")); err == nil {
			t.Errorf("%s: extracted", name)
		}
	}
}

// TestBackupParts: a backup carries further stores, each a snapshot with
// its key file, and extracts them where the caller says; a backup
// without them (made before) still extracts and holds none; a store's
// file without its key file, or the reverse, and entries nobody named
// are refused.
func TestBackupParts(t *testing.T) {
	a := OpenTest(t)
	r := sealed(t, a, data(100, 3), nil)
	var buf bytes.Buffer
	n, err := a.WriteBackup(&buf, testParts(t, "", true)...)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("backup: %d %v (%d bytes)", n, err, buf.Len())
	}
	full := bytes.Clone(buf.Bytes())

	dir := t.TempDir()
	held, err := ExtractBackup(bytes.NewReader(full), filepath.Join(dir, "callvault.db"), testParts(t, dir, false)...)
	if err != nil {
		t.Fatal(err)
	}
	if len(held) != 2 || held[0].Name != "links.db" || held[1].Name != "hooks.db" {
		t.Fatalf("held %+v", held)
	}
	if v := storeValue(t, filepath.Join(dir, "links.db")); v != "a link" {
		t.Errorf("links.db holds %q", v)
	}
	if v := storeValue(t, filepath.Join(dir, "hooks.db")); v != "a webhook" {
		t.Errorf("hooks.db holds %q", v)
	}
	if k, err := os.ReadFile(filepath.Join(dir, "links.db.k")); err != nil || string(k) != "link keys"+strings.Repeat("\x00", 8) {
		t.Errorf("links.db.k: %q %v", k, err)
	}
	b, err := Open(filepath.Join(dir, "callvault.db"), Options{KeyFile: keyFileOf(a), KDF: FastKDF()})
	if err != nil {
		t.Fatal(err)
	}
	if got := readBlob(t, b, r.ID, BlobOriginal); !bytes.Equal(got, data(100, 3)) {
		t.Fatal("restored recording differs")
	}
	b.Close()

	// A backup of the archive alone holds no parts and writes none.
	buf.Reset()
	if _, err := a.WriteBackup(&buf); err != nil {
		t.Fatal(err)
	}
	old := t.TempDir()
	held, err = ExtractBackup(bytes.NewReader(buf.Bytes()), filepath.Join(old, "callvault.db"), testParts(t, old, false)...)
	if err != nil || len(held) != 0 {
		t.Fatalf("archive-only backup: %+v %v", held, err)
	}
	for _, f := range []string{"links.db", "links.db.k", "hooks.db"} {
		if _, err := os.Stat(filepath.Join(old, f)); err == nil {
			t.Errorf("archive-only backup wrote %s", f)
		}
	}

	for name, c := range map[string]struct {
		in   []byte
		want string
	}{
		"store without its key file": {retar(t, full, []string{"links.db.k"}, nil), "links.db.k"},
		"key file without its store": {retar(t, full, []string{"links.db"}, nil), "links.db.k"},
		"unknown entry":              {retar(t, full, nil, map[string][]byte{"other.db": []byte("x")}), `unexpected entry "other.db"`},
		"repeated entry":             {retar(t, full, nil, map[string][]byte{"hooks.db": []byte("x")}), "repeated"},
		"no archive":                 {retar(t, full, []string{"archive.db"}, nil), "lacks the archive file"},
	} {
		d := t.TempDir()
		if _, err := ExtractBackup(bytes.NewReader(c.in), filepath.Join(d, "callvault.db"), testParts(t, d, false)...); err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// An extraction that names no parts refuses a backup holding some.
	if _, err := ExtractBackup(bytes.NewReader(full), filepath.Join(t.TempDir(), "callvault.db")); err == nil || !strings.Contains(err.Error(), `unexpected entry "links.db"`) {
		t.Errorf("parts not asked for: %v", err)
	}
	// Parts whose entries clash are refused before anything is written.
	clash := []BackupPart{{Name: backupKeys, Store: testParts(t, "", true)[0].Store}}
	if _, err := a.WriteBackup(io.Discard, clash...); err == nil {
		t.Error("a part named as the archive's key file was written")
	}
	if _, err := ExtractBackup(bytes.NewReader(full), filepath.Join(t.TempDir(), "a.db"), BackupPart{Name: "../x.db", Path: "x"}); err == nil {
		t.Error("a part named with a path was accepted")
	}
	// A store whose key file does not match its description fails the
	// backup.
	mismatch := testParts(t, "", true)
	mismatch[1].KeyFile = testKeyFile
	if _, err := a.WriteBackup(io.Discard, mismatch...); err == nil {
		t.Error("a store without its key file was written as one with")
	}
}

// FuzzExtractBackup: any stream yields files or a clear error, never a
// panic or a file outside the target directory or other than those named.
func FuzzExtractBackup(f *testing.F) {
	a := OpenTest(f)
	record(f, a, NewRecording{}, data(100, 1), nil, Final{})
	var buf bytes.Buffer
	if _, err := a.WriteBackup(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:1024])
	buf.Reset()
	if _, err := a.WriteBackup(&buf, testParts(f, "", true)...); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:buf.Len()-2048])
	f.Add([]byte("not a backup"))
	f.Fuzz(func(t *testing.T, in []byte) {
		dir := t.TempDir()
		held, err := ExtractBackup(bytes.NewReader(in), filepath.Join(dir, "a.db"), testParts(t, dir, false)...)
		if err != nil && len(held) > 0 {
			t.Fatalf("error %v with parts %+v", err, held)
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			switch e.Name() {
			case "a.db", "a.db" + slotSuffix, "a.db" + chunkSuffix, "links.db", "links.db.k", "hooks.db":
			default:
				t.Fatalf("extracted %q", e.Name())
			}
		}
	})
}
