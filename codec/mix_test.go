package codec

import (
	"bytes"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
)

// addFramed appends a payload of a stream whose entries cover samples
// positions (G.729: 80 a frame) to r.
func (r *rec) addFramed(pos uint32, stream uint16, flags EntryFlag, payload []byte, samples int) {
	r.orig = append(r.orig, make([]byte, 54)...)
	e := Entry{Off: int64(len(r.orig)), Len: uint16(len(payload)), Pos: pos, Stream: stream, Flags: flags}
	r.orig = append(r.orig, payload...)
	r.mapb = AppendEntry(r.mapb, e)
	r.entries = append(r.entries, e)
	r.idx.Add(e, uint32(samples))
}

// g729Payload returns a payload of two G.729 frames, voiced or random.
func g729Payload(rng *rand.Rand) []byte {
	p := voicedParams()
	if rng.IntN(2) == 0 {
		p = randomParams(rng)
	}
	p.C[0] = rng.IntN(1 << 13)
	q := randomParams(rng)
	q.L0, q.L1, q.L2, q.L3 = p.L0, p.L1, p.L2, p.L3
	return append(p.Pack(), q.Pack()...)
}

// mixedCall is a call with G.722 and G.729 streams. With sameChannel,
// channel 0 carries PCMU, then G.729, then G.722 (streams 0, 1, 2) and
// channel 1 PCMA (stream 3); otherwise channel 0 carries G.722 (stream 0)
// and channel 1 G.729 (stream 1), with one G.729 packet lost. G.729
// packets flagged dtmf[k] (k counting the G.729 packets) carry FlagDTMF.
// g722 reports, per tick, whether a G.722 entry covers it on channel 0.
func mixedCall(seconds int, sameChannel bool, dtmf func(k int) bool) (r *rec, l Layout, g722 []bool) {
	r = &rec{}
	rng := rand.New(rand.NewPCG(11, 12))
	const start = 800
	end := start + seconds*8000
	g722 = make([]bool, end)
	enc := newG722Encoder().encode(testSignal(2 * seconds * 8000))
	g729 := 0
	addG729 := func(pos int, stream uint16) {
		flags := EntryFlag(0)
		if dtmf != nil && dtmf(g729) {
			flags = FlagDTMF
		}
		g729++
		r.addFramed(uint32(pos), stream, flags, g729Payload(rng), 160)
	}
	addG722 := func(pos int, stream uint16) {
		o := (pos - start) * 2
		r.add(40, uint32(pos), stream, 0, enc[o/2:o/2+160])
		for t := pos; t < pos+160; t++ {
			g722[t] = true
		}
	}
	if sameChannel {
		l.Streams = []StreamLayout{{Codec: PCMU, Channel: 0}, {Codec: G729, Channel: 0}, {Codec: G722, Channel: 0}, {Codec: PCMA, Channel: 1}}
		third := (end - start) / 3 / 160 * 160
		for pos := start; pos+160 <= end; pos += 160 {
			switch {
			case pos < start+third:
				r.add(30, uint32(pos), 0, 0, fill(160, byte(pos/160*37)))
			case pos < start+2*third:
				addG729(pos, 1)
			default:
				addG722(pos, 2)
			}
			r.add(30, uint32(pos+41), 3, 0, fill(160, byte(pos/160*11)))
		}
	} else {
		l.Streams = []StreamLayout{{Codec: G722, Channel: 0}, {Codec: G729, Channel: 1}}
		for k, pos := 0, start; pos+160 <= end; k, pos = k+1, pos+160 {
			addG722(pos, 0)
			if k != 30 {
				addG729(pos+23, 1)
			}
		}
	}
	l.End = uint32(end)
	return r, l, g722
}

// narrowRender renders seg's timeline from Start to upTaps ticks past End
// at 8 kHz, whatever its layout's rate: the G.711 and G.729 entries, with
// G.722 skipped.
func narrowRender(t *testing.T, seg Segment, mask bool) [2][]int16 {
	t.Helper()
	rr, err := newRenderer(seg, mask, new(scratch), false)
	if err != nil {
		t.Fatal(err)
	}
	n := int(seg.Layout.End-seg.Layout.Start) + upTaps
	out := [2][]int16{make([]int16, n), make([]int16, n)}
	if err := rr.Render(seg.Layout.Start, out[0], out[1]); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkMixed renders seg at 16 kHz and checks it against the 8 kHz
// render of its G.711 and G.729 entries: on every tick no G.722 entry
// covers, the even sample is the 8 kHz sample and the odd one its
// half-band interpolation (where the filter sees no G.722 tick). It
// returns the WAV and its frames.
func checkMixed(t *testing.T, seg Segment, g722 []bool, opt WAVOptions) ([]byte, [][]int16) {
	t.Helper()
	w, err := NewWAVReader([]Segment{seg}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if w.Rate() != 16000 {
		t.Fatalf("rate %d, want 16000", w.Rate())
	}
	all, err := io.ReadAll(w)
	if err != nil {
		t.Fatal(err)
	}
	f := frames(t, all, 2)
	start := int(seg.Layout.Start)
	n := int(seg.Layout.End) - start
	if len(f) != 2*n {
		t.Fatalf("%d frames, want %d", len(f), 2*n)
	}
	narrow := narrowRender(t, seg, opt.MaskDTMF)
	isG722 := func(ch, t int) bool { return ch == 0 && t+start < len(g722) && t >= -start && g722[t+start] }
	for ch := range 2 {
		for i := range n {
			if isG722(ch, i) {
				continue
			}
			if got := f[2*i][ch]; got != narrow[ch][i] {
				t.Fatalf("channel %d tick %d: even sample %d, 8 kHz render %d", ch, start+i, got, narrow[ch][i])
			}
			clean := true
			for k := i - upTaps + 1; k <= i+upTaps; k++ {
				clean = clean && !isG722(ch, k)
			}
			if clean && i >= upTaps && f[2*i+1][ch] != halfway(narrow[ch], i) {
				t.Fatalf("channel %d tick %d: odd sample %d, interpolation %d", ch, start+i, f[2*i+1][ch], halfway(narrow[ch], i))
			}
		}
	}
	return all, f
}

// checkReads reads seg's WAV in odd sizes and from seeks to odd offsets,
// and renders random ranges with one Renderer, and compares all with all,
// the WAV read straight through.
func checkReads(t *testing.T, seg Segment, all []byte, f [][]int16, opt WAVOptions) {
	t.Helper()
	w, _ := NewWAVReader([]Segment{seg}, opt)
	if b := readAllSizes(t, w, []int{1, 3, 4093, 17, 50001, 6}); !bytes.Equal(b, all) {
		t.Fatalf("reads in odd sizes differ at byte %d", firstDiff(b, all))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		off := int64(rng.IntN(len(all)))
		w, _ := NewWAVReader([]Segment{seg}, opt)
		if _, err := w.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, min(int64(len(all))-off, int64(1+rng.IntN(40000))))
		if _, err := io.ReadFull(w, b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, all[off:off+int64(len(b))]) {
			t.Fatalf("seek to %d: differs at byte %d", off, off+int64(firstDiff(b, all[off:])))
		}
	}
	checkRangesMask(t, seg, opt.MaskDTMF, f, seg.Layout.End, 5, 9000)
}

// TestRenderMixedG722G729: a call with G.722 on one channel and G.729 on
// the other renders at 16 kHz; the G.729 channel is the 8 kHz render of
// the G.729 stream upsampled, and the bytes are the same however read.
func TestRenderMixedG722G729(t *testing.T) {
	r, l, g722 := mixedCall(3, false, nil)
	for _, start := range []uint32{0, 3001} {
		l.Start = start
		seg := r.segment(l)
		all, f := checkMixed(t, seg, g722, WAVOptions{})
		// The G.729 channel against a render of the G.729 stream alone.
		alone := l
		alone.Streams = []StreamLayout{{Codec: G722, Channel: -1}, l.Streams[1]}
		if alone.Rate() != 8000 {
			t.Fatal("G.729 alone renders at 16 kHz")
		}
		_, f8 := wavFrames(t, r.segment(alone))
		loud := 0
		for i, fr := range f8 {
			if f[2*i][1] != fr[1] {
				t.Fatalf("start %d tick %d: G.729 channel %d at 16 kHz, %d alone", start, int(start)+i, f[2*i][1], fr[1])
			}
			if fr[1] > 1000 || fr[1] < -1000 {
				loud++
			}
		}
		if loud < len(f8)/10 {
			t.Fatalf("G.729 channel nearly silent: %d loud ticks of %d", loud, len(f8))
		}
		checkReads(t, seg, all, f, WAVOptions{})
	}
}

// TestRenderMixedOneChannel: PCMU, then G.729, then G.722 on one channel
// render at 16 kHz with the G.711 and G.729 parts upsampled from their
// 8 kHz render and the G.722 part decoded.
func TestRenderMixedOneChannel(t *testing.T) {
	r, l, g722 := mixedCall(3, true, nil)
	seg := r.segment(l)
	all, f := checkMixed(t, seg, g722, WAVOptions{})
	var quiet int
	for tk, isG722 := range g722 {
		if isG722 && f[2*tk][0] == 0 && f[2*tk+1][0] == 0 {
			quiet++
		}
	}
	if quiet > 100 {
		t.Fatalf("%d G.722 ticks silent", quiet)
	}
	checkReads(t, seg, all, f, WAVOptions{})
}

// TestRenderMixedMask: at 16 kHz, G.729 payloads flagged DTMF are silence
// when DTMF is masked, both samples of each of their ticks, and the
// payloads after them decode as without the mask.
func TestRenderMixedMask(t *testing.T) {
	dtmf := func(k int) bool { return k%50 >= 20 && k%50 < 25 }
	r, l, g722 := mixedCall(3, false, dtmf)
	opt := WAVOptions{MaskDTMF: true}
	for _, start := range []uint32{0, 3001} {
		l.Start = start
		seg := r.segment(l)
		all, f := checkMixed(t, seg, g722, opt)
		_, plain := checkMixed(t, seg, g722, WAVOptions{})
		masked := make([]bool, l.End)
		for _, e := range r.entries {
			if e.Flags&FlagDTMF != 0 {
				for p := e.Pos; p < e.Pos+160; p++ {
					masked[p] = true
				}
			}
		}
		var near, inside int
		for i := range len(f) / 2 {
			p := int(start) + i
			switch {
			case masked[p]:
				inside++
				if f[2*i][1] != 0 || (masked[max(0, p-upTaps)] && masked[min(len(masked)-1, p+upTaps)] && f[2*i+1][1] != 0) {
					t.Fatalf("start %d: masked tick %d is %d, %d", start, p, f[2*i][1], f[2*i+1][1])
				}
				if plain[2*i][1] != 0 {
					near++
				}
			case !masked[max(0, p-upTaps)] && !masked[min(len(masked)-1, p+upTaps)]:
				if f[2*i][1] != plain[2*i][1] || f[2*i+1][1] != plain[2*i+1][1] {
					t.Fatalf("start %d: tick %d away from the mask differs from the unmasked render", start, p)
				}
			}
			if f[2*i][0] != plain[2*i][0] || f[2*i+1][0] != plain[2*i+1][0] {
				t.Fatalf("start %d: G.722 channel differs at tick %d with the mask", start, p)
			}
		}
		if inside == 0 || near < inside/2 {
			t.Fatalf("masked ticks %d, of them loud unmasked %d", inside, near)
		}
		checkReads(t, seg, all, f, opt)
	}
}

// TestRenderLongG729Payloads: payloads of thousands of G.729 frames cost
// a window about what a stream of short payloads costs (each is decoded
// from the warm-up before the window to a warm-up past it, not whole),
// at 8 and 16 kHz, and render the same however read.
func TestRenderLongG729Payloads(t *testing.T) {
	r := &rec{}
	rng := rand.New(rand.NewPCG(5, 6))
	const entries = 4
	for i := range entries {
		var pl []byte
		for len(pl) < 65000 {
			pl = append(pl, g729Payload(rng)...)
		}
		r.addFramed(uint32(i*4321), 0, 0, pl, G729Samples(len(pl)))
	}
	const seconds = 4
	for _, streams := range [][]StreamLayout{
		{{Codec: G729, Channel: 0}},
		{{Codec: G729, Channel: 0}, {Codec: G722, Channel: 1}},
	} {
		seg := r.segment(Layout{Streams: streams, Start: 2 * frameWindow, End: (2 + seconds) * frameWindow})
		w, err := NewWAVReader([]Segment{seg}, WAVOptions{})
		if err != nil {
			t.Fatal(err)
		}
		all, err := io.ReadAll(w)
		if err != nil {
			t.Fatal(err)
		}
		// Each window: its frames and two warm-ups, per payload; at
		// 16 kHz a window is two WAV blocks, and the filter's context
		// reaches into the next window.
		perWindow := entries * (frameWindow/G729FrameSamples + 2*frameWarmFrames + 1)
		limit := seconds * perWindow
		if w.Rate() == 16000 {
			limit = 4 * seconds * perWindow
		}
		if got := w.rs[0].framesDecoded; got > limit || got == 0 {
			t.Fatalf("rate %d: %d frames decoded for %d s, want at most %d", w.Rate(), got, seconds, limit)
		}
		f := frames(t, all, 2)
		loud := 0
		for _, fr := range f {
			if fr[0] > 1000 || fr[0] < -1000 {
				loud++
			}
		}
		if loud < len(f)/10 {
			t.Fatalf("rate %d: G.729 channel nearly silent", w.Rate())
		}
		checkReads(t, seg, all, f, WAVOptions{})
	}
}

// TestRenderMixedOverlap: where a G.729 entry and a G.711 or G.722 entry
// cover the same ticks of a channel, the one later in map order wins, at
// 8 and at 16 kHz.
func TestRenderMixedOverlap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	g729 := g729Payload(rng)
	g722 := newG722Encoder().encode(testSignal(320))
	ulawPl := fill(160, 0x35)
	// The G.729 payload decoded alone, at 8 kHz.
	alone := make([]int16, 160)
	NewG729Decoder().Decode(alone, g729)
	const pos = 400
	streams := []StreamLayout{{Codec: PCMU, Channel: 0}, {Codec: G729, Channel: 0}, {Codec: G722, Channel: 0}}
	for _, c := range []struct {
		name  string
		order []uint16 // streams in map order, each one payload at pos
		wide  bool
	}{
		{"G.711 after G.729", []uint16{1, 0}, false},
		{"G.729 after G.711", []uint16{0, 1}, false},
		{"G.711 after G.729 at 16 kHz", []uint16{1, 0, 2}, true},
		{"G.729 after G.711 at 16 kHz", []uint16{2, 0, 1}, true},
		{"G.729 after G.722", []uint16{0, 2, 1}, true},
		{"G.722 after G.729", []uint16{0, 1, 2}, true},
	} {
		r := &rec{}
		for _, st := range c.order {
			switch st {
			case 0:
				r.add(20, pos, 0, 0, ulawPl)
			case 1:
				r.addFramed(pos, 1, 0, g729, 160)
			case 2:
				if c.wide {
					r.add(20, pos, 2, 0, g722)
				}
			}
		}
		l := Layout{Streams: streams, Start: 0, End: 1000}
		if !c.wide {
			l.Streams = streams[:2]
		}
		rr, err := NewRenderer(r.segment(l), false)
		if err != nil {
			t.Fatal(err)
		}
		tick := rr.Rate() / 8000
		left, right := make([]int16, 1000*tick), make([]int16, 1000*tick)
		if err := rr.Render(0, left, right); err != nil {
			t.Fatal(err)
		}
		last := c.order[len(c.order)-1]
		for i := range 160 {
			got := left[(pos+i)*tick]
			var want int16
			switch last {
			case 0:
				want = ulawTable[0x35]
			case 1:
				want = alone[i]
			case 2:
				continue // decoded at 16 kHz: not the G.711 or G.729 sample
			}
			if got != want {
				t.Fatalf("%s: tick %d is %d, want %d of the last entry (stream %d)", c.name, pos+i, got, want, last)
			}
		}
		if last == 2 {
			d := make([]int16, 320)
			NewG722Decoder().Decode(d, g722)
			if !slices.Equal(left[2*pos:2*pos+320], d) {
				t.Fatalf("%s: the G.722 ticks are not the G.722 decode", c.name)
			}
		}
	}
}
