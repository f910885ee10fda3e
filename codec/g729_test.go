package codec

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/callvault/callvault/internal/g729core"
)

func randomParams(rng *rand.Rand) g729Params {
	p := g729Params{
		L0: rng.IntN(2), L1: rng.IntN(128), L2: rng.IntN(32), L3: rng.IntN(32),
		P1: rng.IntN(256), P2: rng.IntN(32),
	}
	for sf := range 2 {
		p.C[sf], p.S[sf], p.GA[sf], p.GB[sf] = rng.IntN(1<<13), rng.IntN(16), rng.IntN(8), rng.IntN(16)
	}
	p.SetParity()
	return p
}

func TestG729Unpack(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		p := randomParams(rng)
		var q g729Params
		q.Unpack(p.Pack())
		if q != p {
			t.Fatalf("unpack(pack(%+v)) = %+v", p, q)
		}
	}
	// The first bit is L0, the last the lowest bit of GB2.
	var q g729Params
	q.Unpack([]byte{0x80, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	if q != (g729Params{L0: 1, GB: [2]int{0, 1}}) {
		t.Fatalf("%+v", q)
	}
}

func TestG729Parity(t *testing.T) {
	// P0 makes the number of ones in the six most significant bits of P1
	// and P0 together odd.
	for p1 := range 256 {
		ones := 0
		for i := 2; i < 8; i++ {
			ones += p1 >> i & 1
		}
		for p0 := range 2 {
			p := g729Params{P1: p1, P0: p0}
			if got, want := p.ParityOK(), (ones+p0)%2 == 1; got != want {
				t.Fatalf("P1 %d P0 %d: parityOK %v, want %v", p1, p0, got, want)
			}
		}
	}
}

func TestG729PitchDecode(t *testing.T) {
	// P1: delays 19 1/3 .. 84 2/3 in thirds, then 85..143 whole.
	seen := map[[2]int]bool{}
	for p1 := range 256 {
		t0, frac := g729core.PitchAbs(p1)
		if p1 < 197 {
			if got := 3*t0 + frac; got != p1+58 {
				t.Fatalf("P1 %d: %d %+d/3", p1, t0, frac)
			}
		} else if t0 != p1-112 || frac != 0 {
			t.Fatalf("P1 %d: %d %+d/3", p1, t0, frac)
		}
		if frac < -1 || frac > 1 || seen[[2]int{t0, frac}] {
			t.Fatalf("P1 %d: %d %+d/3 out of range or repeated", p1, t0, frac)
		}
		seen[[2]int{t0, frac}] = true
	}
	// P2: t1-5 2/3 .. t1+4 2/3 around the first subframe's delay, kept
	// within 20..143.
	for _, tc := range []struct{ t1, lo int }{{60, 55}, {20, 20}, {24, 20}, {143, 134}, {139, 134}} {
		for p2 := range 32 {
			t0, frac := g729core.PitchRel(p2, tc.t1)
			if got, want := 3*t0+frac, 3*tc.lo+p2-2; got != want || frac < -1 || frac > 1 {
				t.Fatalf("t1 %d P2 %d: %d %+d/3, want %d thirds", tc.t1, p2, t0, frac, want)
			}
		}
	}
}

func TestG729ACELP(t *testing.T) {
	// Pulse 0 at 5*i0, 1 at 5*i1+1, 2 at 5*i2+2, 3 at 5*i3+3+j; sign bit
	// set = positive.
	for _, tc := range []struct {
		c, s int
		want map[int]float64
	}{
		{0, 0, map[int]float64{0: -1, 1: -1, 2: -1, 3: -1}},
		{0, 15, map[int]float64{0: 1, 1: 1, 2: 1, 3: 1}},
		{7 | 7<<3 | 7<<6 | 1<<9 | 7<<10, 5, map[int]float64{35: 1, 36: -1, 37: 1, 39: -1}},
		{1 | 2<<3 | 3<<6 | 0<<9 | 4<<10, 8, map[int]float64{5: -1, 11: -1, 17: -1, 23: 1}},
	} {
		var code [g729Subframe]float64
		g729core.ACELP(&code, tc.c, tc.s)
		for i, v := range code {
			if v != tc.want[i] {
				t.Fatalf("c %d s %d: code[%d] = %v, want %v", tc.c, tc.s, i, v, tc.want[i])
			}
		}
	}
}

// TestG729LSPToLP checks the LP conversion against its definition: the
// LSFs are the zeros on the unit circle of F1'(z) = A(z) + z^-11 A(1/z)
// (even indices) and F2'(z) = A(z) - z^-11 A(1/z) (odd indices).
func TestG729LSPToLP(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		var w [g729Order]float64
		for i := range w {
			w[i] = rng.Float64() * math.Pi
		}
		slices.Sort(w[:])
		g729core.Stabilise(&w)
		var q [g729Order]float64
		for i := range w {
			q[i] = math.Cos(w[i])
		}
		var a [g729Order + 1]float64
		g729core.LSPToLP(&a, &q)
		if a[0] != 1 {
			t.Fatalf("a[0] = %v", a[0])
		}
		for i, wi := range w {
			z := cmplx.Exp(complex(0, -wi)) // z^-1 on the unit circle
			var fa, fr complex128
			for k, ak := range a {
				fa += complex(ak, 0) * cmplx.Pow(z, complex(float64(k), 0))
				fr += complex(ak, 0) * cmplx.Pow(z, complex(float64(11-k), 0))
			}
			f := fa + fr
			if i%2 == 1 {
				f = fa - fr
			}
			if cmplx.Abs(f) > 1e-9 {
				t.Fatalf("LSF %d (%.4f): |F'| = %g", i, wi, cmplx.Abs(f))
			}
		}
	}
}

func TestG729Stability(t *testing.T) {
	w := [g729Order]float64{0.001, 0.5, 0.49, 0.5, 1, 2, 3, 3.1, 3.12, 3.14}
	g729core.Stabilise(&w)
	if w[0] < g729core.LSFMin || w[g729Order-1] > g729core.LSFMax {
		t.Fatalf("out of range: %v", w)
	}
	for i := 1; i < g729Order-1; i++ {
		if w[i]-w[i-1] < g729core.Gap3-1e-12 {
			t.Fatalf("LSF %d and %d closer than the minimum: %v", i-1, i, w)
		}
	}
}

// voicedParams is a frame of a steady voiced sound: LSFs from the first
// codebook rows, pitch delay 40 (one subframe) in both subframes, the same
// pulses in both, a pitch gain of 0.92 and a fixed gain kept level
// (correction factor 1.01).
func voicedParams() g729Params {
	p := g729Params{L1: 10, L2: 3, L3: 7, P1: 62, P2: 17}
	for sf := range 2 {
		p.C[sf], p.S[sf], p.GA[sf], p.GB[sf] = 1234, 9, 4, 15
	}
	p.SetParity()
	return p
}

// autocorr is the normalised autocorrelation of x at lag k.
func autocorr(x []int16, k int) float64 {
	var ab, aa, bb float64
	for i := k; i < len(x); i++ {
		a, b := float64(x[i]), float64(x[i-k])
		ab += a * b
		aa += a * a
		bb += b * b
	}
	return ab / math.Sqrt(aa*bb)
}

// TestG729Voiced: a steady voiced frame decodes to a signal periodic at
// its pitch delay, the same for every decoder, and Decode over a payload
// is Frame over its frames.
func TestG729Voiced(t *testing.T) {
	frame := voicedParams().Pack()
	if !bytes.Equal(frame, voicedParams().Pack()) {
		t.Fatal("pack is not deterministic")
	}
	d := NewG729Decoder()
	out := make([]int16, 30*G729FrameSamples)
	for f := range 30 {
		d.Frame(out[f*G729FrameSamples:(f+1)*G729FrameSamples], frame)
	}
	tail := out[20*G729FrameSamples:]
	rms := 0.0
	for _, v := range tail {
		rms += float64(v) * float64(v)
	}
	rms = math.Sqrt(rms / float64(len(tail)))
	if rms < 50 {
		t.Fatalf("rms %.1f: the voiced frames decode to near silence", rms)
	}
	if c := autocorr(tail, 40); c < 0.9 {
		t.Fatalf("autocorrelation at the pitch delay 40: %.3f", c)
	}
	if c := autocorr(tail, 37); c > 0.8 {
		t.Fatalf("autocorrelation at 37, off the pitch: %.3f", c)
	}

	payload := bytes.Repeat(frame, 30)
	again := make([]int16, len(out))
	if n := NewG729Decoder().Decode(again, payload); n != len(out) || !slices.Equal(again, out) {
		t.Fatalf("Decode of the same frames: %d samples, equal %v", n, slices.Equal(again, out))
	}
	d.Reset()
	d.Frame(again[:G729FrameSamples], frame)
	if !slices.Equal(again[:G729FrameSamples], out[:G729FrameSamples]) {
		t.Fatal("Reset does not give the initial state")
	}
	if n := G729.Decode(again, payload[:20]); n != 160 || !slices.Equal(again[:160], out[:160]) {
		t.Fatal("Codec.Decode does not start from the initial state")
	}
}

func TestG729SamplesAndSID(t *testing.T) {
	for n, want := range map[int]int{0: 0, 1: 0, 2: 80, 9: 0, 10: 80, 12: 160, 15: 80, 20: 160, 22: 240, 30: 240} {
		if got := G729Samples(n); got != want {
			t.Errorf("G729Samples(%d) = %d, want %d", n, got, want)
		}
		if got := G729.Samples(n); got != want {
			t.Errorf("G729.Samples(%d) = %d, want %d", n, got, want)
		}
	}
	if PCMU.Samples(160) != 160 {
		t.Error("PCMU.Samples")
	}
	voiced := voicedParams().Pack()
	d := NewG729Decoder()
	out := make([]int16, 240)
	for i := range out {
		out[i] = 7
	}
	// Two speech frames and a SID frame: the SID is silence.
	payload := append(append(slices.Clone(voiced), voiced...), 0x5a, 0xa5)
	if n := d.Decode(out, payload); n != 240 {
		t.Fatalf("%d samples", n)
	}
	if slices.Equal(out[80:160], make([]int16, 80)) {
		t.Fatal("speech decoded as silence")
	}
	if !slices.Equal(out[160:], make([]int16, 80)) {
		t.Fatal("SID frame not silence")
	}
	// A SID frame alone, and a frame not transmitted.
	for _, f := range [][]byte{{0x12, 0x34}, nil} {
		for i := range out[:80] {
			out[i] = 7
		}
		d.Frame(out[:80], f)
		if !slices.Equal(out[:80], make([]int16, 80)) {
			t.Fatalf("frame %x not silence", f)
		}
	}
	// Speech goes on after the silence, and a short dst takes whole frames.
	if n := d.Decode(out[:100], payload); n != 80 || slices.Equal(out[:80], make([]int16, 80)) {
		t.Fatalf("%d samples after SID", n)
	}
	if n := d.Decode(out, []byte{1, 2, 3}); n != 0 {
		t.Fatalf("3 bytes decoded to %d samples", n)
	}
}

// TestG729Erasure: lost frames are concealed from the last good ones, at a
// falling level and the same pitch, and decoding goes on afterwards.
func TestG729Erasure(t *testing.T) {
	frame := voicedParams().Pack()
	d := NewG729Decoder()
	buf := make([]int16, G729FrameSamples)
	var last []int16
	for range 20 {
		d.Frame(buf, frame)
		last = append(last, buf...)
	}
	energy := func(x []int16) float64 {
		e := 0.0
		for _, v := range x {
			e += float64(v) * float64(v)
		}
		return e
	}
	good := energy(last[len(last)-G729FrameSamples:])
	var conc []int16
	for range 12 {
		d.Erased(buf)
		conc = append(conc, buf...)
	}
	first, lastE := energy(conc[:G729FrameSamples]), energy(conc[len(conc)-G729FrameSamples:])
	if first == 0 || first > 2*good {
		t.Fatalf("first concealed frame energy %.3g, last good %.3g", first, good)
	}
	if lastE >= first/4 {
		t.Fatalf("concealment does not fade: %.3g then %.3g", first, lastE)
	}
	// The delay grows by one sample a subframe: 40, 41, 42, ...
	best := 0.0
	for k := 39; k <= 43; k++ {
		best = max(best, autocorr(conc[:2*G729FrameSamples], k))
	}
	if best < 0.8 {
		t.Fatalf("concealment lost the pitch: autocorrelation %.3f", best)
	}
	// After 24 lost subframes the delay is 24 samples longer; the state
	// is sane.
	if d.oldT0 != 40+24 {
		t.Fatalf("delay after 12 lost frames %d", d.oldT0)
	}
	d.Frame(buf, frame)
	if energy(buf) == 0 || !d.finite() {
		t.Fatal("no speech after the loss")
	}
	// Erasure as the very first frame.
	NewG729Decoder().Erased(buf)
}

// TestG729Garbage: any bytes decode to bounded, finite output and leave
// the decoder usable.
func TestG729Garbage(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	d := NewG729Decoder()
	buf := make([]int16, G729FrameSamples)
	frame := make([]byte, G729FrameSize)
	for i := range 5000 {
		for j := range frame {
			frame[j] = byte(rng.Uint32())
		}
		if i%97 == 0 {
			d.Erased(buf)
		} else {
			d.Frame(buf, frame)
		}
		if !d.finite() {
			t.Fatalf("frame %d (%x): state not finite", i, frame)
		}
	}
	d.Frame(buf, voicedParams().Pack())
}

// g729Rec is a synthesised recording of one G.729 stream on the left
// channel and a G.711 stream on the right.
type g729Rec struct {
	rec
	payloads [][]byte // the G.729 payloads in map order
	pos      []uint32
}

func (r *g729Rec) addG729(pos uint32, flags EntryFlag, payload []byte) {
	e := Entry{Off: int64(len(r.orig)) + 54, Len: uint16(len(payload)), Pos: pos, Stream: 0, Flags: flags}
	r.orig = append(r.orig, make([]byte, 54)...)
	r.orig = append(r.orig, payload...)
	r.mapb = AppendEntry(r.mapb, e)
	r.entries = append(r.entries, e)
	r.idx.Add(e, uint32(G729Samples(len(payload))))
	r.payloads = append(r.payloads, payload)
	r.pos = append(r.pos, pos)
}

// synthG729 makes seconds of a G.729 stream of two frames a packet from
// random frames mixed with voiced ones, with lost packets, packets that
// arrive after the next one, and a pause after a SID frame, and a G.711
// stream alongside.
func synthG729(seconds int) *g729Rec {
	rng := rand.New(rand.NewPCG(7, 8))
	r := &g729Rec{}
	voiced := voicedParams()
	pos := uint32(0)
	var held []byte // a packet that arrives late
	var heldPos uint32
	for pos < uint32(seconds*8000) {
		var pl []byte
		switch x := rng.IntN(100); {
		case x < 8: // lost
		case x < 10: // SID, then nothing for half a second
			pl = []byte{0x40, 0x10}
		default:
			p := voiced
			if x < 60 {
				p = randomParams(rng)
			}
			p.C[0] = rng.IntN(1 << 13)
			q := randomParams(rng)
			q.L0, q.L1, q.L2, q.L3 = p.L0, p.L1, p.L2, p.L3
			pl = append(p.Pack(), q.Pack()...)
		}
		switch {
		case pl == nil:
		case held == nil && len(pl) == 20 && rng.IntN(100) < 4:
			held, heldPos = pl, pos
		default:
			r.addG729(pos, 0, pl)
			if held != nil {
				r.addG729(heldPos, 0, held)
				held = nil
			}
		}
		if len(pl) == 2 {
			pos += 4000
		}
		pos += 160
		r.add(10, pos-160, 1, 0, fill(160, byte(pos)))
	}
	return r
}

var g729Streams = []StreamLayout{{Codec: G729, Channel: 0}, {Codec: PCMU, Channel: 1}}

// wavFrames renders segs to a stereo WAV and returns its frames.
func wavFrames(t *testing.T, segs ...Segment) ([]byte, [][]int16) {
	t.Helper()
	w, err := NewWAVReader(segs, WAVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	all, err := io.ReadAll(w)
	if err != nil {
		t.Fatal(err)
	}
	return all, frames(t, all, 2)
}

// checkRanges renders random ranges of seg, from its Start to end, with
// one Renderer and compares them with f, the frames of its whole WAV (two
// a position at 16 kHz).
func checkRanges(t *testing.T, seg Segment, f [][]int16, end uint32, seed uint64, maxLen int) {
	t.Helper()
	checkRangesMask(t, seg, false, f, end, seed, maxLen)
}

// checkRangesMask is checkRanges of a WAV rendered with DTMF masked or not.
func checkRangesMask(t *testing.T, seg Segment, mask bool, f [][]int16, end uint32, seed uint64, maxLen int) {
	t.Helper()
	rr, err := NewRenderer(seg, mask)
	if err != nil {
		t.Fatal(err)
	}
	start, tick := int(seg.Layout.Start), rr.Rate()/8000
	rng := rand.New(rand.NewPCG(seed, seed+1))
	for range 40 {
		a := start + rng.IntN(int(end)-start)
		n := min(int(end)-a, 1+rng.IntN(maxLen))
		left, right := make([]int16, n*tick), make([]int16, n*tick)
		if err := rr.Render(uint32(a), left, right); err != nil {
			t.Fatal(err)
		}
		for i := range left {
			if fr := f[(a-start)*tick+i]; left[i] != fr[0] || right[i] != fr[1] {
				t.Fatalf("range [%d, %d): position %d differs", a, a+n, a+i/tick)
			}
		}
	}
}

// TestRenderG729: a G.729 stream renders the same samples however the
// range is reached, close to one continuous decode, with its gaps silent.
func TestRenderG729(t *testing.T) {
	r := synthG729(5)
	end := r.pos[len(r.pos)-1] + 160
	l := Layout{Streams: g729Streams, Start: 0, End: end}
	seg := r.segment(l)
	all, f := wavFrames(t, seg)
	if len(f) != int(end) {
		t.Fatalf("%d frames, want %d", len(f), end)
	}

	// The continuous decode, and what covers each position.
	cont := make([]int16, end)
	covered := make([]bool, end)
	d := NewG729Decoder()
	for i, p := range r.payloads {
		n := d.Decode(cont[r.pos[i]:], p)
		for k := range n {
			covered[int(r.pos[i])+k] = true
		}
	}
	var got, want []int16
	for i := range f {
		if !covered[i] {
			if f[i][0] != 0 {
				t.Fatalf("position %d, in a gap, is %d", i, f[i][0])
			}
			continue
		}
		got = append(got, f[i][0])
		want = append(want, cont[i])
		if i < frameWindow && f[i][0] != cont[i] {
			t.Fatalf("position %d of the first window: %d, continuous decode %d", i, f[i][0], cont[i])
		}
	}
	var ab, aa, bb float64
	for i := range got {
		ab += float64(got[i]) * float64(want[i])
		aa += float64(got[i]) * float64(got[i])
		bb += float64(want[i]) * float64(want[i])
	}
	if ncc := ab / math.Sqrt(aa*bb); ncc < 0.999 {
		t.Fatalf("ncc with the continuous decode %.5f", ncc)
	}
	// The G.711 channel is as without the G.729 one.
	alone := Layout{Streams: []StreamLayout{{Codec: G729, Channel: -1}, g729Streams[1]}, Start: 0, End: end}
	_, f1 := wavFrames(t, r.segment(alone))
	for i, fr := range f1 {
		if fr[1] != f[i][1] || fr[0] != 0 {
			t.Fatalf("position %d: right %d alone, %d with G.729", i, fr[1], f[i][1])
		}
	}

	// Any range, any read pattern: the same samples.
	checkRanges(t, seg, f, end, 9, 20000)
	w2, _ := NewWAVReader([]Segment{seg}, WAVOptions{})
	if b := readAllSizes(t, w2, []int{1, 3, 4093, 17, 50000}); !bytes.Equal(b, all) {
		t.Fatalf("reads in odd sizes differ at byte %d", firstDiff(b, all))
	}
	for _, off := range []int64{44 + 4*9000, 44 + 4*24001, 44 + 4*(int64(end)-3001)} {
		w3, _ := NewWAVReader([]Segment{seg}, WAVOptions{})
		if _, err := w3.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 4*3000)
		if _, err := io.ReadFull(w3, b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, all[off:off+int64(len(b))]) {
			t.Fatalf("seek to %d: differs", off)
		}
	}
}

// TestRenderG729Start: windows start at the layout's Start, and a call
// that starts off position 0 renders the same however it is read.
func TestRenderG729Start(t *testing.T) {
	r := synthG729(3)
	end := r.pos[len(r.pos)-1] + 160
	const start = 3001
	seg := r.segment(Layout{Streams: g729Streams, Start: start, End: end})
	_, f := wavFrames(t, seg)
	rr, err := NewRenderer(seg, false)
	if err != nil {
		t.Fatal(err)
	}
	if wlo, wend := rr.window(start - 1); wlo != 0 || wend != start {
		t.Fatalf("window before Start: [%d, %d)", wlo, wend)
	}
	if wlo, wend := rr.window(start + frameWindow + 5); wlo != start+frameWindow || wend != start+2*frameWindow {
		t.Fatalf("second window: [%d, %d)", wlo, wend)
	}
	checkRanges(t, seg, f, end, 13, 12000)
}

// TestRenderG729Mask: a G.729 payload flagged DTMF is silence when DTMF is
// masked, and the payloads after it decode as without the mask.
func TestRenderG729Mask(t *testing.T) {
	r := &g729Rec{}
	frame := voicedParams().Pack()
	for k := range 50 {
		flags := EntryFlag(0)
		if k >= 20 && k < 25 {
			flags = FlagDTMF
		}
		r.addG729(uint32(k*80), flags, frame)
	}
	l := Layout{Streams: g729Streams[:1], Start: 0, End: 50 * 80}
	render := func(mask bool) []int16 {
		rr, err := NewRenderer(r.segment(l), mask)
		if err != nil {
			t.Fatal(err)
		}
		left, right := make([]int16, 4000), make([]int16, 4000)
		if err := rr.Render(0, left, right); err != nil {
			t.Fatal(err)
		}
		return left
	}
	plain, masked := render(false), render(true)
	for i := range plain {
		inMask := i >= 1600 && i < 2000
		switch {
		case inMask && masked[i] != 0:
			t.Fatalf("masked position %d is %d", i, masked[i])
		case !inMask && masked[i] != plain[i]:
			t.Fatalf("position %d outside the mask: %d, unmasked %d", i, masked[i], plain[i])
		}
	}
	if slices.Equal(plain[1600:2000], make([]int16, 400)) {
		t.Fatal("unmasked span is silent")
	}
}

func FuzzG729Decode(f *testing.F) {
	f.Add(voicedParams().Pack(), uint8(0))
	f.Add(append(voicedParams().Pack(), 0x12, 0x34), uint8(1))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, uint8(3))
	f.Add([]byte{1, 2, 3}, uint8(0))
	f.Fuzz(func(t *testing.T, payload []byte, erase uint8) {
		payload = payload[:min(len(payload), 4000)]
		want := G729Samples(len(payload))
		var outs [2][]int16
		for k := range outs {
			d := NewG729Decoder()
			if erase&1 != 0 {
				var b [G729FrameSamples]int16
				d.Erased(b[:])
			}
			out := make([]int16, want+5)
			n := d.Decode(out, payload)
			if n != want {
				t.Fatalf("%d bytes: %d samples, want %d", len(payload), n, want)
			}
			if !slices.Equal(out[n:], make([]int16, 5)) {
				t.Fatal("wrote past the samples it reports")
			}
			if erase&2 != 0 {
				var b [G729FrameSamples]int16
				d.Erased(b[:])
			}
			if !d.finite() {
				t.Fatal("state not finite")
			}
			outs[k] = out
		}
		if !slices.Equal(outs[0], outs[1]) {
			t.Fatal("two decoders differ on the same input")
		}
		// A dst shorter than the payload takes whole frames only.
		short := make([]int16, want/2)
		if n := NewG729Decoder().Decode(short, payload); n%G729FrameSamples != 0 || n > len(short) {
			t.Fatalf("short dst of %d: %d samples", len(short), n)
		}
	})
}

// BenchmarkG729Decode decodes one second of G.729 (100 frames, random and
// voiced) with one decoder and reports decoded samples per second on one
// core.
func BenchmarkG729Decode(b *testing.B) {
	rng := rand.New(rand.NewPCG(11, 12))
	var src []byte
	for k := range 100 {
		p := voicedParams()
		if k%2 == 0 {
			p = randomParams(rng)
		}
		src = append(src, p.Pack()...)
	}
	dst := make([]int16, 8000)
	d := NewG729Decoder()
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		d.Decode(dst, src)
	}
	b.ReportMetric(float64(b.N)*8000/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkG729Render renders a minute of a G.729 stream with losses and
// pauses (and a G.711 stream) to stereo WAV: the decode plus the warm-up
// of each window.
func BenchmarkG729Render(b *testing.B) {
	r := synthG729(60)
	end := r.pos[len(r.pos)-1] + 160
	// A call starts anywhere on the timeline: its WAV blocks are not
	// aligned with position 0.
	const start = 3000
	seg := r.segment(Layout{Streams: g729Streams, Start: start, End: end})
	b.ReportAllocs()
	for b.Loop() {
		w, err := NewWAVReader([]Segment{seg}, WAVOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, w); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*float64(end-start)/b.Elapsed().Seconds(), "samples/s")
}

// g729TestFrames returns 300 frames (3 s): runs of steady voiced frames
// with drifting pitch and gains between runs of random frames.
func g729TestFrames() []byte {
	rng := rand.New(rand.NewPCG(21, 22))
	var out []byte
	for k := range 300 {
		var p g729Params
		if k/25%2 == 0 {
			p = voicedParams()
			p.L1 = (k / 50 * 37) % 128
			p.P1 = 40 + k%100
			p.P2 = k % 32
			p.C[0], p.C[1] = rng.IntN(1<<13), rng.IntN(1<<13)
			p.GB[0], p.GB[1] = rng.IntN(16), rng.IntN(16)
			p.SetParity()
		} else {
			p = randomParams(rng)
		}
		out = append(out, p.Pack()...)
	}
	return out
}

// TestG729ITUReference compares the decoder with the recommendation's own
// fixed-point decoder (Annex A) on the same frames (testdata/README.md):
// the float decoder follows it to a correlation of 0.998 overall and
// 0.99 in every run of 25 frames.
func TestG729ITUReference(t *testing.T) {
	raw, err := os.ReadFile("testdata/g729_itu_ref.raw")
	if err != nil {
		t.Fatal(err)
	}
	ref := make([]int16, len(raw)/2)
	for i := range ref {
		ref[i] = int16(binary.LittleEndian.Uint16(raw[2*i:]))
	}
	frames := g729TestFrames()
	got := make([]int16, len(frames)/G729FrameSize*G729FrameSamples)
	if n := NewG729Decoder().Decode(got, frames); n != len(ref) {
		t.Fatalf("%d samples, reference %d", n, len(ref))
	}
	ncc := func(a, b []int16) float64 {
		var ab, aa, bb float64
		for i := range a {
			ab += float64(a[i]) * float64(b[i])
			aa += float64(a[i]) * float64(a[i])
			bb += float64(b[i]) * float64(b[i])
		}
		return ab / math.Sqrt(aa*bb)
	}
	if c := ncc(got, ref); c < 0.998 {
		t.Fatalf("ncc with the ITU reference decoder %.4f", c)
	}
	const run = 25 * G729FrameSamples
	for k := 0; k < len(ref); k += run {
		if c := ncc(got[k:k+run], ref[k:k+run]); c < 0.99 {
			t.Errorf("frames %d..%d: ncc %.4f", k/G729FrameSamples, (k+run)/G729FrameSamples, c)
		}
	}
}
