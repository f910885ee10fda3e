package capture

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/callvault/callvault/internal/capturetest"
)

// fuzzSeeds returns small synthesized captures: every link type, both
// formats and byte orders, fragments, truncation.
func fuzzSeeds() [][]byte {
	var seeds [][]byte
	pay := payloadOf(300, 1)
	frags := capturetest.Frag4(capturetest.IPv4(addrA, addrB, 17, 1, nil, capturetest.UDP(1, 2, pay)), 104, 208)
	hbh := capturetest.ExtHdr(0, 17, 0)
	frags6 := capturetest.Frag6(capturetest.IPv6(addr6A, addr6B, 0, append(hbh, capturetest.UDP(3, 4, pay)...)), 8, 40, 9, 152)
	for i, lc := range linkCases() {
		be := i%2 == 0
		pw := capturetest.NewPcap(be, i%3 == 0, lc.link, 65535)
		nw := capturetest.NewPcapng(!be)
		nw.IDB(uint16(lc.link), 0, 9, 0)
		for j, d := range sampleDgrams()[:2] {
			pw.Add(t0, lc.wrap(d.ip()))
			nw.EPB(0, uint64(j), lc.wrap(d.ip()))
		}
		for _, f := range append([][]byte{frags[2], frags[0], frags[1]}, frags6[1], frags6[0]) {
			pw.Add(t0, lc.wrap(f))
			nw.EPB(0, 5, lc.wrap(f))
		}
		nw.SPB(lc.wrap(sampleDgrams()[2].ip()), 100)
		seeds = append(seeds, bytes.Clone(pw.Bytes()), bytes.Clone(nw.Bytes()))
	}
	cut := seeds[0]
	seeds = append(seeds, cut[:len(cut)-7], cut[:30], []byte{0x0a, 0x0d, 0x0d, 0x0a})
	return seeds
}

func FuzzReader(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := NewReader(bytes.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrUnknownFormat) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("NewReader: unexpected error %v", err)
			}
			return
		}
		d := NewDecoder()
		for n := 0; ; n++ {
			p, err := r.Next()
			if err != nil {
				if err != io.EOF && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Next: unexpected error %v", err)
				}
				if _, err2 := r.Next(); err2 != err {
					t.Fatalf("error not sticky: %v then %v", err, err2)
				}
				return
			}
			if n > len(in)/12 {
				t.Fatalf("%d packets from %d bytes", n, len(in))
			}
			if p.Off < 0 || p.Off+int64(len(p.Data)) > int64(len(in)) || !bytes.Equal(p.Data, in[p.Off:p.Off+int64(len(p.Data))]) {
				t.Fatalf("packet %d: data not at offset %d", n, p.Off)
			}
			dg, err := d.Decode(p)
			if err != nil {
				if dg != nil || (!errors.Is(err, ErrMalformed) && !errors.Is(err, ErrLinkType)) {
					t.Fatalf("Decode: %v, %v", dg, err)
				}
				continue
			}
			if dg != nil {
				checkPieces(t, in, dg)
			}
		}
	})
}

// fuzzLinks are the link types FuzzDecode picks from.
var fuzzLinks = [...]uint32{LinkTypeEthernet, LinkTypeRaw, LinkTypeLinuxSLL, LinkTypeLinuxSLL2, LinkTypeNull, LinkTypeLoop, LinkTypeIPv4, LinkTypeIPv6, 12, 14, 147}

// encodeDecodeInput encodes packets for FuzzDecode: a link selector byte,
// then per packet a 2-byte length, a time step in 1/4 s and the bytes.
func encodeDecodeInput(link byte, pkts [][]byte, step byte) []byte {
	b := []byte{link}
	for _, p := range pkts {
		b = append(b, byte(len(p)>>8), byte(len(p)), step)
		b = append(b, p...)
	}
	return b
}

func FuzzDecode(f *testing.F) {
	pay := payloadOf(600, 3)
	u4 := capturetest.IPv4(addrA, addrB, 17, 7, nil, capturetest.UDP(1, 2, pay))
	fr := capturetest.Frag4(u4, 200, 400)
	over := [][]byte{capturetest.Frag4Range(u4, 0, 304, true), capturetest.Frag4Range(u4, 200, 512, true), capturetest.Frag4Range(u4, 400, len(u4)-20, false)}
	u6 := capturetest.IPv6(addr6A, addr6B, 60, append(capturetest.ExtHdr(60, 17, 0), capturetest.UDP(1, 2, pay)...))
	fr6 := capturetest.Frag6(u6, 0, 6, 99, 304)
	for i := range fuzzLinks {
		var wrap func([]byte) []byte
		for _, lc := range linkCases() {
			if lc.link == fuzzLinks[i] {
				wrap = lc.wrap
			}
		}
		if wrap == nil {
			wrap = func(b []byte) []byte { return b }
		}
		var ws [][]byte
		for _, p := range append(append(append([][]byte{fr[1], fr[2], fr[0]}, over...), fr6[1], fr6[0]), sampleDgrams()[0].ip(), capturetest.IPv4(addrA, addrB, 6, 1, nil, capturetest.TCP(1, 2, 4, pay))) {
			ws = append(ws, wrap(p))
		}
		f.Add(encodeDecodeInput(byte(i), ws, 1))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		link := fuzzLinks[int(in[0])%len(fuzzLinks)]
		// The packets laid end to end form the "capture" the pieces
		// point into.
		file := make([]byte, 0, len(in))
		type pkt struct {
			off, n int
			dt     time.Duration
		}
		var pkts []pkt
		for rest := in[1:]; len(rest) >= 3; {
			n := min(int(rest[0])<<8|int(rest[1]), len(rest)-3)
			pkts = append(pkts, pkt{len(file), n, time.Duration(rest[2]) * time.Second / 4})
			file = append(file, rest[3:3+n]...)
			rest = rest[3+n:]
		}
		d := NewDecoder()
		tm := t0
		for _, p := range pkts {
			tm = tm.Add(p.dt)
			dg, err := d.Decode(Packet{Time: tm, LinkType: link, Data: file[p.off : p.off+p.n : p.off+p.n], Off: int64(p.off)})
			if err != nil {
				if dg != nil || (!errors.Is(err, ErrMalformed) && !errors.Is(err, ErrLinkType)) {
					t.Fatalf("Decode: %v, %v", dg, err)
				}
				continue
			}
			if dg == nil {
				continue
			}
			if len(dg.Payload) == 0 || (dg.Proto != UDP && dg.Proto != TCP) || !dg.Time.Equal(tm) {
				t.Fatalf("datagram %+v", dg)
			}
			checkPieces(t, file, dg)
		}
	})
}
