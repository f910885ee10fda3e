package recorder

import (
	"encoding/binary"
	"encoding/json"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/internal/capturetest"
	"github.com/callvault/callvault/recorder/capture"
)

// fuzzAddrs are the endpoints fuzz datagrams travel between, so that flows
// meet, pair up and collide.
var fuzzAddrs = [4]netip.AddrPort{
	netip.MustParseAddrPort("10.0.0.1:4000"),
	netip.MustParseAddrPort("10.0.0.2:5000"),
	netip.MustParseAddrPort("[2001:db8::1]:16386"),
	netip.MustParseAddrPort("10.0.0.1:16388"),
}

// fuzzDatagrams turns fuzz bytes into datagrams. Each record is a 4-byte
// head (flags, time step, length) and a body. Flag bit 0x80 builds an RTP
// header from the body's first bytes (pt, seq step, ts step, ssrc choice),
// so that the fuzzer reaches the timeline code; otherwise the body is the
// datagram as is. Bit 0x40 splits the payload in two pieces; 0x20 makes it
// TCP.
func fuzzDatagrams(data []byte, each func(*capture.Datagram)) {
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var seq uint16
	var ts uint32
	var off int64
	for len(data) >= 4 {
		flags, step, n := data[0], binary.BigEndian.Uint16(data[1:3]), int(data[3])
		data = data[4:]
		n = min(n, len(data))
		body := data[:n]
		data = data[n:]
		t = t.Add(time.Duration(step) * time.Millisecond)
		if step == 0xffff {
			t = t.Add(-time.Hour) // time going back
		}
		dg := &capture.Datagram{Time: t, Proto: capture.UDP, Src: fuzzAddrs[flags&3], Dst: fuzzAddrs[(flags>>2)&3]}
		if flags&0x20 != 0 {
			dg.Proto = capture.TCP
		}
		payload := body
		if flags&0x80 != 0 && len(body) >= 4 {
			seq += uint16(body[1] % 8)
			ts += uint32(body[2]) * 40
			h := capturetest.RTP{PT: body[0] & 0x7f, Marker: body[0]&0x80 != 0, Seq: seq, TS: ts, SSRC: uint32(body[3] % 4), Payload: body[4:]}
			payload = h.Bytes()
		}
		dg.Payload = payload
		off += 50
		if flags&0x40 != 0 && len(payload) > 1 {
			k := len(payload) / 2
			dg.Pieces = []capture.Piece{{Off: off, Len: k}, {Off: off + int64(k) + 30, Len: len(payload) - k}}
		} else {
			dg.Pieces = []capture.Piece{{Off: off, Len: len(payload)}}
		}
		off += int64(len(payload)) + 30
		each(dg)
	}
}

func fuzzRecord(flags uint8, stepMs uint16, body []byte) []byte {
	b := []byte{flags, 0, 0, byte(len(body))}
	binary.BigEndian.PutUint16(b[1:], stepMs)
	return append(b, body...)
}

func FuzzDemux(f *testing.F) {
	// Small seeds: the fuzzer minimizes every input that finds new code
	// with up to n² runs for n bytes, and does not fuzz meanwhile.
	var clean, dtmf, raw []byte
	for i := range 2 {
		clean = append(clean, fuzzRecord(0x80|0x04, 20, append([]byte{0, 1, 4, 0}, audio(40, byte(i))...))...)
		clean = append(clean, fuzzRecord(0x80|0x01, 1, append([]byte{8, 1, 4, 1}, audio(40, byte(i))...))...)
		dtmf = append(dtmf, fuzzRecord(0x80|0x04, 20, []byte{101, 1, 0, 2, byte(i % 16), 0x0a, 0, byte(i * 8)})...)
		dtmf = append(dtmf, fuzzRecord(0x80|0x04|0x40, 5, append([]byte{0, 1, 4, 2}, audio(40, 1)...))...)
	}
	raw = append(raw, fuzzRecord(0x04, 10, capturetest.RTP{PT: 0, Seq: 1, SSRC: 9, Payload: audio(20, 1)}.Bytes())...)
	raw = append(raw, fuzzRecord(0x04, 10, capturetest.RTP{PT: 0, Seq: 2, TS: 160, SSRC: 9, CSRCs: 2, Ext: 1, Pad: 3, Payload: audio(20, 1)}.Bytes())...)
	sr := []byte{0x80, 200, 0, 1, 0, 0, 0, 1}
	raw = append(raw, fuzzRecord(0x04, 10, sr)...)
	invite := "INVITE sip:b@10.0.0.2 SIP/2.0\r\nCall-ID: x\r\nFrom: <sip:a@h>\r\nTo: <sip:b@h>\r\nCSeq: 1 INVITE\r\nContent-Length: 90\r\n\r\n" +
		"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0 96\r\na=rtpmap:96 telephone-event/8000\r\n"
	savp := "INVITE sip:b@10.0.0.2 SIP/2.0\r\nCall-ID: y\r\nCSeq: 1 INVITE\r\n\r\n" +
		"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\r\n"
	bye := "BYE sip:b@10.0.0.2 SIP/2.0\r\nCall-ID: y\r\nCSeq: 2 BYE\r\n\r\n"
	zrtp := []byte{0x10, 0, 0, 1, 'Z', 'R', 'T', 'P', 0, 0, 0, 1, 0x50, 0x5a, 0, 3, 'H', 'e', 'l', 'l', 'o', ' ', ' ', ' ', 0, 0, 0, 0}
	f.Add(slices.Concat(fuzzRecord(0x04, 0, []byte(savp)), clean, fuzzRecord(0x04, 0, []byte(bye)), fuzzRecord(0x04, 0, []byte(savp)), clean))
	f.Add(slices.Concat(fuzzRecord(0x04, 0, zrtp), clean))
	f.Add(clean)
	f.Add(dtmf)
	f.Add(raw)
	f.Add(append(fuzzRecord(0x04, 0, []byte(invite[:min(255, len(invite))])), dtmf...))
	f.Add(append(clean, fuzzRecord(0x80|0x04, 0xffff, append([]byte{0, 1, 4, 0}, audio(40, 1)...))...))
	f.Fuzz(func(t *testing.T, data []byte) {
		var entries []codec.Entry
		var fileEnd int64
		d := NewDemux(DemuxOptions{MaxStreams: 6, Emit: func(e codec.Entry, n uint32) {
			entries = append(entries, e)
			if uint64(e.Pos)+uint64(n) > 1<<32-1 {
				t.Fatalf("entry %+v with %d samples past the timeline", e, n)
			}
		}})
		count := 0
		fuzzDatagrams(data, func(dg *capture.Datagram) {
			count++
			fileEnd = dg.Pieces[len(dg.Pieces)-1].Off + int64(dg.Pieces[len(dg.Pieces)-1].Len)
			d.Datagram(dg)
		})
		r := d.Result()
		if _, err := json.Marshal(r); err != nil {
			t.Fatal(err)
		}
		if len(r.Streams) > 6 {
			t.Fatalf("%d streams past the bound", len(r.Streams))
		}
		if r.Packets+r.RTCPPackets+r.SIPMessages+r.OtherPackets != count {
			t.Fatalf("%d datagrams, counted %d+%d+%d+%d", count, r.Packets, r.RTCPPackets, r.SIPMessages, r.OtherPackets)
		}
		for _, e := range entries {
			if int(e.Stream) >= len(r.Streams) || e.Off < 0 || e.Off+int64(e.Len) > fileEnd || e.Len == 0 {
				t.Fatalf("entry %+v (streams %d, file %d)", e, len(r.Streams), fileEnd)
			}
			s := r.Streams[e.Stream]
			if e.Pos < s.FirstPos || e.Pos >= s.EndPos {
				t.Fatalf("entry %+v outside its stream [%d,%d)", e, s.FirstPos, s.EndPos)
			}
		}
		inCall := make([]int, len(r.Streams))
		for _, st := range r.Streams {
			if st.Encrypted && st.Supported {
				t.Fatalf("stream %+v encrypted and supported", st)
			}
		}
		for _, c := range r.Calls {
			for _, si := range c.Streams {
				inCall[si]++
			}
			if c.EndPos < c.StartPos {
				t.Fatalf("call %+v", c)
			}
			for _, si := range c.Streams {
				if r.Streams[si].Call != c.Index {
					t.Fatalf("stream %d call %d in call %d", si, r.Streams[si].Call, c.Index)
				}
			}
		}
		for si, n := range inCall {
			if n != 1 {
				t.Fatalf("stream %d is in %d calls", si, n)
			}
		}
	})
}

// BenchmarkDemuxDatagram measures the per-packet cost of the steady state:
// two established PCMU flows, 160-byte payloads.
func BenchmarkDemuxDatagram(b *testing.B) {
	d := NewDemux(DemuxOptions{Emit: func(codec.Entry, uint32) {}})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var dgs [2]capture.Datagram
	for i := range dgs {
		p := capturetest.RTP{PT: 0, Seq: 1, TS: 160, SSRC: uint32(i + 1), Payload: audio(160, 1)}.Bytes()
		dgs[i] = capture.Datagram{Proto: capture.UDP, Src: fuzzAddrs[i], Dst: fuzzAddrs[1-i], Payload: p,
			Pieces: []capture.Piece{{Off: 1000, Len: len(p)}}}
	}
	n := 0
	next := func() *capture.Datagram {
		dg := &dgs[n%2]
		k := n / 2
		binary.BigEndian.PutUint16(dg.Payload[2:], uint16(k))
		binary.BigEndian.PutUint32(dg.Payload[4:], uint32(k*160))
		dg.Time = t0.Add(time.Duration(k) * 20 * time.Millisecond)
		n++
		return dg
	}
	for range 100 {
		d.Datagram(next())
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(dgs[0].Payload)))
	for b.Loop() {
		d.Datagram(next())
	}
	if r := d.Result(); len(r.Streams) != 2 || r.Streams[0].Lost != 0 {
		b.Fatalf("streams %+v", r.Streams)
	}
}
