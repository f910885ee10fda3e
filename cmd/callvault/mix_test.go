package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/export"
)

// TestG729AndG722InOneCall: a call of a G.729 part (a real capture) and a
// G.722 part plays as one 16 kHz WAV whose G.729 part is the part's own
// 8 kHz WAV upsampled (its samples at the even positions), whose Range
// requests give its bytes, and whose zip verifies the G.729 part against
// its 8 kHz seal.
func TestG729AndG722InOneCall(t *testing.T) {
	body, err := os.ReadFile(filepath.Join(corpusDir(t), "real", "rtpproxy_g729_lost.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "")
	const guid = "72900000000000000000000000000722"
	resp, js := d.put(t, guid+"-009033302ab1-1--admin.pcap", bytes.NewReader(body), int64(len(body)))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s %v", resp.Status, js)
	}
	g729 := js["id"].(string)
	d.ingestG722(t, guid, synthCall{seconds: 2, start: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC), callID: "g722@pbx"})

	_, part := d.get(t, "/api/v1/recordings/"+g729+"/audio.wav")
	if binary.LittleEndian.Uint32(part[24:]) != 8000 {
		t.Fatalf("G.729 recording at %d Hz", binary.LittleEndian.Uint32(part[24:]))
	}
	_, call := d.get(t, "/api/v1/calls/"+guid+"/audio.wav")
	if binary.LittleEndian.Uint32(call[24:]) != 16000 {
		t.Fatalf("call at %d Hz", binary.LittleEndian.Uint32(call[24:]))
	}
	p8, c16 := wavSamples(t, part), wavSamples(t, call)
	n := len(p8[0])
	if 2*n > len(c16[0]) {
		t.Fatalf("call of %d frames, G.729 part of %d at 8 kHz", len(c16[0]), n)
	}
	var loud int
	for i := range n {
		for ch := range 2 {
			if c16[ch][2*i] != p8[ch][i] {
				t.Fatalf("channel %d frame %d: %d in the call, %d in the part", ch, i, c16[ch][2*i], p8[ch][i])
			}
			if v := p8[ch][i]; v > 500 || v < -500 {
				loud++
			}
		}
	}
	if loud < n/10 {
		t.Fatalf("G.729 part nearly silent: %d loud samples", loud)
	}
	for _, r := range [][2]int{{0, 99}, {45, 8*n - 3}, {8*n - 7, 8*n + 5001}, {len(call) - 9, len(call) - 1}} {
		resp, b := d.get(t, "/api/v1/calls/"+guid+"/audio.wav", "Range", fmt.Sprintf("bytes=%d-%d", r[0], r[1]))
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(b, call[r[0]:r[1]+1]) {
			t.Fatalf("Range %v: %s, bytes differ from the whole file", r, resp.Status)
		}
	}
	_, z := d.get(t, "/api/v1/calls/"+guid+"/download.zip")
	rep, err := export.VerifyZip(bytes.NewReader(z), int64(len(z)), nil)
	if err != nil || !rep.OK() || !strings.Contains(strings.Join(rep.Checked, "\n"), "(8 kHz, upsampled)") {
		t.Fatalf("call zip: %v %v %q", err, rep.Problems, rep.Checked)
	}
}
