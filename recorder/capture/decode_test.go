package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/callvault/callvault/internal/capturetest"
)

func TestDecodeCases(t *testing.T) {
	pay := payloadOf(40, 5)
	u4 := capturetest.IPv4(addrA, addrB, 17, 1, nil, capturetest.UDP(1000, 2000, pay))
	u6 := capturetest.IPv6(addr6A, addr6B, 17, capturetest.UDP(1000, 2000, pay))
	withTot := func(ip []byte, tot uint16) []byte {
		b := bytes.Clone(ip)
		binary.BigEndian.PutUint16(b[2:], tot)
		return b
	}
	set := func(ip []byte, i int, v byte) []byte {
		b := bytes.Clone(ip)
		b[i] = v
		return b
	}
	udpLen := func(ip []byte, ihl int, n uint16) []byte {
		b := bytes.Clone(ip)
		binary.BigEndian.PutUint16(b[ihl+4:], n)
		return b
	}
	pppoe := func(ip []byte, proto uint16) []byte {
		h := []byte{0x11, 0, 0x12, 0x34, 0, 0, 0, 0}
		binary.BigEndian.PutUint16(h[4:], uint16(len(ip)+2))
		binary.BigEndian.PutUint16(h[6:], proto)
		return capturetest.Ethernet(append(h, ip...), 0x8864)
	}
	mpls := func(ip []byte, labels int) []byte {
		var h []byte
		for i := range labels {
			l := []byte{0, 0x10, 0, 64}
			if i == labels-1 {
				l[2] |= 1
			}
			h = append(h, l...)
		}
		return capturetest.Ethernet(append(h, ip...), 0x8847)
	}
	snap := func(ip []byte) []byte {
		h := []byte{0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00}
		b := capturetest.Ethernet(append(h, ip...), uint16(len(ip)+8))
		return b
	}
	ext := append(append(append(capturetest.ExtHdr(0, 60, 0), capturetest.ExtHdr(60, 43, 1)...), capturetest.ExtHdr(43, 51, 0)...), capturetest.ExtHdr(51, 17, 2)...)
	ext6 := capturetest.IPv6(addr6A, addr6B, 0, append(bytes.Clone(ext), capturetest.UDP(1, 2, pay)...))
	atomic := capturetest.IPv6(addr6A, addr6B, 44, append([]byte{17, 0, 0, 0, 1, 2, 3, 4}, capturetest.UDP(1, 2, pay)...))
	tcp := capturetest.IPv4(addrA, addrB, 6, 1, nil, capturetest.TCP(5060, 5061, 12, pay))
	opts := capturetest.IPv4(addrA, addrB, 17, 1, bytes.Repeat([]byte{1}, 40), capturetest.UDP(1000, 2000, pay))

	for _, tc := range []struct {
		name    string
		link    uint32
		data    []byte
		want    []byte // payload; nil: no datagram
		wantErr error
	}{
		{"ethernet v4", 1, capturetest.Ethernet(u4, 0x0800), pay, nil},
		{"ethernet v6", 1, capturetest.Ethernet(u6, 0x86dd), pay, nil},
		{"padded frame", 1, append(capturetest.Ethernet(capturetest.IPv4(addrA, addrB, 17, 1, nil, capturetest.UDP(1, 2, []byte{7})), 0x0800), make([]byte, 17)...), []byte{7}, nil},
		{"FCS trailer", 1, append(capturetest.Ethernet(u4, 0x0800), 1, 2, 3, 4), pay, nil},
		{"vlan", 1, capturetest.Ethernet(u4, 0x8100, 0x0800), pay, nil},
		{"qinq", 1, capturetest.Ethernet(u6, 0x88a8, 0x8100, 0x86dd), pay, nil},
		{"triple tag", 1, capturetest.Ethernet(u4, 0x9100, 0x88a8, 0x8100, 0x0800), pay, nil},
		{"pppoe v4", 1, pppoe(u4, 0x0021), pay, nil},
		{"pppoe v6", 1, pppoe(u6, 0x0057), pay, nil},
		{"pppoe lcp", 1, pppoe(u4, 0xc021), nil, nil},
		{"mpls", 1, mpls(u4, 2), pay, nil},
		{"mpls v6", 1, mpls(u6, 1), pay, nil},
		{"mpls pseudowire", 1, mpls(capturetest.Ethernet(u4, 0x0800), 1), nil, nil},
		{"llc snap", 1, snap(u4), pay, nil},
		{"arp", 1, capturetest.Ethernet(make([]byte, 28), 0x0806), nil, nil},
		{"icmp", 1, capturetest.Ethernet(capturetest.IPv4(addrA, addrB, 1, 1, nil, make([]byte, 8)), 0x0800), nil, nil},
		{"ipv4 options", 1, capturetest.Ethernet(opts, 0x0800), pay, nil},
		{"tcp", 1, capturetest.Ethernet(tcp, 0x0800), pay, nil},
		{"tcp ack", 1, capturetest.Ethernet(capturetest.IPv4(addrA, addrB, 6, 1, nil, capturetest.TCP(1, 2, 0, nil)), 0x0800), nil, nil},
		{"empty udp", 1, capturetest.Ethernet(capturetest.IPv4(addrA, addrB, 17, 1, nil, capturetest.UDP(1, 2, nil)), 0x0800), nil, nil},
		{"tso total 0", 1, capturetest.Ethernet(withTot(u4, 0), 0x0800), pay, nil},
		{"udp len 0", 1, capturetest.Ethernet(udpLen(u4, 20, 0), 0x0800), pay, nil},
		{"udp len short of ip", 1, capturetest.Ethernet(udpLen(u4, 20, 18), 0x0800), pay[:10], nil},
		{"udp len beyond ip", 1, capturetest.Ethernet(udpLen(u4, 20, 900), 0x0800), pay, nil},
		{"snaplen cut payload", 1, capturetest.Ethernet(u4, 0x0800)[:14+20+8+15], pay[:15], nil},
		{"snaplen cut v6 payload", 1, capturetest.Ethernet(u6, 0x86dd)[:14+40+8+3], pay[:3], nil},
		{"snaplen cut tcp payload", 1, capturetest.Ethernet(tcp, 0x0800)[:14+20+32+1], pay[:1], nil},
		{"snaplen cut udp header", 1, capturetest.Ethernet(u4, 0x0800)[:14+20+7], nil, ErrMalformed},
		{"snaplen cut ip header", 1, capturetest.Ethernet(u4, 0x0800)[:14+19], nil, ErrMalformed},
		{"snaplen cut v6 header", 1, capturetest.Ethernet(u6, 0x86dd)[:14+39], nil, ErrMalformed},
		{"snaplen cut tcp header", 1, capturetest.Ethernet(tcp, 0x0800)[:14+20+30], nil, ErrMalformed},
		{"snaplen cut vlan", 1, capturetest.Ethernet(u4, 0x8100, 0x0800)[:16], nil, ErrMalformed},
		{"short ethernet", 1, make([]byte, 13), nil, ErrMalformed},
		{"ihl 4", 1, capturetest.Ethernet(set(u4, 0, 0x44), 0x0800), nil, ErrMalformed},
		{"ihl beyond", 1, capturetest.Ethernet(set(u4, 0, 0x4f), 0x0800)[:14+50], nil, ErrMalformed},
		{"total below ihl", 1, capturetest.Ethernet(withTot(u4, 19), 0x0800), nil, ErrMalformed},
		{"udp len 7", 1, capturetest.Ethernet(udpLen(u4, 20, 7), 0x0800), nil, ErrMalformed},
		{"tcp offset 4", 1, capturetest.Ethernet(capturetest.IPv4(addrA, addrB, 6, 1, nil, set(capturetest.TCP(1, 2, 0, pay), 12, 0x40)), 0x0800), nil, ErrMalformed},
		{"v6 in v4 ethertype", 1, capturetest.Ethernet(u6, 0x0800), nil, ErrMalformed},
		{"v4 in v6 ethertype", 1, capturetest.Ethernet(u4, 0x86dd), nil, ErrMalformed},
		{"v6 ext headers", 1, capturetest.Ethernet(ext6, 0x86dd), pay, nil},
		{"v6 ext cut", 1, capturetest.Ethernet(ext6, 0x86dd)[:14+40+20], nil, ErrMalformed},
		{"v6 atomic fragment", 1, capturetest.Ethernet(atomic, 0x86dd), pay, nil},
		{"v6 esp", 1, capturetest.Ethernet(capturetest.IPv6(addr6A, addr6B, 50, make([]byte, 40)), 0x86dd), nil, nil},
		{"v6 no next header", 1, capturetest.Ethernet(capturetest.IPv6(addr6A, addr6B, 59, nil), 0x86dd), nil, nil},
		{"v6 icmp", 1, capturetest.Ethernet(capturetest.IPv6(addr6A, addr6B, 58, make([]byte, 8)), 0x86dd), nil, nil},
		{"v6 plen 0", 1, capturetest.Ethernet(func() []byte { b := bytes.Clone(u6); b[4], b[5] = 0, 0; return b }(), 0x86dd), pay, nil},
		{"v6 plen short", 1, capturetest.Ethernet(func() []byte { b := bytes.Clone(u6); b[5] = 8 + 5; return b }(), 0x86dd), pay[:5], nil},
		{"raw bad version", LinkTypeRaw, set(u4, 0, 0x55), nil, ErrMalformed},
		{"raw empty", LinkTypeRaw, nil, nil, ErrMalformed},
		{"null unknown af", LinkTypeNull, capturetest.Null(u4, 7, false), nil, ErrMalformed},
		{"null short", LinkTypeNull, []byte{2, 0}, nil, ErrMalformed},
		{"sll short", LinkTypeLinuxSLL, make([]byte, 15), nil, ErrMalformed},
		{"sll2 short", LinkTypeLinuxSLL2, make([]byte, 19), nil, ErrMalformed},
		{"sll vlan", LinkTypeLinuxSLL, func() []byte {
			b := capturetest.SLL(u4)
			binary.BigEndian.PutUint16(b[14:], 0x8100)
			return slices.Concat(b[:16], []byte{0, 5, 8, 0}, b[16:])
		}(), pay, nil},
		{"ipv4 link", LinkTypeIPv4, u4, pay, nil},
		{"ipv4 link with v6", LinkTypeIPv4, u6, nil, ErrMalformed},
		{"ipv6 link", LinkTypeIPv6, u6, pay, nil},
		{"unknown link", 147, capturetest.Ethernet(u4, 0x0800), nil, ErrLinkType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append(make([]byte, 100), tc.data...)
			d := NewDecoder()
			dg, err := d.Decode(Packet{Time: t0, LinkType: tc.link, Data: in[100:], Off: 100})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || dg != nil {
					t.Fatalf("got %v, %v; want %v", dg, err, tc.wantErr)
				}
				if err.Error() == "" {
					t.Fatal("empty error text")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				if dg != nil {
					t.Fatalf("got a datagram of %d bytes", len(dg.Payload))
				}
				return
			}
			if dg == nil {
				t.Fatal("no datagram")
			}
			if !bytes.Equal(dg.Payload, tc.want) {
				t.Fatalf("payload %x, want %x", dg.Payload, tc.want)
			}
			checkPieces(t, in, dg)
			if !dg.Time.Equal(t0) || !dg.Src.IsValid() || !dg.Dst.IsValid() || dg.Src.Port() == 0 {
				t.Fatalf("datagram %+v", dg)
			}
		})
	}
}

func TestDecodeAddresses(t *testing.T) {
	d := NewDecoder()
	dg, err := d.Decode(Packet{LinkType: LinkTypeRaw, Data: capturetest.IPv4(addrA, addrB, 6, 1, nil, capturetest.TCP(5060, 443, 0, []byte("x")))})
	if err != nil || dg == nil {
		t.Fatal(err)
	}
	if dg.Proto != TCP || dg.Src != netip.MustParseAddrPort("10.1.2.3:5060") || dg.Dst != netip.MustParseAddrPort("192.168.7.9:443") {
		t.Fatalf("%v %v %v", dg.Proto, dg.Src, dg.Dst)
	}
	dg, err = d.Decode(Packet{LinkType: LinkTypeRaw, Data: capturetest.IPv6(addr6A, addr6B, 17, capturetest.UDP(16388, 16386, []byte("y")))})
	if err != nil || dg == nil {
		t.Fatal(err)
	}
	if dg.Proto != UDP || dg.Src != netip.MustParseAddrPort("[2001:db8::1]:16388") || dg.Dst != netip.MustParseAddrPort("[fe80::1234:5678]:16386") {
		t.Fatalf("%v %v %v", dg.Proto, dg.Src, dg.Dst)
	}
}

// fragCapture writes the frames into an Ethernet pcap, one per 1 ms from
// start.
func fragCapture(start time.Time, frames [][]byte) []byte {
	w := capturetest.NewPcap(false, true, LinkTypeEthernet, 65535)
	for i, f := range frames {
		w.Add(start.Add(time.Duration(i)*time.Millisecond), capturetest.Ethernet(f, capturetest.EtherTypeOf(f)))
	}
	return bytes.Clone(w.Bytes())
}

func TestFragmentsIPv4(t *testing.T) {
	pay := payloadOf(3000, 11)
	pkt := capturetest.IPv4(addrA, addrB, 17, 4242, nil, capturetest.UDP(5060, 5060, pay))
	fr := capturetest.Frag4(pkt, 1480, 2960) // 3 fragments
	tiny := capturetest.Frag4(pkt, 8, 16, 1000, 1008)
	other := capturetest.IPv4(addrB, addrA, 17, 4242, nil, capturetest.UDP(5061, 5061, payloadOf(2000, 3)))
	ofr := capturetest.Frag4(other, 1480)
	longer := capturetest.IPv4(addrA, addrB, 17, 4242, nil, capturetest.UDP(5060, 5060, payloadOf(3100, 11)))
	rng := rand.New(rand.NewPCG(7, 7))
	shuffled := func(f [][]byte) [][]byte {
		s := slices.Clone(f)
		rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
		return s
	}
	// Overlapping fragments: the same datagram fragmented at other
	// boundaries, and one spanning two others.
	over := [][]byte{
		capturetest.Frag4Range(pkt, 0, 1000, true),
		capturetest.Frag4Range(pkt, 800, 2000, true),
		capturetest.Frag4Range(pkt, 2400, len(pkt)-20, false),
		capturetest.Frag4Range(pkt, 1600, 2600, true),
	}
	// Conflicting overlap: the second copy of bytes 800..1000 differs;
	// the first copy wins and the pieces still point at the bytes used.
	bad := capturetest.Frag4Range(pkt, 800, 2008, true)
	for i := 20; i < 220; i++ {
		bad[i] ^= 0xff
	}
	conflict := [][]byte{capturetest.Frag4Range(pkt, 0, 1000, true), bad, capturetest.Frag4Range(pkt, 2008, len(pkt)-20, false)}
	for _, tc := range []struct {
		name   string
		frames [][]byte
		want   [][]byte // payloads in order
		pieces int      // of the first datagram, 0: don't check
	}{
		{"in order", fr, [][]byte{pay}, 3},
		{"reverse", [][]byte{fr[2], fr[1], fr[0]}, [][]byte{pay}, 3},
		{"last first", [][]byte{fr[2], fr[0], fr[1]}, [][]byte{pay}, 3},
		{"shuffled", shuffled(fr), [][]byte{pay}, 3},
		{"tiny, header split", shuffled(tiny), [][]byte{pay}, 4},
		{"duplicates", [][]byte{fr[0], fr[0], fr[1], fr[1], fr[2], fr[2]}, [][]byte{pay}, 3},
		{"interleaved", [][]byte{fr[1], ofr[1], fr[0], ofr[0], fr[2]}, [][]byte{other[28:], pay}, 0},
		{"overlapping", over, [][]byte{pay}, 0},
		{"overlapping shuffled", shuffled(over), [][]byte{pay}, 0},
		{"conflicting overlap", conflict, [][]byte{pay}, 3},
		{"after completion, a late duplicate starts anew", [][]byte{fr[0], fr[1], fr[2], fr[1]}, [][]byte{pay}, 3},
		{"missing middle", [][]byte{fr[0], fr[2]}, nil, 0},
		{"non-udp fragments", capturetest.Frag4(capturetest.IPv4(addrA, addrB, 1, 9, nil, make([]byte, 3000)), 1480), nil, 0},
		{"tcp", capturetest.Frag4(capturetest.IPv4(addrA, addrB, 6, 9, nil, capturetest.TCP(1, 2, 8, pay)), 1480, 2960), [][]byte{pay}, 3},
		{"inconsistent last", [][]byte{fr[2], capturetest.Frag4Range(pkt, 2960, 3000, false), fr[0], fr[1]}, nil, 0},
		{"beyond last", [][]byte{fr[2], capturetest.Frag4Range(longer, 1480, 3024, true), fr[0], fr[1]}, nil, 0},
		{"beyond last, before it", [][]byte{capturetest.Frag4Range(longer, 1480, 3024, true), fr[0], fr[2], fr[1]}, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := fragCapture(t0, tc.frames)
			dgs, _, decErrs, err := decodeAll(t, in)
			if err != nil || decErrs != 0 {
				t.Fatal(err, decErrs)
			}
			if len(dgs) != len(tc.want) {
				t.Fatalf("%d datagrams, want %d", len(dgs), len(tc.want))
			}
			for i, g := range dgs {
				if !bytes.Equal(g.Payload, tc.want[i]) {
					t.Fatalf("datagram %d: wrong payload (%d bytes)", i, len(g.Payload))
				}
			}
			if tc.pieces > 0 && len(dgs[0].Pieces) != tc.pieces {
				t.Errorf("%d pieces, want %d", len(dgs[0].Pieces), tc.pieces)
			}
		})
	}
}

func TestFragmentsIPv6(t *testing.T) {
	pay := payloadOf(4000, 21)
	// Unfragmentable: hop-by-hop; fragmentable: destination options + UDP.
	hbh := capturetest.ExtHdr(0, 60, 0)
	rest := append(capturetest.ExtHdr(60, 17, 1), capturetest.UDP(16388, 16386, pay)...)
	pkt := capturetest.IPv6(addr6A, addr6B, 0, append(bytes.Clone(hbh), rest...))
	fr := capturetest.Frag6(pkt, 8, 40, 0xdeadbeef, 1448, 2896)
	plain := capturetest.IPv6(addr6B, addr6A, 17, capturetest.UDP(1, 2, pay[:3000]))
	pfr := capturetest.Frag6(plain, 0, 6, 7, 1232, 2464)
	for _, tc := range []struct {
		name   string
		frames [][]byte
		want   [][]byte
	}{
		{"in order", fr, [][]byte{pay}},
		{"reverse", [][]byte{fr[2], fr[1], fr[0]}, [][]byte{pay}},
		{"duplicate", [][]byte{fr[1], fr[1], fr[0], fr[2], fr[0]}, [][]byte{pay}},
		{"no extension headers", [][]byte{pfr[1], pfr[0], pfr[2]}, [][]byte{pay[:3000]}},
		{"interleaved", [][]byte{pfr[0], fr[0], pfr[1], fr[1], fr[2], pfr[2]}, [][]byte{pay, pay[:3000]}},
		{"missing", [][]byte{fr[0], fr[2]}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dgs, _, decErrs, err := decodeAll(t, fragCapture(t0, tc.frames))
			if err != nil || decErrs != 0 {
				t.Fatal(err, decErrs)
			}
			if len(dgs) != len(tc.want) {
				t.Fatalf("%d datagrams, want %d", len(dgs), len(tc.want))
			}
			for i, g := range dgs {
				if !bytes.Equal(g.Payload, tc.want[i]) || g.Proto != UDP {
					t.Fatalf("datagram %d: wrong payload (%d bytes)", i, len(g.Payload))
				}
			}
		})
	}
}

func TestFragmentLimits(t *testing.T) {
	pay := payloadOf(2000, 1)
	dgram := func(id uint16) [][]byte {
		return capturetest.Frag4(capturetest.IPv4(addrA, addrB, 17, id, nil, capturetest.UDP(1, 2, pay)), 1480)
	}
	t.Run("eviction", func(t *testing.T) {
		// maxFragDatagrams+1 first fragments: the oldest is evicted.
		var frames [][]byte
		for id := range maxFragDatagrams + 1 {
			frames = append(frames, dgram(uint16(id))[0])
		}
		for id := range maxFragDatagrams + 1 {
			// The evicted first one last, else each completion would
			// evict the next.
			frames = append(frames, dgram(uint16((id + 1) % (maxFragDatagrams + 1)))[1])
		}
		dgs, _, _, err := decodeAll(t, fragCapture(t0, frames))
		if err != nil || len(dgs) != maxFragDatagrams {
			t.Fatalf("%v: %d datagrams", err, len(dgs))
		}
	})
	t.Run("timeout", func(t *testing.T) {
		for _, gap := range []time.Duration{29 * time.Second, 31 * time.Second, -31 * time.Second} {
			w := capturetest.NewPcap(false, false, LinkTypeRaw, 65535)
			f := dgram(1)
			w.Add(t0, f[0])
			w.Add(t0.Add(gap), f[1])
			dgs, _, _, err := decodeAll(t, w.Bytes())
			if err != nil || (len(dgs) == 1) != (gap == 29*time.Second) {
				t.Fatalf("gap %v: %v %d datagrams", gap, err, len(dgs))
			}
		}
	})
	t.Run("oversized", func(t *testing.T) {
		big := capturetest.IPv4(addrA, addrB, 17, 3, nil, capturetest.UDP(1, 2, payloadOf(100, 1)))
		f0 := capturetest.Frag4Range(big, 0, 64, true)
		f1 := capturetest.Frag4Range(big, 64, 108, false)
		binary.BigEndian.PutUint16(f1[6:], 8188) // offset 65504 + 44 bytes > 65535
		dgs, _, _, err := decodeAll(t, fragCapture(t0, [][]byte{f0, f1}))
		if err != nil || len(dgs) != 0 {
			t.Fatalf("%v %d", err, len(dgs))
		}
	})
	t.Run("too many pieces", func(t *testing.T) {
		p := capturetest.IPv4(addrA, addrB, 17, 5, nil, capturetest.UDP(1, 2, payloadOf(8*(maxFragPieces+10), 1)))
		var cuts []int
		for o := 8; o < len(p)-20; o += 8 {
			cuts = append(cuts, o)
		}
		dgs, _, _, err := decodeAll(t, fragCapture(t0, capturetest.Frag4(p, cuts...)))
		if err != nil || len(dgs) != 0 {
			t.Fatalf("%v %d", err, len(dgs))
		}
		// Just under the bound works.
		p = capturetest.IPv4(addrA, addrB, 17, 5, nil, capturetest.UDP(1, 2, payloadOf(8*(maxFragPieces-1), 1)))
		cuts = cuts[:0]
		for o := 8; o < len(p)-20; o += 8 {
			cuts = append(cuts, o)
		}
		dgs, _, _, err = decodeAll(t, fragCapture(t0, capturetest.Frag4(p, cuts...)))
		if err != nil || len(dgs) != 1 || len(dgs[0].Pieces) != maxFragPieces-1 {
			t.Fatalf("%v %d", err, len(dgs))
		}
	})
	t.Run("snaplen cut fragment", func(t *testing.T) {
		f := dgram(9)
		w := capturetest.NewPcap(false, false, LinkTypeRaw, 1000)
		w.AddOrig(t0, f[0][:1000], len(f[0]))
		w.Add(t0, f[1])
		dgs, _, _, err := decodeAll(t, w.Bytes())
		if err != nil || len(dgs) != 0 {
			t.Fatalf("%v %d", err, len(dgs))
		}
		// The last fragment cut: no datagram either.
		w = capturetest.NewPcap(false, false, LinkTypeRaw, 100)
		w.Add(t0, f[0])
		w.AddOrig(t0, f[1][:100], len(f[1]))
		dgs, _, _, err = decodeAll(t, w.Bytes())
		if err != nil || len(dgs) != 0 {
			t.Fatalf("%v %d", err, len(dgs))
		}
	})
	t.Run("payload survives reuse", func(t *testing.T) {
		// The payload of a reassembled datagram stays intact while
		// other fragments arrive, until the next datagram.
		d := NewDecoder()
		a, b := dgram(1), dgram(2)
		for _, f := range [][]byte{a[0], b[0]} {
			if dg, err := d.Decode(Packet{LinkType: LinkTypeRaw, Data: f}); dg != nil || err != nil {
				t.Fatal(dg, err)
			}
		}
		dg, err := d.Decode(Packet{LinkType: LinkTypeRaw, Data: a[1]})
		if err != nil || dg == nil {
			t.Fatal(err)
		}
		keep := dg.Payload
		for id := range 200 {
			d.Decode(Packet{LinkType: LinkTypeRaw, Data: dgram(uint16(100 + id))[0]})
		}
		if !bytes.Equal(keep, pay) {
			t.Fatal("payload overwritten")
		}
	})
}

// TestPiecesInvariant synthesizes a mixed pcapng capture over every link
// type, with fragmented datagrams whose fragments are shuffled within a
// window, and checks that every datagram comes out once with its payload
// and that its pieces point at exactly its bytes in the capture.
func TestPiecesInvariant(t *testing.T) {
	for _, be := range []bool{false, true} {
		t.Run(fmt.Sprintf("be=%v", be), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(42, uint64(len(fmt.Sprint(be)))))
			lcs := linkCases()
			w := capturetest.NewPcapng(be)
			for _, lc := range lcs {
				w.IDB(uint16(lc.link), 0, 9, 0)
			}
			type frame struct {
				ifc  int
				data []byte
			}
			var frames []frame
			want := map[string]int{}
			for i := range 600 {
				v6 := rng.IntN(3) == 0
				n := rng.IntN(3000)
				if rng.IntN(2) == 0 {
					n = 160
				}
				pay := payloadOf(max(n, 4), byte(i))
				binary.BigEndian.PutUint32(pay, uint32(i)) // distinct
				sp, dp := uint16(1024+rng.IntN(60000)), uint16(1024+rng.IntN(60000))
				tcp := rng.IntN(5) == 0
				var l4 []byte
				proto := uint8(17)
				if tcp {
					proto = 6
					l4 = capturetest.TCP(sp, dp, 4*rng.IntN(11), pay)
				} else {
					l4 = capturetest.UDP(sp, dp, pay)
				}
				want[string(pay)]++
				ifc := rng.IntN(len(lcs))
				var ips [][]byte
				if v6 {
					pkt := capturetest.IPv6(addr6A, addr6B, proto, l4)
					if len(pkt) > 1500 {
						var cuts []int
						for o := 1232; o < len(l4); o += 1232 {
							cuts = append(cuts, o)
						}
						ips = capturetest.Frag6(pkt, 0, 6, uint32(i), cuts...)
					} else {
						ips = [][]byte{pkt}
					}
				} else {
					pkt := capturetest.IPv4(addrA, addrB, proto, uint16(i), nil, l4)
					if len(pkt) > 1500 {
						var cuts []int
						for o := 8 * (1 + rng.IntN(185)); o < len(l4); o += 8 * (1 + rng.IntN(185)) {
							cuts = append(cuts, o)
						}
						ips = capturetest.Frag4(pkt, cuts...)
					} else {
						ips = [][]byte{pkt}
					}
				}
				for _, ip := range ips {
					frames = append(frames, frame{ifc, lcs[ifc].wrap(ip)})
				}
			}
			// Shuffle within a window of 8 frames.
			for i := range frames {
				j := min(len(frames)-1, i+rng.IntN(8))
				frames[i], frames[j] = frames[j], frames[i]
			}
			for i, f := range frames {
				w.EPB(uint32(f.ifc), uint64(i)*1e6, f.data)
			}
			in := w.Bytes()
			dgs, n, decErrs, err := decodeAll(t, in)
			if err != nil || decErrs != 0 || n != len(frames) {
				t.Fatalf("%v: %d errors, %d of %d packets", err, decErrs, n, len(frames))
			}
			for _, g := range dgs {
				want[string(g.Payload)]--
			}
			for p, c := range want {
				if c != 0 {
					t.Fatalf("datagram %x... seen %d times too few", head([]byte(p)), c)
				}
			}
		})
	}
}

func TestZeroAllocs(t *testing.T) {
	for _, name := range []string{"pcap", "pcapng", "fragments"} {
		src := newLoopCapture(name)
		r, err := NewReader(src)
		if err != nil {
			t.Fatal(err)
		}
		d := NewDecoder()
		step := func() {
			p, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := d.Decode(p); err != nil {
				t.Fatal(err)
			}
		}
		for range 1000 { // warm up the buffers
			step()
		}
		if a := testing.AllocsPerRun(5000, step); a != 0 {
			t.Errorf("%s: %v allocations per packet", name, a)
		}
	}
}

// fragBuffers is the memory the reassembly buffers of d hold.
func fragBuffers(d *Decoder) int {
	n := 0
	for i := range d.frag.slots {
		n += cap(d.frag.slots[i].buf)
	}
	return n
}

// TestFragmentMemory: reassembly holds the bytes fragments captured, not
// what their offsets claim, and all datagrams in reassembly together hold
// at most maxFragBytes; a real fragmented datagram is reassembled after
// either flood.
func TestFragmentMemory(t *testing.T) {
	frag := func(id uint16, off, n int, captured int) []byte {
		ip := capturetest.IPv4(addrA, addrB, 17, id, nil, payloadOf(n, byte(id)))
		binary.BigEndian.PutUint16(ip[6:], 0x2000|uint16(off/8)) // MF
		// The header's checksum is not checked; only captured bytes count.
		return ip[:20+captured]
	}
	for _, tc := range []struct {
		name        string
		off, n, cap int
		want        int // largest buffer memory after the flood
	}{
		// 64 fragments that claim 8 bytes near the end of the payload and
		// carry none of them (2 KiB of capture).
		{"empty fragments at 65000", 65000, 8, 0, 0},
		{"8-byte fragments at 65000", 65000, 8, 8, maxFragDatagrams * 2048},
		// 64 fragments of 8 KiB each: 512 KiB of capture.
		{"8 KiB fragments", 40000, 8192, 8192, maxFragBytes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder()
			for i := range maxFragDatagrams {
				p := Packet{Time: t0, LinkType: LinkTypeIPv4, Data: frag(uint16(i), tc.off, tc.n, tc.cap)}
				if dg, err := d.Decode(p); dg != nil || err != nil {
					t.Fatalf("fragment %d: %v %v", i, dg, err)
				}
				if got := fragBuffers(d); got > tc.want || got != d.frag.held {
					t.Fatalf("after %d fragments the reassembly buffers hold %d bytes (counted %d), want at most %d", i+1, got, d.frag.held, tc.want)
				}
			}
			ip := capturetest.IPv4(addrA, addrB, 17, 9999, nil, capturetest.UDP(1, 2, payloadOf(3000, 7)))
			var got []*Datagram
			for _, f := range capturetest.Frag4(ip, 1480, 2960) {
				dg, err := d.Decode(Packet{Time: t0, LinkType: LinkTypeIPv4, Data: f})
				if err != nil {
					t.Fatal(err)
				}
				if dg != nil {
					got = append(got, dg)
				}
			}
			if len(got) != 1 || !bytes.Equal(got[0].Payload, payloadOf(3000, 7)) || len(got[0].Pieces) != 3 {
				t.Fatalf("the fragmented datagram after the flood: %d datagrams", len(got))
			}
		})
	}
}
