package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"testing"
	"time"
)

// Builders for synthesized packets and capture files.

func udpHdr(sport, dport uint16, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint16(b[4:], uint16(8+len(payload)))
	return append(b, payload...)
}

// tcpSeg returns a TCP segment with optLen bytes of options (multiple of 4).
func tcpSeg(sport, dport uint16, optLen int, payload []byte) []byte {
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

// ipv4Pkt returns an IPv4 header (with opts, a multiple of 4 bytes) and l4.
func ipv4Pkt(src, dst netip.Addr, proto uint8, id uint16, opts, l4 []byte) []byte {
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

// frag4 splits the IPv4 packet pkt (no options) at the given payload
// offsets (multiples of 8) into fragments.
func frag4(pkt []byte, cuts ...int) [][]byte {
	ihl := int(pkt[0]&0xf) * 4
	body := pkt[ihl:]
	bounds := append(append([]int{0}, cuts...), len(body))
	var out [][]byte
	for i := 0; i+1 < len(bounds); i++ {
		out = append(out, frag4Range(pkt, bounds[i], bounds[i+1], i+2 < len(bounds)))
	}
	return out
}

// frag4Range returns the fragment of pkt's payload [a, z), with MF set when
// more.
func frag4Range(pkt []byte, a, z int, more bool) []byte {
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

// ipv6Pkt returns an IPv6 packet; ext holds extension headers (already
// chained, the first one's type is nh) followed by the transport.
func ipv6Pkt(src, dst netip.Addr, nh uint8, rest []byte) []byte {
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

// extHdr returns an IPv6 extension header of 8*(units+1) bytes (AH: 4*(units+2)).
func extHdr(typ, next uint8, units int) []byte {
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

// frag6 fragments an IPv6 packet whose unfragmentable part is the first
// unfrag bytes after the fixed header (its last next-header field at
// nhPos, relative to the packet start) at the given offsets of the
// fragmentable part.
func frag6(pkt []byte, unfrag, nhPos int, id uint32, cuts ...int) [][]byte {
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

// eth wraps payload in an Ethernet header with the given EtherType chain:
// all but the last are tag types (each followed by a tag).
func eth(payload []byte, types ...uint16) []byte {
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

func etherTypeOf(ip []byte) uint16 {
	if ip[0]>>4 == 6 {
		return 0x86dd
	}
	return 0x0800
}

func sll(ip []byte) []byte {
	b := make([]byte, 16, 16+len(ip))
	b[1] = 0 // to us
	b[3] = 1 // ARPHRD_ETHER
	b[5] = 6
	binary.BigEndian.PutUint16(b[14:], etherTypeOf(ip))
	return append(b, ip...)
}

func sll2(ip []byte) []byte {
	b := make([]byte, 20, 20+len(ip))
	binary.BigEndian.PutUint16(b[0:], etherTypeOf(ip))
	binary.BigEndian.PutUint32(b[4:], 3) // ifindex
	b[9] = 1
	b[11] = 6
	return append(b, ip...)
}

func nullHdr(ip []byte, af uint32, big bool) []byte {
	b := make([]byte, 4, 4+len(ip))
	if big {
		binary.BigEndian.PutUint32(b, af)
	} else {
		binary.LittleEndian.PutUint32(b, af)
	}
	return append(b, ip...)
}

// pcapW writes a pcap file.
type pcapW struct {
	buf  bytes.Buffer
	ord  binary.ByteOrder
	nano bool
	offs []int64 // data offset of each record
}

func newPcap(be, nano bool, link, snap uint32) *pcapW {
	w := &pcapW{ord: binary.LittleEndian, nano: nano}
	if be {
		w.ord = binary.BigEndian
	}
	magic := uint32(0xa1b2c3d4)
	if nano {
		magic = 0xa1b23c4d
	}
	h := make([]byte, 24)
	w.ord.PutUint32(h[0:], magic)
	w.ord.PutUint16(h[4:], 2)
	w.ord.PutUint16(h[6:], 4)
	w.ord.PutUint32(h[16:], snap)
	w.ord.PutUint32(h[20:], link)
	w.buf.Write(h)
	return w
}

func (w *pcapW) add(t time.Time, data []byte) {
	w.addOrig(t, data, len(data))
}

func (w *pcapW) addOrig(t time.Time, data []byte, orig int) {
	h := make([]byte, 16)
	w.ord.PutUint32(h[0:], uint32(t.Unix()))
	if w.nano {
		w.ord.PutUint32(h[4:], uint32(t.Nanosecond()))
	} else {
		w.ord.PutUint32(h[4:], uint32(t.Nanosecond()/1000))
	}
	w.ord.PutUint32(h[8:], uint32(len(data)))
	w.ord.PutUint32(h[12:], uint32(orig))
	w.buf.Write(h)
	w.offs = append(w.offs, int64(w.buf.Len()))
	w.buf.Write(data)
}

func (w *pcapW) bytes() []byte { return w.buf.Bytes() }

// ngW writes a pcapng file.
type ngW struct {
	buf  bytes.Buffer
	ord  binary.ByteOrder
	offs []int64
}

func newNG(be bool) *ngW {
	w := &ngW{}
	w.shb(be)
	return w
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// block writes a block; it returns the block's start offset.
func (w *ngW) block(typ uint32, body []byte) int64 {
	start := int64(w.buf.Len())
	body = pad4(body)
	h := make([]byte, 8)
	w.ord.PutUint32(h[0:], typ)
	w.ord.PutUint32(h[4:], uint32(12+len(body)))
	w.buf.Write(h)
	w.buf.Write(body)
	t := make([]byte, 4)
	w.ord.PutUint32(t, uint32(12+len(body)))
	w.buf.Write(t)
	return start
}

func (w *ngW) shb(be bool) {
	w.ord = binary.LittleEndian
	if be {
		w.ord = binary.BigEndian
	}
	body := make([]byte, 16)
	w.ord.PutUint32(body[0:], 0x1a2b3c4d)
	w.ord.PutUint16(body[4:], 1)
	w.ord.PutUint64(body[8:], ^uint64(0))
	body = append(body, w.opt(4, []byte("synth"))...) // shb_userappl
	body = append(body, 0, 0, 0, 0)
	w.block(blockSHB, body)
}

func (w *ngW) opt(code uint16, v []byte) []byte {
	b := make([]byte, 4)
	w.ord.PutUint16(b[0:], code)
	w.ord.PutUint16(b[2:], uint16(len(v)))
	return pad4(append(b, v...))
}

// idb writes an interface description block; tsresol < 0 omits the option.
func (w *ngW) idb(link uint16, snap uint32, tsresol int, tsoffset int64) {
	body := make([]byte, 8)
	w.ord.PutUint16(body[0:], link)
	w.ord.PutUint32(body[4:], snap)
	body = append(body, w.opt(2, []byte("eth0"))...) // if_name
	if tsresol >= 0 {
		body = append(body, w.opt(9, []byte{byte(tsresol)})...)
	}
	if tsoffset != 0 {
		v := make([]byte, 8)
		w.ord.PutUint64(v, uint64(tsoffset))
		body = append(body, w.opt(14, v)...)
	}
	body = append(body, 0, 0, 0, 0)
	w.block(blockIDB, body)
}

func (w *ngW) epb(ifid uint32, ts uint64, data []byte) {
	body := make([]byte, 20)
	w.ord.PutUint32(body[0:], ifid)
	w.ord.PutUint32(body[4:], uint32(ts>>32))
	w.ord.PutUint32(body[8:], uint32(ts))
	w.ord.PutUint32(body[12:], uint32(len(data)))
	w.ord.PutUint32(body[16:], uint32(len(data)))
	body = pad4(append(body, data...))
	body = append(body, w.opt(1, []byte("a comment"))...)
	body = append(body, 0, 0, 0, 0)
	start := w.block(blockEPB, body)
	w.offs = append(w.offs, start+28)
}

func (w *ngW) opb(ifid uint16, ts uint64, data []byte) {
	body := make([]byte, 20)
	w.ord.PutUint16(body[0:], ifid)
	w.ord.PutUint32(body[4:], uint32(ts>>32))
	w.ord.PutUint32(body[8:], uint32(ts))
	w.ord.PutUint32(body[12:], uint32(len(data)))
	w.ord.PutUint32(body[16:], uint32(len(data)))
	start := w.block(blockOPB, append(body, data...))
	w.offs = append(w.offs, start+28)
}

func (w *ngW) spb(data []byte, orig uint32) {
	body := make([]byte, 4)
	w.ord.PutUint32(body[0:], orig)
	start := w.block(blockSPB, append(body, data...))
	w.offs = append(w.offs, start+12)
}

func (w *ngW) bytes() []byte { return w.buf.Bytes() }

// got is a copy of a decoded datagram.
type got struct {
	Time     time.Time
	Proto    Proto
	Src, Dst netip.AddrPort
	Payload  []byte
	Pieces   []Piece
}

// checkPieces verifies the offset invariant of dg against the input.
func checkPieces(t testing.TB, input []byte, dg *Datagram) {
	t.Helper()
	var cat []byte
	for _, p := range dg.Pieces {
		if p.Len <= 0 || p.Off < 0 || p.Off+int64(p.Len) > int64(len(input)) {
			t.Fatalf("piece %+v outside the %d-byte input", p, len(input))
		}
		cat = append(cat, input[p.Off:p.Off+int64(p.Len)]...)
	}
	if !bytes.Equal(cat, dg.Payload) {
		t.Fatalf("pieces %+v give %d bytes %x..., payload is %d bytes", dg.Pieces, len(cat), head(cat), len(dg.Payload))
	}
	for i := range len(dg.Payload) {
		off, n := dg.PayloadOffset(i)
		if n <= 0 || input[off] != dg.Payload[i] {
			t.Fatalf("PayloadOffset(%d) = %d, %d", i, off, n)
		}
	}
}

func head(b []byte) []byte { return b[:min(len(b), 16)] }

// decodeAll reads and decodes the whole input, checking the packet and
// piece invariants. It returns the datagrams, the packet count, the
// number of decode errors and the reader's final error (nil at io.EOF).
func decodeAll(t testing.TB, input []byte) (dgs []got, packets, decErrs int, err error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(input))
	if err != nil {
		return nil, 0, 0, err
	}
	d := NewDecoder()
	for {
		p, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return dgs, packets, decErrs, err
		}
		packets++
		if p.Off < 0 || p.Off+int64(len(p.Data)) > int64(len(input)) || !bytes.Equal(p.Data, input[p.Off:p.Off+int64(len(p.Data))]) {
			t.Fatalf("packet %d: data does not sit at offset %d", packets, p.Off)
		}
		dg, err := d.Decode(p)
		if err != nil {
			decErrs++
			continue
		}
		if dg == nil {
			continue
		}
		checkPieces(t, input, dg)
		dgs = append(dgs, got{dg.Time, dg.Proto, dg.Src, dg.Dst, bytes.Clone(dg.Payload), append([]Piece(nil), dg.Pieces...)})
	}
}

func payloadOf(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7) + byte(i>>8)
	}
	return b
}

var (
	addrA  = netip.MustParseAddr("10.1.2.3")
	addrB  = netip.MustParseAddr("192.168.7.9")
	addr6A = netip.MustParseAddr("2001:db8::1")
	addr6B = netip.MustParseAddr("fe80::1234:5678")
	t0     = time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)
)
