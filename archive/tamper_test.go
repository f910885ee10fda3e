package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callvault/callvault/archive/kv"
)

// reopen closes a and opens the same file with the same key file.
func reopen(t *testing.T, a *Archive) *Archive {
	t.Helper()
	path := a.Path()
	a.Close()
	b, err := reopenTestArchive(t, path, Options{KeyFile: filepath.Join(filepath.Dir(path), "archive.key"), KDF: FastKDF()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// withBolt runs fn on the closed archive file through bbolt directly (the
// attacker's view) and reopens the archive.
func withBolt(t *testing.T, a *Archive, fn func(tx kv.Tx) error) *Archive {
	t.Helper()
	path := a.Path()
	a.Close()
	db := openBolt(t, path)
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
	db.Close()
	return reopen(t, a)
}

func hasProblem(res *VerifyResult, substr string) bool {
	for _, p := range res.Problems {
		if strings.Contains(p, substr) {
			return true
		}
	}
	return false
}

func mustVerify(t *testing.T, a *Archive, id ID) *VerifyResult {
	t.Helper()
	res, err := a.Verify(t.Context(), id, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func sealed(t *testing.T, a *Archive, orig, mp []byte) *Recording {
	t.Helper()
	r := record(t, a, NewRecording{}, orig, mp, Final{})
	if err := a.Seal(t.Context(), r.ID, nil); err != nil {
		t.Fatal(err)
	}
	return r
}

func wantChunkError(t *testing.T, err error, kind BlobKind, idx uint64) {
	t.Helper()
	var ce *ChunkError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) || ce.Kind != kind || ce.Index != idx {
		t.Fatalf("want ChunkError %s %d wrapping ErrCorrupt, got %v", kind, idx, err)
	}
}

// TestTamperChunkInFile flips one bit of a chunk's stored bytes in the
// files themselves (every copy of the value, stale pages included).
func TestTamperChunkInFile(t *testing.T) {
	a := OpenTest(t)
	orig := data(3*ChunkSize+10, 1)
	r := sealed(t, a, orig, data(100, 2))
	path := a.Path()
	a.Close()

	db := openBolt(t, path)
	var val []byte
	db.View(func(tx kv.Tx) error {
		val = testChunkValue(tx, r.ID, BlobOriginal, 1)
		return nil
	})
	db.Close()
	// The chunk file holds chunk values; the archive file, those of an
	// archive written before it had one.
	n := 0
	for _, p := range []string{path, ChunkFile(path)} {
		file, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; ; {
			i := bytes.Index(file[off:], val)
			if i < 0 {
				break
			}
			file[off+i+1000] ^= 0x01
			off += i + len(val)
			n++
		}
		if err := os.WriteFile(p, file, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if n == 0 {
		t.Fatal("chunk value not found in the files")
	}
	a = reopen(t, a)
	if err := a.Check(); err != nil {
		t.Fatal("bbolt structure should be intact:", err)
	}
	b, err := a.OpenBlob(t.Context(), r.ID, BlobOriginal)
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 100)
	if _, err := b.ReadAt(p, 10); err != nil {
		t.Fatal("chunk 0 should read:", err)
	}
	_, err = b.ReadAt(p, ChunkSize+5)
	wantChunkError(t, err, BlobOriginal, 1)
	res := mustVerify(t, a, r.ID)
	if res.Valid || !hasProblem(res, "orig chunk 1: authentication failed") {
		t.Fatalf("verify: %v", res.Problems)
	}
	if !hasProblem(res, "original sha256 differs") {
		t.Fatalf("verify should report the hash: %v", res.Problems)
	}
}

func TestTamperSwapTruncateExtend(t *testing.T) {
	cases := []struct {
		name    string
		tamper  func(tx kv.Tx, r, other *Recording) error
		problem string
		readAt  int64
		badIdx  uint64
	}{
		{"swap", func(tx kv.Tx, r, _ *Recording) error {
			v0, v1 := testChunkValue(tx, r.ID, BlobOriginal, 0), testChunkValue(tx, r.ID, BlobOriginal, 1)
			if err := testPutChunkValue(tx, r.ID, BlobOriginal, 0, v1); err != nil {
				return err
			}
			return testPutChunkValue(tx, r.ID, BlobOriginal, 1, v0)
		}, "orig chunk 0: authentication failed", 0, 0},
		{"index swap", func(tx kv.Tx, r, _ *Recording) error {
			// The values stay in place; the index entries of chunks 0
			// and 1 trade the sequence numbers they point at.
			idx := tx.Bucket(bucketChunkIndex)
			k0, k1 := chunkKey(r.ID, BlobOriginal, 0), chunkKey(r.ID, BlobOriginal, 1)
			s0, s1 := bytes.Clone(idx.Get(k0[:])), bytes.Clone(idx.Get(k1[:]))
			if len(s0) != seqKeyLen || len(s1) != seqKeyLen || bytes.Equal(s0, s1) {
				return fmt.Errorf("index entries %x %x", s0, s1)
			}
			if err := idx.Put(k0[:], s1); err != nil {
				return err
			}
			return idx.Put(k1[:], s0)
		}, "orig chunk 0: authentication failed", 0, 0},
		{"other recording", func(tx kv.Tx, r, o *Recording) error {
			return testPutChunkValue(tx, r.ID, BlobOriginal, 2, testChunkValue(tx, o.ID, BlobOriginal, 2))
		}, "orig chunk 2: authentication failed", 2 * ChunkSize, 2},
		{"index to other recording", func(tx kv.Tx, r, o *Recording) error {
			idx := tx.Bucket(bucketChunkIndex)
			k, ko := chunkKey(r.ID, BlobOriginal, 2), chunkKey(o.ID, BlobOriginal, 2)
			return idx.Put(k[:], bytes.Clone(idx.Get(ko[:])))
		}, "orig chunk 2: authentication failed", 2 * ChunkSize, 2},
		{"kind swap", func(tx kv.Tx, r, _ *Recording) error {
			return testPutChunkValue(tx, r.ID, BlobOriginal, 0, testChunkValue(tx, r.ID, BlobMap, 0))
		}, "orig chunk 0: authentication failed", 0, 0},
		{"truncate", func(tx kv.Tx, r, _ *Recording) error {
			return testDeleteChunk(tx, r.ID, BlobOriginal, 3)
		}, "orig chunk 2: last stored chunk is not a final chunk (blob truncated)", 3 * ChunkSize, 3},
		{"gap", func(tx kv.Tx, r, _ *Recording) error {
			return testDeleteChunk(tx, r.ID, BlobOriginal, 1)
		}, "orig: chunks 1..1 missing", ChunkSize, 1},
		{"dangling index entry", func(tx kv.Tx, r, _ *Recording) error {
			k := chunkKey(r.ID, BlobOriginal, 1)
			return tx.Bucket(bucketChunks).Delete(tx.Bucket(bucketChunkIndex).Get(k[:]))
		}, "orig chunk 1: index entry points at no stored value", ChunkSize, 1},
		{"malformed index entry", func(tx kv.Tx, r, _ *Recording) error {
			k := chunkKey(r.ID, BlobOriginal, 1)
			return tx.Bucket(bucketChunkIndex).Put(k[:], []byte{1, 2, 3})
		}, "orig chunk 1: index entry of 3 bytes", ChunkSize, 1},
		{"extend", func(tx kv.Tx, r, _ *Recording) error {
			return testPutChunkValue(tx, r.ID, BlobOriginal, 4, testChunkValue(tx, r.ID, BlobOriginal, 2))
		}, "orig chunk 3: final chunk followed by more chunks", -1, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := OpenTest(t)
			orig := data(3*ChunkSize+10, 1)
			r := sealed(t, a, orig, data(100, 2))
			other := sealed(t, a, data(3*ChunkSize+10, 3), nil)
			a = withBolt(t, a, func(tx kv.Tx) error { return c.tamper(tx, r, other) })
			res := mustVerify(t, a, r.ID)
			if res.Valid || !hasProblem(res, c.problem) {
				t.Fatalf("verify problems %q lack %q", res.Problems, c.problem)
			}
			if res2 := mustVerify(t, a, other.ID); !res2.Valid {
				t.Fatalf("other recording: %v", res2.Problems)
			}
			if c.readAt >= 0 {
				b, err := a.OpenBlob(t.Context(), r.ID, BlobOriginal)
				if err != nil {
					t.Fatal(err)
				}
				_, err = b.ReadAt(make([]byte, 10), c.readAt)
				wantChunkError(t, err, BlobOriginal, c.badIdx)
			}
		})
	}
}

// TestNoPlaintextInFile writes a marker into every field and blob and
// checks that the file never contains it, nor the key.
func TestNoPlaintextInFile(t *testing.T) {
	const marker = "ZEBRA-PLAINTEXT-MARKER-7261"
	a := OpenTest(t)
	ctx := t.Context()
	rep := []byte(strings.Repeat(marker, 5000))
	info := fmt.Appendf(nil, `{"calls":[{"from":{"name":%q,"number":"%s-123"}}]}`, marker, marker)
	var ids []ID
	for i := range 3 {
		r := record(t, a, NewRecording{FileName: marker + ".pcap", CallGUID: marker, User: marker + "-user"},
			rep, rep[:1000], Final{State: StateComplete, Info: info, GzipSHA256: []byte(marker)})
		if i < 2 {
			if err := a.Seal(ctx, r.ID, [][32]byte{{1}}); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, r.ID)
	}
	if err := a.Delete(ctx, ids[0], marker+"-admin", "because "+marker); err != nil {
		t.Fatal(err)
	}
	w, err := a.Create(ctx, NewRecording{FileName: marker, User: marker})
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, w.WriteOriginal, rep, 0)
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	u := User{Login: marker + "-login", Name: marker + " Name", Email: marker + "@example.com", Role: RoleUser, Extensions: []string{marker + "-ext"}}
	if err := a.PutUser(ctx, u, marker+"-password"); err != nil {
		t.Fatal(err)
	}
	if got, err := a.ByCall(ctx, marker); err != nil || len(got) != 2 {
		t.Fatalf("ByCall: %d %v", len(got), err)
	}
	keyText, err := os.ReadFile(filepath.Join(filepath.Dir(a.Path()), "archive.key"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := parseKeyFile(keyText)
	if err != nil {
		t.Fatal(err)
	}
	var backup bytes.Buffer
	if _, err := a.WriteBackup(&backup); err != nil {
		t.Fatal(err)
	}
	path := a.Path()
	a.Close()
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"file": file, "backup": backup.Bytes()} {
		for _, needle := range [][]byte{[]byte(marker[:12]), []byte(marker[len(marker)-12:]), key, fmt.Appendf(nil, "%x", key)} {
			if bytes.Contains(b, needle) {
				t.Errorf("%s contains %q", name, needle)
			}
		}
	}
	// The backup is a working archive with the same key.
	bpath := filepath.Join(t.TempDir(), "backup.db")
	if _, err := ExtractBackup(bytes.NewReader(backup.Bytes()), bpath); err != nil {
		t.Fatal(err)
	}
	b, err := Open(bpath, Options{KeyFile: filepath.Join(filepath.Dir(path), "archive.key"), KDF: FastKDF()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if res, err := b.Verify(ctx, ids[1], nil); err != nil || !res.Valid {
		t.Fatalf("backup verify: %v %v", err, res)
	}
}

// TestDeleteShreds: after Delete the recording is gone, its chunk bytes
// (as found in a copy of the file made before) cannot be opened with the
// live archive, and putting them back does not help; only restoring the old
// wrapped data key (i.e. using the old copy itself, the backup case in the
// threat model) would.
func TestDeleteShreds(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	orig := data(2*ChunkSize+5, 9)
	r := sealed(t, a, orig, data(50, 1))
	keep := sealed(t, a, data(100, 2), nil)
	w, err := a.Create(ctx, NewRecording{})
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, w.WriteOriginal, data(ChunkSize, 4), 0)
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}

	// The old copy: every chunk of r (index entry and value), its
	// metadata and its wrapped data key, as an attacker would lift them
	// from a stale file copy.
	var oldChunks [][3][]byte // index key, sequence key, value
	var oldRec, oldKey []byte
	a = withBolt(t, a, func(tx kv.Tx) error {
		c := tx.Bucket(bucketChunkIndex).Cursor()
		for k, v := c.Seek(r.ID[:]); k != nil && bytes.HasPrefix(k, r.ID[:]); k, v = c.Next() {
			oldChunks = append(oldChunks, [3][]byte{bytes.Clone(k), bytes.Clone(v), bytes.Clone(tx.Bucket(bucketChunks).Get(v))})
		}
		oldRec = bytes.Clone(tx.Bucket(bucketRecs).Get(r.ID[:]))
		oldKey = bytes.Clone(tx.Bucket(bucketDataKeys).Get(r.ID[:]))
		return nil
	})
	if len(oldChunks) != 4 {
		t.Fatalf("%d chunks", len(oldChunks))
	}
	for _, kv := range oldChunks {
		if kv[2] == nil {
			t.Fatalf("index entry %x points at no value", kv[0])
		}
	}
	w2, err := a.Create(ctx, NewRecording{})
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, w2.WriteOriginal, data(ChunkSize, 4), 0)
	if err := a.Delete(ctx, r.ID, "admin", "retention"); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx, w2.ID(), "admin", "test"); err != nil {
		t.Fatal(err)
	}
	if err := w2.Sync(ctx); err != nil && !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if _, err := w2.WriteOriginal(make([]byte, 2*ChunkSize)); err == nil {
		if err := w2.Sync(ctx); !errors.Is(err, ErrNotFound) {
			t.Fatalf("writer of a deleted recording: %v", err)
		}
	}
	if err := a.Delete(ctx, r.ID, "admin", "again"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := a.Get(ctx, r.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
	if _, err := a.OpenBlob(ctx, r.ID, BlobOriginal); !errors.Is(err, ErrNotFound) {
		t.Fatalf("blob of deleted: %v", err)
	}
	res, err := a.VerifyChain(ctx)
	if err != nil || !res.Valid || res.Tombstones != 2 || res.Seals != 2 {
		t.Fatalf("chain after delete: %v %+v", err, res)
	}
	who, why, err := a.TombstoneNote(ctx, res.HeadSeq-1)
	if err != nil || who != "admin" || why != "retention" {
		t.Fatalf("tombstone note: %q %q %v", who, why, err)
	}

	// Put the old chunks and even the old metadata back: still unreadable.
	a = withBolt(t, a, func(tx kv.Tx) error {
		if v := tx.Bucket(bucketDataKeys).Get(r.ID[:]); v != nil {
			return fmt.Errorf("data key still present")
		}
		var n int
		tx.Bucket(bucketChunkIndex).ForEach(func(k, _ []byte) error {
			if bytes.HasPrefix(k, r.ID[:]) || bytes.HasPrefix(k, w2.id[:]) {
				n++
			}
			return nil
		})
		if n != 0 {
			return fmt.Errorf("%d chunk index entries of deleted recordings left", n)
		}
		for _, kv := range oldChunks {
			if tx.Bucket(bucketChunks).Get(kv[1]) != nil {
				return fmt.Errorf("chunk value %x of a deleted recording left", kv[1])
			}
		}
		if err := testNoOrphans(tx); err != nil {
			return err
		}
		for _, kv := range oldChunks {
			if err := tx.Bucket(bucketChunkIndex).Put(kv[0], kv[1]); err != nil {
				return err
			}
			if err := tx.Bucket(bucketChunks).Put(kv[1], kv[2]); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketRecs).Put(r.ID[:], oldRec)
	})
	if _, err := a.OpenBlob(ctx, r.ID, BlobOriginal); !errors.Is(err, ErrNotFound) {
		t.Fatalf("restored chunks without data key: %v", err)
	}
	if _, err := a.Verify(ctx, r.ID, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("verify restored chunks: %v", err)
	}
	if got := readBlob(t, a, keep.ID, BlobOriginal); !bytes.Equal(got, data(100, 2)) {
		t.Fatal("other recording damaged")
	}
	// Even the old data-key entry does not help: the slot it names was
	// zeroed by the purge (the next Open finds the entry pointing at a
	// zero slot and finishes the purge).
	a = withBolt(t, a, func(tx kv.Tx) error { return tx.Bucket(bucketDataKeys).Put(r.ID[:], oldKey) })
	if _, err := a.OpenBlob(ctx, r.ID, BlobOriginal); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old data-key entry opened the recording: %v", err)
	}
	res, err = a.VerifyChain(ctx)
	if err != nil || !res.Valid {
		t.Fatalf("chain after the old entry was put back: %v %v", err, res.Problems)
	}
	_ = context.Background
}
