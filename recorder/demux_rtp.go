package recorder

import "encoding/binary"

// rtpHeader is the fixed part of an RTP header (RFC 3550 section 5.1) plus
// where the payload sits in the datagram.
type rtpHeader struct {
	marker  bool
	pt      uint8
	seq     uint16
	ts      uint32
	ssrc    uint32
	csrcs   uint8  // CSRC count
	ext     bool   // header extension present
	extLen  int    // bytes of the header extension, its 4-byte head included
	padding uint8  // padding bytes at the end of the datagram
	off     int    // offset of the payload within the UDP payload
	n       int    // payload length, padding excluded
	profile uint16 // header extension profile
}

// parseRTP reads an RTP header from a UDP payload. It reports false when b
// is not RTP version 2 or when the CSRC count, the header extension length
// or the padding count do not fit the datagram. It does not tell RTCP
// apart: call isRTCPHead first.
func parseRTP(b []byte, h *rtpHeader) bool {
	if len(b) < 12 || b[0]>>6 != 2 {
		return false
	}
	*h = rtpHeader{
		marker: b[1]&0x80 != 0,
		pt:     b[1] & 0x7f,
		seq:    binary.BigEndian.Uint16(b[2:4]),
		ts:     binary.BigEndian.Uint32(b[4:8]),
		ssrc:   binary.BigEndian.Uint32(b[8:12]),
		csrcs:  b[0] & 0x0f,
	}
	off := 12 + 4*int(h.csrcs)
	if off > len(b) {
		return false
	}
	if b[0]&0x10 != 0 {
		if off+4 > len(b) {
			return false
		}
		h.ext = true
		h.profile = binary.BigEndian.Uint16(b[off : off+2])
		h.extLen = 4 + 4*int(binary.BigEndian.Uint16(b[off+2:off+4]))
		off += h.extLen
		if off > len(b) {
			return false
		}
	}
	end := len(b)
	if b[0]&0x20 != 0 {
		p := int(b[end-1])
		if p == 0 || off+p > end {
			return false
		}
		h.padding = uint8(p)
		end -= p
	}
	h.off, h.n = off, end-off
	return true
}

// isRTCPHead reports whether b starts like an RTCP packet: version 2 and a
// packet type of 192..223, the range RFC 5761 keeps free of RTP payload
// types (with the marker bit) so that RTP and RTCP can share a port. Types
// 200..204 (SR, RR, SDES, BYE, APP) are the common ones.
func isRTCPHead(b []byte) bool {
	return len(b) >= 8 && b[0]>>6 == 2 && b[1] >= 192 && b[1] <= 223
}

// isRTCP reports whether b is a plausible RTCP packet: an RTCP head whose
// first packet's length fits the datagram (what follows it, further
// packets of a compound or an SRTCP trailer, is not checked).
func isRTCP(b []byte) bool {
	return isRTCPHead(b) && 4*(int(binary.BigEndian.Uint16(b[2:4]))+1) <= len(b)
}
