package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
)

// rec is a synthesized recording: an "original" of junk headers and
// payloads, and the placement map pointing into it.
type rec struct {
	orig    []byte
	mapb    []byte
	entries []Entry
	idx     MapIndex
}

// add appends hdr bytes of junk and then payload to the original and an
// entry for the payload to the map.
func (r *rec) add(hdr int, pos uint32, stream uint16, flags EntryFlag, payload []byte) Entry {
	for i := range hdr {
		r.orig = append(r.orig, byte(0xA0+i))
	}
	e := Entry{Off: int64(len(r.orig)), Len: uint16(len(payload)), Pos: pos, Stream: stream, Flags: flags}
	r.orig = append(r.orig, payload...)
	r.mapb = AppendEntry(r.mapb, e)
	r.entries = append(r.entries, e)
	r.idx.Add(e, uint32(len(payload)))
	return e
}

// segment returns a Segment over r with l's streams and window and r's
// index.
func (r *rec) segment(l Layout) Segment {
	l.Spans = r.idx.Spans
	return Segment{
		Orig:    bytes.NewReader(r.orig),
		Map:     bytes.NewReader(r.mapb),
		MapSize: int64(len(r.mapb)),
		Layout:  l,
	}
}

// fill returns n bytes of payload all equal to b.
func fill(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }

// synthOpts describes a synthesized call.
type synthOpts struct {
	seconds int
	seed    uint64
	impair  bool // reorder, loss, duplicates, overlaps, fragments, DTMF, foreign and unsupported streams
	hdr     int  // bytes of header before each payload; 0 = random 40..90
}

// callStreams is the stream table of synthesized calls.
var callStreams = []StreamLayout{
	{Codec: PCMU, Channel: 0},  // remote
	{Codec: PCMA, Channel: 1},  // local
	{Codec: PCMU, Channel: -1}, // another call in the same capture
	{Codec: Unknown, Channel: 0},
}

// synthCall synthesizes a two-direction call of o.seconds with 20 ms
// packets starting 2 s into the timeline.
func synthCall(o synthOpts) *rec {
	rng := rand.New(rand.NewPCG(o.seed, 0x5eed))
	r := &rec{}
	hdr := func() int {
		if o.hdr > 0 {
			return o.hdr
		}
		return 40 + rng.IntN(50)
	}
	payload := func(n int) []byte {
		p := make([]byte, (n+7)/8*8)
		for i := 0; i < len(p); i += 8 {
			binary.LittleEndian.PutUint64(p[i:], rng.Uint64())
		}
		return p[:n]
	}
	type pkt struct {
		pos    uint32
		stream uint16
		flags  EntryFlag
		data   []byte
	}
	var held *pkt // a packet delayed to simulate reordering
	emit := func(p pkt) {
		if o.impair && p.stream < 2 && rng.IntN(100) == 0 { // IP fragments: two pieces
			k := 1 + rng.IntN(len(p.data)-1)
			r.add(hdr(), p.pos, p.stream, p.flags, p.data[:k])
			r.add(34, p.pos+uint32(k), p.stream, p.flags, p.data[k:])
			return
		}
		r.add(hdr(), p.pos, p.stream, p.flags, p.data)
	}
	ticks := o.seconds * 50
	for k := range ticks {
		for dir := range uint16(2) {
			p := pkt{pos: 16000 + uint32(k)*160 + uint32(dir)*37, stream: dir, data: payload(160)}
			if !o.impair {
				emit(p)
				continue
			}
			if dir == 1 && k%500 >= 100 && k%500 < 110 {
				p.flags = FlagDTMF
			}
			switch rng.IntN(100) {
			case 0: // lost
				continue
			case 1: // duplicated
				emit(p)
			case 2: // overlapped by a later, different payload (re-anchor)
				emit(p)
				p.pos += 80
				p.data = payload(120)
			case 3: // delayed behind the next packet
				if held == nil {
					held = &p
					continue
				}
			case 4: // foreign and unsupported streams on top
				emit(pkt{pos: p.pos, stream: 2, data: payload(160)})
				emit(pkt{pos: p.pos + 20, stream: 3, data: payload(100)})
			}
			emit(p)
			if held != nil && held.stream == p.stream {
				emit(*held)
				held = nil
			}
		}
	}
	if held != nil {
		emit(*held)
	}
	return r
}

// end returns the end of r's last entry on the timeline.
func (r *rec) end() uint32 {
	var end uint32
	for _, e := range r.entries {
		end = max(end, e.Pos+uint32(e.Len))
	}
	return end
}

// refSeg is what the reference renderer needs of a segment.
type refSeg struct {
	orig, mapb []byte
	layout     Layout
}

func (r *rec) ref(l Layout) refSeg { return refSeg{r.orig, r.mapb, l} }

var errRefOrig = errors.New("reference: entry outside the original")

// refWAV renders segs the straightforward way: every entry, in map order,
// sample by sample, with the ITU decoders, into a whole-window buffer.
func refWAV(segs []refSeg, opt WAVOptions) ([]byte, error) {
	channels := 2
	if opt.Mono {
		channels = 1
	}
	var data []byte
	var firstErr error
	rate := 8000
	for _, s := range segs {
		if s.layout.Rate() == 16000 {
			rate = 16000
		}
	}
	for _, s := range segs {
		l := s.layout
		n := int(l.End - l.Start)
		buf := [2][]int16{make([]int16, n), make([]int16, n)}
		if IsMapV2(s.mapb) {
			v1, err := mapV1(s.mapb)
			if err != nil {
				return nil, err
			}
			s.mapb = v1
		}
		if len(s.mapb)%EntrySize != 0 {
			return nil, ErrCorruptMap
		}
		if rate == 16000 {
			var err error
			if buf, err = refWide(s, opt); err != nil {
				if errors.Is(err, ErrCorruptMap) {
					return nil, err
				}
				if firstErr == nil {
					firstErr = err
				}
			}
			n = len(buf[0])
			s.mapb = nil
		}
		for i := 0; i < len(s.mapb); i += EntrySize {
			e, err := ParseEntry(s.mapb[i:])
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrCorruptMap, err)
			}
			if int(e.Stream) >= len(l.Streams) {
				continue
			}
			sl := l.Streams[e.Stream]
			if sl.Channel != 0 && sl.Channel != 1 {
				continue
			}
			var dec func(byte) int16
			switch sl.Codec {
			case PCMU:
				dec = ituUlaw
			case PCMA:
				dec = ituAlaw
			default:
				continue
			}
			from := max(int64(e.Pos), int64(l.Start))
			to := min(int64(e.Pos)+int64(e.Len), int64(l.End))
			for t := from; t < to; t++ {
				k := t - int64(e.Pos)
				var v int16
				if !(opt.MaskDTMF && e.Flags&FlagDTMF != 0) {
					off := e.Off + k
					if off >= int64(len(s.orig)) {
						if firstErr == nil {
							firstErr = errRefOrig
						}
						continue
					}
					v = dec(s.orig[off])
				}
				buf[sl.Channel][t-int64(l.Start)] = v
			}
		}
		left, right := buf[0], buf[1]
		if opt.Swap {
			left, right = right, left
		}
		for i := range n {
			if opt.Mono {
				m := int32(left[i]) + int32(right[i])
				m = min(max(m, math.MinInt16), math.MaxInt16)
				data = binary.LittleEndian.AppendUint16(data, uint16(int16(m)))
			} else {
				data = binary.LittleEndian.AppendUint16(data, uint16(left[i]))
				data = binary.LittleEndian.AppendUint16(data, uint16(right[i]))
			}
		}
	}
	h := WAVHeader(rate, channels, uint32(len(data)))
	return append(h[:], data...), firstErr
}

// refWide renders one segment at 16 kHz the straightforward way: the
// G.711 entries into an 8 kHz buffer of the whole window plus upTaps ticks
// either side, upsampled; then every G.722 window the segment touches
// decoded from its warm-up, entry by entry in map order; a tick goes to
// the entry latest in map order.
func refWide(s refSeg, opt WAVOptions) ([2][]int16, error) {
	l := s.layout
	n := int64(l.End) - int64(l.Start)
	out := [2][]int16{make([]int16, 2*n), make([]int16, 2*n)}
	var entries []Entry
	for i := 0; i < len(s.mapb); i += EntrySize {
		e, err := ParseEntry(s.mapb[i:])
		if err != nil {
			return out, fmt.Errorf("%w: %w", ErrCorruptMap, err)
		}
		entries = append(entries, e)
	}
	if n == 0 {
		return out, nil
	}
	var firstErr error
	stream := func(e Entry) (StreamLayout, bool) {
		if int(e.Stream) >= len(l.Streams) {
			return StreamLayout{}, false
		}
		sl := l.Streams[e.Stream]
		return sl, (sl.Channel == 0 || sl.Channel == 1) && sl.Codec.Supported()
	}
	masked := func(e Entry) bool { return opt.MaskDTMF && e.Flags&FlagDTMF != 0 }
	lo8 := max(int64(l.Start)-upTaps, 0)
	hi8 := int64(l.End) + upTaps
	narrow := [2][]int16{make([]int16, hi8-lo8), make([]int16, hi8-lo8)}
	owner := [2][]int{make([]int, n), make([]int, n)}
	isG722 := [2][]bool{make([]bool, n), make([]bool, n)}
	for ch := range 2 {
		for i := range owner[ch] {
			owner[ch][i] = -1
		}
	}
	for i, e := range entries {
		sl, ok := stream(e)
		if !ok || sl.Codec == G722 {
			continue
		}
		dec := ituUlaw
		if sl.Codec == PCMA {
			dec = ituAlaw
		}
		for t := max(int64(e.Pos), lo8); t < min(int64(e.Pos)+int64(e.Len), hi8); t++ {
			var v int16
			if !masked(e) {
				off := e.Off + t - int64(e.Pos)
				if off >= int64(len(s.orig)) {
					if firstErr == nil {
						firstErr = errRefOrig
					}
					continue
				}
				v = dec(s.orig[off])
			}
			narrow[sl.Channel][t-lo8] = v
			if t >= int64(l.Start) && t < int64(l.End) {
				owner[sl.Channel][t-int64(l.Start)] = i
			}
		}
	}
	for k := int64(l.Start) / g722Window; k <= (int64(l.End)-1)/g722Window; k++ {
		base := k * g722Window
		wlo, whi := max(base-g722Warmup, 0), base+g722Window
		decs := map[uint16]*G722Decoder{}
		for i, e := range entries {
			sl, ok := stream(e)
			if !ok || sl.Codec != G722 {
				continue
			}
			d := decs[e.Stream]
			if d == nil {
				d = NewG722Decoder()
				decs[e.Stream] = d
			}
			for t := max(int64(e.Pos), wlo); t < min(int64(e.Pos)+int64(e.Len), whi); t++ {
				off := e.Off + t - int64(e.Pos)
				if off >= int64(len(s.orig)) {
					if firstErr == nil {
						firstErr = errRefOrig
					}
					continue
				}
				var pcm [2]int16
				d.Decode(pcm[:], s.orig[off:off+1])
				if t < base || t < int64(l.Start) || t >= int64(l.End) {
					continue
				}
				j := t - int64(l.Start)
				if owner[sl.Channel][j] > i {
					continue // a later G.711 entry
				}
				if masked(e) {
					pcm = [2]int16{}
				}
				owner[sl.Channel][j], isG722[sl.Channel][j] = i, true
				out[sl.Channel][2*j], out[sl.Channel][2*j+1] = pcm[0], pcm[1]
			}
		}
	}
	for ch := range 2 {
		for j := range n {
			if isG722[ch][j] {
				continue
			}
			x := int64(l.Start) + j - lo8
			out[ch][2*j] = narrow[ch][x]
			var acc int64
			for k := range int64(upTaps) {
				if x-k >= 0 {
					acc += int64(upCoef[k]) * int64(narrow[ch][x-k])
				}
				if x+1+k < int64(len(narrow[ch])) {
					acc += int64(upCoef[k]) * int64(narrow[ch][x+1+k])
				}
			}
			out[ch][2*j+1] = int16(min(max((acc+1<<15)>>16, math.MinInt16), math.MaxInt16))
		}
	}
	return out, firstErr
}

// countingReaderAt wraps a ReaderAt and records every call.
type countingReaderAt struct {
	r     io.ReaderAt
	mu    sync.Mutex
	calls []readCall
	err   error // returned by every call when set
}

type readCall struct {
	off int64
	n   int
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.mu.Lock()
	c.calls = append(c.calls, readCall{off, len(p)})
	err := c.err
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return c.r.ReadAt(p, off)
}

func (c *countingReaderAt) reset() {
	c.mu.Lock()
	c.calls = c.calls[:0]
	c.mu.Unlock()
}

func (c *countingReaderAt) bytes() int64 {
	var n int64
	for _, k := range c.calls {
		n += int64(k.n)
	}
	return n
}

// counted returns seg with its readers wrapped.
func counted(seg Segment) (Segment, *countingReaderAt, *countingReaderAt) {
	o := &countingReaderAt{r: seg.Orig}
	m := &countingReaderAt{r: seg.Map}
	seg.Orig, seg.Map = o, m
	return seg, o, m
}

// readAllSizes reads r to the end with Reads of the given sizes in turn.
func readAllSizes(t testing.TB, r io.Reader, sizes []int) []byte {
	t.Helper()
	var out []byte
	for i := 0; ; i++ {
		p := make([]byte, sizes[i%len(sizes)])
		n, err := r.Read(p)
		out = append(out, p[:n]...)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if n == 0 && len(p) > 0 {
			t.Fatal("read returned 0, nil")
		}
	}
}
