// Package g729core holds the parts of ITU-T G.729 (CS-ACELP) that the
// decoder in codec and an encoder share: the numeric tables of the
// recommendation (tab.go) and the building blocks that turn transmitted
// parameters into LSFs, LP filters, pitch delays and excitation vectors.
// Where each comes from in the recommendation is said at each function;
// codec/g729.go describes the decoder as a whole.
package g729core

import "math"

// Dimensions of the recommendation.
const (
	Order    = 10  // LP order
	Subframe = 40  // samples per subframe
	PitchMax = 143 // longest pitch delay
	// Hist is the excitation history a decoder keeps before the current
	// frame: PIT_MAX + L_INTERPOL.
	Hist = PitchMax + 11
)

// Limits of the LSF quantiser (section 3.2.4), in radians: the Q13 values
// of the recommendation divided by 8192.
const (
	Gap1   = 10.0 / 8192
	Gap2   = 5.0 / 8192
	Gap3   = 321.0 / 8192
	LSFMin = 40.0 / 8192
	LSFMax = 25681.0 / 8192
)

// Bounds of the pitch sharpening of the fixed codebook (section 3.8): the
// previous subframe's pitch gain, limited to these.
const (
	SharpMin = 3277.0 / 16384
	SharpMax = 13017.0 / 16384
)

// Initial holds the quantiser and predictor memories of a decoder (and of
// an encoder's model of one) in the initial state (section 4.3): the LSF
// codebook vectors of the past frames, the LSP of the last, the past
// energy corrections (dB) and the pitch sharpening.
type Initial struct {
	PrevL  [4][Order]float64
	LSP    [Order]float64
	PastEn [4]float64
	Sharp  float64
}

// Reset returns the initial state.
func Reset() (s Initial) {
	for k := range s.PrevL {
		for i := range s.PrevL[k] {
			s.PrevL[k][i] = float64(i+1) * math.Pi / 11
		}
	}
	init := [Order]float64{30000, 26000, 21000, 15000, 8000, 0, -8000, -15000, -21000, -26000}
	for i, v := range init {
		s.LSP[i] = v / 32768
	}
	for i := range s.PastEn {
		s.PastEn[i] = -14
	}
	s.Sharp = SharpMin
	return s
}

// CodebookLSF sets l to the quantised LSF vector of indices l1, l2, l3
// before MA prediction: L1 plus L2 (lower half) or L3 (upper half),
// rearranged with the minimum gaps Gap1 and Gap2 (section 3.2.4).
func CodebookLSF(l *[Order]float64, l1, l2, l3 int) {
	for i := range l {
		v := LSPCB1[l1][i]
		if i < 5 {
			v += LSPCB2[l2][i]
		} else {
			v += LSPCB2[l3][i]
		}
		l[i] = float64(v) / 8192
	}
	Rearrange(l, Gap1)
	Rearrange(l, Gap2)
}

// PredictLSF returns the LSFs that codebook vector l gives with MA
// predictor mode over the codebook vectors of the four previous frames
// prev (newest first), before the stability check.
func PredictLSF(l *[Order]float64, mode int, prev *[4][Order]float64) [Order]float64 {
	var w [Order]float64
	for i := range l {
		s, sum := 0.0, 1.0
		for k := range prev {
			f := float64(MA[mode][k][i]) / 32768
			s += f * prev[k][i]
			sum -= f
		}
		w[i] = sum*l[i] + s
	}
	return w
}

// Rearrange pulls apart neighbouring LSFs closer than gap.
func Rearrange(l *[Order]float64, gap float64) {
	for j := 1; j < Order; j++ {
		if t := (l[j-1] - l[j] + gap) / 2; t > 0 {
			l[j-1] -= t
			l[j] += t
		}
	}
}

// Stabilise orders the LSFs and keeps them apart and within (0, π).
func Stabilise(w *[Order]float64) {
	for j := 0; j < Order-1; j++ {
		if w[j+1] < w[j] {
			w[j], w[j+1] = w[j+1], w[j]
		}
	}
	w[0] = max(w[0], LSFMin)
	for i := 0; i < Order-1; i++ {
		if w[i+1]-w[i] < Gap3 {
			w[i+1] = w[i] + Gap3
		}
	}
	w[Order-1] = min(w[Order-1], LSFMax)
}

// LSPToLP converts the LSP q (cosines) into a[0..10], a[0] = 1 (section
// 3.2.6).
func LSPToLP(a *[Order + 1]float64, q *[Order]float64) {
	var f1, f2 [6]float64
	lspPoly(&f1, q, 0)
	lspPoly(&f2, q, 1)
	for i := 5; i > 0; i-- {
		f1[i] += f1[i-1]
		f2[i] -= f2[i-1]
	}
	a[0] = 1
	for i := 1; i <= 5; i++ {
		a[i] = 0.5 * (f1[i] + f2[i])
		a[Order+1-i] = 0.5 * (f1[i] - f2[i])
	}
}

// lspPoly computes the first half of F1 (odd = 0) or F2 (odd = 1): the
// product over i of 1 - 2 q[2i+odd] z^-1 + z^-2, a symmetric polynomial.
func lspPoly(f *[6]float64, q *[Order]float64, odd int) {
	f[0] = 1
	f[1] = -2 * q[odd]
	for i := 2; i <= 5; i++ {
		b := -2 * q[2*i-2+odd]
		f[i] = 2*f[i-2] + b*f[i-1]
		for j := i - 1; j > 1; j-- {
			f[j] += b*f[j-1] + f[j-2]
		}
		f[1] += b
	}
}

// PitchAbs decodes P1 into the integer delay and the fraction in thirds
// (section 4.1.3).
func PitchAbs(p1 int) (t0, frac int) {
	if p1 < 197 {
		t0 = (p1+2)/3 + 19
		return t0, p1 - 3*t0 + 58
	}
	return p1 - 112, 0
}

// PitchRel decodes P2 relative to the first subframe's integer delay t1.
func PitchRel(p2, t1 int) (t0, frac int) {
	lo := max(t1-5, 20)
	if lo+9 > PitchMax {
		lo = PitchMax - 9
	}
	i := (p2+2)/3 - 1
	return lo + i, p2 - 2 - 3*i
}

// Adaptive writes the adaptive-codebook vector of the subframe at base
// into e[base:base+Subframe], interpolating the excitation before it at
// delay t0 - frac/3 with the filter b30 (sections 3.7.1 and 4.1.3). For
// delays under a subframe the vector repeats what it has just written.
func Adaptive(e []float64, base, t0, frac int) {
	x0 := base - t0
	frac = -frac
	if frac < 0 {
		frac += 3
		x0--
	}
	for j := 0; j < Subframe; j++ {
		s := 0.0
		for i, k := 0, 0; i < 10; i, k = i+1, k+3 {
			s += e[x0-i]*float64(Interp3[frac+k]) + e[x0+1+i]*float64(Interp3[3-frac+k])
		}
		e[base+j] = s / 32768
		x0++
	}
}

// ACELP builds the algebraic codevector of index ci and signs si (section
// 4.1.4): four signed unit pulses, pulse 0 at 5*i0, 1 at 5*i1+1, 2 at
// 5*i2+2 and 3 at 5*i3+3+j.
func ACELP(code *[Subframe]float64, ci, si int) {
	var pos [4]int
	pos[0] = ci & 7 * 5
	pos[1] = ci>>3&7*5 + 1
	pos[2] = ci>>6&7*5 + 2
	pos[3] = ci>>10&7*5 + 3 + ci>>9&1
	for j, q := range pos {
		if si>>j&1 != 0 {
			code[q] = 1
		} else {
			code[q] = -1
		}
	}
}

// FixedGain returns the fixed-codebook gain for correction factor gamma
// and a code vector of energy energy (sum of squares), predicted from the
// past quantised energy corrections past (dB, newest first; section
// 3.9.1: MA coefficients 0.68, 0.58, 0.34, 0.19, mean energy 30 dB).
func FixedGain(gamma, energy float64, past *[4]float64) float64 {
	pred := 30.0
	for i, e := range past {
		pred += predMA[i] * e
	}
	if energy > 0 {
		pred -= 10 * math.Log10(energy/Subframe)
	}
	return gamma * math.Pow(10, pred/20)
}

var predMA = [4]float64{0.68, 0.58, 0.34, 0.19}

// Gains returns the pitch gain and the fixed gain correction factor of
// the transmitted gain indices ga (GA) and gb (GB) (section 4.1.5).
func Gains(ga, gb int) (gp, gamma float64) {
	i1, i2 := GainMap1[ga], GainMap2[gb]
	gp = float64(GainCB1[i1][0]+GainCB2[i2][0]) / 16384
	gamma = float64(int(GainCB1[i1][1])+int(GainCB2[i2][1])) / 8192
	return gp, gamma
}
