package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"testing"
)

// encodeV2 returns the version 2 map of entries (samples = Len each) and
// its index.
func encodeV2(entries []Entry) ([]byte, MapIndex) {
	var enc MapEncoder
	var b []byte
	for _, e := range entries {
		b = enc.Append(b, e, uint32(e.Len))
	}
	return enc.Close(b), enc.Index
}

// blocksV2 returns the blocks of a version 2 map.
func blocksV2(m []byte) ([][]byte, error) {
	offs, err := MapBlocksV2(bytes.NewReader(m), int64(len(m)))
	if err != nil {
		return nil, err
	}
	blks := make([][]byte, len(offs)-1)
	for i := range blks {
		blks[i] = m[offs[i]:offs[i+1]]
	}
	return blks, nil
}

// mapV1 returns the entries of a version 2 map in version 1.
func mapV1(m []byte) ([]byte, error) {
	blks, err := blocksV2(m)
	if err != nil {
		return nil, err
	}
	var v1 []byte
	for _, blk := range blks {
		if v1, err = AppendMapBlockV2(v1, blk); err != nil {
			return nil, err
		}
	}
	return v1, nil
}

// decodeV2 returns the entries of a version 2 map, block by block.
func decodeV2(t *testing.T, m []byte) (entries []Entry, blocks int) {
	t.Helper()
	if !IsMapV2(m) {
		t.Fatal("no version 2 header")
	}
	blks, err := blocksV2(m)
	if err != nil {
		t.Fatal(err)
	}
	for b, blk := range blks {
		v1, err := AppendMapBlockV2(nil, blk)
		if err != nil {
			t.Fatalf("block %d: %v", b, err)
		}
		for i := 0; i < len(v1); i += EntrySize {
			e, err := ParseEntry(v1[i:])
			if err != nil {
				t.Fatal(err)
			}
			entries = append(entries, e)
		}
		blocks++
	}
	return entries, blocks
}

// TestMapV2RoundTrip: a version 2 map gives back every entry written,
// in order, also those that need an escape (large jumps back and forth
// in the capture or on the timeline, long pieces, many streams, other
// flags) and across block boundaries; its index has one Span per block
// over that block's entries; and arrival-order entries take 8 bytes each.
func TestMapV2RoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var entries []Entry
	off, pos := int64(24), uint32(0)
	for i := range 30000 {
		e := Entry{Off: off + 58, Len: 160, Pos: pos, Stream: uint16(i % 2)}
		switch rng.IntN(50) {
		case 0:
			e.Off = rng.Int64N(MaxOff)
		case 1:
			e.Pos = rng.Uint32()
		case 2:
			e.Len = uint16(2048 + rng.IntN(60000))
		case 3:
			e.Stream = uint16(256 + rng.IntN(1000))
		case 4:
			e.Flags = EntryFlag(rng.IntN(256))
		case 5:
			e.Off = max(0, off-int64(rng.IntN(1<<22)))
			e.Pos = pos - min(pos, uint32(rng.IntN(1<<20)))
		}
		if i == 29999 {
			e = Entry{Off: MaxOff - 10, Len: 10, Pos: math.MaxUint32 - 10, Stream: math.MaxUint16, Flags: 0xFF}
		}
		entries = append(entries, e)
		off, pos = e.Off+int64(e.Len), e.Pos+80
	}
	m, idx := encodeV2(entries)
	got, blocks := decodeV2(t, m)
	if len(got) != len(entries) {
		t.Fatalf("%d entries back of %d", len(got), len(entries))
	}
	for i := range got {
		if got[i] != entries[i] {
			t.Fatalf("entry %d: %+v, wrote %+v", i, got[i], entries[i])
		}
	}
	if blocks != len(idx.Spans) || blocks < 4 || idx.Len() != len(entries) {
		t.Fatalf("%d blocks, %d spans, %d entries indexed", blocks, len(idx.Spans), idx.Len())
	}
	// The spans, recomputed from each block's entries.
	n := 0
	blks, _ := blocksV2(m)
	for b, blk := range blks {
		v1, _ := AppendMapBlockV2(nil, blk)
		var x MapIndex
		for i := 0; i < len(v1); i += EntrySize {
			e, _ := ParseEntry(v1[i:])
			x.add(e, uint32(e.Len), i == 0)
		}
		if x.Spans[0] != idx.Spans[b] {
			t.Fatalf("block %d: span %+v, index %+v", b, x.Spans[0], idx.Spans[b])
		}
		n += x.Len()
	}
	if n != len(entries) {
		t.Fatalf("%d entries in the blocks", n)
	}

	plain := make([]Entry, 10000)
	for i := range plain {
		plain[i] = Entry{Off: int64(24 + 218*i + 58), Len: 160, Pos: uint32(160 * (i / 2)), Stream: uint16(i % 2)}
	}
	m, _ = encodeV2(plain)
	if perEntry := float64(len(m)) / float64(len(plain)); perEntry > 8.01 {
		t.Errorf("%.2f bytes per entry", perEntry)
	}
}

// TestMapV2RendersLikeV1: a recording whose map is version 2 renders to
// the same WAV bytes as with the version 1 map of the same entries, for
// clean and impaired synthetic calls (reordering, loss, fragments, DTMF
// flags, foreign streams), whole and from deep seeks.
func TestMapV2RendersLikeV1(t *testing.T) {
	for _, o := range []synthOpts{
		{seconds: 90, seed: 1},
		{seconds: 12 * 60, seed: 5, impair: true},
		{seconds: 300, seed: 9, impair: true, hdr: 54},
	} {
		r := synthCall(o)
		v2, idx := encodeV2(r.entries)
		if len(v2) >= len(r.mapb)*3/4 {
			t.Errorf("seed %d: version 2 map %d bytes, version 1 %d", o.seed, len(v2), len(r.mapb))
		}
		l := Layout{Streams: callStreams, Start: 0, End: r.end()}
		for _, mask := range []bool{false, true} {
			one := r.segment(l)
			two := one
			two.Map, two.MapSize, two.Layout.Spans = bytes.NewReader(v2), int64(len(v2)), idx.Spans
			want := renderAll(t, one, mask)
			if got := renderAll(t, two, mask); !bytes.Equal(got, want) {
				t.Fatalf("seed %d mask %v: version 2 renders differently", o.seed, mask)
			}
		}
	}
}

func renderAll(t *testing.T, seg Segment, mask bool) []byte {
	t.Helper()
	rd, err := NewWAVReader([]Segment{seg}, WAVOptions{MaskDTMF: mask})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	// And from the middle on, by a fresh reader.
	rd, _ = NewWAVReader([]Segment{seg}, WAVOptions{MaskDTMF: mask})
	mid := int64(len(b)/2) &^ 3
	if _, err := rd.Seek(mid, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	tail, err := io.ReadAll(rd)
	if err != nil || !bytes.Equal(tail, b[mid:]) {
		t.Fatalf("seek to %d: %v, tail differs", mid, err)
	}
	return b
}

// TestMapV2Corrupt: a damaged version 2 map is ErrCorruptMap when it is
// rendered, never a crash.
func TestMapV2Corrupt(t *testing.T) {
	r := synthCall(synthOpts{seconds: 30, seed: 2})
	var enc MapEncoder
	var v2 []byte
	for _, e := range r.entries {
		v2 = enc.Append(v2, e, uint32(e.Len))
	}
	v2 = enc.Close(v2)
	one := func(d delta) uint64 {
		s, ok := compactSlot(d)
		if !ok {
			t.Fatalf("%+v does not fit a slot", d)
		}
		return s
	}
	run := func(lag, n int) uint64 { return slotRun | uint64(lag)<<48 | uint64(n) }
	for name, damage := range map[string]func([]byte) []byte{
		"bad slot":      func(m []byte) []byte { m[EntrySize] = 0x80; m[EntrySize+7] = 1; return m },
		"cut escape":    func(m []byte) []byte { return appendBlock(m, slotEscape) },
		"no end slot":   func(m []byte) []byte { return m[:len(m)-slotSize] },
		"end too long":  func(m []byte) []byte { m[len(m)-1] += slotSize; return m },
		"end too short": func(m []byte) []byte { m[len(m)-1] -= slotSize; return m },
		"end mid-block": func(m []byte) []byte { return appendBlock(m, one(delta{len: 1}), slotEnd, one(delta{len: 1})) },
		"empty block":   func(m []byte) []byte { return appendBlock(m) },
		"offset below 0": func(m []byte) []byte {
			return appendBlock(m[:EntrySize], uint64(1)<<62)
		},
		"half a slot": func(m []byte) []byte { return m[:len(m)-4] },
		"escape bad byte": func(m []byte) []byte {
			return appendBlock(m, slotEscape, 0x0101010101010101, 0x0101010101010101)
		},
		"run before its lag": func(m []byte) []byte { return appendBlock(m, one(delta{len: 1}), run(2, 3)) },
		"run lag 0":          func(m []byte) []byte { return appendBlock(m, one(delta{len: 1}), run(0, 3)) },
		"run lag 9": func(m []byte) []byte {
			b := make([]uint64, 9)
			for i := range b {
				b[i] = one(delta{len: uint16(i)})
			}
			return appendBlock(m, append(b, run(9, 1))...)
		},
		"run of 0":         func(m []byte) []byte { return appendBlock(m, one(delta{len: 1}), run(1, 0)) },
		"run past a block": func(m []byte) []byte { return appendBlock(m, one(delta{len: 1}), run(1, maxBlockEntries)) },
		"run bad bits":     func(m []byte) []byte { return appendBlock(m, one(delta{len: 1}), run(1, 1)|1<<40) },
		"run below 0": func(m []byte) []byte {
			return appendBlock(m, one(delta{pos: 100}), one(delta{pos: -100}), run(1, 2))
		},
	} {
		m := damage(bytes.Clone(v2))
		seg := Segment{Orig: bytes.NewReader(r.orig), Map: bytes.NewReader(m), MapSize: int64(len(m)),
			Layout: Layout{Streams: callStreams, Start: 0, End: r.end()}}
		rd, err := NewWAVReader([]Segment{seg}, WAVOptions{})
		if err == nil {
			_, err = io.ReadAll(rd)
		}
		if !errors.Is(err, ErrCorruptMap) {
			t.Errorf("%s: %v, want ErrCorruptMap", name, err)
		}
	}
}

// appendBlock appends a block of slots and its end slot to m.
func appendBlock(m []byte, slots ...uint64) []byte {
	for _, s := range slots {
		m = binary.BigEndian.AppendUint64(m, s)
	}
	return binary.BigEndian.AppendUint64(m, slotEnd|uint64(len(slots)*slotSize))
}

// TestMapV2Runs: a steady call (both directions interleaved, 20 ms
// packets, a constant record header) takes a few slots per block of 8,192
// entries, a single direction likewise, and the map still comes in blocks
// of at most 8,192 entries, one Span each, that read back on their own.
func TestMapV2Runs(t *testing.T) {
	for _, c := range []struct {
		name    string
		entries []Entry
	}{
		{"one direction", func() (es []Entry) {
			for i := range 30000 {
				es = append(es, Entry{Off: int64(82 + 218*i), Len: 160, Pos: uint32(160 * i)})
			}
			return es
		}()},
		{"two directions", func() (es []Entry) {
			for i := range 30000 {
				es = append(es, Entry{Off: int64(82 + 218*i), Len: 160, Pos: uint32(160*(i/2) + 7*(i%2)), Stream: uint16(i % 2)})
			}
			return es
		}()},
	} {
		m, idx := encodeV2(c.entries)
		blocks := (len(c.entries) + maxBlockEntries - 1) / maxBlockEntries
		if len(idx.Spans) != blocks {
			t.Errorf("%s: %d spans for %d entries", c.name, len(idx.Spans), len(c.entries))
		}
		slots := (len(m) - EntrySize) / slotSize
		if slots > 8*blocks {
			t.Errorf("%s: %d slots for %d entries in %d blocks", c.name, slots, len(c.entries), blocks)
		}
		got, n := decodeV2(t, m)
		if n != blocks || len(got) != len(c.entries) {
			t.Fatalf("%s: %d blocks, %d entries back", c.name, n, len(got))
		}
		for i := range got {
			if got[i] != c.entries[i] {
				t.Fatalf("%s: entry %d: %+v, wrote %+v", c.name, i, got[i], c.entries[i])
			}
		}
		t.Logf("%s: %d entries in %d bytes (%d blocks)", c.name, len(c.entries), len(m), blocks)
	}
}

// TestMapV2RunsBreak: runs end and start again around irregular entries
// (a late packet, a DTMF flag, an escape), and a block ends at 8,192
// entries or when its slots fill MapBlockV2; every entry reads back.
func TestMapV2RunsBreak(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var entries []Entry
	off := int64(24)
	for i := range 50000 {
		e := Entry{Off: off + 58, Len: 160, Pos: uint32(160*(i/2) + 3*(i%2)), Stream: uint16(i % 2)}
		switch rng.IntN(40) {
		case 0:
			e.Pos += uint32(rng.IntN(100))
		case 1:
			e.Flags = FlagDTMF
		case 2:
			e.Stream = 300
		case 3:
			e.Off += 1 << 23
		}
		entries = append(entries, e)
		off = e.Off + int64(e.Len)
	}
	m, idx := encodeV2(entries)
	got, blocks := decodeV2(t, m)
	if len(got) != len(entries) || blocks != len(idx.Spans) {
		t.Fatalf("%d entries back of %d, %d blocks, %d spans", len(got), len(entries), blocks, len(idx.Spans))
	}
	for i := range got {
		if got[i] != entries[i] {
			t.Fatalf("entry %d: %+v, wrote %+v", i, got[i], entries[i])
		}
	}
	// Irregular entries that are all escapes fill blocks by their bytes.
	var wide []Entry
	for i := range 10000 {
		wide = append(wide, Entry{Off: rng.Int64N(MaxOff), Len: 3000, Pos: uint32(i) * 3000, Stream: uint16(i % 7)})
	}
	m, idx = encodeV2(wide)
	blks, err := blocksV2(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(blks) < 4 || len(blks) != len(idx.Spans) {
		t.Fatalf("%d blocks, %d spans", len(blks), len(idx.Spans))
	}
	for i, b := range blks {
		if len(b) > MapBlockV2 {
			t.Fatalf("block %d of %d bytes", i, len(b))
		}
	}
	if got, _ := decodeV2(t, m); len(got) != len(wide) {
		t.Fatalf("%d entries back of %d", len(got), len(wide))
	}
}
