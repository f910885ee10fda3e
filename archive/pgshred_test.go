package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callvault/callvault/archive/kv"
)

// bucketFiles returns the contents of the objects in the gateway's
// directory of target's bucket, by path.
func bucketFiles(t *testing.T, target pgTarget) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(filepath.Join(shared.s3.Dir, target.s3.Bucket), func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		files[p] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// pgDump returns a plain dump of target's database.
func pgDump(t *testing.T, target pgTarget) []byte {
	t.Helper()
	bin, err := exec.LookPath("pg_dump")
	if err != nil {
		t.Skipf("SKIPPING: no pg_dump: %v", err)
	}
	dump, err := exec.Command(bin, "--no-owner", target.url).Output()
	if err != nil || !bytes.Contains(dump, []byte("kv_rows")) {
		t.Fatalf("pg_dump: %v (%d bytes)", err, len(dump))
	}
	return dump
}

// TestDataKeysOnPostgres: on PostgreSQL + S3 the archive keeps no
// data-key file; each data key's box is an object of its own, which a
// second daemon (another Archive on the same database and bucket, its
// local files in another directory) reads, so it verifies and reads the
// recording the first one stored. A purge removes the key's object as it
// commits, before any sweep: the recording is then unreadable on both,
// and no dump of the database, before or after, held the key box.
func TestDataKeysOnPostgres(t *testing.T) {
	dir, path, target, a := storeOnPostgres(t)
	defer a.Close()
	ctx := t.Context()
	orig := data(3*ChunkSize/2, 7)
	r := record(t, a, NewRecording{CallGUID: "shared"}, orig, data(100, 8), Final{Info: []byte(`{}`)})
	exp := [][32]byte{{7}}
	if err := a.Seal(ctx, r.ID, exp); err != nil {
		t.Fatal(err)
	}

	// (a) No data-key file, in either directory.
	if _, err := os.Stat(SlotFile(path)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("data-key file on PostgreSQL: %v", err)
	}

	// (b) A second daemon, its local files elsewhere, with the same key.
	path2 := filepath.Join(t.TempDir(), "archive.db")
	b, err := target.openArchive(t, path2, storeOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := os.Stat(SlotFile(path2)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("data-key file of the second archive: %v", err)
	}
	res, err := b.Verify(ctx, r.ID, func(*Recording) ([][32]byte, error) { return exp, nil })
	if err != nil || !res.Valid || !res.Sealed {
		t.Fatalf("the second archive verifies: %v %v", err, res)
	}
	if got := readBlob(t, b, r.ID, BlobOriginal); !bytes.Equal(got, orig) {
		t.Fatalf("the second archive reads %d bytes, not the %d stored", len(got), len(orig))
	}
	if res, err := b.VerifyChain(ctx); err != nil || !res.Valid {
		t.Fatalf("chain on the second archive: %v %+v", err, res)
	}

	// (c) The key box is an object, and only an object.
	var box []byte
	if err := a.store.View(func(tx kv.Tx) error {
		box = bytes.Clone(tx.Bucket(bucketDataKeys).Get(r.ID[:]))
		return nil
	}); err != nil || len(box) != boxOverhead+keyLen {
		t.Fatalf("data-key value of %d bytes: %v", len(box), err)
	}
	needles := [][]byte{box, fmt.Appendf(nil, "%x", box)}
	keyObject := ""
	for p, v := range bucketFiles(t, target) {
		if bytes.Equal(v, box) {
			keyObject = p
		}
	}
	if keyObject == "" {
		t.Fatal("no object in the bucket holds the data key box")
	}
	dumps := [][]byte{pgDump(t, target)}

	if err := a.Delete(ctx, r.ID, "admin", "erasure request"); err != nil {
		t.Fatal(err)
	}
	// Gone when Delete returns: no sweep has run (the sweep loop's first
	// round is minutes away).
	if _, err := os.Stat(keyObject); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the key's object after the purge: %v", err)
	}
	for p, v := range bucketFiles(t, target) {
		if bytes.Contains(v, box) {
			t.Fatalf("object %s holds the key box after the purge", p)
		}
	}
	for name, arc := range map[string]*Archive{"first": a, "second": b} {
		if _, err := arc.OpenBlob(ctx, r.ID, BlobOriginal); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s archive opens the purged recording: %v", name, err)
		}
		if _, err := arc.Get(ctx, r.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s archive gets the purged recording: %v", name, err)
		}
	}
	dumps = append(dumps, pgDump(t, target))
	for i, d := range dumps {
		for _, n := range needles {
			if bytes.Contains(d, n) {
				t.Errorf("dump %d holds the key box", i)
			}
		}
	}
	if !bytes.Contains(dumps[0], fmt.Appendf(nil, "%x", bucketDataKeys)) {
		t.Fatal("the dump does not show bytea as the needles look for it")
	}
}

// TestSlotRefsOnPostgresRefused: an archive on PostgreSQL whose data-key
// table names slots of a local data-key file (the layout of an earlier
// build) is refused at open, saying so, rather than opened with keys it
// cannot read.
func TestSlotRefsOnPostgresRefused(t *testing.T) {
	dir, path, target, a := storeOnPostgres(t)
	r := record(t, a, NewRecording{}, data(100, 1), data(10, 2), Final{Info: []byte(`{}`)})
	if err := a.store.Update(func(tx kv.Tx) error {
		return tx.Bucket(bucketDataKeys).Put(r.ID[:], slotRef(1))
	}); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := target.openArchive(t, path, storeOptions(dir))
	if err == nil {
		b.Close()
		t.Fatal("opened an archive whose data keys name slots of a data-key file")
	}
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "data-key file") {
		t.Fatalf("open: %v", err)
	}
}
