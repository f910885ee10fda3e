package recorder

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/zaf/g711"

	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/internal/testcorpus"
	"github.com/callvault/callvault/recorder/capture"
)

// flowAudio is the G.711 audio of one RTP flow: its payloads in capture
// order, and each decoded.
type flowAudio struct {
	tab *g711Tables
	raw [][]byte
	pcm [][]int16
}

// corpusAudio returns the G.711 audio of each RTP flow of a capture (by
// addresses), nil when the file is not a capture.
func corpusAudio(tb testing.TB, file string) []flowAudio {
	fh, err := os.Open(file)
	if err != nil {
		tb.Fatal(err)
	}
	defer fh.Close()
	rd, err := capture.NewReader(fh)
	if err != nil {
		return nil
	}
	dec := capture.NewDecoder()
	idx := map[string]int{}
	var flows []flowAudio
	for {
		p, err := rd.Next()
		if err != nil {
			return flows
		}
		dg, err := dec.Decode(p)
		if err != nil || dg == nil || len(dg.Payload) <= 12 || dg.Payload[0]>>6 != 2 {
			continue
		}
		var c codec.Codec
		switch dg.Payload[1] & 0x7f {
		case 0:
			c = codec.PCMU
		case 8:
			c = codec.PCMA
		default:
			continue
		}
		key := dg.Src.String() + ">" + dg.Dst.String()
		i, ok := idx[key]
		if !ok {
			i = len(flows)
			idx[key] = i
			flows = append(flows, flowAudio{tab: g711DetectTables(c)})
		}
		pl := bytes.Clone(dg.Payload[12:])
		pcm := make([]int16, len(pl))
		c.Decode(pcm, pl)
		flows[i].raw = append(flows[i].raw, pl)
		flows[i].pcm = append(flows[i].pcm, pcm)
	}
}

// corpusFiles lists the corpus captures, generated and real.
func corpusFiles(tb testing.TB) []string {
	root := testcorpus.Dir(tb)
	var files []string
	for _, g := range []string{"generated/*/capture.pcap*", "real/*.pcap*", "real/sipp_dtmf_2833/*.pcap"} {
		m, _ := filepath.Glob(filepath.Join(root, g))
		files = append(files, m...)
	}
	return files
}

// runBoth feeds packets (from position 0, each after the previous unless
// gap says otherwise) to the detector and the reference detector and
// fails unless they report the same events. With a, the detector is also
// fed a's G.711 payloads (the same audio) through feedG711.
func runBoth(t *testing.T, name string, reverseTwist float64, packets [][]int16, a *flowAudio, gap func(i int) int64) int {
	t.Helper()
	det := &toneDetector{reverseTwist: reverseTwist}
	g711 := &toneDetector{reverseTwist: reverseTwist}
	ref := &refToneDetector{toneDetector{reverseTwist: reverseTwist}}
	var got, gotG711, want []toneEvent
	var pos int64
	for i, p := range packets {
		if gap != nil {
			pos += gap(i)
		}
		det.feed(pos, p, &got)
		if a != nil {
			g711.feedG711(pos, a.raw[i], a.tab, &gotG711)
		}
		ref.feed(pos, p, &want)
		pos += int64(len(p))
	}
	det.flush(&got, true)
	g711.flush(&gotG711, true)
	ref.flush(&want, true)
	if !slices.Equal(got, want) {
		t.Errorf("%s: events differ from the reference detector:\n got  %v\n want %v", name, got, want)
	}
	if a != nil && !slices.Equal(gotG711, want) {
		t.Errorf("%s: events from the G.711 payloads differ from the reference detector:\n got  %v\n want %v", name, gotG711, want)
	}
	n := 0
	for _, e := range want {
		if e.confirmed {
			n++
		}
	}
	return n
}

// blocksBoth compares dtmfBlock with the reference on every whole block
// of pcm, at both reverse twists.
func blocksBoth(t *testing.T, name string, pcm []int16) (hits int) {
	t.Helper()
	var x [toneBlock]float64
	for i := 0; i+toneBlock <= len(pcm); i += toneBlock {
		for k, v := range pcm[i : i+toneBlock] {
			x[k] = float64(v)
		}
		for _, rt := range []float64{toneReverseTwist, toneReverseTwistG729} {
			got, want := dtmfBlock(&x, rt), refDTMFBlock(&x, rt)
			if got != want {
				t.Errorf("%s: block at %d (reverse twist %.2f): %q, reference %q", name, i, rt, got, want)
			}
			if want != 0 {
				hits++
			}
		}
	}
	return hits
}

// TestInBandMatchesReference: the detector finds exactly what the
// straightforward implementation (inband_ref_test.go) finds, block for
// block and event for event (digits, starts, ends), on the audio of every
// G.711 flow of the corpus fed packet by packet, and on synthetic digits
// at the edges of the limits: levels around the minimum power, twists
// around both limits, durations around the two blocks a digit needs,
// over speech-like noise and with gaps. The masking follows these events
// alone, so it is the same too.
func TestInBandMatchesReference(t *testing.T) {
	var digits, flows int
	for _, f := range corpusFiles(t) {
		for i, fl := range corpusAudio(t, f) {
			name := filepath.Base(f)
			flows++
			digits += runBoth(t, name, 0, fl.pcm, &fl, nil)
			runBoth(t, name+" (G.729 twist)", toneReverseTwistG729, fl.pcm, &fl, nil)
			var all []int16
			for _, p := range fl.pcm {
				all = append(all, p...)
			}
			blocksBoth(t, name, all)
			if testing.Short() || i > 1 {
				continue
			}
			// The same audio with a gap now and then (lost packets).
			runBoth(t, name+" (gaps)", 0, fl.pcm, &fl, func(i int) int64 {
				if i%37 == 36 {
					return 160
				}
				return 0
			})
		}
	}
	t.Logf("corpus: %d flows, %d in-band digits", flows, digits)
	if flows < 20 {
		t.Errorf("only %d G.711 flows in the corpus", flows)
	}

	rng := rand.New(rand.NewPCG(16, 17))
	var hits, synth int
	for _, d := range []byte("0123456789*#ABCD") {
		for level := -37.0; level <= 0; level += 1.5 {
			for _, twist := range []float64{-9, -8.5, -8, -7.5, -4, 0, 3, 3.5, 4, 4.5, 5, 6.5, 7, 8} {
				for _, ms := range []int{20, 26, 30, 40, 60} {
					var pcm []int16
					pcm = appendNoise(pcm, 40, -45, rng)
					pcm = appendTone(t, pcm, d, ms, level, twist, rng)
					pcm = appendNoise(pcm, 40, -45, rng)
					// Through a µ-law or A-law channel, or linear.
					var a *flowAudio
					var enc []byte
					through := func(tab *g711Tables, c codec.Codec, code func(int16) uint8) {
						a = &flowAudio{tab: tab}
						enc = make([]byte, len(pcm))
						for i, v := range pcm {
							enc[i] = code(v)
						}
						c.Decode(pcm, enc)
					}
					switch rng.IntN(3) {
					case 0:
						through(ulawDetect, codec.PCMU, g711.EncodeUlawFrame)
					case 1:
						through(alawDetect, codec.PCMA, g711.EncodeAlawFrame)
					}
					var packets [][]int16
					step := []int{160, 80, 240, 1}[rng.IntN(4)]
					for i := 0; i < len(pcm); i += step {
						packets = append(packets, pcm[i:min(i+step, len(pcm))])
						if a != nil {
							a.raw = append(a.raw, enc[i:min(i+step, len(pcm))])
						}
					}
					synth++
					hits += runBoth(t, "synthetic", 0, packets, a, nil)
					hits += runBoth(t, "synthetic (G.729 twist)", toneReverseTwistG729, packets, a, nil)
					blocksBoth(t, "synthetic", pcm)
				}
			}
		}
	}
	t.Logf("synthetic: %d signals, %d digits confirmed", synth, hits)
	if hits < synth/2 {
		t.Errorf("only %d digits in %d synthetic signals: the set does not reach the detector", hits, synth)
	}
}

// appendNoise appends ms milliseconds of noise at level dBm0: a random
// walk (most energy at low frequencies, as speech) with white noise.
func appendNoise(dst []int16, ms int, level float64, rng *rand.Rand) []int16 {
	a := dbm0Amp(level)
	var w float64
	for range ms * 8 {
		w = 0.95*w + rng.NormFloat64()*a*0.3
		v := w + rng.NormFloat64()*a*0.2
		dst = append(dst, int16(max(-32768, min(32767, math.Round(v)))))
	}
	return dst
}

// TestToneGateBound: the energy gate's bound is at or above the power
// goertzel finds at every frequency of its group, on tones (pure,
// clipped, off-frequency), noise, square waves and full-scale extremes,
// and it refuses blocks of low-frequency audio (it is not vacuous).
func TestToneGateBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var x [toneBlock]float64
	refused := 0
	check := func(name string) {
		b := sumsOf(&x)
		uc := b.groupBound(gateColDiff, gateColSum)
		ur := b.groupBound(gateRowDiff, gateRowSum)
		for i := range 4 {
			if p := goertzel(&x, dtmfColCoef[i]); p > uc*(1+1e-12) {
				t.Fatalf("%s: column %v Hz: power %g over the bound %g", name, dtmfColFreqs[i], p, uc)
			}
			if p := goertzel(&x, dtmfRowCoef[i]); p > ur*(1+1e-12) {
				t.Fatalf("%s: row %v Hz: power %g over the bound %g", name, dtmfRowFreqs[i], p, ur)
			}
		}
		total := float64(b.sq) / toneBlock
		if b.gateRefuses(total, toneReverseTwist) {
			refused++
			if refDTMFBlock(&x, toneReverseTwist) != 0 {
				t.Fatalf("%s: the gate refuses a block holding a digit", name)
			}
		}
	}
	clip := func(v float64) float64 { return max(-32768, min(32767, math.Round(v))) }
	for range 4000 {
		f := 100 + rng.Float64()*3800
		a, ph := rng.Float64()*40000, rng.Float64()*2*math.Pi
		for i := range x {
			x[i] = clip(a * math.Sin(2*math.Pi*f*float64(i)/8000+ph))
		}
		check("sine")
		for i := range x {
			x[i] = clip(rng.NormFloat64() * rng.Float64() * 20000)
		}
		check("white noise")
		var w float64
		for i := range x {
			w = 0.97*w + rng.NormFloat64()*3000
			x[i] = clip(w)
		}
		check("low-pass noise")
		per := 2 + rng.IntN(20)
		for i := range x {
			x[i] = 32767
			if i/per%2 == 1 {
				x[i] = -32768
			}
		}
		check("square")
	}
	for _, d := range []byte("147*2580369#ABCD") {
		for _, level := range []float64{-30, -20, -10, 0, 3} {
			pcm := appendTone(t, nil, d, 14, level, rng.Float64()*16-8, rng)
			for i := range x {
				x[i] = float64(pcm[i])
			}
			check("digit")
		}
	}
	if refused < 1000 {
		t.Errorf("the gate refused only %d blocks", refused)
	}
}

// BenchmarkToneDetector runs the in-band detector over both directions of
// the 10-minute PCMU capture of the corpus (as decoded PCM, packet by
// packet), next to the reference implementation.
func BenchmarkToneDetector(b *testing.B) {
	root := testcorpus.Dir(b)
	flows := corpusAudio(b, filepath.Join(root, "generated", "pcmu_long", "capture.pcap"))
	var n int64
	for _, fl := range flows {
		for _, p := range fl.raw {
			n += int64(len(p))
		}
	}
	var evs []toneEvent
	// run feeds every packet k of every flow to a fresh detector by feed.
	run := func(b *testing.B, feed func(fl *flowAudio, k int, pos int64)) {
		b.SetBytes(n)
		c0 := cpuTime()
		defer func() { b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1e3/float64(b.N), "cpu-ms/op") }()
		for b.Loop() {
			for i := range flows {
				var pos int64
				for k, p := range flows[i].raw {
					evs = evs[:0]
					feed(&flows[i], k, pos)
					pos += int64(len(p))
				}
			}
		}
	}
	var det toneDetector
	var ref refToneDetector
	b.Run("detector", func(b *testing.B) {
		run(b, func(fl *flowAudio, k int, pos int64) {
			if k == 0 {
				det = toneDetector{}
			}
			det.feedG711(pos, fl.raw[k], fl.tab, &evs)
		})
	})
	b.Run("reference", func(b *testing.B) {
		run(b, func(fl *flowAudio, k int, pos int64) {
			if k == 0 {
				ref = refToneDetector{}
			}
			ref.feed(pos, fl.pcm[k], &evs)
		})
	})
}
