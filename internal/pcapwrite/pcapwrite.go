// Package pcapwrite writes classic pcap files and the Ethernet/IPv4/UDP
// frames in them: the file and record headers, the frame headers and the
// Internet checksums.
//
// The load generator streams its calls with it, and the tests synthesize
// their captures with it (through internal/capturetest), so that what the
// appliance is fed in tests and under load is laid out by one piece of
// code. Reading captures is recorder/capture's job.
package pcapwrite

import (
	"encoding/binary"
	"time"
)

// Sizes of the headers this package writes.
const (
	FileHeaderLen   = 24
	RecordHeaderLen = 16
	EthernetLen     = 14
	IPv4Len         = 20 // without options
	UDPLen          = 8
	UDP4FrameLen    = EthernetLen + IPv4Len + UDPLen // headers before a UDP payload
)

// Link types.
const (
	LinkEthernet = 1
)

// Format is a pcap file's byte order, timestamp resolution, link type and
// snapshot length.
type Format struct {
	BigEndian bool
	Nano      bool // nanosecond timestamps (magic 0xa1b23c4d)
	LinkType  uint32
	SnapLen   uint32
}

// Ethernet is the format phones and tcpdump write: little-endian,
// microsecond timestamps, Ethernet frames of up to 65535 bytes.
var Ethernet = Format{LinkType: LinkEthernet, SnapLen: 65535}

func (f Format) order() binary.ByteOrder {
	if f.BigEndian {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// FileHeader returns the file header (version 2.4).
func (f Format) FileHeader() []byte {
	h := make([]byte, FileHeaderLen)
	o := f.order()
	magic := uint32(0xa1b2c3d4) // microsecond timestamps
	if f.Nano {
		magic = 0xa1b23c4d
	}
	o.PutUint32(h[0:], magic)
	o.PutUint16(h[4:], 2)
	o.PutUint16(h[6:], 4)
	o.PutUint32(h[16:], f.SnapLen)
	o.PutUint32(h[20:], f.LinkType)
	return h
}

// PutTime writes the timestamp of the record header h.
func (f Format) PutTime(h []byte, t time.Time) {
	o := f.order()
	o.PutUint32(h[0:], uint32(t.Unix()))
	if f.Nano {
		o.PutUint32(h[4:], uint32(t.Nanosecond()))
	} else {
		o.PutUint32(h[4:], uint32(t.Nanosecond()/1000))
	}
}

// PutRecordHeader writes into h the header of a record captured at t that
// holds capLen of the packet's origLen bytes.
func (f Format) PutRecordHeader(h []byte, t time.Time, capLen, origLen int) {
	f.PutTime(h, t)
	o := f.order()
	o.PutUint32(h[8:], uint32(capLen))
	o.PutUint32(h[12:], uint32(origLen))
}

// AppendRecord appends a record of the whole packet data captured at t.
func (f Format) AppendRecord(b []byte, t time.Time, data []byte) []byte {
	var h [RecordHeaderLen]byte
	f.PutRecordHeader(h[:], t, len(data), len(data))
	return append(append(b, h[:]...), data...)
}

// UDP4 describes the headers of an Ethernet/IPv4/UDP frame.
type UDP4 struct {
	DstMAC, SrcMAC   [6]byte
	Src, Dst         [4]byte
	SrcPort, DstPort uint16
	TOS              byte // DSCP and ECN, e.g. 0xb8 for EF
	DontFragment     bool
	ID               uint16
}

// Put writes the headers into frame[:UDP4FrameLen] for the payload that
// fills the rest of frame, the IPv4 header checksum included; the UDP
// checksum stays zero (none), see PutUDPChecksum.
func (u UDP4) Put(frame []byte) {
	n := len(frame) - UDP4FrameLen
	copy(frame[0:6], u.DstMAC[:])
	copy(frame[6:12], u.SrcMAC[:])
	binary.BigEndian.PutUint16(frame[12:], 0x0800)
	ip := frame[EthernetLen:]
	ip[0] = 0x45
	ip[1] = u.TOS
	binary.BigEndian.PutUint16(ip[2:], uint16(IPv4Len+UDPLen+n))
	binary.BigEndian.PutUint16(ip[4:], u.ID)
	if u.DontFragment {
		binary.BigEndian.PutUint16(ip[6:], 0x4000)
	}
	ip[8] = 64 // TTL
	ip[9] = 17 // UDP
	copy(ip[12:16], u.Src[:])
	copy(ip[16:20], u.Dst[:])
	PutIPv4Checksum(ip)
	udp := ip[IPv4Len:]
	binary.BigEndian.PutUint16(udp[0:], u.SrcPort)
	binary.BigEndian.PutUint16(udp[2:], u.DstPort)
	binary.BigEndian.PutUint16(udp[4:], uint16(UDPLen+n))
	udp[6], udp[7] = 0, 0
}

// AppendFrame appends the frame carrying payload.
func (u UDP4) AppendFrame(b []byte, payload []byte) []byte {
	start := len(b)
	b = append(b, make([]byte, UDP4FrameLen)...)
	b = append(b, payload...)
	u.Put(b[start:])
	return b
}

// Sum adds b, as big-endian 16-bit words, to the ones'-complement partial
// sum s.
func Sum(s uint32, b []byte) uint32 {
	for len(b) >= 2 {
		s += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

// Fold folds the partial sum s into 16 bits.
func Fold(s uint32) uint16 {
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

// PutIPv4Checksum sets the header checksum of ip, an IPv4 header without
// options.
func PutIPv4Checksum(ip []byte) {
	ip[10], ip[11] = 0, 0
	binary.BigEndian.PutUint16(ip[10:], ^Fold(Sum(0, ip[:IPv4Len])))
}

// PutUDPChecksum sets the checksum of the UDP datagram that follows ip, an
// IPv4 header without options, up to the end of ip.
func PutUDPChecksum(ip []byte) {
	udp := ip[IPv4Len:]
	udp[6], udp[7] = 0, 0
	s := Sum(0, ip[12:20]) + 17 + uint32(len(udp))
	cs := ^Fold(Sum(s, udp))
	if cs == 0 {
		cs = 0xffff
	}
	binary.BigEndian.PutUint16(udp[6:], cs)
}
