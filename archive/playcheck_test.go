package archive

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/callvault/callvault/archive/kv"
)

func wantStatus(t *testing.T, a *Archive, id ID, want SealStatus) {
	t.Helper()
	got, err := a.CheckPlayback(t.Context(), id)
	if err != nil || got != want {
		t.Fatalf("CheckPlayback = %q, %v; want %q", got, err, want)
	}
}

func wantSealError(t *testing.T, a *Archive, id ID, reason string) {
	t.Helper()
	_, err := a.CheckPlayback(t.Context(), id)
	var se *SealError
	if !errors.As(err, &se) || !errors.Is(err, ErrCorrupt) || se.ID != id || !strings.Contains(se.Reason, reason) {
		t.Fatalf("CheckPlayback: want a SealError about %q, got %v", reason, err)
	}
}

func TestCheckPlaybackStates(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	w, err := a.Create(ctx, NewRecording{FileName: "x.pcap"})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, a, w.ID(), SealRecording)
	if _, err := w.WriteOriginal(data(100, 1)); err != nil {
		t.Fatal(err)
	}
	r, err := w.Finish(ctx, Final{State: StateComplete})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, a, r.ID, SealPending)
	if err := a.Seal(ctx, r.ID, nil); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, a, r.ID, SealValid)
	if _, err := a.CheckPlayback(ctx, NewID()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown recording: %v", err)
	}
}

// TestCheckPlaybackTamper changes the seal chain in the file, as someone
// without the appliance key could, and expects playback to refuse.
func TestCheckPlaybackTamper(t *testing.T) {
	a := OpenTest(t)
	r1 := sealed(t, a, data(3*ChunkSize, 1), data(100, 2))
	r2 := sealed(t, a, data(2*ChunkSize, 3), data(100, 4))
	r3 := sealed(t, a, data(ChunkSize, 5), data(100, 6))
	wantStatus(t, a, r1.ID, SealValid)

	seqOf := func(id ID) []byte {
		var seq uint64
		if err := a.view(func(tx kv.Tx) error {
			m, dk, err := a.loadTx(tx, id)
			clear(dk)
			seq = m.SealSeq
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return seqKey(seq)
	}
	k1, k2, k3 := seqOf(r1.ID), seqOf(r2.ID), seqOf(r3.ID)
	a = withBolt(t, a, func(tx kv.Tx) error {
		c := tx.Bucket(bucketChain)
		// r1: one bit of the signature flipped.
		v := bytes.Clone(c.Get(k1))
		v[len(v)-1] ^= 0x01
		if err := c.Put(k1, v); err != nil {
			return err
		}
		// r2: its entry replaced by r3's.
		if err := c.Put(k2, bytes.Clone(c.Get(k3))); err != nil {
			return err
		}
		// r3: its entry removed.
		return c.Delete(k3)
	})
	wantSealError(t, a, r1.ID, "signature")
	wantSealError(t, a, r2.ID, "another recording")
	wantSealError(t, a, r3.ID, "missing")
}

// sealedBenchRecording is a sealed recording of four chunks in a new
// archive.
func sealedBenchRecording(b *testing.B) (*Archive, *Recording) {
	b.Helper()
	a := OpenTest(b)
	r := record(b, a, NewRecording{FileName: "bench.pcap", User: "alice"}, data(4*ChunkSize, 1), data(4096, 2), Final{})
	if err := a.Seal(b.Context(), r.ID, [][32]byte{{1}, {2}}); err != nil {
		b.Fatal(err)
	}
	return a, r
}

// BenchmarkCheckPlayback is the cost added to every playback, download
// and WebDAV read.
func BenchmarkCheckPlayback(b *testing.B) {
	a, r := sealedBenchRecording(b)
	b.ReportAllocs()
	for b.Loop() {
		if s, err := a.CheckPlayback(b.Context(), r.ID); err != nil || s != SealValid {
			b.Fatal(s, err)
		}
	}
}

// BenchmarkGetForPlayback is the metadata read every playback already
// makes (Get), for comparison with BenchmarkCheckPlayback in one run.
func BenchmarkGetForPlayback(b *testing.B) {
	a, r := sealedBenchRecording(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Get(b.Context(), r.ID); err != nil {
			b.Fatal(err)
		}
	}
}
