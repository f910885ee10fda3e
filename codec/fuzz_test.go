package codec

import (
	"bytes"
	"errors"
	"io"
	"math"
	"testing"
)

func FuzzParseEntry(f *testing.F) {
	f.Add(make([]byte, EntrySize))
	f.Add(AppendEntry(nil, Entry{Off: MaxOff, Len: math.MaxUint16, Pos: math.MaxUint32, Stream: math.MaxUint16, Flags: 0xFF}))
	f.Add(AppendEntry(nil, Entry{Off: 12345, Len: 160, Pos: 16000, Stream: 1, Flags: FlagDTMF}))
	f.Add([]byte{1, 2, 3})
	f.Add(bytes.Repeat([]byte{0xFF}, EntrySize+3))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEntry(b)
		if len(b) < EntrySize || b[15] != 0 {
			if !errors.Is(err, ErrBadEntry) {
				t.Fatalf("ParseEntry(%x) = %+v, %v; want ErrBadEntry", b, e, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("ParseEntry(%x): %v", b, err)
		}
		if e.Off < 0 || e.Off > MaxOff {
			t.Fatalf("offset %d out of range", e.Off)
		}
		enc := AppendEntry(nil, e)
		if !bytes.Equal(enc, b[:EntrySize]) {
			t.Fatalf("round trip: %x -> %+v -> %x", b[:EntrySize], e, enc)
		}
		var put [EntrySize]byte
		PutEntry(put[:], e)
		e2, err := ParseEntry(put[:])
		if err != nil || e2 != e {
			t.Fatalf("PutEntry/ParseEntry: %+v -> %+v, %v", e, e2, err)
		}
	})
}

// checkedReaderAt serves data and fails the test on any read outside it
// or not aligned to map blocks.
type checkedReaderAt struct {
	t       *testing.T
	data    []byte
	aligned bool
}

func (c checkedReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(c.data)) {
		c.t.Errorf("map read [%d, %d) outside [0, %d)", off, off+int64(len(p)), len(c.data))
		return 0, io.EOF
	}
	if c.aligned && off != 0 && !IsMapV2(c.data) && off%mapBlockBytes != 0 {
		c.t.Errorf("map read at %d not block aligned", off)
	}
	return copy(p, c.data[off:]), nil
}

// origReaderAt serves data, like bytes.Reader, and fails the test on
// negative offsets, empty reads and reads larger than the window.
type origReaderAt struct {
	t    *testing.T
	data []byte
}

func (o origReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || len(p) == 0 || len(p) > origWindow {
		o.t.Errorf("orig read of %d at %d", len(p), off)
		return 0, io.EOF
	}
	if off >= int64(len(o.data)) {
		return 0, io.EOF
	}
	n := copy(p, o.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// exactSpans computes the Span of every block of entries with 64-bit ends
// saturated at the top of the timeline. ok is false if an entry does not
// parse.
func exactSpans(mapb []byte) (spans []Span, ok bool) {
	for i := 0; i+EntrySize <= len(mapb); i += EntrySize {
		e, err := ParseEntry(mapb[i:])
		if err != nil {
			return nil, false
		}
		end := uint32(min(uint64(e.Pos)+uint64(e.Len), math.MaxUint32))
		if (i/EntrySize)%EntriesPerBlock == 0 {
			spans = append(spans, Span{Min: e.Pos, End: end})
			continue
		}
		s := &spans[len(spans)-1]
		s.Min, s.End = min(s.Min, e.Pos), max(s.End, end)
	}
	return spans, true
}

func FuzzRender(f *testing.F) {
	r := &rec{}
	r.add(4, 10, 0, 0, fill(30, 0x10))
	r.add(4, 20, 1, FlagDTMF, fill(30, 0x20))
	r.add(4, 25, 0, 0, fill(5, 0x30))
	r.add(4, 0, 2, 0, fill(50, 0x40))
	f.Add(r.mapb, []byte{1, 1, 2, 2, 0, 0}, uint32(0), uint32(100), uint8(0), uint16(7))
	f.Add(r.mapb, []byte{1, 1, 2, 2}, uint32(15), uint32(10), uint8(1|4|16), uint16(1))
	f.Add(r.mapb, []byte{2, 1, 1, 2, 0xF5, 0xFE}, uint32(22), uint32(RenderBlock+3), uint8(2|8|32), uint16(4095))
	f.Add(r.mapb[:len(r.mapb)-3], []byte{1, 1}, uint32(0), uint32(10), uint8(3), uint16(100))
	c := synthCall(synthOpts{seconds: 1, seed: 8, impair: true, hdr: 12})
	f.Add(c.mapb, []byte{1, 1, 2, 2, 1, 0, 0, 1}, uint32(16000), uint32(4000), uint8(0|32), uint16(333))
	f.Add(AppendEntry(nil, Entry{Off: 100, Len: 200, Pos: math.MaxUint32 - 100, Stream: 0}), []byte{1, 1}, uint32(math.MaxUint32-150), uint32(200), uint8(0), uint16(50))
	// G.722 streams: 16 kHz output, windows of decoding, G.711 upsampled.
	f.Add(r.mapb, []byte{3, 1, 1, 2, 3, 1}, uint32(0), uint32(100), uint8(16), uint16(7))
	g := &rec{}
	for i := range 30 {
		g.add(9, uint32(7000+i*160), uint16(i/10), FlagDTMF*EntryFlag(i%7/6), fill(160, byte(i*37)))
	}
	f.Add(g.mapb, []byte{3, 1, 1, 1, 3, 2}, uint32(7900), uint32(4000), uint8(0|16), uint16(999))
	f.Add(g.mapb, []byte{1, 1, 3, 1, 3, 2}, uint32(6000), uint32(RenderBlock+3), uint8(1|4|32), uint16(4095))
	// G.729 beside G.722 (16 kHz, G.729 decoded at 8 kHz and upsampled)
	// and after G.711 and before G.722 on one channel.
	m, _, _ := mixedCall(1, false, func(k int) bool { return k%9 == 4 })
	f.Add(m.mapb, []byte{3, 1, 4, 2}, uint32(0), uint32(9000), uint8(0|16), uint16(4093))
	f.Add(m.mapb, []byte{3, 1, 4, 2}, uint32(3001), uint32(6000), uint8(3|8|32), uint16(17))
	// Version 2 maps of the same calls.
	for _, x := range []*rec{r, c, g, m} {
		v2, _ := encodeV2(x.entries)
		f.Add(v2, []byte{1, 1, 2, 2, 3, 1, 4, 2}, uint32(0), uint32(9000), uint8(1|16), uint16(7))
	}
	m, _, _ = mixedCall(1, true, func(k int) bool { return k%5 == 1 })
	f.Add(m.mapb, []byte{1, 1, 4, 1, 3, 1, 2, 2}, uint32(700), uint32(RenderBlock+5), uint8(0|16|32), uint16(333))
	f.Add(m.mapb, []byte{1, 1, 4, 1, 3, 1, 2, 2}, uint32(4100), uint32(4000), uint8(2|4), uint16(1))

	orig := make([]byte, 64<<10)
	for i := range orig {
		orig[i] = byte(i*131 + i>>7)
	}
	f.Fuzz(func(t *testing.T, mapb, lay []byte, start, length uint32, mode uint8, readSize uint16) {
		mapb = mapb[:min(len(mapb), 8<<10)]
		if mode&0x80 != 0 {
			mapb = mapb[:len(mapb)/EntrySize*EntrySize]
		}
		var streams []StreamLayout
		for i := 0; i+1 < len(lay) && len(streams) < 16; i += 2 {
			ch := int8(lay[i+1])
			if lay[i+1] < 0xF0 {
				ch = int8(lay[i+1]%3) - 1
			}
			streams = append(streams, StreamLayout{Codec: Codec(lay[i] % 5), Channel: ch})
		}
		end := uint32(min(uint64(start)+uint64(length%(1<<15)), math.MaxUint32))
		var spans []Span
		exact := false
		switch mode & 3 {
		case 0:
			spans, exact = exactSpans(mapb)
		case 1:
			exact = true // no index: every block is read
		case 2:
			for i := 0; i+3 < len(lay); i += 4 {
				spans = append(spans, Span{Min: uint32(lay[i])<<8 | uint32(lay[i+1]), End: uint32(lay[i+2])<<8 | uint32(lay[i+3])})
			}
		case 3:
			var x MapIndex
			for i := 0; i+EntrySize <= len(mapb); i += EntrySize {
				if e, err := ParseEntry(mapb[i:]); err == nil {
					x.Add(e, uint32(e.Len))
				}
			}
			spans = x.Spans
		}
		for _, s := range streams {
			exact = exact && !s.Codec.framed() // the reference decodes G.711 only
		}
		opt := WAVOptions{Mono: mode&4 != 0, Swap: mode&8 != 0, MaskDTMF: mode&16 != 0}
		l := Layout{Streams: streams, Start: start, End: end, Spans: spans}
		seg := Segment{
			Orig:    origReaderAt{t, orig},
			Map:     checkedReaderAt{t, mapb, true},
			MapSize: int64(len(mapb)),
			Layout:  l,
		}
		segs, refs := []Segment{seg}, []refSeg{{orig, mapb, l}}
		if mode&32 != 0 {
			l2 := l
			l2.Start, l2.End = l.Start/2, l.Start/2+uint32(length%977)
			seg2 := seg
			seg2.Layout = l2
			segs, refs = append(segs, seg2), append(refs, refSeg{orig, mapb, l2})
		}
		want, wantErr := refWAV(refs, opt)

		rd, err := NewWAVReader(segs, opt)
		if err != nil {
			if exact && wantErr == nil {
				t.Fatalf("NewWAVReader: %v; the reference renders", err)
			}
			return
		}
		var got []byte
		buf := make([]byte, 1+int(readSize)%5000)
		for {
			n, err := rd.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				if exact && wantErr == nil {
					t.Fatalf("read: %v; the reference renders", err)
				}
				return
			}
		}
		if int64(len(got)) != rd.Size() {
			t.Fatalf("read %d bytes, Size %d", len(got), rd.Size())
		}
		if exact {
			if wantErr != nil && rd.Size() > WAVHeaderSize {
				t.Fatalf("no error; the reference fails: %v", wantErr)
			}
			if wantErr == nil && !bytes.Equal(got, want) {
				t.Fatalf("output differs from the reference at byte %d", firstDiff(got, want))
			}
		}
		// Whatever the spans say, a Seek gives the same bytes as reading on.
		for _, off := range []int64{0, 45, int64(len(got)) / 3, int64(len(got)) - 3} {
			if off < 0 || off > int64(len(got)) {
				continue
			}
			if _, err := rd.Seek(off, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			p := make([]byte, min(int64(len(got))-off, 4099))
			if _, err := io.ReadFull(rd, p); err != nil {
				t.Fatalf("read after seek to %d: %v", off, err)
			}
			if !bytes.Equal(p, got[off:off+int64(len(p))]) {
				t.Fatalf("seek to %d: bytes differ from a sequential read", off)
			}
		}
	})
}

// FuzzMapBlockV2: any block either decodes to entries that encode back to
// a map that decodes to the same entries, or is ErrCorruptMap.
func FuzzMapBlockV2(f *testing.F) {
	var enc MapEncoder
	var m []byte
	for i := range 300 {
		m = enc.Append(m, Entry{Off: int64(100 + 218*i), Len: 160, Pos: uint32(80 * i), Stream: uint16(i % 3), Flags: EntryFlag(i % 2)}, 160)
	}
	m = enc.Append(m, Entry{Off: MaxOff, Len: 9000, Pos: 7, Stream: 999, Flags: 0x80}, 9000)
	f.Add(enc.Close(m)[EntrySize:])
	f.Add(appendBlock(nil, 160<<30, 218<<41|160<<30|80<<10|1<<2, slotRun|2<<48|500))
	f.Add([]byte{0x80, 0, 0, 0, 0, 0, 0, 0})
	f.Add(bytes.Repeat([]byte{0xFF}, 24))
	f.Add(appendBlock(nil, slotRun|1<<48|1))
	f.Fuzz(func(t *testing.T, blk []byte) {
		v1, err := AppendMapBlockV2(nil, blk)
		if err != nil {
			if !errors.Is(err, ErrCorruptMap) {
				t.Fatalf("error %v is not ErrCorruptMap", err)
			}
			return
		}
		var enc MapEncoder
		var again []byte
		var entries []Entry
		for i := 0; i < len(v1); i += EntrySize {
			e, err := ParseEntry(v1[i:])
			if err != nil {
				t.Fatalf("decoded entry %d: %v", i/EntrySize, err)
			}
			entries = append(entries, e)
			again = enc.Append(again, e, uint32(e.Len))
		}
		back, err := mapV1(enc.Close(again))
		if err != nil {
			t.Fatalf("re-encoded blocks: %v", err)
		}
		if !bytes.Equal(back, v1) {
			t.Fatalf("re-encoded %d entries read back differently", len(entries))
		}
	})
}
