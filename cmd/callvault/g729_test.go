package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callvault/callvault/export"
	"github.com/callvault/callvault/export/exporttest"
)

// TestG729ThroughTheProduct uploads a real G.729 capture and follows its
// audio everywhere G.711 goes: the stereo and mono WAV with Range
// requests, the waveform's peaks, the zip with its sealed WAV, the
// recording's verification and the offline decoder.
func TestG729ThroughTheProduct(t *testing.T) {
	corpus := corpusDir(t)
	body, err := os.ReadFile(filepath.Join(corpus, "real", "rtpproxy_g729_lost.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "")
	resp, js := d.put(t, "0000000000000000000000000000a729-009033302ab1-1--admin.pcap", bytes.NewReader(body), int64(len(body)))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s %v", resp.Status, js)
	}
	id := js["id"].(string)

	var rec struct {
		Streams []struct {
			Codec     string
			Supported bool
			Channel   int
		}
	}
	_, raw := d.get(t, "/api/v1/recordings/"+id)
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	streams := rec.Streams
	if len(streams) != 1 || streams[0].Codec != "G729" || !streams[0].Supported {
		t.Fatalf("streams %+v in %s", streams, raw)
	}
	ch := streams[0].Channel

	resp, wav := d.get(t, "/api/v1/recordings/"+id+"/audio.wav")
	if resp.StatusCode != 200 || len(wav) < 44+4*8000 || binary.LittleEndian.Uint16(wav[22:]) != 2 {
		t.Fatalf("audio.wav: %s, %d bytes", resp.Status, len(wav))
	}
	var energy [2]float64
	for i := 44; i+4 <= len(wav); i += 4 {
		for c := range 2 {
			v := float64(int16(binary.LittleEndian.Uint16(wav[i+2*c:])))
			energy[c] += v * v
		}
	}
	if energy[ch] == 0 || energy[1-ch] != 0 {
		t.Fatalf("channel energies %v: want the G.729 audio on channel %d only", energy, ch)
	}
	for _, r := range [][2]int{{0, 43}, {44, 9999}, {len(wav) / 2, len(wav)/2 + 40000}, {len(wav) - 7, len(wav) - 1}} {
		resp, b := d.get(t, "/api/v1/recordings/"+id+"/audio.wav", "Range", fmt.Sprintf("bytes=%d-%d", r[0], r[1]))
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(b, wav[r[0]:r[1]+1]) {
			t.Fatalf("range %v: %s, bytes equal %v", r, resp.Status, bytes.Equal(b, wav[r[0]:min(r[1]+1, len(wav))]))
		}
	}
	_, mono := d.get(t, "/api/v1/recordings/"+id+"/audio.wav?channels=mono")
	if len(mono)-44 != (len(wav)-44)/2 {
		t.Fatalf("mono %d bytes, stereo %d", len(mono), len(wav))
	}
	for i := 0; 44+2*i+2 <= len(mono); i++ {
		if m, s := binary.LittleEndian.Uint16(mono[44+2*i:]), binary.LittleEndian.Uint16(wav[44+4*i+2*ch:]); m != s {
			t.Fatalf("mono sample %d is %d, the G.729 channel's %d", i, int16(m), int16(s))
		}
	}

	var peaks struct {
		N        int
		Channels int
		Min, Max [][]int16
	}
	d.getJSON(t, "/api/v1/recordings/"+id+"/peaks?n=200", &peaks)
	loud := 0
	for i := range peaks.N {
		if peaks.Max[ch][i] > 500 || peaks.Min[ch][i] < -500 {
			loud++
		}
		if peaks.Max[1-ch][i] != 0 || peaks.Min[1-ch][i] != 0 {
			t.Fatalf("silent channel has a peak at bucket %d", i)
		}
	}
	if peaks.Channels != 2 || loud < peaks.N/10 {
		t.Fatalf("peaks: %d channels, %d of %d buckets loud", peaks.Channels, loud, peaks.N)
	}

	resp, zb := d.get(t, "/api/v1/recordings/"+id+"/download.zip")
	if resp.StatusCode != 200 {
		t.Fatalf("download.zip: %s", resp.Status)
	}
	var zwav, pemBytes []byte
	exporttest.Rewrite(t, zb, func(name string, b []byte) []byte {
		switch {
		case strings.HasSuffix(name, ".wav"):
			zwav = b
		case name == export.PubKeyName:
			pemBytes = b
		}
		return b
	})
	if !bytes.Equal(zwav, wav) {
		t.Fatalf("the zip's WAV (%d bytes) is not audio.wav (%d bytes)", len(zwav), len(wav))
	}
	blk, _ := pem.Decode(pemBytes)
	if blk == nil {
		t.Fatal("no public key in the zip")
	}
	key, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := export.VerifyZip(bytes.NewReader(zb), int64(len(zb)), key.(ed25519.PublicKey))
	if err != nil || !rep.OK() {
		t.Fatalf("the zip does not verify: %v %+v", err, rep)
	}
	d.mustVerify(t, id)

	// The offline decoder renders the same WAV.
	out := filepath.Join(t.TempDir(), "g729.wav")
	if err := run(context.Background(), []string{"decode", filepath.Join(corpus, "real", "rtpproxy_g729_lost.pcap"), "-o", out}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	dec, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dec, wav) {
		t.Fatal("callvault decode and the daemon's audio.wav differ")
	}
}
