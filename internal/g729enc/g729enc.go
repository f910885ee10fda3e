// Package g729enc is a G.729 encoder for tests: it turns 8 kHz audio into
// frames that codec's G.729 decoder (and any other) decodes, so that tests
// can send G.729 streams holding audio they chose (DTMF tones, speech).
// No encoder of G.729 is available here otherwise (ffmpeg only decodes).
//
// It is a plain analysis-by-synthesis CELP encoder over the parameters of
// ITU-T G.729 (bit allocation of Table 8), using the decoder's own building
// blocks (internal/g729core) so that its model of the decoder's state
// stays the decoder's state:
//
//   - LP analysis of each 10 ms frame over the recommendation's 30 ms
//     asymmetric window (half a Hamming window over 200 samples, a quarter
//     cosine over the 5 ms of look-ahead), lag window and white noise
//     correction, Levinson-Durbin; the LSFs are the zeros of the
//     sum and difference polynomials, found on a grid and by bisection;
//   - the LSFs are quantised with both MA predictor modes against the
//     two-stage codebooks (a few first-stage candidates, then the lower
//     and upper second stages), keeping the mode and indices with the
//     least squared error;
//   - per subframe, the target is the input (halved: the decoder's
//     post-processing doubles its synthesis) minus the zero-input response
//     of the quantised synthesis filter; the pitch delay is searched in
//     closed loop (whole delays first, then the thirds around the best);
//     the four pulses of the algebraic codebook greedily, track by track
//     with two passes of refinement, with the pitch sharpening folded into
//     the impulse response; the gains over the whole conjugate codebook.
//
// There is no perceptual weighting, no pre-processing high-pass and no
// Annex B VAD: every frame is a speech frame. The encoder is good enough
// for tones and intelligible speech, not for listening quality.
package g729enc

import (
	"math"

	"github.com/callvault/callvault/internal/g729core"
)

const (
	order    = g729core.Order
	sub      = g729core.Subframe
	frameLen = 2 * sub
	hist     = g729core.Hist
	window   = 240 // LP analysis window: 120 past samples, the frame, 40 ahead
	ahead    = 40
)

// Encoder encodes G.729 frames. Frames must be encoded in order; the zero
// value is not ready, use New.
type Encoder struct {
	in     [window]float64 // the analysis window's (halved) input
	prevL  [4][order]float64
	lsp    [order]float64
	lsfOld [order]float64 // last unquantised LSFs, for a failed root search
	exc    [hist + frameLen]float64
	mem    [order]float64 // synthesis filter memory, newest last
	sharp  float64
	pastEn [4]float64
	win    [window]float64
	lag    [order + 1]float64
}

// New returns an encoder in the state of a decoder that was just reset.
func New() *Encoder {
	e := new(Encoder)
	s := g729core.Reset()
	e.prevL, e.lsp, e.pastEn, e.sharp = s.PrevL, s.LSP, s.PastEn, s.Sharp
	e.lsfOld = e.prevL[0]
	for i := range window - ahead {
		e.win[i] = 0.54 - 0.46*math.Cos(2*math.Pi*float64(i)/float64(2*(window-ahead)-1))
	}
	for i := range ahead {
		e.win[window-ahead+i] = math.Cos(2 * math.Pi * float64(i) / float64(4*ahead-1))
	}
	for k := range e.lag {
		f := 2 * math.Pi * 60 * float64(k) / 8000 // 60 Hz lag window
		e.lag[k] = math.Exp(-0.5 * f * f)
	}
	e.lag[0] = 1.0001 // white noise correction
	return e
}

// Encode encodes pcm (8 kHz) into 10-byte frames, one per 80 samples; a
// last partial frame is padded with silence. The encoder looks 5 ms ahead
// of each frame, into the next call's pcm: the first frames of a call
// see silence there.
func (e *Encoder) Encode(pcm []int16) []byte {
	var out []byte
	for len(pcm) > 0 {
		var x [frameLen + ahead]float64
		for i := range min(frameLen+ahead, len(pcm)) {
			x[i] = float64(pcm[i]) / 2
		}
		pcm = pcm[min(frameLen, len(pcm)):]
		out = append(out, e.frame(&x)...)
	}
	return out
}

// frame encodes one frame of input already halved (the decoder's scale),
// followed by the look-ahead.
func (e *Encoder) frame(x *[frameLen + ahead]float64) []byte {
	copy(e.in[:], e.in[frameLen:window-ahead])
	copy(e.in[window-frameLen-ahead:], x[:])

	var p g729core.Params
	a := e.filters(e.quantiseLSF(&p, e.analyse()))

	t1 := 0
	for sf := range 2 {
		t1 = e.subframe(&p, sf, &a[sf], x[sf*sub:(sf+1)*sub], t1)
	}
	copy(e.exc[:hist], e.exc[frameLen:])
	return p.Pack()
}

// filters returns the LP filters of the two subframes of a frame whose
// quantised LSP is lspNew (the first interpolated with the previous
// frame's), as the decoder computes them, and keeps lspNew.
func (e *Encoder) filters(lspNew [order]float64) (a [2][order + 1]float64) {
	var q [order]float64
	for i := range q {
		q[i] = 0.5 * (e.lsp[i] + lspNew[i])
	}
	g729core.LSPToLP(&a[0], &q)
	g729core.LSPToLP(&a[1], &lspNew)
	e.lsp = lspNew
	return a
}

// analyse returns the LSFs of the window's LP filter.
func (e *Encoder) analyse() [order]float64 {
	var r [order + 1]float64
	var w [window]float64
	for i := range w {
		w[i] = e.in[i] * e.win[i]
	}
	for k := range r {
		for i := k; i < window; i++ {
			r[k] += w[i] * w[i-k]
		}
		r[k] *= e.lag[k]
	}
	if r[0] < 1 {
		return e.lsfOld // silence: keep the filter
	}
	// Levinson-Durbin.
	var a, tmp [order + 1]float64
	a[0] = 1
	err := r[0]
	for i := 1; i <= order; i++ {
		acc := r[i]
		for j := 1; j < i; j++ {
			acc += a[j] * r[i-j]
		}
		k := -acc / err
		tmp = a
		for j := 1; j < i; j++ {
			a[j] = tmp[j] + k*tmp[i-j]
		}
		a[i] = k
		err *= 1 - k*k
		if err <= 0 {
			return e.lsfOld
		}
	}
	lsf, ok := lpToLSF(&a)
	if !ok {
		return e.lsfOld
	}
	e.lsfOld = lsf
	return lsf
}

// lpToLSF finds the LSFs of a: the zeros in (0, π) of the sum polynomial
// (even indices) and the difference polynomial (odd indices), evaluated
// on the unit circle as real cosine and sine series.
func lpToLSF(a *[order + 1]float64) ([order]float64, bool) {
	var ext [order + 2]float64 // a, and a[11] = 0
	copy(ext[:], a[:])
	var f1, f2 [6]float64
	for k := range 6 {
		f1[k] = ext[k] + ext[order+1-k]
		f2[k] = ext[k] - ext[order+1-k]
	}
	g := func(f *[6]float64, odd bool, w float64) float64 {
		s := 0.0
		for k, c := range f {
			if odd {
				s += c * math.Sin((5.5-float64(k))*w)
			} else {
				s += c * math.Cos((5.5-float64(k))*w)
			}
		}
		return s
	}
	onGrid := func(f *[6]float64, odd bool, i int) float64 {
		t := &lsfGrid.cos[i]
		if odd {
			t = &lsfGrid.sin[i]
		}
		s := 0.0
		for k, c := range f {
			s += c * t[k]
		}
		return s
	}
	var roots [2][]float64
	for n, f := range []*[6]float64{&f1, &f2} {
		odd := n == 1
		glo := onGrid(f, odd, 0)
		for i := 1; i <= lsfGridN; i++ {
			ghi := onGrid(f, odd, i)
			if glo*ghi < 0 {
				l, h, gl := lsfGrid.w[i-1], lsfGrid.w[i], glo
				for range 24 {
					m := (l + h) / 2
					if gm := g(f, odd, m); gm*gl < 0 {
						h = m
					} else {
						l, gl = m, gm
					}
				}
				roots[n] = append(roots[n], (l+h)/2)
			}
			glo = ghi
		}
	}
	var w [order]float64
	if len(roots[0]) != 5 || len(roots[1]) != 5 {
		return w, false
	}
	for i := range 5 {
		w[2*i], w[2*i+1] = roots[0][i], roots[1][i]
	}
	for i := 1; i < order; i++ {
		if w[i] <= w[i-1] {
			return w, false
		}
	}
	return w, true
}

// lsfGrid holds the terms of the sum and difference series at the points
// the LSF search starts from, in (0, π).
const lsfGridN = 512

var lsfGrid = func() (g struct {
	w        [lsfGridN + 1]float64
	cos, sin [lsfGridN + 1][6]float64
}) {
	for i := range g.w {
		w := math.Pi * float64(i) / lsfGridN
		w = min(max(w, 1e-6), math.Pi-1e-6)
		g.w[i] = w
		for k := range 6 {
			g.cos[i][k] = math.Cos((5.5 - float64(k)) * w)
			g.sin[i][k] = math.Sin((5.5 - float64(k)) * w)
		}
	}
	return g
}()

// quantiseLSF chooses L0..L3 for the LSFs w, updates the MA memory as the
// decoder will, and returns the quantised LSP (cosines).
func (e *Encoder) quantiseLSF(p *g729core.Params, w [order]float64) [order]float64 {
	g729core.Stabilise(&w)
	bestErr := math.Inf(1)
	var bestL [order]float64
	var bestW [order]float64
	for mode := range 2 {
		// The codebook vector that would give w exactly.
		var zero [order]float64
		pred := g729core.PredictLSF(&zero, mode, &e.prevL) // the prediction alone
		one := [order]float64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}
		scale := g729core.PredictLSF(&one, mode, &e.prevL)
		var lt [order]float64
		for i := range lt {
			sum := scale[i] - pred[i] // the weight of the codebook vector
			lt[i] = (w[i] - pred[i]) / sum
		}
		for _, l1 := range nearest1(&lt, 6) {
			l2 := nearest2(&lt, l1, 0)
			l3 := nearest2(&lt, l1, 5)
			var l [order]float64
			g729core.CodebookLSF(&l, l1, l2, l3)
			q := g729core.PredictLSF(&l, mode, &e.prevL)
			g729core.Stabilise(&q)
			d := 0.0
			for i := range q {
				d += (q[i] - w[i]) * (q[i] - w[i])
			}
			if d < bestErr {
				bestErr, bestL, bestW = d, l, q
				p.L0, p.L1, p.L2, p.L3 = mode, l1, l2, l3
			}
		}
	}
	copy(e.prevL[1:], e.prevL[:3])
	e.prevL[0] = bestL
	var lsp [order]float64
	for i, v := range bestW {
		lsp[i] = math.Cos(v)
	}
	return lsp
}

// nearest1 returns the n first-stage codebook rows nearest lt.
func nearest1(lt *[order]float64, n int) []int {
	type cand struct {
		i int
		d float64
	}
	var best []cand
	for i, row := range g729core.LSPCB1 {
		d := 0.0
		for k, v := range row {
			diff := lt[k] - float64(v)/8192
			d += diff * diff
		}
		best = append(best, cand{i, d})
		for j := len(best) - 1; j > 0 && best[j].d < best[j-1].d; j-- {
			best[j], best[j-1] = best[j-1], best[j]
		}
		if len(best) > n {
			best = best[:n]
		}
	}
	out := make([]int, len(best))
	for i, c := range best {
		out[i] = c.i
	}
	return out
}

// nearest2 returns the second-stage row nearest what first-stage row l1
// leaves of lt, over the half of the vector starting at from.
func nearest2(lt *[order]float64, l1, from int) int {
	best, bestD := 0, math.Inf(1)
	for i, row := range g729core.LSPCB2 {
		d := 0.0
		for k := from; k < from+5; k++ {
			diff := lt[k] - float64(g729core.LSPCB1[l1][k]+row[k])/8192
			d += diff * diff
		}
		if d < bestD {
			best, bestD = i, d
		}
	}
	return best
}

// subframe encodes subframe sf (input x, filter a) and returns its
// integer pitch delay; t1 is the first subframe's.
func (e *Encoder) subframe(p *g729core.Params, sf int, a *[order + 1]float64, x []float64, t1 int) int {
	// Impulse response and zero-input response of 1/A(z).
	var h, zir, t [sub]float64
	mem := e.mem
	for n := range sub {
		s := 0.0
		if n == 0 {
			s = 1
		}
		for i := 1; i <= order && i <= n; i++ {
			s -= a[i] * h[n-i]
		}
		h[n] = s
	}
	{
		var buf [order + sub]float64
		copy(buf[:], mem[:])
		for n := range sub {
			s := 0.0
			for i := 1; i <= order; i++ {
				s -= a[i] * buf[order+n-i]
			}
			buf[order+n] = s
			zir[n] = s
		}
	}
	for n := range t {
		t[n] = x[n] - zir[n]
	}

	// Adaptive codebook: closed-loop search.
	base := hist + sf*sub
	var y [sub]float64
	score := func(t0, frac int) (float64, float64) {
		g729core.Adaptive(e.exc[:], base, t0, frac)
		conv(&y, e.exc[base:base+sub], &h)
		ty, yy := dot(&t, &y), dot(&y, &y)
		if ty <= 0 || yy == 0 {
			return 0, yy
		}
		return ty * ty / yy, yy
	}
	bestIdx, bestScore := 0, -1.0
	try := func(idx, t0, frac int) {
		if s, _ := score(t0, frac); s > bestScore {
			bestIdx, bestScore = idx, s
		}
	}
	var t0 int
	if sf == 0 {
		// Whole delays first, screened by their correlation with the
		// backward-filtered target (the filtered vector's energy taken
		// as the vector's); then every index near the eight best.
		var back [sub]float64
		for n := range back {
			for k := n; k < sub; k++ {
				back[n] += t[k] * h[k-n]
			}
		}
		var top [3]struct {
			t0 int
			s  float64
		}
		// Past 49 the whole-delay vectors read only the excitation before
		// the subframe: they are windows of one interpolated signal.
		var u [g729core.PitchMax + sub]float64 // u[k] is at base-PitchMax+k
		for k := range g729core.PitchMax - 49 + sub {
			m := base - g729core.PitchMax + k
			acc := 0.0
			for i, j := 0, 0; i < 10; i, j = i+1, j+3 {
				acc += e.exc[m-i]*float64(g729core.Interp3[j]) + e.exc[m+1+i]*float64(g729core.Interp3[3+j])
			}
			u[k] = acc / 32768
		}
		for p1 := range 256 {
			d, f := g729core.PitchAbs(p1)
			if f != 0 {
				continue
			}
			var v *[sub]float64
			if d > 49 {
				v = (*[sub]float64)(u[g729core.PitchMax-d : g729core.PitchMax-d+sub])
			} else {
				g729core.Adaptive(e.exc[:], base, d, 0)
				v = (*[sub]float64)(e.exc[base : base+sub])
			}
			c, vv := dot(&back, v), dot(v, v)
			if c <= 0 || vv == 0 {
				continue
			}
			s := c * c / vv
			for i := range top {
				if s > top[i].s {
					copy(top[i+1:], top[i:len(top)-1])
					top[i].t0, top[i].s = d, s
					break
				}
			}
		}
		for p1 := range 256 {
			d, f := g729core.PitchAbs(p1)
			for _, c := range top {
				if c.s > 0 && d >= c.t0-1 && d <= c.t0+1 {
					try(p1, d, f)
					break
				}
			}
		}
		if bestScore < 0 {
			bestIdx = 3*(60-19) - 2 // 60, no pitch found: any delay
		}
		p.P1 = bestIdx
		p.SetParity()
	} else {
		for p2 := range 32 {
			d, f := g729core.PitchRel(p2, t1)
			try(p2, d, f)
		}
		p.P2 = bestIdx
	}
	var frac int
	if sf == 0 {
		t0, frac = g729core.PitchAbs(p.P1)
	} else {
		t0, frac = g729core.PitchRel(p.P2, t1)
	}
	g729core.Adaptive(e.exc[:], base, t0, frac)
	var v [sub]float64
	copy(v[:], e.exc[base:base+sub])
	conv(&y, v[:], &h)
	gpOpt := 0.0
	if yy := dot(&y, &y); yy > 0 {
		gpOpt = min(max(dot(&t, &y)/yy, 0), 1.2)
	}

	// Algebraic codebook: the target left by the pitch contribution.
	var t2, h2 [sub]float64
	for n := range t2 {
		t2[n] = t[n] - gpOpt*y[n]
	}
	h2 = h
	if t0 < sub {
		for n := t0; n < sub; n++ {
			h2[n] += e.sharp * h2[n-t0]
		}
	}
	ci, si := searchPulses(&t2, &h2)
	p.C[sf], p.S[sf] = ci, si
	var code [sub]float64
	g729core.ACELP(&code, ci, si)
	if t0 < sub {
		for i := t0; i < sub; i++ {
			code[i] += code[i-t0] * e.sharp
		}
	}
	var z [sub]float64
	conv(&z, code[:], &h)
	energy := dot(&code, &code)

	// Gains: the whole conjugate codebook.
	tt, ty, tz := dot(&t, &t), dot(&t, &y), dot(&t, &z)
	yy, yz, zz := dot(&y, &y), dot(&y, &z), dot(&z, &z)
	bestErr := math.Inf(1)
	var gp, gc, gamma float64
	for ga := range 8 {
		for gb := range 16 {
			p0, g0 := g729core.Gains(ga, gb)
			c0 := g729core.FixedGain(g0, energy, &e.pastEn)
			err := tt - 2*p0*ty - 2*c0*tz + p0*p0*yy + 2*p0*c0*yz + c0*c0*zz
			if err < bestErr {
				bestErr, gp, gc, gamma = err, p0, c0, g0
				p.GA[sf], p.GB[sf] = ga, gb
			}
		}
	}

	e.advance(a, base, v[:], &code, gp, gc, gamma)
	return t0
}

// advance moves the model of the decoder's state past a subframe at base
// of filter a: adaptive vector v and code vector code (sharpened) with
// gains gp, gc and correction factor gamma.
func (e *Encoder) advance(a *[order + 1]float64, base int, v []float64, code *[sub]float64, gp, gc, gamma float64) {
	for i := range code {
		e.exc[base+i] = gp*v[i] + gc*code[i]
	}
	var buf [order + sub]float64
	copy(buf[:], e.mem[:])
	for n := range sub {
		s := e.exc[base+n]
		for i := 1; i <= order; i++ {
			s -= a[i] * buf[order+n-i]
		}
		buf[order+n] = min(max(s, -32768), 32767)
	}
	copy(e.mem[:], buf[sub:])
	copy(e.pastEn[1:], e.pastEn[:3])
	e.pastEn[0] = 20 * math.Log10(max(gamma, 1e-4))
	e.sharp = min(max(gp, g729core.SharpMin), g729core.SharpMax)
}

// Absorb takes a frame that the decoder is given before what this encoder
// encodes next (silence frames, say): the encoder's model of the decoder
// moves past it as the decoder does, and its input is taken as silence.
// frame must be a speech frame (10 bytes) whose parity bit is right.
func (e *Encoder) Absorb(frame []byte) {
	var p g729core.Params
	p.Unpack(frame)
	var l [order]float64
	g729core.CodebookLSF(&l, p.L1, p.L2, p.L3)
	w := g729core.PredictLSF(&l, p.L0, &e.prevL)
	g729core.Stabilise(&w)
	copy(e.prevL[1:], e.prevL[:3])
	e.prevL[0] = l
	var lspNew [order]float64
	for i, v := range w {
		lspNew[i] = math.Cos(v)
	}
	a := e.filters(lspNew)
	t1 := 0
	for sf := range 2 {
		t0, frac := g729core.PitchAbs(p.P1)
		if sf == 1 {
			t0, frac = g729core.PitchRel(p.P2, t1)
		}
		t1 = t0
		base := hist + sf*sub
		g729core.Adaptive(e.exc[:], base, t0, frac)
		var v [sub]float64
		copy(v[:], e.exc[base:base+sub])
		var code [sub]float64
		g729core.ACELP(&code, p.C[sf], p.S[sf])
		if t0 < sub {
			for i := t0; i < sub; i++ {
				code[i] += code[i-t0] * e.sharp
			}
		}
		gp, gamma := g729core.Gains(p.GA[sf], p.GB[sf])
		gc := g729core.FixedGain(gamma, dot(&code, &code), &e.pastEn)
		e.advance(&a[sf], base, v[:], &code, gp, gc, gamma)
	}
	copy(e.exc[:hist], e.exc[frameLen:])
	copy(e.in[:], e.in[frameLen:window-ahead])
	clear(e.in[window-frameLen-ahead:])
}

// searchPulses chooses the four pulses of the algebraic codebook for
// target t through impulse response h: signs from the backward-filtered
// target, positions greedily track by track, then refined twice.
func searchPulses(t, h *[sub]float64) (ci, si int) {
	var d [sub]float64
	for n := range d {
		for k := n; k < sub; k++ {
			d[n] += t[k] * h[k-n]
		}
	}
	// phi[i][i+d] is the sum over m from d to 39-i of h[m] h[m-d]: running
	// sums along each diagonal.
	var phi [sub][sub]float64
	for d := range sub {
		s := 0.0
		for m := d; m < sub; m++ {
			s += h[m] * h[m-d]
			i := sub - 1 - m
			phi[i][i+d], phi[i+d][i] = s, s
		}
	}
	sign := func(m int) float64 {
		if d[m] < 0 {
			return -1
		}
		return 1
	}
	tracks := [4][]int{}
	for m := range sub {
		switch tr := m % 5; tr {
		case 4:
			tracks[3] = append(tracks[3], m)
		default:
			tracks[tr] = append(tracks[tr], m)
		}
	}
	pos := [4]int{-1, -1, -1, -1}
	for range 3 { // one greedy pass, two of refinement
		for tr := range 4 {
			best, bestScore := tracks[tr][0], math.Inf(-1)
			for _, m := range tracks[tr] {
				c, en := math.Abs(d[m]), phi[m][m]
				for o, q := range pos {
					if o == tr || q < 0 {
						continue
					}
					c += sign(q) * d[q]
					en += 2 * sign(m) * sign(q) * phi[m][q]
				}
				for o, q := range pos {
					for o2, q2 := range pos {
						if o == tr || o2 == tr || q < 0 || q2 < 0 {
							continue
						}
						en += sign(q) * sign(q2) * phi[q][q2]
					}
				}
				if en > 0 && c*c/en > bestScore {
					best, bestScore = m, c*c/en
				}
			}
			pos[tr] = best
		}
	}
	ci = pos[0]/5 | (pos[1]/5)<<3 | (pos[2]/5)<<6 | (pos[3]%5-3)<<9 | (pos[3]/5)<<10
	for j, q := range pos {
		if sign(q) > 0 {
			si |= 1 << j
		}
	}
	return ci, si
}

// conv sets y to the first sub samples of x filtered by h.
func conv(y *[sub]float64, x []float64, h *[sub]float64) {
	for n := range y {
		s := 0.0
		for k := 0; k <= n; k++ {
			s += x[k] * h[n-k]
		}
		y[n] = s
	}
}

func dot(a, b *[sub]float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
