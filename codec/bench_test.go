package codec

import (
	"io"
	"math/rand/v2"
	"testing"
)

func BenchmarkDecode(b *testing.B) {
	src := make([]byte, 8000) // one second
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range src {
		src[i] = byte(rng.Uint32())
	}
	dst := make([]int16, len(src))
	for _, bc := range []struct {
		name string
		dec  func([]int16, []byte) int
	}{{"ulaw", DecodeUlaw}, {"alaw", DecodeAlaw}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			for b.Loop() {
				bc.dec(dst, src)
			}
		})
	}
}

// benchCall synthesizes a two-direction call with 70 bytes of capture
// headers before every 160-byte payload, like a pcap of RTP over IPv4.
func benchCall(seconds int) *rec {
	return synthCall(synthOpts{seconds: seconds, seed: 42, hdr: 70})
}

// BenchmarkWAVRender renders a whole 10-minute two-direction call to
// stereo WAV from in-memory readers and reports the ReadAt calls it made.
func BenchmarkWAVRender(b *testing.B) {
	r := benchCall(10 * 60)
	seg, orig, mapr := counted(r.segment(Layout{Streams: callStreams, Start: 0, End: r.end()}))
	b.ReportAllocs()
	size := renderEach(b, seg)
	b.SetBytes(size)
	b.ReportMetric(float64(len(mapr.calls))/float64(b.N), "mapReadAt/op")
	b.ReportMetric(float64(len(orig.calls))/float64(b.N), "origReadAt/op")
}

// renderEach renders seg to a whole WAV once per b.Loop iteration and
// returns the WAV's size.
func renderEach(b *testing.B, seg Segment) int64 {
	buf := make([]byte, 32<<10)
	var size int64
	for b.Loop() {
		rd, err := NewWAVReader([]Segment{seg}, WAVOptions{})
		if err != nil {
			b.Fatal(err)
		}
		size = rd.Size()
		if _, err := io.CopyBuffer(io.Discard, rd, buf); err != nil {
			b.Fatal(err)
		}
	}
	return size
}

// BenchmarkSeekTTFB measures the time to first byte of a Range request deep
// into a 1-hour call: a new reader, Seek to 59 minutes, Read 64 KiB.
func BenchmarkSeekTTFB(b *testing.B) {
	r := benchCall(60 * 60)
	seg, orig, mapr := counted(r.segment(Layout{Streams: callStreams, Start: 0, End: r.end()}))
	off := int64(WAVHeaderSize) + 59*60*8000*4
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		rd, err := NewWAVReader([]Segment{seg}, WAVOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := rd.Seek(off, io.SeekStart); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(rd, buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/ttfb")
	b.ReportMetric(float64(len(mapr.calls))/float64(b.N), "mapReadAt/op")
	b.ReportMetric(float64(len(orig.calls))/float64(b.N), "origReadAt/op")
	b.ReportMetric(float64(orig.bytes())/float64(b.N), "origBytes/op")
	b.ReportMetric(float64(len(r.idx.Spans)), "mapBlocks")
}
