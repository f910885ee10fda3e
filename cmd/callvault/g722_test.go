package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/export"
	"github.com/callvault/callvault/internal/capturetest"
	"github.com/callvault/callvault/internal/loadgen"
	"github.com/callvault/callvault/internal/pcapwrite"
)

// g722Pcap writes a two-way G.722 call (PT 9, SDP with rtpmap G722/8000)
// as a pcap: like synthPcap, 160 octets (20 ms) every 20 ms each way.
func g722Pcap(c synthCall) []byte {
	w := capturetest.NewPcapFormat(pcapwrite.Ethernet)
	local, remote := netip.MustParseAddrPort("10.0.0.1:16386"), netip.MustParseAddrPort("10.0.0.2:16388")
	sig := [2]netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:5060"), netip.MustParseAddrPort("10.0.0.2:5060")}
	msg := func(first string, media netip.AddrPort) []byte {
		return capturetest.SIP{
			First: first, Via: "10.0.0.1:5060", Branch: "z9hG4bK-1", Domain: "pbx.test",
			From:   capturetest.Party{Display: "A", User: "201", Tag: "a1"},
			To:     capturetest.Party{Display: "B", User: "202"},
			CallID: c.callID, CSeq: 1, Method: "INVITE", Contact: "201@10.0.0.1",
			Body: capturetest.SDP(media, "RTP/AVP", 9, false, "a=rtpmap:9 G722/8000", "a=sendrecv"),
		}.Bytes()
	}
	w.AddUDP(c.start, sig[0], sig[1], msg("INVITE sip:202@pbx.test SIP/2.0", local))
	w.AddUDP(c.start.Add(5*time.Millisecond), sig[1], sig[0], msg("SIP/2.0 200 OK", remote))
	pattern := loadgen.Pattern("pcmu") // any octets are G.722 codes
	capturetest.Call{
		Seconds: c.seconds, Start: c.start.Add(20 * time.Millisecond), PT: 9,
		Local: local, Remote: remote, Skew: 2 * time.Millisecond,
		Seq: [2]uint16{1000, 3000}, TS: [2]uint32{0, 5555}, SSRC: [2]uint32{0x72200, 0x72201},
		Payload: func(d, k int, p []byte) {
			src := pattern[d]
			off := (k * 160) % len(src)
			copy(p, src[off:off+160])
		},
	}.AddTo(w)
	return w.Bytes()
}

func (d *daemon) ingestG722(t *testing.T, guid string, c synthCall) string {
	t.Helper()
	body := g722Pcap(c)
	name := guid + "-009033302ab1-11--admin.pcap"
	resp, js := d.put(t, name, bytes.NewReader(body), int64(len(body)))
	if resp.StatusCode != 201 {
		t.Fatalf("PUT %s: %s %v", name, resp.Status, js)
	}
	id, _ := js["id"].(string)
	return id
}

// TestG722Daemon: G.722 recordings through the daemon. A recording plays
// as a 16 kHz stereo WAV, Range requests give its bytes, its waveform is
// at 16 kHz, its seal verifies and its zip verifies offline; a call of
// two G.722 parts downloads as one 16 kHz WAV whose pieces verify against
// each part's seal; a call of a G.711 part and a G.722 part has a
// waveform whose parts tile it.
func TestG722Daemon(t *testing.T) {
	d := startDaemon(t, "")
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	const guid = "72200000000000000000000000000001"
	p1 := d.ingestG722(t, guid, synthCall{seconds: 4, start: start, callID: "g1@pbx"})
	p2 := d.ingestG722(t, guid, synthCall{seconds: 3, start: start.Add(time.Minute), callID: "g2@pbx"})
	d.mustVerify(t, p1)
	d.mustVerify(t, p2)

	_, full := d.get(t, "/api/v1/recordings/"+p1+"/audio.wav")
	if len(full) < 44 || binary.LittleEndian.Uint32(full[24:]) != 16000 || binary.LittleEndian.Uint16(full[22:]) != 2 {
		t.Fatalf("audio.wav is not 16 kHz stereo: % x", full[:min(len(full), 44)])
	}
	if secs := float64(len(full)-44) / 4 / 16000; secs < 3.9 || secs > 4.2 {
		t.Fatalf("audio.wav lasts %.2f s, want about 4", secs)
	}
	nonzero := 0
	for _, v := range wavSamples(t, full)[0] {
		if v != 0 {
			nonzero++
		}
	}
	if nonzero < 16000*3 {
		t.Fatalf("%d non-zero samples on the left: G.722 rendered as silence", nonzero)
	}
	for _, r := range [][2]int{{0, 99}, {44, 44 + 16000*4 - 1}, {123457, 200001}, {len(full) - 10, len(full) - 1}} {
		resp, b := d.get(t, "/api/v1/recordings/"+p1+"/audio.wav", "Range", fmt.Sprintf("bytes=%d-%d", r[0], r[1]))
		if resp.StatusCode != 206 || !bytes.Equal(b, full[r[0]:r[1]+1]) {
			t.Fatalf("Range %v: %s, %d bytes differ from the whole file", r, resp.Status, len(b))
		}
	}
	var peaks struct {
		Frames int64 `json:"frames"`
		Rate   int   `json:"rate"`
		Parts  []struct {
			Start, Frames int64
		} `json:"parts"`
	}
	d.getJSON(t, "/api/v1/recordings/"+p1+"/peaks?n=100", &peaks)
	if peaks.Rate != 16000 || peaks.Frames != int64(len(full)-44)/4 {
		t.Fatalf("peaks: rate %d frames %d, WAV %d frames", peaks.Rate, peaks.Frames, (len(full)-44)/4)
	}
	_, z := d.get(t, "/api/v1/recordings/"+p1+"/download.zip")
	if rep, err := export.VerifyZip(bytes.NewReader(z), int64(len(z)), nil); err != nil || !rep.OK() {
		t.Fatalf("recording zip: %v %v", err, rep.Problems)
	}

	// The call of two G.722 parts.
	_, cz := d.get(t, "/api/v1/calls/"+guid+"/download.zip")
	if rep, err := export.VerifyZip(bytes.NewReader(cz), int64(len(cz)), nil); err != nil || !rep.OK() {
		t.Fatalf("call zip: %v %v", err, rep.Problems)
	}
	// A G.711 part and a G.722 part: the call plays at 16 kHz and its
	// waveform's parts tile it.
	const mixed = "72200000000000000000000000000002"
	d.ingestSynth(t, mixed, "admin", synthCall{seconds: 2, start: start, callID: "m1@pbx"})
	d.ingestG722(t, mixed, synthCall{seconds: 3, start: start.Add(time.Minute), callID: "m2@pbx"})
	_, call := d.get(t, "/api/v1/calls/"+mixed+"/audio.wav")
	if binary.LittleEndian.Uint32(call[24:]) != 16000 {
		t.Fatalf("mixed call at %d Hz", binary.LittleEndian.Uint32(call[24:]))
	}
	d.getJSON(t, "/api/v1/calls/"+mixed+"/peaks?n=50", &peaks)
	if len(peaks.Parts) != 2 || peaks.Parts[1].Start != peaks.Parts[0].Frames || peaks.Parts[0].Frames+peaks.Parts[1].Frames != peaks.Frames ||
		peaks.Frames != int64(len(call)-44)/4 {
		t.Fatalf("mixed call peaks: %+v, WAV %d frames", peaks, (len(call)-44)/4)
	}
	// Its zip verifies: the G.711 part, sealed at 8 kHz, by its 8 kHz
	// frames and their interpolation. A changed sample of it, even or odd,
	// fails.
	_, mz := d.get(t, "/api/v1/calls/"+mixed+"/download.zip")
	rep, err := export.VerifyZip(bytes.NewReader(mz), int64(len(mz)), nil)
	if err != nil || !rep.OK() || !strings.Contains(strings.Join(rep.Checked, "\n"), "part 1 call 1 sha256 sealed (8 kHz, upsampled)") {
		t.Fatalf("mixed call zip: %v %v %q", err, rep.Problems, rep.Checked)
	}
	for _, off := range []int{44 + 8*8000, 44 + 8*8000 + 4} { // a frame pair 1 s in: even, odd
		bad := editZip(t, mz, export.CallWAVName, func([]byte) int { return off })
		rep, err := export.VerifyZip(bytes.NewReader(bad), int64(len(bad)), nil)
		if err != nil || rep.OK() || !strings.Contains(rep.Problems[0].String(), "part 1 call 1") {
			t.Fatalf("byte %d of the G.711 part changed: %v %v", off, err, rep.Problems)
		}
	}
}
