package archive

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"testing"

	"github.com/callvault/callvault/archive/kv"
)

// TestPipelinedWriterFailsCleanly: chunks still waiting in a writer's
// pipeline when its recording is deleted are dropped, the writer reports
// ErrNotFound at a later write or at Finish, its pipeline ends, and the
// archive keeps no chunk of the recording.
func TestPipelinedWriterFailsCleanly(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	w, err := a.Create(ctx, NewRecording{FileName: "gone"})
	if err != nil {
		t.Fatal(err)
	}
	orig := data(8*ChunkSize, 5)
	writeAll(t, w.WriteOriginal, orig[:3*ChunkSize], 1<<20)
	if err := a.Delete(ctx, w.ID(), "admin", "test"); err != nil {
		t.Fatal(err)
	}
	var werr error
	for i := 0; i < 1000 && werr == nil; i++ {
		_, werr = w.WriteOriginal(orig[:ChunkSize])
		if werr == nil && i%8 == 7 {
			werr = w.Sync(ctx)
		}
	}
	if !errors.Is(werr, ErrNotFound) {
		t.Fatalf("write after delete: %v", werr)
	}
	if _, err := w.Finish(ctx, Final{State: StateComplete}); err == nil {
		t.Fatal("Finish after a failed chunk succeeded")
	}
	w.pmu.Lock()
	running, waiting := w.prun, w.pn
	w.pmu.Unlock()
	if running || waiting != 0 {
		t.Fatalf("pipeline still running (%v) or holding %d chunks", running, waiting)
	}
	err = a.view(func(tx kv.Tx) error {
		if n := countChunks(tx, w.ID(), BlobOriginal); n != 0 {
			t.Errorf("%d chunks of the deleted recording stored", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPipelinedWriterSync: Sync returns only once the chunks handed to the
// pipeline are committed, so a copy of the file taken right after it (what
// a power cut leaves) holds them all; Finish hashes them in order.
func TestPipelinedWriterSync(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	w, err := a.Create(ctx, NewRecording{FileName: "bulk"})
	if err != nil {
		t.Fatal(err)
	}
	orig := data(40*ChunkSize+77, 6)
	writeAll(t, w.WriteOriginal, orig[:32*ChunkSize+5], 1<<20)
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cp := filepath.Join(dir, "archive.db")
	copyFile(t, a.Path(), cp)
	copyFile(t, SlotFile(a.Path()), SlotFile(cp))
	copyFile(t, ChunkFile(a.Path()), ChunkFile(cp))
	copyFile(t, filepath.Join(filepath.Dir(a.Path()), "archive.key"), filepath.Join(dir, "archive.key"))
	writeAll(t, w.WriteOriginal, orig[32*ChunkSize+5:], 3*ChunkSize)
	r, err := w.Finish(ctx, Final{State: StateComplete})
	if err != nil {
		t.Fatal(err)
	}
	if got := readBlob(t, a, r.ID, BlobOriginal); !bytes.Equal(got, orig) {
		t.Fatal("original differs")
	}
	if err := a.Seal(ctx, r.ID, nil); err != nil {
		t.Fatal(err)
	}
	if res, err := a.Verify(ctx, r.ID, nil); err != nil || !res.Valid {
		t.Fatalf("verify: %v %v", err, res.Problems)
	}

	b, err := Open(cp, Options{KeyFile: filepath.Join(dir, "archive.key"), KDF: FastKDF()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rec := recoverAll(t, b)[w.ID()]
	if rec == nil || rec.OrigSize != 32*ChunkSize {
		t.Fatalf("recovered %v, want the 32 synced chunks", rec)
	}
	if got := readBlob(t, b, w.ID(), BlobOriginal); !bytes.Equal(got, orig[:32*ChunkSize]) {
		t.Fatal("recovered original differs")
	}
}

// TestSlowWriterHoldsNoChunkBuffer: a writer fed in small pieces (a live
// call) keeps its partial chunk in a stage that grows with it a segment at
// a time, and takes a pooled 64 KiB chunk buffer only for the moment a
// chunk is full; what it wrote, in pieces of every size, reads back
// unchanged.
func TestSlowWriterHoldsNoChunkBuffer(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	w, err := a.Create(ctx, NewRecording{FileName: "live"})
	if err != nil {
		t.Fatal(err)
	}
	orig := data(3*ChunkSize+12345, 7)
	mp := data(ChunkSize+99, 8)
	m := 0 // map bytes written
	for off, step := 0, 4600; off < len(orig); off += step {
		if _, err := w.WriteOriginal(orig[off:min(off+step, len(orig))]); err != nil {
			t.Fatal(err)
		}
		if m < len(mp) {
			n, err := w.WriteMap(mp[m:min(m+step/4, len(mp))])
			if err != nil {
				t.Fatal(err)
			}
			m += n
		}
		for _, b := range []*blobWriter{&w.orig, &w.mp} {
			if b.buf != nil {
				t.Fatalf("after %d bytes: blob %d holds a pooled chunk buffer", off+step, b.kind)
			}
			if held := len(b.stage) * stageMax; held < b.staged || held >= b.staged+stageMax {
				t.Fatalf("after %d bytes: stage of %d bytes holds %d segments", off+step, b.staged, len(b.stage))
			}
		}
	}
	writeAll(t, w.WriteMap, mp[m:], 1<<20)
	r, err := w.Finish(ctx, Final{State: StateComplete})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readBlob(t, a, r.ID, BlobOriginal), orig) || !bytes.Equal(readBlob(t, a, r.ID, BlobMap), mp) {
		t.Fatal("blobs differ")
	}
}

// TestOriginalDigest: a writer's digest of its original is the SHA-256 of
// every byte written so far, whether the last of them sit in its stage
// (small writes), in a pooled chunk buffer (after a chunk filled) or in
// chunks out in the pipeline; taking it changes nothing of what is stored.
func TestOriginalDigest(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	w, err := a.Create(ctx, NewRecording{FileName: "digest"})
	if err != nil {
		t.Fatal(err)
	}
	orig := data(2*ChunkSize+5000, 9)
	kinds := map[string]bool{}
	for off, step, i := 0, 0, 0; off < len(orig); off, i = off+step, i+1 {
		step = []int{3001, 20000, 777}[i%3] // a large write moves the stage to a chunk buffer
		if _, err := w.WriteOriginal(orig[off:min(off+step, len(orig))]); err != nil {
			t.Fatal(err)
		}
		n := min(off+step, len(orig))
		switch {
		case w.orig.buf != nil:
			kinds["buffer"] = true
		case w.orig.staged > 0:
			kinds["stage"] = true
		}
		d, size, err := w.OriginalDigest()
		if err != nil {
			t.Fatal(err)
		}
		want := sha256.Sum256(orig[:n])
		if size != int64(n) || !bytes.Equal(d.Sum(nil), want[:]) {
			t.Fatalf("after %d bytes: digest of %d bytes differs", n, size)
		}
		d.Write([]byte("more")) // the caller's own hash
	}
	if !kinds["buffer"] || !kinds["stage"] {
		t.Fatalf("digests taken with the bytes in %v only", kinds)
	}
	r, err := w.Finish(ctx, Final{State: StateComplete})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readBlob(t, a, r.ID, BlobOriginal), orig) {
		t.Fatal("original differs")
	}
}
