package capture

import (
	"errors"
	"net/netip"
	"slices"
	"time"
)

// ErrMalformed is wrapped by Decode errors for packets whose headers are
// inconsistent or cut short before the transport payload. Such errors
// concern one packet only: the caller may count them and go on.
var ErrMalformed = errors.New("capture: malformed packet")

// ErrLinkType is returned by Decode for a link type it does not know; every
// packet of that link type fails the same way.
var ErrLinkType = errors.New("capture: unsupported link type")

// malformedError is a per-packet decode error; its values are constants so
// that failing packets cost no allocation.
type malformedError string

func (e malformedError) Error() string        { return "capture: malformed packet: " + string(e) }
func (e malformedError) Is(target error) bool { return target == ErrMalformed }

const (
	errShortLink    malformedError = "short link-layer header"
	errLinkProto    malformedError = "unknown address family"
	errIPVersion    malformedError = "wrong IP version"
	errShortIPv4    malformedError = "short IPv4 header"
	errIPv4Header   malformedError = "IPv4 header length below 20"
	errIPv4Length   malformedError = "IPv4 total length below header length"
	errShortIPv6    malformedError = "short IPv6 header"
	errShortIPv6Ext malformedError = "short IPv6 extension header"
	errIPv6ExtLoop  malformedError = "too many IPv6 extension headers"
	errShortUDP     malformedError = "short UDP header"
	errUDPLength    malformedError = "UDP length below 8"
	errShortTCP     malformedError = "short TCP header"
	errTCPHeader    malformedError = "TCP data offset below 5"
)

const (
	// maxFragDatagrams bounds the IP datagrams being reassembled at once;
	// the oldest is dropped to make room.
	maxFragDatagrams = 64
	// maxFragPayload bounds a reassembled IP payload (the IPv4 and
	// non-jumbo IPv6 limit).
	maxFragPayload = 65535
	// maxFragPieces bounds the distinct byte runs of one reassembly.
	maxFragPieces = 128
	// maxFragBytes bounds the buffers of the datagrams being reassembled
	// together: the oldest are dropped to make room. A buffer holds the
	// bytes its fragments captured, not what their offsets claim.
	maxFragBytes = 128 << 10
	// fragTimeout drops a reassembly this long (capture time) after its
	// first fragment.
	fragTimeout = 30 * time.Second
	// maxTags bounds VLAN tags, MPLS labels and IPv6 extension headers.
	maxTags = 16
)

// Decoder extracts UDP datagrams and TCP segment payloads from packets. It
// reassembles fragmented IPv4 and IPv6 datagrams with bounded state. Its
// zero value is ready to use; a Decoder is not safe for concurrent use.
type Decoder struct {
	dg     Datagram
	pieces []Piece
	out    []byte // payload of the last reassembled datagram
	frag   reassembler
}

// NewDecoder returns a Decoder with its buffers preallocated.
func NewDecoder() *Decoder {
	return &Decoder{pieces: make([]Piece, 0, maxFragPieces)}
}

// Decode returns the UDP datagram or TCP payload that p carries, or nil,
// nil when it carries none: not IP, another transport, an empty payload, or
// a fragment of a datagram not yet complete (the datagram is returned with
// its last fragment). A snaplen-truncated packet yields the payload bytes
// that were captured.
//
// The returned Datagram and its slices belong to the Decoder: Payload
// aliases p.Data or, for a reassembled datagram, a Decoder buffer. They are
// valid until the next call to Decode and, for the former, to Reader.Next.
func (d *Decoder) Decode(p Packet) (*Datagram, error) {
	b := p.Data
	var off, ver int
	var err error
	switch p.LinkType {
	case LinkTypeEthernet:
		if len(b) < 14 {
			return nil, errShortLink
		}
		off, ver, err = etherPayload(b, 14, be16(b[12:]))
	case LinkTypeLinuxSLL:
		if len(b) < 16 {
			return nil, errShortLink
		}
		off, ver, err = etherPayload(b, 16, be16(b[14:]))
	case LinkTypeLinuxSLL2:
		if len(b) < 20 {
			return nil, errShortLink
		}
		off, ver, err = etherPayload(b, 20, be16(b))
	case LinkTypeNull, LinkTypeLoop:
		// The address family is in the capturing host's byte order
		// (network order for LOOP); the values do not collide, so accept
		// both.
		if len(b) < 4 {
			return nil, errShortLink
		}
		off = 4
		if ver = addressFamily(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24); ver == 0 {
			ver = addressFamily(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
		}
		if ver == 0 {
			return nil, errLinkProto
		}
	case LinkTypeRaw, 12, 14:
		ver = 0
	case LinkTypeIPv4:
		ver = 4
	case LinkTypeIPv6:
		ver = 6
	default:
		return nil, ErrLinkType
	}
	if err != nil {
		return nil, err
	}
	if ver == 0 { // by the version nibble
		if off >= len(b) {
			return nil, errShortLink
		}
		ver = int(b[off] >> 4)
		if ver != 4 && ver != 6 {
			return nil, errIPVersion
		}
	}
	switch ver {
	case 4:
		return d.ipv4(p, off)
	case 6:
		return d.ipv6(p, off)
	}
	return nil, nil
}

func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// addressFamily maps a BSD AF_ value to an IP version, 0 if none.
func addressFamily(af uint32) int {
	switch af {
	case 2:
		return 4
	case 10, 24, 28, 30: // Linux, NetBSD/OpenBSD, FreeBSD, Darwin
		return 6
	}
	return 0
}

// etherPayload follows an EtherType at b[off-2:off] through VLAN tags,
// 802.3 LLC/SNAP, PPPoE and MPLS to the IP header. It returns the IP
// header's offset and version (0: decide by the version nibble, -1: not
// IP).
func etherPayload(b []byte, off int, et uint16) (int, int, error) {
	for range maxTags {
		switch et {
		case 0x0800:
			return off, 4, nil
		case 0x86dd:
			return off, 6, nil
		case 0x8100, 0x88a8, 0x9100, 0x9200, 0x9300: // 802.1Q, 802.1ad, legacy QinQ
			if len(b) < off+4 {
				return 0, 0, errShortLink
			}
			et = be16(b[off+2:])
			off += 4
		case 0x8864: // PPPoE session
			if len(b) < off+8 {
				return 0, 0, errShortLink
			}
			switch be16(b[off+6:]) {
			case 0x0021:
				return off + 8, 4, nil
			case 0x0057:
				return off + 8, 6, nil
			}
			return off, -1, nil
		case 0x8847, 0x8848: // MPLS: labels up to the bottom of the stack
			for range maxTags {
				if len(b) < off+4 {
					return 0, 0, errShortLink
				}
				bottom := b[off+2]&1 != 0
				off += 4
				if bottom {
					if len(b) > off && (b[off]>>4 == 4 || b[off]>>4 == 6) {
						return off, 0, nil
					}
					return off, -1, nil // pseudowire or other payload
				}
			}
			return off, -1, nil
		default:
			// 802.3 length field followed by LLC/SNAP with an EtherType.
			if et <= 1500 && len(b) >= off+8 && b[off] == 0xaa && b[off+1] == 0xaa && b[off+2] == 0x03 {
				et = be16(b[off+6:])
				off += 8
				continue
			}
			return off, -1, nil
		}
	}
	return off, -1, nil
}

func (d *Decoder) ipv4(p Packet, off int) (*Datagram, error) {
	b := p.Data[off:]
	if len(b) < 20 {
		return nil, errShortIPv4
	}
	if b[0]>>4 != 4 {
		return nil, errIPVersion
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 {
		return nil, errIPv4Header
	}
	if len(b) < ihl {
		return nil, errShortIPv4
	}
	// A total length of 0 is what captures of TCP segmentation offload
	// show: take the captured length.
	end, declared := len(b), len(b)
	if tot := int(be16(b[2:])); tot != 0 {
		if tot < ihl {
			return nil, errIPv4Length
		}
		end, declared = min(end, tot), tot
	}
	proto := b[9]
	if proto != uint8(UDP) && proto != uint8(TCP) {
		return nil, nil
	}
	src := netip.AddrFrom4([4]byte(b[12:16]))
	dst := netip.AddrFrom4([4]byte(b[16:20]))
	body := b[ihl:end]
	bodyOff := p.Off + int64(off+ihl)
	fo := be16(b[6:])
	fragOff, more := int(fo&0x1fff)*8, fo&0x2000 != 0
	if !more && fragOff == 0 {
		return d.contiguous(p.Time, Proto(proto), src, dst, body, bodyOff)
	}
	k := fragKey{src: src, dst: dst, id: uint32(be16(b[4:])), proto: proto}
	s := d.frag.add(p.Time, k, fragOff, more, declared-ihl, body, bodyOff, proto)
	if s == nil {
		return nil, nil
	}
	d.out = s.assemble(d.out)
	dg, err := d.reassembled(p.Time, Proto(proto), src, dst, s, 0)
	d.frag.release(s)
	return dg, err
}

// ipv6Ext skips IPv6 extension headers in b starting at pos with next
// header nh. It stops at anything else, including a fragment header.
func ipv6Ext(b []byte, nh uint8, pos int) (uint8, int, error) {
	for range maxTags {
		var n int
		switch nh {
		case 0, 43, 60, 135, 139, 140, 253, 254: // hop-by-hop, routing, destination, mobility, HIP, shim6, experiments
			if len(b) < pos+2 {
				return 0, 0, errShortIPv6Ext
			}
			n = (int(b[pos+1]) + 1) * 8
		case 51: // authentication header
			if len(b) < pos+2 {
				return 0, 0, errShortIPv6Ext
			}
			n = (int(b[pos+1]) + 2) * 4
		default:
			return nh, pos, nil
		}
		if len(b) < pos+n {
			return 0, 0, errShortIPv6Ext
		}
		nh = b[pos]
		pos += n
	}
	return 0, 0, errIPv6ExtLoop
}

func (d *Decoder) ipv6(p Packet, off int) (*Datagram, error) {
	b := p.Data[off:]
	if len(b) < 40 {
		return nil, errShortIPv6
	}
	if b[0]>>4 != 6 {
		return nil, errIPVersion
	}
	// A payload length of 0 is a jumbogram or a segmentation-offload
	// capture: take the captured length.
	declared := len(b)
	if plen := int(be16(b[4:])); plen != 0 {
		declared = 40 + plen
	}
	b = b[:min(len(b), declared)]
	src := netip.AddrFrom16([16]byte(b[8:24]))
	dst := netip.AddrFrom16([16]byte(b[24:40]))
	nh := b[6]
	pos := 40
	for range maxTags {
		var err error
		if nh, pos, err = ipv6Ext(b, nh, pos); err != nil {
			return nil, err
		}
		if nh != 44 {
			break
		}
		// Fragment header.
		if len(b) < pos+8 {
			return nil, errShortIPv6Ext
		}
		fo := be16(b[pos+2:])
		fragOff, more := int(fo&^7), fo&1 != 0
		id := be32(b[pos+4:])
		nh = b[pos]
		pos += 8
		if fragOff == 0 && !more {
			continue // atomic fragment (RFC 6946)
		}
		switch nh {
		case uint8(UDP), uint8(TCP), 0, 43, 51, 60:
		default:
			return nil, nil
		}
		k := fragKey{src: src, dst: dst, id: id}
		s := d.frag.add(p.Time, k, fragOff, more, declared-pos, b[pos:], p.Off+int64(off+pos), nh)
		if s == nil {
			return nil, nil
		}
		// The fragmentable part may start with more extension headers.
		d.out = s.assemble(d.out)
		nh2, pos2, err := ipv6Ext(d.out, s.nh, 0)
		var dg *Datagram
		if err == nil && (nh2 == uint8(UDP) || nh2 == uint8(TCP)) {
			dg, err = d.reassembled(p.Time, Proto(nh2), src, dst, s, pos2)
		}
		d.frag.release(s)
		return dg, err
	}
	if nh != uint8(UDP) && nh != uint8(TCP) {
		return nil, nil
	}
	return d.contiguous(p.Time, Proto(nh), src, dst, b[pos:], p.Off+int64(off+pos))
}

// transport locates the payload of a UDP or TCP header at the start of b:
// b[start:end] with the ports.
func transport(proto Proto, b []byte) (start, end int, sport, dport uint16, err error) {
	switch proto {
	case UDP:
		if len(b) < 8 {
			return 0, 0, 0, 0, errShortUDP
		}
		end = len(b)
		if ul := int(be16(b[4:])); ul != 0 { // 0: jumbogram or offload
			if ul < 8 {
				return 0, 0, 0, 0, errUDPLength
			}
			end = min(end, ul)
		}
		return 8, end, be16(b), be16(b[2:]), nil
	case TCP:
		if len(b) < 20 {
			return 0, 0, 0, 0, errShortTCP
		}
		doff := int(b[12]>>4) * 4
		if doff < 20 {
			return 0, 0, 0, 0, errTCPHeader
		}
		if len(b) < doff {
			return 0, 0, 0, 0, errShortTCP
		}
		return doff, len(b), be16(b), be16(b[2:]), nil
	}
	return 0, 0, 0, 0, nil
}

// contiguous returns the datagram whose transport header starts b, which
// sits at input offset fileOff.
func (d *Decoder) contiguous(t time.Time, proto Proto, src, dst netip.Addr, b []byte, fileOff int64) (*Datagram, error) {
	start, end, sp, dp, err := transport(proto, b)
	if err != nil || end <= start {
		return nil, err
	}
	d.pieces = append(d.pieces[:0], Piece{Off: fileOff + int64(start), Len: end - start})
	return d.fill(t, proto, src, dst, sp, dp, b[start:end]), nil
}

// reassembled returns the datagram whose transport header starts at
// offset base of the complete slot s, whose payload d.out holds
// (assemble), mapping the payload to the fragments' input offsets.
func (d *Decoder) reassembled(t time.Time, proto Proto, src, dst netip.Addr, s *fragSlot, base int) (*Datagram, error) {
	start, end, sp, dp, err := transport(proto, d.out[base:s.total])
	if err != nil || end <= start {
		return nil, err
	}
	start, end = base+start, base+end
	d.pieces = d.pieces[:0]
	for _, g := range s.segs {
		a, z := max(g.off, start), min(g.off+g.n, end)
		if a < z {
			d.pieces = append(d.pieces, Piece{Off: g.file + int64(a-g.off), Len: z - a})
		}
	}
	return d.fill(t, proto, src, dst, sp, dp, d.out[start:end:end]), nil
}

func (d *Decoder) fill(t time.Time, proto Proto, src, dst netip.Addr, sp, dp uint16, payload []byte) *Datagram {
	d.dg = Datagram{
		Time:    t,
		Proto:   proto,
		Src:     netip.AddrPortFrom(src, sp),
		Dst:     netip.AddrPortFrom(dst, dp),
		Payload: payload,
		Pieces:  d.pieces,
	}
	return &d.dg
}

// fragKey identifies an IP datagram being reassembled. proto is zero for
// IPv6, whose fragments are identified by addresses and id alone.
type fragKey struct {
	src, dst netip.Addr
	id       uint32
	proto    uint8
}

// fragSeg is a run of reassembled bytes [off, off+n) taken from the input
// at offset file, held at buf[at:at+n] of its slot.
type fragSeg struct {
	off, n, at int
	file       int64
}

type fragSlot struct {
	used    bool
	key     fragKey
	first   time.Time // capture time of the first fragment
	seq     uint64    // allocation order, for eviction
	total   int       // payload length, -1 until the last fragment
	maxEnd  int       // largest declared fragment end seen
	covered int       // bytes held
	nh      uint8     // next header of the fragmentable part (IPv6)
	buf     []byte    // the bytes held, in the order they came
	segs    []fragSeg // sorted by off, disjoint
}

func (s *fragSlot) reset() {
	s.used = false
	s.total, s.maxEnd, s.covered = -1, 0, 0
	s.segs = s.segs[:0]
	s.buf = s.buf[:0]
}

// assemble returns the complete payload of s in dst's memory (grown if
// needed).
func (s *fragSlot) assemble(dst []byte) []byte {
	if cap(dst) < s.total {
		dst = make([]byte, s.total, max(s.total, 2048))
	}
	dst = dst[:s.total]
	for _, g := range s.segs {
		copy(dst[g.off:g.off+g.n], s.buf[g.at:g.at+g.n])
	}
	return dst
}

// reassembler holds the datagrams in reassembly. Overlapping fragments are
// resolved first-come: bytes already held are kept, so each payload byte
// has exactly one input offset and equals the input byte there.
type reassembler struct {
	slots [maxFragDatagrams]fragSlot
	seq   uint64
	// held is the capacity of the slots' buffers, at most maxFragBytes.
	held int
}

func (a *reassembler) release(s *fragSlot) { s.reset() }

// add records a fragment carrying body (the captured part of declared
// bytes) at payload offset off, which sits at input offset file. It
// returns the slot when the datagram is complete; the caller releases it.
// nh is the IPv6 next header of the fragmentable part, taken from the
// first fragment.
func (a *reassembler) add(t time.Time, k fragKey, off int, more bool, declared int, body []byte, file int64, nh uint8) *fragSlot {
	var s, oldest *fragSlot
	for i := range a.slots {
		c := &a.slots[i]
		if c.used && (t.Sub(c.first) > fragTimeout || c.first.Sub(t) > fragTimeout) {
			c.reset()
		}
		switch {
		case c.used && c.key == k:
			s = c
		case !c.used:
			if oldest == nil || oldest.used {
				oldest = c
			}
		case oldest == nil || (oldest.used && c.seq < oldest.seq):
			oldest = c
		}
	}
	if s == nil {
		s = oldest
		s.reset()
		a.seq++
		s.used, s.key, s.first, s.seq = true, k, t, a.seq
		if s.segs == nil {
			s.segs = make([]fragSeg, 0, maxFragPieces)
		}
		s.nh = nh
	}
	if off == 0 {
		s.nh = nh
	}
	if declared < 0 {
		declared = 0
	}
	end := off + declared
	if len(body) > declared {
		body = body[:declared]
	}
	if end > maxFragPayload {
		s.reset()
		return nil
	}
	if !more {
		if (s.total >= 0 && s.total != end) || s.maxEnd > end {
			s.reset()
			return nil
		}
		s.total = end
	} else if s.total >= 0 && end > s.total {
		s.reset()
		return nil
	}
	s.maxEnd = max(s.maxEnd, end)
	if !a.room(s, len(body)) || !s.insert(off, body, file) {
		s.reset()
		return nil
	}
	if s.total >= 0 && s.covered == s.total {
		return s
	}
	return nil
}

// room makes sure the buffer of s can take n more bytes within
// maxFragBytes, letting go of the buffers of free slots and then dropping
// the oldest reassemblies as needed. It reports false when s itself would
// grow beyond maxFragPayload bytes.
func (a *reassembler) room(s *fragSlot, n int) bool {
	need := len(s.buf) + n
	if need <= cap(s.buf) {
		return true
	}
	if need > maxFragPayload {
		return false
	}
	grown := min(max(2*cap(s.buf), need, 2048), maxFragPayload)
	for a.held-cap(s.buf)+grown > maxFragBytes {
		var victim *fragSlot
		for i := range a.slots {
			c := &a.slots[i]
			switch {
			case c == s || cap(c.buf) == 0:
			case !c.used:
				victim = c
			case victim == nil || (victim.used && c.seq < victim.seq):
				victim = c
			}
			if victim != nil && !victim.used {
				break
			}
		}
		if victim == nil {
			break // s alone: grown <= maxFragPayload < maxFragBytes
		}
		victim.reset()
		a.held -= cap(victim.buf)
		victim.buf = nil
	}
	nb := make([]byte, len(s.buf), grown)
	copy(nb, s.buf)
	a.held += grown - cap(s.buf)
	s.buf = nb
	return true
}

// insert copies the bytes of data (payload offset off, input offset file)
// that the slot does not hold yet; its buffer has room for them.
func (s *fragSlot) insert(off int, data []byte, file int64) bool {
	end := off + len(data)
	i := 0
	for i < len(s.segs) && s.segs[i].off+s.segs[i].n <= off {
		i++
	}
	for cur := off; cur < end; {
		if i < len(s.segs) && s.segs[i].off <= cur {
			cur = max(cur, s.segs[i].off+s.segs[i].n)
			i++
			continue
		}
		gap := end
		if i < len(s.segs) && s.segs[i].off < gap {
			gap = s.segs[i].off
		}
		if len(s.segs) >= maxFragPieces {
			return false
		}
		at := len(s.buf)
		s.buf = append(s.buf, data[cur-off:gap-off]...)
		s.segs = slices.Insert(s.segs, i, fragSeg{off: cur, n: gap - cur, at: at, file: file + int64(cur-off)})
		s.covered += gap - cur
		i++
		cur = gap
	}
	return true
}
