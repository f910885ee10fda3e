package recorder

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/internal/capturetest"
	"github.com/callvault/callvault/internal/g729enc"
	"github.com/callvault/callvault/internal/pcapwrite"
	"github.com/callvault/callvault/internal/testcorpus"
	"github.com/callvault/callvault/recorder/capture"
)

// g729DTMFCall is a G.729 call (12 s, both directions speech, 20 ms
// packets of two frames) in which direction 0 sends card digits as in-band
// tones.
type g729DTMFCall struct {
	pcap      []byte
	pcm       [2][]int16 // the audio encoded, per direction
	sent      [2][]byte  // G.729 frames per direction, 10 bytes per 80 ticks
	digits    string
	toneSpans [][2]int // 8 kHz positions of the tones in direction 0
}

const g729PerPacket = 2 * codec.G729FrameSize

func makeG729DTMFCall(t testing.TB) *g729DTMFCall {
	dir := filepath.Join(testcorpus.Dir(t), "generated", "pcmu_bidir")
	c := &g729DTMFCall{digits: "4111111111111111"}
	for d, name := range []string{"src_a.wav", "src_b.wav"} {
		s, rate := readRefWAV(t, filepath.Join(dir, name))
		if rate != 8000 || len(s) < 12*8000 {
			t.Fatalf("%s: %d Hz, %d samples", name, rate, len(s))
		}
		c.pcm[d] = append([]int16(nil), s[:12*8000]...)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	at := 4 * 8000
	for _, d := range []byte(c.digits) {
		const toneLen = 80 * 8 // 80 ms
		tone := appendTone(t, nil, d, 80, -10, 2, rng)
		copy(c.pcm[0][at:], tone)
		clear(c.pcm[0][at+toneLen : at+2*toneLen])
		c.toneSpans = append(c.toneSpans, [2]int{at, at + toneLen})
		at += 2 * toneLen
	}
	for d := range 2 {
		c.sent[d] = g729enc.New().Encode(c.pcm[d])
	}
	start := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	local, remote := netip.MustParseAddrPort(dtmfLocal), netip.MustParseAddrPort(dtmfRemote)
	w := capturetest.NewPcapFormat(pcapwrite.Ethernet)
	for k := range len(c.sent[0]) / g729PerPacket {
		t0 := start.Add(time.Duration(k) * 20 * time.Millisecond)
		for d := range 2 {
			src, dst := local, remote
			if d == 1 {
				src, dst = remote, local
			}
			rtp := capturetest.RTP{PT: 18, Seq: uint16(k + 1000*d), TS: uint32(160 * k), SSRC: 0x1000 + uint32(d), Payload: c.sent[d][g729PerPacket*k : g729PerPacket*(k+1)]}
			w.AddUDP(t0.Add(time.Duration(d)*3*time.Millisecond), src, dst, rtp.Bytes())
		}
	}
	c.pcap = w.Bytes()
	return c
}

// decodeG729 decodes G.729 frames with a fresh decoder.
func decodeG729(frames []byte) []int16 {
	pcm := make([]int16, codec.G729Samples(len(frames)))
	codec.NewG729Decoder().Decode(pcm, frames)
	return pcm
}

// storedG729 reads the G.729 frames of both directions back from a stored
// capture, by RTP timestamp (n bytes each).
func storedG729(t testing.TB, capt []byte, n int) (audio [2][]byte) {
	t.Helper()
	for d := range 2 {
		audio[d] = make([]byte, n)
	}
	eachPacket(t, capt, func(_ capture.Packet, dg *capture.Datagram) bool {
		if dg == nil || len(dg.Payload) != 12+g729PerPacket || dg.Payload[1]&0x7f != 18 {
			return true
		}
		pl := dg.Payload
		if ssrc := binary.BigEndian.Uint32(pl[8:12]); ssrc == 0x1000 || ssrc == 0x1001 {
			ts := int(binary.BigEndian.Uint32(pl[4:8]))
			copy(audio[ssrc-0x1000][ts/codec.G729FrameSamples*codec.G729FrameSize:], pl[12:])
		}
		return true
	})
	return audio
}

// TestG729InBandDTMF: in-band digits sent in a G.729 stream are found (as
// in G.711 and G.722 streams), and with masking on they are gone from what
// is stored: the stored G.729 frames, decoded, hold no tone in either
// direction, nor does the WAV; the frames outside the masked spans are the
// frames sent, and decode to the audio sent.
func TestG729InBandDTMF(t *testing.T) {
	c := makeG729DTMFCall(t)
	sent0 := decodeG729(c.sent[0])
	if got := detectG729(sent0); len(got) != len(c.digits) {
		t.Fatalf("the sent stream holds %d tones, want %d: %+v", len(got), len(c.digits), got)
	}
	for _, sp := range c.toneSpans[:1] {
		lag, ncc, snr := testcorpus.Align(c.pcm[0][sp[0]:sp[1]], sent0[sp[0]:sp[1]+40], 40)
		t.Logf("tone through the encoder: lag %d ncc %.3f SNR %.1f dB", lag, ncc, snr)
	}
	ctx := context.Background()
	r, arc, rec, in := ingestInBandMasked(t, c.pcap, c.digits)
	stored := storedG729(t, readBlob(t, arc, rec.ID, archive.BlobOriginal), len(c.sent[0]))
	for d := range 2 {
		if got := detectG729(decodeG729(stored[d])); len(got) != 0 {
			t.Errorf("direction %d: %d tones in the stored capture: %+v", d, len(got), got)
		}
	}
	wav, err := r.WAV(ctx, []*archive.Recording{rec}, 0, codec.WAVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for ch, pcm := range readWAV(t, wav) {
		if got := detectG729(pcm); len(got) != 0 {
			t.Errorf("WAV channel %d: tones %+v", ch, got)
		}
	}

	// Outside the masked spans the frames are the frames sent, and past
	// g729Settle after each span they decode to the audio sent (as near
	// as the decoder's memory of the silence frames lets them: its pitch
	// and post-filter memories fade out over a while).
	masked := [2][]bool{make([]bool, len(c.pcm[0])), make([]bool, len(c.pcm[1]))}
	settled := [2][]bool{make([]bool, len(c.pcm[0])), make([]bool, len(c.pcm[1]))}
	for _, sp := range in.Masking.Spans {
		d := in.Result.Streams[sp.Stream].SSRC - 0x1000
		origin := int(in.Result.Streams[sp.Stream].FirstPos)
		for p := int(sp.StartPos) - origin; p < int(sp.EndPos)-origin+g729Settle && p < len(masked[d]); p++ {
			masked[d][p] = p < int(sp.EndPos)-origin
			settled[d][p] = true
		}
	}
	for d := range 2 {
		for f := 0; f < len(stored[d])/codec.G729FrameSize; f++ {
			got, want := stored[d][f*10:f*10+10], c.sent[d][f*10:f*10+10]
			if !masked[d][f*codec.G729FrameSamples] && !bytes.Equal(got, want) {
				t.Fatalf("direction %d: frame %d outside the masks changed", d, f)
			}
		}
		got, want := decodeG729(stored[d]), decodeG729(c.sent[d])
		var keptGot, keptWant []int16
		for p := range settled[d] {
			if !settled[d][p] {
				keptGot, keptWant = append(keptGot, got[p]), append(keptWant, want[p])
			}
		}
		ncc := testcorpus.NCC(keptGot, keptWant)
		t.Logf("direction %d: audio outside the masks ncc %.5f", d, ncc)
		if ncc < 0.99 {
			t.Errorf("direction %d: audio outside the masks ncc %.5f", d, ncc)
		}
	}
	checkTonesMasked(t, c.toneSpans, &masked)
}

// g729Settle is how long (8 kHz ticks: 100 ms) after a masked G.729 span
// the decoded audio may differ from the audio sent: the decoder predicts
// the LSFs from the four frames before and the gains from the four
// subframes before, and its pitch memory (143 samples back, fed back
// through the pitch gain) and post-filter carry the silence on a little
// longer.
const g729Settle = 800

// TestG729InBandFalsePositives counts the in-band digits the detector
// finds in speech sent as G.729: the audio the generated captures were
// made from (espeak-ng speech over a pink-noise bed, no DTMF; the 16 kHz
// sources halved), then the speech of the ten-minute call, as far as it
// takes to reach ten minutes, each encoded with the test encoder and
// decoded as the ingest decodes it. None is allowed. The figure is in
// BENCHMARKS.md.
func TestG729InBandFalsePositives(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes ten minutes of speech")
	}
	root := testcorpus.Dir(t)
	wavs, _ := filepath.Glob(filepath.Join(root, "generated", "*", "src_*.wav"))
	var speech [][]int16
	total := 0
	for _, f := range wavs {
		s, rate := readRefWAV(t, f)
		if rate == 16000 {
			half := make([]int16, len(s)/2)
			for i := range half {
				half[i] = int16((int32(s[2*i]) + int32(s[2*i+1])) / 2)
			}
			s = half
		}
		speech = append(speech, s)
		total += len(s)
	}
	const want = 10 * 60 * 8000
	if total < want {
		long, err := os.ReadFile(filepath.Join(root, "generated", "pcmu_long", "capture.pcap"))
		if err != nil {
			t.Fatal(err)
		}
		bySSRC := map[uint32][]byte{}
		var order []uint32
		eachPacket(t, long, func(_ capture.Packet, dg *capture.Datagram) bool {
			if dg != nil && len(dg.Payload) > 12 && dg.Payload[1]&0x7f == 0 {
				ssrc := binary.BigEndian.Uint32(dg.Payload[8:12])
				if bySSRC[ssrc] == nil {
					order = append(order, ssrc)
				}
				bySSRC[ssrc] = append(bySSRC[ssrc], dg.Payload[12:]...)
			}
			return true
		})
		for _, ssrc := range order {
			if total >= want {
				break
			}
			b := bySSRC[ssrc][:min(len(bySSRC[ssrc]), want-total)]
			speech = append(speech, decodeULaw(b))
			total += len(b)
		}
	}
	if total < want {
		t.Fatalf("only %.1f minutes of speech", float64(total)/8000/60)
	}
	found := make([]int, len(speech))
	var wg sync.WaitGroup
	next := make(chan int)
	for range 2 {
		wg.Go(func() {
			for i := range next {
				found[i] = len(detectG729(decodeG729(g729enc.New().Encode(speech[i]))))
			}
		})
	}
	for i := range speech {
		next <- i
	}
	close(next)
	wg.Wait()
	n := 0
	for i, f := range found {
		if f != 0 {
			t.Errorf("speech %d: %d digits", i, f)
		}
		n += f
	}
	t.Logf("G.729 in-band false positives: %d in %.1f minutes of speech", n, float64(total)/8000/60)
}

// detectG729 is detect with the detector of a G.729 stream.
func detectG729(pcm []int16) []toneEvent {
	return detectWith(newToneDetector(codec.G729), pcm)
}

// BenchmarkAnalyzeG729: the analysis of the 12 s two-way G.729 call of
// TestG729InBandDTMF: plain without in-band detection, detect with it
// (each stream decoded in order for the detector), mask with DTMF masking
// (the capture held back and overwritten). bytes/s is capture bytes.
func BenchmarkAnalyzeG729(b *testing.B) {
	c := makeG729DTMFCall(b)
	for _, mode := range []string{"plain", "detect", "mask"} {
		b.Run(mode, func(b *testing.B) {
			b.SetBytes(int64(len(c.pcap)))
			var out bytes.Buffer
			for b.Loop() {
				var err error
				switch mode {
				case "mask":
					out.Reset()
					hold := newHoldBuffer(&out, nil)
					_, err = analyze(io.TeeReader(bytes.NewReader(c.pcap), hold), io.Discard, analyzeOpts{inband: true, hold: hold, mask: true})
				default:
					_, err = analyze(bytes.NewReader(c.pcap), io.Discard, analyzeOpts{inband: mode == "detect"})
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)*12/b.Elapsed().Seconds(), "call-s/s")
		})
	}
}

// TestG729TonesDetected: DTMF tones at the levels, twists and durations
// a phone may send (-5 to -25 dBm0, ±4 dB of twist, 60-100 ms), through
// G.729, are found by the detector of a G.729 stream: at most one in a
// hundred is lost (over 480 tones, 1 was). With the G.711 limits (4 dB of
// reverse twist) about one in five is lost: the decoder's post-filter
// moves the twist by up to about 4 dB.
func TestG729TonesDetected(t *testing.T) {
	missed, total, missedG711 := 0, 0, 0
	for seed := range 12 {
		rng := rand.New(rand.NewPCG(uint64(seed), 3))
		var pcm []int16
		const digits = "0123456789*#ABCD"
		for _, d := range []byte(digits) {
			pcm = appendTone(t, pcm, d, 60+rng.IntN(41), -5-rng.Float64()*20, rng.Float64()*8-4, rng)
			pcm = append(pcm, make([]int16, 800)...)
		}
		dec := decodeG729(g729enc.New().Encode(pcm))
		got := detectG729(dec)
		var found strings.Builder
		for _, e := range got {
			found.WriteByte(e.digit)
		}
		if len(got) != len(digits) {
			t.Logf("seed %d: found %q, sent %q", seed, found.String(), digits)
		}
		total += len(digits)
		missed += max(len(digits)-len(got), 0)
		missedG711 += max(len(digits)-len(detect(dec)), 0)
	}
	t.Logf("G.729 tones missed: %d of %d (%d with the G.711 twist limits)", missed, total, missedG711)
	if missed*100 > total {
		t.Errorf("%d of %d tones missed", missed, total)
	}
}
