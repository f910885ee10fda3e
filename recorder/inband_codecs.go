package recorder

import "github.com/callvault/callvault/codec"

// In-band detection and masking on codecs other than G.711.
//
// G.722 is decoded with a decoder of the stream's own, fed in order, and
// its 16 kHz output is brought down to the detector's 8 kHz by a half-band
// filter (taps -1 0 9 16 9 0 -1, over 32: 0.97 at 1633 Hz, the highest DTMF
// frequency, 0.03 at 6367 Hz, which would fold onto it) keeping every
// second sample. One G.722 octet is one tick of the 8 kHz timeline, so the
// result lines up with the stream's positions as G.711 audio does.
//
// G.729 (and G.729A, with Annex B SID frames) is decoded the same way, by a
// decoder of the stream's own fed the payloads in order: each 10-byte
// frame gives 80 samples at 8 kHz from the payload's position on, a SID
// frame 80 samples of silence, as the renderer places them. Its tones are
// judged with a looser reverse twist (toneReverseTwistG729): the decoder's
// post-filter sharpens the stronger of two spectral peaks, so a column tone
// sent a little above its row tone comes out up to about 4 dB further
// above it.
//
// A masked G.722 octet is overwritten with g722Silence: both sub-band
// codes are the smallest steps of their quantisers (higher band +, lower
// band -), which shrink the scale factors to their minimum, so from any
// decoder state the output falls below ±70 within 10 ms and stays there
// (a zero octet, by contrast, is the largest higher-band step and decodes
// to full-scale noise).
//
// A masked G.729 frame is overwritten with g729Silence: the smallest pitch
// and fixed-codebook gains of the gain codebooks (GA 5, GB 6: 0.12 and
// 0.19 of the predicted gain) in both subframes, with line spectral
// indices whose filter has little gain; from any decoder state it decodes
// below ±3 after three frames (30 ms). A trailing Annex B SID frame is
// zeroed (it decodes to silence whatever it holds).

// toneReverseTwistG729 is the reverse twist allowed in G.729 streams: 8 dB,
// as the normal twist.
const toneReverseTwistG729 = 6.31

// newToneDetector returns the tone detector of a stream of codec c.
func newToneDetector(c codec.Codec) *toneDetector {
	if c == codec.G729 {
		return &toneDetector{reverseTwist: toneReverseTwistG729}
	}
	return new(toneDetector)
}

// g722Silence is the octet a masked G.722 payload is filled with.
const g722Silence = 0xFF

// g729Silence is the 10-byte frame a masked G.729 payload is filled with.
var g729Silence = [codec.G729FrameSize]byte{0x40, 0xf8, 0x00, 0x20, 0x00, 0x0a, 0xc0, 0x00, 0x00, 0x56}

// wideDetect is the decoding state of a stream whose codec is not G.711,
// for the detector.
type wideDetect struct {
	g722 *codec.G722Decoder
	g729 *codec.G729Decoder
	pcm  []int16
	hist [6]int32 // the 16 kHz signal's last samples, newest last
}

// detectPCM returns the 8 kHz audio of payload pl of stream s, for the
// tone detector, from the payload's position on; nil when its codec has
// no in-band detection here (G.711 goes to the detector undecoded:
// toneDetector.feedG711).
func (d *Demux) detectPCM(s *stream, pl []byte) []int16 {
	n := len(pl)
	if s.codec == codec.G729 {
		n = codec.G729Samples(n)
	}
	if cap(d.pcm) < n {
		d.pcm = make([]int16, n)
	}
	out := d.pcm[:n]
	switch s.codec {
	case codec.G722:
		w := s.wide
		if w == nil {
			w = &wideDetect{g722: codec.NewG722Decoder()}
			s.wide = w
		}
		if cap(w.pcm) < 2*n {
			w.pcm = make([]int16, 2*n)
		}
		wide := w.pcm[:2*n]
		w.g722.Decode(wide, pl)
		w.decimate(out, wide)
		return out
	case codec.G729:
		w := s.wide
		if w == nil {
			w = &wideDetect{g729: codec.NewG729Decoder()}
			s.wide = w
		}
		return out[:w.g729.Decode(out, pl)]
	}
	return nil
}

// decimate filters 16 kHz samples in with the half-band filter and keeps
// every second one into out (len(in)/2 samples).
func (w *wideDetect) decimate(out, in []int16) {
	h := w.hist
	for i := range out {
		a, b := int32(in[2*i]), int32(in[2*i+1])
		// h holds x[t-7..t-2], a is x[t-1] and b x[t]: the window
		// x[t-6..t] is h[1..5], a, b.
		y := -h[1] + 9*h[3] + 16*h[4] + 9*h[5] - b
		out[i] = int16(min(max(y/32, -32768), 32767))
		h = [6]int32{h[2], h[3], h[4], h[5], a, b}
	}
	w.hist = h
}

// maskFill overwrites n payload bytes of stream s at capture offset off
// (a payload's start, for G.729) with what its codec decodes to silence;
// it reports whether all were overwritten.
func (d *Demux) maskFill(s *stream, off int64, n int) bool {
	if s.codec != codec.G729 {
		return d.overwrite(off, n, silenceByte(s.codec))
	}
	return d.fillG729(off, n, func(int) *[codec.G729FrameSize]byte { return &g729Silence })
}

// fillG729 overwrites the G.729 payload of n bytes at capture offset off:
// its k-th frame with frame(k), a trailing SID frame (or bytes beyond
// whole frames) with zeros. It reports whether all were overwritten.
func (d *Demux) fillG729(off int64, n int, frame func(k int) *[codec.G729FrameSize]byte) bool {
	ok := true
	whole := n / codec.G729FrameSize * codec.G729FrameSize
	for i := range n {
		fill := byte(0)
		if i < whole {
			fill = frame(i / codec.G729FrameSize)[i%codec.G729FrameSize]
		}
		ok = d.overwrite(off+int64(i), 1, fill) && ok
	}
	return ok
}
