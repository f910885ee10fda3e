package codec

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Map version 2 stores the same entries as version 1 (a flat sequence of
// EntrySize-byte entries) in a fraction of the bytes. It begins with the
// 16-byte MapHeaderV2, whose last byte is not zero, so it is never a
// version 1 entry: a map is version 2 exactly when it begins with that
// header. Then come blocks, each read on its own, of at most MapBlockV2
// bytes and at most 8,192 entries, each a sequence of 8-byte big-endian
// slots ending with an end slot. Every entry has a delta: its fields
// relative to the block's previous entry (the zero Entry before the
// block's first), that is Off − (previous Off + previous Len), Len,
// Pos − previous Pos, Stream and Flags. The slots:
//
//	bit 63 = 0, one entry, its delta in the slot:
//	  62..41  Off − (previous Off + previous Len), signed, 22 bits
//	  40..30  Len, 11 bits
//	  29..10  Pos − previous Pos, signed, 20 bits
//	   9..2   Stream, 8 bits
//	   1..0   Flags, 2 bits
//	0x8000000000000000, escape: the next 16 bytes are the entry in the
//	version 1 encoding (an entry whose fields do not fit the above)
//	0xC0 ‖ lag (8 bits, 1..8) ‖ 0 (16 bits) ‖ n (32 bits, ≥ 1), run: the
//	next n entries each have the delta of the entry lag entries before
//	it in the block (a call's two directions interleaved at a steady
//	packet rate repeat the delta two entries back)
//	0xFE ‖ 0 (24 bits) ‖ bytes (32 bits), end: the block's last slot;
//	bytes is the size of the block's slots before it (not 0)
//
// Any other slot with bit 63 set is corrupt. The end slots let a reader
// find every block from the map's end (MapBlocksV2) without reading the
// entries. A steady call takes a few slots per block; the map index keeps
// one Span per block.
const (
	MapBlockV2      = 64 << 10
	slotSize        = 8
	maxBlockEntries = MapBlockV2 / slotSize
	maxRunLag       = 8
	slotEscape      = uint64(1) << 63
	slotRun         = uint64(0xC0) << 56
	slotEnd         = uint64(0xFE) << 56
)

// MapHeaderV2 begins every version 2 map.
var MapHeaderV2 = [EntrySize]byte{'c', 'v', 'm', 'a', 'p', 15: 2}

// delta is an entry relative to its predecessor in a block.
type delta struct {
	off    int64 // Off − (previous Off + previous Len)
	pos    int64 // Pos − previous Pos
	len    uint16
	stream uint16
	flags  EntryFlag
}

func deltaOf(prev, e Entry) delta {
	return delta{off: e.Off - (prev.Off + int64(prev.Len)), pos: int64(e.Pos) - int64(prev.Pos),
		len: e.Len, stream: e.Stream, flags: e.Flags}
}

// apply returns the entry with delta d after prev, false when a field
// leaves its range.
func (d delta) apply(prev Entry) (Entry, bool) {
	off := prev.Off + int64(prev.Len) + d.off
	pos := int64(prev.Pos) + d.pos
	if off < 0 || off > MaxOff || pos < 0 || pos > math.MaxUint32 {
		return Entry{}, false
	}
	return Entry{Off: off, Len: d.len, Pos: uint32(pos), Stream: d.stream, Flags: d.flags}, true
}

// blockState is what encoding and decoding keep of the current block.
type blockState struct {
	prev    Entry
	entries int
	hist    [maxRunLag]delta // hist[(entries-k)%maxRunLag] is the delta k entries back
}

func (s *blockState) push(e Entry, d delta) {
	s.hist[s.entries%maxRunLag] = d
	s.entries++
	s.prev = e
}

// back returns the delta of the entry lag entries before the next one.
func (s *blockState) back(lag int) delta {
	return s.hist[(s.entries-lag)%maxRunLag]
}

// MapEncoder writes a version 2 map: the header before the first entry,
// then the entries in blocks. It keeps the map's index as it goes. The
// zero value is ready to use; Close ends the map.
type MapEncoder struct {
	Index   MapIndex
	started bool
	used    int // bytes of the current block written
	blk     blockState
	runLag  int // lag of the run being counted, 0 for none
	runN    int // entries in it
}

// Append appends e's encoding to b (the header too, before the first
// entry); e's payload covers samples [e.Pos, e.Pos+samples). An entry
// that continues a run adds no bytes until the run ends.
func (m *MapEncoder) Append(b []byte, e Entry, samples uint32) []byte {
	if !m.started {
		b = append(b, MapHeaderV2[:]...)
		m.started = true
	}
	if m.blk.entries == maxBlockEntries {
		b = m.endBlock(b)
	}
	d := deltaOf(m.blk.prev, e)
	if m.runLag > 0 && m.blk.back(m.runLag) == d {
		m.runN++
		m.Index.add(e, samples, false)
		m.blk.push(e, d)
		return b
	}
	b = m.endRun(b)
	lag := 0
	for k := 1; k <= min(maxRunLag, m.blk.entries); k++ {
		if m.blk.back(k) == d {
			lag = k
			break
		}
	}
	slot, ok := compactSlot(d)
	need := slotSize // a run's slot, written when the run ends
	if lag == 0 && !ok {
		need += EntrySize
	}
	if m.used+need > MapBlockV2-slotSize {
		b = m.endBlock(b)
		d = deltaOf(m.blk.prev, e)
		slot, ok = compactSlot(d)
		lag, need = 0, slotSize
		if !ok {
			need += EntrySize
		}
	}
	m.Index.add(e, samples, m.blk.entries == 0)
	m.used += need
	switch {
	case lag > 0:
		m.runLag, m.runN = lag, 1
	case ok:
		b = binary.BigEndian.AppendUint64(b, slot)
	default:
		b = binary.BigEndian.AppendUint64(b, slotEscape)
		b = AppendEntry(b, e)
	}
	m.blk.push(e, d)
	return b
}

// endRun appends the slot of the run being counted, if any. Its bytes
// were counted in m.used when it began.
func (m *MapEncoder) endRun(b []byte) []byte {
	if m.runLag > 0 {
		b = binary.BigEndian.AppendUint64(b, slotRun|uint64(m.runLag)<<48|uint64(m.runN))
		m.runLag, m.runN = 0, 0
	}
	return b
}

// endBlock ends the current block with its end slot.
func (m *MapEncoder) endBlock(b []byte) []byte {
	b = m.endRun(b)
	b = binary.BigEndian.AppendUint64(b, slotEnd|uint64(m.used))
	m.used, m.blk = 0, blockState{}
	return b
}

// Close appends what ends the map: the last run and the last block's end
// slot. A map without entries is empty. Append must not be called after.
func (m *MapEncoder) Close(b []byte) []byte {
	if m.blk.entries > 0 {
		b = m.endBlock(b)
	}
	return b
}

// compactSlot returns the one-slot encoding of delta d, if its fields fit.
func compactSlot(d delta) (uint64, bool) {
	if d.off < -1<<21 || d.off >= 1<<21 || d.len >= 1<<11 || d.pos < -1<<19 || d.pos >= 1<<19 ||
		d.stream >= 1<<8 || d.flags >= 1<<2 {
		return 0, false
	}
	return uint64(d.off)&(1<<22-1)<<41 | uint64(d.len)<<30 | uint64(d.pos)&(1<<20-1)<<10 |
		uint64(d.stream)<<2 | uint64(d.flags), true
}

// signExtend returns the low bits of v as a signed number.
func signExtend(v uint64, bits uint) int64 {
	return int64(v<<(64-bits)) >> (64 - bits)
}

// IsMapV2 reports whether a map beginning with head (its first
// EntrySize bytes or fewer) is a version 2 map.
func IsMapV2(head []byte) bool {
	return len(head) >= EntrySize && [EntrySize]byte(head[:EntrySize]) == MapHeaderV2
}

// MapBlocksV2 finds the blocks of the version 2 map of size bytes read
// from r, by their end slots from the map's end: it returns the offset of
// each block and, last, size (block i is [offs[i], offs[i+1])). It reads
// one slot per block. A map whose end slots do not chain back to the
// header is ErrCorruptMap.
func MapBlocksV2(r io.ReaderAt, size int64) ([]int64, error) {
	offs := []int64{size}
	var slot [slotSize]byte
	for end := size; end > EntrySize; {
		if end-EntrySize < slotSize || (end-EntrySize)%slotSize != 0 {
			return nil, fmt.Errorf("%w: block ending at byte %d cut off", ErrCorruptMap, end)
		}
		n, err := r.ReadAt(slot[:], end-slotSize)
		if err := fullRead(n, len(slot), err); err != nil {
			return nil, fmt.Errorf("codec: read map end slot at %d: %w", end-slotSize, err)
		}
		s := binary.BigEndian.Uint64(slot[:])
		body := int64(s &^ slotEnd)
		if s&^(1<<32-1) != slotEnd || body%slotSize != 0 || body == 0 || body > MapBlockV2-slotSize || body > end-slotSize-EntrySize {
			return nil, fmt.Errorf("%w: no end slot at byte %d", ErrCorruptMap, end-slotSize)
		}
		end -= slotSize + body
		offs = append(offs, end)
	}
	for i, j := 0, len(offs)-1; i < j; i, j = i+1, j-1 {
		offs[i], offs[j] = offs[j], offs[i]
	}
	return offs, nil
}

// AppendMapBlockV2 appends the entries of the version 2 map block blk (its
// end slot included) to dst in the version 1 encoding. A block that breaks
// the format is ErrCorruptMap.
func AppendMapBlockV2(dst, blk []byte) ([]byte, error) {
	if len(blk) < slotSize || len(blk)%slotSize != 0 || len(blk) > MapBlockV2 {
		return dst, fmt.Errorf("%w: block of %d bytes", ErrCorruptMap, len(blk))
	}
	body := len(blk) - slotSize
	if s := binary.BigEndian.Uint64(blk[body:]); s != slotEnd|uint64(body) || body == 0 {
		return dst, fmt.Errorf("%w: block of %d bytes without its end slot", ErrCorruptMap, len(blk))
	}
	var st blockState
	add := func(e Entry, d delta) error {
		if st.entries == maxBlockEntries {
			return fmt.Errorf("%w: more than %d entries in a block", ErrCorruptMap, maxBlockEntries)
		}
		dst = AppendEntry(dst, e)
		st.push(e, d)
		return nil
	}
	for i := 0; i < body; i += slotSize {
		s := binary.BigEndian.Uint64(blk[i:])
		switch {
		case s == slotEscape:
			if i+slotSize+EntrySize > body {
				return dst, fmt.Errorf("%w: escape at byte %d cut off", ErrCorruptMap, i)
			}
			e, err := ParseEntry(blk[i+slotSize : i+slotSize+EntrySize])
			if err != nil {
				return dst, fmt.Errorf("%w: byte %d: %w", ErrCorruptMap, i, err)
			}
			if err := add(e, deltaOf(st.prev, e)); err != nil {
				return dst, err
			}
			i += EntrySize
		case s>>56 == slotRun>>56 && s>>32&0xFFFF == 0:
			lag, n := int(s>>48&0xFF), int(s&(1<<32-1))
			if lag < 1 || lag > maxRunLag || lag > st.entries || n < 1 || n > maxBlockEntries-st.entries {
				return dst, fmt.Errorf("%w: bad run at byte %d", ErrCorruptMap, i)
			}
			for range n {
				d := st.back(lag)
				e, ok := d.apply(st.prev)
				if !ok {
					return dst, fmt.Errorf("%w: run at byte %d out of range", ErrCorruptMap, i)
				}
				if err := add(e, d); err != nil {
					return dst, err
				}
			}
		case s&slotEscape != 0:
			return dst, fmt.Errorf("%w: bad slot at byte %d", ErrCorruptMap, i)
		default:
			d := delta{off: signExtend(s>>41, 22), pos: signExtend(s>>10, 20), len: uint16(s >> 30 & (1<<11 - 1)),
				stream: uint16(s >> 2 & (1<<8 - 1)), flags: EntryFlag(s & 3)}
			e, ok := d.apply(st.prev)
			if !ok {
				return dst, fmt.Errorf("%w: entry at byte %d out of range", ErrCorruptMap, i)
			}
			if err := add(e, d); err != nil {
				return dst, err
			}
		}
	}
	return dst, nil
}
