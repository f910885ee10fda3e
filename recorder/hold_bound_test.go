package recorder

import (
	"bytes"
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/internal/capturetest"
	"github.com/callvault/callvault/internal/pcapwrite"
	"github.com/callvault/callvault/recorder/capture"
)

// peakHold is a capture reader that notes the most bytes its hold buffer
// held while the capture was read.
type peakHold struct {
	r    io.Reader
	h    *holdBuffer
	peak int
}

func (p *peakHold) Read(b []byte) (int, error) {
	p.peak = max(p.peak, len(p.h.buf))
	return p.r.Read(b)
}

// analyzeHeld runs a masked analysis of in and returns what it found, the
// bytes stored and the hold buffer's peak.
func analyzeHeld(t *testing.T, in []byte) (*Analysis, []byte, int) {
	t.Helper()
	var out bytes.Buffer
	hold := newHoldBuffer(&out, nil)
	pr := &peakHold{h: hold}
	pr.r = io.TeeReader(bytes.NewReader(in), hold)
	a, err := analyze(pr, io.Discard, analyzeOpts{inband: true, hold: hold, mask: true})
	if err != nil {
		t.Fatal(err)
	}
	if out.Len() != len(in) {
		t.Fatalf("stored %d bytes of %d", out.Len(), len(in))
	}
	return a, out.Bytes(), pr.peak
}

// audioThenJunk is a capture of two PCMU packets, then n datagrams of
// 1400 bytes that are not RTP, step apart in capture time.
func audioThenJunk(n int, step time.Duration) []byte {
	w := capturetest.NewPcapFormat(pcapwrite.Ethernet)
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	a, b := netip.MustParseAddrPort("10.0.0.1:16386"), netip.MustParseAddrPort("10.0.0.2:16388")
	pl := bytes.Repeat([]byte{0x55}, 160)
	for k := range 2 {
		w.AddUDP(t0.Add(time.Duration(k)*20*time.Millisecond), a, b, capturetest.RTP{PT: 0, Seq: uint16(k), TS: uint32(160 * k), SSRC: 7, Payload: pl}.Bytes())
	}
	junk := make([]byte, 1400) // first byte 0: not RTP
	c, d := netip.MustParseAddrPort("10.0.0.3:9"), netip.MustParseAddrPort("10.0.0.4:9")
	for k := range n {
		w.AddUDP(t0.Add(40*time.Millisecond+time.Duration(k)*step), c, d, junk)
	}
	return w.Bytes()
}

// TestHoldReleasedByCaptureTime: masking holds back the audio of a stream
// until a second of capture time has passed after it, also when what
// follows is not audio; that audio is stored as it was.
func TestHoldReleasedByCaptureTime(t *testing.T) {
	in := audioThenJunk(3000, 20*time.Millisecond) // 4.3 MB over a minute, 70 KB a second
	a, stored, peak := analyzeHeld(t, in)
	if peak > 96<<10 {
		t.Errorf("the hold buffer held %d bytes of a %d-byte capture", peak, len(in))
	}
	if !bytes.Equal(stored, in) || len(a.Masking.Spans) != 0 || len(a.Result.Warnings) != 0 {
		t.Errorf("the capture was changed: spans %+v, warnings %q", a.Masking.Spans, a.Result.Warnings)
	}
}

// TestHoldCapped: when capture time does not move on, masking holds back
// no more than maxHeldBytes before the packet being read; the audio it
// had to let go before tone detection was done with it is stored masked,
// listed as masked and warned about, and every other byte as it came.
func TestHoldCapped(t *testing.T) {
	in := audioThenJunk(2000, 0) // 2.9 MB at one instant
	a, stored, peak := analyzeHeld(t, in)
	if peak > maxHeldBytes+holdSlack+64<<10 {
		t.Errorf("the hold buffer held %d bytes of a %d-byte capture", peak, len(in))
	}
	if len(a.Masking.Spans) != 1 || a.Masking.Missed != 0 || !slices.ContainsFunc(a.Result.Warnings, func(w string) bool { return strings.Contains(w, "320 audio payload bytes masked") }) {
		t.Errorf("spans %+v, missed %d, warnings %q", a.Masking.Spans, a.Masking.Missed, a.Result.Warnings)
	}
	changed := 0
	for i := range in {
		if stored[i] != in[i] {
			if in[i] != 0x55 || stored[i] != 0xFF {
				t.Fatalf("byte %d: %#x stored as %#x", i, in[i], stored[i])
			}
			changed++
		}
	}
	if changed != 320 {
		t.Errorf("%d bytes masked, want the 320 audio bytes", changed)
	}
}

// TestRingBounded: packets of one stream that never move on in the
// timeline (the same timestamp, new sequence numbers) keep at most maxRing
// entries in the stream's ring, and those that leave it undecided are
// masked.
func TestRingBounded(t *testing.T) {
	overwritten := 0
	d := NewDemux(DemuxOptions{InBand: true, MaskDTMF: true, Overwrite: func(off int64, n int, fill byte) bool {
		overwritten += n
		return true
	}})
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	a, b := netip.MustParseAddrPort("10.0.0.1:16386"), netip.MustParseAddrPort("10.0.0.2:16388")
	const n = 5000
	most := 0
	for k := range n {
		pl := capturetest.RTP{PT: 0, Seq: uint16(k), TS: 0, SSRC: 7, Payload: []byte{0x55}}.Bytes()
		off := int64(k) * 100
		d.Datagram(&capture.Datagram{Time: t0, Proto: capture.UDP, Src: a, Dst: b, Payload: pl, Pieces: []capture.Piece{{Off: off, Len: len(pl)}}})
		for _, s := range d.streams {
			most = max(most, len(s.ring))
		}
	}
	if most > maxRing {
		t.Errorf("a ring held %d entries", most)
	}
	if overwritten != n-maxRing {
		t.Errorf("%d payload bytes masked as they left the ring, want %d", overwritten, n-maxRing)
	}
}
