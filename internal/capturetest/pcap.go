package capturetest

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/callvault/callvault/internal/pcapwrite"
)

// Pcap writes a pcap file into memory.
type Pcap struct {
	buf  bytes.Buffer
	f    pcapwrite.Format
	Offs []int64 // data offset of each record
}

// NewPcap starts a pcap file: big-endian or little, nanosecond timestamps
// or microsecond, of the given link type and snapshot length.
func NewPcap(be, nano bool, link, snap uint32) *Pcap {
	return NewPcapFormat(pcapwrite.Format{BigEndian: be, Nano: nano, LinkType: link, SnapLen: snap})
}

// NewPcapFormat starts a pcap file of format f, e.g. pcapwrite.Ethernet.
func NewPcapFormat(f pcapwrite.Format) *Pcap {
	w := &Pcap{f: f}
	w.buf.Write(f.FileHeader())
	return w
}

// Add writes a record of the whole packet data captured at t.
func (w *Pcap) Add(t time.Time, data []byte) {
	w.AddOrig(t, data, len(data))
}

// AddOrig writes a record of data captured at t from a packet of orig
// bytes.
func (w *Pcap) AddOrig(t time.Time, data []byte, orig int) {
	var h [pcapwrite.RecordHeaderLen]byte
	w.f.PutRecordHeader(h[:], t, len(data), orig)
	w.buf.Write(h[:])
	w.Offs = append(w.Offs, int64(w.buf.Len()))
	w.buf.Write(data)
}

// AddUDP writes a record of an Ethernet/IPv4/UDP frame (zero MAC
// addresses, IPv4 header checksum, no UDP checksum) sent at t from src to
// dst.
func (w *Pcap) AddUDP(t time.Time, src, dst netip.AddrPort, payload []byte) {
	h := pcapwrite.UDP4{Src: src.Addr().As4(), Dst: dst.Addr().As4(), SrcPort: src.Port(), DstPort: dst.Port()}
	w.Add(t, h.AppendFrame(nil, payload))
}

// Bytes returns the file so far.
func (w *Pcap) Bytes() []byte { return w.buf.Bytes() }

// Len returns the file's length so far.
func (w *Pcap) Len() int { return w.buf.Len() }

// pcapng block types.
const (
	BlockSHB uint32 = 0x0a0d0d0a
	BlockIDB uint32 = 1
	BlockOPB uint32 = 2
	BlockSPB uint32 = 3
	BlockEPB uint32 = 6
)

// Pcapng writes a pcapng file into memory.
type Pcapng struct {
	buf  bytes.Buffer
	ord  binary.ByteOrder
	Offs []int64 // data offset of each packet
}

// NewPcapng starts a pcapng file with a section header block, big-endian
// or little.
func NewPcapng(be bool) *Pcapng {
	w := &Pcapng{}
	w.SHB(be)
	return w
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// Block writes a block; it returns the block's start offset.
func (w *Pcapng) Block(typ uint32, body []byte) int64 {
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

// SHB writes a section header block (and switches byte order with it).
func (w *Pcapng) SHB(be bool) {
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
	w.Block(BlockSHB, body)
}

func (w *Pcapng) opt(code uint16, v []byte) []byte {
	b := make([]byte, 4)
	w.ord.PutUint16(b[0:], code)
	w.ord.PutUint16(b[2:], uint16(len(v)))
	return pad4(append(b, v...))
}

// IDB writes an interface description block; tsresol < 0 omits the option.
func (w *Pcapng) IDB(link uint16, snap uint32, tsresol int, tsoffset int64) {
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
	w.Block(BlockIDB, body)
}

// packetHead returns the 20 bytes before an EPB's or OPB's data with the
// timestamp and lengths set; the first four are the interface's.
func (w *Pcapng) packetHead(ts uint64, data []byte) []byte {
	body := make([]byte, 20)
	w.ord.PutUint32(body[4:], uint32(ts>>32))
	w.ord.PutUint32(body[8:], uint32(ts))
	w.ord.PutUint32(body[12:], uint32(len(data)))
	w.ord.PutUint32(body[16:], uint32(len(data)))
	return body
}

// EPB writes an enhanced packet block (with a comment option).
func (w *Pcapng) EPB(ifid uint32, ts uint64, data []byte) {
	body := w.packetHead(ts, data)
	w.ord.PutUint32(body[0:], ifid)
	body = pad4(append(body, data...))
	body = append(body, w.opt(1, []byte("a comment"))...)
	body = append(body, 0, 0, 0, 0)
	start := w.Block(BlockEPB, body)
	w.Offs = append(w.Offs, start+28)
}

// OPB writes an (obsolete) packet block.
func (w *Pcapng) OPB(ifid uint16, ts uint64, data []byte) {
	body := w.packetHead(ts, data)
	w.ord.PutUint16(body[0:], ifid)
	start := w.Block(BlockOPB, append(body, data...))
	w.Offs = append(w.Offs, start+28)
}

// SPB writes a simple packet block of data from a packet of orig bytes.
func (w *Pcapng) SPB(data []byte, orig uint32) {
	body := make([]byte, 4)
	w.ord.PutUint32(body[0:], orig)
	start := w.Block(BlockSPB, append(body, data...))
	w.Offs = append(w.Offs, start+12)
}

// Bytes returns the file so far.
func (w *Pcapng) Bytes() []byte { return w.buf.Bytes() }

// Len returns the file's length so far.
func (w *Pcapng) Len() int { return w.buf.Len() }
