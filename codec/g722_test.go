package codec

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/callvault/callvault/internal/testcorpus"
)

// g722Encoder is a test-only G.722 64 kbit/s encoder after ITU-T G.722
// clause 3: the transmit QMF (clause 3.1, the coefficients of Table 2),
// then per band the adaptive predictor and scale factor of the decoder
// (the encoder runs the same blocks on its own codes). The quantisers pick
// the code whose inverse-quantised level is nearest the prediction error,
// which is what the decision levels of Tables 6 and 8 do.
type g722Encoder struct {
	lo, hi g722Band
	x      [24]int32 // input samples, newest at index 0
}

func newG722Encoder() *g722Encoder {
	e := &g722Encoder{}
	e.lo.det, e.hi.det = 32, 8
	return e
}

// encode encodes pairs of 16 kHz samples into octets.
func (e *g722Encoder) encode(pcm []int16) []byte {
	out := make([]byte, 0, len(pcm)/2)
	for i := 0; i+1 < len(pcm); i += 2 {
		copy(e.x[2:], e.x[:22])
		e.x[1], e.x[0] = int32(pcm[i]), int32(pcm[i+1])
		var xa, xb int32
		for k := range 12 {
			xa += g722H[2*k] * e.x[2*k]
			xb += g722H[2*k+1] * e.x[2*k+1]
		}
		xl := sat16((xa + xb) >> 14)
		xh := sat16((xa - xb) >> 14)
		il := e.lo.quantLower(xl)
		ih := e.hi.quantHigher(xh)
		out = append(out, byte(ih<<6|il))
	}
	return out
}

func (s *g722Band) quantLower(xl int32) int32 {
	el := xl - s.s
	best, bd := int32(0), int32(math.MaxInt32)
	for c := int32(4); c < 64; c++ { // codes 0..3 are not sent
		if d := abs32(el - (s.det*g722QQ6[c])>>15); d < bd {
			best, bd = c, d
		}
	}
	s.decodeLower(best)
	return best
}

func (s *g722Band) quantHigher(xh int32) int32 {
	eh := xh - s.s
	best, bd := int32(0), int32(math.MaxInt32)
	for c := int32(0); c < 4; c++ {
		if d := abs32(eh - (s.det*g722QQ2[c])>>15); d < bd {
			best, bd = c, d
		}
	}
	s.decodeHigher(best)
	return best
}

func abs32(x int32) int32 {
	if x < 0 {
		return -x
	}
	return x
}

// testSignal is one second of 16 kHz audio: a gliding tone from 200 Hz to
// 6 kHz (through both sub-bands) over a quieter 440 Hz tone.
func testSignal(n int) []int16 {
	out := make([]int16, n)
	ph := 0.0
	for i := range out {
		f := 200 + 5800*float64(i)/float64(n)
		ph += 2 * math.Pi * f / 16000
		out[i] = int16(8000*math.Sin(ph) + 2000*math.Sin(2*math.Pi*440*float64(i)/16000))
	}
	return out
}

// TestG722RoundTrip encodes a synthetic signal with the test encoder and
// checks that the decoder gives it back: the G.722 codec delay of 22
// samples (both QMFs), ncc above 0.99 and SNR above 20 dB.
func TestG722RoundTrip(t *testing.T) {
	src := testSignal(16000)
	enc := newG722Encoder().encode(src)
	got := make([]int16, 2*len(enc))
	if n := NewG722Decoder().Decode(got, enc); n != len(got) {
		t.Fatalf("decoded %d samples, want %d", n, len(got))
	}
	lag, ncc, snr := testcorpus.Align(src[:15000], got, 40)
	t.Logf("lag %d ncc %.5f snr %.1f dB", lag, ncc, snr)
	if lag != 22 || ncc < 0.99 || snr < 20 {
		t.Errorf("lag %d ncc %.5f snr %.1f dB; want lag 22, ncc >= 0.99, snr >= 20 dB", lag, ncc, snr)
	}
	// Decoding in pieces is decoding at once.
	d := NewG722Decoder()
	var pieces []int16
	for i := 0; i < len(enc); i += 77 {
		buf := make([]int16, 2*77)
		n := d.Decode(buf, enc[i:min(i+77, len(enc))])
		pieces = append(pieces, buf[:n]...)
	}
	if !slices.Equal(pieces, got) {
		t.Error("decoding in pieces differs from decoding at once")
	}
	// Reset returns to the initial state; short dst decodes what fits.
	d.Reset()
	short := make([]int16, 5)
	if n := d.Decode(short, enc); n != 4 || !slices.Equal(short[:4], got[:4]) || short[4] != 0 {
		t.Errorf("Decode into 5 samples: %d, %v", n, short)
	}
	if n := G722.Decode(short, enc[:1]); n != 2 || !slices.Equal(short[:2], got[:2]) {
		t.Errorf("G722.Decode: %d, %v", n, short[:2])
	}
}

// TestG722MatchesFFmpeg decodes the test encoder's stream and a stream of
// every code with ffmpeg's G.722 decoder: the samples are equal.
func TestG722MatchesFFmpeg(t *testing.T) {
	streams := map[string][]byte{"encoded": newG722Encoder().encode(testSignal(32000))}
	all := make([]byte, 0, 256*40)
	for r := range 40 {
		for c := range 256 {
			all = append(all, byte(c*(2*r+1)))
		}
	}
	streams["every code"] = all
	for name, g := range streams {
		want := testcorpus.FFmpegG722(t, g)
		got := make([]int16, 2*len(g))
		NewG722Decoder().Decode(got, g)
		if len(want) != len(got) {
			t.Fatalf("%s: ffmpeg gave %d samples, the decoder %d", name, len(want), len(got))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: sample %d is %d, ffmpeg %d", name, i, got[i], want[i])
			}
		}
	}
}

// g722Call is a synthesized call: G.722 on both channels, 20 ms packets
// (160 octets, 160 ticks), switched on channel 0 from PCMU to G.722 after
// switchAt ticks, with a lost packet on channel 1.
func g722Call(seconds int) (r *rec, layout Layout, want [2][]int16) {
	r = &rec{}
	n := seconds * 8000
	sig := testSignal(2 * n)
	enc := newG722Encoder().encode(sig)
	const start, switchAt, lost = 800, 8000 + 4000, 30
	for ch := range 2 {
		want[ch] = make([]int16, 2*(start+n))
	}
	// Channel 1: G.722 all through, one packet lost.
	d := NewG722Decoder()
	for p := 0; p*160 < n; p++ {
		pl := enc[p*160 : (p+1)*160]
		if p == lost {
			continue
		}
		pos := start + p*160
		r.add(50, uint32(pos), 1, 0, pl)
		d.Decode(want[1][2*pos:], pl)
	}
	// Channel 0: PCMU, then G.722 (stream 2) from switchAt.
	ul := make([]byte, n)
	for i := range ul {
		ul[i] = byte(i*7 + i>>5)
	}
	d = NewG722Decoder()
	for p := 0; p*160 < n; p++ {
		pos := start + p*160
		if pos < switchAt {
			pl := ul[p*160 : (p+1)*160]
			r.add(40, uint32(pos), 0, 0, pl)
			for i, b := range pl {
				want[0][2*(pos+i)] = ulawTable[b]
			}
			continue
		}
		pl := enc[p*160 : (p+1)*160]
		r.add(40, uint32(pos), 2, 0, pl)
		d.Decode(want[0][2*pos:], pl)
	}
	layout = Layout{
		Streams: []StreamLayout{{Codec: PCMU, Channel: 0}, {Codec: G722, Channel: 1}, {Codec: G722, Channel: 0}},
		Start:   0, End: uint32(start + n),
	}
	return r, layout, want
}

// TestRenderG722 renders a call with G.722 on both channels and a switch
// from PCMU to G.722 on one: a 16 kHz WAV whose G.722 parts are the
// continuous decode of each stream (the windowed decoding converges to
// it), whose PCMU part keeps every G.711 sample at the even positions, and
// whose bytes are the same however they are read.
func TestRenderG722(t *testing.T) {
	r, l, want := g722Call(4)
	seg := r.segment(l)
	wr, err := NewWAVReader([]Segment{seg}, WAVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if wr.Rate() != 16000 || wr.Size() != WAVHeaderSize+int64(l.End)*2*4 {
		t.Fatalf("rate %d size %d", wr.Rate(), wr.Size())
	}
	all, err := io.ReadAll(wr)
	if err != nil {
		t.Fatal(err)
	}
	if h := WAVHeader(16000, 2, uint32(len(all)-WAVHeaderSize)); !bytes.Equal(all[:WAVHeaderSize], h[:]) {
		t.Fatal("header is not the 16 kHz stereo header")
	}
	var got [2][]int16
	for i := WAVHeaderSize; i+3 < len(all); i += 4 {
		got[0] = append(got[0], int16(binary.LittleEndian.Uint16(all[i:])))
		got[1] = append(got[1], int16(binary.LittleEndian.Uint16(all[i+2:])))
	}
	const start, switchAt = 800, 12000
	// G.722: equal to the continuous decode but for the first samples of
	// windows whose warm-up had not yet converged (none, in practice).
	for ch := range 2 {
		a := 2 * start
		if ch == 0 {
			a = 2 * switchAt
		}
		diff := 0
		for i := a; i < len(got[ch]); i++ {
			if got[ch][i] != want[ch][i] {
				diff++
			}
		}
		ncc := testcorpus.NCC(got[ch][a:], want[ch][a:])
		t.Logf("channel %d: %d of %d G.722 samples differ from the continuous decode, ncc %.6f", ch, diff, len(got[ch])-a, ncc)
		if ncc < 0.9999 {
			t.Errorf("channel %d: ncc %.6f against the continuous decode", ch, ncc)
		}
	}
	// PCMU: the G.711 samples at even positions, interpolated between.
	for i := 2 * start; i < 2*switchAt; i += 2 {
		if got[0][i] != want[0][i] {
			t.Fatalf("sample %d: %d, want the G.711 sample %d", i, got[0][i], want[0][i])
		}
	}
	// Silence before the audio (up to the upsampling filter's reach).
	for i := range 2 * (start - upTaps) {
		if got[0][i] != 0 || got[1][i] != 0 {
			t.Fatalf("sample %d before the audio is not silence", i)
		}
	}
	// The lost packet is silence, and the audio around it is there.
	lost := 2 * (start + 30*160)
	for i := lost; i < lost+320; i++ {
		if got[1][i] != 0 {
			t.Fatalf("sample %d of the lost packet is %d", i, got[1][i])
		}
	}
	// Seeks, small reads and a second reader give the same bytes.
	for _, off := range []int64{0, 3, 44, 17 + 4*7999, 4 * 2 * 8000, 4*2*8000 - 6, int64(len(all)) - 5} {
		rd, err := NewWAVReader([]Segment{r.segment(l)}, WAVOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rd.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		b := readAllSizes(t, rd, []int{1, 7, 4096, 3})
		if !bytes.Equal(b, all[off:]) {
			t.Fatalf("seek to %d: bytes differ from a sequential read at %d", off, off+int64(firstDiff(b, all[off:])))
		}
	}
	// The reference renderer agrees byte for byte.
	ref, err := refWAV([]refSeg{r.ref(l)}, WAVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ref, all) {
		t.Fatalf("differs from the reference renderer at byte %d", firstDiff(ref, all))
	}
	// A 16 kHz segment joined with an 8 kHz one: all at 16 kHz, the G.711
	// one upsampled.
	pcmu := Layout{Streams: []StreamLayout{{Codec: PCMU, Channel: 0}}, Start: start, End: switchAt}
	wr, err = NewWAVReader([]Segment{r.segment(pcmu), r.segment(l)}, WAVOptions{Mono: true})
	if err != nil {
		t.Fatal(err)
	}
	if wr.Rate() != 16000 || wr.Size() != WAVHeaderSize+int64(switchAt-start+l.End)*2*2 {
		t.Fatalf("joined: rate %d size %d", wr.Rate(), wr.Size())
	}
}

// TestUpsample checks the 2x interpolation: a 1 kHz tone at 8 kHz comes
// out as the same tone at 16 kHz (SNR above 40 dB away from the edges).
func TestUpsample(t *testing.T) {
	x := make([]int16, 800)
	for i := range x {
		x[i] = int16(10000 * math.Sin(2*math.Pi*1000*float64(i)/8000+0.3))
	}
	var sig, noise float64
	for j := 50; j < 750; j++ {
		want := 10000 * math.Sin(2*math.Pi*1000*(float64(j)+0.5)/8000+0.3)
		d := float64(halfway(x, j)) - want
		sig += want * want
		noise += d * d
	}
	if snr := 10 * math.Log10(sig/noise); snr < 40 {
		t.Errorf("interpolated tone SNR %.1f dB, want >= 40", snr)
	}
	var sum int32
	for _, c := range upCoef {
		sum += 2 * c
	}
	if sum != 1<<16 {
		t.Errorf("filter gain %d, want %d", sum, 1<<16)
	}
}

// FuzzG722Decode: any octets decode without panic to samples of the
// expected count, the same whether fed at once or in two parts.
func FuzzG722Decode(f *testing.F) {
	f.Add([]byte{0, 0xff, 0x3f, 0xc0, 1, 2, 3}, uint8(3))
	f.Add(newG722Encoder().encode(testSignal(2000)), uint8(100))
	f.Add(bytes.Repeat([]byte{0x7f}, 3000), uint8(0))
	f.Add(bytes.Repeat([]byte{0x84, 0x04}, 1500), uint8(200))
	f.Fuzz(func(t *testing.T, src []byte, cut uint8) {
		src = src[:min(len(src), 1<<14)]
		all := make([]int16, 2*len(src))
		if n := NewG722Decoder().Decode(all, src); n != len(all) {
			t.Fatalf("decoded %d of %d", n, len(all))
		}
		k := min(int(cut), len(src))
		d := NewG722Decoder()
		part := make([]int16, 2*len(src))
		d.Decode(part, src[:k])
		d.Decode(part[2*k:], src[k:])
		if !slices.Equal(all, part) {
			t.Fatal("decoding in two parts differs")
		}
	})
}

// BenchmarkG722Decode decodes one second of a G.722 stream: bytes/s is
// octets, samples/s the 16 kHz output samples per second of wall time,
// samples/cpu-s per second of the process's CPU time (one goroutine: per
// core, and less skewed by other work on the machine).
func BenchmarkG722Decode(b *testing.B) {
	src := newG722Encoder().encode(testSignal(16000))
	dst := make([]int16, 2*len(src))
	d := NewG722Decoder()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		d.Decode(dst, src)
	}
	samples := float64(b.N) * float64(len(dst))
	b.ReportMetric(samples/b.Elapsed().Seconds(), "samples/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(samples/cpu.Seconds(), "samples/cpu-s")
	}
}

// cpuTime returns the user CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano())
}

// BenchmarkWAVRenderG722 renders a 10-minute call with G.722 both ways to
// a 16 kHz stereo WAV (windowed decoding with its warm-up).
func BenchmarkWAVRenderG722(b *testing.B) {
	r, l, _ := g722Call(600)
	b.ReportAllocs()
	cpu0 := cpuTime()
	size := renderEach(b, r.segment(l))
	b.SetBytes(size)
	frames := float64(b.N) * float64(size-WAVHeaderSize) / 4
	b.ReportMetric(frames/b.Elapsed().Seconds(), "frames/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(frames/cpu.Seconds(), "frames/cpu-s")
	}
}

// TestUpsampleCheck: the PCMU part of a call rendered at 16 kHz (joined
// with a G.722 part) passes the check, and the 8 kHz frames it passes on
// are that part's own 8 kHz WAV; a changed odd sample fails the check, a
// changed even one changes the 8 kHz frames.
func TestUpsampleCheck(t *testing.T) {
	r, l, _ := g722Call(3)
	pcmu := Layout{Streams: []StreamLayout{{Codec: PCMU, Channel: 0}}, Start: 300, End: 12000}
	joined, err := NewWAVReader([]Segment{r.segment(pcmu), r.segment(l)}, WAVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	all, err := io.ReadAll(joined)
	if err != nil {
		t.Fatal(err)
	}
	piece := all[WAVHeaderSize : WAVHeaderSize+8*(pcmu.End-pcmu.Start)]
	own, err := NewWAVReader([]Segment{r.segment(pcmu)}, WAVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := io.ReadAll(own)
	if err != nil {
		t.Fatal(err)
	}
	run := func(b []byte, step int) (bool, []byte) {
		var out bytes.Buffer
		c := NewUpsampleCheck(&out)
		for i := 0; i < len(b); i += step {
			if _, err := c.Write(b[i:min(i+step, len(b))]); err != nil {
				t.Fatal(err)
			}
		}
		ok, err := c.Close()
		if err != nil {
			t.Fatal(err)
		}
		return ok, out.Bytes()
	}
	for _, step := range []int{len(piece), 4096, 7, 1} {
		ok, got := run(piece, step)
		if !ok || !bytes.Equal(got, want[WAVHeaderSize:]) {
			t.Fatalf("writes of %d: ok %v, 8 kHz frames equal %v", step, ok, bytes.Equal(got, want[WAVHeaderSize:]))
		}
	}
	for _, off := range []int{4, 6, 8*5000 + 4, len(piece) - 2} { // odd frames
		bad := bytes.Clone(piece)
		bad[off] ^= 1
		if ok, _ := run(bad, 999); ok {
			t.Errorf("odd sample at byte %d changed: the check passes", off)
		}
	}
	bad := bytes.Clone(piece)
	bad[8*6000] ^= 1 // an even frame
	if _, got := run(bad, 999); bytes.Equal(got, want[WAVHeaderSize:]) {
		t.Error("a changed even sample does not change the 8 kHz frames")
	}
	// The joined reader renders the G.722 segment as a reader of it alone
	// does (the two segments' renderers share their buffers).
	alone, err := NewWAVReader([]Segment{r.segment(l)}, WAVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	single, err := io.ReadAll(alone)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(all[WAVHeaderSize+len(piece):], single[WAVHeaderSize:]) {
		t.Error("the G.722 segment renders differently after another segment")
	}
	// A G.722 piece is not an upsampled 8 kHz stream.
	if ok, _ := run(all[WAVHeaderSize+len(piece):], 4096); ok {
		t.Error("the G.722 part passes as upsampled")
	}
}
