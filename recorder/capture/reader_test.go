package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"testing/iotest"
	"time"

	"github.com/callvault/callvault/internal/capturetest"
)

// linkCase frames an IP packet for one link type.
type linkCase struct {
	name string
	link uint32
	wrap func(ip []byte) []byte
}

func linkCases() []linkCase {
	ethOf := func(ip []byte) []byte { return capturetest.Ethernet(ip, capturetest.EtherTypeOf(ip)) }
	raw := func(ip []byte) []byte { return ip }
	af6 := func(af uint32, big bool) func([]byte) []byte {
		return func(ip []byte) []byte {
			if ip[0]>>4 == 4 {
				return capturetest.Null(ip, 2, big)
			}
			return capturetest.Null(ip, af, big)
		}
	}
	return []linkCase{
		{"ethernet", LinkTypeEthernet, ethOf},
		{"vlan", LinkTypeEthernet, func(ip []byte) []byte { return capturetest.Ethernet(ip, 0x8100, capturetest.EtherTypeOf(ip)) }},
		{"qinq", LinkTypeEthernet, func(ip []byte) []byte { return capturetest.Ethernet(ip, 0x88a8, 0x8100, capturetest.EtherTypeOf(ip)) }},
		{"qinq9100", LinkTypeEthernet, func(ip []byte) []byte { return capturetest.Ethernet(ip, 0x9100, 0x8100, capturetest.EtherTypeOf(ip)) }},
		{"sll", LinkTypeLinuxSLL, capturetest.SLL},
		{"sll2", LinkTypeLinuxSLL2, capturetest.SLL2},
		{"null-le-freebsd", LinkTypeNull, af6(28, false)},
		{"null-be-darwin", LinkTypeNull, af6(30, true)},
		{"null-le-netbsd", LinkTypeNull, af6(24, false)},
		{"null-le-linux", LinkTypeNull, af6(10, false)},
		{"loop", LinkTypeLoop, af6(24, true)},
		{"raw101", LinkTypeRaw, raw},
		{"raw12", 12, raw},
		{"raw14", 14, raw},
	}
}

type testDgram struct {
	src, dst netip.AddrPort
	payload  []byte
}

func (d testDgram) ip() []byte {
	u := capturetest.UDP(d.src.Port(), d.dst.Port(), d.payload)
	if d.src.Addr().Is4() {
		return capturetest.IPv4(d.src.Addr(), d.dst.Addr(), 17, 77, nil, u)
	}
	return capturetest.IPv6(d.src.Addr(), d.dst.Addr(), 17, u)
}

func sampleDgrams() []testDgram {
	return []testDgram{
		{netip.AddrPortFrom(addrA, 5000), netip.AddrPortFrom(addrB, 2006), payloadOf(172, 1)},
		{netip.AddrPortFrom(addr6A, 16388), netip.AddrPortFrom(addr6B, 16386), payloadOf(160, 2)},
		{netip.AddrPortFrom(addrB, 5060), netip.AddrPortFrom(addrA, 5060), payloadOf(1, 3)},
	}
}

func checkDgrams(t *testing.T, gotDs []got, want []testDgram, times []time.Time) {
	t.Helper()
	if len(gotDs) != len(want) {
		t.Fatalf("got %d datagrams, want %d", len(gotDs), len(want))
	}
	for i, g := range gotDs {
		w := want[i]
		if g.Proto != UDP || g.Src != w.src || g.Dst != w.dst || !bytes.Equal(g.Payload, w.payload) {
			t.Errorf("datagram %d: %v %v->%v %d bytes, want %v->%v %d bytes", i, g.Proto, g.Src, g.Dst, len(g.Payload), w.src, w.dst, len(w.payload))
		}
		if times != nil && !g.Time.Equal(times[i]) {
			t.Errorf("datagram %d: time %v, want %v", i, g.Time, times[i])
		}
		if len(g.Pieces) != 1 {
			t.Errorf("datagram %d: %d pieces", i, len(g.Pieces))
		}
	}
}

func TestPcapVariants(t *testing.T) {
	for _, lc := range linkCases() {
		for _, be := range []bool{false, true} {
			for _, nano := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/be=%v/nano=%v", lc.name, be, nano), func(t *testing.T) {
					w := capturetest.NewPcap(be, nano, lc.link, 65535)
					var times []time.Time
					for i, d := range sampleDgrams() {
						tm := t0.Add(time.Duration(i) * 20 * time.Millisecond)
						if !nano {
							tm = tm.Truncate(time.Microsecond)
						}
						times = append(times, tm)
						w.Add(tm, lc.wrap(d.ip()))
					}
					in := w.Bytes()
					r, err := NewReader(bytes.NewReader(in))
					if err != nil {
						t.Fatal(err)
					}
					for i := range times {
						p, err := r.Next()
						if err != nil {
							t.Fatal(err)
						}
						if p.LinkType != lc.link || !p.Time.Equal(times[i]) || p.Off != w.Offs[i] || p.OrigLen != len(p.Data) {
							t.Fatalf("packet %d: link %d time %v off %d orig %d; want %d %v %d", i, p.LinkType, p.Time, p.Off, p.OrigLen, lc.link, times[i], w.Offs[i])
						}
						if p.Time.Location() != time.UTC {
							t.Errorf("time not UTC")
						}
					}
					if _, err := r.Next(); err != io.EOF {
						t.Fatalf("end: %v", err)
					}
					dgs, _, decErrs, err := decodeAll(t, in)
					if err != nil || decErrs != 0 {
						t.Fatalf("decode: %v, %d errors", err, decErrs)
					}
					checkDgrams(t, dgs, sampleDgrams(), times)
				})
			}
		}
	}
}

func TestPcapLinkTypeIPv4IPv6(t *testing.T) {
	for _, tc := range []struct {
		link uint32
		d    testDgram
	}{
		{LinkTypeIPv4, sampleDgrams()[0]},
		{LinkTypeIPv6, sampleDgrams()[1]},
	} {
		w := capturetest.NewPcap(false, false, tc.link, 65535)
		w.Add(t0, tc.d.ip())
		dgs, _, decErrs, err := decodeAll(t, w.Bytes())
		if err != nil || decErrs != 0 {
			t.Fatal(err, decErrs)
		}
		checkDgrams(t, dgs, []testDgram{tc.d}, nil)
	}
}

func TestPcapFCSBitsAndModified(t *testing.T) {
	d := sampleDgrams()[0]
	// FCS length 2 words, P bit set: 0x24000000 | 1.
	w := capturetest.NewPcap(false, false, 0x24000000|LinkTypeEthernet, 65535)
	w.Add(t0, append(capturetest.Ethernet(d.ip(), 0x0800), 0xde, 0xad, 0xbe, 0xef))
	dgs, _, decErrs, err := decodeAll(t, w.Bytes())
	if err != nil || decErrs != 0 {
		t.Fatal(err, decErrs)
	}
	checkDgrams(t, dgs, []testDgram{d}, nil)

	// Modified pcap: 24-byte record headers.
	for _, be := range []bool{false, true} {
		var ord binary.AppendByteOrder = binary.LittleEndian
		if be {
			ord = binary.BigEndian
		}
		var b []byte
		b = ord.AppendUint32(b, 0xa1b2cd34)
		b = ord.AppendUint16(b, 2)
		b = ord.AppendUint16(b, 4)
		b = append(b, make([]byte, 8)...)
		b = ord.AppendUint32(b, 65535)
		b = ord.AppendUint32(b, 1)
		frame := capturetest.Ethernet(d.ip(), 0x0800)
		b = ord.AppendUint32(b, uint32(t0.Unix()))
		b = ord.AppendUint32(b, 5)
		b = ord.AppendUint32(b, uint32(len(frame)))
		b = ord.AppendUint32(b, uint32(len(frame)))
		b = append(b, make([]byte, 8)...)
		b = append(b, frame...)
		dgs, n, _, err := decodeAll(t, b)
		if err != nil || n != 1 {
			t.Fatal(err, n)
		}
		checkDgrams(t, dgs, []testDgram{d}, nil)
	}
}

func TestPcapng(t *testing.T) {
	ds := sampleDgrams()
	for _, be := range []bool{false, true} {
		for _, res := range []struct {
			opt  int
			unit time.Duration // one timestamp unit
		}{
			{-1, time.Microsecond}, {6, time.Microsecond}, {9, time.Nanosecond}, {3, time.Millisecond}, {0, time.Second},
		} {
			t.Run(fmt.Sprintf("be=%v/tsresol=%d", be, res.opt), func(t *testing.T) {
				w := capturetest.NewPcapng(be)
				w.IDB(uint16(LinkTypeEthernet), 0, res.opt, 0)
				w.IDB(uint16(LinkTypeLinuxSLL2), 0, res.opt, 0)
				base := t0.Truncate(res.unit)
				ts := uint64(base.UnixNano() / int64(res.unit))
				var want []testDgram
				var times []time.Time
				for i := range 6 {
					d := ds[i%len(ds)]
					tm := base.Add(time.Duration(i) * res.unit * 3)
					if i%2 == 0 {
						w.EPB(0, ts+uint64(3*i), capturetest.Ethernet(d.ip(), capturetest.EtherTypeOf(d.ip())))
					} else {
						w.EPB(1, ts+uint64(3*i), capturetest.SLL2(d.ip()))
					}
					want = append(want, d)
					times = append(times, tm)
				}
				dgs, n, decErrs, err := decodeAll(t, w.Bytes())
				if err != nil || decErrs != 0 || n != 6 {
					t.Fatal(err, decErrs, n)
				}
				checkDgrams(t, dgs, want, times)
			})
		}
	}
}

func TestPcapngResolutionsAndOffset(t *testing.T) {
	for _, tc := range []struct {
		tsresol int
		offset  int64
		ts      uint64
		want    time.Time
	}{
		{0x80 | 10, 0, 1<<10*1000 + 512, time.Unix(1000, 500000000)},
		{0x80 | 20, 0, 3<<20 + 1<<18, time.Unix(3, 250000000)},
		{0x80 | 63, 0, 1<<63 | 1<<62, time.Unix(1, 500000000)},
		{0x80, 0, 1700000000, time.Unix(1700000000, 0)},
		{9, 0, 1700000000123456789, time.Unix(1700000000, 123456789)},
		{12, 0, 1700000000123456789, time.Unix(1700000, 123456)},
		{19, 0, 12345678901234567890, time.Unix(1, 234567890)},
		{6, 1000, 5000001, time.Unix(1005, 1000)},
		{6, -100, 5000001, time.Unix(-95, 1000)},
	} {
		w := capturetest.NewPcapng(false)
		w.IDB(uint16(LinkTypeRaw), 0, tc.tsresol, tc.offset)
		w.EPB(0, tc.ts, sampleDgrams()[0].ip())
		r, err := NewReader(bytes.NewReader(w.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		p, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !p.Time.Equal(tc.want) {
			t.Errorf("tsresol %#x offset %d ts %d: %v, want %v", tc.tsresol, tc.offset, tc.ts, p.Time, tc.want.UTC())
		}
	}
}

func TestPcapngBlocks(t *testing.T) {
	ds := sampleDgrams()
	w := capturetest.NewPcapng(false)
	w.IDB(uint16(LinkTypeEthernet), 0, 9, 0)
	w.Block(0x0bad, []byte("an unknown block, skipped by length")) // unknown
	w.Block(5, make([]byte, 20))                                   // interface statistics
	w.EPB(0, uint64(t0.UnixNano()), capturetest.Ethernet(ds[0].ip(), 0x0800))
	w.SPB(capturetest.Ethernet(ds[1].ip(), 0x86dd), uint32(14+len(ds[1].ip()))) // time of the previous packet
	w.OPB(0, uint64(t0.UnixNano())+1000, capturetest.Ethernet(ds[2].ip(), 0x0800))
	// A new section in the other byte order with its own interfaces.
	w.SHB(true)
	w.IDB(uint16(LinkTypeRaw), 96, -1, 0)
	w.Block(0x40000bad, nil)
	w.EPB(0, uint64(t0.UnixMicro()), ds[0].ip())
	// A simple packet block cut by the interface's snaplen.
	w.SPB(ds[1].ip(), uint32(len(ds[1].ip())))
	in := w.Bytes()

	r, err := NewReader(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	wantTimes := []time.Time{t0, t0, t0.Add(time.Microsecond), t0.Truncate(time.Microsecond), t0.Truncate(time.Microsecond)}
	wantLinks := []uint32{1, 1, 1, LinkTypeRaw, LinkTypeRaw}
	for i := range wantTimes {
		p, err := r.Next()
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if !p.Time.Equal(wantTimes[i]) || p.LinkType != wantLinks[i] || p.Off != w.Offs[i] {
			t.Errorf("packet %d: %v link %d off %d, want %v %d %d", i, p.Time, p.LinkType, p.Off, wantTimes[i], wantLinks[i], w.Offs[i])
		}
		if i == 4 && (len(p.Data) != 96 || p.OrigLen != len(ds[1].ip())) {
			t.Errorf("snaplen: %d bytes, orig %d", len(p.Data), p.OrigLen)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	dgs, _, _, err := decodeAll(t, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(dgs) != 5 || len(dgs[4].Payload) != 96-48 {
		t.Fatalf("%d datagrams", len(dgs))
	}
}

// TestTruncatedEverywhere cuts a capture at every byte: the reader returns
// the records that are whole, then io.EOF at a record boundary or
// ErrTruncated inside a record.
func TestTruncatedEverywhere(t *testing.T) {
	pw := capturetest.NewPcap(false, true, LinkTypeEthernet, 65535)
	nw := capturetest.NewPcapng(true)
	nw.IDB(uint16(LinkTypeEthernet), 0, 9, 0)
	for i, d := range sampleDgrams() {
		f := capturetest.Ethernet(d.ip(), capturetest.EtherTypeOf(d.ip()))
		pw.Add(t0.Add(time.Duration(i)*time.Second), f)
		nw.EPB(0, uint64(i), f)
	}
	nw.Block(0x0bad, []byte("trailing unknown block"))
	ngB := blockEnds(nw.Bytes())
	pcapEnds := []int64{}
	for i := range pw.Offs {
		if i+1 < len(pw.Offs) {
			pcapEnds = append(pcapEnds, pw.Offs[i+1]-16)
		}
	}
	pcapEnds = append(pcapEnds, int64(len(pw.Bytes())))
	for _, tc := range []struct {
		name       string
		in         []byte
		boundaries []int64 // clean ends
		packetEnds []int64
	}{
		{"pcap", pw.Bytes(), append([]int64{24}, pcapEnds...), pcapEnds},
		{"pcapng", nw.Bytes(), ngB, ngB[2:5]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for n := 0; n <= len(tc.in); n++ {
				in := tc.in[:n]
				r, err := NewReader(bytes.NewReader(in))
				if err != nil {
					if int64(n) >= tc.boundaries[0] || (!errors.Is(err, ErrUnknownFormat) && !errors.Is(err, ErrTruncated)) {
						t.Fatalf("cut %d: NewReader: %v", n, err)
					}
					continue
				}
				count := 0
				for {
					_, err = r.Next()
					if err != nil {
						break
					}
					count++
				}
				whole := 0
				for _, e := range tc.packetEnds {
					if int64(n) >= e {
						whole++
					}
				}
				boundary := slices.Contains(tc.boundaries, int64(n))
				if count != whole {
					t.Fatalf("cut %d: %d packets, want %d", n, count, whole)
				}
				if boundary != (err == io.EOF) || (!boundary && !errors.Is(err, ErrTruncated)) {
					t.Fatalf("cut %d (boundary %v): %v", n, boundary, err)
				}
				if !boundary && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("cut %d: %v does not wrap io.ErrUnexpectedEOF", n, err)
				}
			}
		})
	}
}

// blockEnds lists the end offset of every block of a big-endian pcapng
// file.
func blockEnds(in []byte) []int64 {
	var ends []int64
	for off := 0; off < len(in); {
		off += int(binary.BigEndian.Uint32(in[off+4:]))
		ends = append(ends, int64(off))
	}
	return ends
}

func TestTruncatedPcapngBlocks(t *testing.T) {
	// Clean ends after the SHB and IDB (no packet) are io.EOF.
	w := capturetest.NewPcapng(false)
	shbEnd := w.Len()
	w.IDB(1, 0, -1, 0)
	in := w.Bytes()
	for _, n := range []int{shbEnd, len(in)} {
		r, err := NewReader(bytes.NewReader(in[:n]))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Next(); err != io.EOF {
			t.Fatalf("cut %d: %v", n, err)
		}
	}
}

func TestZeroLengthRecords(t *testing.T) {
	pw := capturetest.NewPcap(false, false, LinkTypeEthernet, 65535)
	pw.Add(t0, nil)
	pw.Add(t0, capturetest.Ethernet(sampleDgrams()[0].ip(), 0x0800))
	nw := capturetest.NewPcapng(false)
	nw.IDB(1, 0, -1, 0)
	nw.EPB(0, 1, nil)
	nw.SPB(nil, 0)
	nw.EPB(0, 2, capturetest.Ethernet(sampleDgrams()[0].ip(), 0x0800))
	for name, in := range map[string][]byte{"pcap": pw.Bytes(), "pcapng": nw.Bytes()} {
		dgs, n, decErrs, err := decodeAll(t, in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(dgs) != 1 || n < 2 || decErrs != n-1 {
			t.Fatalf("%s: %d datagrams of %d packets, %d errors", name, len(dgs), n, decErrs)
		}
	}
}

// allocated runs f and returns the bytes it allocated.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

func TestAbsurdLengths(t *testing.T) {
	le := binary.LittleEndian
	pcapHdr := func(snap uint32) []byte {
		w := capturetest.NewPcap(false, false, 1, snap)
		return bytes.Clone(w.Bytes())
	}
	rec := func(caplen uint32, extra int) []byte {
		b := make([]byte, 16)
		le.PutUint32(b[8:], caplen)
		le.PutUint32(b[12:], caplen)
		return append(b, make([]byte, extra)...)
	}
	ngHead := func() []byte {
		w := capturetest.NewPcapng(false)
		w.IDB(1, 0, -1, 0)
		return bytes.Clone(w.Bytes())
	}
	block := func(typ, n uint32, body int) []byte {
		b := make([]byte, 8)
		le.PutUint32(b, typ)
		le.PutUint32(b[4:], n)
		return append(b, make([]byte, body)...)
	}
	epb := func(ifid, caplen uint32, blen uint32) []byte {
		b := block(blockEPB, blen, 20)
		le.PutUint32(b[8:], ifid)
		le.PutUint32(b[20:], caplen)
		b = append(b, make([]byte, int(blen)-32)...)
		return le.AppendUint32(b, blen)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"pcap caplen 4G", append(pcapHdr(65535), rec(0xffffffff, 100)...), ErrCorrupt},
		{"pcap caplen 300k over snaplen", append(pcapHdr(65535), rec(300000, 100)...), ErrCorrupt},
		{"pcap caplen 17M with huge snaplen", append(pcapHdr(0xffffffff), rec(17<<20, 100)...), ErrCorrupt},
		{"pcap caplen 200k, 10 bytes present", append(pcapHdr(65535), rec(200000, 10)...), ErrTruncated},
		{"pcap caplen 15M, huge snaplen, 10 bytes", append(pcapHdr(16<<20), rec(15<<20, 10)...), ErrTruncated},
		{"pcap header only 10 bytes", pcapHdr(65535)[:10], ErrTruncated},
		{"pcapng block 2G", append(ngHead(), block(6, 0x7ffffff0, 40)...), ErrCorrupt},
		{"pcapng block 15M, few bytes", append(ngHead(), block(6, 15<<20, 40)...), ErrTruncated},
		{"pcapng unknown block 15M, few bytes", append(ngHead(), block(99, 15<<20, 40)...), ErrTruncated},
		{"pcapng block len 13", append(ngHead(), block(99, 13, 8)...), ErrCorrupt},
		{"pcapng block len 8", append(ngHead(), block(99, 8, 8)...), ErrCorrupt},
		{"pcapng EPB len 28", append(ngHead(), block(6, 28, 20)...), ErrCorrupt},
		{"pcapng IDB len 16", append(ngHead(), block(1, 16, 8)...), ErrCorrupt},
		{"pcapng SHB len 24", append(ngHead(), 0x0a, 0x0d, 0x0d, 0x0a, 24, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), ErrCorrupt},
		{"pcapng SHB bad magic", append(ngHead(), 0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 1, 2, 3, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0), ErrCorrupt},
		{"pcapng SHB version 2", append(ngHead(), 0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0), ErrCorrupt},
		{"pcapng trailer mismatch", func() []byte { b := append(ngHead(), epb(0, 4, 36)...); b[len(b)-1] = 9; return b }(), ErrCorrupt},
		{"pcapng unknown trailer mismatch", func() []byte { b := append(ngHead(), block(99, 16, 4)...); return append(b, 1, 0, 0, 0) }(), ErrCorrupt},
		{"pcapng EPB caplen beyond block", append(ngHead(), epb(0, 100, 36)...), ErrCorrupt},
		{"pcapng EPB caplen 4G", append(ngHead(), epb(0, 0xffffffff, 36)...), ErrCorrupt},
		{"pcapng EPB unknown interface", append(ngHead(), epb(7, 4, 36)...), ErrCorrupt},
		{"pcapng EPB before any IDB", func() []byte {
			w := capturetest.NewPcapng(false)
			return append(bytes.Clone(w.Bytes()), epb(0, 4, 36)...)
		}(), ErrCorrupt},
		{"pcapng bad tsresol", func() []byte { w := capturetest.NewPcapng(false); w.IDB(1, 0, 20, 0); return bytes.Clone(w.Bytes()) }(), ErrCorrupt},
		{"pcapng bad binary tsresol", func() []byte {
			w := capturetest.NewPcapng(false)
			w.IDB(1, 0, 0x80|64, 0)
			return bytes.Clone(w.Bytes())
		}(), ErrCorrupt},
		{"pcapng too many interfaces", func() []byte {
			w := capturetest.NewPcapng(false)
			for range maxInterfaces + 1 {
				w.IDB(1, 0, -1, 0)
			}
			return bytes.Clone(w.Bytes())
		}(), ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			n := allocated(func() {
				var r *Reader
				r, err = NewReader(bytes.NewReader(tc.in))
				if err != nil {
					return
				}
				for err == nil {
					_, err = r.Next()
				}
			})
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if n > 1<<20 {
				t.Errorf("allocated %d bytes", n)
			}
		})
	}
}

func TestLargeRecords(t *testing.T) {
	big := testDgram{netip.AddrPortFrom(addrA, 1), netip.AddrPortFrom(addrB, 2), payloadOf(65000, 9)}
	// A 150,000-byte frame: larger than the read buffer.
	huge := append(capturetest.Ethernet(big.ip(), 0x0800), payloadOf(150000-14-len(big.ip()), 3)...)
	small := sampleDgrams()[0]
	pw := capturetest.NewPcap(true, false, LinkTypeEthernet, 262144)
	pw.Add(t0, huge)
	pw.Add(t0, capturetest.Ethernet(small.ip(), 0x0800))
	pw.Add(t0, huge)
	nw := capturetest.NewPcapng(false)
	nw.IDB(1, 0, -1, 0)
	nw.EPB(0, 0, huge)
	nw.EPB(0, 1, capturetest.Ethernet(small.ip(), 0x0800))
	nw.EPB(0, 2, huge)
	for name, in := range map[string][]byte{"pcap": pw.Bytes(), "pcapng": nw.Bytes()} {
		for _, slow := range []bool{false, true} {
			var src io.Reader = bytes.NewReader(in)
			if slow {
				src = iotest.HalfReader(src)
			}
			r, err := NewReader(src)
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range [][]byte{huge, capturetest.Ethernet(small.ip(), 0x0800), huge} {
				p, err := r.Next()
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if !bytes.Equal(p.Data, want) || !bytes.Equal(in[p.Off:p.Off+int64(len(p.Data))], want) {
					t.Fatalf("%s packet %d: wrong data at %d", name, i, p.Off)
				}
			}
			if _, err := r.Next(); err != io.EOF {
				t.Fatal(err)
			}
		}
		dgs, _, _, err := decodeAll(t, in)
		if err != nil || len(dgs) != 3 || !bytes.Equal(dgs[0].Payload, big.payload) {
			t.Fatalf("%s: %v %d", name, err, len(dgs))
		}
	}
}

func TestGarbage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		b := make([]byte, rng.IntN(3000))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		switch i % 3 {
		case 1:
			copy(b, capturetest.NewPcap(i%2 == 0, false, uint32(rng.IntN(300)), 65535).Bytes())
		case 2:
			if len(b) > 40 {
				w := capturetest.NewPcapng(i%2 == 0)
				w.IDB(uint16(rng.IntN(300)), 0, -1, 0)
				copy(b, w.Bytes())
			}
		}
		r, err := NewReader(bytes.NewReader(b))
		if err != nil {
			continue
		}
		d := NewDecoder()
		for k := 0; ; k++ {
			p, err := r.Next()
			if err != nil {
				if err == io.EOF || errors.Is(err, ErrTruncated) || errors.Is(err, ErrCorrupt) {
					break
				}
				t.Fatalf("unexpected error %v", err)
			}
			if k > len(b) {
				t.Fatal("more packets than bytes")
			}
			if dg, err := d.Decode(p); err == nil && dg != nil {
				checkPieces(t, b, dg)
			}
		}
	}
	for _, in := range [][]byte{nil, {0xd4}, {0xd4, 0xc3, 0xb2}, []byte("GET / HTTP/1.1\r\n\r\n"), {0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 1, 2, 3, 4}} {
		if _, err := NewReader(bytes.NewReader(in)); !errors.Is(err, ErrUnknownFormat) {
			t.Errorf("%q: %v", in, err)
		}
	}
}

func TestReadErrors(t *testing.T) {
	w := capturetest.NewPcap(false, false, 1, 65535)
	for range 100 {
		w.Add(t0, capturetest.Ethernet(sampleDgrams()[0].ip(), 0x0800))
	}
	in := w.Bytes()
	boom := errors.New("boom")
	r, err := NewReader(io.MultiReader(bytes.NewReader(in[:5000]), iotest.ErrReader(boom)))
	if err != nil {
		t.Fatal(err)
	}
	for err == nil {
		_, err = r.Next()
	}
	if !errors.Is(err, boom) || errors.Is(err, ErrTruncated) {
		t.Fatalf("got %v", err)
	}
	if _, err2 := r.Next(); err2 != err {
		t.Fatalf("error not sticky: %v", err2)
	}
	// A reader returning data along with io.EOF, one byte at a time.
	for _, src := range []io.Reader{iotest.DataErrReader(bytes.NewReader(in)), iotest.OneByteReader(bytes.NewReader(in))} {
		dgs, _, _, err := decodeAllFrom(t, src, in)
		if err != nil || len(dgs) != 100 {
			t.Fatalf("%v %d", err, len(dgs))
		}
	}
	if _, err := NewReader(iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
}

func decodeAllFrom(t *testing.T, src io.Reader, in []byte) ([]got, int, int, error) {
	t.Helper()
	b, err := io.ReadAll(src)
	if err != nil {
		return nil, 0, 0, err
	}
	if !bytes.Equal(b, in) {
		t.Fatal("source differs")
	}
	return decodeAll(t, b)
}

func TestSlowReaderKeepsOffsets(t *testing.T) {
	w := capturetest.NewPcapng(false)
	w.IDB(1, 0, 9, 0)
	for i := range 50 {
		w.EPB(0, uint64(i), capturetest.Ethernet(payloadOf(100+i*37, byte(i)), 0x0800))
	}
	in := w.Bytes()
	r, err := NewReader(iotest.OneByteReader(bytes.NewReader(in)))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		p, err := r.Next()
		if err == io.EOF {
			if i != 50 {
				t.Fatalf("%d packets", i)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.Off != w.Offs[i] || !bytes.Equal(p.Data, in[p.Off:p.Off+int64(len(p.Data))]) {
			t.Fatalf("packet %d at %d, want %d", i, p.Off, w.Offs[i])
		}
	}
}

func TestDecompress(t *testing.T) {
	w := capturetest.NewPcap(false, true, LinkTypeEthernet, 65535)
	for i := range 20 {
		w.Add(t0.Add(time.Duration(i)), capturetest.Ethernet(sampleDgrams()[i%3].ip(), capturetest.EtherTypeOf(sampleDgrams()[i%3].ip())))
	}
	plain := w.Bytes()
	gz := func(parts ...[]byte) []byte {
		var b bytes.Buffer
		for _, p := range parts {
			zw := gzip.NewWriter(&b)
			zw.Write(p)
			zw.Close()
		}
		return b.Bytes()
	}
	for _, tc := range []struct {
		name string
		in   []byte
		gz   bool
	}{
		{"plain", plain, false},
		{"gzip", gz(plain), true},
		{"multistream", gz(plain[:100], plain[100:777], plain[777:]), true},
		{"empty", nil, false},
		{"one byte", []byte{0x1f}, false},
		{"two bytes", []byte{0x1f, 0x8c}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, gzipped, err := Decompress(iotest.HalfReader(bytes.NewReader(tc.in)))
			if err != nil {
				t.Fatal(err)
			}
			if gzipped != tc.gz {
				t.Errorf("gzipped = %v", gzipped)
			}
			b, err := io.ReadAll(out)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.in
			if tc.gz {
				want = plain
			}
			if !bytes.Equal(b, want) {
				t.Fatalf("got %d bytes, want %d", len(b), len(want))
			}
		})
	}
	// Offsets refer to the decompressed stream.
	out, _, err := Decompress(bytes.NewReader(gz(plain)))
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(out)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil || p.Off != w.Offs[i] {
			t.Fatalf("packet %d: %v at %d", i, err, p.Off)
		}
	}
	// A cut gzip stream is a truncated capture.
	cut := gz(plain)
	out, _, err = Decompress(bytes.NewReader(cut[:len(cut)/2]))
	if err != nil {
		t.Fatal(err)
	}
	r, err = NewReader(out)
	if err != nil {
		t.Fatal(err)
	}
	for err == nil {
		_, err = r.Next()
	}
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("cut gzip: %v", err)
	}
	if _, _, err := Decompress(bytes.NewReader([]byte{0x1f, 0x8b, 1})); err == nil {
		t.Fatal("bad gzip header accepted")
	}
}

func TestHasCaptureMagic(t *testing.T) {
	for _, c := range []struct {
		head []byte
		want bool
	}{
		{[]byte{0xd4, 0xc3, 0xb2, 0xa1}, true},       // pcap, little-endian, µs
		{[]byte{0xa1, 0xb2, 0xc3, 0xd4}, true},       // pcap, big-endian
		{[]byte{0x4d, 0x3c, 0xb2, 0xa1}, true},       // pcap, ns
		{[]byte{0x34, 0xcd, 0xb2, 0xa1}, true},       // modified pcap
		{[]byte{0x0a, 0x0d, 0x0d, 0x0a, 0, 0}, true}, // pcapng
		{[]byte{0x1f, 0x8b, 0x08, 0x00}, false},      // gzip: decompress first
		{[]byte("GET "), false},
		{[]byte{0xd4, 0xc3, 0xb2}, false},
		{nil, false},
	} {
		if got := HasCaptureMagic(c.head); got != c.want {
			t.Errorf("HasCaptureMagic(% x) = %v", c.head, got)
		}
		if c.want && len(c.head) >= 4 {
			// NewReader agrees: it gets past the magic (the rest is short).
			_, err := NewReader(bytes.NewReader(c.head))
			if errors.Is(err, ErrUnknownFormat) {
				t.Errorf("NewReader(% x): %v", c.head, err)
			}
		}
	}
}

// TestBigRecordBufferLetGo: a record far beyond the read buffer (a pcap
// whose snaplen admits it) is read whole, and its buffer is let go at the
// next record; the buffer of a 64 KiB offload segment is kept for the next
// one.
func TestBigRecordBufferLetGo(t *testing.T) {
	rec := func(n int) []byte {
		b := make([]byte, 16+n)
		binary.LittleEndian.PutUint32(b[8:], uint32(n))
		binary.LittleEndian.PutUint32(b[12:], uint32(n))
		return b
	}
	for _, tc := range []struct {
		name     string
		big      int
		keptFrom int // smallest cap(r.big) wanted after the small record
		keptTo   int // largest
	}{
		{"16 MiB record", maxBlockLen, 0, maxKeptBig},
		{"1 MiB record", 1 << 20, 0, maxKeptBig},
		{"offload segment", 65536 + 54, 65536 + 54, maxKeptBig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := bytes.Clone(capturetest.NewPcap(false, false, LinkTypeIPv4, 0xffffffff).Bytes())
			in = append(in, rec(tc.big)...)
			in = append(in, rec(100)...)
			r, err := NewReader(bytes.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []int{tc.big, 100} {
				p, err := r.Next()
				if err != nil || len(p.Data) != want {
					t.Fatalf("record of %d bytes: %d bytes, %v", want, len(p.Data), err)
				}
			}
			if c := cap(r.big); c < tc.keptFrom || c > tc.keptTo {
				t.Errorf("after a %d-byte record and a 100-byte one the reader keeps a %d-byte buffer, want %d..%d", tc.big, c, tc.keptFrom, tc.keptTo)
			}
			if _, err := r.Next(); err != io.EOF {
				t.Fatal(err)
			}
		})
	}
}
