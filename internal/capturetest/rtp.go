package capturetest

import "encoding/binary"

// RTP is an RTP packet (version 2).
type RTP struct {
	PT      uint8
	Seq     uint16
	TS      uint32
	SSRC    uint32
	Marker  bool
	CSRCs   int // contributing sources 0x1000, 0x1001, …
	Ext     int // header extension words
	Pad     int // padding bytes
	Payload []byte
}

// Bytes returns the packet.
func (r RTP) Bytes() []byte {
	b := make([]byte, 12, 12+4*r.CSRCs+4+4*r.Ext+len(r.Payload)+r.Pad)
	b[0] = 2<<6 | byte(r.CSRCs)
	if r.Ext > 0 {
		b[0] |= 0x10
	}
	if r.Pad > 0 {
		b[0] |= 0x20
	}
	b[1] = r.PT
	if r.Marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], r.Seq)
	binary.BigEndian.PutUint32(b[4:], r.TS)
	binary.BigEndian.PutUint32(b[8:], r.SSRC)
	for i := range r.CSRCs {
		b = binary.BigEndian.AppendUint32(b, 0x1000+uint32(i))
	}
	if r.Ext > 0 {
		b = binary.BigEndian.AppendUint16(b, 0xbede)
		b = binary.BigEndian.AppendUint16(b, uint16(r.Ext))
		for range r.Ext {
			b = append(b, 1, 2, 3, 4)
		}
	}
	b = append(b, r.Payload...)
	for i := range r.Pad {
		if i == r.Pad-1 {
			b = append(b, byte(r.Pad))
		} else {
			b = append(b, 0)
		}
	}
	return b
}
