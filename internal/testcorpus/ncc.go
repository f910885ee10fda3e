package testcorpus

import "math"

// NCC is the normalized cross-correlation of two signals over their common
// length: 1 for the same waveform at any gain, 0 when either is silent.
// Tests use it to compare decoded audio with the corpus's reference WAVs.
func NCC(a, b []int16) float64 {
	var ab, aa, bb float64
	for i := range min(len(a), len(b)) {
		x, y := float64(a[i]), float64(b[i])
		ab += x * y
		aa += x * x
		bb += y * y
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}
