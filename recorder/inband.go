package recorder

import (
	"cmp"
	"math"

	"github.com/callvault/callvault/codec"
)

// In-band DTMF: tones sent as audio rather than as RFC 4733 events. The
// detector follows the design of the mature software detectors (ITU-T
// Q.23/Q.24 limits as the Asterisk and spandsp detectors apply them):
//
//   - the audio is cut into blocks of toneBlock samples (13.1 ms at 8 kHz);
//     for each block the Goertzel algorithm gives the power at the eight
//     DTMF frequencies, evaluated at the exact frequencies rather than the
//     nearest DFT bin, and at the second harmonics of the strongest row
//     and column frequency;
//   - a block holds a digit when the strongest row and column tones are
//     each above toneMinPower (about -34 dBm0), the column tone is at most
//     4 dB above the row tone (reverse twist) and at most 8 dB below it
//     (normal twist), each is 8 dB above every other frequency of its
//     group, the two together carry at least toneTotalShare of the block's
//     power, and their second harmonics are weak (speech, whose voiced
//     sounds are harmonic series, fails here);
//   - before any of that, a block whose energy bounds the row or the column
//     power under what a digit needs is refused (gateRefuses: exact, the
//     bound holds for every signal);
//   - a digit starts after toneHitsToBegin consecutive blocks with the same
//     digit (26 ms: every tone of 40 ms or more has two whole blocks in it)
//     and ends after toneMissesToEnd blocks without it.
//
// A masked tone is widened by toneGuard samples (three blocks) on either
// side: the block in which the tone starts or ends does not pass the
// checks, and the guard covers it with room to spare.

const (
	toneBlock        = 105
	toneHitsToBegin  = 2
	toneMissesToEnd  = 2
	toneGuard        = 3 * toneBlock
	toneMinPower     = 1.0e5 // mean square of one tone, PCM16 units
	toneNormalTwist  = 6.31  // row over column: 8 dB
	toneReverseTwist = 2.51  // column over row: 4 dB
	toneRelativePeak = 6.31  // over the other frequencies of the group: 8 dB
	toneTotalShare   = 0.75  // of the block's power in the two tones
	// Second harmonic at most this share of its tone. The row's harmonic
	// (1394-1882 Hz) lies near the column frequencies, whose tone leaks into
	// it by up to -11 dB, so its limit is looser than the column's.
	toneRowHarmonic = 0.4
	toneColHarmonic = 0.1
	// toneHold is how much audio (samples) before the latest a stream must
	// keep at hand to mask a tone confirmed now: the guard, the blocks of
	// the confirmation and the block being filled.
	toneHold = toneGuard + (toneHitsToBegin+1)*toneBlock
)

var (
	dtmfRowFreqs = [4]float64{697, 770, 852, 941}
	dtmfColFreqs = [4]float64{1209, 1336, 1477, 1633}
	dtmfKeys     = [4][4]byte{
		{'1', '2', '3', 'A'},
		{'4', '5', '6', 'B'},
		{'7', '8', '9', 'C'},
		{'*', '0', '#', 'D'},
	}
	dtmfRowCoef, dtmfColCoef, dtmfRowHarm, dtmfColHarm [4]float64
)

func init() {
	coef := func(f float64) float64 { return 2 * math.Cos(2*math.Pi*f/8000) }
	for i := range 4 {
		dtmfRowCoef[i] = coef(dtmfRowFreqs[i])
		dtmfColCoef[i] = coef(dtmfColFreqs[i])
		dtmfRowHarm[i] = coef(2 * dtmfRowFreqs[i])
		dtmfColHarm[i] = coef(2 * dtmfColFreqs[i])
	}
}

// goertzel returns the power of x at the frequency of coef as the mean
// square of a sine of that frequency: A²/2 for a tone of amplitude A.
func goertzel(x *[toneBlock]float64, coef float64) float64 {
	var s1, s2 float64
	for _, v := range x {
		s1, s2 = v+coef*s1-s2, s1
	}
	p := s1*s1 + s2*s2 - coef*s1*s2
	return 2 * p / (toneBlock * toneBlock)
}

// goertzel4 is goertzel at four frequencies in one pass over x.
func goertzel4(x *[toneBlock]float64, coef *[4]float64) [4]float64 {
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
func groupPeak(p [4]float64) (int, float64, bool) {
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

// blockSums are sums over one block x[0..N-1] (N = toneBlock): sq = Σ
// x[n]², gathered as the samples arrive, and cross = Σ x[n]·x[n-1] with
// x[-1] = 0, taken (by crossSum) only for blocks loud enough to be judged;
// last = x[N-1]. They are exact integers (below 2^40); the block's mean
// square float64(sq)/N is the same float64 as the sum of the squares in
// float64 divided by N, since every partial sum is an integer below 2^53
// and so exact.
type blockSums struct {
	sq, cross, last int64
}

// add takes the next samples of the block into sq.
func (b *blockSums) add(v []int16) {
	sq := b.sq
	for _, s := range v {
		x := int64(s)
		sq += x * x
	}
	b.sq = sq
}

// crossSum returns Σ x[n]·x[n-1] of a block (x[-1] = 0). The products are
// integers of at most 2^30 and their sums below 2^53, so the float64 sums are
// exact in any order: four of them run side by side.
func crossSum(x *[toneBlock]float64) int64 {
	var a, b, c, d float64
	n := 1
	for ; n+4 <= toneBlock; n += 4 {
		a += x[n] * x[n-1]
		b += x[n+1] * x[n]
		c += x[n+2] * x[n+1]
		d += x[n+3] * x[n+2]
	}
	for ; n < toneBlock; n++ {
		a += x[n] * x[n-1]
	}
	return int64(a) + int64(b) + int64(c) + int64(d)
}

// sumsOf returns the blockSums of a block.
func sumsOf(x *[toneBlock]float64) blockSums {
	var sq float64
	for _, v := range x {
		sq += v * v
	}
	return blockSums{sq: int64(sq), cross: crossSum(x), last: int64(x[toneBlock-1])}
}

// The energy gate: an upper bound on the power goertzel can find in a
// block at any frequency of a group, from the block's sums alone. With
// X(ω) = Σ x[n]·e^{-jωn} (n = 0..N-1, N = toneBlock), goertzel gives
// 2|X(ω)|²/N². Cauchy–Schwarz bounds |X(ω)|² ≤ N·Σx[n]². Summing the
// first difference y[n] = x[n]-x[n-1] (x[-1] = 0) the same way gives
// Y(ω) = X(ω)(1-e^{-jω}) + x[N-1]e^{-jωN}, so
//
//	|X(ω)|·2sin(ω/2) ≤ √(N·diff) + |x[N-1]|,
//
// and the sum z[n] = x[n]+x[n-1] likewise gives Z(ω) = X(ω)(1+e^{-jω}) -
// x[N-1]e^{-jωN}, so |X(ω)|·2cos(ω/2) ≤ √(N·sum) + |x[N-1]|. Over a group
// the weakest factor counts: sin(ω/2) at its lowest frequency, cos(ω/2)
// at its highest. A block whose energy lies mostly below the row
// frequencies (or above the columns), as in much of speech, gets a bound
// under the power a tone needs (10–40 % of the blocks loud enough to be
// judged in the corpus's calls); a block holding DTMF never does, since
// the bound holds for every signal (TestToneGateBound checks it on tones,
// noise and square waves).
var (
	gateRowDiff = 2 * math.Sin(math.Pi*697/8000)
	gateRowSum  = 2 * math.Cos(math.Pi*941/8000)
	gateColDiff = 2 * math.Sin(math.Pi*1209/8000)
	gateColSum  = 2 * math.Cos(math.Pi*1633/8000)
)

// groupBound returns the most power goertzel can give at a frequency of
// the group whose factors are diff and sum, for a block with sums b.
// Σ(x[n]∓x[n-1])² = 2·sq - last² ∓ 2·cross (exact in int64).
func (b *blockSums) groupBound(diff, sum float64) float64 {
	const n = toneBlock
	edge := math.Abs(float64(b.last))
	base := 2*b.sq - b.last*b.last
	a := math.Sqrt(n * float64(b.sq))
	a = min(a, (math.Sqrt(n*float64(base-2*b.cross))+edge)/diff)
	a = min(a, (math.Sqrt(n*float64(base+2*b.cross))+edge)/sum)
	return 2 * a * a / (n * n)
}

// gateRefuses reports whether a block with sums b and mean square total
// cannot hold a digit, whatever the Goertzel powers come to. A digit needs
// (dtmfBlock) column and row peaks pc, pr ≥ toneMinPower with
// pr ≤ pc·toneNormalTwist, pc ≤ pr·reverseTwist and pr+pc ≥
// total·toneTotalShare; hence pc ≥ total·toneTotalShare/(1+toneNormalTwist)
// and pr ≥ total·toneTotalShare/(1+reverseTwist). The block is refused when
// the bound of a group is under what that group needs. The bounds are
// taken 0.1 % higher (and 1 higher) than computed, far more than the
// rounding of the float64 arithmetic here and in goertzel (below 1e-9 of
// these powers), so the gate refuses only blocks the full checks refuse.
func (b *blockSums) gateRefuses(total, reverseTwist float64) bool {
	const slack = 1.001
	uc := b.groupBound(gateColDiff, gateColSum)*slack + 1
	ur := b.groupBound(gateRowDiff, gateRowSum)*slack + 1
	return uc < toneMinPower || ur < toneMinPower ||
		uc < total*toneTotalShare/(1+toneNormalTwist) ||
		ur < total*toneTotalShare/(1+reverseTwist) ||
		ur+uc < total*toneTotalShare
}

// dtmfBlock returns the digit one block holds, or 0; reverseTwist is the
// most the column tone may be above the row tone (a power ratio).
func dtmfBlock(x *[toneBlock]float64, reverseTwist float64) byte {
	b := sumsOf(x)
	return dtmfBlockSums(x, &b, reverseTwist)
}

// dtmfBlockSums is dtmfBlock for a block whose sums are b.
func dtmfBlockSums(x *[toneBlock]float64, b *blockSums, reverseTwist float64) byte {
	total := float64(b.sq) / toneBlock
	if total < 2*toneMinPower*toneTotalShare {
		return 0 // too quiet to hold two tones
	}
	b.last, b.cross = int64(x[toneBlock-1]), crossSum(x)
	if b.gateRefuses(total, reverseTwist) {
		return 0
	}
	return dtmfFilters(x, total, reverseTwist)
}

// dtmfFilters judges a block x of mean square total by its Goertzel
// powers: the digit it holds, or 0.
func dtmfFilters(x *[toneBlock]float64, total, reverseTwist float64) byte {
	// The column group first: speech has less energy there, so most
	// blocks are refused before the rows are computed.
	c, pc, ok := groupPeak(goertzel4(x, &dtmfColCoef))
	if !ok {
		return 0
	}
	r, pr, ok := groupPeak(goertzel4(x, &dtmfRowCoef))
	if !ok || pr > pc*toneNormalTwist || pc > pr*reverseTwist || pr+pc < total*toneTotalShare {
		return 0
	}
	if goertzel(x, dtmfRowHarm[r]) > pr*toneRowHarmonic || goertzel(x, dtmfColHarm[c]) > pc*toneColHarmonic {
		return 0
	}
	return dtmfKeys[r][c]
}

// toneEvent is what a detector reports: a tone that was confirmed (start
// known, end still open), that goes on (end moved) or that ended.
type toneEvent struct {
	digit      byte
	start, end int64 // timeline positions: [start, end)
	ended      bool
	confirmed  bool // first report of this tone
}

// toneDetector finds DTMF tones in one stream's audio, fed in timeline
// order. The zero value is ready to use.
type toneDetector struct {
	// reverseTwist, when set, replaces toneReverseTwist.
	reverseTwist float64

	block    [toneBlock]float64
	sums     blockSums // of block[:n]
	n        int       // samples in block
	blockPos int64     // position of block[0]
	next     int64     // position expected next

	cand      byte  // digit of the last hit block
	hits      int   // consecutive blocks with cand
	candStart int64 // position of the first of them
	active    bool  // a tone was confirmed and has not ended
	misses    int
	toneEnd   int64 // end of the last block holding the active tone
}

// feed takes samples starting at timeline position pos and appends to out
// each tone confirmed, extended or ended. A jump in position restarts the
// block (a gap is not a tone).
func (t *toneDetector) feed(pos int64, samples []int16, out *[]toneEvent) {
	t.gap(pos, len(samples), out)
	for len(samples) > 0 {
		k := t.start(pos, len(samples))
		for i, s := range samples[:k] {
			t.block[t.n+i] = float64(s)
		}
		t.sums.add(samples[:k])
		samples = samples[k:]
		pos = t.filled(pos, k, out)
	}
}

// feedG711 is feed for a G.711 payload pl (µ-law or A-law, as tab says),
// decoded here by table straight into the block.
func (t *toneDetector) feedG711(pos int64, pl []byte, tab *g711Tables, out *[]toneEvent) {
	t.gap(pos, len(pl), out)
	for len(pl) > 0 {
		k := t.start(pos, len(pl))
		blk := t.block[t.n : t.n+k]
		sq := t.sums.sq
		for i, c := range pl[:k] {
			blk[i] = tab.float[c]
			sq += tab.sq[c]
		}
		t.sums.sq = sq
		pl = pl[k:]
		pos = t.filled(pos, k, out)
	}
}

// gap takes n samples at pos: a jump in position restarts the block.
func (t *toneDetector) gap(pos int64, n int, out *[]toneEvent) {
	if t.n > 0 && pos != t.next {
		t.n = 0
		t.miss(out) // the gap breaks a run of hits
	}
	t.next = pos + int64(n)
}

// start returns how many of n samples at pos go into the block.
func (t *toneDetector) start(pos int64, n int) int {
	if t.n == 0 {
		t.blockPos = pos
		t.sums = blockSums{}
	}
	return min(n, toneBlock-t.n)
}

// filled takes k samples put into the block at pos and returns the
// position after them; a full block is judged.
func (t *toneDetector) filled(pos int64, k int, out *[]toneEvent) int64 {
	t.n += k
	if t.n == toneBlock {
		t.n = 0
		t.blockDone(dtmfBlockSums(&t.block, &t.sums, cmp.Or(t.reverseTwist, toneReverseTwist)), out)
	}
	return pos + int64(k)
}

// g711Tables map each G.711 code to its PCM16 value (as float64) and to
// its square.
type g711Tables struct {
	sq    [256]int64
	float [256]float64
}

var ulawDetect, alawDetect = g711Detect(codec.PCMU), g711Detect(codec.PCMA)

// g711DetectTables returns the tables of codec c, nil unless it is G.711.
func g711DetectTables(c codec.Codec) *g711Tables {
	switch c {
	case codec.PCMU:
		return ulawDetect
	case codec.PCMA:
		return alawDetect
	}
	return nil
}

// g711Detect returns the tables of G.711 codec c.
func g711Detect(c codec.Codec) *g711Tables {
	var code [256]byte
	var pcm [256]int16
	for i := range code {
		code[i] = byte(i)
	}
	c.Decode(pcm[:], code[:])
	t := new(g711Tables)
	for i, v := range pcm {
		x := int64(v)
		t.sq[i], t.float[i] = x*x, float64(v)
	}
	return t
}

func (t *toneDetector) blockDone(d byte, out *[]toneEvent) {
	end := t.blockPos + toneBlock
	switch {
	case d == 0:
		t.miss(out)
	case t.active && d == t.cand:
		t.misses = 0
		t.toneEnd = end
		*out = append(*out, toneEvent{digit: d, start: t.candStart, end: end})
	default:
		if t.active {
			t.end(out)
		}
		if d != t.cand || t.hits == 0 {
			t.cand, t.hits, t.candStart = d, 0, t.blockPos
		}
		t.hits++
		if t.hits >= toneHitsToBegin {
			t.active, t.misses, t.toneEnd = true, 0, end
			*out = append(*out, toneEvent{digit: d, start: t.candStart, end: end, confirmed: true})
		}
	}
}

// miss takes a block without the tone.
func (t *toneDetector) miss(out *[]toneEvent) {
	if !t.active {
		t.cand, t.hits = 0, 0
		return
	}
	t.misses++
	if t.misses >= toneMissesToEnd {
		t.end(out)
	}
}

func (t *toneDetector) end(out *[]toneEvent) {
	*out = append(*out, toneEvent{digit: t.cand, start: t.candStart, end: t.toneEnd, ended: true})
	t.active, t.cand, t.hits, t.misses = false, 0, 0, 0
}

// flush ends a tone still going on at the end of the audio. With
// pending, a tone cut off before it was confirmed (one block) is reported
// too: masking errs on the side of silence where the audio stops.
func (t *toneDetector) flush(out *[]toneEvent, pending bool) {
	if !t.active && pending && t.hits > 0 {
		*out = append(*out, toneEvent{digit: t.cand, start: t.candStart, end: t.candStart + toneBlock, confirmed: true})
		t.active, t.toneEnd = true, t.candStart+toneBlock
	}
	if t.active {
		t.end(out)
	}
	t.n, t.cand, t.hits = 0, 0, 0
}
