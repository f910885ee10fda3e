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

// Align finds the lag in [0, maxLag] at which got[lag:] matches want best
// (by NCC) and returns it with the NCC and the SNR in dB there (want as
// the signal, got-want as the noise): how decoded audio compares with the
// audio that was encoded, through a codec's delay.
func Align(want, got []int16, maxLag int) (lag int, ncc, snr float64) {
	ncc = -2
	for l := 0; l <= maxLag && l < len(got); l++ {
		if v := NCC(want, got[l:]); v > ncc {
			lag, ncc = l, v
		}
	}
	var sig, noise float64
	for i := range min(len(want), len(got)-lag) {
		a, b := float64(want[i]), float64(got[i+lag])
		sig += a * a
		noise += (a - b) * (a - b)
	}
	return lag, ncc, 10 * math.Log10(sig/noise)
}
