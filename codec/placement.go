package codec

import (
	"encoding/binary"
	"errors"
)

// A placement map says where each accepted audio payload sits in the
// original capture and where it goes on the recording's timeline. It is a
// flat sequence of fixed-size entries, written in arrival order; see
// archive/FORMAT.md for how it is stored.
//
// Entry layout, EntrySize bytes, big-endian:
//
//	0..6   Off     byte offset of the payload piece in the original capture (48 bits)
//	6..8   Len     length of the piece in bytes
//	8..12  Pos     sample position (8 kHz clock) of the piece's first byte,
//	               counted from the recording's time origin
//	12..14 Stream  index into the recording's stream table
//	14     Flags   EntryFlag bits
//	15     zero
const EntrySize = 16

// EntriesPerBlock is how many entries one map block holds: one 64 KiB
// archive chunk. The map index keeps one Span per block.
const EntriesPerBlock = 4096

// MaxOff is the largest original offset an entry can hold.
const MaxOff = 1<<48 - 1

// EntryFlag marks special entries.
type EntryFlag uint8

const (
	// FlagDTMF marks a payload that lies within an RFC 2833 event; a
	// renderer asked to mask DTMF plays silence for it.
	FlagDTMF EntryFlag = 1 << iota
)

// Entry is one piece of audio payload placed on the timeline.
type Entry struct {
	Off    int64  // offset of the piece in the original capture
	Len    uint16 // bytes
	Pos    uint32 // first sample, 8 kHz clock, from the recording's origin
	Stream uint16 // index into the stream table
	Flags  EntryFlag
}

// ErrBadEntry reports an entry that cannot be encoded or decoded.
var ErrBadEntry = errors.New("codec: bad map entry")

// AppendEntry appends e's encoding to b.
func AppendEntry(b []byte, e Entry) []byte {
	var v [EntrySize]byte
	PutEntry(v[:], e)
	return append(b, v[:]...)
}

// PutEntry encodes e into b, which must hold EntrySize bytes.
func PutEntry(b []byte, e Entry) {
	_ = b[EntrySize-1]
	off := uint64(e.Off)
	b[0] = byte(off >> 40)
	b[1] = byte(off >> 32)
	binary.BigEndian.PutUint32(b[2:6], uint32(off))
	binary.BigEndian.PutUint16(b[6:8], e.Len)
	binary.BigEndian.PutUint32(b[8:12], e.Pos)
	binary.BigEndian.PutUint16(b[12:14], e.Stream)
	b[14] = byte(e.Flags)
	b[15] = 0
}

// ParseEntry decodes one entry from b, which must hold EntrySize bytes.
func ParseEntry(b []byte) (Entry, error) {
	if len(b) < EntrySize || b[15] != 0 {
		return Entry{}, ErrBadEntry
	}
	off := uint64(b[0])<<40 | uint64(b[1])<<32 | uint64(binary.BigEndian.Uint32(b[2:6]))
	return Entry{
		Off:    int64(off),
		Len:    binary.BigEndian.Uint16(b[6:8]),
		Pos:    binary.BigEndian.Uint32(b[8:12]),
		Stream: binary.BigEndian.Uint16(b[12:14]),
		Flags:  EntryFlag(b[14]),
	}, nil
}

// Span is the range of sample positions one map block covers:
// [Min, End) over all entries' [Pos, Pos+samples).
type Span struct {
	Min uint32 `json:"min"`
	End uint32 `json:"end"`
}

// MapIndex keeps the Span of every block of a map as it is written, so a
// reader can find the blocks that overlap a time range without reading the
// whole map. The zero value is ready to use.
type MapIndex struct {
	Spans []Span
	n     int // entries added
}

// Add records e, whose payload covers samples [e.Pos, e.Pos+samples).
func (x *MapIndex) Add(e Entry, samples uint32) {
	x.add(e, samples, x.n%EntriesPerBlock == 0)
}

// add records e, the first of a new block when first.
func (x *MapIndex) add(e Entry, samples uint32, first bool) {
	end := e.Pos + samples
	if end < e.Pos {
		end = ^uint32(0) // saturate: a span never wraps
	}
	if first || len(x.Spans) == 0 {
		x.Spans = append(x.Spans, Span{Min: e.Pos, End: end})
	} else {
		s := &x.Spans[len(x.Spans)-1]
		s.Min = min(s.Min, e.Pos)
		s.End = max(s.End, end)
	}
	x.n++
}

// Len reports how many entries were added.
func (x *MapIndex) Len() int { return x.n }
