package capture

import (
	"net/netip"
	"time"
)

// Proto is the transport protocol of a Datagram.
type Proto uint8

const (
	UDP Proto = 17
	TCP Proto = 6
)

// Piece is a run of a datagram's payload as it sits in the original
// capture bytes. A payload that arrived in one IP packet is one piece; one
// reassembled from IP fragments has one piece per fragment, in payload
// order.
type Piece struct {
	Off int64 // offset in the capture byte stream given to NewReader
	Len int
}

// Datagram is one UDP datagram (or TCP segment payload, unreassembled) found
// in a capture.
type Datagram struct {
	Time    time.Time
	Proto   Proto
	Src     netip.AddrPort
	Dst     netip.AddrPort
	Payload []byte  // valid until the next call that returns a Datagram
	Pieces  []Piece // where Payload's bytes sit in the capture; sum of Len == len(Payload)
}

// PayloadOffset maps a byte index within Payload to its offset in the
// capture and the number of contiguous bytes available from there.
func (d *Datagram) PayloadOffset(i int) (off int64, n int) {
	for _, p := range d.Pieces {
		if i < p.Len {
			return p.Off + int64(i), p.Len - i
		}
		i -= p.Len
	}
	return -1, 0
}
