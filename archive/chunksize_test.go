package archive

import (
	"bytes"
	"context"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/callvault/callvault/archive/kv"
)

// writeSizedRecording stores orig and mp as a finished, sealed recording
// named name whose chunks hold csize plaintext bytes.
func writeSizedRecording(t *testing.T, a *Archive, csize int, name string, orig, mp []byte) *Recording {
	t.Helper()
	if old := createChunkSize; csize != old { // not from parallel tests
		createChunkSize = csize
		defer func() { createChunkSize = old }()
	}
	ctx := context.Background()
	w, err := a.Create(ctx, NewRecording{FileName: name})
	if err != nil {
		t.Fatal(err)
	}
	if w.ChunkSize() != csize {
		t.Fatalf("writer chunk size %d, want %d", w.ChunkSize(), csize)
	}
	writeAll(t, w.WriteOriginal, orig, 0)
	writeAll(t, w.WriteMap, mp, 0)
	rec, err := w.Finish(ctx, Final{State: StateComplete})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Seal(ctx, rec.ID, nil); err != nil {
		t.Fatal(err)
	}
	return rec
}

// openCrashCopy opens a copy of a's files as they are now, as a restart
// after a crash finds them.
func openCrashCopy(t *testing.T, a *Archive) *Archive {
	t.Helper()
	dir := t.TempDir()
	db := filepath.Join(dir, "archive.db")
	copyFile(t, a.Path(), db)
	copyFile(t, SlotFile(a.Path()), SlotFile(db))
	copyFile(t, ChunkFile(a.Path()), ChunkFile(db))
	copyFile(t, filepath.Join(filepath.Dir(a.Path()), "archive.key"), filepath.Join(dir, "archive.key"))
	b, err := Open(db, Options{KeyFile: filepath.Join(dir, "archive.key"), KDF: FastKDF()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// storedChunkLens returns the stored value length of each chunk of a blob.
func storedChunkLens(t *testing.T, a *Archive, id ID, kind BlobKind) []int {
	t.Helper()
	var lens []int
	err := a.view(func(tx kv.Tx) error {
		for idx := uint64(0); ; idx++ {
			v, err := appendChunk(tx, id, kind, idx, []byte{})
			if err != nil || v == nil {
				return err
			}
			lens = append(lens, len(v))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return lens
}

// TestChunkSizeFillsPages: a new recording's full chunks, with their keys
// and bbolt's page header and leaf elements, fill 32 pages of 4 KiB two
// by two (the chunks bucket's leaves hold two), or 16 alone, instead of
// spilling into one more.
func TestChunkSizeFillsPages(t *testing.T) {
	a := OpenTest(t)
	orig := make([]byte, 3*ChunkSize+100)
	rec := writeSizedRecording(t, a, ChunkSize, "f.pcap", orig, []byte("map"))
	lens := storedChunkLens(t, a, rec.ID, BlobOriginal)
	if len(lens) != 4 {
		t.Fatalf("%d chunks, want 4", len(lens))
	}
	const page, pageHeader, leafElement, key = 4096, 16, 16, 8
	for i, n := range lens[:3] {
		if n != ChunkSize+chunkOverhead {
			t.Fatalf("chunk %d stored in %d bytes", i, n)
		}
		if used := pageHeader + leafElement + key + n; used > 16*page || used <= 16*page-64 {
			t.Fatalf("chunk %d takes %d bytes of a leaf: not filling 16 pages", i, used)
		}
		if used := pageHeader + 2*(leafElement+key+n); used > 32*page || used <= 32*page-128 {
			t.Fatalf("two chunks take %d bytes of a leaf: not filling 32 pages", used)
		}
	}
}

// TestChunkSizeLegacyRecording: a recording stored with 64 KiB chunks
// (before the metadata recorded a chunk size) still reads at every chunk
// boundary, verifies and passes the playback seal check, next to a new one.
func TestChunkSizeLegacyRecording(t *testing.T) {
	a := OpenTest(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	orig := make([]byte, 3*legacyChunkSize+100)
	for i := range orig {
		orig[i] = byte(rng.Uint32())
	}
	mp := orig[:legacyChunkSize+7]
	old := writeSizedRecording(t, a, legacyChunkSize, "f.pcap", orig, mp)
	// A legacy recording's metadata has no chunk size at all.
	err := a.update(ctx, func(tx kv.Tx) error {
		m, dk, err := a.loadTx(tx, old.ID)
		if err != nil {
			return err
		}
		defer clear(dk)
		if m.Chunk != legacyChunkSize {
			t.Errorf("metadata chunk %d", m.Chunk)
		}
		m.Chunk = 0
		return a.putMetaTx(tx, old.ID, dk, m)
	})
	if err != nil {
		t.Fatal(err)
	}
	cur := writeSizedRecording(t, a, ChunkSize, "f.pcap", orig, mp)
	for _, c := range []struct {
		rec         *Recording
		csize       int
		orig, mapCh int
	}{{old, legacyChunkSize, 4, 2}, {cur, ChunkSize, 4, 2}} {
		if n := len(storedChunkLens(t, a, c.rec.ID, BlobOriginal)); n != c.orig {
			t.Errorf("chunk size %d: %d original chunks, want %d", c.csize, n, c.orig)
		}
		if got := storedChunkLens(t, a, c.rec.ID, BlobOriginal)[0]; got != c.csize+chunkOverhead {
			t.Errorf("chunk size %d: first chunk stored in %d bytes", c.csize, got)
		}
		if got := readBlob(t, a, c.rec.ID, BlobOriginal); !bytes.Equal(got, orig) {
			t.Fatalf("chunk size %d: original differs", c.csize)
		}
		if got := readBlob(t, a, c.rec.ID, BlobMap); !bytes.Equal(got, mp) {
			t.Fatalf("chunk size %d: map differs", c.csize)
		}
		b, err := a.OpenBlob(ctx, c.rec.ID, BlobOriginal)
		if err != nil {
			t.Fatal(err)
		}
		for _, edge := range []int{ChunkSize, legacyChunkSize, 2 * ChunkSize, 2 * legacyChunkSize, 3 * legacyChunkSize} {
			p := make([]byte, 20)
			if _, err := b.ReadAt(p, int64(edge-10)); err != nil || !bytes.Equal(p, orig[edge-10:edge+10]) {
				t.Fatalf("chunk size %d: ReadAt %d: %v", c.csize, edge-10, err)
			}
		}
		res, err := a.Verify(ctx, c.rec.ID, nil)
		if err != nil || !res.Valid {
			t.Fatalf("chunk size %d: verify: %v %v", c.csize, err, res.Problems)
		}
		if res.Chunks != c.orig+c.mapCh {
			t.Fatalf("chunk size %d: verified %d chunks", c.csize, res.Chunks)
		}
		if st, err := a.CheckPlayback(ctx, c.rec.ID); err != nil || st != SealValid {
			t.Fatalf("chunk size %d: seal check %q %v", c.csize, st, err)
		}
	}
}

// TestChunkSizeMetadataChecked: metadata naming an impossible chunk size
// is corrupt, not a reason to read chunks at absurd offsets.
func TestChunkSizeMetadataChecked(t *testing.T) {
	for _, c := range []int{-1, 1, minChunkSize - 1, legacyChunkSize + 1} {
		b := []byte(`{"v":1,"state":"complete","received":1,"origSize":0,"mapSize":0,"chunk":` + strconv.Itoa(c) + `}`)
		if _, err := decodeMeta(b); err == nil {
			t.Errorf("chunk %d accepted", c)
		}
	}
	for _, c := range []int{0, ChunkSize, legacyChunkSize} {
		b := []byte(`{"v":1,"state":"complete","received":1,"origSize":0,"mapSize":0,"chunk":` + strconv.Itoa(c) + `}`)
		if _, err := decodeMeta(b); err != nil {
			t.Errorf("chunk %d: %v", c, err)
		}
	}
}

// TestChunkSizeLegacyResume: a recording with 64 KiB chunks cut off by a
// crash resumes with its own chunk size: the committed chunks are kept,
// what follows goes on in 64 KiB chunks, and the result verifies.
func TestChunkSizeLegacyResume(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	orig := data(3*legacyChunkSize+777, 5)
	createChunkSize = legacyChunkSize
	w, err := a.Create(ctx, NewRecording{FileName: "cut.pcap"})
	createChunkSize = ChunkSize
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, w.WriteOriginal, orig[:2*legacyChunkSize+100], 1000)
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	b := openCrashCopy(t, a)
	r, err := b.Resume(ctx, w.ID())
	if err != nil {
		t.Fatal(err)
	}
	if r.ChunkSize() != legacyChunkSize || r.OriginalSize() != 2*legacyChunkSize {
		t.Fatalf("resumed with chunk size %d at %d bytes", r.ChunkSize(), r.OriginalSize())
	}
	writeAll(t, r.WriteOriginal, orig[2*legacyChunkSize:], 1000)
	rec, err := r.Finish(ctx, Final{State: StateInterrupted})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Seal(ctx, rec.ID, nil); err != nil {
		t.Fatal(err)
	}
	if got := readBlob(t, b, rec.ID, BlobOriginal); !bytes.Equal(got, orig) {
		t.Fatal("resumed original differs")
	}
	if n := len(storedChunkLens(t, b, rec.ID, BlobOriginal)); n != 4 {
		t.Fatalf("%d chunks, want 4", n)
	}
	res, err := b.Verify(ctx, rec.ID, nil)
	if err != nil || !res.Valid {
		t.Fatalf("verify: %v %v", err, res.Problems)
	}
}

// TestSmallChunkSizeSmallWrites: a chunk size below the stage's segment
// (stageMax) written in small pieces, as a live call writes, keeps every
// byte: the stage never holds more than a chunk.
func TestSmallChunkSizeSmallWrites(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	for _, csize := range []int{minChunkSize, 8 << 10, stageMax + 1000} {
		t.Run(strconv.Itoa(csize), func(t *testing.T) {
			old := createChunkSize
			createChunkSize = csize
			w, err := a.Create(ctx, NewRecording{FileName: "small.pcap"})
			createChunkSize = old
			if err != nil {
				t.Fatal(err)
			}
			orig, mp := data(5*csize+123, 7), data(3*csize/2, 8)
			writeAll(t, w.WriteOriginal, orig, 1000)
			writeAll(t, w.WriteMap, mp, 300)
			rec, err := w.Finish(ctx, Final{State: StateComplete})
			if err != nil {
				t.Fatal(err)
			}
			if rec.OrigSize != int64(len(orig)) || !bytes.Equal(readBlob(t, a, rec.ID, BlobOriginal), orig) {
				t.Fatalf("original of %d bytes stored as %d", len(orig), rec.OrigSize)
			}
			if err := a.Seal(ctx, rec.ID, nil); err != nil {
				t.Fatal(err)
			}
			if res, err := a.Verify(ctx, rec.ID, nil); err != nil || !res.Valid {
				t.Fatalf("verify: %v %v", err, res.Problems)
			}
		})
	}
}
