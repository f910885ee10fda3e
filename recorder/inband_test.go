package recorder

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/zaf/g711"

	"github.com/callvault/callvault/codec"
)

// dtmfFreqs returns the row and column frequency of a digit.
func dtmfFreqs(t testing.TB, d byte) (float64, float64) {
	for r := range 4 {
		for c := range 4 {
			if dtmfKeys[r][c] == d {
				return dtmfRowFreqs[r], dtmfColFreqs[c]
			}
		}
	}
	t.Fatalf("no digit %q", d)
	return 0, 0
}

// dbm0Amp is the amplitude (PCM16) of a sine at level dBm0 (G.711: a
// full-scale sine is +3.17 dBm0).
func dbm0Amp(level float64) float64 { return 32124 * math.Pow(10, (level-3.17)/20) }

// appendTone appends ms milliseconds of digit d, each tone at level dBm0
// (the column tone twist dB above the row tone), starting at random phases.
func appendTone(t testing.TB, dst []int16, d byte, ms int, level, twist float64, rng *rand.Rand) []int16 {
	fr, fc := dtmfFreqs(t, d)
	ar, ac := dbm0Amp(level), dbm0Amp(level+twist)
	pr, pc := rng.Float64()*2*math.Pi, rng.Float64()*2*math.Pi
	for i := range ms * 8 {
		x := float64(i) / 8000
		v := ar*math.Sin(2*math.Pi*fr*x+pr) + ac*math.Sin(2*math.Pi*fc*x+pc)
		dst = append(dst, int16(max(-32768, min(32767, math.Round(v)))))
	}
	return dst
}

// throughULaw returns pcm as it comes out of a µ-law channel.
func throughULaw(pcm []int16) []int16 {
	out := make([]int16, len(pcm))
	b := make([]byte, len(pcm))
	for i, v := range pcm {
		b[i] = g711.EncodeUlawFrame(v)
	}
	codec.PCMU.Decode(out, b)
	return out
}

// detect runs a detector over pcm in 160-sample packets and returns the
// tones it reported as ended.
func detect(pcm []int16) []toneEvent {
	return detectWith(new(toneDetector), pcm)
}

// detectWith is detect with detector det.
func detectWith(det *toneDetector, pcm []int16) []toneEvent {
	var evs, got []toneEvent
	for i := 0; i < len(pcm); i += 160 {
		det.feed(int64(i), pcm[i:min(i+160, len(pcm))], &evs)
	}
	det.flush(&evs, false)
	for _, e := range evs {
		if e.ended {
			got = append(got, e)
		}
	}
	return got
}

// TestToneDetectorDigits: every digit, at levels from -6 to -30 dBm0 for
// the weaker tone, with normal and reverse twist inside the limits and 40 ms tones,
// is found once, at its place, after a µ-law channel.
func TestToneDetectorDigits(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, level := range []float64{-6, -15, -25, -30} {
		for _, twist := range []float64{-6, 0, 3} {
			if level+min(twist, 0) < -30 {
				continue // below the detector's level
			}
			for _, ms := range []int{40, 65} {
				for _, d := range []byte(dtmfDigits) {
					pcm := make([]int16, 8*rng.IntN(50)+800)
					start := len(pcm)
					pcm = appendTone(t, pcm, d, ms, level, twist, rng)
					end := len(pcm)
					pcm = append(pcm, make([]int16, 800)...)
					got := detect(throughULaw(pcm))
					if len(got) != 1 || got[0].digit != d {
						t.Fatalf("digit %c, %v dBm0, twist %v dB, %d ms: got %+v", d, level, twist, ms, got)
					}
					if e := got[0]; e.start < int64(start)-toneBlock || e.end > int64(end)+toneBlock {
						t.Errorf("digit %c: tone [%d,%d) found at [%d,%d)", d, start, end, e.start, e.end)
					}
				}
			}
		}
	}
}

// TestToneDetectorRejects: tones outside the limits are not digits: too
// short (20 ms), too quiet (-40 dBm0), twist beyond 8 dB normal or 4 dB
// reverse, a single frequency, and white noise.
func TestToneDetectorRejects(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cases := map[string][]int16{
		"20ms":          appendTone(t, nil, '5', 20, -10, 0, rng),
		"quiet":         appendTone(t, nil, '5', 100, -40, 0, rng),
		"normal twist":  appendTone(t, nil, '5', 100, -10, -11, rng),
		"reverse twist": appendTone(t, nil, '5', 100, -10, 6, rng),
		"one tone":      appendTone(t, nil, '5', 100, -10, -60, rng),
	}
	noise := make([]int16, 8000)
	for i := range noise {
		noise[i] = int16(rng.NormFloat64() * 3000)
	}
	cases["noise"] = noise
	for name, pcm := range cases {
		pcm = append(append(make([]int16, 400), pcm...), make([]int16, 400)...)
		if got := detect(throughULaw(pcm)); len(got) != 0 {
			t.Errorf("%s: got %+v", name, got)
		}
	}
}

// FuzzToneDetector feeds arbitrary bytes as G.711 audio in packets of
// arbitrary sizes and positions: the detector never panics, and every
// tone it reports is a confirmed one with start < end, ended at most once.
func FuzzToneDetector(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 6))
	tone := throughULaw(appendTone(f, make([]int16, 200), '7', 60, -10, 0, rng))
	seed := make([]byte, len(tone))
	for i, v := range tone {
		seed[i] = g711.EncodeUlawFrame(v)
	}
	f.Add(seed, uint8(160), false)
	f.Add([]byte{0xff, 0x00, 0x7f, 0x80}, uint8(1), true)
	f.Fuzz(func(t *testing.T, b []byte, step uint8, alaw bool) {
		c := codec.PCMU
		if alaw {
			c = codec.PCMA
		}
		var det toneDetector
		var evs []toneEvent
		pcm := make([]int16, len(b))
		c.Decode(pcm, b)
		n := max(int(step), 1)
		pos := int64(0)
		for i := 0; i < len(pcm); i += n {
			if step%7 == 3 {
				pos += int64(step) // gaps now and then
			}
			det.feed(pos+int64(i), pcm[i:min(i+n, len(pcm))], &evs)
		}
		det.flush(&evs, alaw)
		open := false
		for _, e := range evs {
			if e.start >= e.end || e.digit == 0 {
				t.Fatalf("bad tone %+v", e)
			}
			switch {
			case e.confirmed:
				if open {
					t.Fatalf("tone confirmed while one is open: %+v", evs)
				}
				open = true
			case !open:
				t.Fatalf("tone reported before it was confirmed: %+v", evs)
			case e.ended:
				open = false
			}
		}
		if open {
			t.Fatalf("tone left open after flush: %+v", evs)
		}
	})
}
