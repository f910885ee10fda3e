package recorder

import (
	"testing"
	"time"

	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/internal/testcorpus"
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
	s.invite("call-A@pbx", 2, 1510*time.Millisecond, 9, "RTP/AVP", nil, []string{"a=rtpmap:9 G722/8000"})
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
