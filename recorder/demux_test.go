package recorder

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/internal/capturetest"
	"github.com/callvault/callvault/recorder/capture"
)

// synth feeds synthesized datagrams to a Demux, keeping a fake capture
// file so that entries can be checked against the bytes they point at.
type synth struct {
	t       *testing.T
	t0      time.Time
	file    []byte
	entries []placed
	d       *Demux
}

func newSynth(t *testing.T, opt DemuxOptions) *synth {
	s := &synth{t: t, t0: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	opt.Emit = func(e codec.Entry, n uint32) { s.entries = append(s.entries, placed{e, n}) }
	s.d = NewDemux(opt)
	return s
}

// send feeds one UDP datagram captured at t0+at. With split > 0 the
// payload sits in the file in two pieces (as after IP reassembly).
func (s *synth) send(src, dst string, at time.Duration, payload []byte, split ...int) {
	s.t.Helper()
	dg := &capture.Datagram{
		Time: s.t0.Add(at), Proto: capture.UDP,
		Src: netip.MustParseAddrPort(src), Dst: netip.MustParseAddrPort(dst),
		Payload: slices.Clone(payload),
	}
	s.file = append(s.file, make([]byte, 42)...) // a fake link/IP/UDP header
	if len(split) > 0 && split[0] > 0 && split[0] < len(payload) {
		k := split[0]
		dg.Pieces = append(dg.Pieces, capture.Piece{Off: int64(len(s.file)), Len: k})
		s.file = append(s.file, payload[:k]...)
		s.file = append(s.file, make([]byte, 34)...) // the next fragment's headers
		dg.Pieces = append(dg.Pieces, capture.Piece{Off: int64(len(s.file)), Len: len(payload) - k})
		s.file = append(s.file, payload[k:]...)
	} else {
		dg.Pieces = []capture.Piece{{Off: int64(len(s.file)), Len: len(payload)}}
		s.file = append(s.file, payload...)
	}
	s.d.Datagram(dg)
}

// audio returns a G.711 payload of n bytes whose bytes encode the packet
// number, so that placement can be checked byte by byte.
func audio(n int, tag byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = tag
	}
	return b
}

// stream sends count packets of 20 ms (160 samples) on one flow.
type flowGen struct {
	src, dst string
	ssrc     uint32
	pt       uint8
	seq      uint16
	ts       uint32
	start    time.Duration
}

func (s *synth) flow(g flowGen, count int, skip func(i int) bool) {
	for i := range count {
		if skip != nil && skip(i) {
			continue
		}
		p := capturetest.RTP{PT: g.pt, Seq: g.seq + uint16(i), TS: g.ts + uint32(160*i), SSRC: g.ssrc, Marker: i == 0, Payload: audio(160, byte(i))}
		s.send(g.src, g.dst, g.start+time.Duration(i)*20*time.Millisecond, p.Bytes())
	}
}

// placement renders stream idx's entries as a map from position to byte,
// checking every entry's bytes against the fake file.
func (s *synth) placement(idx int) map[int64]byte {
	s.t.Helper()
	out := map[int64]byte{}
	for _, pe := range s.entries {
		if int(pe.e.Stream) != idx {
			continue
		}
		b := s.file[pe.e.Off : pe.e.Off+int64(pe.e.Len)]
		for i, v := range b {
			out[int64(pe.e.Pos)+int64(i)] = v
		}
	}
	return out
}

func (s *synth) result() *Result {
	s.t.Helper()
	r := s.d.Result()
	if _, err := json.Marshal(r); err != nil {
		s.t.Fatal(err)
	}
	return r
}

const (
	addrA = "10.0.0.1:4000"
	addrB = "10.0.0.2:5000"
)

func TestParseRTP(t *testing.T) {
	pl := []byte{1, 2, 3, 4, 5}
	tests := []struct {
		name   string
		b      []byte
		ok     bool
		off, n int
	}{
		{"plain", capturetest.RTP{PT: 0, Payload: pl}.Bytes(), true, 12, 5},
		{"empty payload", capturetest.RTP{PT: 0}.Bytes(), true, 12, 0},
		{"csrcs", capturetest.RTP{CSRCs: 3, Payload: pl}.Bytes(), true, 24, 5},
		{"extension", capturetest.RTP{Ext: 2, Payload: pl}.Bytes(), true, 24, 5},
		{"padding", capturetest.RTP{Pad: 3, Payload: pl}.Bytes(), true, 12, 5},
		{"all", capturetest.RTP{CSRCs: 15, Ext: 1, Pad: 1, Payload: pl}.Bytes(), true, 12 + 60 + 8, 5},
		{"short", make([]byte, 11), false, 0, 0},
		{"version 1", append([]byte{0x40}, make([]byte, 15)...), false, 0, 0},
		{"csrcs past end", capturetest.RTP{CSRCs: 2}.Bytes()[:15], false, 0, 0},
		{"extension head past end", capturetest.RTP{Ext: 1}.Bytes()[:14], false, 0, 0},
		{"extension past end", capturetest.RTP{Ext: 3}.Bytes()[:20], false, 0, 0},
		{"zero padding", func() []byte { b := capturetest.RTP{Pad: 2, Payload: pl}.Bytes(); b[len(b)-1] = 0; return b }(), false, 0, 0},
		{"padding past header", func() []byte { b := capturetest.RTP{Pad: 2, Payload: pl}.Bytes(); b[len(b)-1] = 8; return b }(), false, 0, 0},
		{"padding eats payload", func() []byte { b := capturetest.RTP{Pad: 2, Payload: pl}.Bytes(); b[len(b)-1] = 7; return b }(), true, 12, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h rtpHeader
			ok := parseRTP(tc.b, &h)
			if ok != tc.ok {
				t.Fatalf("ok %v, want %v", ok, tc.ok)
			}
			if ok && (h.off != tc.off || h.n != tc.n) {
				t.Fatalf("payload at %d+%d, want %d+%d", h.off, h.n, tc.off, tc.n)
			}
		})
	}
	var h rtpHeader
	if !parseRTP(capturetest.RTP{PT: 96, Seq: 0xabcd, TS: 0x01020304, SSRC: 0xdeadbeef, Marker: true}.Bytes(), &h) ||
		h.pt != 96 || !h.marker || h.seq != 0xabcd || h.ts != 0x01020304 || h.ssrc != 0xdeadbeef {
		t.Fatalf("fields: %+v", h)
	}
}

func TestRTCP(t *testing.T) {
	sr := make([]byte, 28)
	sr[0], sr[1] = 0x80, 200
	binary.BigEndian.PutUint16(sr[2:], 6)
	if !isRTCP(sr) {
		t.Fatal("sender report not RTCP")
	}
	s := newSynth(t, DemuxOptions{})
	for i := range 5 {
		s.send(addrA, "10.0.0.2:5001", time.Duration(i)*time.Second, sr)
	}
	bad := slices.Clone(sr)
	binary.BigEndian.PutUint16(bad[2:], 60) // length past the datagram
	s.send(addrA, "10.0.0.2:5001", 6*time.Second, bad)
	r := s.result()
	if r.RTCPPackets != 5 || r.OtherPackets != 1 || len(r.Streams) != 0 || len(s.entries) != 0 {
		t.Fatalf("rtcp %d other %d streams %d entries %d", r.RTCPPackets, r.OtherPackets, len(r.Streams), len(s.entries))
	}
}

// TestClean: two directions of PCMU, the second starting 100 ms later.
func TestClean(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	s.flow(flowGen{src: addrA, dst: addrB, ssrc: 1, pt: 0, seq: 100, ts: 5000}, 50, nil)
	s.flow(flowGen{src: addrB, dst: addrA, ssrc: 2, pt: 8, seq: 7, ts: 99999, start: 100 * time.Millisecond}, 50, nil)
	r := s.result()
	if len(r.Streams) != 2 || len(r.Calls) != 1 {
		t.Fatalf("%d streams, %d calls", len(r.Streams), len(r.Calls))
	}
	if !r.Origin.Equal(s.t0.Add(-2 * time.Second)) {
		t.Errorf("origin %v", r.Origin)
	}
	a, b := r.Streams[0], r.Streams[1]
	if a.FirstPos != 16000 || a.EndPos != 16000+50*160 || b.FirstPos != 16800 || b.EndPos != 16800+50*160 {
		t.Errorf("positions a [%d,%d) b [%d,%d)", a.FirstPos, a.EndPos, b.FirstPos, b.EndPos)
	}
	if a.Codec != "PCMU" || b.Codec != "PCMA" || !a.Supported || !b.Supported || a.Packets != 50 || a.Lost != 0 {
		t.Errorf("streams %+v %+v", a, b)
	}
	if a.Channel != 0 || b.Channel != 1 || a.Call != 0 || b.Call != 0 {
		t.Errorf("channels %d %d", a.Channel, b.Channel)
	}
	c := r.Calls[0]
	if c.StartPos != 16000 || c.EndPos != 16800+8000 || c.DurationMs != 1100 || !c.Start.Equal(s.t0) || !slices.Equal(c.Streams, []int{0, 1}) {
		t.Errorf("call %+v", c)
	}
	pa := s.placement(0)
	for i := range 50 {
		for j := range 160 {
			if v, ok := pa[16000+int64(i*160+j)]; !ok || v != byte(i) {
				t.Fatalf("sample %d of packet %d: %d %v", j, i, v, ok)
			}
		}
	}
	if len(pa) != 8000 {
		t.Errorf("%d samples placed", len(pa))
	}
	l := r.Layout(0, []codec.Span{{Min: 1, End: 2}})
	want := codec.Layout{Streams: []codec.StreamLayout{{Codec: codec.PCMU, Channel: 0}, {Codec: codec.PCMA, Channel: 1}},
		Start: 16000, End: 24800, Spans: []codec.Span{{Min: 1, End: 2}}}
	if fmt.Sprint(l) != fmt.Sprint(want) {
		t.Errorf("layout %+v, want %+v", l, want)
	}
	if l := r.Layout(5, nil); l.Start != 0 || l.End != 0 || l.Streams[0].Channel != -1 {
		t.Errorf("layout of a missing call %+v", l)
	}
}

func TestLoss(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	s.flow(flowGen{src: addrA, dst: addrB, ssrc: 1, seq: 65530}, 50, func(i int) bool { return i >= 10 && i < 15 })
	r := s.result()
	st := r.Streams[0]
	if st.Lost != 5 || st.Packets != 45 || st.EndPos-st.FirstPos != 50*160 {
		t.Fatalf("lost %d packets %d span %d", st.Lost, st.Packets, st.EndPos-st.FirstPos)
	}
	p := s.placement(0)
	for i := range 50 {
		_, ok := p[16000+int64(160*i)]
		if ok == (i >= 10 && i < 15) {
			t.Errorf("packet %d placed %v", i, ok)
		}
	}
	if p[16000+160*15] != 15 {
		t.Errorf("packet after the gap misplaced")
	}
}

func TestReorderAndDuplicates(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	g := flowGen{src: addrA, dst: addrB, ssrc: 1, seq: 10, ts: 0}
	order := []int{0, 1, 2, 4, 3, 5, 6, 6, 7, 9, 8, 8, 10}
	for k, i := range order {
		p := capturetest.RTP{PT: 0, Seq: g.seq + uint16(i), TS: uint32(160 * i), SSRC: 1, Payload: audio(160, byte(i))}
		s.send(g.src, g.dst, time.Duration(k)*20*time.Millisecond, p.Bytes())
	}
	r := s.result()
	st := r.Streams[0]
	if st.Duplicates != 2 || st.Reordered != 2 || st.Lost != 0 || st.Packets != len(order) {
		t.Fatalf("dups %d reordered %d lost %d packets %d", st.Duplicates, st.Reordered, st.Lost, st.Packets)
	}
	if len(s.entries) != 11 {
		t.Errorf("%d entries, want 11", len(s.entries))
	}
	p := s.placement(0)
	for i := range 11 {
		if v := p[16000+int64(160*i)]; v != byte(i) {
			t.Errorf("packet %d: found %d", i, v)
		}
	}
}

// TestSilenceSuppression: the sender stops for 2 s, timestamps jump with
// it (marker bit on the first packet after).
func TestSilenceSuppression(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	for i := range 20 {
		at := time.Duration(i) * 20 * time.Millisecond
		ts := uint32(160 * i)
		if i >= 10 {
			at += 2 * time.Second
			ts += 16000
		}
		s.send(addrA, addrB, at, capturetest.RTP{PT: 8, Seq: uint16(i), TS: ts, SSRC: 9, Marker: i == 10, Payload: audio(160, byte(i))}.Bytes())
	}
	r := s.result()
	st := r.Streams[0]
	if st.Lost != 0 || st.EndPos-st.FirstPos != 20*160+16000 || len(r.Warnings) != 0 {
		t.Fatalf("lost %d span %d warnings %q", st.Lost, st.EndPos-st.FirstPos, r.Warnings)
	}
	if v, ok := s.placement(0)[16000+160*10+16000]; !ok || v != 10 {
		t.Errorf("packet after silence misplaced")
	}
}

func TestSSRCChange(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	s.flow(flowGen{src: addrA, dst: addrB, ssrc: 1, pt: 0, seq: 1, ts: 1000}, 50, nil)
	s.flow(flowGen{src: addrB, dst: addrA, ssrc: 2, pt: 0, seq: 1, ts: 1000}, 100, nil)
	s.flow(flowGen{src: addrA, dst: addrB, ssrc: 3, pt: 0, seq: 40000, ts: 3e9, start: 1100 * time.Millisecond}, 45, nil)
	r := s.result()
	if len(r.Streams) != 3 || len(r.Calls) != 1 {
		t.Fatalf("%d streams %d calls", len(r.Streams), len(r.Calls))
	}
	a1, a2 := r.Streams[0], r.Streams[2]
	if a1.Channel != a2.Channel || a1.Call != a2.Call || a2.SSRC != 3 {
		t.Errorf("streams %+v / %+v", a1, a2)
	}
	if a2.FirstPos != 16000+8800 || a2.Lost != 0 || a2.Packets != 45 {
		t.Errorf("second SSRC at %d lost %d packets %d", a2.FirstPos, a2.Lost, a2.Packets)
	}
	// The new SSRC on a known direction is placed from its first packet.
	if v, ok := s.placement(2)[16000+8800]; !ok || v != 0 {
		t.Errorf("first packet of the new SSRC not placed")
	}
}

func TestPTChange(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	for i := range 40 {
		pt := uint8(0)
		if i >= 20 {
			pt = 8
		}
		s.send(addrA, addrB, time.Duration(i)*20*time.Millisecond, capturetest.RTP{PT: pt, Seq: uint16(i), TS: uint32(160 * i), SSRC: 5, Payload: audio(160, byte(i))}.Bytes())
	}
	r := s.result()
	if len(r.Streams) != 2 {
		t.Fatalf("%d streams", len(r.Streams))
	}
	u, a := r.Streams[0], r.Streams[1]
	if u.Codec != "PCMU" || a.Codec != "PCMA" || u.Channel != a.Channel || u.Call != a.Call || u.SSRC != a.SSRC {
		t.Errorf("streams %+v / %+v", u, a)
	}
	if u.EndPos != a.FirstPos || a.FirstPos != 16000+20*160 || u.Lost != 0 || a.Lost != 0 {
		t.Errorf("PCMU [%d,%d) lost %d, PCMA [%d,%d) lost %d", u.FirstPos, u.EndPos, u.Lost, a.FirstPos, a.EndPos, a.Lost)
	}
}

func TestComfortNoise(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	for i := range 30 {
		p := capturetest.RTP{PT: 0, Seq: uint16(i), TS: uint32(160 * i), SSRC: 5, Payload: audio(160, byte(i))}
		if i >= 10 && i < 20 {
			p.PT, p.Payload = 13, []byte{40}
		}
		s.send(addrA, addrB, time.Duration(i)*20*time.Millisecond, p.Bytes())
	}
	r := s.result()
	st := r.Streams[0]
	if len(r.Streams) != 1 || st.CNPackets != 10 || st.Lost != 0 || len(s.entries) != 20 || !slices.Equal(st.OtherPayloadTypes, []int{13}) {
		t.Fatalf("streams %d cn %d lost %d entries %d others %v", len(r.Streams), st.CNPackets, st.Lost, len(s.entries), st.OtherPayloadTypes)
	}
	if _, ok := s.placement(0)[16000+160*15]; ok {
		t.Errorf("comfort noise placed as audio")
	}
}

func eventPayload(code uint8, end bool, dur uint16) []byte {
	b := []byte{code, 10, 0, 0}
	if end {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], dur)
	return b
}

// sendEvent sends one RFC 4733 event from addrA to addrB on ssrc, starting
// at packet slot (20 ms each), with n updates and the end packet three
// times.
func sendEvent(s *synth, pt uint8, ssrc uint32, code uint8, slot, n int, seq *uint16) {
	ts := uint32(160 * slot)
	for k := range n + 3 {
		end := k >= n
		dur := uint16(160 * min(k+1, n))
		// Each packet is sent when the duration it reports has passed.
		at := time.Duration(slot+min(k+1, n))*20*time.Millisecond + time.Duration(k)*time.Millisecond
		s.send(addrA, addrB, at, capturetest.RTP{PT: pt, Seq: *seq, TS: ts, SSRC: ssrc, Marker: k == 0, Payload: eventPayload(code, end, dur)}.Bytes())
		*seq++
	}
}

func TestDTMFDetected(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	seq := uint16(0)
	for i := range 100 {
		if i == 20 {
			sendEvent(s, 101, 7, 5, 20, 5, &seq) // digit 5, 100 ms
		}
		if i == 60 {
			sendEvent(s, 101, 7, 11, 60, 10, &seq) // '#', 200 ms
		}
		if i == 80 {
			sendEvent(s, 101, 7, 200, 80, 4, &seq) // not a digit
		}
		// Audio goes on during the events.
		s.send(addrA, addrB, time.Duration(i)*20*time.Millisecond+500*time.Microsecond, capturetest.RTP{PT: 0, Seq: seq, TS: uint32(160 * i), SSRC: 7, Payload: audio(160, byte(i))}.Bytes())
		seq++
	}
	s.flow(flowGen{src: addrB, dst: addrA, ssrc: 8, start: time.Second}, 20, nil)
	r := s.result()
	if len(r.Streams) != 2 || len(r.Calls) != 1 {
		t.Fatalf("%d streams %d calls", len(r.Streams), len(r.Calls))
	}
	st := r.Streams[0]
	want := []DTMF{{Digit: "5", StartMs: 400, DurationMs: 100, Stream: 0}, {Digit: "#", StartMs: 1200, DurationMs: 200, Stream: 0}}
	if !slices.Equal(st.DTMF, want) || !slices.Equal(r.Calls[0].DTMF, want) {
		t.Errorf("dtmf %+v, call %+v, want %+v", st.DTMF, r.Calls[0].DTMF, want)
	}
	if st.Lost != 0 || st.Duplicates != 0 || st.EventPackets != 8+13+7 || st.Codec != "PCMU" || !slices.Equal(st.OtherPayloadTypes, []int{101}) {
		t.Errorf("stream %+v", st)
	}
	// Audio within the digits is flagged, and only that audio.
	for _, pe := range s.entries {
		if pe.e.Stream != 0 {
			continue
		}
		slot := (int(pe.e.Pos) - 16000) / 160
		in := (slot >= 20 && slot < 25) || (slot >= 60 && slot < 70)
		if got := pe.e.Flags&codec.FlagDTMF != 0; got != in {
			t.Errorf("audio slot %d flagged %v", slot, got)
		}
	}
}

func TestDTMFFromSDP(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	invite := "INVITE sip:200@10.0.0.2 SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n" +
		"From: \"Alice Smith\" <sip:100@10.0.0.1>;tag=a1\r\n" +
		"To: <sip:200@10.0.0.2>\r\n" +
		"Call-ID: call-1@10.0.0.1\r\n" +
		"CSeq: 1 INVITE\r\n" +
		"Content-Type: application/sdp\r\n"
	sdp := "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n" +
		"m=audio 4000 RTP/AVP 0 120\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:120 telephone-event/8000\r\n"
	invite += fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(sdp), sdp)
	s.send("10.0.0.1:5060", "10.0.0.2:5060", 0, []byte(invite))
	seq := uint16(0)
	sendEvent(s, 120, 3, 1, 10, 3, &seq)
	r := s.result()
	if r.SIPMessages != 1 || len(r.Calls) != 1 {
		t.Fatalf("sip %d calls %d", r.SIPMessages, len(r.Calls))
	}
	c := r.Calls[0]
	if c.CallID != "call-1@10.0.0.1" || c.From != (Party{Name: "Alice Smith", Number: "100"}) || c.To != (Party{Number: "200"}) {
		t.Errorf("call %+v", c)
	}
	if digits(c.DTMF) != "1" || c.DTMF[0].DurationMs != 60 || c.DTMF[0].StartMs != 0 {
		t.Errorf("dtmf %+v", c.DTMF)
	}
	if st := r.Streams[0]; st.Codec != "telephone-event" || st.Supported || st.PayloadType != 120 {
		t.Errorf("events-only stream %+v", st)
	}
	if len(s.entries) != 0 {
		t.Errorf("%d entries for events", len(s.entries))
	}
	// With SDP, even the first packet of the flow was taken at once.
	if r.OtherPackets != 0 || r.Streams[0].Packets != 6 {
		t.Errorf("other %d packets %d", r.OtherPackets, r.Streams[0].Packets)
	}
}

func TestTwoCalls(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	s.flow(flowGen{src: "10.1.0.1:1000", dst: "10.1.0.2:2000", ssrc: 1, start: time.Second}, 20, nil)
	s.flow(flowGen{src: "10.1.0.2:2000", dst: "10.1.0.1:1000", ssrc: 2, start: time.Second}, 20, nil)
	s.flow(flowGen{src: "10.2.0.1:1000", dst: "10.2.0.2:2000", ssrc: 3}, 20, nil)
	s.flow(flowGen{src: "10.2.0.2:2000", dst: "10.2.0.1:1000", ssrc: 4}, 20, nil)
	s.flow(flowGen{src: "10.3.0.1:1000", dst: "10.3.0.2:2000", ssrc: 5, start: 2 * time.Second}, 20, nil)
	r := s.result()
	if len(r.Calls) != 3 {
		t.Fatalf("%d calls", len(r.Calls))
	}
	// Ordered by first packet: the 10.2 call started first.
	if !slices.Equal(r.Calls[0].Streams, []int{2, 3}) || !slices.Equal(r.Calls[1].Streams, []int{0, 1}) || !slices.Equal(r.Calls[2].Streams, []int{4}) {
		t.Errorf("calls %+v", r.Calls)
	}
	for i, c := range r.Calls {
		if c.Index != i {
			t.Errorf("call %d index %d", i, c.Index)
		}
		for _, si := range c.Streams {
			if r.Streams[si].Call != i {
				t.Errorf("stream %d call %d, want %d", si, r.Streams[si].Call, i)
			}
		}
	}
	if r.Streams[2].Channel != 0 || r.Streams[3].Channel != 1 || r.Streams[4].Channel != 0 {
		t.Errorf("channels")
	}
	if l := r.Layout(1, nil); l.Streams[0].Channel != 0 || l.Streams[1].Channel != 1 || l.Streams[2].Channel != -1 || l.Start != 16000 {
		t.Errorf("layout %+v", l)
	}
}

func TestInnovaphoneChannels(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	// The local device's stream (from 16386) comes first, yet the remote
	// one (from 16388) is the left channel.
	s.flow(flowGen{src: "192.168.0.10:16386", dst: "192.168.0.10:16388", ssrc: 1}, 10, nil)
	s.flow(flowGen{src: "192.168.0.10:16388", dst: "192.168.0.10:16386", ssrc: 2}, 10, nil)
	r := s.result()
	if r.Streams[0].Channel != 1 || r.Streams[1].Channel != 0 || len(r.Calls) != 1 {
		t.Errorf("channels %d %d calls %d", r.Streams[0].Channel, r.Streams[1].Channel, len(r.Calls))
	}
}

// TestAlignment: directions placed on capture time, not on their own
// timestamps, whatever their timestamp bases.
func TestAlignment(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	s.flow(flowGen{src: addrA, dst: addrB, ssrc: 1, ts: 4e9}, 100, nil)
	s.flow(flowGen{src: addrB, dst: addrA, ssrc: 2, ts: 12345, start: 1234567 * time.Microsecond}, 50, nil)
	r := s.result()
	if d := int(r.Streams[1].FirstPos) - int(r.Streams[0].FirstPos); d != 9877 { // 1.234567 s
		t.Errorf("offset %d samples, want 9877", d)
	}
}

func TestTimestampWrap(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	s.flow(flowGen{src: addrA, dst: addrB, ssrc: 1, seq: 65500, ts: 0xffffffff - 160*10}, 30, nil)
	r := s.result()
	st := r.Streams[0]
	if st.EndPos-st.FirstPos != 30*160 || st.Lost != 0 || len(r.Warnings) != 0 {
		t.Fatalf("span %d lost %d warnings %q", st.EndPos-st.FirstPos, st.Lost, r.Warnings)
	}
	p := s.placement(0)
	for i := range 30 {
		if p[16000+int64(160*i)] != byte(i) {
			t.Fatalf("packet %d misplaced", i)
		}
	}
}

// TestRestart: the sender restarts its timestamps and sequence numbers but
// keeps its SSRC; the flow is anchored anew on capture time.
func TestRestart(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	s.flow(flowGen{src: addrA, dst: addrB, ssrc: 1, seq: 1000, ts: 50000}, 50, nil)
	s.flow(flowGen{src: addrA, dst: addrB, ssrc: 1, seq: 30000, ts: 7, start: 1500 * time.Millisecond}, 50, nil)
	r := s.result()
	st := r.Streams[0]
	if len(r.Streams) != 1 || st.Packets != 100 || st.Lost != 0 {
		t.Fatalf("streams %d packets %d lost %d", len(r.Streams), st.Packets, st.Lost)
	}
	if v, ok := s.placement(0)[16000+12000]; !ok || v != 0 {
		t.Errorf("restarted packets not at their capture time")
	}
	if st.EndPos != 16000+12000+8000 || !strings.Contains(strings.Join(r.Warnings, ";"), "re-anchored") {
		t.Errorf("end %d warnings %q", st.EndPos, r.Warnings)
	}
}

// TestFragments: a payload in two pieces gets two entries, the second's
// position advanced by the first's samples.
func TestFragments(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	for i := range 5 {
		p := capturetest.RTP{PT: 8, Seq: uint16(i), TS: uint32(160 * i), SSRC: 4, CSRCs: 1, Ext: 1, Pad: 4, Payload: audio(160, byte(i))}.Bytes()
		s.send(addrA, addrB, time.Duration(i)*20*time.Millisecond, p, 12+4+8+100) // split 100 bytes into the payload
	}
	if len(s.entries) != 10 {
		t.Fatalf("%d entries", len(s.entries))
	}
	for i := 0; i < 10; i += 2 {
		a, b := s.entries[i], s.entries[i+1]
		if a.e.Len != 100 || b.e.Len != 60 || b.e.Pos != a.e.Pos+100 || a.n != 100 || b.n != 60 {
			t.Errorf("pieces %+v %+v", a, b)
		}
	}
	p := s.placement(0)
	for i := range 5 * 160 {
		if p[16000+int64(i)] != byte(i/160) {
			t.Fatalf("sample %d", i)
		}
	}
}

func TestUnsupportedCodec(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	for i := range 10 {
		s.send(addrA, addrB, time.Duration(i)*20*time.Millisecond, capturetest.RTP{PT: 3, Seq: uint16(i), TS: uint32(160 * i), SSRC: 4, Payload: audio(33, 1)}.Bytes())
	}
	r := s.result()
	st := r.Streams[0]
	if st.Supported || st.Codec != "GSM" || len(s.entries) != 10 || st.EndPos-st.FirstPos != 1600 {
		t.Fatalf("stream %+v entries %d", st, len(s.entries))
	}
	for _, pe := range s.entries {
		if pe.n != 160 || pe.e.Len != 33 {
			t.Errorf("entry %+v", pe)
		}
	}
	if l := r.Layout(0, nil); l.Streams[0].Codec != codec.Unknown {
		t.Errorf("layout codec %v", l.Streams[0].Codec)
	}
}

// TestG729Stream: G.729 payloads (two frames, or one frame and an Annex B
// SID frame, or a SID frame alone) cover 80 samples a frame whatever the
// timestamps say, and the stream renders as G.729.
func TestG729Stream(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	sizes := []int{20, 20, 12, 2, 20, 20}
	ts := uint32(0)
	for i, n := range sizes {
		s.send(addrA, addrB, time.Duration(i)*20*time.Millisecond, capturetest.RTP{PT: 18, Seq: uint16(i), TS: ts, SSRC: 4, Payload: audio(n, 1)}.Bytes())
		ts += 160
		if n == 2 {
			ts += 800 // a pause in sending after the SID frame
		}
	}
	r := s.result()
	st := r.Streams[0]
	if !st.Supported || st.Codec != "G729" || len(s.entries) != len(sizes) {
		t.Fatalf("stream %+v entries %d", st, len(s.entries))
	}
	wantN := []uint32{160, 160, 160, 80, 160, 160}
	for i, pe := range s.entries {
		if pe.n != wantN[i] || int(pe.e.Len) != sizes[i] {
			t.Errorf("entry %d: %+v, want %d samples", i, pe, wantN[i])
		}
	}
	if d := s.entries[4].e.Pos - s.entries[3].e.Pos; d != 160+800 {
		t.Errorf("after the pause: %d samples on, want 960 (by timestamp)", d)
	}
	if l := r.Layout(0, nil); l.Streams[0].Codec != codec.G729 {
		t.Errorf("layout codec %v", l.Streams[0].Codec)
	}
}

// TestNotRTP: a V=2-looking datagram without a second packet to confirm
// its flow is not a stream; neither is a flow whose sequence jumps about.
func TestNotRTP(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	s.send(addrA, addrB, 0, capturetest.RTP{PT: 0, Seq: 1, SSRC: 1, Payload: audio(160, 0)}.Bytes())
	for i := range 4 {
		s.send(addrA, "10.9.9.9:9", time.Duration(i)*time.Millisecond, capturetest.RTP{PT: 0, Seq: uint16(i * 5000), SSRC: 2, Payload: audio(10, 0)}.Bytes())
	}
	s.send(addrA, addrB, time.Second, []byte("hello, this is not RTP at all"))
	r := s.result()
	if len(r.Streams) != 0 || len(s.entries) != 0 || r.OtherPackets != 6 || r.Packets != 0 {
		t.Fatalf("streams %d entries %d other %d packets %d", len(r.Streams), len(s.entries), r.OtherPackets, r.Packets)
	}
}

func TestOutOfRange(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	s.flow(flowGen{src: addrA, dst: addrB, ssrc: 1}, 5, nil)
	s.flow(flowGen{src: addrB, dst: addrA, ssrc: 2, start: 200 * 24 * time.Hour}, 5, nil) // 200 days later
	r := s.result()
	if len(s.entries) != 5 || len(r.Warnings) == 0 || !strings.Contains(r.Warnings[0], "5 audio payloads dropped") {
		t.Fatalf("entries %d warnings %q", len(s.entries), r.Warnings)
	}
}

// TestBounds: a capture with thousands of flows keeps at most MaxStreams
// streams and a bounded number of unconfirmed flows.
func TestBounds(t *testing.T) {
	s := newSynth(t, DemuxOptions{MaxStreams: 8})
	for i := range 2000 {
		src := fmt.Sprintf("10.%d.%d.1:1000", i/250, i%250)
		at := time.Duration(i) * time.Millisecond
		s.send(src, addrB, at, capturetest.RTP{PT: 0, Seq: 1, SSRC: uint32(i), Payload: audio(8, 0)}.Bytes())
		s.send(src, addrB, at, capturetest.RTP{PT: 0, Seq: 2, TS: 160, SSRC: uint32(i), Payload: audio(8, 0)}.Bytes())
		s.send(src, "10.0.0.3:9", at, capturetest.RTP{PT: 0, Seq: 1, SSRC: uint32(i), Payload: audio(8, 0)}.Bytes()) // never confirmed
		if len(s.d.cands) > maxCandidates {
			t.Fatalf("%d candidates", len(s.d.cands))
		}
	}
	r := s.result()
	if len(r.Streams) != 8 || len(s.d.flows) != 8 || r.Packets != 16 {
		t.Fatalf("streams %d flows %d packets %d", len(r.Streams), len(s.d.flows), r.Packets)
	}
	if r.Packets+r.OtherPackets != 6000 {
		t.Errorf("packets %d + other %d != 6000", r.Packets, r.OtherPackets)
	}
	if len(r.Warnings) == 0 {
		t.Errorf("no warning about the bound")
	}
	for _, c := range r.Calls {
		if len(c.Streams) != 1 {
			t.Errorf("call %+v", c)
		}
	}
}

func TestResultJSON(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	seq := uint16(0)
	sendEvent(s, 101, 3, 12, 0, 3, &seq)
	b, err := json.Marshal(s.result())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"origin"`, `"streams"`, `"calls"`, `"packets"`, `"rtcpPackets"`, `"sipMessages"`, `"otherPackets"`,
		`"payloadType"`, `"ssrc"`, `"cnPackets"`, `"jitterMs"`, `"firstPos"`, `"endPos"`, `"firstTime"`, `"lastTime"`, `"dtmf"`,
		`"digit":"A"`, `"startMs"`, `"durationMs"`, `"startPos"`, `"ssrc"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s: %s", key, b)
		}
	}
	var back Result
	if err := json.Unmarshal(b, &back); err != nil || len(back.Calls) != 1 || back.Calls[0].DTMF[0].Digit != "A" {
		t.Errorf("round trip: %v %+v", err, back)
	}
}

func TestSeqTracker(t *testing.T) {
	tests := []struct {
		name                 string
		seqs                 []uint16
		lost, dups, reorders int
	}{
		{"in order", []uint16{1, 2, 3, 4}, 0, 0, 0},
		{"wrap", []uint16{65534, 65535, 0, 1}, 0, 0, 0},
		{"loss", []uint16{1, 2, 5, 6}, 2, 0, 0},
		{"late", []uint16{1, 3, 2, 4}, 0, 0, 1},
		{"late first", []uint16{5, 6, 4, 7}, 0, 0, 1},
		{"duplicate", []uint16{1, 2, 2, 3, 1}, 0, 2, 0},
		{"restart", []uint16{100, 101, 102, 40000, 40001, 40002}, 0, 0, 0},
		{"one wild packet", []uint16{100, 101, 40000, 102, 103}, 0, 0, 0},
		{"lost past window", []uint16{1, 2, 2000, 2001}, 1997, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var st seqTracker
			dups, reorders := 0, 0
			for _, q := range tc.seqs {
				d, r := st.add(q)
				if d {
					dups++
				}
				if r {
					reorders++
				}
			}
			if st.lost() != tc.lost || dups != tc.dups || reorders != tc.reorders {
				t.Errorf("lost %d dups %d reorders %d, want %d %d %d", st.lost(), dups, reorders, tc.lost, tc.dups, tc.reorders)
			}
		})
	}
}

// TestSIPBounds: a flood of SIP calls with SDP and long values keeps
// bounded state.
func TestSIPBounds(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	long := strings.Repeat("x", 5000)
	for i := range 600 {
		sdp := fmt.Sprintf("v=0\r\nc=IN IP4 10.%d.%d.1\r\nm=audio %d RTP/AVP 0 96\r\na=rtpmap:96 %s/8000\r\n", i/250, i%250, 1000+i, long)
		msg := fmt.Sprintf("INVITE sip:b@h SIP/2.0\r\nCall-ID: %d-%s\r\nFrom: \"%s\" <sip:a@h>\r\nTo: <sip:b@h>\r\nCSeq: 1 INVITE\r\nContent-Length: %d\r\n\r\n%s",
			i, long, long, len(sdp), sdp)
		s.send("10.0.0.1:5060", "10.0.0.2:5060", time.Duration(i)*time.Millisecond, []byte(msg))
	}
	if len(s.d.sipCalls) > maxSIPCalls || len(s.d.sdp) > maxSDPMedia {
		t.Fatalf("%d SIP calls, %d SDP media kept", len(s.d.sipCalls), len(s.d.sdp))
	}
	for _, c := range s.d.sipCalls {
		if len(c.callID) > maxSIPText || len(c.from.Display) > maxSIPText {
			t.Fatalf("long values kept: %d %d", len(c.callID), len(c.from.Display))
		}
	}
	r := s.result()
	if r.SIPMessages != 600 || len(r.Warnings) == 0 {
		t.Errorf("sip %d warnings %q", r.SIPMessages, r.Warnings)
	}
}

// TestEventsThenAudio: a flow whose first packets are telephone-events
// becomes an audio stream when audio follows; the digit stays on it.
func TestEventsThenAudio(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	seq := uint16(0)
	sendEvent(s, 101, 3, 9, 0, 4, &seq)
	for i := 10; i < 30; i++ {
		s.send(addrA, addrB, time.Duration(i)*20*time.Millisecond, capturetest.RTP{PT: 8, Seq: seq, TS: uint32(160 * i), SSRC: 3, Payload: audio(160, byte(i))}.Bytes())
		seq++
	}
	r := s.result()
	if len(r.Streams) != 1 {
		t.Fatalf("%d streams", len(r.Streams))
	}
	st := r.Streams[0]
	if st.Codec != "PCMA" || !st.Supported || st.PayloadType != 8 || digits(st.DTMF) != "9" || !slices.Equal(st.OtherPayloadTypes, []int{101}) {
		t.Errorf("stream %+v", st)
	}
	// The first packet (event duration 20 ms) came at t0+20ms: the
	// origin is 1.98 s before t0, and t0 is position 15840.
	if st.FirstPos != 15840 || st.EndPos != 15840+30*160 || len(s.entries) != 20 || s.entries[0].e.Pos != 15840+1600 {
		t.Errorf("span [%d,%d), %d entries", st.FirstPos, st.EndPos, len(s.entries))
	}
}

func TestDigitBound(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	for i := range maxDigits + 10 {
		p := capturetest.RTP{PT: 101, Seq: uint16(i), TS: uint32(800 * i), SSRC: 3, Payload: eventPayload(uint8(i%16), true, 400)}
		s.send(addrA, addrB, time.Duration(i)*100*time.Millisecond, p.Bytes())
	}
	r := s.result()
	if n := len(r.Streams[0].DTMF); n != maxDigits || !strings.Contains(strings.Join(r.Warnings, ";"), "10 DTMF digits not kept") {
		t.Errorf("%d digits, warnings %q", n, r.Warnings)
	}
}

func sipMessage(first, callID, from, to, sdp string) []byte {
	return []byte(first + "\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n" +
		"From: " + from + "\r\nTo: " + to + "\r\nCall-ID: " + callID + "\r\nCSeq: 1 INVITE\r\n" +
		"Content-Type: application/sdp\r\n" + fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(sdp), sdp))
}

// TestSDPGroupsCall: streams whose addresses one Call-ID's SDP announced
// form one call even when they are not each other's reverse (NAT), and
// SDP's rtpmap names dynamic payload types.
func TestSDPGroupsCall(t *testing.T) {
	s := newSynth(t, DemuxOptions{})
	offer := "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 97 101\r\na=rtpmap:97 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
	answer := "v=0\r\nc=IN IP4 10.0.0.2\r\nm=audio 5000 RTP/AVP 97\r\na=rtpmap:97 PCMA/8000\r\n"
	s.send("10.0.0.1:5060", "10.0.0.2:5060", 0, sipMessage("INVITE sip:bob@10.0.0.2 SIP/2.0", "abc", "<sip:alice@h>;tag=1", "\"Bob\" <sip:bob@h>", offer))
	s.send("10.0.0.2:5060", "10.0.0.1:5060", time.Millisecond, sipMessage("SIP/2.0 200 OK", "abc", "<sip:alice@h>;tag=1", "\"Bob\" <sip:bob@h>;tag=2", answer))
	s.flow(flowGen{src: "10.0.0.1:4000", dst: "172.16.0.1:5000", ssrc: 1, pt: 97, start: 10 * time.Millisecond}, 10, nil)
	s.flow(flowGen{src: "10.0.0.2:5000", dst: "172.16.0.9:4000", ssrc: 2, pt: 97, start: 15 * time.Millisecond}, 10, nil)
	s.flow(flowGen{src: "10.9.0.1:4000", dst: "10.9.0.2:4000", ssrc: 3, pt: 97, start: 20 * time.Millisecond}, 10, nil)
	r := s.result()
	if len(r.Calls) != 2 || !slices.Equal(r.Calls[0].Streams, []int{0, 1}) || r.Calls[0].CallID != "abc" || r.Calls[1].CallID != "" {
		t.Fatalf("calls %+v", r.Calls)
	}
	if c := r.Calls[0]; c.From != (Party{Number: "alice"}) || c.To != (Party{Name: "Bob", Number: "bob"}) {
		t.Errorf("parties %+v %+v", c.From, c.To)
	}
	if a, b := r.Streams[0], r.Streams[1]; a.Codec != "PCMA" || !a.Supported || b.Codec != "PCMA" || a.Channel != 0 || b.Channel != 1 {
		t.Errorf("streams %+v %+v", a, b)
	}
	// Without SDP the same dynamic type is an unknown codec.
	if c := r.Streams[2]; c.Codec != "unknown" || c.Supported {
		t.Errorf("stream without SDP %+v", c)
	}
	// SDP-announced flows are taken from their first packet.
	if r.Streams[0].Packets != 10 || r.Streams[1].Packets != 10 {
		t.Errorf("packets %d %d", r.Streams[0].Packets, r.Streams[1].Packets)
	}
}
