package capturetest

import (
	"encoding/binary"
	"net/netip"
)

// UDP returns a UDP datagram (no checksum) carrying payload.
func UDP(sport, dport uint16, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint16(b[4:], uint16(8+len(payload)))
	return append(b, payload...)
}

// TCP returns a TCP segment with optLen bytes of options (multiple of 4).
func TCP(sport, dport uint16, optLen int, payload []byte) []byte {
	h := 20 + optLen
	b := make([]byte, h, h+len(payload))
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint32(b[4:], 1000)
	b[12] = byte(h/4) << 4
	b[13] = 0x18
	for i := 20; i < h; i++ {
		b[i] = 1 // NOP
	}
	return append(b, payload...)
}

// IPv4 returns an IPv4 header (with opts, a multiple of 4 bytes; no
// checksum) and l4.
func IPv4(src, dst netip.Addr, proto uint8, id uint16, opts, l4 []byte) []byte {
	h := 20 + len(opts)
	b := make([]byte, h, h+len(l4))
	b[0] = 0x40 | byte(h/4)
	binary.BigEndian.PutUint16(b[2:], uint16(h+len(l4)))
	binary.BigEndian.PutUint16(b[4:], id)
	b[8] = 64
	b[9] = proto
	s, d := src.As4(), dst.As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	copy(b[20:], opts)
	return append(b, l4...)
}

// Frag4 splits the IPv4 packet pkt (no options) at the given payload
// offsets (multiples of 8) into fragments.
func Frag4(pkt []byte, cuts ...int) [][]byte {
	ihl := int(pkt[0]&0xf) * 4
	body := pkt[ihl:]
	bounds := append(append([]int{0}, cuts...), len(body))
	var out [][]byte
	for i := 0; i+1 < len(bounds); i++ {
		out = append(out, Frag4Range(pkt, bounds[i], bounds[i+1], i+2 < len(bounds)))
	}
	return out
}

// Frag4Range returns the fragment of pkt's payload [a, z), with MF set when
// more.
func Frag4Range(pkt []byte, a, z int, more bool) []byte {
	ihl := int(pkt[0]&0xf) * 4
	body := pkt[ihl:]
	f := append(append([]byte(nil), pkt[:ihl]...), body[a:z]...)
	binary.BigEndian.PutUint16(f[2:], uint16(len(f)))
	fo := uint16(a / 8)
	if more {
		fo |= 0x2000
	}
	binary.BigEndian.PutUint16(f[6:], fo)
	return f
}

// IPv6 returns an IPv6 packet; rest holds extension headers (already
// chained, the first one's type is nh) followed by the transport.
func IPv6(src, dst netip.Addr, nh uint8, rest []byte) []byte {
	b := make([]byte, 40, 40+len(rest))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(rest)))
	b[6] = nh
	b[7] = 64
	s, d := src.As16(), dst.As16()
	copy(b[8:], s[:])
	copy(b[24:], d[:])
	return append(b, rest...)
}

// ExtHdr returns an IPv6 extension header of 8*(units+1) bytes (AH:
// 4*(units+2)).
func ExtHdr(typ, next uint8, units int) []byte {
	n := (units + 1) * 8
	if typ == 51 {
		n = (units + 2) * 4
	}
	b := make([]byte, n)
	b[0] = next
	b[1] = byte(units)
	if typ != 51 && n > 2 {
		b[2] = 1 // PadN
		b[3] = byte(n - 4)
	}
	return b
}

// Frag6 fragments an IPv6 packet whose unfragmentable part is the first
// unfrag bytes after the fixed header (its last next-header field at
// nhPos, relative to the packet start) at the given offsets of the
// fragmentable part.
func Frag6(pkt []byte, unfrag, nhPos int, id uint32, cuts ...int) [][]byte {
	head := pkt[:40+unfrag]
	body := pkt[40+unfrag:]
	fnh := pkt[nhPos]
	bounds := append(append([]int{0}, cuts...), len(body))
	var out [][]byte
	for i := 0; i+1 < len(bounds); i++ {
		out = append(out, frag6Range(head, nhPos, fnh, id, body, bounds[i], bounds[i+1], i+2 < len(bounds)))
	}
	return out
}

func frag6Range(head []byte, nhPos int, fnh uint8, id uint32, body []byte, a, z int, more bool) []byte {
	f := append([]byte(nil), head...)
	f[nhPos] = 44
	fh := make([]byte, 8)
	fh[0] = fnh
	fo := uint16(a)
	if more {
		fo |= 1
	}
	binary.BigEndian.PutUint16(fh[2:], fo)
	binary.BigEndian.PutUint32(fh[4:], id)
	f = append(append(f, fh...), body[a:z]...)
	binary.BigEndian.PutUint16(f[4:], uint16(len(f)-40))
	return f
}

// Ethernet wraps payload in an Ethernet header with the given EtherType
// chain: all but the last are tag types (each followed by a tag).
func Ethernet(payload []byte, types ...uint16) []byte {
	b := make([]byte, 12, 64+len(payload))
	for i := range 6 {
		b[i] = 0x02
		b[6+i] = 0x04
	}
	for i, t := range types {
		b = binary.BigEndian.AppendUint16(b, t)
		if i+1 < len(types) {
			b = binary.BigEndian.AppendUint16(b, uint16(100+i)) // VLAN TCI
		}
	}
	return append(b, payload...)
}

// EtherTypeOf is the EtherType of the IP packet ip.
func EtherTypeOf(ip []byte) uint16 {
	if ip[0]>>4 == 6 {
		return 0x86dd
	}
	return 0x0800
}

// SLL wraps ip in a Linux cooked-capture (v1) header.
func SLL(ip []byte) []byte {
	b := make([]byte, 16, 16+len(ip))
	b[1] = 0 // to us
	b[3] = 1 // ARPHRD_ETHER
	b[5] = 6
	binary.BigEndian.PutUint16(b[14:], EtherTypeOf(ip))
	return append(b, ip...)
}

// SLL2 wraps ip in a Linux cooked-capture v2 header.
func SLL2(ip []byte) []byte {
	b := make([]byte, 20, 20+len(ip))
	binary.BigEndian.PutUint16(b[0:], EtherTypeOf(ip))
	binary.BigEndian.PutUint32(b[4:], 3) // ifindex
	b[9] = 1
	b[11] = 6
	return append(b, ip...)
}

// Null wraps ip in a BSD loopback header of address family af.
func Null(ip []byte, af uint32, big bool) []byte {
	b := make([]byte, 4, 4+len(ip))
	if big {
		binary.BigEndian.PutUint32(b, af)
	} else {
		binary.LittleEndian.PutUint32(b, af)
	}
	return append(b, ip...)
}
