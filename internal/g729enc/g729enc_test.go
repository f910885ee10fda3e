package g729enc

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/internal/testcorpus"
)

// roundTrip encodes pcm and decodes it with codec's decoder.
func roundTrip(pcm []int16) []int16 {
	frames := New().Encode(pcm)
	out := make([]int16, len(frames)/codec.G729FrameSize*codec.G729FrameSamples)
	codec.NewG729Decoder().Decode(out, frames)
	return out
}

// tone returns n samples of two sines at levels of amplitude a1, a2.
func tone(n int, f1, f2, a1, a2 float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		x := float64(i) / 8000
		out[i] = int16(math.Round(a1*math.Sin(2*math.Pi*f1*x) + a2*math.Sin(2*math.Pi*f2*x+1)))
	}
	return out
}

// TestEncodeDTMF: a DTMF tone pair comes back from the decoder close to
// what was sent (the figure is in BENCHMARKS.md).
func TestEncodeDTMF(t *testing.T) {
	for _, f := range [][2]float64{{697, 1209}, {770, 1336}, {852, 1477}, {941, 1633}, {941, 1336}} {
		in := tone(8000, f[0], f[1], 5000, 6000)
		out := roundTrip(in)
		// The first 100 ms: the decoder's filters settle.
		lag, ncc, snr := testcorpus.Align(in[800:7000], out[800:], 40)
		t.Logf("%v Hz: lag %d ncc %.4f SNR %.1f dB", f, lag, ncc, snr)
		if snr < 6 {
			t.Errorf("%v Hz: SNR %.1f dB", f, snr)
		}
	}
}

// TestEncodeSpeech: the corpus speech comes back intelligible (SNR above
// a few dB; G.729 itself reaches about 10 dB with weighting).
func TestEncodeSpeech(t *testing.T) {
	in := readWAV(t, filepath.Join(testcorpus.Dir(t), "generated", "pcmu_bidir", "src_a.wav"))
	in = in[:min(len(in), 5*8000)]
	out := roundTrip(in)
	lag, ncc, snr := testcorpus.Align(in, out, 40)
	t.Logf("speech: lag %d ncc %.4f SNR %.1f dB", lag, ncc, snr)
	if ncc < 0.8 {
		t.Errorf("speech: ncc %.4f SNR %.1f dB", ncc, snr)
	}
}

// readWAV reads the samples of a 16-bit mono WAV file.
func readWAV(t testing.TB, path string) []int16 {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 12; i+8 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[i+4:]))
		if string(b[i:i+4]) == "data" {
			d := b[i+8 : min(len(b), i+8+n)]
			out := make([]int16, len(d)/2)
			for k := range out {
				out[k] = int16(binary.LittleEndian.Uint16(d[2*k:]))
			}
			return out
		}
		i += 8 + n + n&1
	}
	t.Fatalf("%s: no data chunk", path)
	return nil
}

func BenchmarkEncode(b *testing.B) {
	in := tone(8000, 697, 1209, 5000, 6000)
	b.SetBytes(int64(2 * len(in)))
	for b.Loop() {
		New().Encode(in)
	}
}

// TestAbsorb: an encoder that absorbs the frames another encoded holds
// the same model of the decoder as the one that encoded them.
func TestAbsorb(t *testing.T) {
	a, b := New(), New()
	frames := a.Encode(tone(4000, 852, 1336, 4000, 5000))
	for f := 0; f < len(frames); f += codec.G729FrameSize {
		b.Absorb(frames[f : f+codec.G729FrameSize])
	}
	if a.exc != b.exc || a.mem != b.mem || a.prevL != b.prevL || a.lsp != b.lsp || a.pastEn != b.pastEn || a.sharp != b.sharp {
		t.Fatal("the models differ")
	}
}
