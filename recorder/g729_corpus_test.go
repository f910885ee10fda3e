package recorder

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/internal/testcorpus"
	"github.com/callvault/callvault/recinfo"
)

// ffmpegPath returns the ffmpeg binary, or skips t loudly (fails it under
// CI=true, where CI must install it) when there is none.
func ffmpegPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ffmpeg is not installed; CI must install it (apt-get install -y ffmpeg)")
		}
		t.Skipf("SKIPPING FFMPEG COMPARISON: ffmpeg not found (%v)", err)
	}
	return p
}

// ffmpegG729 decodes a raw G.729 stream (10-byte frames back to back) with
// ffmpeg's decoder.
func ffmpegG729(t *testing.T, ffmpeg string, stream []byte) []int16 {
	t.Helper()
	cmd := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "g729", "-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", "8000", "pipe:1")
	cmd.Stdin = bytes.NewReader(stream)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, errb.String())
	}
	pcm := make([]int16, len(out)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(out[2*i:]))
	}
	return pcm
}

// TestG729AgainstFFmpeg ingests a real G.729 capture with many lost
// packets, renders its WAV and compares every packet's audio with ffmpeg's
// decode of the same payloads, and checks that each lost packet is silence
// at the place its sequence number and timestamp give.
func TestG729AgainstFFmpeg(t *testing.T) {
	ffmpeg := ffmpegPath(t)
	path := filepath.Join(testcorpus.Dir(t), "real", "rtpproxy_g729_lost.pcap")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := openTestRecorder(t)
	ctx := context.Background()
	rec, err := r.Ingest(ctx, "rtpproxy_g729_lost.pcap", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	in, err := recinfo.Parse(rec.Info)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Result.Calls) != 1 || len(in.Result.Streams) != 1 {
		t.Fatalf("%d calls, %d streams; want one of each", len(in.Result.Calls), len(in.Result.Streams))
	}
	st := in.Result.Streams[0]
	if st.Codec != "G729" || !st.Supported || st.PayloadType != 18 {
		t.Fatalf("stream %+v: want supported G729 (PT 18)", st)
	}
	wav, err := r.WAV(ctx, []*archive.Recording{rec}, 0, codec.WAVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ch := readWAV(t, wav)[st.Channel]
	start := in.Result.Calls[0].StartPos

	// The payloads in capture order, with the RTP header before each.
	run := runDemux(t, path)
	var stream []byte
	type pkt struct {
		seq uint16
		ts  uint32
		pos uint32
	}
	var pkts []pkt
	for _, pe := range run.entries {
		e := pe.e
		h := run.data[e.Off-12 : e.Off]
		if h[0]>>6 != 2 || h[1]&0x7f != 18 || e.Len != codec.G729FrameSize || pe.n != codec.G729FrameSamples {
			t.Fatalf("entry %+v: header % x, %d samples", e, h, pe.n)
		}
		pkts = append(pkts, pkt{binary.BigEndian.Uint16(h[2:]), binary.BigEndian.Uint32(h[4:]), e.Pos})
		stream = append(stream, run.data[e.Off:e.Off+int64(e.Len)]...)
	}
	if len(pkts) != 244 {
		t.Fatalf("%d packets, want 244", len(pkts))
	}
	ff := ffmpegG729(t, ffmpeg, stream)
	if len(ff) != 80*len(pkts) {
		t.Fatalf("ffmpeg decoded %d samples for %d frames", len(ff), len(pkts))
	}

	// Every packet at its timestamp; what lies between packets is silence.
	var got, want []int16
	lost, silent := 0, 0
	for k, p := range pkts {
		if d := p.pos - pkts[0].pos; d != p.ts-pkts[0].ts {
			t.Fatalf("packet seq %d at +%d samples, its timestamp says +%d", p.seq, d, p.ts-pkts[0].ts)
		}
		at := int(p.pos - start)
		got = append(got, ch[at:at+80]...)
		want = append(want, ff[80*k:80*k+80]...)
		if k+1 < len(pkts) {
			next := pkts[k+1]
			gap := int(next.seq - p.seq - 1)
			if int(next.pos-p.pos) != 80*(gap+1) {
				t.Fatalf("seq %d -> %d: %d samples apart, want %d", p.seq, next.seq, next.pos-p.pos, 80*(gap+1))
			}
			for i := at + 80; i < int(next.pos-start); i++ {
				if ch[i] != 0 {
					t.Fatalf("sample %d, lost between seq %d and %d, is %d, want silence", i, p.seq, next.seq, ch[i])
				}
				silent++
			}
			lost += gap
		}
	}
	if silent != 80*lost || lost == 0 {
		t.Fatalf("%d silent samples for %d lost packets", silent, lost)
	}
	// The first loss: seq 400 is followed by 423 (22 packets lost).
	if pkts[0].seq != 400 || pkts[1].seq != 423 || pkts[1].pos-pkts[0].pos != 23*80 {
		t.Fatalf("first packets %+v %+v", pkts[0], pkts[1])
	}
	ncc := testcorpus.NCC(got, want)
	t.Logf("%d packets, %d lost (silence), ncc with ffmpeg over the packets %.4f", len(pkts), lost, ncc)
	if ncc < 0.98 {
		t.Fatalf("ncc with ffmpeg %.4f, want >= 0.98", ncc)
	}
	// Not silence: the decode has the level ffmpeg's has.
	var eg, ew float64
	for i := range got {
		eg += float64(got[i]) * float64(got[i])
		ew += float64(want[i]) * float64(want[i])
	}
	if eg < 0.8*ew || eg > 1.25*ew {
		t.Fatalf("energy %.3g, ffmpeg's %.3g", eg, ew)
	}

	res, err := r.arc.Verify(ctx, rec.ID, func(rec *archive.Recording) ([][32]byte, error) {
		return r.Exports(ctx, rec)
	})
	if err != nil || !res.Valid {
		t.Fatalf("verify: %v %+v", err, res)
	}
}

// TestSealedBeforeG729StillVerifies stores the G.729 capture as a build
// without G.729 did (the stream marked unsupported) and seals it with the
// export such a build rendered, silence; the recording still verifies (by
// the first export rendering rule), and now plays its G.729 audio. A seal
// over other exports does not verify.
func TestSealedBeforeG729StillVerifies(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(testcorpus.Dir(t), "real", "rtpproxy_g729_lost.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	r, arc := openTestRecorder(t)
	ctx := context.Background()
	store := func(name string, export [32]byte) archive.ID {
		w, err := arc.Create(ctx, archive.NewRecording{FileName: name, Received: r.cfg.Now()})
		if err != nil {
			t.Fatal(err)
		}
		var n atomic.Uint64
		a, err := Analyze(io.TeeReader(bytes.NewReader(raw), &originalWriter{w: w, n: &n}), &mapSink{w: w})
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Result.Streams) != 1 || !a.Result.Streams[0].Supported {
			t.Fatalf("streams %+v", a.Result.Streams)
		}
		a.Result.Streams[0].Supported = false // as stored before G.729 was decoded
		info, err := json.Marshal(Info{Version: recinfo.Version, Result: a.Result, Spans: a.Spans, Entries: a.Entries})
		if err != nil {
			t.Fatal(err)
		}
		rec, err := w.Finish(ctx, archive.Final{State: archive.StateComplete, Info: info})
		if err != nil {
			t.Fatal(err)
		}
		if err := arc.Seal(ctx, rec.ID, [][32]byte{export}); err != nil {
			t.Fatal(err)
		}
		return rec.ID
	}
	verify := func(id archive.ID) bool {
		res, err := arc.Verify(ctx, id, func(rec *archive.Recording) ([][32]byte, error) {
			return r.Exports(ctx, rec)
		})
		if err != nil {
			t.Fatal(err)
		}
		return res.Valid
	}

	// The export of that build: a stereo WAV of silence over the call.
	const frames = 61200 - 16000 // the call's window
	h := codec.WAVHeader(8000, 2, 4*frames)
	sum := sha256.New()
	sum.Write(h[:])
	sum.Write(make([]byte, 4*frames))
	old := store("old-g729.pcap", [32]byte(sum.Sum(nil)))
	if !verify(old) {
		t.Fatal("a recording sealed when G.729 rendered as silence does not verify")
	}
	rec, err := arc.Get(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	in, err := recinfo.Parse(rec.Info)
	if err != nil {
		t.Fatal(err)
	}
	if c := in.Result.Calls[0]; c.EndPos-c.StartPos != frames || !in.Result.Streams[0].Supported {
		t.Fatalf("call window %d..%d, stream %+v", c.StartPos, c.EndPos, in.Result.Streams[0])
	}
	wav, err := r.WAV(ctx, []*archive.Recording{rec}, 0, codec.WAVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	loud := 0
	for _, v := range readWAV(t, wav)[in.Result.Streams[0].Channel] {
		if v > 1000 || v < -1000 {
			loud++
		}
	}
	if loud < 1000 {
		t.Fatalf("%d loud samples: the old recording's G.729 does not play", loud)
	}

	// Neither rule gives a seal over some other export.
	if verify(store("forged.pcap", [32]byte{1})) {
		t.Fatal("a seal matching neither rendering verifies")
	}
}
