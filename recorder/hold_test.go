package recorder

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/recinfo"
)

// TestLiveUploadPassesOnUntilPaused: a live upload without DTMF masking
// holds back no more than its last few packets (passTail bytes; the rest
// read is passed on to the archive at once) until a secure pause is asked
// for mid-call; what is read after that request is still masked: silence
// in the pause, the marker tone at both of its ends, nothing missed, and
// the masking record lists it.
func TestLiveUploadPassesOnUntilPaused(t *testing.T) {
	c := makeDTMFCall(t)
	r, arc := openTestRecorder(t)
	ctx := context.Background()
	const guid = "f9e5956e47d460010630009033302ab3"
	integ := &archive.User{Login: "crm", Role: archive.RoleIntegration}
	ends, times := packetEnds(t, c.pcap)
	pw, done := liveIngest(t, r, guid+"-009033302ab1-11--desk.pcap")
	sent := 0
	// send writes the capture up to the packets captured before at and
	// waits until the archive has been given all but passTail bytes.
	send := func(at time.Duration, stored bool) {
		t.Helper()
		k := 0
		for k < len(times) && times[k].Before(times[0].Add(at)) {
			k++
		}
		if _, err := pw.Write(c.pcap[sent:ends[k-1]]); err != nil {
			t.Fatal(err)
		}
		sent = ends[k-1]
		if !stored {
			return
		}
		deadline := time.Now().Add(10 * time.Second)
		for r.stats.bytes.Load() < uint64(sent-passTail) {
			if time.Now().After(deadline) {
				t.Fatalf("%d bytes read, %d passed on to the archive", sent, r.stats.bytes.Load())
			}
			time.Sleep(time.Millisecond)
		}
	}
	send(2*time.Second, true)
	send(3900*time.Millisecond, true)
	var err error
	for {
		if _, err = r.Pause(ctx, guid, integ, false); err != ErrNoLiveCall {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	send(5*time.Second, false)
	if _, err := r.Pause(ctx, guid, integ, true); err != nil {
		t.Fatal(err)
	}
	send(13*time.Second, false)
	pw.Close()
	rec := <-done
	if rec == nil {
		t.FailNow()
	}
	in, err := recinfo.Parse(rec.Info)
	if err != nil {
		t.Fatal(err)
	}
	if in.Masking == nil || in.Masking.ReceivedHMAC == "" {
		t.Fatalf("masking record %+v", in.Masking)
	}
	// The keyed hash as received covers the whole upload: what was
	// passed on before the pause (taken from the archive's digest of the
	// original) and what was read after.
	sum := sha256.Sum256(c.pcap[:sent])
	if want := hex.EncodeToString(receivedMAC(r.receivedKey(), sum[:])); in.Masking.ReceivedHMAC != want {
		t.Fatalf("received hash %s, want %s", in.Masking.ReceivedHMAC, want)
	}
	if ok, err := r.MatchesReceived(rec, bytes.NewReader(c.pcap[:sent])); !ok || err != nil {
		t.Fatalf("the upload does not match its recording: %v %v", ok, err)
	}
	audio, _ := storedPayloads(t, readBlob(t, arc, rec.ID, archive.BlobOriginal), len(c.sent[0]))
	marker := markerBytes(codec.PCMU)
	spans := audioPauseSpans(in)
	for _, sp := range spans {
		st := in.Result.Streams[sp.Stream]
		d, origin := st.SSRC-0x1000, int(st.FirstPos)
		from, to := int(sp.StartPos)-origin, int(sp.EndPos)-origin
		if from > 3900*8 || from < 3700*8 || to < 5000*8 || to > 5000*8+pauseMargin+800 {
			t.Errorf("direction %d: pause [%d, %d) samples, requests at %d and %d", d, from, to, 3900*8, 5000*8)
		}
		for p := from; p < to; p++ {
			got := audio[d][p]
			inMarker := p < from+markerLen || p >= to-markerLen
			if inMarker && got != marker[(origin+p)%8] && got != 0xFF || !inMarker && got != 0xFF {
				t.Fatalf("direction %d: sample %d in the pause [%d, %d): %#x", d, p, from, to, got)
			}
		}
		if audio[d][from-1] != c.sent[d][from-1] {
			t.Errorf("direction %d: sample %d before the pause changed", d, from-1)
		}
	}
	if len(spans) != 2 {
		t.Errorf("%d pause spans on the audio streams: %+v", len(spans), in.Masking.Spans)
	}
	if in.Masking.Missed != 0 {
		t.Errorf("masking missed %d bytes", in.Masking.Missed)
	}
}

// audioPauseSpans returns the pause spans of the masking record on the
// two audio streams of makeDTMFCall (SSRC 0x1000 and 0x1001).
func audioPauseSpans(in *recinfo.Info) []recinfo.MaskSpan {
	var out []recinfo.MaskSpan
	for _, sp := range in.Masking.Spans {
		if sp.Reason == recinfo.MaskPause && in.Result.Streams[sp.Stream].SSRC <= 0x1001 {
			out = append(out, sp)
		}
	}
	return out
}

// liveIngest starts a live upload of name fed through the returned pipe;
// the recording (nil on failure) arrives on the channel.
func liveIngest(t *testing.T, r *Recorder, name string) (*io.PipeWriter, <-chan *archive.Recording) {
	pr, pw := io.Pipe()
	done := make(chan *archive.Recording, 1)
	go func() {
		rec, err := r.ingest(context.Background(), name, pr, uploadKind{live: true})
		if err != nil {
			t.Error(err)
		}
		done <- rec
	}()
	return pw, done
}

// TestPassBufferKeepsOrderAndChunkNotes: a buffer from newPassBuffer
// passes every byte on once and in order, in writes of any size, before
// and after engage; it holds no more than passTail bytes before engage and
// hashes nothing (the digest of what it passed on stands in for that);
// each chunk ending after what was passed on at engage gets its note
// before the bytes that end the chunk, with the keyed hash of the capture
// up to there; and the keyed hash of the whole is receivedMAC of its
// SHA-256.
func TestPassBufferKeepsOrderAndChunkNotes(t *testing.T) {
	in := make([]byte, 3*archive.ChunkSize+12345)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range in {
		in[i] = byte(rng.Uint32())
	}
	key := []byte("received-key")
	var out bytes.Buffer
	digests := 0
	h := newPassBuffer(&out, key, func() (hash.Hash, int64, error) {
		digests++
		d := sha256.New()
		d.Write(out.Bytes())
		return d, int64(out.Len()), nil
	})
	var notes, want []int64
	h.onChunk = func(end int64, received []byte) {
		if int64(out.Len()) >= end {
			t.Fatalf("note for chunk ending at %d after %d bytes were passed on", end, out.Len())
		}
		sum := sha256.Sum256(in[:end])
		if !hmac.Equal(received, receivedMAC(key, sum[:])) {
			t.Fatalf("chunk ending at %d: wrong HMAC", end)
		}
		notes = append(notes, end)
	}
	off := 0
	for i := 0; off < len(in); i++ {
		n := min(1+rng.IntN(20000), len(in)-off)
		if _, err := h.Write(in[off : off+n]); err != nil {
			t.Fatal(err)
		}
		off += n
		if off < 2*archive.ChunkSize {
			if len(h.buf) > passTail || out.Len() != off-len(h.buf) {
				t.Fatalf("after %d bytes: %d held, %d passed on", off, len(h.buf), out.Len())
			}
		} else if h.passing {
			if h.recv != nil || digests != 0 {
				t.Fatal("a pass buffer hashed before engage")
			}
			if got := h.engage(); got != int64(off) {
				t.Fatalf("engage at %d bytes: %d", off, got)
			}
			for end := archive.ChunkSize; end <= len(in); end += archive.ChunkSize {
				if end > out.Len() {
					want = append(want, int64(end))
				}
			}
		} else if err := h.release(int64(off - 1000)); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.flush(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), in) {
		t.Fatal("bytes passed on differ from those written")
	}
	if !slices.Equal(notes, want) || len(want) == 0 || digests != 1 {
		t.Fatalf("chunk notes at %v, want %v; %d digests", notes, want, digests)
	}
	sum := sha256.Sum256(in)
	if !hmac.Equal(h.receivedHMAC(), receivedMAC(key, sum[:])) {
		t.Fatal("wrong keyed hash of the whole")
	}
}

// TestPassBufferNotesTailAfterEngage: a chunk that ends in the tail a
// pass buffer holds at engage gets its note, with the keyed hash as
// received up to its end, even when the tail is released before anything
// more is written.
func TestPassBufferNotesTailAfterEngage(t *testing.T) {
	const chunk = 4096
	in := make([]byte, 3*chunk+500) // the tail, the last passTail bytes, holds the end of chunk 3
	for i := range in {
		in[i] = byte(i * 7)
	}
	key := []byte("received-key")
	var out bytes.Buffer
	h := newPassBuffer(&out, key, func() (hash.Hash, int64, error) {
		d := sha256.New()
		d.Write(out.Bytes())
		return d, int64(out.Len()), nil
	})
	h.chunk = chunk
	var notes []int64
	h.onChunk = func(end int64, received []byte) {
		sum := sha256.Sum256(in[:end])
		if !hmac.Equal(received, receivedMAC(key, sum[:])) {
			t.Fatalf("chunk ending at %d: wrong keyed hash", end)
		}
		notes = append(notes, end)
	}
	if _, err := h.Write(in); err != nil {
		t.Fatal(err)
	}
	if int64(out.Len()) >= 3*chunk {
		t.Fatalf("%d bytes passed on before engage; the test needs the end of chunk 3 held", out.Len())
	}
	h.engage()
	if err := h.flush(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(notes, []int64{3 * chunk}) || !bytes.Equal(out.Bytes(), in) {
		t.Fatalf("notes at %v, %d of %d bytes passed on", notes, out.Len(), len(in))
	}
}
