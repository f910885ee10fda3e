package recorder

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/internal/capturetest"
)

// Tests of how media is bound to SIP dialogs by time and of encrypted
// media. The helpers send SIP with SDP and RTP whose payload bytes are
// remembered, so that each call's rendering can be compared with the
// G.711 decode of exactly what was sent in it.

const (
	dlgA = "10.0.0.1:4000" // the caller's media address in every dialog
	dlgB = "10.0.0.2:5000" // the callee's
)

// sipMsg is a SIP message with an optional SDP body.
func sipMsg(first, callID string, cseq int, method, sdp string) []byte {
	return capturetest.SIP{
		First: first, Via: "10.0.0.1:5060", Branch: "z9hG4bK" + fmt.Sprint(cseq), Domain: "pbx",
		From: capturetest.Party{Display: "Alice", User: "201", Tag: "a"}, To: capturetest.Party{Display: "Bob", User: "202", Tag: "b"},
		CallID: callID, CSeq: cseq, Method: method, Body: sdp,
	}.Bytes()
}

// sdpFor announces addr ("ip:port") for payload type pt with proto and
// extra attribute lines.
func sdpFor(addr string, pt uint8, proto string, attrs ...string) string {
	return capturetest.SDP(netip.MustParseAddrPort(addr), proto, pt, true, attrs...)
}

// invite sends an INVITE offering dlgA and its 200 OK answering with
// dlgB, at at and 5 ms later, with the given cseq.
func (s *synth) invite(callID string, cseq int, at time.Duration, pt uint8, proto string, offerAttrs, answerAttrs []string) {
	s.send("10.0.0.1:5060", "10.0.0.2:5060", at, sipMsg("INVITE sip:202@10.0.0.2 SIP/2.0", callID, cseq, "INVITE", sdpFor(dlgA, pt, proto, offerAttrs...)))
	s.send("10.0.0.2:5060", "10.0.0.1:5060", at+5*time.Millisecond, sipMsg("SIP/2.0 200 OK", callID, cseq, "INVITE", sdpFor(dlgB, pt, proto, answerAttrs...)))
}

// bye sends a BYE and its 200 OK.
func (s *synth) bye(callID string, cseq int, at time.Duration) {
	s.send("10.0.0.1:5060", "10.0.0.2:5060", at, sipMsg("BYE sip:202@10.0.0.2 SIP/2.0", callID, cseq, "BYE", ""))
	s.send("10.0.0.2:5060", "10.0.0.1:5060", at+2*time.Millisecond, sipMsg("SIP/2.0 200 OK", callID, cseq, "BYE", ""))
}

// talk is one direction of media in a test call.
type talk struct {
	src, dst string
	ssrc     uint32
	pt       uint8
	seq      uint16
	ts       uint32
	tag      byte // first payload byte; later bytes count on from it
	sent     []byte
}

// payload returns the 160 payload bytes of packet i: distinct per tag and
// packet, none of them a G.711 code that decodes to zero, so that audio
// is told from silence.
func (g *talk) payload(i int) []byte {
	b := make([]byte, 160)
	for k := range b {
		v := byte(0x10 + (int(g.tag)+i*7+k)%0x60)
		b[k] = v
	}
	return b
}

// send sends packet i of g at the given capture time and remembers its
// payload.
func (s *synth) sendTalk(g *talk, i int, at time.Duration) {
	pl := g.payload(i)
	g.sent = append(g.sent, pl...)
	p := capturetest.RTP{PT: g.pt, Seq: g.seq + uint16(i), TS: g.ts + uint32(160*i), SSRC: g.ssrc, Marker: i == 0, Payload: pl}
	s.send(g.src, g.dst, at, p.Bytes())
}

// converse sends n packets each way every 20 ms from at, packet numbers
// from first.
func (s *synth) converse(a, b *talk, first, n int, at time.Duration) {
	for i := range n {
		t := at + time.Duration(i)*20*time.Millisecond
		s.sendTalk(a, first+i, t)
		s.sendTalk(b, first+i, t+3*time.Millisecond)
	}
}

// renderCall renders call c of r from the synth's capture and map.
func (s *synth) renderCall(r *Result, c int) (left, right []int16) {
	s.t.Helper()
	var mp []byte
	for _, pe := range s.entries {
		mp = codec.AppendEntry(mp, pe.e)
	}
	l := r.Layout(c, nil)
	rd, err := codec.NewRenderer(codec.Segment{Orig: bytes.NewReader(s.file), Map: bytes.NewReader(mp), MapSize: int64(len(mp)), Layout: l}, false)
	if err != nil {
		s.t.Fatal(err)
	}
	n := int(l.End-l.Start) * rd.Rate() / 8000
	left, right = make([]int16, n), make([]int16, n)
	if err := rd.Render(l.Start, left, right); err != nil {
		s.t.Fatal(err)
	}
	return left, right
}

// checkCallAudio checks that call c's channel ch is silence except for
// the G.711 decode of want (contiguous audio), which starts at the first
// position of the call's streams on that channel.
func checkCallAudio(t *testing.T, s *synth, r *Result, c, ch int, pt uint8, want []byte) {
	t.Helper()
	left, right := s.renderCall(r, c)
	got := [2][]int16{left, right}[ch]
	first := -1
	for _, si := range r.Calls[c].Streams {
		if st := r.Streams[si]; st.Channel == ch && !slices.Contains([]string{"telephone-event"}, st.Codec) {
			if p := int(st.FirstPos) - int(r.Calls[c].StartPos); first < 0 || p < first {
				first = p
			}
		}
	}
	if first < 0 || first+len(want) > len(got) {
		t.Fatalf("call %d channel %d: audio at %d, %d samples wanted in %d", c, ch, first, len(want), len(got))
	}
	exp := make([]int16, len(want))
	if pt == 8 {
		codec.DecodeAlaw(exp, want)
	} else {
		codec.DecodeUlaw(exp, want)
	}
	if !slices.Equal(got[first:first+len(want)], exp) {
		for i := range exp {
			if got[first+i] != exp[i] {
				t.Fatalf("call %d channel %d: sample %d (packet %d) is %d, want %d", c, ch, i, i/160, got[first+i], exp[i])
			}
		}
	}
	for i, v := range got {
		if (i < first || i >= first+len(want)) && v != 0 {
			t.Fatalf("call %d channel %d: sample %d outside the call's audio is %d, want silence", c, ch, i, v)
		}
	}
}

// callByID returns the index of the call with the Call-ID, or fails.
func callByID(t *testing.T, r *Result, id string) int {
	t.Helper()
	for i, c := range r.Calls {
		if c.CallID == id {
			return i
		}
	}
	t.Fatalf("no call %q in %+v", id, r.Calls)
	return -1
}

// TestSuccessiveDialogsSamePort: call A in PCMU, BYE, then call B in PCMA
// whose SDP announces the same addresses and ports. Each dialog is a call
// of its own under its Call-ID, with its own audio bit for bit, whether
// the senders keep their SSRC across the calls or not.
func TestSuccessiveDialogsSamePort(t *testing.T) {
	tests := []struct {
		name     string
		sameSSRC bool // the senders keep their SSRC for call B
		restart  bool // and restart B's sequence and timestamps where A's began
		ptB      uint8
		gapB     time.Duration // from A's BYE to B's INVITE
	}{
		{"new SSRCs", false, false, 8, 470 * time.Millisecond},
		{"same SSRCs", true, false, 8, 470 * time.Millisecond},
		{"same SSRCs and codec", true, false, 0, 470 * time.Millisecond},
		{"same SSRCs, codec, sequence and timestamps, soon after", true, true, 0, 100 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSynth(t, DemuxOptions{})
			s.invite("call-A@pbx", 1, 0, 0, "RTP/AVP", nil, nil)
			a1 := &talk{src: dlgA, dst: dlgB, ssrc: 0x1111, pt: 0, seq: 100, ts: 1000, tag: 1}
			a2 := &talk{src: dlgB, dst: dlgA, ssrc: 0x2222, pt: 0, seq: 200, ts: 5000, tag: 2}
			s.converse(a1, a2, 0, 50, 20*time.Millisecond)
			s.bye("call-A@pbx", 2, 1030*time.Millisecond)

			b1 := &talk{src: dlgA, dst: dlgB, ssrc: 0x3333, pt: tc.ptB, seq: 300, ts: 9000, tag: 3}
			b2 := &talk{src: dlgB, dst: dlgA, ssrc: 0x4444, pt: tc.ptB, seq: 400, ts: 7000, tag: 4}
			if tc.sameSSRC {
				b1.ssrc, b2.ssrc = a1.ssrc, a2.ssrc
			}
			if tc.restart {
				b1.seq, b1.ts, b2.seq, b2.ts = a1.seq, a1.ts, a2.seq, a2.ts
			}
			inviteB := 1030*time.Millisecond + tc.gapB
			s.invite("call-B@pbx", 1, inviteB, tc.ptB, "RTP/AVP", nil, nil)
			s.converse(b1, b2, 0, 60, inviteB+20*time.Millisecond)
			s.bye("call-B@pbx", 2, inviteB+1300*time.Millisecond)

			r := s.result()
			if len(r.Calls) != 2 {
				t.Fatalf("%d calls, want 2: %+v", len(r.Calls), r.Calls)
			}
			ca, cb := callByID(t, r, "call-A@pbx"), callByID(t, r, "call-B@pbx")
			if ca != 0 || cb != 1 {
				t.Errorf("calls in order A %d, B %d", ca, cb)
			}
			for c, want := range map[int]string{ca: "PCMU", cb: map[uint8]string{0: "PCMU", 8: "PCMA"}[tc.ptB]} {
				for _, si := range r.Calls[c].Streams {
					if st := r.Streams[si]; st.Codec != want || !st.Supported {
						t.Errorf("call %d stream %+v, want %s", c, st, want)
					}
				}
				if got := r.Calls[c].From; got != (Party{Name: "Alice", Number: "201"}) {
					t.Errorf("call %d from %+v", c, got)
				}
			}
			// dlgA → dlgB is the first direction seen: left.
			checkCallAudio(t, s, r, ca, 0, 0, a1.sent)
			checkCallAudio(t, s, r, ca, 1, 0, a2.sent)
			checkCallAudio(t, s, r, cb, 0, tc.ptB, b1.sent)
			checkCallAudio(t, s, r, cb, 1, tc.ptB, b2.sent)
			if d := r.Calls[ca].DurationMs; d < 990 || d > 1010 {
				t.Errorf("call A lasts %d ms, want about 1000", d)
			}
			for _, c := range r.Calls {
				for _, si := range c.Streams {
					if st := r.Streams[si]; st.Duplicates != 0 || st.Lost != 0 {
						t.Errorf("call %s stream %d: %d duplicates, %d lost", c.CallID, si, st.Duplicates, st.Lost)
					}
				}
			}
		})
	}
}

// TestReInviteSameDialog: a re-INVITE of the running dialog (here
// switching the codec) keeps its media in the one call.
func TestReInviteSameDialog(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	s.invite("call-A@pbx", 1, 0, 0, "RTP/AVP", nil, nil)
	a1 := &talk{src: dlgA, dst: dlgB, ssrc: 0x1111, pt: 0, seq: 100, ts: 1000, tag: 1}
	a2 := &talk{src: dlgB, dst: dlgA, ssrc: 0x2222, pt: 0, seq: 200, ts: 5000, tag: 2}
	s.converse(a1, a2, 0, 50, 20*time.Millisecond)
	// The re-INVITE arrives while media flows.
	s.invite("call-A@pbx", 2, 1010*time.Millisecond, 8, "RTP/AVP", nil, nil)
	s.converse(a1, a2, 50, 25, 1020*time.Millisecond)
	a1.pt, a2.pt = 8, 8
	s.converse(a1, a2, 75, 25, 1520*time.Millisecond)
	s.bye("call-A@pbx", 3, 2100*time.Millisecond)
	r := s.result()
	if len(r.Calls) != 1 || r.Calls[0].CallID != "call-A@pbx" || len(r.Calls[0].Streams) != 4 {
		t.Fatalf("calls %+v", r.Calls)
	}
	if d := r.Calls[0].DurationMs; d < 1990 || d > 2010 {
		t.Errorf("call lasts %d ms, want about 2000", d)
	}
}

// TestLatePacketAfterBye: a packet that arrives shortly after its
// dialog's BYE stays with that dialog, also when the next dialog on the
// same addresses has begun meanwhile.
func TestLatePacketAfterBye(t *testing.T) {
	for _, next := range []bool{false, true} {
		t.Run(fmt.Sprintf("nextCall=%v", next), func(t *testing.T) {
			s := newSynth(t, DemuxOptions{})
			s.invite("call-A@pbx", 1, 0, 0, "RTP/AVP", nil, nil)
			a1 := &talk{src: dlgA, dst: dlgB, ssrc: 0x1111, pt: 0, seq: 100, ts: 1000, tag: 1}
			a2 := &talk{src: dlgB, dst: dlgA, ssrc: 0x2222, pt: 0, seq: 200, ts: 5000, tag: 2}
			s.converse(a1, a2, 0, 49, 20*time.Millisecond)
			s.sendTalk(a1, 49, 1000*time.Millisecond)
			s.bye("call-A@pbx", 2, 1010*time.Millisecond)
			var b1, b2 *talk
			if next {
				s.invite("call-B@pbx", 1, 1020*time.Millisecond, 8, "RTP/AVP", nil, nil)
			}
			// a2's last packet, held up in the network.
			s.sendTalk(a2, 49, 1060*time.Millisecond)
			if next {
				b1 = &talk{src: dlgA, dst: dlgB, ssrc: 0x3333, pt: 8, seq: 300, ts: 9000, tag: 3}
				b2 = &talk{src: dlgB, dst: dlgA, ssrc: 0x4444, pt: 8, seq: 400, ts: 7000, tag: 4}
				s.converse(b1, b2, 0, 30, 1080*time.Millisecond)
				s.bye("call-B@pbx", 2, 1800*time.Millisecond)
			}
			r := s.result()
			ca := callByID(t, r, "call-A@pbx")
			checkCallAudio(t, s, r, ca, 0, 0, a1.sent)
			checkCallAudio(t, s, r, ca, 1, 0, a2.sent)
			if !next {
				if len(r.Calls) != 1 || len(r.Streams) != 2 {
					t.Fatalf("calls %+v", r.Calls)
				}
				return
			}
			if len(r.Calls) != 2 {
				t.Fatalf("calls %+v", r.Calls)
			}
			cb := callByID(t, r, "call-B@pbx")
			checkCallAudio(t, s, r, cb, 0, 8, b1.sent)
			checkCallAudio(t, s, r, cb, 1, 8, b2.sent)
		})
	}
}

// TestMediaBeforeInvite: media on the addresses before the first INVITE
// that announces them (the capture started with the media, or the SDP
// came late) belongs to that first dialog, the one nearest in time; it
// is not split off and no audio is lost.
func TestMediaBeforeInvite(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	a1 := &talk{src: dlgA, dst: dlgB, ssrc: 0x1111, pt: 0, seq: 100, ts: 1000, tag: 1}
	a2 := &talk{src: dlgB, dst: dlgA, ssrc: 0x2222, pt: 0, seq: 200, ts: 5000, tag: 2}
	s.converse(a1, a2, 0, 25, 0)
	s.invite("call-A@pbx", 1, 500*time.Millisecond, 0, "RTP/AVP", nil, nil)
	s.converse(a1, a2, 25, 25, 500*time.Millisecond)
	s.bye("call-A@pbx", 2, 1010*time.Millisecond)
	// A second dialog on the same addresses afterwards does not take it.
	b1 := &talk{src: dlgA, dst: dlgB, ssrc: 0x3333, pt: 8, seq: 300, ts: 9000, tag: 3}
	s.invite("call-B@pbx", 1, 1500*time.Millisecond, 8, "RTP/AVP", nil, nil)
	for i := range 10 {
		s.sendTalk(b1, i, 1520*time.Millisecond+time.Duration(i)*20*time.Millisecond)
	}
	r := s.result()
	if len(r.Calls) != 2 {
		t.Fatalf("calls %+v", r.Calls)
	}
	ca := callByID(t, r, "call-A@pbx")
	checkCallAudio(t, s, r, ca, 0, 0, a1.sent)
	checkCallAudio(t, s, r, ca, 1, 0, a2.sent)
	checkCallAudio(t, s, r, callByID(t, r, "call-B@pbx"), 0, 8, b1.sent)
}

// TestMediaBeforeAnySDPInCapture: when the capture holds the SDP only
// after all the media, the media still belongs to that dialog.
func TestMediaBeforeAnySDPInCapture(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	a1 := &talk{src: dlgA, dst: dlgB, ssrc: 0x1111, pt: 0, seq: 100, ts: 1000, tag: 1}
	a2 := &talk{src: dlgB, dst: dlgA, ssrc: 0x2222, pt: 0, seq: 200, ts: 5000, tag: 2}
	s.converse(a1, a2, 0, 25, 0)
	s.invite("call-A@pbx", 1, 600*time.Millisecond, 0, "RTP/AVP", nil, nil)
	r := s.result()
	if len(r.Calls) != 1 || r.Calls[0].CallID != "call-A@pbx" {
		t.Fatalf("calls %+v", r.Calls)
	}
	checkCallAudio(t, s, r, 0, 0, 0, a1.sent)
}
