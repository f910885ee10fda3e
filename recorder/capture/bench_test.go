package capture

import (
	"bytes"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/callvault/callvault/internal/capturetest"
)

// rtpFrames returns n Ethernet frames of a two-way G.711 call (20 ms,
// 160-byte payloads behind a 12-byte RTP header); when frag is set, every
// tenth datagram is a 3000-byte one split into three IPv4 fragments.
func rtpFrames(n int, frag bool) [][]byte {
	a := netip.AddrPortFrom(addrA, 16388)
	b := netip.AddrPortFrom(addrB, 16386)
	var out [][]byte
	for i := 0; len(out) < n; i++ {
		src, dst := a, b
		if i%2 == 1 {
			src, dst = b, a
		}
		size := 172
		if frag && i%10 == 0 {
			size = 3000
		}
		ip := testDgram{src, dst, payloadOf(size, byte(i))}.ip()
		if len(ip) > 1500 {
			for _, f := range capturetest.Frag4(ip, 1480, 2960) {
				out = append(out, capturetest.Ethernet(f, 0x0800))
			}
			continue
		}
		out = append(out, capturetest.Ethernet(ip, 0x0800))
	}
	return out[:n]
}

func benchCapture(kind string, n int) (header, records []byte) {
	frames := rtpFrames(n, kind == "fragments")
	if kind == "pcapng" {
		w := capturetest.NewPcapng(false)
		w.IDB(uint16(LinkTypeEthernet), 0, 9, 0)
		h := w.Len()
		for i, f := range frames {
			w.EPB(0, uint64(t0.UnixNano())+uint64(i)*10e6, f)
		}
		return w.Bytes()[:h], w.Bytes()[h:]
	}
	w := capturetest.NewPcap(false, false, LinkTypeEthernet, 65535)
	for i, f := range frames {
		w.Add(t0.Add(time.Duration(i)*10*time.Millisecond), f)
	}
	return w.Bytes()[:24], w.Bytes()[24:]
}

// loopReader yields a capture header and then its records forever.
type loopReader struct {
	header, records []byte
	pos             int
}

func (l *loopReader) Read(p []byte) (int, error) {
	if len(l.header) > 0 {
		n := copy(p, l.header)
		l.header = l.header[n:]
		return n, nil
	}
	n := copy(p, l.records[l.pos:])
	l.pos = (l.pos + n) % len(l.records)
	return n, nil
}

func newLoopCapture(kind string) io.Reader {
	h, r := benchCapture(kind, 1000)
	return &loopReader{header: h, records: r}
}

// BenchmarkReadDecode reads and decodes a whole in-memory capture per
// iteration (10,000 packets).
func BenchmarkReadDecode(b *testing.B) {
	for _, kind := range []string{"pcap", "pcapng", "fragments"} {
		b.Run(kind, func(b *testing.B) {
			h, r := benchCapture(kind, 10000)
			in := append(bytes.Clone(h), r...)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			packets, dgs := 0, 0
			for b.Loop() {
				rd, err := NewReader(bytes.NewReader(in))
				if err != nil {
					b.Fatal(err)
				}
				d := NewDecoder()
				for {
					p, err := rd.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					packets++
					if dg, _ := d.Decode(p); dg != nil {
						dgs++
					}
				}
			}
			b.ReportMetric(float64(packets)/b.Elapsed().Seconds(), "packets/s")
			b.ReportMetric(float64(dgs)/float64(b.N), "datagrams/op")
		})
	}
}

// BenchmarkPacket measures one packet per iteration in the steady state:
// it must not allocate.
func BenchmarkPacket(b *testing.B) {
	for _, kind := range []string{"pcap", "pcapng", "fragments"} {
		b.Run(kind, func(b *testing.B) {
			h, recs := benchCapture(kind, 1000)
			r, err := NewReader(&loopReader{header: h, records: recs})
			if err != nil {
				b.Fatal(err)
			}
			d := NewDecoder()
			b.SetBytes(int64(len(recs) / 1000))
			b.ReportAllocs()
			for b.Loop() {
				p, err := r.Next()
				if err != nil {
					b.Fatal(err)
				}
				if _, err := d.Decode(p); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
		})
	}
}
