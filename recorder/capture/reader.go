package capture

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"time"
)

// Errors returned by Reader. Reader errors are sticky: once Next has
// returned an error it returns the same error on every later call.
var (
	// ErrUnknownFormat means the input is neither pcap nor pcapng.
	ErrUnknownFormat = errors.New("capture: unknown capture format")
	// ErrTruncated means the input ended inside a record: typically an
	// interrupted upload. Every record before it was returned whole.
	ErrTruncated = fmt.Errorf("capture: truncated record: %w", io.ErrUnexpectedEOF)
	// ErrCorrupt means a record or block header is inconsistent (bad or
	// absurd length, unknown interface, unsupported version).
	ErrCorrupt = errors.New("capture: corrupt capture")
)

const (
	// readBufSize is the size of the bufio.Reader over the input. Records
	// up to this size are returned without copying.
	readBufSize = 16 << 10
	// maxBlockLen bounds a pcapng block and a pcap record. Larger ones are
	// ErrCorrupt; nothing is allocated for them.
	maxBlockLen = 16 << 20
	// maxPcapCapLen is the largest pcap captured length accepted when the
	// file's snaplen is not larger (libpcap's MAXIMUM_SNAPLEN).
	maxPcapCapLen = 262144
	// maxInterfaces bounds the pcapng interfaces of one section.
	maxInterfaces = 1024
	// maxKeptBig is the largest buffer for records beyond readBufSize
	// that a Reader keeps for the next one: enough for the 64 KiB
	// segments of a capture taken with segmentation offload. A larger
	// record's buffer is let go once the record is done with, so one
	// record of up to maxBlockLen does not cost its size for the rest of
	// the input.
	maxKeptBig = 128 << 10
)

// Link types (LINKTYPE_* values of the pcap and pcapng formats) that the
// Decoder understands. The raw-IP types 12 and 14, used by some BSDs, are
// accepted too.
const (
	LinkTypeNull      uint32 = 0   // BSD loopback: 4-byte address family in the capturing host's byte order
	LinkTypeEthernet  uint32 = 1   // Ethernet II, 802.3 SNAP, 802.1Q / QinQ tags, PPPoE, MPLS
	LinkTypeRaw       uint32 = 101 // raw IPv4 or IPv6, by the version nibble
	LinkTypeLoop      uint32 = 108 // OpenBSD loopback: address family in network byte order
	LinkTypeLinuxSLL  uint32 = 113 // Linux cooked capture v1
	LinkTypeIPv4      uint32 = 228
	LinkTypeIPv6      uint32 = 229
	LinkTypeLinuxSLL2 uint32 = 276 // Linux cooked capture v2
)

// Packet is one captured packet as read from the capture file.
type Packet struct {
	Time     time.Time // capture time, UTC
	LinkType uint32    // LINKTYPE_* value, without the pcap FCS bits
	// Data holds the captured bytes. It aliases the Reader's buffer and is
	// valid only until the next call to Next.
	Data    []byte
	Off     int64 // offset of Data[0] in the input given to NewReader
	OrigLen int   // length of the packet on the wire (may exceed len(Data))
}

// Decompress returns a reader of r's bytes, gunzipped when r starts with the
// gzip magic (concatenated gzip members are read as one stream). For any
// other input the returned reader yields exactly the bytes of r, including
// the ones peeked at. It reads ahead from r and never buffers more than a
// fixed-size window.
func Decompress(r io.Reader) (out io.Reader, gzipped bool, err error) {
	br := bufio.NewReaderSize(r, readBufSize)
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, fmt.Errorf("capture: read: %w", err)
	}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, true, fmt.Errorf("capture: gzip: %w", err)
		}
		return zr, true, nil
	}
	return br, false, nil
}

// iface is one pcapng interface (or the single link of a pcap file).
type iface struct {
	link   uint32
	snap   uint32
	bin    bool   // units are 2^-exp s, else 10^-exp s
	exp    uint8  // resolution exponent
	units  uint64 // decimal: 10^exp timestamp units per second
	scale  uint64 // decimal: 10^|9-exp|, to convert a fraction to ns
	offset int64  // if_tsoffset, seconds
}

func newIface(link, snap uint32) iface {
	f := iface{link: link, snap: snap}
	f.setResolution(6)
	return f
}

// setResolution applies an if_tsresol value; it reports false for a
// resolution whose units per second do not fit in 64 bits.
func (f *iface) setResolution(v uint8) bool {
	if v&0x80 != 0 {
		e := v & 0x7f
		if e > 63 {
			return false
		}
		f.bin, f.exp = true, e
		return true
	}
	if v > 19 {
		return false
	}
	f.bin, f.exp = false, v
	f.units = pow10(int(v))
	if v <= 9 {
		f.scale = pow10(9 - int(v))
	} else {
		f.scale = pow10(int(v) - 9)
	}
	return true
}

func pow10(n int) uint64 {
	p := uint64(1)
	for range n {
		p *= 10
	}
	return p
}

// time converts a 64-bit pcapng timestamp of this interface.
func (f *iface) time(ts uint64) time.Time {
	var sec, ns uint64
	if f.bin {
		sec = ts >> f.exp
		frac := ts & (1<<f.exp - 1)
		hi, lo := bits.Mul64(frac, 1e9)
		ns = lo>>f.exp | hi<<(64-f.exp) // (frac*1e9) >> exp; < 1e9
	} else {
		sec, ns = ts/f.units, ts%f.units
		if f.exp <= 9 {
			ns *= f.scale
		} else {
			ns /= f.scale
		}
	}
	return time.Unix(int64(sec)+f.offset, int64(ns)).UTC()
}

// Reader reads packets from a pcap or pcapng stream. It reads the input
// through one fixed-size buffer and never holds more than one record (at
// most 16 MiB, and only when the input really has a record that large,
// until the next call to Next; a buffer of up to 128 KiB is kept for the
// next large record). A Reader is not safe for concurrent use.
type Reader struct {
	br   *bufio.Reader
	off  int64 // input offset of the next byte br returns
	skip int   // bytes peeked for the last packet, consumed by the next call
	ng   bool  // pcapng
	be   bool  // byte order of the file or current section

	// pcap
	pcap   iface
	nano   bool
	recHdr int // record header length: 16, or 24 for the modified format

	// pcapng
	ifs []iface
	// last is the time of the previous packet: a simple packet block has
	// no timestamp of its own.
	last time.Time

	big []byte // records larger than the bufio buffer
	err error
}

// HasCaptureMagic reports whether head, the first four bytes or more of
// an input, starts like a capture NewReader reads: pcap (either byte order,
// microsecond, nanosecond or modified-pcap magic) or pcapng.
func HasCaptureMagic(head []byte) bool {
	if len(head) < 4 {
		return false
	}
	switch uint32(head[0]) | uint32(head[1])<<8 | uint32(head[2])<<16 | uint32(head[3])<<24 {
	case 0x0a0d0d0a, 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0xa1b2cd34, 0x34cdb2a1:
		return true
	}
	return false
}

// NewReader reads the file header of a pcap (either byte order,
// microsecond or nanosecond magic, and the modified-pcap variant) or pcapng
// (first section header block) stream. It returns an error wrapping
// ErrUnknownFormat for other input.
func NewReader(src io.Reader) (*Reader, error) {
	r := &Reader{br: bufio.NewReaderSize(src, readBufSize)}
	magic, err := r.br.Peek(4)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("capture: %d-byte input: %w", len(magic), ErrUnknownFormat)
		}
		return nil, fmt.Errorf("capture: read: %w", err)
	}
	if !HasCaptureMagic(magic) {
		return nil, fmt.Errorf("capture: magic % x: %w", magic, ErrUnknownFormat)
	}
	m := uint32(magic[0]) | uint32(magic[1])<<8 | uint32(magic[2])<<16 | uint32(magic[3])<<24
	switch m {
	case 0x0a0d0d0a:
		r.ng = true
		if err := r.readSHB(true); err != nil {
			return nil, err
		}
		return r, nil
	case 0xa1b2c3d4:
	case 0xd4c3b2a1:
		r.be = true
	case 0xa1b23c4d:
		r.nano = true
	case 0x4d3cb2a1:
		r.be, r.nano = true, true
	case 0xa1b2cd34: // modified pcap (Kuznetzov): 8 more bytes per record header
	case 0x34cdb2a1:
		r.be = true
	}
	r.recHdr = 16
	if m == 0xa1b2cd34 || m == 0x34cdb2a1 {
		r.recHdr = 24
	}
	h, err := r.need(24)
	if err != nil {
		return nil, fmt.Errorf("capture: pcap file header: %w", err)
	}
	// The link type field may carry FCS information in its upper bits.
	r.pcap = newIface(r.u32(h[20:])&0xffff, r.u32(h[16:]))
	r.consume(24)
	return r, nil
}

// Next returns the next packet. It returns io.EOF at a clean end of the
// input, an error wrapping ErrTruncated when the input ends inside a
// record, and an error wrapping ErrCorrupt for inconsistent headers.
// Packet.Data is valid until the next call.
func (r *Reader) Next() (Packet, error) {
	if r.err != nil {
		return Packet{}, r.err
	}
	var p Packet
	var err error
	if r.ng {
		p, err = r.nextNG()
	} else {
		p, err = r.nextPcap()
	}
	if err != nil {
		r.err = err
		return Packet{}, err
	}
	return p, nil
}

func (r *Reader) u16(b []byte) uint16 {
	if r.be {
		return uint16(b[0])<<8 | uint16(b[1])
	}
	return uint16(b[0]) | uint16(b[1])<<8
}

func (r *Reader) u32(b []byte) uint32 {
	if r.be {
		return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	}
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func (r *Reader) u64(b []byte) uint64 {
	if r.be {
		return uint64(r.u32(b))<<32 | uint64(r.u32(b[4:]))
	}
	return uint64(r.u32(b)) | uint64(r.u32(b[4:]))<<32
}

// flush consumes the bytes of the previously returned packet, and lets
// go of its buffer when that was larger than maxKeptBig.
func (r *Reader) flush() {
	if r.skip > 0 {
		r.consume(r.skip)
		r.skip = 0
	}
	if cap(r.big) > maxKeptBig {
		r.big = nil
	}
}

// consume advances past n bytes that are already buffered (peeked).
func (r *Reader) consume(n int) {
	k, _ := r.br.Discard(n)
	r.off += int64(k)
}

// discard skips n bytes, reading through the input as needed.
func (r *Reader) discard(n int) error {
	k, err := r.br.Discard(n)
	r.off += int64(k)
	if err != nil {
		return r.readErr(err)
	}
	return nil
}

// start peeks the first n bytes of a record: io.EOF when the input ends
// cleanly before it, ErrTruncated when it ends within it.
func (r *Reader) start(n int) ([]byte, error) {
	b, err := r.br.Peek(n)
	if err == nil {
		return b, nil
	}
	if len(b) == 0 && err == io.EOF {
		return nil, io.EOF
	}
	return nil, r.readErr(err)
}

// need peeks n (<= readBufSize) bytes inside a record.
func (r *Reader) need(n int) ([]byte, error) {
	b, err := r.br.Peek(n)
	if err != nil {
		return nil, r.readErr(err)
	}
	return b, nil
}

func (r *Reader) readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("capture: input ends in the record at offset %d: %w", r.off, ErrTruncated)
	}
	return fmt.Errorf("capture: read at offset %d: %w", r.off, err)
}

func (r *Reader) corrupt(format string, args ...any) error {
	return fmt.Errorf("capture: offset %d: %s: %w", r.off, fmt.Sprintf(format, args...), ErrCorrupt)
}

// readBig reads n bytes into r.big, growing it as the bytes arrive so that
// a record header claiming more than the input holds costs no more memory
// than the input does.
func (r *Reader) readBig(n int) ([]byte, error) {
	buf := r.big[:0]
	for len(buf) < n {
		k := min(n-len(buf), readBufSize)
		if cap(buf)-len(buf) < k {
			nb := make([]byte, len(buf), min(n, max(2*cap(buf), len(buf)+k)))
			copy(nb, buf)
			buf = nb
		}
		m, err := io.ReadFull(r.br, buf[len(buf):len(buf)+k])
		r.off += int64(m)
		buf = buf[:len(buf)+m]
		if err != nil {
			r.big = buf
			return nil, r.readErr(err)
		}
	}
	r.big = buf
	return buf[:n:n], nil
}

func (r *Reader) nextPcap() (Packet, error) {
	r.flush()
	h, err := r.start(r.recHdr)
	if err != nil {
		return Packet{}, err
	}
	sec, frac := r.u32(h), r.u32(h[4:])
	caplen, orig := r.u32(h[8:]), r.u32(h[12:])
	if caplen > maxBlockLen || (caplen > maxPcapCapLen && caplen > r.pcap.snap) {
		return Packet{}, r.corrupt("pcap record captured length %d", caplen)
	}
	ns := int64(frac)
	if !r.nano {
		ns *= 1000
	}
	p := Packet{
		Time:     time.Unix(int64(sec), ns).UTC(),
		LinkType: r.pcap.link,
		OrigLen:  int(orig),
	}
	n := r.recHdr + int(caplen)
	if n <= readBufSize {
		b, err := r.need(n)
		if err != nil {
			return Packet{}, err
		}
		p.Data = b[r.recHdr:n:n]
		p.Off = r.off + int64(r.recHdr)
		r.skip = n
		return p, nil
	}
	r.consume(r.recHdr)
	p.Off = r.off
	if p.Data, err = r.readBig(int(caplen)); err != nil {
		return Packet{}, err
	}
	return p, nil
}

// pcapng block types.
const (
	blockSHB uint32 = 0x0a0d0d0a
	blockIDB uint32 = 1
	blockOPB uint32 = 2
	blockSPB uint32 = 3
	blockEPB uint32 = 6
)

// checkLen validates a pcapng block total length.
func (r *Reader) checkLen(typ, n, minLen uint32) error {
	if n%4 != 0 || n < minLen || n > maxBlockLen {
		return r.corrupt("pcapng block type %#x: total length %d", typ, n)
	}
	return nil
}

// block returns the whole block of n bytes at the current offset with its
// trailing length checked, and the block's input offset. The bytes stay
// valid until the next read; the block counts as consumed.
func (r *Reader) block(typ uint32, n int) ([]byte, int64, error) {
	off := r.off
	var b []byte
	var err error
	if n <= readBufSize {
		if b, err = r.need(n); err != nil {
			return nil, 0, err
		}
		r.skip = n
	} else if b, err = r.readBig(n); err != nil {
		return nil, 0, err
	}
	if t := r.u32(b[n-4:]); t != uint32(n) {
		return nil, 0, r.corrupt("pcapng block type %#x at %d: trailing length %d, leading %d", typ, off, t, n)
	}
	return b, off, nil
}

// readSHB reads a section header block, which sets the byte order of the
// section and forgets the interfaces of the previous one.
func (r *Reader) readSHB(first bool) error {
	h, err := r.need(12)
	if err != nil {
		return err
	}
	switch {
	case h[8] == 0x4d && h[9] == 0x3c && h[10] == 0x2b && h[11] == 0x1a:
		r.be = false
	case h[8] == 0x1a && h[9] == 0x2b && h[10] == 0x3c && h[11] == 0x4d:
		r.be = true
	default:
		if first {
			return fmt.Errorf("capture: pcapng byte-order magic % x: %w", h[8:12], ErrUnknownFormat)
		}
		return r.corrupt("pcapng byte-order magic % x", h[8:12])
	}
	n := r.u32(h[4:])
	if err := r.checkLen(blockSHB, n, 28); err != nil {
		return err
	}
	b, _, err := r.block(blockSHB, int(n))
	if err != nil {
		return err
	}
	if major := r.u16(b[12:]); major != 1 {
		return r.corrupt("pcapng version %d.%d", major, r.u16(b[14:]))
	}
	r.ifs = r.ifs[:0]
	return nil
}

func (r *Reader) readIDB(n uint32) error {
	if len(r.ifs) >= maxInterfaces {
		return r.corrupt("more than %d pcapng interfaces", maxInterfaces)
	}
	b, _, err := r.block(blockIDB, int(n))
	if err != nil {
		return err
	}
	f := newIface(uint32(r.u16(b[8:])), r.u32(b[12:]))
	opts := b[16 : len(b)-4]
	for len(opts) >= 4 {
		code, l := r.u16(opts), int(r.u16(opts[2:]))
		if code == 0 || 4+l > len(opts) {
			break
		}
		v := opts[4 : 4+l]
		switch {
		case code == 9 && l >= 1: // if_tsresol
			if !f.setResolution(v[0]) {
				return r.corrupt("pcapng if_tsresol %#x", v[0])
			}
		case code == 14 && l >= 8: // if_tsoffset
			f.offset = int64(r.u64(v))
		}
		adv := 4 + (l+3)&^3
		if adv > len(opts) {
			break
		}
		opts = opts[adv:]
	}
	r.ifs = append(r.ifs, f)
	return nil
}

func (r *Reader) nextNG() (Packet, error) {
	for {
		r.flush()
		h, err := r.start(8)
		if err != nil {
			return Packet{}, err
		}
		typ := r.u32(h)
		if typ == blockSHB {
			if err := r.readSHB(false); err != nil {
				return Packet{}, err
			}
			continue
		}
		n := r.u32(h[4:])
		switch typ {
		case blockIDB:
			if err := r.checkLen(typ, n, 20); err != nil {
				return Packet{}, err
			}
			if err := r.readIDB(n); err != nil {
				return Packet{}, err
			}
		case blockEPB, blockOPB, blockSPB:
			return r.packetBlock(typ, n)
		default:
			if err := r.checkLen(typ, n, 12); err != nil {
				return Packet{}, err
			}
			if err := r.skipBlock(typ, n); err != nil {
				return Packet{}, err
			}
		}
	}
}

// skipBlock skips a block without buffering it and checks its trailer.
func (r *Reader) skipBlock(typ, n uint32) error {
	start := r.off
	if err := r.discard(int(n) - 4); err != nil {
		return err
	}
	t, err := r.need(4)
	if err != nil {
		return err
	}
	if r.u32(t) != n {
		return r.corrupt("pcapng block type %#x at %d: trailing length %d, leading %d", typ, start, r.u32(t), n)
	}
	r.consume(4)
	return nil
}

func (r *Reader) packetBlock(typ, n uint32) (Packet, error) {
	minLen := uint32(32)
	if typ == blockSPB {
		minLen = 16
	}
	if err := r.checkLen(typ, n, minLen); err != nil {
		return Packet{}, err
	}
	b, off, err := r.block(typ, int(n))
	if err != nil {
		return Packet{}, err
	}
	var p Packet
	var id, caplen, hdr uint32
	if typ == blockSPB {
		hdr = 12
		orig := r.u32(b[8:])
		caplen = min(orig, n-16)
		p.OrigLen = int(orig)
	} else {
		hdr = 28
		if typ == blockEPB {
			id = r.u32(b[8:])
		} else {
			id = uint32(r.u16(b[8:]))
		}
		caplen = r.u32(b[20:])
		p.OrigLen = int(r.u32(b[24:]))
		if caplen > n-32 {
			return Packet{}, r.corrupt("pcapng packet block at %d: captured length %d in a %d-byte block", off, caplen, n)
		}
	}
	if int(id) >= len(r.ifs) {
		return Packet{}, r.corrupt("pcapng packet block at %d: interface %d of %d", off, id, len(r.ifs))
	}
	f := &r.ifs[id]
	if typ == blockSPB {
		if f.snap != 0 && caplen > f.snap {
			caplen = f.snap
		}
		p.Time = r.last
	} else {
		p.Time = f.time(uint64(r.u32(b[12:]))<<32 | uint64(r.u32(b[16:])))
		r.last = p.Time
	}
	p.LinkType = f.link
	p.Data = b[hdr : hdr+caplen : hdr+caplen]
	p.Off = off + int64(hdr)
	return p, nil
}
