package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/export"
)

// ingestG722 uploads a synthesized G.722 call (PT 9) of guid as admin's.
func (d *daemon) ingestG722(t *testing.T, guid string, c synthCall) string {
	t.Helper()
	c.pt = 9
	return d.ingestSynth(t, guid, "admin", c)
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
