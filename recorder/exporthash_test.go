package recorder

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"testing"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/codec"
)

// TestExportsLongWAV: the export hash of a recording long enough to be
// rendered by several readers at once is the SHA-256 of its WAV read
// straight through, and it is what the seal holds.
func TestExportsLongWAV(t *testing.T) {
	r, arc := openTestRecorder(t)
	ctx := context.Background()
	rec, err := r.Ingest(ctx, "long.pcap", bytes.NewReader(makeCallPcap(testCall{seconds: 400, pt: 0})))
	if err != nil {
		t.Fatal(err)
	}
	wav, err := r.WAV(ctx, []*archive.Recording{rec}, 0, codec.WAVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if wav.Size() < 4*exportBlock {
		t.Fatalf("WAV of %d bytes is rendered by one reader", wav.Size())
	}
	h := sha256.New()
	if _, err := io.Copy(h, wav); err != nil {
		t.Fatal(err)
	}
	want := [32]byte(h.Sum(nil))
	got, err := r.Exports(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("exports %x, want %x", got, want)
	}
	stored, err := arc.Get(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Seal == nil || len(stored.Seal.Exports) != 1 || stored.Seal.Exports[0] != want {
		t.Fatal("the seal does not hold the WAV's hash")
	}
}

// failingAt is an original whose bytes from off on cannot be read.
type failingAt struct {
	r   io.ReaderAt
	off int64
}

var errDisk = errors.New("disk read failed")

func (f failingAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.off {
		return 0, errDisk
	}
	return f.r.ReadAt(p, off)
}

// TestHashWAVReadError: a read error in any block, whichever reader
// renders it, is returned, not a hash.
func TestHashWAVReadError(t *testing.T) {
	r, _ := openTestRecorder(t)
	ctx := context.Background()
	capture := makeCallPcap(testCall{seconds: 400, pt: 0})
	rec, err := r.Ingest(ctx, "long.pcap", bytes.NewReader(capture))
	if err != nil {
		t.Fatal(err)
	}
	seg, err := r.Segment(ctx, rec, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int64{int64(len(capture)) / 3, int64(len(capture)) * 9 / 10} {
		s := seg
		s.Orig = failingAt{seg.Orig, cut}
		_, err := hashWAV(func() (*codec.WAVReader, error) { return codec.NewWAVReader([]codec.Segment{s}, codec.WAVOptions{}) })
		if !errors.Is(err, errDisk) {
			t.Fatalf("cut at %d: %v", cut, err)
		}
	}
}
