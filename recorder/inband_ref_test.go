package recorder

import "cmp"

// The in-band DTMF detector as it was before its energy gate, its integer
// block sums and its G.711 tables: the straightforward implementation the
// faster one must agree with, block for block and event for event
// (TestInBandMatchesReference). Do not optimise this file. It shares the
// Goertzel filters and their checks (dtmfFilters) and the state machine
// with the detector, which the faster detector left as they were; a change
// to those needs a reference of its own here first.

// refDTMFBlock is dtmfBlock as it was: the energy summed in float64, then
// the filters.
func refDTMFBlock(x *[toneBlock]float64, reverseTwist float64) byte {
	var total float64
	for _, v := range x {
		total += v * v
	}
	total /= toneBlock
	if total < 2*toneMinPower*toneTotalShare {
		return 0 // too quiet to hold two tones
	}
	return dtmfFilters(x, total, reverseTwist)
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
