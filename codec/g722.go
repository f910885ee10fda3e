package codec

// G.722 decoder, 64 kbit/s mode (mode 1), written from ITU-T
// Recommendation G.722, "7 kHz audio-coding within 64 kbit/s": its
// decoder description and the block-by-block computational details that
// the recommendation gives for it, whose block names the code keeps:
//
//   - lower sub-band decoder: INVQAL, INVQBL, LOGSCL, SCALEL, RECONS,
//     LIMIT;
//   - higher sub-band decoder: INVQAH, LOGSCH, SCALEH;
//   - the adaptive predictor shared by both bands: PARREC, RECONS, UPPOL1,
//     UPPOL2, UPZERO, DELAYA, FILTEP, FILTEZ, PREDIC;
//   - the receive QMF with its 24 coefficients h0..h23.
//
// The tables (the 6-, 4- and 2-bit inverse quantisers QQ6, QQ4 and QQ2,
// the scale-factor multipliers WL and WH with their code mappings, and the
// inverse log2 table ILB) are the recommendation's. The result is checked
// sample for sample against an independent decoder (ffmpeg's) in the
// tests.
//
// Each octet carries one pair of sub-band codes: the two most significant
// bits are the higher-band code IH, the six least significant bits the
// lower-band code ILR; RTP carries the octets as the recommendation forms
// them (RFC 3551). One octet decodes to two 16 kHz output samples. As RFC
// 3551 says, the RTP clock of G.722 runs at 8 kHz, so one octet is one
// tick of the timeline.

// g722QQ6 is the inverse quantiser of the 6-bit lower-band code, indexed by
// the code, in units of 2^-15 of the scale factor.
var g722QQ6 = [64]int32{
	-136, -136, -136, -136, -24808, -21904, -19008, -16704,
	-14984, -13512, -12280, -11192, -10232, -9360, -8576, -7856,
	-7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576,
	-3168, -2776, -2400, -2032, -1688, -1360, -1040, -728,
	24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192,
	10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456,
	4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032,
	1688, 1360, 1040, 728, 432, 136, -432, -136,
}

// g722QQ4 is the inverse quantiser of the 4-bit code (the 6-bit code
// without its two least significant bits) that feeds the predictor and the
// scale-factor adaptation.
var g722QQ4 = [16]int32{
	0, -20456, -12896, -8968, -6288, -4240, -2584, -1200,
	20456, 12896, 8968, 6288, 4240, 2584, 1200, 0,
}

// g722RIL4 maps the 4-bit code to the magnitude index of WL.
var g722RIL4 = [16]uint8{0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0}

// g722WL is the lower band's logarithmic scale-factor multiplier.
var g722WL = [8]int32{-60, -30, 58, 172, 334, 538, 1198, 3042}

// g722QQ2 is the higher band's 2-bit inverse quantiser.
var g722QQ2 = [4]int32{-7408, -1616, 7408, 1616}

// g722RIH2 maps the 2-bit code to the index of WH.
var g722RIH2 = [4]uint8{2, 1, 2, 1}

// g722WH is the higher band's logarithmic scale-factor multiplier.
var g722WH = [3]int32{0, -214, 798}

// g722ILB is the inverse log2 table of SCALEL and SCALEH.
var g722ILB = [32]int32{
	2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383,
	2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
	2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371,
	3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
}

// g722H are the QMF coefficients h0..h23.
var g722H = [24]int32{
	3, -11, -11, 53, 12, -156, 32, 362, -210, -805, 951, 3876,
	3876, 951, -805, -210, 362, 32, -156, 12, 53, -11, -11, 3,
}

// sat16 limits x to the 16-bit two's complement range (the saturation of
// the recommendation's arithmetic).
func sat16(x int32) int32 {
	return min(max(x, -32768), 32767)
}

// g722Band is the state of one sub-band ADPCM decoder: the scale factor
// and the pole/zero predictor, named as in the recommendation.
type g722Band struct {
	nb  int32    // NBL / NBH: logarithmic scale factor
	det int32    // DETL / DETH: scale factor
	s   int32    // SL / SH: predicted signal
	sz  int32    // SZL / SZH: zero-section prediction
	a   [3]int32 // AL1, AL2 (index 1, 2): pole coefficients
	b   [7]int32 // BL1..BL6: zero coefficients
	d   [7]int32 // DLT0..DLT6: quantised difference signal and its delays
	p   [3]int32 // PLT0..PLT2: partially reconstructed signal
	r   [3]int32 // RLT0..RLT2: reconstructed signal
}

// sign is the sign bit of a 16-bit value: 0 for zero and above, -1 below.
func sign(x int32) int32 { return x >> 31 }

// adapt runs the adaptive predictor of one band for the quantised
// difference d (DLT or DH): PARREC, RECONS, UPPOL2, UPPOL1, UPZERO, DELAYA,
// FILTEP, FILTEZ and PREDIC.
func (s *g722Band) adapt(d int32) {
	// RECONS and PARREC
	s.d[0] = d
	s.r[0] = sat16(s.s + d)
	s.p[0] = sat16(s.sz + d)

	// UPPOL2
	sg0, sg1, sg2 := sign(s.p[0]), sign(s.p[1]), sign(s.p[2])
	wd1 := sat16(s.a[1] * 4)
	wd2 := wd1
	if sg0 == sg1 {
		wd2 = -wd1
	}
	wd2 = min(wd2, 32767)
	wd3 := int32(-128)
	if sg0 == sg2 {
		wd3 = 128
	}
	apl2 := wd2>>7 + wd3 + (s.a[2]*32512)>>15
	apl2 = min(max(apl2, -12288), 12288)

	// UPPOL1
	apl1 := int32(-192)
	if sg0 == sg1 {
		apl1 = 192
	}
	apl1 += (s.a[1] * 32640) >> 15
	lim := 15360 - apl2
	apl1 = min(max(apl1, -lim), lim)

	// UPZERO
	var step int32
	if d != 0 {
		step = 128
	}
	sgd := sign(d)
	var bpl [7]int32
	for i := 1; i <= 6; i++ {
		w := -step
		if sign(s.d[i]) == sgd {
			w = step
		}
		bpl[i] = sat16(w + (s.b[i]*32640)>>15)
	}

	// DELAYA
	for i := 6; i >= 1; i-- {
		s.d[i] = s.d[i-1]
		s.b[i] = bpl[i]
	}
	s.r[2], s.r[1] = s.r[1], s.r[0]
	s.p[2], s.p[1] = s.p[1], s.p[0]
	s.a[1], s.a[2] = apl1, apl2

	// FILTEP
	spl := sat16((s.a[1]*sat16(s.r[1]*2))>>15 + (s.a[2]*sat16(s.r[2]*2))>>15)

	// FILTEZ
	var sz int32
	for i := 6; i >= 1; i-- {
		sz += (s.b[i] * sat16(s.d[i]*2)) >> 15
	}
	s.sz = sat16(sz)

	// PREDIC
	s.s = sat16(spl + s.sz)
}

// scale turns the logarithmic scale factor into the linear one (SCALEL
// with shift 8, SCALEH with shift 10).
func (s *g722Band) scale(shift int32) {
	i := (s.nb >> 6) & 31
	n := shift - s.nb>>11
	var w int32
	if n < 0 {
		w = g722ILB[i] << -n
	} else {
		w = g722ILB[i] >> n
	}
	s.det = w << 2
}

// G722Decoder decodes a G.722 64 kbit/s stream. Its state carries from one
// Decode to the next, so the octets of one stream must be fed in order;
// the zero value is not ready for use, see NewG722Decoder and Reset.
type G722Decoder struct {
	lo, hi g722Band
	xs, xd [12]int32 // receive QMF delay lines, newest at index 0
}

// NewG722Decoder returns a decoder in the reset state of the recommendation.
func NewG722Decoder() *G722Decoder {
	d := new(G722Decoder)
	d.Reset()
	return d
}

// Reset puts the decoder into the reset state of the recommendation:
// every variable zero except the scale factors DETL = 32 and DETH = 8.
func (d *G722Decoder) Reset() {
	*d = G722Decoder{}
	d.lo.det = 32
	d.hi.det = 8
}

// Decode decodes octets from src into dst, two samples per octet, and
// returns the number of samples written: 2*min(len(src), len(dst)/2).
func (d *G722Decoder) Decode(dst []int16, src []byte) int {
	n := min(len(src), len(dst)/2)
	dst, src = dst[:2*n], src[:n]
	for i, c := range src {
		rl, rh := d.lo.decodeLower(int32(c&0x3f)), d.hi.decodeHigher(int32(c>>6))
		dst[2*i], dst[2*i+1] = d.qmf(rl, rh)
	}
	return 2 * n
}

// decodeLower decodes one 6-bit lower-band code and returns RL.
func (s *g722Band) decodeLower(ilr int32) int32 {
	// INVQBL: the 6-bit difference gives the output.
	dl := (s.det * g722QQ6[ilr]) >> 15
	rl := min(max(s.s+dl, -16384), 16383) // RECONS, LIMIT
	// INVQAL: the 4-bit difference drives the adaptation.
	il4 := ilr >> 2
	dlt := (s.det * g722QQ4[il4]) >> 15
	// LOGSCL, SCALEL
	s.nb = min(max((s.nb*127)>>7+g722WL[g722RIL4[il4]], 0), 18432)
	s.scale(8)
	s.adapt(dlt)
	return rl
}

// decodeHigher decodes one 2-bit higher-band code and returns RH.
func (s *g722Band) decodeHigher(ih int32) int32 {
	dh := (s.det * g722QQ2[ih]) >> 15 // INVQAH
	rh := min(max(s.s+dh, -16384), 16383)
	// LOGSCH, SCALEH
	s.nb = min(max((s.nb*127)>>7+g722WH[g722RIH2[ih]], 0), 22528)
	s.scale(10)
	s.adapt(dh)
	return rh
}

// qmf is the receive QMF: it takes one pair of sub-band samples and
// returns two output samples.
func (d *G722Decoder) qmf(rl, rh int32) (int16, int16) {
	copy(d.xd[1:], d.xd[:11])
	copy(d.xs[1:], d.xs[:11])
	d.xd[0], d.xs[0] = rl-rh, rl+rh
	var o1, o2 int32
	for i := range 12 {
		o1 += g722H[2*i] * d.xd[i]
		o2 += g722H[2*i+1] * d.xs[i]
	}
	return int16(sat16(o1 >> 11)), int16(sat16(o2 >> 11))
}
