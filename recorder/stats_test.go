package recorder

import (
	"bytes"
	"context"
	"io"
	"testing"
)

// TestStats: the counters follow complete, interrupted and refused uploads.
func TestStats(t *testing.T) {
	r, _ := openTestRecorder(t)
	ctx := context.Background()
	if s := r.Stats(); s != (Stats{}) {
		t.Fatalf("fresh stats %+v", s)
	}
	capture := makeCallPcap(testCall{seconds: 2, pt: 0})
	if _, err := r.Ingest(ctx, "a.pcap", bytes.NewReader(capture)); err != nil {
		t.Fatal(err)
	}
	cut := len(capture) / 2
	if _, err := r.Ingest(ctx, "b.pcap", &failingReader{bytes.NewReader(capture[:cut]), io.ErrUnexpectedEOF}); err != nil {
		t.Fatal(err)
	}
	_, _ = r.Ingest(ctx, "c.pcap", bytes.NewReader([]byte("not a capture at all")))
	_, _ = r.Ingest(ctx, "../x", bytes.NewReader(capture))
	r.Wait() // the export hashes are sealed after the answers
	s := r.Stats()
	want := Stats{Uploads: 2, Complete: 1, Interrupted: 1, Refused: 2, Bytes: uint64(len(capture) + cut)}
	if s.Packets < 200 || s.Lost != 0 {
		t.Fatalf("packets %d lost %d", s.Packets, s.Lost)
	}
	s.Packets, s.Lost = 0, 0
	if s != want {
		t.Fatalf("stats %+v, want %+v", s, want)
	}
}
