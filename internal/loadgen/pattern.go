package loadgen

import (
	"math"

	"github.com/zaf/g711"
)

// Pattern returns 2 s of speech-like G.711 per direction, generated once:
// a harmonic voice with a syllable envelope, the two parties taking turns,
// over faint noise. codec is pcmu or pcma.
func Pattern(codec string) [2][]byte {
	enc := g711.EncodeUlawFrame
	if codec == "pcma" {
		enc = g711.EncodeAlawFrame
	}
	return pattern(enc)
}

func pattern(enc func(int16) uint8) [2][]byte {
	var out [2][]byte
	for d := range 2 {
		f0 := [2]float64{125, 210}[d]
		tbl := make([]byte, patternFrames*samples)
		noise := uint32(d + 1)
		for i := range tbl {
			t := float64(i) / 8000
			var v float64
			if (t < 1) == (d == 0) {
				env := math.Pow(math.Sin(4*math.Pi*t), 2)
				for h := 1; h <= 8; h++ {
					v += math.Sin(2*math.Pi*f0*float64(h)*t) / float64(h)
				}
				v *= 6000 * env
			}
			noise = noise*1664525 + 1013904223
			v += float64(int32(noise>>16)%64 - 32)
			tbl[i] = enc(int16(v))
		}
		out[d] = tbl
	}
	return out
}
