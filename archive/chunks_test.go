package archive

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive/kv"
)

// testChunkValue returns a copy of a chunk's stored value, found through
// the chunk index, or nil.
func testChunkValue(tx kv.Tx, id ID, kind BlobKind, idx uint64) []byte {
	k := chunkKey(id, kind, idx)
	seq := tx.Bucket(bucketChunkIndex).Get(k[:])
	if seq == nil {
		return nil
	}
	return bytes.Clone(tx.Bucket(bucketChunks).Get(seq))
}

// testPutChunkValue overwrites the value a chunk's index entry points at,
// or stores a new chunk under a new sequence number (an attacker with the
// file and bbolt).
func testPutChunkValue(tx kv.Tx, id ID, kind BlobKind, idx uint64, val []byte) error {
	k := chunkKey(id, kind, idx)
	seq := bytes.Clone(tx.Bucket(bucketChunkIndex).Get(k[:]))
	if seq == nil {
		n, err := tx.Bucket(bucketChunks).NextSequence()
		if err != nil {
			return err
		}
		seq = seqKey(n)
		if err := tx.Bucket(bucketChunkIndex).Put(k[:], seq); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketChunks).Put(seq, val)
}

// testDeleteChunk removes a chunk's index entry and value.
func testDeleteChunk(tx kv.Tx, id ID, kind BlobKind, idx uint64) error {
	k := chunkKey(id, kind, idx)
	seq := bytes.Clone(tx.Bucket(bucketChunkIndex).Get(k[:]))
	if err := tx.Bucket(bucketChunkIndex).Delete(k[:]); err != nil {
		return err
	}
	return tx.Bucket(bucketChunks).Delete(seq)
}

// testNoOrphans checks that the chunk index and the chunk values match one
// to one: every index entry points at a value, every value is pointed at
// once, and no value lies past the data bucket's sequence.
func testNoOrphans(tx kv.Tx) error {
	refs := map[string]int{}
	err := tx.Bucket(bucketChunkIndex).ForEach(func(k, v []byte) error {
		if len(k) != chunkKeyLen || len(v) != seqKeyLen {
			return fmt.Errorf("index entry %x → %x malformed", k, v)
		}
		if tx.Bucket(bucketChunks).Get(v) == nil {
			return fmt.Errorf("index entry %x points at no value", k)
		}
		refs[string(v)]++
		return nil
	})
	if err != nil {
		return err
	}
	data := tx.Bucket(bucketChunks)
	return data.ForEach(func(k, _ []byte) error {
		if len(k) != seqKeyLen || binary.BigEndian.Uint64(k) > data.Sequence() {
			return fmt.Errorf("value key %x beyond sequence %d", k, data.Sequence())
		}
		if refs[string(k)] != 1 {
			return fmt.Errorf("value %x referenced %d times", k, refs[string(k)])
		}
		return nil
	})
}

func checkNoOrphans(t *testing.T, a *Archive) {
	t.Helper()
	if err := a.view(testNoOrphans); err != nil {
		t.Fatal(err)
	}
}

// original is a recording and the bytes its original must read back as.
type original struct {
	id   ID
	orig []byte
}

// checkOriginals reads each recording's original back and then checks
// that no chunk is orphaned.
func checkOriginals(t *testing.T, a *Archive, want ...original) {
	t.Helper()
	for _, x := range want {
		if got := readBlob(t, a, x.id, BlobOriginal); !bytes.Equal(got, x.orig) {
			t.Fatalf("recording %s reads back wrong", x.id)
		}
	}
	checkNoOrphans(t, a)
}

// TestChunksAppendOnly: chunk values of interleaved writers are stored
// under increasing sequence numbers in commit order, index and values stay
// one to one through Finish, Resume and Delete, and Delete leaves nothing
// of the recording behind.
func TestChunksAppendOnly(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	var ws []*Writer
	for range 3 {
		w, err := a.Create(ctx, NewRecording{})
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	// Round robin, one chunk each, synced: commit order is known.
	var order [][chunkKeyLen]byte
	for i := range 4 {
		for j, w := range ws {
			writeAll(t, w.WriteOriginal, data(ChunkSize, uint64(10*i+j)), 0)
			if err := w.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			order = append(order, chunkKey(w.ID(), BlobOriginal, uint64(i)))
		}
	}
	var last uint64
	if err := a.view(func(tx kv.Tx) error {
		for _, k := range order {
			v := tx.Bucket(bucketChunkIndex).Get(k[:])
			if len(v) != seqKeyLen {
				return fmt.Errorf("index entry %x: %x", k, v)
			}
			s := binary.BigEndian.Uint64(v)
			if s <= last {
				return fmt.Errorf("sequence %d after %d: not in commit order", s, last)
			}
			last = s
		}
		return testNoOrphans(tx)
	}); err != nil {
		t.Fatal(err)
	}
	r0, err := ws[0].Finish(ctx, Final{State: StateComplete})
	if err != nil {
		t.Fatal(err)
	}
	if got := readBlob(t, a, r0.ID, BlobOriginal); len(got) != 4*ChunkSize || !bytes.Equal(got[ChunkSize:2*ChunkSize], data(ChunkSize, 10)) {
		t.Fatal("finished blob reads back wrong")
	}
	checkNoOrphans(t, a)

	// A crash copy: Resume drops the map and chunks after a gap, through
	// the index, without leaving values behind.
	if _, err := ws[1].WriteMap(data(ChunkSize+5, 7)); err != nil {
		t.Fatal(err)
	}
	if err := ws[1].Sync(ctx); err != nil {
		t.Fatal(err)
	}
	a = withBolt(t, a, func(tx kv.Tx) error { return testDeleteChunk(tx, ws[1].ID(), BlobOriginal, 2) })
	w, err := a.Resume(ctx, ws[1].ID())
	if err != nil {
		t.Fatal(err)
	}
	if w.OriginalSize() != 2*ChunkSize {
		t.Fatalf("resumed at %d", w.OriginalSize())
	}
	checkNoOrphans(t, a)
	if _, err := w.Finish(ctx, Final{State: StateInterrupted}); err != nil {
		t.Fatal(err)
	}
	if res := mustVerify(t, a, w.ID()); len(res.Problems) != 1 || !hasProblem(res, "not sealed") {
		t.Fatalf("resumed recording: %v", res.Problems)
	}

	// Delete takes the index entries and the values in its transaction.
	for _, id := range []ID{r0.ID, ws[2].ID()} {
		if err := a.Delete(ctx, id, "test", "append-only"); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.view(func(tx kv.Tx) error {
		n := 0
		c := tx.Bucket(bucketChunkIndex).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if !bytes.HasPrefix(k, w.id[:]) {
				return fmt.Errorf("index entry %x of a deleted recording", k)
			}
			n++
		}
		if n != 4 { // orig 0, 1, final 2; map final 0
			return fmt.Errorf("%d index entries left, want 4", n)
		}
		return testNoOrphans(tx)
	}); err != nil {
		t.Fatal(err)
	}

	// The sequence goes on after a reopen, past the last stored value.
	a = reopen(t, a)
	r := record(t, a, NewRecording{}, data(2*ChunkSize, 3), nil, Final{})
	if err := a.view(func(tx kv.Tx) error {
		k := chunkKey(r.ID, BlobOriginal, 0)
		if s := binary.BigEndian.Uint64(tx.Bucket(bucketChunkIndex).Get(k[:])); s <= last {
			return fmt.Errorf("sequence %d reused after reopen (last %d)", s, last)
		}
		return testNoOrphans(tx)
	}); err != nil {
		t.Fatal(err)
	}
}

// TestChunkSequenceBehind: a file whose chunk bucket sequence was set back
// (edited by hand) must not let new chunks overwrite stored ones.
func TestChunkSequenceBehind(t *testing.T) {
	a := OpenTest(t)
	old := record(t, a, NewRecording{}, data(3*ChunkSize+1, 1), data(10, 2), Final{})
	a = withBolt(t, a, func(tx kv.Tx) error { return tx.Bucket(bucketChunks).SetSequence(0) })
	r := record(t, a, NewRecording{}, data(2*ChunkSize+1, 3), nil, Final{})
	checkOriginals(t, a, original{old.ID, data(3*ChunkSize+1, 1)}, original{r.ID, data(2*ChunkSize+1, 3)})
}

// TestOldSchemaRefused: a file with schema 1 (chunks keyed by recording) is
// refused with a clear error and left as it was.
func TestOldSchemaRefused(t *testing.T) {
	a := OpenTest(t)
	path := a.Path()
	a.Close()
	db := openBolt(t, path)
	if err := db.Update(func(tx kv.Tx) error {
		if err := tx.DeleteBucket(bucketChunkIndex); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(metaSchema, seqKey(1))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err := Open(path, Options{KeyFile: filepath.Join(filepath.Dir(path), "archive.key"), KDF: FastKDF()})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "schema version 1") || !strings.Contains(err.Error(), "no migration") {
		t.Fatalf("schema 1: %v", err)
	}
	db = openBolt(t, path)
	defer db.Close()
	if err := db.View(func(tx kv.Tx) error {
		if tx.Bucket(bucketChunkIndex) != nil {
			return errors.New("Open created buckets in a file it refused")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestChunksAfterCompact: compaction keeps the chunk bucket's sequence, so
// chunks written afterwards never land on stored ones.
func TestChunksAfterCompact(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "archive.db")
	opt := Options{KeyFile: filepath.Join(dir, "archive.key"), KDF: FastKDF(), CommitInterval: 5 * time.Millisecond, InitialMmapSize: 64 << 20}
	a, err := Open(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	first := record(t, a, NewRecording{}, data(3*ChunkSize+5, 1), data(20, 2), Final{})
	gone := record(t, a, NewRecording{}, data(2*ChunkSize, 3), nil, Final{})
	if err := a.Delete(t.Context(), gone.ID, "test", "compact"); err != nil {
		t.Fatal(err)
	}
	var seq uint64
	_ = a.view(func(tx kv.Tx) error { seq = tx.Bucket(bucketChunks).Sequence(); return nil })
	a.Close()
	if _, err := Compact(path, time.Second); err != nil {
		t.Fatal(err)
	}
	if a, err = Open(path, opt); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	_ = a.view(func(tx kv.Tx) error {
		if s := tx.Bucket(bucketChunks).Sequence(); s != seq {
			t.Errorf("sequence %d after compaction, %d before", s, seq)
		}
		return nil
	})
	second := record(t, a, NewRecording{}, data(2*ChunkSize+9, 4), nil, Final{})
	checkOriginals(t, a, original{first.ID, data(3*ChunkSize+5, 1)}, original{second.ID, data(2*ChunkSize+9, 4)})
}
