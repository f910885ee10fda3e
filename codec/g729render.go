package codec

import (
	"fmt"
	"slices"
)

// Rendering of frame codecs (G.729). A G.729 frame decodes to 80 samples
// that depend on every frame of its stream before it: the decoder carries
// predictors, the past excitation and filter memories from frame to frame.
// So that any range of the timeline renders to the same samples however it
// is reached (a Seek, a Range request, a whole export), the timeline is cut
// into windows of frameWindow positions from the layout's Start, and the samples
// of a window are those of a decoder started in its initial state and fed,
// in map order, every payload of its stream that overlaps the window, after
// the stream's last frameWarmFrames frames before the window (see
// windowEntries); a payload of many frames is fed from its
// frameWarmFrames-th frame before the window to frameWarmFrames frames past
// its end (clipFrames). The warm-up is decoded and discarded; the decoder's state
// forgets its initial values within it (after 20 frames the decode of
// speech matches the continuous one to a correlation of 0.9999), so the
// result is, in practice, the continuous decode.
//
// Payloads are placed at their RTP timestamps. A gap between payloads (a
// lost packet, or a pause in sending under voice activity detection) is
// silence; the decoder goes on with the next payload as if it followed
// directly. SID frames decode as silence.

const (
	// frameWindow is the length, in 8 kHz positions, of the windows the
	// decoding of frame codecs restarts in: one RenderBlock, and windows
	// start at the layout's Start, so a WAV block is one window.
	frameWindow = RenderBlock
	// frameWarmFrames is how many frames of a stream before a window are
	// decoded first; frameWarmup is how far back they are looked for
	// first (30 frames when none is missing), frameMaxWarmup the farthest.
	frameWarmFrames = 20
	frameWarmup     = 2400
	frameMaxWarmup  = 8 * frameWindow
)

// framed reports whether c decodes whole frames with state carried between
// them, rendered by renderFrames rather than byte by byte.
func (c Codec) framed() bool { return c == G729 }

// Samples returns how many 8 kHz positions a payload of n bytes of c
// covers: n for G.711, G729Samples(n) for G.729, n for codecs this package
// does not decode.
func (c Codec) Samples(n int) int {
	if c == G729 {
		return G729Samples(n)
	}
	return n
}

// entrySamples returns the positions e covers, from its stream's codec.
func (r *Renderer) entrySamples(e Entry) int {
	if st := r.seg.Layout.Streams; int(e.Stream) < len(st) {
		return st[e.Stream].Codec.Samples(int(e.Len))
	}
	return int(e.Len)
}

// framed reports whether l renders a stream of a frame codec on a channel.
func (l *Layout) framed() bool {
	for _, s := range l.Streams {
		if s.Codec.framed() && (s.Channel == 0 || s.Channel == 1) {
			return true
		}
	}
	return false
}

// setOwner sets every element of s to o.
func setOwner(s []int64, o int64) {
	for i := range s {
		s[i] = o
	}
}

// framedEntry is one payload of a frame codec to decode for a window.
type framedEntry struct {
	Entry
	idx int64 // its index in the map
	ch  int8
	buf []byte // its payload bytes, once read
}

// renderFrames renders the entries of frame-codec streams that fall into
// positions [lo, hi) into ch, window by window. owner holds, per channel
// and position, the map index of the entry that placed the sample there
// (noOwner: none); an entry places its samples where it comes later.
func (r *Renderer) renderFrames(lo, hi uint64, ch [2][]int16, owner [2][]int64) error {
	if !r.seg.Layout.framed() {
		return nil
	}
	var (
		ents []framedEntry
		pcm  []int16
		decs = map[uint16]*G729Decoder{}
	)
	for p := lo; p < hi; {
		wlo, wend := r.window(p)
		whi := min(wend, hi)
		p = wend
		var err error
		if ents, err = r.windowEntries(ents[:0], wlo, wend); err != nil {
			return err
		}
		// Decode up to the last entry (in map order) that reaches into
		// the range: every entry before it is decoded whatever the range,
		// so its samples do not depend on where the range ends.
		last := -1
		for i, e := range ents {
			if uint64(e.Pos) < whi && uint64(e.Pos)+uint64(G729Samples(int(e.Len))) > max(lo, wlo) {
				last = i
			}
		}
		ents = ents[:last+1]
		if err := r.readFramed(ents); err != nil {
			return err
		}
		clear(decs)
		olo := max(lo, wlo)
		for _, e := range ents {
			d := decs[e.Stream]
			if d == nil {
				d = NewG729Decoder()
				decs[e.Stream] = d
			}
			buf, a := clipFrames(e, wlo, wend)
			n := G729Samples(len(buf))
			if cap(pcm) < n {
				pcm = make([]int16, n)
			}
			pcm = pcm[:n]
			n = d.Decode(pcm, buf)
			r.framesDecoded += n / G729FrameSamples
			s, t := max(a, olo), min(a+uint64(n), whi)
			if s >= t {
				continue // warm-up only
			}
			dst, own := ch[e.ch][s-lo:t-lo], owner[e.ch][s-lo:t-lo]
			masked := r.mask && e.Flags&FlagDTMF != 0
			for j := range dst {
				if own[j] > e.idx {
					continue
				}
				own[j] = e.idx
				if masked {
					dst[j] = 0
				} else {
					dst[j] = pcm[s-a+uint64(j)]
				}
			}
		}
	}
	return nil
}

// clipFrames returns the frames of e's payload to decode for the window
// [wlo, wend) and the position of the first: a payload of many frames is
// decoded from its frameWarmFrames-th frame before the window, as a stream
// of short payloads would be, up to frameWarmFrames frames past the
// window's end. So a window costs the same whatever the payloads' size.
func clipFrames(e framedEntry, wlo, wend uint64) ([]byte, uint64) {
	a, buf := uint64(e.Pos), e.buf
	const fs = G729FrameSamples
	if k := int((wlo - min(wlo, a)) / fs); k > frameWarmFrames {
		k = min(k-frameWarmFrames, len(buf)/G729FrameSize)
		buf, a = buf[k*G729FrameSize:], a+uint64(k)*fs
	}
	if k := (wend + frameWarmFrames*fs - min(wend+frameWarmFrames*fs, a) + fs - 1) / fs; k*G729FrameSize < uint64(len(buf)) {
		buf = buf[:k*G729FrameSize]
	}
	return buf, a
}

// window returns the window [wlo, wend) that holds position p: windows of
// frameWindow positions from the layout's Start (so that the blocks a
// WAVReader renders are windows), and before them one from 0 to the first.
func (r *Renderer) window(p uint64) (wlo, wend uint64) {
	base := uint64(r.seg.Layout.Start) % frameWindow
	if p < base {
		return 0, base
	}
	wlo = p - (p-base)%frameWindow
	return wlo, wlo + frameWindow
}

// windowEntries appends to ents, in map order, the entries to decode for
// the window [wlo, whi): those that cover positions in it, and before
// them, for each stream, the most recent entries
// that make up at least frameWarmFrames frames. It looks back frameWarmup
// positions first, then twice as far, up to frameMaxWarmup: a stream with
// many losses or pauses needs a longer look back for the same frames.
func (r *Renderer) windowEntries(ents []framedEntry, wlo, whi uint64) ([]framedEntry, error) {
	for back := uint64(frameWarmup); ; back *= 2 {
		from := uint64(0)
		if wlo > back {
			from = wlo - back
		}
		var err error
		if ents, err = r.framedEntries(ents[:0], from, whi); err != nil {
			return nil, err
		}
		// Walk back from the end, counting each stream's warm-up frames;
		// drop what lies beyond the frames needed.
		warm := map[uint16]int{}
		short := false
		keep := ents[:0:0]
		for i := len(ents) - 1; i >= 0; i-- {
			e := ents[i]
			if uint64(e.Pos)+uint64(G729Samples(int(e.Len))) > wlo {
				keep = append(keep, e)
				if _, ok := warm[e.Stream]; !ok {
					warm[e.Stream] = 0
				}
				continue
			}
			if warm[e.Stream] >= frameWarmFrames {
				continue
			}
			warm[e.Stream] += G729Samples(int(e.Len)) / G729FrameSamples
			keep = append(keep, e)
		}
		for _, n := range warm {
			short = short || n < frameWarmFrames
		}
		if !short || from == 0 || back >= frameMaxWarmup {
			slices.Reverse(keep)
			return append(ents[:0], keep...), nil
		}
	}
}

// framedEntries appends to ents, in map order, the entries of frame-codec
// streams on a channel that cover any position in [from, to).
func (r *Renderer) framedEntries(ents []framedEntry, from, to uint64) ([]framedEntry, error) {
	streams := r.seg.Layout.Streams
	err := r.eachEntry(from, to, func(e Entry, idx int64, _ []byte, _ int) error {
		if int(e.Stream) >= len(streams) {
			return nil
		}
		sl := streams[e.Stream]
		if !sl.Codec.framed() || (sl.Channel != 0 && sl.Channel != 1) {
			return nil
		}
		a, n := uint64(e.Pos), uint64(sl.Codec.Samples(int(e.Len)))
		if n == 0 || a >= to || a+n <= from {
			return nil
		}
		ents = append(ents, framedEntry{Entry: e, idx: idx, ch: sl.Channel})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ents, nil
}

// readFramed reads the payload bytes of ents from the original, one ReadAt
// for each run of payloads that lie close together.
func (r *Renderer) readFramed(ents []framedEntry) error {
	idx := make([]int, len(ents))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if ents[a].Off < ents[b].Off {
			return -1
		}
		if ents[a].Off > ents[b].Off {
			return 1
		}
		return 0
	})
	for i := 0; i < len(idx); {
		start := ents[idx[i]].Off
		end := start + int64(ents[idx[i]].Len)
		j := i + 1
		for ; j < len(idx); j++ {
			e := ents[idx[j]]
			ee := max(end, e.Off+int64(e.Len))
			if e.Off-end > coalesceGap || ee-start > origWindow {
				break
			}
			end = ee
		}
		buf := make([]byte, end-start)
		for o := 0; o < len(buf); o += origWindow {
			p := buf[o:min(len(buf), o+origWindow)]
			m, err := r.seg.Orig.ReadAt(p, start+int64(o))
			if err := fullRead(m, len(p), err); err != nil {
				return fmt.Errorf("codec: read original at %d: %w", start+int64(o), err)
			}
		}
		for _, k := range idx[i:j] {
			o := ents[k].Off - start
			ents[k].buf = buf[o : o+int64(ents[k].Len)]
		}
		i = j
	}
	return nil
}
