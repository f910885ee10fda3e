package recorder

import "cmp"

// The in-band DTMF detector as it was before its energy gate and its
// integer block sums: the straightforward implementation the faster one
// must agree with, block for block and event for event
// (TestInBandMatchesReference). Do not optimise this file.

// goertzel returns the power of x at the frequency of coef as the mean
// square of a sine of that frequency: A²/2 for a tone of amplitude A.
func refGoertzel(x *[toneBlock]float64, coef float64) float64 {
	var s1, s2 float64
	for _, v := range x {
		s1, s2 = v+coef*s1-s2, s1
	}
	p := s1*s1 + s2*s2 - coef*s1*s2
	return 2 * p / (toneBlock * toneBlock)
}

// goertzel4 is goertzel at four frequencies in one pass over x.
func refGoertzel4(x *[toneBlock]float64, coef *[4]float64) [4]float64 {
	c0, c1, c2, c3 := coef[0], coef[1], coef[2], coef[3]
	var a1, a2, b1, b2, d1, d2, e1, e2 float64
	for _, v := range x {
		a1, a2 = v+c0*a1-a2, a1
		b1, b2 = v+c1*b1-b2, b1
		d1, d2 = v+c2*d1-d2, d1
		e1, e2 = v+c3*e1-e2, e1
	}
	const k = 2.0 / (toneBlock * toneBlock)
	return [4]float64{
		k * (a1*a1 + a2*a2 - c0*a1*a2),
		k * (b1*b1 + b2*b2 - c1*b1*b2),
		k * (d1*d1 + d2*d2 - c2*d1*d2),
		k * (e1*e1 + e2*e2 - c3*e1*e2),
	}
}

// groupPeak returns the strongest frequency of a group and its power, and
// whether it is a tone: at least toneMinPower and toneRelativePeak above
// each other frequency of the group.
func refGroupPeak(p [4]float64) (int, float64, bool) {
	best := 0
	for i := range p {
		if p[i] > p[best] {
			best = i
		}
	}
	if p[best] < toneMinPower {
		return best, p[best], false
	}
	for i := range p {
		if i != best && p[i]*toneRelativePeak > p[best] {
			return best, p[best], false
		}
	}
	return best, p[best], true
}

// dtmfBlock returns the digit one block holds, or 0; reverseTwist is the
// most the column tone may be above the row tone (a power ratio).
func refDTMFBlock(x *[toneBlock]float64, reverseTwist float64) byte {
	var total float64
	for _, v := range x {
		total += v * v
	}
	total /= toneBlock
	if total < 2*toneMinPower*toneTotalShare {
		return 0 // too quiet to hold two tones
	}
	// The column group first: speech has less energy there, so most
	// blocks are refused before the rows are computed.
	c, pc, ok := refGroupPeak(refGoertzel4(x, &dtmfColCoef))
	if !ok {
		return 0
	}
	r, pr, ok := refGroupPeak(refGoertzel4(x, &dtmfRowCoef))
	if !ok || pr > pc*toneNormalTwist || pc > pr*reverseTwist || pr+pc < total*toneTotalShare {
		return 0
	}
	if refGoertzel(x, dtmfRowHarm[r]) > pr*toneRowHarmonic || refGoertzel(x, dtmfColHarm[c]) > pc*toneColHarmonic {
		return 0
	}
	return dtmfKeys[r][c]
}

// refToneDetector is the detector as it was: its state machine
// (blockDone, miss, end, flush) is the detector's own, unchanged; what
// differs is how a block is filled and judged (feed, refDTMFBlock).
type refToneDetector struct {
	toneDetector
}

// feed takes samples starting at timeline position pos and appends to out
// each tone confirmed, extended or ended. A jump in position restarts the
// block (a gap is not a tone).
func (t *refToneDetector) feed(pos int64, samples []int16, out *[]toneEvent) {
	if t.n > 0 && pos != t.next {
		t.n = 0
		t.miss(out) // the gap breaks a run of hits
	}
	for i, v := range samples {
		if t.n == 0 {
			t.blockPos = pos + int64(i)
		}
		t.block[t.n] = float64(v)
		t.n++
		if t.n == toneBlock {
			t.n = 0
			t.blockDone(refDTMFBlock(&t.block, cmp.Or(t.reverseTwist, toneReverseTwist)), out)
		}
	}
	t.next = pos + int64(len(samples))
}
