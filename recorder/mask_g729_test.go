package recorder

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/internal/capturetest"
	"github.com/callvault/callvault/internal/pcapwrite"
	"github.com/callvault/callvault/internal/testcorpus"
	"github.com/callvault/callvault/recinfo"
	"github.com/callvault/callvault/recorder/capture"
)

// TestMaskG729DecodesToSilence: with masking on, the G.729 payloads under
// RFC 4733 digits are overwritten with frames that decode to silence from
// whatever state the decoder is in (the stream: real G.729 speech frames).
func TestMaskG729DecodesToSilence(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(testcorpus.Dir(t), "real", "rtpproxy_g729_lost.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	var frames []byte // whole speech frames of the real stream, in order
	eachPacket(t, raw, func(_ capture.Packet, dg *capture.Datagram) bool {
		if dg != nil && len(dg.Payload) > 12 && dg.Payload[1]&0x7f == 18 {
			pl := dg.Payload[12:]
			frames = append(frames, pl[:len(pl)/codec.G729FrameSize*codec.G729FrameSize]...)
		}
		return true
	})
	const perPacket = 2 * codec.G729FrameSize // 20 ms
	if len(frames) < 100*perPacket {
		t.Fatalf("%d bytes of G.729 in the corpus capture", len(frames))
	}
	frames = append(frames, frames...) // 4 s or more
	packets := len(frames) / perPacket
	local, remote := netip.MustParseAddrPort(dtmfLocal), netip.MustParseAddrPort(dtmfRemote)
	start := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	evSpans := [][2]int{{8000, 8960}, {16000, 16960}} // two digits of 120 ms
	w := capturetest.NewPcapFormat(pcapwrite.Ethernet)
	evSeq := uint16(1)
	for k := range packets {
		t0 := start.Add(time.Duration(k) * 20 * time.Millisecond)
		rtp := capturetest.RTP{PT: 18, Seq: uint16(k), TS: uint32(160 * k), SSRC: 0x1001, Payload: frames[k*perPacket : (k+1)*perPacket]}
		w.AddUDP(t0, remote, local, rtp.Bytes())
		for _, sp := range evSpans {
			if 160*k < sp[0] || 160*k >= sp[1] {
				continue
			}
			dur := 160*k - sp[0] + 160
			pl := []byte{5, 10, byte(dur >> 8), byte(dur)}
			if 160*k+160 >= sp[1] {
				pl[1] |= 0x80
			}
			rtp := capturetest.RTP{PT: 101, Seq: evSeq, TS: uint32(sp[0]), SSRC: 0x2001, Payload: pl}
			evSeq++
			w.AddUDP(t0.Add(3*time.Millisecond), remote, local, rtp.Bytes())
		}
	}
	r, arc := openMaskingRecorder(t, nil)
	rec, err := r.Ingest(context.Background(), "g729.pcap", bytes.NewReader(w.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	in, err := recinfo.Parse(rec.Info)
	if err != nil {
		t.Fatal(err)
	}
	if in.Masking == nil || len(in.Masking.Spans) == 0 {
		t.Fatalf("masking %+v", in.Masking)
	}

	// The stored stream, by timestamp, decoded in order.
	stored := make([]byte, packets*perPacket)
	eachPacket(t, readBlob(t, arc, rec.ID, archive.BlobOriginal), func(_ capture.Packet, dg *capture.Datagram) bool {
		if dg != nil && len(dg.Payload) == 12+perPacket && dg.Payload[1]&0x7f == 18 {
			ts := int(binary.BigEndian.Uint32(dg.Payload[4:8]))
			copy(stored[ts/80*codec.G729FrameSize:], dg.Payload[12:])
		}
		return true
	})
	pcm := make([]int16, packets*160)
	codec.NewG729Decoder().Decode(pcm, stored)
	origin := int(in.Result.Streams[in.Masking.Spans[0].Stream].FirstPos)
	for _, sp := range in.Masking.Spans {
		from, to := int(sp.StartPos)-origin, int(sp.EndPos)-origin
		for f := from / 80; f < to/80; f++ {
			if fr := stored[f*codec.G729FrameSize : (f+1)*codec.G729FrameSize]; !bytes.Equal(fr, g729Silence[:]) {
				t.Fatalf("masked frame %d holds %x", f, fr)
			}
		}
		// From the fourth masked frame on, the decoder has let go of the
		// speech before the span.
		peak := 0
		for _, v := range pcm[from+3*80 : to] {
			peak = max(peak, int(v), -int(v))
		}
		if peak > 10 {
			t.Errorf("span %d-%d decodes with peaks of %d", sp.StartPos, sp.EndPos, peak)
		}
	}
	for _, sp := range evSpans {
		covered := false
		for _, m := range in.Masking.Spans {
			covered = covered || (int(m.StartPos)-origin <= sp[0] && int(m.EndPos)-origin >= sp[1])
		}
		if !covered {
			t.Errorf("digit at %v not masked: %+v", sp, in.Masking.Spans)
		}
	}
}
