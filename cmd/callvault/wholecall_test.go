package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/export"
	"github.com/callvault/callvault/export/exporttest"
)

// twoPartCall ingests a call recorded in two parts of 4 and 3 seconds
// (one call id) and returns the ids of the parts.
func twoPartCall(t *testing.T, d *daemon, guid string) (string, string) {
	t.Helper()
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	p1 := d.ingestSynth(t, guid, "admin", synthCall{seconds: 4, start: start, callID: "p1@pbx",
		from: synthParty{"Åsa Øberg", "201"}, to: synthParty{"Jānis Bērziņš", "+37120000000"}})
	p2 := d.ingestSynth(t, guid, "admin", synthCall{seconds: 3, start: start.Add(time.Minute), callID: "p2@pbx",
		from: synthParty{"Åsa Øberg", "201"}, to: synthParty{"Jānis Bērziņš", "+37120000000"}})
	return p1, p2
}

// TestCallZip downloads a two-part call as one zip: one WAV of the whole
// call, as the call's audio plays, and the seal of each part. It verifies
// offline, also with `callvault verify FILE.zip`; a changed byte of
// either part's audio fails, naming the part.
func TestCallZip(t *testing.T) {
	d := startDaemon(t, "")
	const guid = "ca11ca11000000000000000000000001"
	p1, p2 := twoPartCall(t, d, guid)
	d.mustVerify(t, p1)
	d.mustVerify(t, p2)

	resp, good := d.get(t, "/api/v1/calls/"+guid+"/download.zip")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), `attachment; filename="call-20261120-090000-`) {
		t.Fatalf("download: %s %q %q", resp.Status, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
	}
	rep, err := export.VerifyZip(bytes.NewReader(good), int64(len(good)), nil)
	if err != nil || !rep.OK() {
		t.Fatalf("call zip: %v %v", err, rep.Problems)
	}
	if rep.Recording != "call "+guid || strings.Count(strings.Join(rep.Checked, "\n"), "call.wav part") != 2 {
		t.Fatalf("report %q checked %q", rep.Recording, rep.Checked)
	}
	// call.wav is the call's audio, as it plays: 7 s of stereo.
	_, audio := d.get(t, "/api/v1/calls/"+guid+"/audio.wav")
	var wav []byte
	exportRewriteRead(t, good, export.CallWAVName, &wav)
	if !bytes.Equal(wav, audio) {
		t.Fatalf("call.wav (%d bytes) is not the call's audio (%d bytes)", len(wav), len(audio))
	}
	if frames := binary.LittleEndian.Uint32(wav[40:]) / 4; frames < 6*8000 || frames > 8*8000 {
		t.Fatalf("call.wav holds %d frames, want about 7 s", frames)
	}
	// The seal.json names both parts.
	var js []byte
	exportRewriteRead(t, good, export.SealName, &js)
	var cs export.CallSealFile
	if err := json.Unmarshal(js, &cs); err != nil || cs.Format != export.CallFormat || len(cs.Parts) != 2 ||
		cs.Parts[0].Recording != p1 || cs.Parts[1].Recording != p2 {
		t.Fatalf("seal.json: %v %s", err, js)
	}
	firstPart := int(cs.Parts[0].Pieces[0])
	for _, c := range []struct {
		name string
		off  func([]byte) int
		want string
	}{
		{"part 1", func([]byte) int { return 44 + firstPart/2 }, "call.wav: part 1 call 1"},
		{"part 2", func(b []byte) int { return 44 + firstPart + (len(b)-44-firstPart)/2 }, "call.wav: part 2 call 1"},
	} {
		bad := editZip(t, good, export.CallWAVName, c.off)
		rep, err := export.VerifyZip(bytes.NewReader(bad), int64(len(bad)), nil)
		if err != nil || rep.OK() || !strings.Contains(rep.Problems[0].String(), c.want) {
			t.Fatalf("%s changed: %v %v", c.name, err, rep.Problems)
		}
	}
	// The call's waveform says where part 2 begins: after part 1's audio.
	var peaks struct {
		Frames int64 `json:"frames"`
		Parts  []struct {
			ID            string `json:"id"`
			Start, Frames int64
		} `json:"parts"`
	}
	d.getJSON(t, "/api/v1/calls/"+guid+"/peaks?n=50", &peaks)
	if len(peaks.Parts) != 2 || peaks.Parts[0].ID != p1 || peaks.Parts[1].ID != p2 || peaks.Parts[1].Start != int64(firstPart/4) ||
		peaks.Parts[0].Frames+peaks.Parts[1].Frames != peaks.Frames {
		t.Fatalf("call peaks: %+v", peaks)
	}
	var out bytes.Buffer
	p := t.TempDir() + "/call.zip"
	writeFile(t, p, good)
	if err := run(t.Context(), []string{"verify", p}, &out, &out); err != nil || !strings.Contains(out.String(), "call.wav part 2 call 1 sha256 sealed") {
		t.Fatalf("callvault verify: %v\n%s", err, out.String())
	}
	if plays := d.auditEntries(t, "download"); len(plays) != 2 {
		t.Fatalf("downloads audited: %v", plays)
	}
}

// exportRewriteRead reads the named file of a zip into out.
func exportRewriteRead(t *testing.T, z []byte, name string, out *[]byte) {
	t.Helper()
	exporttest.Rewrite(t, z, func(n string, b []byte) []byte {
		if n == name {
			*out = bytes.Clone(b)
		}
		return b
	})
	if *out == nil {
		t.Fatalf("%s not in the zip", name)
	}
}

func writeFile(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
