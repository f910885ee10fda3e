package codec

import (
	"encoding/binary"
	"errors"
	"io"
)

// Rendering at 16 kHz. A segment whose layout renders a G.722 stream (see
// Layout.Rate) renders at 16 kHz: two output samples per 8 kHz tick of the
// timeline. G.711 payloads are upsampled by two; G.722 payloads decode to
// 16 kHz directly.
//
// G.722 is ADPCM: a sample depends on every octet of its stream before
// it. So that any range of the timeline renders to the same samples however
// it is reached (a Seek, a Range request, a whole export), the timeline is
// cut into windows of g722Window ticks from position 0, and the samples of
// a window are those of a decoder reset at the window's start minus
// g722Warmup ticks and fed, in map order, every G.722 payload of its stream
// that overlaps the window and the warm-up before it (clipped to them).
// The warm-up is decoded and discarded; the decoder's adaptation forgets
// its reset state well within it, so the result is, in practice, the
// continuous decode. A renderer keeps the last two windows it decoded.

const (
	// g722Window is the length, in 8 kHz ticks, of the windows the
	// G.722 decoding restarts in.
	g722Window = 8000
	// g722Warmup is how many ticks before a window are decoded first.
	g722Warmup = 1600
	// upTaps is the half-length of the upsampling filter, in 8 kHz ticks.
	upTaps = 12
)

// upCoef is the half-band interpolation filter of the 2x upsampler in Q16:
// a Kaiser-windowed (beta 6) sinc sampled half-way between input samples.
// The sample between x[j] and x[j+1] is sum upCoef[k]*(x[j-k]+x[j+1+k]);
// the even output samples are the input samples themselves. The
// coefficients sum to 1/2, so a constant passes unchanged.
var upCoef = [upTaps]int32{41567, -13377, 7476, -4793, 3218, -2178, 1455, -944, 584, -339, 178, -79}

// Rate returns the sampling rate l renders at: 16000 when it renders a
// stream of a 16 kHz codec on a channel, otherwise 8000.
func (l *Layout) Rate() int {
	for _, s := range l.Streams {
		if (s.Channel == 0 || s.Channel == 1) && s.Codec.Supported() && s.Codec.SampleRate() == 16000 {
			return 16000
		}
	}
	return 8000
}

// g722Win is the decoded G.722 audio of one window, per channel: two
// samples and the map index of the entry that placed them (-1: none) for
// every tick.
type g722Win struct {
	r     *Renderer // whose window it is
	k     int64     // window number; -1 = empty
	pcm   [2][]int16
	owner [2][]int64
}

// wideState holds what a 16 kHz renderer keeps between calls. The
// renderers of one WAV reader share one: they render one at a time, and
// each window names its renderer.
type wideState struct {
	win  [2]g722Win
	next int // the window slot to replace next

	narrow [2][]int16 // G.711 samples at 8 kHz, upTaps ticks either side
	owner  [2][]int64 // per tick of narrow: map index of the winning G.711 or G.729 entry
	g722   [2][]bool  // per tick: the winner is a G.722 entry
	dec    []*G722Decoder
	used   []bool
	buf    []int16
}

const noOwner = -1

// renderWide renders ticks [pos, pos+len(left)/2) at 16 kHz.
func (r *Renderer) renderWide(pos uint32, left, right []int16) error {
	if len(left)%2 != 0 {
		return errors.New("codec: render: odd sample count at 16 kHz")
	}
	clear(left)
	clear(right)
	n := len(left) / 2
	if n == 0 {
		return nil
	}
	w := r.wide
	lo, hi := uint64(pos), uint64(pos)+uint64(n)
	pad := min(lo, upTaps)
	nlo, nhi := lo-pad, hi+upTaps
	for ch := range 2 {
		w.narrow[ch] = grow(w.narrow[ch], int(nhi-nlo))
		clear(w.narrow[ch])
		w.owner[ch] = grow(w.owner[ch], int(nhi-nlo))
		setOwner(w.owner[ch], noOwner)
		w.g722[ch] = grow(w.g722[ch], n)
	}

	// The G.711 payloads at 8 kHz, with upTaps ticks of context either side.
	defer func() { r.pass = 0 }()
	r.pass = 8000
	err := r.scan(nlo, nhi, func(p placement, idx int64, blk []byte, i int) error {
		dst := w.narrow[p.ch][p.dst : p.dst+p.n]
		if p.silent {
			clear(dst)
		} else if err := r.decode(dst, p, blk, i, nlo, nhi); err != nil {
			return err
		}
		setOwner(w.owner[p.ch][p.dst:p.dst+p.n], idx)
		return nil
	})
	if err != nil {
		return err
	}
	// Frame codecs (G.729) at 8 kHz, upsampled with the G.711 ticks; the
	// later entry wins between the two.
	if err := r.renderFrames(nlo, nhi, w.narrow, w.owner); err != nil {
		return err
	}

	// G.722, window by window; a later entry wins over a G.711 one.
	out := [2][]int16{left, right}
	for k := int64(lo / g722Window); k <= int64((hi-1)/g722Window); k++ {
		win, err := r.g722Window(k)
		if err != nil {
			return err
		}
		base := uint64(k) * g722Window
		a, z := max(lo, base), min(hi, base+g722Window)
		for ch := range 2 {
			for t := a; t < z; t++ {
				o := win.owner[ch][t-base]
				if o == noOwner || o < w.owner[ch][t-nlo] {
					w.g722[ch][t-lo] = false
					continue
				}
				w.g722[ch][t-lo] = true
				j := 2 * (t - lo)
				out[ch][j], out[ch][j+1] = win.pcm[ch][2*(t-base)], win.pcm[ch][2*(t-base)+1]
			}
		}
	}

	// Every other tick: the G.711 ticks upsampled, silence (and the
	// filter's ringing next to G.711 audio) where no entry is.
	for ch := range 2 {
		x := w.narrow[ch]
		for t := range n {
			if w.g722[ch][t] {
				continue
			}
			j := t + int(pad) // index of the tick in x
			out[ch][2*t] = x[j]
			out[ch][2*t+1] = halfway(x, j)
		}
	}
	return nil
}

// halfway returns the interpolated sample between x[j] and x[j+1]; samples
// outside x count as silence.
func halfway(x []int16, j int) int16 {
	var acc int64
	for k := range upTaps {
		var s int32
		if a := j - k; a >= 0 {
			s += int32(x[a])
		}
		if b := j + 1 + k; b < len(x) {
			s += int32(x[b])
		}
		acc += int64(upCoef[k]) * int64(s)
	}
	return int16(min(max((acc+1<<15)>>16, -32768), 32767))
}

// g722Window returns the decoded G.722 audio of window k, from the cache
// or decoded now.
func (r *Renderer) g722Window(k int64) (*g722Win, error) {
	w := r.wide
	for i := range w.win {
		if w.win[i].r == r && w.win[i].k == k && w.win[i].pcm[0] != nil {
			return &w.win[i], nil
		}
	}
	win := &w.win[w.next]
	w.next = (w.next + 1) % len(w.win)
	win.r, win.k = nil, -1
	for ch := range 2 {
		win.pcm[ch] = grow(win.pcm[ch], 2*g722Window)
		win.owner[ch] = grow(win.owner[ch], g722Window)
		clear(win.pcm[ch])
		setOwner(win.owner[ch], noOwner)
	}
	streams := len(r.seg.Layout.Streams)
	if len(w.dec) < streams {
		w.dec = make([]*G722Decoder, streams)
		w.used = make([]bool, streams)
	}
	clear(w.used)
	base := uint64(k) * g722Window
	wlo := base - min(base, g722Warmup)
	whi := base + g722Window
	r.pass = 16000
	err := r.scan(wlo, whi, func(p placement, idx int64, blk []byte, i int) error {
		st := idx2stream(blk, i)
		if w.dec[st] == nil {
			w.dec[st] = NewG722Decoder()
		}
		dec := w.dec[st]
		if !w.used[st] {
			dec.Reset()
			w.used[st] = true
		}
		for done := 0; done < p.n; {
			c := min(p.n-done, origWindow)
			src, err := r.origBytes(p.off+int64(done), c, blk, i, wlo, whi)
			if err != nil {
				return err
			}
			w.buf = grow(w.buf, 2*c)
			dec.Decode(w.buf, src)
			t0 := wlo + uint64(p.dst+done) // first tick of this piece
			for j := range c {
				t := t0 + uint64(j)
				if t < base {
					continue
				}
				o := t - base
				win.owner[p.ch][o] = idx
				if p.silent {
					win.pcm[p.ch][2*o], win.pcm[p.ch][2*o+1] = 0, 0
				} else {
					win.pcm[p.ch][2*o], win.pcm[p.ch][2*o+1] = w.buf[2*j], w.buf[2*j+1]
				}
			}
			done += c
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	win.r, win.k = r, k
	return win, nil
}

// idx2stream returns the stream of the entry at byte i of a map block.
func idx2stream(blk []byte, i int) uint16 {
	return uint16(blk[i+12])<<8 | uint16(blk[i+13])
}

// scan calls f, in map order, for every entry that place accepts for the
// ticks [lo, hi), with its index in the map.
func (r *Renderer) scan(lo, hi uint64, f func(p placement, idx int64, blk []byte, i int) error) error {
	return r.eachEntry(lo, hi, func(e Entry, idx int64, blk []byte, i int) error {
		p, ok := r.place(e, lo, hi)
		if !ok {
			return nil
		}
		return f(p, idx, blk, i)
	})
}

// grow returns s resized to n elements, reusing its array when it can.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// UpsampleCheck takes a 16 kHz stereo PCM16 stream (little-endian frames
// of left and right) and tells whether it is an 8 kHz stream upsampled as
// the renderer upsamples G.711: every even frame an 8 kHz frame, every odd
// frame the half-band interpolation of the even ones, with silence before
// the first and after the last. It writes the even frames (the 8 kHz
// stream) to the writer it was made with, so that a caller can hash them.
// A verifier uses it for the 8 kHz parts of a call rendered at 16 kHz.
type UpsampleCheck struct {
	out  io.Writer
	part []byte     // bytes of an incomplete pair of frames
	x    [2][]int16 // even samples: up to upTaps of context, then pending
	y    [2][]int16 // odd samples of the pending ticks
	ctx  int        // ticks of context at the start of x
	buf  []byte     // even frames to write
	ok   bool       // no odd sample has differed so far
	err  error      // from out
}

// NewUpsampleCheck returns a check that writes the 8 kHz frames to out.
func NewUpsampleCheck(out io.Writer) *UpsampleCheck {
	return &UpsampleCheck{out: out, ok: true}
}

// Write takes the next bytes of the 16 kHz stream.
func (c *UpsampleCheck) Write(p []byte) (int, error) {
	n := len(p)
	if len(c.part) > 0 {
		k := min(8-len(c.part), len(p))
		c.part = append(c.part, p[:k]...)
		p = p[k:]
		if len(c.part) == 8 {
			c.tick(c.part)
			c.part = c.part[:0]
		}
	}
	for ; len(p) >= 8; p = p[8:] {
		c.tick(p[:8])
	}
	c.part = append(c.part, p...)
	c.check(false)
	if c.err == nil && len(c.buf) > 0 {
		_, c.err = c.out.Write(c.buf)
		c.buf = c.buf[:0]
	}
	return n, c.err
}

func (c *UpsampleCheck) tick(b []byte) {
	le := binary.LittleEndian
	for ch := range 2 {
		c.x[ch] = append(c.x[ch], int16(le.Uint16(b[2*ch:])))
		c.y[ch] = append(c.y[ch], int16(le.Uint16(b[4+2*ch:])))
	}
	c.buf = append(c.buf, b[:4]...)
}

// check compares the pending odd samples whose interpolation is known:
// all of them at the end, otherwise those with upTaps even samples after.
func (c *UpsampleCheck) check(end bool) {
	for ch := range 2 {
		x, y := c.x[ch], c.y[ch]
		i := 0
		for ; i < len(y) && (end || c.ctx+i+upTaps < len(x)); i++ {
			if halfway(x, c.ctx+i) != y[i] {
				c.ok = false
			}
		}
		// Keep upTaps ticks of context before the first unchecked one.
		keep := max(0, c.ctx+i-upTaps)
		c.x[ch] = append(x[:0], x[keep:]...)
		c.y[ch] = append(y[:0], y[i:]...)
		if ch == 1 {
			c.ctx = c.ctx + i - keep
		}
	}
}

// Close finishes the check: the last odd samples are compared with
// silence after the end. It reports whether the whole stream was an
// upsampled 8 kHz stream, and any error of the writer.
func (c *UpsampleCheck) Close() (bool, error) {
	c.check(true)
	if c.err == nil && len(c.buf) > 0 {
		_, c.err = c.out.Write(c.buf)
		c.buf = c.buf[:0]
	}
	return c.ok && len(c.part) == 0, c.err
}
