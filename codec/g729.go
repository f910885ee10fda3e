package codec

// G.729 decoder, written from ITU-T Recommendation G.729 (CS-ACELP at
// 8 kbit/s) with Annex A (reduced complexity; its decoder differs only in
// the post-filter) and Annex B (silence compression, SID frames). It is a
// floating-point rendering of the decoder the recommendation describes:
//
//   - section 3.2.4 and 4.1.1: LSF dequantisation, two-stage codebooks L1
//     and L2/L3, rearrangement with the minimum gaps 0.0012 and 0.0006, the
//     switched MA prediction (L0) over the four previous frames, and the
//     stability check (ordering, 0.005, minimum distance 0.0392, 3.135);
//   - section 3.2.5 and 3.2.6: interpolation of the LSP (cosine domain) for
//     the first subframe and conversion to LP coefficients through the
//     polynomials F1 and F2;
//   - section 3.7 and 4.1.3: the adaptive codebook, pitch delay with 1/3
//     resolution (P1 absolute, P2 relative to the first subframe), the
//     parity bit P0 over the six most significant bits of P1, and the
//     interpolation of the past excitation with the filter b30;
//   - section 3.8 and 4.1.4: the algebraic codebook of four signed pulses
//     (C, S) and the pitch sharpening for delays under 40;
//   - section 3.9 and 4.1.5: the gains, the pitch gain and the correction
//     factor from the conjugate codebooks GA and GB, the fixed gain
//     predicted from the energy of the past corrections (MA coefficients
//     0.68, 0.58, 0.34, 0.19, mean energy 30 dB);
//   - section 4.1.6: the synthesis filter 1/A(z);
//   - Annex A, section 4.2: the post-filter, long-term with an integer delay
//     around the decoded one (gain factor 0.5), short-term A(z/0.55)/A(z/0.7),
//     tilt compensation (0.8) and adaptive gain control (0.9); section 4.2.5:
//     the 100 Hz high-pass and the up-scaling by 2;
//   - section 4.4: concealment of erased frames (repeated LSF, attenuated
//     gains, pitch delay incremented, random fixed codebook).
//
// Annex B SID frames (2 bytes) are decoded as silence, not comfort noise:
// the recording keeps what was sent, and the SID's noise level is not
// speech. Frames the sender did not send (VAD gaps) are silence too; the
// renderer places each payload by its RTP timestamp.
//
// The numeric tables and the building blocks an encoder shares (LSF
// dequantisation, LSP to LP, pitch delays, adaptive and algebraic
// codebooks, gains) are in internal/g729core.

import (
	"math"

	"github.com/callvault/callvault/internal/g729core"
)

// G729FrameSize is the length of one G.729 speech frame in bytes, and
// G729FrameSamples the samples it decodes to (10 ms at 8 kHz).
const (
	G729FrameSize    = 10
	G729FrameSamples = 80
	// G729SIDSize is the length of an Annex B SID frame, which ends a
	// payload of speech frames or makes up one by itself.
	G729SIDSize = 2
)

const (
	g729Order    = g729core.Order
	g729Subframe = g729core.Subframe
	g729PitchMax = g729core.PitchMax
	g729Hist     = g729core.Hist // excitation history: PIT_MAX + L_INTERPOL
)

const (
	g729SharpMin = g729core.SharpMin
	g729SharpMax = g729core.SharpMax
)

// G729Decoder decodes G.729, G.729A and G.729B frames. Its state carries
// from frame to frame, so frames must be given in order. The zero value is
// not ready: use NewG729Decoder. A G729Decoder is not safe for concurrent
// use.
type G729Decoder struct {
	prevL  [4][g729Order]float64 // codebook LSF vectors of the past frames (MA memory)
	mode   int                   // L0 of the last good frame
	lsf    [g729Order]float64    // last decoded LSFs
	lsp    [g729Order]float64    // their cosines
	exc    [g729Hist + G729FrameSamples]float64
	syn    [g729Order + G729FrameSamples]float64 // synthesis, 10 samples of history first
	sharp  float64
	oldT0  int
	gp, gc float64
	pastEn [4]float64 // past quantised energy corrections, dB
	seed   int16

	// post-filter
	res     [g729PitchMax + g729Subframe]float64 // residual, history first
	pstMem  [g729Order]float64
	preMem  float64
	agcGain float64

	// post-processing high-pass
	x1, x2, y1, y2 float64
}

// NewG729Decoder returns a decoder in its initial state.
func NewG729Decoder() *G729Decoder {
	d := new(G729Decoder)
	d.Reset()
	return d
}

// Reset returns d to its initial state (section 4.3 of the recommendation
// names the initial values).
func (d *G729Decoder) Reset() {
	*d = G729Decoder{}
	s := g729core.Reset()
	d.prevL, d.lsp, d.pastEn, d.sharp = s.PrevL, s.LSP, s.PastEn, s.Sharp
	d.lsf = d.prevL[0]
	d.oldT0 = 60
	d.seed = 21845
	d.agcGain = 1
}

// G729Samples returns how many 8 kHz samples a G.729 payload of n bytes
// decodes to: 80 per speech frame, and 80 for a trailing SID frame. Bytes
// that make up neither count for nothing.
func G729Samples(n int) int {
	s := n / G729FrameSize * G729FrameSamples
	if n%G729FrameSize == G729SIDSize {
		s += G729FrameSamples
	}
	return s
}

// Decode decodes one RTP payload (speech frames, optionally ending with a
// SID frame) into dst and returns the number of samples written, which is
// G729Samples(len(payload)) bounded by len(dst) rounded down to whole
// frames. Bytes left over that are not a SID frame are ignored.
func (d *G729Decoder) Decode(dst []int16, payload []byte) int {
	n := 0
	for len(payload) >= G729FrameSize && len(dst)-n >= G729FrameSamples {
		d.Frame(dst[n:n+G729FrameSamples], payload[:G729FrameSize])
		payload = payload[G729FrameSize:]
		n += G729FrameSamples
	}
	if len(payload) == G729SIDSize && len(dst)-n >= G729FrameSamples {
		d.Frame(dst[n:n+G729FrameSamples], payload)
		n += G729FrameSamples
	}
	return n
}

// Frame decodes one frame into dst, which must hold G729FrameSamples
// samples. A 10-byte frame is speech; any other length (the 2-byte SID of
// Annex B, or an empty frame meaning "not transmitted") gives silence and
// clears the decoder's signal memories, keeping its quantiser predictors.
func (d *G729Decoder) Frame(dst []int16, frame []byte) {
	_ = dst[G729FrameSamples-1]
	if len(frame) != G729FrameSize {
		d.silence(dst)
		return
	}
	var p g729Params
	p.Unpack(frame)
	d.decode(dst, &p, false)
}

// Erased conceals one lost frame into dst (section 4.4): the decoder goes
// on from its last good parameters, with the gains attenuated.
func (d *G729Decoder) Erased(dst []int16) {
	_ = dst[G729FrameSamples-1]
	var p g729Params
	d.decode(dst, &p, true)
}

func (d *G729Decoder) silence(dst []int16) {
	clear(dst[:G729FrameSamples])
	clear(d.exc[:])
	clear(d.syn[:])
	clear(d.res[:])
	clear(d.pstMem[:])
	d.preMem = 0
	d.sharp = g729SharpMin
	d.x1, d.x2, d.y1, d.y2 = 0, 0, 0, 0
}

// g729Params are the transmitted parameters of one frame.
type g729Params = g729core.Params

func (d *G729Decoder) random() int {
	d.seed = d.seed*31821 + 13849
	return int(d.seed)
}

func (d *G729Decoder) decode(dst []int16, p *g729Params, erased bool) {
	// LSP of this frame and LP filters of the two subframes.
	var lspNew, q [g729Order]float64
	d.decodeLSF(p, erased)
	for i, w := range d.lsf {
		lspNew[i] = math.Cos(w)
	}
	var a [2][g729Order + 1]float64
	for i := range q {
		q[i] = 0.5 * (d.lsp[i] + lspNew[i])
	}
	g729core.LSPToLP(&a[0], &q)
	g729core.LSPToLP(&a[1], &lspNew)
	d.lsp = lspNew

	copy(d.syn[:g729Order], d.syn[G729FrameSamples:])
	var t0s [2]int
	t0, frac := 0, 0
	for sf := 0; sf < 2; sf++ {
		// Pitch delay.
		switch {
		case sf == 0 && !erased && p.ParityOK():
			t0, frac = g729core.PitchAbs(p.P1)
			d.oldT0 = t0
		case sf == 1 && !erased:
			t0, frac = g729core.PitchRel(p.P2, t0)
			d.oldT0 = t0
		default:
			t0, frac = d.oldT0, 0
			d.oldT0 = min(d.oldT0+1, g729PitchMax)
		}
		t0s[sf] = t0
		base := g729Hist + sf*g729Subframe
		d.adaptive(base, t0, frac)

		// Fixed codebook, with the pitch sharpening.
		ci, si := p.C[sf], p.S[sf]
		if erased {
			ci, si = d.random()&0x1fff, d.random()&0xf
		}
		var code [g729Subframe]float64
		g729core.ACELP(&code, ci, si)
		if t0 < g729Subframe {
			for i := t0; i < g729Subframe; i++ {
				code[i] += code[i-t0] * d.sharp
			}
		}

		d.gains(p.GA[sf], p.GB[sf], &code, erased)
		d.sharp = min(max(d.gp, g729SharpMin), g729SharpMax)

		for i := range code {
			d.exc[base+i] = d.gp*d.exc[base+i] + d.gc*code[i]
		}
		start := g729Order + sf*g729Subframe
		if !synthesise(&a[sf], d.exc[base:base+g729Subframe], d.syn[:], start) {
			// Overflow: scale the excitation down and synthesise again,
			// as the recommendation's decoder does.
			for i := range d.exc[:base+g729Subframe] {
				d.exc[i] *= 0.25
			}
			synthesise(&a[sf], d.exc[base:base+g729Subframe], d.syn[:], start)
		}
	}
	copy(d.exc[:g729Hist], d.exc[G729FrameSamples:])

	var pst [G729FrameSamples]float64
	for sf := 0; sf < 2; sf++ {
		d.postFilter(pst[sf*g729Subframe:(sf+1)*g729Subframe], sf, &a[sf], t0s[sf])
	}
	d.postProcess(dst, &pst)
	if !d.finite() {
		// Garbage in can drive the filters out of range: start the signal
		// memories afresh rather than carry NaN or infinity on.
		d.silence(make([]int16, G729FrameSamples))
		d.gp, d.gc, d.agcGain = 0, 0, 1
		for i := range d.pastEn {
			d.pastEn[i] = -14
		}
	}
}

// finite reports whether the decoder's memories hold only finite values.
func (d *G729Decoder) finite() bool {
	s := d.gp + d.gc + d.agcGain + d.preMem + d.y1 + d.y2
	for _, v := range d.pstMem {
		s += v
	}
	for _, v := range d.exc[g729Hist-g729Subframe:] {
		s += v
	}
	for _, v := range d.pastEn {
		s += v
	}
	return !math.IsNaN(s) && !math.IsInf(s, 0)
}

// decodeLSF updates d.lsf with the LSFs of this frame.
func (d *G729Decoder) decodeLSF(p *g729Params, erased bool) {
	var l [g729Order]float64
	if erased {
		// Keep the last LSFs and feed the MA memory the codebook vector
		// that would have produced them.
		m := d.mode
		for i := range l {
			s, sum := d.lsf[i], 1.0
			for k := range d.prevL {
				f := float64(g729core.MA[m][k][i]) / 32768
				s -= f * d.prevL[k][i]
				sum -= f
			}
			l[i] = s / sum
		}
	} else {
		d.mode = p.L0
		g729core.CodebookLSF(&l, p.L1, p.L2, p.L3)
		d.lsf = g729core.PredictLSF(&l, p.L0, &d.prevL)
		g729core.Stabilise(&d.lsf)
	}
	copy(d.prevL[1:], d.prevL[:3])
	d.prevL[0] = l
}

// adaptive writes the adaptive-codebook vector for the subframe at base
// into d.exc, interpolating the past excitation at delay t0 - frac/3.
func (d *G729Decoder) adaptive(base, t0, frac int) {
	g729core.Adaptive(d.exc[:], base, t0, frac)
}

// gains sets d.gp and d.gc for the subframe and updates the energy
// predictor.
func (d *G729Decoder) gains(ga, gb int, code *[g729Subframe]float64, erased bool) {
	if erased {
		d.gp = min(0.9*d.gp, 0.9)
		d.gc *= 0.98
		av := 0.0
		for _, e := range d.pastEn {
			av += e
		}
		av = max(av/4-4, -14)
		copy(d.pastEn[1:], d.pastEn[:3])
		d.pastEn[0] = av
		return
	}
	var gamma float64
	d.gp, gamma = g729core.Gains(ga, gb)
	energy := 0.0
	for _, c := range code {
		energy += c * c
	}
	d.gc = g729core.FixedGain(gamma, energy, &d.pastEn)
	copy(d.pastEn[1:], d.pastEn[:3])
	d.pastEn[0] = 20 * math.Log10(max(gamma, 1e-4))
}

// synthesise runs the excitation through 1/A(z) into buf[start:], whose
// 10 preceding elements are the filter memory. It reports false when the
// result leaves the 16-bit range.
func synthesise(a *[g729Order + 1]float64, exc, buf []float64, start int) bool {
	ok := true
	for n, x := range exc {
		s := x
		for i := 1; i <= g729Order; i++ {
			s -= a[i] * buf[start+n-i]
		}
		if !(s > -32768 && s < 32768) { // also catches NaN
			ok = false
			if s != s {
				s = 0
			}
			s = min(max(s, -32768), 32767)
		}
		buf[start+n] = s
	}
	return ok
}

// postFilter runs the Annex A post-filter over subframe sf of d.syn into
// out: long-term filter at the integer delay near t0 that best predicts
// the residual, short-term filter A(z/0.55)/A(z/0.7) with tilt
// compensation, and adaptive gain control.
func (d *G729Decoder) postFilter(out []float64, sf int, a *[g729Order + 1]float64, t0 int) {
	var ap3, ap4 [g729Order + 1]float64
	g3, g4 := 1.0, 1.0
	for i := range a {
		ap3[i], ap4[i] = a[i]*g3, a[i]*g4
		g3 *= 0.55
		g4 *= 0.7
	}
	start := g729Order + sf*g729Subframe
	syn := d.syn[start : start+g729Subframe]

	// Residual of the synthesis through A(z/0.55).
	res := d.res[g729PitchMax:]
	for n := range g729Subframe {
		s := d.syn[start+n]
		for i := 1; i <= g729Order; i++ {
			s += ap3[i] * d.syn[start+n-i]
		}
		res[n] = s
	}

	// Long-term post-filter.
	hi := t0 + 3
	if hi > g729PitchMax {
		hi = g729PitchMax
	}
	lo := hi - 6
	best, cmax := lo, math.Inf(-1)
	for t := lo; t <= hi; t++ {
		c := 0.0
		for n := range g729Subframe {
			c += res[n] * d.res[g729PitchMax+n-t]
		}
		if c > cmax {
			best, cmax = t, c
		}
	}
	cmax = max(cmax, 0)
	en, en0 := 0.0, 0.0
	for n := range g729Subframe {
		x := d.res[g729PitchMax+n-best]
		en += x * x
		en0 += res[n] * res[n]
	}
	g0, g := 1.0, 0.0
	switch {
	case cmax == 0 || cmax*cmax < 0.5*en*en0:
	case cmax > en:
		g0, g = 2.0/3, 1.0/3
	default:
		c := 0.5 * cmax
		g = c / (c + en)
		g0 = 1 - g
	}
	for n := range g729Subframe {
		out[n] = g0*res[n] + g*d.res[g729PitchMax+n-best]
	}

	// Tilt compensation from the impulse response of A(z/0.55)/A(z/0.7).
	var h [22]float64
	copy(h[:], ap3[:])
	for n := range h {
		for i := 1; i <= g729Order && i <= n; i++ {
			h[n] -= ap4[i] * h[n-i]
		}
	}
	rh0, rh1 := 0.0, 0.0
	for i := range h {
		rh0 += h[i] * h[i]
		if i+1 < len(h) {
			rh1 += h[i] * h[i+1]
		}
	}
	mu := 0.0
	if rh0 > 0 && rh1 > 0 {
		mu = 0.8 * rh1 / rh0
	}
	prev := d.preMem
	for n := range g729Subframe {
		x := out[n]
		out[n] = x - mu*prev
		prev = x
	}
	d.preMem = prev

	// Short-term synthesis through 1/A(z/0.7).
	var buf [g729Order + g729Subframe]float64
	copy(buf[:], d.pstMem[:])
	for n := range g729Subframe {
		s := out[n]
		for i := 1; i <= g729Order; i++ {
			s -= ap4[i] * buf[g729Order+n-i]
		}
		buf[g729Order+n] = s
	}
	copy(d.pstMem[:], buf[g729Subframe:])
	copy(out, buf[g729Order:])

	// Adaptive gain control.
	gout, gin := 0.0, 0.0
	for n := range g729Subframe {
		gout += out[n] * out[n]
		gin += syn[n] * syn[n]
	}
	if gout == 0 || !(gout < math.Inf(1)) {
		d.agcGain = 0
		clear(out)
	} else {
		g1 := 0.0
		if gin > 0 {
			g1 = 0.1 * math.Sqrt(gin/gout)
		}
		for n := range out {
			d.agcGain = 0.9*d.agcGain + g1
			out[n] *= d.agcGain
		}
	}
	copy(d.res[:], d.res[g729Subframe:])
}

// postProcess high-passes the post-filtered frame at 100 Hz, scales it by
// 2 and rounds it into dst (section 4.2.5).
func (d *G729Decoder) postProcess(dst []int16, pst *[G729FrameSamples]float64) {
	const (
		b0, b1, b2 = 0.93980581, -1.8795834, 0.93980581
		a1, a2     = 1.9330735, -0.93589199
	)
	for n, x := range pst {
		y := b0*x + b1*d.x1 + b2*d.x2 + a1*d.y1 + a2*d.y2
		d.x2, d.x1 = d.x1, x
		d.y2, d.y1 = d.y1, y
		dst[n] = g729Sample(2 * y)
	}
	if !(math.Abs(d.y1) < 1e9 && math.Abs(d.y2) < 1e9) {
		d.x1, d.x2, d.y1, d.y2 = 0, 0, 0, 0
	}
}

// g729Sample rounds v to the nearest int16, saturating; NaN gives 0.
func g729Sample(v float64) int16 {
	switch {
	case v >= math.MaxInt16:
		return math.MaxInt16
	case v <= math.MinInt16:
		return math.MinInt16
	case v != v:
		return 0
	}
	return int16(math.Round(v))
}
