package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// ulaw and alaw give the PCM value of one code, for spot checks.
func ulaw(b byte) int16 { return ituUlaw(b) }
func alaw(b byte) int16 { return ituAlaw(b) }

// frames decodes WAV data (after the header) into per-frame channel values.
func frames(t *testing.T, wav []byte, channels int) [][]int16 {
	t.Helper()
	if len(wav) < WAVHeaderSize {
		t.Fatalf("wav of %d bytes", len(wav))
	}
	data := wav[WAVHeaderSize:]
	var out [][]int16
	for i := 0; i+2*channels <= len(data); i += 2 * channels {
		f := make([]int16, channels)
		for c := range channels {
			f[c] = int16(binary.LittleEndian.Uint16(data[i+2*c:]))
		}
		out = append(out, f)
	}
	return out
}

// check renders segs with NewWAVReader, compares the whole file with the
// reference renderer under several read patterns, and returns it.
func check(t *testing.T, segs []Segment, refs []refSeg, opt WAVOptions) []byte {
	t.Helper()
	return checkN(t, segs, refs, opt, 0)
}

// checkN is check with at most n read patterns (0 = all).
func checkN(t *testing.T, segs []Segment, refs []refSeg, opt WAVOptions, n int) []byte {
	t.Helper()
	want, err := refWAV(refs, opt)
	if err != nil {
		t.Fatalf("reference: %v", err)
	}
	patterns := [][]int{{1 << 20}, {1}, {3}, {7, 1, 4096, 2}, {32 << 10}, {4*RenderBlock + 1}}
	if len(want) > 256<<10 { // tiny reads of big files only cost time
		patterns = [][]int{{4097, 3, 1, 32 << 10}, {1 << 20}, {4*RenderBlock + 1}}
	}
	if n > 0 {
		patterns = patterns[:n]
	}
	for _, sizes := range patterns {
		r, err := NewWAVReader(segs, opt)
		if err != nil {
			t.Fatal(err)
		}
		if r.Size() != int64(len(want)) {
			t.Fatalf("Size() = %d, reference %d", r.Size(), len(want))
		}
		got := readAllSizes(t, r, sizes)
		if !bytes.Equal(got, want) {
			t.Fatalf("read sizes %v: output differs from reference at byte %d (len %d vs %d)",
				sizes, firstDiff(got, want), len(got), len(want))
		}
	}
	return want
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestRenderCases(t *testing.T) {
	pcmu := []StreamLayout{{PCMU, 0}, {PCMA, 1}}
	type tc struct {
		name   string
		build  func() ([]Segment, []refSeg)
		opt    WAVOptions
		verify func(t *testing.T, f [][]int16)
	}
	one := func(r *rec, l Layout) ([]Segment, []refSeg) {
		return []Segment{r.segment(l)}, []refSeg{r.ref(l)}
	}
	cases := []tc{
		{
			name: "placement and gaps silent",
			build: func() ([]Segment, []refSeg) {
				r := &rec{}
				r.add(10, 100, 0, 0, fill(20, 0x10))
				r.add(10, 150, 1, 0, fill(10, 0x20))
				return one(r, Layout{Streams: pcmu, Start: 90, End: 200})
			},
			verify: func(t *testing.T, f [][]int16) {
				for i, fr := range f {
					p := 90 + i
					wl, wr := int16(0), int16(0)
					if p >= 100 && p < 120 {
						wl = ulaw(0x10)
					}
					if p >= 150 && p < 160 {
						wr = alaw(0x20)
					}
					if fr[0] != wl || fr[1] != wr {
						t.Fatalf("pos %d: got %v, want [%d %d]", p, fr, wl, wr)
					}
				}
			},
		},
		{
			name: "overlap later wins",
			build: func() ([]Segment, []refSeg) {
				r := &rec{}
				r.add(5, 0, 0, 0, fill(100, 0x11))
				r.add(5, 50, 0, 0, fill(20, 0x22)) // same stream, later
				r.add(5, 60, 2, 0, fill(20, 0x33)) // another stream on the same channel, later still
				r.add(5, 10, 0, 0, fill(5, 0x44))  // later, inside the first
				return one(r, Layout{Streams: []StreamLayout{{PCMU, 0}, {PCMU, 1}, {PCMU, 0}}, Start: 0, End: 100})
			},
			verify: func(t *testing.T, f [][]int16) {
				for p, fr := range f {
					w := ulaw(0x11)
					switch {
					case p >= 10 && p < 15:
						w = ulaw(0x44)
					case p >= 60 && p < 80:
						w = ulaw(0x33)
					case p >= 50 && p < 60:
						w = ulaw(0x22)
					}
					if fr[0] != w || fr[1] != 0 {
						t.Fatalf("pos %d: got %v, want [%d 0]", p, fr, w)
					}
				}
			},
		},
		{
			name: "entries straddle window edges",
			build: func() ([]Segment, []refSeg) {
				r := &rec{}
				r.add(7, 990, 0, 0, fill(20, 0x55))
				r.add(7, 1990, 1, 0, fill(20, 0x66))
				r.add(7, 500, 0, 0, fill(2000, 0x77)) // covers the whole window
				r.add(7, 980, 1, 0, fill(10, 0x01))   // ends exactly at Start
				r.add(7, 2000, 1, 0, fill(10, 0x02))  // starts exactly at End
				return one(r, Layout{Streams: pcmu, Start: 1000, End: 2000})
			},
			verify: func(t *testing.T, f [][]int16) {
				if len(f) != 1000 {
					t.Fatalf("%d frames", len(f))
				}
				for i, fr := range f {
					wr := int16(0)
					if i >= 990 {
						wr = alaw(0x66)
					}
					if fr[0] != ulaw(0x77) || fr[1] != wr {
						t.Fatalf("frame %d: %v", i, fr)
					}
				}
			},
		},
		{
			name: "mono saturates, swap ignored",
			opt:  WAVOptions{Mono: true, Swap: true},
			build: func() ([]Segment, []refSeg) {
				r := &rec{}
				r.add(3, 0, 0, 0, []byte{0x80, 0x00, 0x80, 0xFF, 0x90}) // +32124, -32124, +32124, 0
				r.add(3, 0, 1, 0, []byte{0x80, 0x00, 0x00, 0xFF, 0x10}) // µ-law on the right too
				return one(r, Layout{Streams: []StreamLayout{{PCMU, 0}, {PCMU, 1}}, Start: 0, End: 6})
			},
			verify: func(t *testing.T, f [][]int16) {
				want := []int16{32767, -32768, 0, 0, ulaw(0x90) + ulaw(0x10), 0}
				for i, fr := range f {
					if fr[0] != want[i] {
						t.Fatalf("frame %d: %d, want %d", i, fr[0], want[i])
					}
				}
			},
		},
		{
			name: "swap",
			opt:  WAVOptions{Swap: true},
			build: func() ([]Segment, []refSeg) {
				r := &rec{}
				r.add(3, 0, 0, 0, fill(4, 0x10))
				r.add(3, 0, 1, 0, fill(4, 0x20))
				return one(r, Layout{Streams: pcmu, Start: 0, End: 4})
			},
			verify: func(t *testing.T, f [][]int16) {
				for i, fr := range f {
					if fr[0] != alaw(0x20) || fr[1] != ulaw(0x10) {
						t.Fatalf("frame %d: %v", i, fr)
					}
				}
			},
		},
		{
			name: "DTMF masked",
			opt:  WAVOptions{MaskDTMF: true},
			build: func() ([]Segment, []refSeg) {
				r := &rec{}
				r.add(3, 0, 0, 0, fill(30, 0x10))
				r.add(3, 10, 0, FlagDTMF, fill(10, 0x20)) // later: silences [10,20)
				r.add(3, 0, 1, FlagDTMF, fill(5, 0x30))
				r.add(3, 2, 1, 0, fill(1, 0x40)) // later, unflagged: plays
				return one(r, Layout{Streams: pcmu, Start: 0, End: 30})
			},
			verify: func(t *testing.T, f [][]int16) {
				for p, fr := range f {
					wl, wr := ulaw(0x10), int16(0)
					if p >= 10 && p < 20 {
						wl = 0
					}
					if p == 2 {
						wr = alaw(0x40)
					}
					if fr[0] != wl || fr[1] != wr {
						t.Fatalf("pos %d: %v want [%d %d]", p, fr, wl, wr)
					}
				}
			},
		},
		{
			name: "DTMF not masked",
			build: func() ([]Segment, []refSeg) {
				r := &rec{}
				r.add(3, 0, 0, FlagDTMF, fill(30, 0x10))
				return one(r, Layout{Streams: pcmu, Start: 0, End: 30})
			},
			verify: func(t *testing.T, f [][]int16) {
				for p, fr := range f {
					if fr[0] != ulaw(0x10) {
						t.Fatalf("pos %d: %v", p, fr)
					}
				}
			},
		},
		{
			name: "skipped streams",
			build: func() ([]Segment, []refSeg) {
				r := &rec{}
				r.add(3, 0, 0, 0, fill(10, 0x10))
				r.add(3, 0, 1, 0, fill(10, 0x20)) // Channel -1
				r.add(3, 0, 2, 0, fill(10, 0x30)) // Unknown codec
				r.add(3, 0, 3, 0, fill(10, 0x40)) // Codec(9)
				r.add(3, 0, 4, 0, fill(10, 0x50)) // Channel 2
				r.add(3, 0, 9, 0, fill(10, 0x60)) // no such stream
				return one(r, Layout{Streams: []StreamLayout{{PCMU, 0}, {PCMU, -1}, {Unknown, 1}, {Codec(9), 1}, {PCMA, 2}}, Start: 0, End: 10})
			},
			verify: func(t *testing.T, f [][]int16) {
				for p, fr := range f {
					if fr[0] != ulaw(0x10) || fr[1] != 0 {
						t.Fatalf("pos %d: %v", p, fr)
					}
				}
			},
		},
		{
			name: "several segments",
			build: func() ([]Segment, []refSeg) {
				a, b, c := &rec{}, &rec{}, &rec{}
				a.add(4, 0, 0, 0, fill(RenderBlock+10, 0x10))
				b.add(4, 5, 1, 0, fill(20, 0x20))
				c.add(4, 0, 0, 0, fill(3, 0x30))
				la := Layout{Streams: pcmu, Start: 0, End: RenderBlock + 5}
				lb := Layout{Streams: pcmu, Start: 0, End: 10}
				lempty := Layout{Streams: pcmu, Start: 7, End: 7}
				lc := Layout{Streams: pcmu, Start: 1, End: 2*RenderBlock + 3}
				return []Segment{a.segment(la), b.segment(lempty), b.segment(lb), c.segment(lc)},
					[]refSeg{a.ref(la), b.ref(lempty), b.ref(lb), c.ref(lc)}
			},
			verify: func(t *testing.T, f [][]int16) {
				if len(f) != RenderBlock+5+10+2*RenderBlock+2 {
					t.Fatalf("%d frames", len(f))
				}
				if f[RenderBlock+4][0] != ulaw(0x10) || f[RenderBlock+5][0] != 0 || f[RenderBlock+5+5][1] != alaw(0x20) {
					t.Fatal("segment boundary wrong")
				}
				if f[RenderBlock+15][0] != ulaw(0x30) || f[RenderBlock+17][0] != 0 {
					t.Fatal("third segment wrong")
				}
			},
		},
		{
			name: "empty",
			build: func() ([]Segment, []refSeg) {
				return nil, nil
			},
		},
		{
			name: "empty map",
			build: func() ([]Segment, []refSeg) {
				r := &rec{}
				return one(r, Layout{Streams: pcmu, Start: 3, End: RenderBlock + 9})
			},
		},
		{
			name: "no spans",
			build: func() ([]Segment, []refSeg) {
				r := synthCall(synthOpts{seconds: 45, seed: 9, impair: true})
				l := Layout{Streams: callStreams, Start: 0, End: r.end()}
				s := r.segment(l)
				s.Layout.Spans = nil
				return []Segment{s}, []refSeg{r.ref(l)}
			},
		},
		{
			name: "short spans",
			build: func() ([]Segment, []refSeg) {
				r := synthCall(synthOpts{seconds: 45, seed: 9, impair: true})
				l := Layout{Streams: callStreams, Start: 0, End: r.end()}
				s := r.segment(l)
				s.Layout.Spans = s.Layout.Spans[:1]
				return []Segment{s}, []refSeg{r.ref(l)}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			segs, refs := c.build()
			wav := check(t, segs, refs, c.opt)
			if c.verify != nil {
				ch := 2
				if c.opt.Mono {
					ch = 1
				}
				c.verify(t, frames(t, wav, ch))
			}
		})
	}
}

// TestRenderSynthesized compares the reader with the reference on
// synthesized calls with every impairment, spanning several map blocks, in
// all output shapes and for windows cutting through packets.
func TestRenderSynthesized(t *testing.T) {
	r := synthCall(synthOpts{seconds: 90, seed: 1, impair: true})
	if len(r.idx.Spans) < 3 {
		t.Fatalf("want several map blocks, have %d", len(r.idx.Spans))
	}
	r2 := synthCall(synthOpts{seconds: 7, seed: 2, impair: true})
	end := r.end()
	type run struct {
		opt WAVOptions
		win [2]uint32
	}
	runs := []run{
		{WAVOptions{}, [2]uint32{16000 + 77, end - 1234}},
		{WAVOptions{}, [2]uint32{500000, 500000 + 3*RenderBlock + 17}},
		{WAVOptions{}, [2]uint32{0, end + 100}},
	}
	for _, opt := range []WAVOptions{{Mono: true}, {Swap: true}, {MaskDTMF: true}, {Mono: true, MaskDTMF: true}} {
		runs = append(runs, run{opt, [2]uint32{0, end + 100}})
	}
	for i, run := range runs {
		t.Run(fmt.Sprintf("%+v/%d-%d", run.opt, run.win[0], run.win[1]), func(t *testing.T) {
			l := Layout{Streams: callStreams, Start: run.win[0], End: run.win[1]}
			l2 := Layout{Streams: callStreams, Start: 16000 + 13, End: r2.end() - 99}
			n := 1 // all read patterns for the full window, one for the rest
			if i == 2 {
				n = 0
			}
			checkN(t, []Segment{r.segment(l), r2.segment(l2), r.segment(l)}, []refSeg{r.ref(l), r2.ref(l2), r.ref(l)}, run.opt, n)
		})
	}
}

// TestSeekBoundaries seeks to every interesting offset, in an order that
// jumps back and forth, and compares what follows with the reference.
func TestSeekBoundaries(t *testing.T) {
	r := synthCall(synthOpts{seconds: 5, seed: 3, impair: true})
	r2 := synthCall(synthOpts{seconds: 3, seed: 4, impair: true})
	for _, opt := range []WAVOptions{{}, {Mono: true}} {
		t.Run(fmt.Sprintf("%+v", opt), func(t *testing.T) {
			l1 := Layout{Streams: callStreams, Start: 15000, End: 15000 + 2*RenderBlock + 333}
			l2 := Layout{Streams: callStreams, Start: 16001, End: r2.end()}
			segs := []Segment{r.segment(l1), r2.segment(l2)}
			want, err := refWAV([]refSeg{r.ref(l1), r2.ref(l2)}, opt)
			if err != nil {
				t.Fatal(err)
			}
			fb := int64(4)
			if opt.Mono {
				fb = 2
			}
			size := int64(len(want))
			var offs []int64
			add := func(o ...int64) {
				for _, x := range o {
					for d := int64(-3); d <= 3; d++ {
						offs = append(offs, x+d)
					}
				}
			}
			add(0, 22, WAVHeaderSize)
			seg1 := int64(l1.End - l1.Start)
			for _, frame := range []int64{1, RenderBlock, 2 * RenderBlock, seg1, seg1 + RenderBlock, seg1 + RenderBlock/2} {
				add(WAVHeaderSize + frame*fb)
			}
			add(size, size/2, size+100)
			rd, err := NewWAVReader(segs, opt)
			if err != nil {
				t.Fatal(err)
			}
			// Forward, then backward, then shuffled.
			order := slices.Clone(offs)
			sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
			rev := slices.Clone(order)
			slices.Reverse(rev)
			all := append(append(order, rev...), offs...)
			for i, off := range all {
				if off < 0 {
					if _, err := rd.Seek(off, io.SeekStart); err == nil {
						t.Fatalf("seek to %d: no error", off)
					}
					continue
				}
				n := []int{1, 2, 3, 5, 4097, 3*RenderBlock*4 + 1}[i%6]
				got, err := rd.Seek(off, io.SeekStart)
				if err != nil || got != off {
					t.Fatalf("seek %d: %d, %v", off, got, err)
				}
				buf := make([]byte, n)
				m, err := io.ReadFull(rd, buf)
				wantN := int(max(0, min(int64(n), size-off)))
				if m != wantN {
					t.Fatalf("read %d at %d: got %d bytes (%v), want %d", n, off, m, err, wantN)
				}
				if wantN > 0 && !bytes.Equal(buf[:m], want[off:off+int64(m)]) {
					t.Fatalf("read %d at %d: bytes differ at %d", n, off, firstDiff(buf[:m], want[off:]))
				}
				if cur, _ := rd.Seek(0, io.SeekCurrent); cur != max(off, off+int64(m)) {
					t.Fatalf("position after read: %d", cur)
				}
			}
		})
	}
}

func TestSeekWhence(t *testing.T) {
	r := &rec{}
	r.add(1, 0, 0, 0, fill(100, 0x10))
	rd, err := NewWAVReader([]Segment{r.segment(Layout{Streams: callStreams, End: 100})}, WAVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rd.Size() != 44+400 {
		t.Fatalf("size %d", rd.Size())
	}
	for _, tc := range []struct {
		off    int64
		whence int
		want   int64
		err    bool
	}{
		{10, io.SeekStart, 10, false},
		{5, io.SeekCurrent, 15, false},
		{-4, io.SeekEnd, 440, false},
		{-1000, io.SeekCurrent, 0, true},
		{0, 7, 0, true},
		{100, io.SeekEnd, 544, false},
	} {
		got, err := rd.Seek(tc.off, tc.whence)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Fatalf("Seek(%d, %d) = %d, %v", tc.off, tc.whence, got, err)
		}
	}
	if n, err := rd.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Fatalf("read past end: %d, %v", n, err)
	}
	rd.Seek(440, io.SeekStart)
	if n, err := rd.Read(make([]byte, 10)); n != 4 || err != nil {
		t.Fatalf("read at end-4: %d, %v", n, err)
	}
	if n, err := rd.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Fatalf("read at end: %d, %v", n, err)
	}
}

// TestDeepSeekIO checks that a Read deep into a long recording reads only
// the map blocks whose Span overlaps the rendered samples, each with one
// whole-block ReadAt (after one read of the map's first bytes for its
// version), and only original bytes that needed entries point at
// (plus small gaps between coalesced neighbours), and that many tiny Reads
// cost no more I/O than one big one.
func TestDeepSeekIO(t *testing.T) {
	one := synthCall(synthOpts{seconds: 12 * 60, seed: 5, impair: true})
	two := *one
	two.mapb, two.idx = encodeV2(one.entries)
	for _, r := range []*rec{one, &two} {
		end := r.end()
		k := len(r.idx.Spans) / 2
		boundary := int64(r.idx.Spans[k+1].Min)
		for _, tc := range []struct {
			name string
			off  int64
		}{
			{"mid-sample 11 minutes before the end", int64(WAVHeaderSize) + int64(end-11*8000*60)*4 + 2},
			{"across a map block boundary", int64(WAVHeaderSize) + (boundary-RenderBlock/2)*4 + 1},
			{"last bytes", int64(WAVHeaderSize) + int64(end)*4 - 64<<10},
		} {
			name := tc.name
			if IsMapV2(r.mapb) {
				name = "map 2, " + name
			}
			t.Run(name, func(t *testing.T) { testDeepSeekIO(t, r, tc.off) })
		}
	}
}

func testDeepSeekIO(t *testing.T, r *rec, off int64) {
	end := r.end()
	seg, orig, mapr := counted(r.segment(Layout{Streams: callStreams, Start: 0, End: end}))
	rd, err := NewWAVReader([]Segment{seg}, WAVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(orig.calls)+len(mapr.calls) != 0 {
		t.Fatal("NewWAVReader did I/O")
	}
	const readLen = 64 << 10
	if _, err := rd.Seek(off, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, readLen)
	if _, err := io.ReadFull(rd, buf); err != nil {
		t.Fatal(err)
	}
	first := (off - WAVHeaderSize) / 4
	last := (off + readLen - 1 - WAVHeaderSize) / 4
	lo := uint32(first / RenderBlock * RenderBlock)
	hi := uint32((last/RenderBlock + 1) * RenderBlock)
	renders := int(hi-lo) / RenderBlock

	// Map blocks: exactly those whose span overlaps [lo, hi), whole blocks.
	wantBlocks := map[int64]bool{}
	for b, sp := range r.idx.Spans {
		if sp.Min < hi && sp.End > lo {
			wantBlocks[int64(b)] = true
		}
	}
	gotBlocks := map[int64]bool{}
	blockOf := map[int64]int64{} // block start → block
	var ends []int64             // version 2: each block's end
	if IsMapV2(r.mapb) {
		offs, err := MapBlocksV2(bytes.NewReader(r.mapb), int64(len(r.mapb)))
		if err != nil {
			t.Fatal(err)
		}
		for b := range len(offs) - 1 {
			blockOf[offs[b]] = int64(b)
			ends = append(ends, offs[b+1])
		}
	} else {
		for b := int64(0); b*mapBlockBytes < int64(len(r.mapb)); b++ {
			blockOf[b*mapBlockBytes] = b
			ends = append(ends, min((b+1)*mapBlockBytes, int64(len(r.mapb))))
		}
	}
	probes := 0
	for i, c := range mapr.calls {
		if i == 0 && c.off == 0 && c.n == EntrySize {
			continue // the map's version, read once
		}
		if IsMapV2(r.mapb) && c.n == slotSize && i <= len(ends) {
			probes++ // the blocks' end slots, read once
			continue
		}
		b, ok := blockOf[c.off]
		if !ok || c.off+int64(c.n) != ends[b] {
			t.Fatalf("map read %+v is not one whole block", c)
		}
		if !wantBlocks[b] {
			t.Fatalf("map block %d read, its span %+v does not overlap [%d, %d)", b, r.idx.Spans[b], lo, hi)
		}
		gotBlocks[b] = true
	}
	if len(gotBlocks) != len(wantBlocks) {
		t.Fatalf("read map blocks %v, want %v", gotBlocks, wantBlocks)
	}
	if probes > len(ends) || len(mapr.calls)-probes > renders*len(wantBlocks) {
		t.Fatalf("%d map reads for %d renders of %d blocks", len(mapr.calls), renders, len(wantBlocks))
	}
	t.Logf("deep read of %d bytes: %d map ReadAt (%d blocks of %d), %d orig ReadAt (%d bytes)",
		readLen, len(mapr.calls), len(wantBlocks), len(r.idx.Spans), len(orig.calls), orig.bytes())

	// Original bytes: each read starts at a needed byte and ends after one,
	// and everything read lies in needed ranges or small gaps.
	type rng struct{ a, b int64 }
	var need []rng
	var needBytes int64
	for _, e := range r.entries {
		sl := callStreams[e.Stream]
		if sl.Channel < 0 || !sl.Codec.Supported() {
			continue
		}
		s, u := max(e.Pos, lo), min(e.Pos+uint32(e.Len), hi)
		if s >= u {
			continue
		}
		a := e.Off + int64(s-e.Pos)
		need = append(need, rng{a, a + int64(u-s)})
		needBytes += int64(u - s)
	}
	hullA, hullB := need[0].a, need[0].b
	for _, n := range need {
		hullA, hullB = min(hullA, n.a), max(hullB, n.b)
	}
	needed := make([]bool, hullB-hullA)
	for _, n := range need {
		for x := n.a; x < n.b; x++ {
			needed[x-hullA] = true
		}
	}
	covered := func(x int64) bool { return x >= hullA && x < hullB && needed[x-hullA] }
	for _, c := range orig.calls {
		if !covered(c.off) || !covered(c.off+int64(c.n)-1) {
			t.Fatalf("orig read %+v does not start and end in needed bytes", c)
		}
		if c.n > origWindow {
			t.Fatalf("orig read of %d bytes", c.n)
		}
		run := int64(0)
		for x := c.off; x < c.off+int64(c.n); x++ {
			if covered(x) {
				run = 0
				continue
			}
			if run++; run > coalesceGap {
				t.Fatalf("orig read %+v spans a gap of more than %d bytes", c, coalesceGap)
			}
		}
	}
	if orig.bytes() > 2*needBytes {
		t.Fatalf("read %d original bytes for %d needed", orig.bytes(), needBytes)
	}
	if len(orig.calls) > len(need)/4 {
		t.Fatalf("%d orig reads for %d needed pieces: not coalesced", len(orig.calls), len(need))
	}

	// The same range with tiny reads costs the same I/O.
	mapCalls, origCalls := len(mapr.calls), len(orig.calls)
	rd2, _ := NewWAVReader([]Segment{seg}, WAVOptions{})
	mapr.reset()
	orig.reset()
	rd2.Seek(off, io.SeekStart)
	var got []byte
	for len(got) < readLen {
		p := make([]byte, 1+len(got)%5)
		n, err := rd2.Read(p[:min(len(p), readLen-len(got))])
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p[:n]...)
	}
	if !bytes.Equal(got, buf) {
		t.Fatal("tiny reads differ from one big read")
	}
	if len(mapr.calls) != mapCalls || len(orig.calls) != origCalls {
		t.Fatalf("tiny reads: %d map and %d orig ReadAt, one read: %d and %d", len(mapr.calls), len(orig.calls), mapCalls, origCalls)
	}
}

type fakeErr struct{}

func (fakeErr) Error() string { return "disk on fire" }

var errFake = fakeErr{}

// shortReaderAt returns fewer bytes than asked with a nil error.
type shortReaderAt struct{ r io.ReaderAt }

func (s shortReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if len(p) < 2 {
		return s.r.ReadAt(p, off)
	}
	return s.r.ReadAt(p[:len(p)/2], off)
}

// lyingReaderAt claims to have read more than asked.
type lyingReaderAt struct{}

func (lyingReaderAt) ReadAt(p []byte, off int64) (int, error) { return len(p) + 1, nil }

func TestReaderErrors(t *testing.T) {
	r := synthCall(synthOpts{seconds: 3, seed: 6})
	l := Layout{Streams: callStreams, Start: 0, End: r.end()}
	readErr := func(seg Segment) error {
		t.Helper()
		rd, err := NewWAVReader([]Segment{seg}, WAVOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(io.Discard, rd)
		if err == nil {
			t.Fatal("no error")
		}
		return err
	}
	t.Run("map error", func(t *testing.T) {
		seg, _, m := counted(r.segment(l))
		m.err = errFake
		if err := readErr(seg); !errors.Is(err, errFake) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("orig error", func(t *testing.T) {
		seg, o, _ := counted(r.segment(l))
		o.err = errFake
		if err := readErr(seg); !errors.Is(err, errFake) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("map shorter than MapSize", func(t *testing.T) {
		seg := r.segment(l)
		seg.MapSize += EntrySize
		if err := readErr(seg); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("original truncated", func(t *testing.T) {
		seg := r.segment(l)
		seg.Orig = bytes.NewReader(r.orig[:len(r.orig)-1])
		if err := readErr(seg); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("short read without error", func(t *testing.T) {
		seg := r.segment(l)
		seg.Orig = shortReaderAt{seg.Orig}
		if err := readErr(seg); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("reader lies about count", func(t *testing.T) {
		seg := r.segment(l)
		seg.Map = lyingReaderAt{}
		if err := readErr(seg); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("corrupt entry", func(t *testing.T) {
		seg := r.segment(l)
		bad := slices.Clone(r.mapb)
		bad[len(bad)-1] = 1
		seg.Map = bytes.NewReader(bad)
		err := readErr(seg)
		if !errors.Is(err, ErrCorruptMap) || !errors.Is(err, ErrBadEntry) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("error keeps bytes read before it", func(t *testing.T) {
		seg, o, _ := counted(r.segment(l))
		rd, _ := NewWAVReader([]Segment{seg}, WAVOptions{})
		first := make([]byte, WAVHeaderSize+2*RenderBlock*4) // silence before the call
		if _, err := io.ReadFull(rd, first); err != nil {
			t.Fatal(err)
		}
		if len(o.calls) != 0 {
			t.Fatal("silence read the original")
		}
		o.err = errFake
		n, err := rd.Read(make([]byte, 100))
		if n != 0 || !errors.Is(err, errFake) {
			t.Fatalf("got %d, %v", n, err)
		}
		o.err = nil // recovers: the next Read renders again
		if _, err := io.Copy(io.Discard, rd); err != nil {
			t.Fatal(err)
		}
	})
	for _, tc := range []struct {
		name string
		seg  Segment
		opt  WAVOptions
		is   error
	}{
		{"map size not whole entries", Segment{Orig: bytes.NewReader(nil), Map: bytes.NewReader(nil), MapSize: 17}, WAVOptions{}, ErrCorruptMap},
		{"negative map size", Segment{MapSize: -16}, WAVOptions{}, nil},
		{"missing map", Segment{Orig: bytes.NewReader(nil), MapSize: 16}, WAVOptions{}, nil},
		{"missing original", Segment{Map: bytes.NewReader(nil), MapSize: 16}, WAVOptions{}, nil},
		{"window reversed", Segment{Layout: Layout{Start: 5, End: 4}}, WAVOptions{}, nil},
		{"too long", Segment{Layout: Layout{Start: 0, End: 1<<30 + 1}}, WAVOptions{}, ErrTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewWAVReader([]Segment{tc.seg}, tc.opt)
			if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("got %v", err)
			}
		})
	}
	// The largest stereo WAV fits; mono of the same length too.
	if _, err := NewWAVReader([]Segment{{Layout: Layout{Start: 0, End: 1<<30 - 10}}}, WAVOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewWAVReader([]Segment{{Layout: Layout{Start: 0, End: 1<<30 - 9}}}, WAVOptions{}); !errors.Is(err, ErrTooLong) {
		t.Fatalf("one frame more: %v", err)
	}
	if _, err := NewWAVReader([]Segment{{Layout: Layout{Start: 0, End: 1<<30 + 1}}}, WAVOptions{Mono: true}); err != nil {
		t.Fatal(err)
	}
}

func TestRenderer(t *testing.T) {
	r := synthCall(synthOpts{seconds: 4, seed: 7, impair: true})
	l := Layout{Streams: callStreams, Start: 0, End: r.end()}
	want, err := refWAV([]refSeg{r.ref(l)}, WAVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := frames(t, want, 2)
	rr, err := NewRenderer(r.segment(l), false)
	if err != nil {
		t.Fatal(err)
	}
	// Ranges of every size, including more than the original window.
	for _, w := range [][2]int{{0, 1}, {16000, 16001}, {15999, 17000}, {100, 30000}, {0, len(f)}} {
		n := w[1] - w[0]
		left, right := make([]int16, n), make([]int16, n)
		for i := range left {
			left[i], right[i] = 99, 99
		}
		if err := rr.Render(uint32(w[0]), left, right); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if left[i] != f[w[0]+i][0] || right[i] != f[w[0]+i][1] {
				t.Fatalf("range %v: pos %d: %d %d, want %v", w, w[0]+i, left[i], right[i], f[w[0]+i])
			}
		}
	}
	if err := rr.Render(0, make([]int16, 3), make([]int16, 4)); err == nil {
		t.Fatal("mismatched buffers accepted")
	}
	if err := rr.Render(0, nil, nil); err != nil {
		t.Fatal(err)
	}
	// Near the end of the timeline.
	if err := rr.Render(^uint32(0)-5, make([]int16, 10), make([]int16, 10)); err != nil {
		t.Fatal(err)
	}
	if _, err := NewRenderer(Segment{MapSize: 3}, false); err == nil {
		t.Fatal("bad segment accepted")
	}
}

// TestGoldenWAV pins the bytes of a small rendering; refresh with -update.
func TestGoldenWAV(t *testing.T) {
	r := &rec{}
	r.add(12, 3, 0, 0, []byte{0x00, 0x7F, 0x80, 0xFF, 0x55, 0xD5, 0x2A, 0xAA})
	r.add(12, 6, 1, 0, []byte{0xD5, 0x55, 0x00, 0x80, 0x2A, 0xAA})
	r.add(12, 9, 1, FlagDTMF, []byte{0x10, 0x20})
	l := Layout{Streams: []StreamLayout{{PCMU, 0}, {PCMA, 1}}, Start: 1, End: 16}
	for _, tc := range []struct {
		name string
		opt  WAVOptions
	}{
		{"golden_stereo.wav", WAVOptions{}},
		{"golden_mono_masked.wav", WAVOptions{Mono: true, MaskDTMF: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rd, err := NewWAVReader([]Segment{r.segment(l)}, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rd)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := refWAV([]refSeg{r.ref(l)}, tc.opt)
			if err != nil || !bytes.Equal(got, ref) {
				t.Fatalf("differs from the reference renderer (%v)", err)
			}
			path := filepath.Join("testdata", tc.name)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("differs from %s at byte %d", path, firstDiff(got, want))
			}
		})
	}
}
