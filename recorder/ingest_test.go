package recorder

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/internal/capturetest"
	"github.com/callvault/callvault/internal/pcapwrite"
	"github.com/callvault/callvault/recinfo"
)

// testCall describes a synthetic two-way G.711 call.
type testCall struct {
	seconds int
	pt      uint8 // 0 PCMU, 8 PCMA
	start   time.Time
}

// makeCallPcap writes a pcap (Ethernet, IPv4, UDP, RTP) of a call: every 20
// ms one packet each way, local side from port 16386, remote from 16388.
// Payload byte i of packet k in direction d is payloadByte(d, k, i).
func makeCallPcap(c testCall) []byte {
	if c.start.IsZero() {
		c.start = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	}
	w := capturetest.NewPcapFormat(pcapwrite.Ethernet)
	capturetest.Call{
		Seconds: c.seconds, Start: c.start, PT: c.pt,
		Local: netip.MustParseAddrPort("10.0.0.1:16386"), Remote: netip.MustParseAddrPort("10.0.0.2:16388"),
		Skew: 3 * time.Millisecond,
		Seq:  [2]uint16{0, 1000}, TS: [2]uint32{0, 7777}, SSRC: [2]uint32{0x1000, 0x1001},
		Payload: func(d, k int, p []byte) {
			for i := range p {
				p[i] = payloadByte(d, k, i)
			}
		},
	}.AddTo(w)
	return w.Bytes()
}

func payloadByte(d, k, i int) byte { return byte((k*160+i)*(3+2*d)/7 + 13*d) }

func openTestRecorder(t testing.TB) (*Recorder, *archive.Archive) {
	t.Helper()
	arc := archivetest.OpenTest(t)
	r, err := New(arc, Config{Prefix: "/recordings/Files/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r, arc
}

func readWAV(t testing.TB, w io.Reader) [][]int16 {
	t.Helper()
	b, err := io.ReadAll(w)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 44 || string(b[:4]) != "RIFF" {
		t.Fatalf("not a WAV: %d bytes", len(b))
	}
	ch := int(binary.LittleEndian.Uint16(b[22:]))
	data := b[44:]
	out := make([][]int16, ch)
	for i := 0; i+2*ch <= len(data); i += 2 * ch {
		for c := range ch {
			out[c] = append(out[c], int16(binary.LittleEndian.Uint16(data[i+2*c:])))
		}
	}
	return out
}

func TestIngestSynthesizedCall(t *testing.T) {
	for _, pt := range []uint8{0, 8} {
		r, arc := openTestRecorder(t)
		capture := makeCallPcap(testCall{seconds: 3, pt: pt})
		name := "f9e5956e47d460010630009033302ab1-009033302ab1-11--username.pcap"
		rec, err := r.Ingest(context.Background(), name, bytes.NewReader(capture))
		if err != nil {
			t.Fatal(err)
		}
		if rec.State != archive.StateComplete || rec.Seal == nil || rec.OrigSize != int64(len(capture)) {
			t.Fatalf("recording %+v", rec)
		}
		if rec.CallGUID != "f9e5956e47d460010630009033302ab1" || rec.User != "username" {
			t.Fatalf("name metadata: guid %q user %q", rec.CallGUID, rec.User)
		}
		if rec.OrigSHA256 != sha256.Sum256(capture) {
			t.Fatal("original hash")
		}
		wav, err := r.WAV(context.Background(), []*archive.Recording{rec}, 0, codec.WAVOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ch := readWAV(t, wav)
		// Port 16388 sends the remote side: left. Direction 1 here.
		decode := codec.DecodeUlaw
		if pt == 8 {
			decode = codec.DecodeAlaw
		}
		for c, d := range []int{1, 0} {
			want := make([]int16, 160)
			got := ch[c]
			// Find the first packet's samples: the channel starts at its
			// first sample or after the other direction's 3 ms lead.
			lead := 0
			if d == 1 {
				lead = 24
			}
			for k := 0; k < 150; k++ {
				src := make([]byte, 160)
				for i := range src {
					src[i] = payloadByte(d, k, i)
				}
				decode(want, src)
				off := lead + k*160
				if off+160 > len(got) || !slicesEqual(got[off:off+160], want) {
					t.Fatalf("pt %d channel %d packet %d differs", pt, c, k)
				}
			}
		}
		res, err := arc.Verify(context.Background(), rec.ID, func(rec *archive.Recording) ([][32]byte, error) {
			return r.Exports(context.Background(), rec)
		})
		if err != nil || !res.Valid {
			t.Fatalf("verify: %v %+v", err, res)
		}
	}
}

func slicesEqual(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// failingReader returns data, then an error, like a dropped connection.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func TestIngestInterruptedBody(t *testing.T) {
	r, _ := openTestRecorder(t)
	capture := makeCallPcap(testCall{seconds: 4, pt: 0})
	cut := len(capture) / 2
	rec, err := r.Ingest(context.Background(), "cut.pcap", &failingReader{bytes.NewReader(capture[:cut]), io.ErrUnexpectedEOF})
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != archive.StateInterrupted || rec.OrigSize != int64(cut) || rec.Seal == nil {
		t.Fatalf("state %s size %d sealed %v, want interrupted %d sealed", rec.State, rec.OrigSize, rec.Seal != nil, cut)
	}
	if rec.DurationMs < 1500 {
		t.Fatalf("duration %d ms", rec.DurationMs)
	}
}

func TestIngestGzipAndRejects(t *testing.T) {
	r, arc := openTestRecorder(t)
	capture := makeCallPcap(testCall{seconds: 1, pt: 8})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(capture)
	zw.Close()
	rec, err := r.Ingest(context.Background(), "c.pcap.gz", bytes.NewReader(gz.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(gz.Bytes())
	if !rec.Gzip || !bytes.Equal(rec.GzipSHA256, sum[:]) || rec.OrigSHA256 != sha256.Sum256(capture) {
		t.Fatal("gzip upload hashes")
	}
	blob, err := arc.OpenBlob(context.Background(), rec.ID, archive.BlobOriginal)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(blob)
	if !bytes.Equal(got, capture) {
		t.Fatal("stored original is not the decompressed capture")
	}
	for _, body := range [][]byte{[]byte("GET / HTTP/1.1\r\n"), {0xa1, 0xb2}} {
		if _, err := r.Ingest(context.Background(), "x.pcap", bytes.NewReader(body)); !errors.Is(err, ErrNotCapture) {
			t.Errorf("%q: %v, want ErrNotCapture", body, err)
		}
	}
	// Every magic the capture reader reads is accepted, the modified-pcap
	// variant included.
	modified := []byte{0x34, 0xcd, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0}
	if _, err := r.Ingest(context.Background(), "modified.pcap", bytes.NewReader(modified)); err != nil {
		t.Fatalf("modified pcap refused: %v", err)
	}
	// An empty body is an empty recording, not an error: nothing was lost.
	rec, err = r.Ingest(context.Background(), "empty.pcap", bytes.NewReader(nil))
	if err != nil || rec.OrigSize != 0 {
		t.Fatalf("empty upload: %v", err)
	}
	// A capture damaged after some packets keeps every byte.
	damaged := append(makeCallPcap(testCall{seconds: 1, pt: 0}), bytes.Repeat([]byte{0xff}, 5000)...)
	rec, err = r.Ingest(context.Background(), "damaged.pcap", bytes.NewReader(damaged))
	if err != nil || rec.OrigSize != int64(len(damaged)) {
		t.Fatalf("damaged capture: %v, size %d of %d", err, rec.OrigSize, len(damaged))
	}
	in, err := recinfo.Parse(rec.Info)
	if err != nil || in.Damage == "" || len(in.Result.Calls) != 1 {
		t.Fatalf("damaged capture info: %v %+v", err, in)
	}
}

func TestCleanName(t *testing.T) {
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"a.pcap", true}, {"Åse-Øyvind.pcap", true}, {"", false}, {".", false}, {"..", false},
		{"a/b.pcap", false}, {`a\b`, false}, {"a\x00b", false}, {"a\nb", false}, {"\xff.pcap", false},
		{string(bytes.Repeat([]byte("a"), 255)), true}, {string(bytes.Repeat([]byte("a"), 256)), false},
	} {
		if _, err := CleanName(c.name); (err == nil) != c.ok {
			t.Errorf("CleanName(%q): %v", c.name, err)
		}
	}
}

// BenchmarkIngest measures a bulk upload, PUT body to committed and sealed,
// next to BenchmarkIngestBaselineFsync, a plain sequential write of the same
// bytes with one fsync, on the same disk.
func BenchmarkIngest(b *testing.B) {
	capture := makeCallPcap(testCall{seconds: 600, pt: 0})
	r, _ := openTestRecorder(b)
	b.SetBytes(int64(len(capture)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Ingest(context.Background(), "bench.pcap", bytes.NewReader(capture)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIngestBaselineFsync(b *testing.B) {
	capture := makeCallPcap(testCall{seconds: 600, pt: 0})
	dir := b.TempDir()
	b.SetBytes(int64(len(capture)))
	for b.Loop() {
		f, err := os.Create(filepath.Join(dir, "plain"))
		if err != nil {
			b.Fatal(err)
		}
		for off := 0; off < len(capture); off += 64 << 10 {
			if _, err := f.Write(capture[off:min(off+64<<10, len(capture))]); err != nil {
				b.Fatal(err)
			}
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

// BenchmarkSeekFirstByte: time to first byte of a read deep into a 1-hour
// recording (what a Range request costs), through the archive's decryption.
func BenchmarkSeekFirstByte(b *testing.B) {
	capture := makeCallPcap(testCall{seconds: 3600, pt: 8})
	r, _ := openTestRecorder(b)
	rec, err := r.Ingest(context.Background(), "hour.pcap", bytes.NewReader(capture))
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	b.ResetTimer()
	for b.Loop() {
		wav, err := r.WAV(context.Background(), []*archive.Recording{rec}, 0, codec.WAVOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := wav.Seek(wav.Size()-wav.Size()/60, io.SeekStart); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(wav, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExportWAV: full WAV export of a 10-minute recording.
func BenchmarkExportWAV(b *testing.B) {
	capture := makeCallPcap(testCall{seconds: 600, pt: 0})
	r, _ := openTestRecorder(b)
	rec, err := r.Ingest(context.Background(), "ten.pcap", bytes.NewReader(capture))
	if err != nil {
		b.Fatal(err)
	}
	wav, err := r.WAV(context.Background(), []*archive.Recording{rec}, 0, codec.WAVOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(wav.Size())
	for b.Loop() {
		wav, _ := r.WAV(context.Background(), []*archive.Recording{rec}, 0, codec.WAVOptions{})
		if _, err := io.Copy(io.Discard, wav); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAnalyze: the decode path without storage: capture reader, RTP
// demux and timeline, placement map into memory.
func BenchmarkAnalyze(b *testing.B) {
	capture := makeCallPcap(testCall{seconds: 600, pt: 0})
	packets := 600 * 50 * 2
	var m bytes.Buffer
	b.SetBytes(int64(len(capture)))
	b.ReportAllocs()
	for b.Loop() {
		m.Reset()
		if _, err := Analyze(bytes.NewReader(capture), &m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(packets)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}

// TestOnComplete: the recorder tells of each finished upload, complete or
// cut off, once it is sealed.
func TestOnComplete(t *testing.T) {
	arc := archivetest.OpenTest(t)
	var got []*archive.Recording
	r, err := New(arc, Config{Prefix: "/recordings/Files/", OnComplete: func(rec *archive.Recording) { got = append(got, rec) }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	capture := makeCallPcap(testCall{seconds: 2, pt: 0})
	whole, err := r.Ingest(context.Background(), "whole.pcap", bytes.NewReader(capture))
	if err != nil {
		t.Fatal(err)
	}
	cut, err := r.Ingest(context.Background(), "cut.pcap", &failingReader{bytes.NewReader(capture[:len(capture)/2]), io.ErrUnexpectedEOF})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != whole.ID || got[1].ID != cut.ID || got[0].Seal == nil || got[1].State != archive.StateInterrupted {
		t.Fatalf("told of %d recordings: %+v", len(got), got)
	}
}

// TestSegmentJoinsWithSilence: a call's Segment renders as WAV does, and
// joined with an empty segment the silence sits between the calls.
func TestSegmentJoinsWithSilence(t *testing.T) {
	r, _ := openTestRecorder(t)
	rec, err := r.Ingest(context.Background(), "f9e5956e47d460010630009033302ab1-009033302ab1-11--username.pcap", bytes.NewReader(makeCallPcap(testCall{seconds: 1})))
	if err != nil {
		t.Fatal(err)
	}
	whole, err := r.WAV(context.Background(), []*archive.Recording{rec}, 0, codec.WAVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := readWAV(t, whole)
	seg, err := r.Segment(context.Background(), rec, 0)
	if err != nil {
		t.Fatal(err)
	}
	const gap = 4000
	joined, err := codec.NewWAVReader([]codec.Segment{seg, {Layout: codec.Layout{End: gap}}, seg}, codec.WAVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := readWAV(t, joined)
	n := len(want[0])
	for c := range 2 {
		if len(got[c]) != 2*n+gap {
			t.Fatalf("channel %d: %d samples, want %d", c, len(got[c]), 2*n+gap)
		}
		if !slicesEqual(got[c][:n], want[c]) || !slicesEqual(got[c][n+gap:], want[c]) {
			t.Fatalf("channel %d: the call differs from WAV's", c)
		}
		for i, v := range got[c][n : n+gap] {
			if v != 0 {
				t.Fatalf("channel %d: sample %d of the gap is %d", c, i, v)
			}
		}
	}
	if _, err := r.Segment(context.Background(), rec, 1); !errors.Is(err, ErrNoCall) {
		t.Errorf("call 2 of a one-call recording: %v", err)
	}
}
