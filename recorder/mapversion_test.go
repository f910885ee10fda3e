package recorder

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"testing"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/recinfo"
)

// TestVersion1MapStillPlaysAndVerifies: an upload is stored with a
// version 2 placement map, a small fraction of the version 1 map of the
// same entries; a recording stored with that version 1 map (as
// earlier releases wrote it) and sealed plays to the same WAV bytes, and
// both verify.
func TestVersion1MapStillPlaysAndVerifies(t *testing.T) {
	ctx := context.Background()
	r, arc := openTestRecorder(t)
	capture := makeCallPcap(testCall{seconds: 90, pt: 0})
	cur, err := r.Ingest(ctx, "current.pcap", bytes.NewReader(capture))
	if err != nil {
		t.Fatal(err)
	}
	v2 := readBlob(t, arc, cur.ID, archive.BlobMap)
	if !codec.IsMapV2(v2) {
		t.Fatal("the upload's map is not version 2")
	}
	// The same entries in version 1, with its index (a span per 4,096).
	var v1 []byte
	blks, err := codec.MapBlocksV2(bytes.NewReader(v2), int64(len(v2)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range len(blks) - 1 {
		if v1, err = codec.AppendMapBlockV2(v1, v2[blks[i]:blks[i+1]]); err != nil {
			t.Fatal(err)
		}
	}
	in, err := recinfo.Parse(cur.Info)
	if err != nil {
		t.Fatal(err)
	}
	var idx codec.MapIndex
	for i := 0; i < len(v1); i += codec.EntrySize {
		e, _ := codec.ParseEntry(v1[i:])
		idx.Add(e, uint32(e.Len))
	}
	if len(v1) != in.Entries*codec.EntrySize || len(idx.Spans) < 3 {
		t.Fatalf("%d bytes of version 1 map for %d entries, %d spans", len(v1), in.Entries, len(idx.Spans))
	}
	if len(v2) > len(v1)/32 {
		t.Errorf("version 2 map %d bytes, version 1 %d", len(v2), len(v1))
	}
	t.Logf("%d entries: version 2 map %d bytes, version 1 %d; capture %d", in.Entries, len(v2), len(v1), len(capture))
	in.Spans = idx.Spans
	info, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}

	w, err := arc.Create(ctx, archive.NewRecording{FileName: "earlier.pcap", Received: cur.Received})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteOriginal(capture); err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteMap(v1); err != nil {
		t.Fatal(err)
	}
	old, err := w.Finish(ctx, archive.Final{State: archive.StateComplete, StartTime: cur.StartTime, DurationMs: cur.DurationMs, Info: info})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.seal(ctx, old); err != nil {
		t.Fatal(err)
	}
	if old, err = arc.Get(ctx, old.ID); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readBlob(t, arc, old.ID, archive.BlobMap), v1) {
		t.Fatal("stored map is not the version 1 map written")
	}
	wavSum := func(rec *archive.Recording) [32]byte {
		rd, err := r.WAV(ctx, []*archive.Recording{rec}, 0, codec.WAVOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rd)
		if err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(b)
	}
	if wavSum(old) != wavSum(cur) {
		t.Fatal("the recording with the version 1 map plays differently")
	}
	exports := func(rec *archive.Recording) ([][32]byte, error) { return r.Exports(ctx, rec) }
	for _, rec := range []*archive.Recording{cur, old} {
		if res, err := arc.Verify(ctx, rec.ID, exports); err != nil || !res.Valid {
			t.Fatalf("%s: %v %+v", rec.FileName, err, res)
		}
	}
}
