package recorder

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/zaf/g711"

	"github.com/callvault/callvault/internal/capturetest"
	"github.com/callvault/callvault/internal/pcapwrite"
	"github.com/callvault/callvault/recorder/capture"
)

// strayTimeCall is a capture of a call in PCMU, 20 ms packets: direction
// 0 sends silence with an 80 ms DTMF tone from packet toneAt on,
// direction 1 a steady sound; packet toneAt of direction 1 carries a
// capture time an hour ahead, and is followed by other traffic, so that
// the hold buffer asks for the pin while the tone is under way and not
// yet confirmed. It returns the capture and the µ-law direction 0 sent.
func strayTimeCall(t *testing.T) ([]byte, []byte) {
	const packets, toneAt = 100, 50
	sent := bytes.Repeat([]byte{0xFF}, packets*160)
	tone := appendTone(t, nil, '5', 80, -10, 2, rand.New(rand.NewPCG(5, 6)))
	for i, v := range tone {
		sent[toneAt*160+i] = g711.EncodeUlawFrame(v)
	}
	local, remote := netip.MustParseAddrPort(dtmfLocal), netip.MustParseAddrPort(dtmfRemote)
	start := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	other := bytes.Repeat([]byte{0x55}, 160)
	junk := make([]byte, 1400) // first byte 0: not RTP
	c, d := netip.MustParseAddrPort("10.0.0.3:9"), netip.MustParseAddrPort("10.0.0.4:9")
	w := capturetest.NewPcapFormat(pcapwrite.Ethernet)
	for k := range packets {
		at := start.Add(time.Duration(k) * 20 * time.Millisecond)
		w.AddUDP(at, local, remote, capturetest.RTP{PT: 0, Seq: uint16(k), TS: uint32(160 * k), SSRC: 0x1000, Payload: sent[160*k : 160*k+160]}.Bytes())
		at1 := at.Add(3 * time.Millisecond)
		if k == toneAt {
			at1 = at.Add(time.Hour)
		}
		w.AddUDP(at1, remote, local, capturetest.RTP{PT: 0, Seq: uint16(1000 + k), TS: uint32(160 * k), SSRC: 0x1001, Payload: other}.Bytes())
		if k == toneAt {
			for range 4 {
				w.AddUDP(at.Add(5*time.Millisecond), c, d, junk)
			}
		}
	}
	return w.Bytes(), sent
}

// TestStrayCaptureTimeKeepsHold: one audio packet whose capture time is
// far ahead of the rest does not make the other streams look idle: the
// start of a DTMF tone held when it comes is not let go unmasked, and the
// whole tone is stored as silence.
func TestStrayCaptureTimeKeepsHold(t *testing.T) {
	in, sent := strayTimeCall(t)
	a, stored, _ := analyzeHeld(t, in)
	got := bytes.Repeat([]byte{0xFF}, len(sent))
	eachPacket(t, stored, func(_ capture.Packet, dg *capture.Datagram) bool {
		if dg != nil && len(dg.Payload) >= 12 && binary.BigEndian.Uint32(dg.Payload[8:12]) == 0x1000 {
			copy(got[binary.BigEndian.Uint32(dg.Payload[4:8]):], dg.Payload[12:])
		}
		return true
	})
	unmasked := 0
	for i, b := range sent {
		if b != 0xFF && got[i] != 0xFF {
			unmasked++
		}
	}
	if unmasked > 0 || a.Masking == nil || len(a.Masking.Spans) == 0 || a.Masking.Missed != 0 {
		t.Errorf("%d tone samples stored unmasked; masking %+v", unmasked, a.Masking)
	}
	for _, s := range a.Result.Streams {
		if len(s.DTMF) != 0 {
			t.Errorf("stream %d: digits %+v", s.Index, s.DTMF)
		}
	}
}
