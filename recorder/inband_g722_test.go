package recorder

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/internal/capturetest"
	"github.com/callvault/callvault/internal/pcapwrite"
	"github.com/callvault/callvault/internal/testcorpus"
	"github.com/callvault/callvault/recinfo"
)

// g722DTMFCall is a G.722 call (12 s, both directions speech) in which
// direction 0 sends card digits as in-band tones.
type g722DTMFCall struct {
	pcap      []byte
	sent      [2][]byte // G.722 octets per direction, one per 8 kHz tick
	digits    string
	toneSpans [][2]int // 8 kHz positions of the tones in direction 0
}

func makeG722DTMFCall(t testing.TB) *g722DTMFCall {
	dir := filepath.Join(testcorpus.Dir(t), "generated", "g722_bidir")
	var pcm [2][]int16
	for d, name := range []string{"src_a.wav", "src_b.wav"} {
		s, rate := readRefWAV(t, filepath.Join(dir, name))
		if rate != 16000 {
			t.Fatalf("%s: %d Hz", name, rate)
		}
		pcm[d] = append([]int16(nil), s[:12*16000]...)
	}
	c := &g722DTMFCall{digits: "4111111111111111"}
	rng := rand.New(rand.NewPCG(9, 10))
	at := 4 * 16000
	for _, d := range []byte(c.digits) {
		fr, fc := dtmfFreqs(t, d)
		ar, ac := dbm0Amp(-10), dbm0Amp(-8)
		pr, pc := rng.Float64()*2*math.Pi, rng.Float64()*2*math.Pi
		const toneLen = 80 * 16 // 80 ms
		for i := range toneLen {
			x := float64(i) / 16000
			pcm[0][at+i] = int16(math.Round(ar*math.Sin(2*math.Pi*fr*x+pr) + ac*math.Sin(2*math.Pi*fc*x+pc)))
		}
		clear(pcm[0][at+toneLen : at+2*toneLen])
		c.toneSpans = append(c.toneSpans, [2]int{at / 2, (at + toneLen) / 2})
		at += 2 * toneLen
	}
	for d := range 2 {
		c.sent[d] = testcorpus.FFmpegEncodeG722(t, pcm[d])
	}
	start := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	w := capturetest.NewPcapFormat(pcapwrite.Ethernet)
	for k := range len(c.sent[0]) / 160 {
		addBidirPacket(w, start, k, 9, &c.sent)
	}
	c.pcap = w.Bytes()
	return c
}

// g722Tones decodes a G.722 stream (with ffmpeg's decoder, independent of
// the appliance's) and runs the tone detector over it, brought to 8 kHz
// by averaging sample pairs.
func g722Tones(t testing.TB, g722 []byte) []toneEvent {
	wide := testcorpus.FFmpegG722(t, g722)
	pcm := make([]int16, len(wide)/2)
	for i := range pcm {
		pcm[i] = int16((int32(wide[2*i]) + int32(wide[2*i+1])) / 2)
	}
	return detect(pcm)
}

// TestG722InBandDTMF: in-band digits sent in a G.722 stream are found (as
// in G.711 streams), and with masking on they are gone from what is
// stored: the stored G.722 payloads, decoded, hold no tone in either
// direction, nor does the WAV, and the speech around them is kept.
func TestG722InBandDTMF(t *testing.T) {
	c := makeG722DTMFCall(t)
	if got := g722Tones(t, c.sent[0]); len(got) != len(c.digits) {
		t.Fatalf("the sent stream holds %d tones, want %d", len(got), len(c.digits))
	}
	ctx := context.Background()
	r, arc, rec, in := ingestInBandMasked(t, c.pcap, c.digits)
	stored := readBlob(t, arc, rec.ID, archive.BlobOriginal)
	audio, _ := storedPayloads(t, stored, len(c.sent[0]))
	for d := range 2 {
		if got := g722Tones(t, audio[d]); len(got) != 0 {
			t.Errorf("direction %d: %d tones in the stored capture: %+v", d, len(got), got)
		}
	}
	wav, err := r.WAV(ctx, []*archive.Recording{rec}, 0, codec.WAVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for ch, wide := range readWAV(t, wav) {
		pcm := make([]int16, len(wide)/2)
		for i := range pcm {
			pcm[i] = int16((int32(wide[2*i]) + int32(wide[2*i+1])) / 2)
		}
		if got := detect(pcm); len(got) != 0 {
			t.Errorf("WAV channel %d: tones %+v", ch, got)
		}
	}

	// Outside the masked spans (and g722Settle after each, where the
	// decoder's state comes back to the sender's) the audio is the
	// audio sent.
	masked := [2][]bool{make([]bool, len(c.sent[0])), make([]bool, len(c.sent[1]))}
	for _, sp := range in.Masking.Spans {
		d := in.Result.Streams[sp.Stream].SSRC - 0x1000
		origin := int(in.Result.Streams[sp.Stream].FirstPos)
		for p := int(sp.StartPos) - origin; p < int(sp.EndPos)-origin+g722Settle && p < len(masked[d]); p++ {
			masked[d][p] = true
		}
	}
	for d := range 2 {
		got, want := testcorpus.FFmpegG722(t, audio[d]), testcorpus.FFmpegG722(t, c.sent[d])
		var keptGot, keptWant []int16
		for p := range masked[d] {
			if !masked[d][p] && 2*p+1 < min(len(got), len(want)) {
				keptGot = append(keptGot, got[2*p], got[2*p+1])
				keptWant = append(keptWant, want[2*p], want[2*p+1])
			}
		}
		if ncc := testcorpus.NCC(keptGot, keptWant); ncc < 0.99 {
			t.Errorf("direction %d: audio outside the masks ncc %.5f", d, ncc)
		}
	}
	checkTonesMasked(t, c.toneSpans, &masked)
}

// ingestInBandMasked ingests capture pcap, whose in-band digits are
// digits: without masking, where the digits must be found in-band, then
// with masking on, where none may be kept. It returns the masking
// recorder, its archive, and the masked recording with its info.
func ingestInBandMasked(t *testing.T, pcap []byte, digits string) (*Recorder, *archive.Archive, *archive.Recording, *recinfo.Info) {
	t.Helper()
	ctx := context.Background()
	plain, err := New(archivetest.OpenTest(t), Config{Prefix: "/recordings/Files/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := plain.Ingest(ctx, "plain.pcap", bytes.NewReader(pcap))
	if err != nil {
		t.Fatal(err)
	}
	in, err := recinfo.Parse(rec.Info)
	if err != nil {
		t.Fatal(err)
	}
	var found strings.Builder
	for _, s := range in.Result.Streams {
		for _, d := range s.DTMF {
			if !d.InBand {
				t.Errorf("digit %+v not in-band", d)
			}
			found.WriteString(d.Digit)
		}
	}
	if found.String() != digits {
		t.Fatalf("digits found %q, sent %q", found.String(), digits)
	}

	r, arc := openMaskingRecorder(t, nil)
	rec, err = r.Ingest(ctx, "masked.pcap", bytes.NewReader(pcap))
	if err != nil {
		t.Fatal(err)
	}
	if in, err = recinfo.Parse(rec.Info); err != nil {
		t.Fatal(err)
	}
	if in.Masking == nil || len(in.Masking.Spans) == 0 || in.Masking.Missed != 0 {
		t.Fatalf("masking %+v", in.Masking)
	}
	for _, s := range in.Result.Streams {
		if len(s.DTMF) != 0 {
			t.Errorf("stream %d keeps digits %+v", s.Index, s.DTMF)
		}
	}
	return r, arc, rec, in
}

// g722Settle is how long (8 kHz ticks: 60 ms) after a masked G.722 span
// the decoded audio may differ from the audio sent: ADPCM decodes each
// octet from the state the octets before left, and the silence octets
// leave other scale factors and predictor coefficients than the sent ones,
// which the next octets pull back within a few tens of milliseconds.
const g722Settle = 480
