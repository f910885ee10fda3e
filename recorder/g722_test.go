package recorder

import (
	"bytes"
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/internal/testcorpus"
	"github.com/callvault/callvault/recinfo"
)

// TestReInviteG711ToG722: a re-INVITE switches a running call from PCMU
// to G.722 (PT 9) on the same SSRCs, sequence and timestamps. The call
// stays one call on one continuous timeline: it renders at 16 kHz, each
// channel's PCMU part keeps every G.711 sample (at the even positions of
// the upsampled audio), and its G.722 part follows without a gap as the
// G.722 decode of what was sent.
func TestReInviteG711ToG722(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	s.invite("call-A@pbx", 1, 0, 0, "RTP/AVP", nil, nil)
	a1 := &talk{src: dlgA, dst: dlgB, ssrc: 0x1111, pt: 0, seq: 100, ts: 1000, tag: 1}
	a2 := &talk{src: dlgB, dst: dlgA, ssrc: 0x2222, pt: 0, seq: 200, ts: 5000, tag: 2}
	s.converse(a1, a2, 0, 75, 20*time.Millisecond)
	s.invite("call-A@pbx", 2, 1510*time.Millisecond, 9, "RTP/AVP", nil, nil)
	a1.pt, a2.pt = 9, 9
	s.converse(a1, a2, 75, 100, 1520*time.Millisecond)
	s.bye("call-A@pbx", 3, 3600*time.Millisecond)
	r := s.result()
	if len(r.Calls) != 1 || len(r.Calls[0].Streams) != 4 {
		t.Fatalf("calls %+v", r.Calls)
	}
	for _, si := range r.Calls[0].Streams {
		if st := r.Streams[si]; !st.Supported {
			t.Errorf("stream %d (%s) not supported", si, st.Codec)
		}
	}
	left, right := s.renderCall(r, 0)
	c := r.Calls[0]
	if len(left) != 2*int(c.EndPos-c.StartPos) {
		t.Fatalf("%d samples for %d ticks: not 16 kHz", len(left), c.EndPos-c.StartPos)
	}
	for _, g := range []*talk{a1, a2} {
		var pcmu, g722 *Stream
		for _, si := range c.Streams {
			st := &r.Streams[si]
			if st.SSRC != g.ssrc {
				continue
			}
			switch st.Codec {
			case "PCMU":
				pcmu = st
			case "G722":
				g722 = st
			}
		}
		if pcmu == nil || g722 == nil || pcmu.Channel != g722.Channel {
			t.Fatalf("ssrc %x: streams %+v %+v", g.ssrc, pcmu, g722)
		}
		if g722.FirstPos != pcmu.EndPos {
			t.Errorf("ssrc %x: G.722 starts at %d, PCMU ended at %d: not one timeline", g.ssrc, g722.FirstPos, pcmu.EndPos)
		}
		got := [2][]int16{left, right}[pcmu.Channel]
		first := 2 * int(pcmu.FirstPos-c.StartPos)
		u := make([]int16, 75*160)
		codec.DecodeUlaw(u, g.sent[:75*160])
		for i, v := range u {
			if got[first+2*i] != v {
				t.Fatalf("ssrc %x: PCMU sample %d is %d, want %d", g.ssrc, i, got[first+2*i], v)
			}
		}
		want := make([]int16, 2*100*160)
		codec.NewG722Decoder().Decode(want, g.sent[75*160:])
		at := 2 * int(g722.FirstPos-c.StartPos)
		if v := testcorpus.NCC(got[at:at+len(want)], want); v < 0.999 {
			t.Errorf("ssrc %x: G.722 part ncc %.5f against its decode", g.ssrc, v)
		}
		// Audio right up to the switch and soon after it (the G.722
		// decoder starts from its reset state, quiet for a few samples).
		nz := 0
		for _, v := range got[at-64 : at+320] {
			if v != 0 {
				nz++
			}
		}
		if nz < 300 {
			t.Errorf("ssrc %x: %d of 384 samples around the switch are audio", g.ssrc, nz)
		}
	}
}

// TestG722SealedBeforeDecoding: a recording with G.722 sealed when G.722
// rendered as silence (an 8 kHz WAV of zeros) still verifies, now that its
// WAV is the 16 kHz decode; one sealed now verifies by the current rule;
// a seal matching neither does not verify.
func TestG722SealedBeforeDecoding(t *testing.T) {
	ctx := context.Background()
	r, arc := openTestRecorder(t)
	set, err := arc.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	set.Sealing = false
	if err := arc.PutSettings(ctx, set); err != nil {
		t.Fatal(err)
	}
	capture := makeCallPcap(testCall{seconds: 3, pt: 9})
	name := "f9e5956e47d460010630009033302ab1-009033302ab1-11--username.pcap"
	old, err := r.Ingest(ctx, name, bytes.NewReader(capture))
	if err != nil {
		t.Fatal(err)
	}
	in, err := recinfo.Parse(old.Info)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Result.Calls) != 1 {
		t.Fatalf("%d calls", len(in.Result.Calls))
	}
	// The export of the first rule: silence, stereo, 8 kHz.
	c := in.Result.Calls[0]
	n := 4 * int(c.EndPos-c.StartPos)
	h := codec.WAVHeader(8000, 2, uint32(n))
	silence := sha256.Sum256(append(h[:], make([]byte, n)...))
	wav, err := r.WAV(ctx, []*archive.Recording{old}, 0, codec.WAVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if wav.Rate() != 16000 {
		t.Fatalf("G.722 call renders at %d Hz", wav.Rate())
	}
	set.Sealing = true
	if err := arc.PutSettings(ctx, set); err != nil {
		t.Fatal(err)
	}
	if err := arc.Seal(ctx, old.ID, [][32]byte{silence}); err != nil {
		t.Fatal(err)
	}
	exports := func(rec *archive.Recording) ([][32]byte, error) { return r.Exports(ctx, rec) }
	if res, err := arc.Verify(ctx, old.ID, exports); err != nil || !res.Valid {
		t.Fatalf("recording sealed with G.722 as silence: %v %+v", err, res)
	}

	// Sealed now: the 16 kHz decode.
	cur, err := r.Ingest(ctx, name, bytes.NewReader(makeCallPcap(testCall{seconds: 2, pt: 9})))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := arc.Verify(ctx, cur.ID, exports); err != nil || !res.Valid {
		t.Fatalf("recording sealed now: %v %+v", err, res)
	}
	if sum, err := r.Exports(ctx, cur); err != nil || sum[0] == silence {
		t.Fatalf("current exports %x, %v", sum, err)
	}

	// A seal of neither rendering.
	set.Sealing = false
	if err := arc.PutSettings(ctx, set); err != nil {
		t.Fatal(err)
	}
	bad, err := r.Ingest(ctx, name, bytes.NewReader(capture))
	if err != nil {
		t.Fatal(err)
	}
	set.Sealing = true
	if err := arc.PutSettings(ctx, set); err != nil {
		t.Fatal(err)
	}
	if err := arc.Seal(ctx, bad.ID, [][32]byte{{1, 2, 3}}); err != nil {
		t.Fatal(err)
	}
	if res, err := arc.Verify(ctx, bad.ID, exports); err != nil || res.Valid {
		t.Fatalf("a seal of neither rendering verifies: %v %+v", err, res)
	}
}
