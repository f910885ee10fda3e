package recorder

import (
	"bytes"
	"math"
	"path/filepath"
	"testing"

	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/internal/testcorpus"
)

// Tests of G.722 captures: each is demultiplexed and rendered as the
// appliance renders it (codec.Renderer over the placement map), then
// compared with the audio that was sent, with ffmpeg's G.722 decoder on
// the same payloads, and, for the real capture, with what it is known to
// hold.

// renderRun renders call c of a corpus run the way a WAV export does and
// returns the layout and both channels.
func renderRun(t *testing.T, run *corpusRun, c int) (codec.Layout, [2][]int16) {
	t.Helper()
	var mp []byte
	var idx codec.MapIndex
	for _, pe := range run.entries {
		mp = codec.AppendEntry(mp, pe.e)
		idx.Add(pe.e, pe.n)
	}
	l := run.res.Layout(c, idx.Spans)
	rd, err := codec.NewRenderer(codec.Segment{Orig: bytes.NewReader(run.data), Map: bytes.NewReader(mp), MapSize: int64(len(mp)), Layout: l}, false)
	if err != nil {
		t.Fatal(err)
	}
	if rd.Rate() != 16000 {
		t.Fatalf("a call with G.722 renders at %d Hz", rd.Rate())
	}
	n := 2 * int(l.End-l.Start)
	out := [2][]int16{make([]int16, n), make([]int16, n)}
	// In pieces of a few windows, as a WAV reader renders.
	for a := 0; a < n; a += 2 * 3000 {
		b := min(n, a+2*3000)
		if err := rd.Render(l.Start+uint32(a/2), out[0][a:b], out[1][a:b]); err != nil {
			t.Fatal(err)
		}
	}
	return l, out
}

// payloads returns the payload bytes of a stream in map order.
func (r *corpusRun) payloads(stream int) []byte {
	var b []byte
	for _, pe := range r.entries {
		if int(pe.e.Stream) == stream {
			b = append(b, r.data[pe.e.Off:pe.e.Off+int64(pe.e.Len)]...)
		}
	}
	return b
}

// TestG722Generated renders generated/g722_bidir: each channel at 16 kHz
// matches the speech its sender was given (ncc >= 0.99, SNR >= 20 dB) and
// the decode of ffmpeg's G.722 decoder of the same payloads (ncc >= 0.999).
func TestG722Generated(t *testing.T) {
	dir := filepath.Join(testcorpus.Dir(t), "generated", "g722_bidir")
	run := runDemux(t, filepath.Join(dir, "capture.pcap"))
	if len(run.res.Calls) != 1 {
		t.Fatalf("%d calls, want 1", len(run.res.Calls))
	}
	l, ch := renderRun(t, run, 0)
	// Stream A->B carries src_a.wav, B->A src_b.wav (case.json).
	sources := map[string]string{"127.123.130.31:14960": "src_a.wav", "127.245.253.11:30680": "src_b.wav"}
	for _, s := range run.res.Streams {
		if s.Codec != "G722" || !s.Supported || s.ClockRate != 8000 {
			t.Fatalf("stream %d: codec %s supported %v clock %d", s.Index, s.Codec, s.Supported, s.ClockRate)
		}
		got := ch[s.Channel][2*(s.FirstPos-l.Start):]
		src, rate := readRefWAV(t, filepath.Join(dir, sources[s.Src]))
		if rate != 16000 {
			t.Fatalf("%s: %d Hz", sources[s.Src], rate)
		}
		lag, ncc, snr := testcorpus.Align(src, got, 400)
		t.Logf("stream %d (%s) vs %s: lag %d samples, ncc %.5f, SNR %.1f dB", s.Index, s.Src, sources[s.Src], lag, ncc, snr)
		if ncc < 0.99 || snr < 20 {
			t.Errorf("stream %d vs %s: ncc %.5f, SNR %.1f dB; want ncc >= 0.99, SNR >= 20 dB", s.Index, sources[s.Src], ncc, snr)
		}
		ff := testcorpus.FFmpegG722(t, run.payloads(s.Index))
		checkFFmpeg(t, s.Index, got, ff)
	}
}

// checkFFmpeg compares a rendered channel from the stream's first sample
// with ffmpeg's decode of the stream's payloads.
func checkFFmpeg(t *testing.T, stream int, got, ff []int16) {
	t.Helper()
	if len(ff) == 0 || len(got) < len(ff) {
		t.Fatalf("stream %d: ffmpeg decoded %d samples, rendered %d", stream, len(ff), len(got))
	}
	got = got[:len(ff)]
	diff := 0
	for i := range ff {
		if got[i] != ff[i] {
			diff++
		}
	}
	ncc := testcorpus.NCC(got, ff)
	t.Logf("stream %d vs ffmpeg: ncc %.6f, %d of %d samples differ", stream, ncc, diff, len(ff))
	if ncc < 0.999 {
		t.Errorf("stream %d: ncc %.6f against ffmpeg's decode", stream, ncc)
	}
}

// TestG722Real renders real/projectrtp_440hzinbackgroundg722.pcap, a real
// G.722 stream (PT 9, no SIP) with a 440 Hz tone in the background: the
// rendering is 16 kHz, its strongest frequency between 100 Hz and 4 kHz
// is near 440 Hz in every second of it, and it is ffmpeg's decode.
func TestG722Real(t *testing.T) {
	path := filepath.Join(testcorpus.Dir(t), "real", "projectrtp_440hzinbackgroundg722.pcap")
	run := runDemux(t, path)
	logResult(t, run.res)
	if len(run.res.Calls) != 1 {
		t.Fatalf("%d calls, want 1", len(run.res.Calls))
	}
	var audio []Stream
	for _, s := range run.res.Streams {
		if s.Codec == "G722" {
			audio = append(audio, s)
		}
	}
	if len(audio) != 1 || !audio[0].Supported || audio[0].Packets != 393 {
		t.Fatalf("G.722 streams %+v, want one of 393 packets", audio)
	}
	s := audio[0]
	l, ch := renderRun(t, run, 0)
	got := ch[s.Channel][2*(s.FirstPos-l.Start) : 2*(s.EndPos-l.Start)]
	seconds := 0
	for a := 0; a+16000 <= len(got); a += 16000 {
		f := peakFreq(got[a:a+16000], 16000, 100, 4000)
		t.Logf("second %d: peak at %d Hz", a/16000, f)
		if f < 400 || f > 500 {
			t.Errorf("second %d: strongest frequency %d Hz, want about 440", a/16000, f)
		}
		seconds++
	}
	if seconds < 7 {
		t.Errorf("%d whole seconds of audio, want 7", seconds)
	}
	checkFFmpeg(t, s.Index, got, testcorpus.FFmpegG722(t, run.payloads(s.Index)))
}

// peakFreq returns the frequency, in steps of 5 Hz from lo to hi, with the
// most power in x (a Hann-windowed DFT at each step).
func peakFreq(x []int16, rate, lo, hi int) int {
	best, bp := 0, -1.0
	for f := lo; f <= hi; f += 5 {
		w := 2 * math.Pi * float64(f) / float64(rate)
		var re, im float64
		for i, v := range x {
			h := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(len(x)))
			re += h * float64(v) * math.Cos(w*float64(i))
			im -= h * float64(v) * math.Sin(w*float64(i))
		}
		if p := re*re + im*im; p > bp {
			best, bp = f, p
		}
	}
	return best
}
