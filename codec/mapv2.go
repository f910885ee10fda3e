package codec

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Map version 2 stores the same entries as version 1 (a flat sequence of
// EntrySize-byte entries) in about half the bytes. It begins with the
// 16-byte MapHeaderV2, whose last byte is not zero, so it is never a
// version 1 entry: a map is version 2 exactly when it begins with that
// header. Then come blocks of MapBlockV2 bytes (the last one shorter),
// each a sequence of 8-byte big-endian slots, read on its own:
//
//	bit 63 = 0, an entry relative to the block's previous entry (the
//	zero Entry before the block's first):
//	  62..41  Off − (previous Off + previous Len), signed, 22 bits
//	  40..30  Len, 11 bits
//	  29..10  Pos − previous Pos, signed, 20 bits
//	   9..2   Stream, 8 bits
//	   1..0   Flags, 2 bits
//	0x8000000000000000, escape: the next 16 bytes are the entry in the
//	version 1 encoding (an entry whose fields do not fit the above)
//	0xFFFFFFFFFFFFFFFF, padding: the block ends here (only padding
//	follows), the next entry did not fit in what was left of it
//
// Any other slot with bit 63 set is corrupt. Writing entries in arrival
// order, almost all take one slot; a block holds up to 8,192 entries, and
// the map index keeps one Span per block.
const (
	MapBlockV2      = 64 << 10
	slotSize        = 8
	maxBlockEntries = MapBlockV2 / slotSize
	slotEscape      = uint64(1) << 63
	slotPad         = ^uint64(0)
)

// MapHeaderV2 begins every version 2 map.
var MapHeaderV2 = [EntrySize]byte{'c', 'v', 'm', 'a', 'p', 15: 2}

// MapEncoder writes a version 2 map: the header before the first entry,
// then the entries in blocks. It keeps the map's index as it goes. The
// zero value is ready to use.
type MapEncoder struct {
	Index   MapIndex
	started bool
	used    int // bytes of the current block written
	prev    Entry
}

// Append appends e's encoding to b (the header too, before the first
// entry); e's payload covers samples [e.Pos, e.Pos+samples).
func (m *MapEncoder) Append(b []byte, e Entry, samples uint32) []byte {
	if !m.started {
		b = append(b, MapHeaderV2[:]...)
		m.started = true
	}
	slot, ok := compactSlot(m.prev, e)
	need := slotSize
	if !ok {
		need += EntrySize
	}
	if m.used+need > MapBlockV2 {
		for ; m.used < MapBlockV2; m.used += slotSize {
			b = binary.BigEndian.AppendUint64(b, slotPad)
		}
		m.used, m.prev = 0, Entry{}
		slot, ok = compactSlot(m.prev, e)
		need = slotSize
		if !ok {
			need += EntrySize
		}
	}
	m.Index.add(e, samples, m.used == 0)
	if ok {
		b = binary.BigEndian.AppendUint64(b, slot)
	} else {
		b = binary.BigEndian.AppendUint64(b, slotEscape)
		b = AppendEntry(b, e)
	}
	m.used += need
	m.prev = e
	return b
}

// compactSlot returns e's one-slot encoding after prev, if its fields fit.
func compactSlot(prev, e Entry) (uint64, bool) {
	dOff := e.Off - (prev.Off + int64(prev.Len))
	dPos := int64(e.Pos) - int64(prev.Pos)
	if dOff < -1<<21 || dOff >= 1<<21 || e.Len >= 1<<11 || dPos < -1<<19 || dPos >= 1<<19 ||
		e.Stream >= 1<<8 || e.Flags >= 1<<2 {
		return 0, false
	}
	return uint64(dOff)&(1<<22-1)<<41 | uint64(e.Len)<<30 | uint64(dPos)&(1<<20-1)<<10 |
		uint64(e.Stream)<<2 | uint64(e.Flags), true
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

// AppendMapBlockV2 appends the entries of the version 2 map block blk to
// dst in the version 1 encoding. A block that breaks the format is
// ErrCorruptMap.
func AppendMapBlockV2(dst, blk []byte) ([]byte, error) {
	if len(blk)%slotSize != 0 {
		return dst, fmt.Errorf("%w: block of %d bytes", ErrCorruptMap, len(blk))
	}
	var prev Entry
	for i := 0; i < len(blk); i += slotSize {
		s := binary.BigEndian.Uint64(blk[i:])
		var e Entry
		switch {
		case s == slotPad:
			for j := i; j < len(blk); j += slotSize {
				if binary.BigEndian.Uint64(blk[j:]) != slotPad {
					return dst, fmt.Errorf("%w: data after padding at byte %d", ErrCorruptMap, j)
				}
			}
			return dst, nil
		case s == slotEscape:
			if i+slotSize+EntrySize > len(blk) {
				return dst, fmt.Errorf("%w: escape at byte %d cut off", ErrCorruptMap, i)
			}
			var err error
			if e, err = ParseEntry(blk[i+slotSize : i+slotSize+EntrySize]); err != nil {
				return dst, fmt.Errorf("%w: byte %d: %w", ErrCorruptMap, i, err)
			}
			i += EntrySize
		case s&slotEscape != 0:
			return dst, fmt.Errorf("%w: bad slot at byte %d", ErrCorruptMap, i)
		default:
			off := prev.Off + int64(prev.Len) + signExtend(s>>41, 22)
			pos := int64(prev.Pos) + signExtend(s>>10, 20)
			if off < 0 || off > MaxOff || pos < 0 || pos > math.MaxUint32 {
				return dst, fmt.Errorf("%w: entry at byte %d out of range", ErrCorruptMap, i)
			}
			e = Entry{Off: off, Len: uint16(s >> 30 & (1<<11 - 1)), Pos: uint32(pos),
				Stream: uint16(s >> 2 & (1<<8 - 1)), Flags: EntryFlag(s & 3)}
		}
		dst = AppendEntry(dst, e)
		prev = e
	}
	return dst, nil
}
