package archive

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestChunkNoteAfterUncleanStop: a note set for a chunk of the original is
// committed with that chunk, sealed (not in the file in clear), and Resume
// after an unclean stop returns the note of the last chunk kept; a note of
// an earlier chunk (the last chunk kept had none) describes other bytes
// and is not returned. Salvage keeps the note; Finish drops it.
func TestChunkNoteAfterUncleanStop(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	orig := data(4*ChunkSize, 7)
	noted, err := a.Create(ctx, NewRecording{FileName: "noted.pcap"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		noted.NoteOriginal([]byte("secret note of chunk " + string(rune('0'+i))))
		writeAll(t, noted.WriteOriginal, orig[i*ChunkSize:(i+1)*ChunkSize], 5000)
	}
	noted.NoteOriginal([]byte("secret note of chunk 3")) // never committed: the chunk is not full
	writeAll(t, noted.WriteOriginal, orig[3*ChunkSize:3*ChunkSize+100], 0)
	stale, err := a.Create(ctx, NewRecording{FileName: "stale.pcap"})
	if err != nil {
		t.Fatal(err)
	}
	stale.NoteOriginal([]byte("secret note of stale chunk 0"))
	writeAll(t, stale.WriteOriginal, orig[:2*ChunkSize], 0) // chunk 1 has no note
	for _, w := range []*Writer{noted, stale} {
		if err := w.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	db := filepath.Join(dir, "archive.db")
	copyFile(t, a.Path(), db)
	copyFile(t, SlotFile(a.Path()), SlotFile(db))
	copyFile(t, ChunkFile(a.Path()), ChunkFile(db))
	copyFile(t, filepath.Join(filepath.Dir(a.Path()), "archive.key"), filepath.Join(dir, "archive.key"))
	raw, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("secret note")) {
		t.Fatal("a chunk note is in the archive file in clear")
	}

	// Salvage into a new archive copies the note with the chunks.
	_, sv := salvageInto(t, dir)
	sw, err := sv.Resume(ctx, noted.ID())
	if err != nil {
		t.Fatal(err)
	}
	if sw.OriginalSize() != 3*ChunkSize || string(sw.Note()) != "secret note of chunk 2" {
		t.Fatalf("salvaged and resumed: %d bytes with note %q", sw.OriginalSize(), sw.Note())
	}

	b, err := Open(db, Options{KeyFile: filepath.Join(dir, "archive.key"), KDF: FastKDF()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	w, err := b.Resume(ctx, noted.ID())
	if err != nil {
		t.Fatal(err)
	}
	if w.OriginalSize() != 3*ChunkSize || string(w.Note()) != "secret note of chunk 2" {
		t.Fatalf("resumed %d bytes with note %q", w.OriginalSize(), w.Note())
	}
	if _, err := w.Finish(ctx, Final{State: StateInterrupted}); err != nil {
		t.Fatal(err)
	}
	w2, err := b.Resume(ctx, stale.ID())
	if err != nil {
		t.Fatal(err)
	}
	if w2.OriginalSize() != 2*ChunkSize || w2.Note() != nil {
		t.Fatalf("resumed %d bytes with note %q, want none", w2.OriginalSize(), w2.Note())
	}
	if _, err := w2.Finish(ctx, Final{State: StateInterrupted}); err != nil {
		t.Fatal(err)
	}
	if err := b.Check(); err != nil {
		t.Fatal(err)
	}
}
