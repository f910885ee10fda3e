package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
)

// RenderBlock is the number of samples per channel (one second at 8 kHz,
// half a second at 16 kHz) a WAVReader renders at a time and keeps for
// the following Reads.
const RenderBlock = 8000

const (
	// mapBlockBytes is the size of a full map block.
	mapBlockBytes = EntriesPerBlock * EntrySize
	// origWindow is the largest single ReadAt on an original and the size
	// of the window of original bytes a renderer keeps.
	origWindow = 16 << 10
	// coalesceGap is the largest gap between two payloads that are still
	// read with one ReadAt (a pcap record, link, IP, UDP and RTP header
	// between consecutive payloads is well under it).
	coalesceGap = 512
	// lookaheadIdle bounds how many entries that add nothing a coalescing
	// look-ahead scans before it gives up.
	lookaheadIdle = 64
	// groupEntries is the size of the groups of entries a loaded map block
	// keeps a span for, so rendering one second scans only the entries
	// near it instead of the whole block.
	groupEntries = 64
)

// ErrCorruptMap reports a placement map that cannot be read: a size that is
// not a whole number of entries, or an entry that does not parse.
var ErrCorruptMap = errors.New("codec: corrupt placement map")

// ErrTooLong reports a rendering whose WAV data would not fit the 32-bit
// sizes of a RIFF header.
var ErrTooLong = errors.New("codec: wav too long")

// StreamLayout says how one stream of a recording is rendered.
type StreamLayout struct {
	Codec   Codec
	Channel int8 // 0 = left (remote), 1 = right (local), -1 = not rendered
}

// Layout says how a recording's placement map is rendered.
type Layout struct {
	// Streams is indexed by Entry.Stream. Entries of streams past its end,
	// of streams whose Channel is not 0 or 1, or whose codec is not
	// Supported, are skipped.
	Streams []StreamLayout
	// Start and End are the window on the recording's timeline, in 8 kHz
	// samples: the output covers positions [Start, End).
	Start, End uint32
	// Spans is the map's index, one Span per block of EntriesPerBlock
	// entries, as MapIndex builds it. A block is read only when its Span
	// overlaps the samples being rendered; a block without a Span (Spans
	// is short or nil) is always read. A Span whose End is below its Min
	// is taken to run to the end of the timeline.
	Spans []Span
}

// WAVOptions selects the shape of a rendered WAV.
type WAVOptions struct {
	Mono     bool // one channel: saturating sum of left and right
	Swap     bool // exchange left and right (ignored when Mono)
	MaskDTMF bool // entries flagged FlagDTMF render as silence
}

// Segment is one recording to render: its original capture, its placement
// map and the layout. Orig and Map must be safe for the calls a renderer
// makes; a renderer never calls them concurrently.
type Segment struct {
	Orig    io.ReaderAt // the original capture the entries point into
	Map     io.ReaderAt // the placement map, MapSize bytes
	MapSize int64
	Layout  Layout
}

func (s *Segment) check() error {
	switch {
	case s.MapSize < 0:
		return fmt.Errorf("negative map size %d", s.MapSize)
	case s.MapSize%slotSize != 0:
		return fmt.Errorf("%w: size %d is not a multiple of %d", ErrCorruptMap, s.MapSize, slotSize)
	case s.MapSize > 0 && (s.Map == nil || s.Orig == nil):
		return errors.New("missing map or original reader")
	case s.Layout.Start > s.Layout.End:
		return fmt.Errorf("window end %d before start %d", s.Layout.End, s.Layout.Start)
	}
	return nil
}

// scratch holds the buffers the renderers of one reader share: the last
// map block read and a window of original bytes, each tagged with the
// renderer it belongs to.
type scratch struct {
	mapBuf   []byte
	mapOwner *Renderer
	mapBlk   int64
	mapN     int
	groups   [maxBlockEntries / groupEntries]groupSpan // of the loaded block
	rawBuf   []byte                                    // a version 2 block as read

	orig      []byte
	origOwner *Renderer
	origOff   int64
	origN     int

	wide *wideState // the 16 kHz renderers' buffers and G.722 windows

	owner [2][]int64 // at 8 kHz with frame codecs: see Renderer.Render
}

// Renderer renders ranges of one segment's timeline into per-channel PCM16.
// It keeps the last map block it read and a window of original bytes, so
// consecutive ranges cost few ReadAt calls. A Renderer is not safe for
// concurrent use.
type Renderer struct {
	seg     Segment
	mask    bool
	nblocks int64   // -1 until the map's version is known (probe)
	v2      bool    // a version 2 map (mapv2.go)
	blkSize int64   // bytes per map block (version 1)
	v2blks  []int64 // version 2: where each block begins, then the map's size
	sc      *scratch
	wide    *wideState // non-nil: renders at 16 kHz (render16.go); shared like sc
	pass    int        // non-zero: place takes only codecs of this rate

	framesDecoded int // G.729 frames decoded, for tests of the cost of a window
}

// NewRenderer returns a renderer of seg at the rate of its layout (see
// Layout.Rate). With maskDTMF, entries flagged FlagDTMF render as silence.
func NewRenderer(seg Segment, maskDTMF bool) (*Renderer, error) {
	r, err := newRenderer(seg, maskDTMF, new(scratch), seg.Layout.Rate() == 16000)
	if err != nil {
		return nil, fmt.Errorf("codec: renderer: %w", err)
	}
	return r, nil
}

func newRenderer(seg Segment, maskDTMF bool, sc *scratch, wide bool) (*Renderer, error) {
	if err := seg.check(); err != nil {
		return nil, err
	}
	r := &Renderer{seg: seg, mask: maskDTMF, sc: sc, nblocks: -1}
	if wide {
		if sc.wide == nil {
			sc.wide = new(wideState)
		}
		r.wide = sc.wide
	}
	return r, nil
}

// Rate returns the sampling rate r renders at: 8000 or 16000.
func (r *Renderer) Rate() int {
	if r.wide != nil {
		return 16000
	}
	return 8000
}

// groupSpan is the range of positions [min, end) a group of entries of a
// loaded map block covers (see Renderer.entrySamples).
type groupSpan struct{ min, end uint64 }

// placement is the part of one entry that falls into the range being
// rendered.
type placement struct {
	codec  Codec
	ch     int8
	silent bool  // masked DTMF
	dst    int   // index of the first sample in the channel buffers
	n      int   // samples (= bytes for G.711)
	off    int64 // original offset of the first byte needed
}

// place clips e to the positions [lo, hi) and says where it goes; ok is
// false for entries that are skipped or fall outside the range. It relies
// on one byte per sample, as for G.711.
func (r *Renderer) place(e Entry, lo, hi uint64) (p placement, ok bool) {
	streams := r.seg.Layout.Streams
	if int(e.Stream) >= len(streams) {
		return p, false
	}
	sl := streams[e.Stream]
	if (sl.Channel != 0 && sl.Channel != 1) || !sl.Codec.Supported() || sl.Codec.framed() {
		return p, false
	}
	if r.pass != 0 && sl.Codec.SampleRate() != r.pass {
		return p, false
	}
	a := uint64(e.Pos)
	s, t := max(a, lo), min(a+uint64(e.Len), hi)
	if s >= t {
		return p, false
	}
	return placement{
		codec:  sl.Codec,
		ch:     sl.Channel,
		silent: r.mask && e.Flags&FlagDTMF != 0,
		dst:    int(s - lo),
		n:      int(t - s),
		off:    e.Off + int64(s-a),
	}, true
}

// Render renders the timeline positions [pos, pos+len(left)) of the
// segment into left (channel 0) and right (channel 1), which must have the
// same length. Positions no entry covers are 0. Render ignores the layout's
// Start and End window: it renders whatever range it is asked for. At
// 16 kHz (see Rate) every position is two samples: the buffers must hold
// an even number of samples and cover [pos, pos+len(left)/2).
func (r *Renderer) Render(pos uint32, left, right []int16) error {
	if len(left) != len(right) {
		return errors.New("codec: render: channel buffers differ in length")
	}
	if r.wide != nil {
		return r.renderWide(pos, left, right)
	}
	clear(left)
	clear(right)
	if len(left) == 0 {
		return nil
	}
	lo, hi := uint64(pos), uint64(pos)+uint64(len(left))
	ch := [2][]int16{left, right}
	// With frame codecs, which entry placed each sample, so that the later
	// one wins between a G.711 and a G.729 entry.
	framed := r.seg.Layout.framed()
	own := &r.sc.owner
	if framed {
		for c := range own {
			own[c] = grow(own[c], len(left))
			setOwner(own[c], noOwner)
		}
	}
	r.pass = 8000 // a 16 kHz codec needs the 16 kHz renderer
	defer func() { r.pass = 0 }()
	err := r.scan(lo, hi, func(p placement, idx int64, blk []byte, i int) error {
		if framed {
			setOwner(own[p.ch][p.dst:p.dst+p.n], idx)
		}
		dst := ch[p.ch][p.dst : p.dst+p.n]
		if p.silent {
			clear(dst)
			return nil
		}
		return r.decode(dst, p, blk, i, lo, hi)
	})
	if err != nil || !framed {
		return err
	}
	return r.renderFrames(lo, hi, ch, *own)
}

// eachEntry calls fn, in map order, for the entries of the map blocks and
// groups whose spans overlap positions [lo, hi) (a superset of the entries
// that do), with its index in the map, the block it read and the
// entry's offset in it.
func (r *Renderer) eachEntry(lo, hi uint64, fn func(e Entry, idx int64, blk []byte, i int) error) error {
	if err := r.probe(); err != nil {
		return err
	}
	for b := int64(0); b < r.nblocks; b++ {
		if !r.blockOverlaps(b, lo, hi) {
			continue
		}
		blk, err := r.mapBlock(b)
		if err != nil {
			return err
		}
		for g := 0; g*groupEntries*EntrySize < len(blk); g++ {
			if gs := r.sc.groups[g]; gs.min >= hi || gs.end <= lo {
				continue
			}
			gend := min(len(blk), (g+1)*groupEntries*EntrySize)
			for i := g * groupEntries * EntrySize; i < gend; i += EntrySize {
				e, _ := ParseEntry(blk[i : i+EntrySize]) // checked by mapBlock
				if err := fn(e, b*maxBlockEntries+int64(i/EntrySize), blk, i); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// probe reads the map's version from its first bytes, once: the first
// rendering reads the map, not the making of a renderer.
func (r *Renderer) probe() error {
	if r.nblocks >= 0 {
		return nil
	}
	size := r.seg.MapSize
	if size >= EntrySize {
		var head [EntrySize]byte
		m, err := r.seg.Map.ReadAt(head[:], 0)
		if err := fullRead(m, len(head), err); err != nil {
			return fmt.Errorf("codec: read map header: %w", err)
		}
		r.v2 = IsMapV2(head[:])
	}
	r.blkSize = mapBlockBytes
	if r.v2 {
		blks, err := MapBlocksV2(r.seg.Map, size)
		if err != nil {
			return err
		}
		r.v2blks = blks
		r.nblocks = int64(len(blks) - 1)
		return nil
	} else if size%EntrySize != 0 {
		return fmt.Errorf("%w: size %d is not a multiple of %d", ErrCorruptMap, size, EntrySize)
	}
	r.nblocks = (size + r.blkSize - 1) / r.blkSize
	return nil
}

func (r *Renderer) blockOverlaps(b int64, lo, hi uint64) bool {
	if b >= int64(len(r.seg.Layout.Spans)) {
		return true
	}
	sp := r.seg.Layout.Spans[b]
	end := uint64(sp.End)
	if sp.End < sp.Min {
		end = math.MaxUint32 + 1
	}
	return uint64(sp.Min) < hi && end > lo
}

// mapBlock returns map block b, reading it with one ReadAt unless it is the
// block read last. It checks every entry of a block it reads and computes
// the spans of its groups of entries.
func (r *Renderer) mapBlock(b int64) ([]byte, error) {
	sc := r.sc
	if sc.mapOwner == r && sc.mapBlk == b {
		return sc.mapBuf[:sc.mapN], nil
	}
	off := b * r.blkSize
	n := int(min(r.blkSize, r.seg.MapSize-off))
	if r.v2 {
		off, n = r.v2blks[b], int(r.v2blks[b+1]-r.v2blks[b])
	}
	sc.mapOwner = nil
	if r.v2 {
		if cap(sc.rawBuf) < n {
			sc.rawBuf = make([]byte, n)
		}
		m, err := r.seg.Map.ReadAt(sc.rawBuf[:n], off)
		if err := fullRead(m, n, err); err != nil {
			return nil, fmt.Errorf("codec: read map block %d: %w", b, err)
		}
		if sc.mapBuf, err = AppendMapBlockV2(sc.mapBuf[:0], sc.rawBuf[:n]); err != nil {
			return nil, fmt.Errorf("map block %d: %w", b, err)
		}
		n = len(sc.mapBuf)
	} else {
		if cap(sc.mapBuf) < n {
			sc.mapBuf = make([]byte, n)
		}
		m, err := r.seg.Map.ReadAt(sc.mapBuf[:n], off)
		if err := fullRead(m, n, err); err != nil {
			return nil, fmt.Errorf("codec: read map block %d: %w", b, err)
		}
	}
	for i := 0; i < n; i += EntrySize {
		e, err := ParseEntry(sc.mapBuf[i : i+EntrySize])
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d: %w", ErrCorruptMap, b*EntriesPerBlock+int64(i/EntrySize), err)
		}
		g := &sc.groups[i/EntrySize/groupEntries]
		a, z := uint64(e.Pos), uint64(e.Pos)+uint64(r.entrySamples(e))
		if i%(groupEntries*EntrySize) == 0 {
			*g = groupSpan{a, z}
		} else {
			g.min, g.end = min(g.min, a), max(g.end, z)
		}
	}
	sc.mapOwner, sc.mapBlk, sc.mapN = r, b, n
	return sc.mapBuf[:n], nil
}

// decode fills dst with the decoded payload of p. blk and i locate p's
// entry in its map block, so that the read can be coalesced with the
// payloads of the entries that follow.
func (r *Renderer) decode(dst []int16, p placement, blk []byte, i int, lo, hi uint64) error {
	for done := 0; done < p.n; {
		k := min(p.n-done, origWindow)
		src, err := r.origBytes(p.off+int64(done), k, blk, i, lo, hi)
		if err != nil {
			return err
		}
		p.codec.Decode(dst[done:done+k], src)
		done += k
	}
	return nil
}

// origBytes returns the n original bytes at off, from the window when it
// holds them. Otherwise it reads them with one ReadAt, extended over the
// payloads of the following relevant entries of blk (from byte i) as long
// as they continue at increasing offsets with small gaps and fit the window.
func (r *Renderer) origBytes(off int64, n int, blk []byte, i int, lo, hi uint64) ([]byte, error) {
	sc := r.sc
	if sc.origOwner == r && off >= sc.origOff && off+int64(n) <= sc.origOff+int64(sc.origN) {
		s := off - sc.origOff
		return sc.orig[s : s+int64(n)], nil
	}
	start, end := off, off+int64(n)
	idle := 0
scan:
	for j := i + EntrySize; j+EntrySize <= len(blk) && idle < lookaheadIdle; j += EntrySize {
		e, err := ParseEntry(blk[j : j+EntrySize])
		if err != nil {
			break
		}
		q, ok := r.place(e, lo, hi)
		if !ok || q.silent {
			idle++
			continue
		}
		qe := q.off + int64(q.n)
		switch {
		case q.off >= start && qe <= end:
			idle = 0
		case q.off >= end && q.off-end <= coalesceGap && qe-start <= origWindow:
			end = qe
			idle = 0
		default:
			break scan
		}
	}
	if sc.orig == nil {
		sc.orig = make([]byte, origWindow)
	}
	k := int(end - start)
	sc.origOwner = nil
	m, err := r.seg.Orig.ReadAt(sc.orig[:k], start)
	if err := fullRead(m, k, err); err != nil {
		return nil, fmt.Errorf("codec: read original at %d: %w", start, err)
	}
	sc.origOwner, sc.origOff, sc.origN = r, start, k
	return sc.orig[off-start : off-start+int64(n)], nil
}

// fullRead turns the result of a ReadAt of want bytes into an error unless
// all bytes arrived.
func fullRead(got, want int, err error) error {
	switch {
	case got < 0 || got > want:
		return fmt.Errorf("reader returned %d for a %d-byte read", got, want)
	case got == want:
		if err == io.EOF {
			return nil
		}
		return err
	case err == nil || err == io.EOF:
		return io.ErrUnexpectedEOF
	}
	return err
}

// WAVReader serves segments as one PCM16 WAV file, at 16 kHz when any
// segment's layout renders at 16 kHz (see Layout.Rate), otherwise at
// 8 kHz. It renders a
// block of RenderBlock samples at a time on demand and keeps it, so small
// Reads and Seeks within a block cost no further I/O. A WAVReader is an
// io.ReadSeeker; it is not safe for concurrent use.
type WAVReader struct {
	rs     []*Renderer
	bounds []int64 // bounds[i]: first output frame of segment i; last: total frames
	opt    WAVOptions
	fb     int // bytes per frame
	tick   int // frames per 8 kHz tick of the timeline: 1 or 2
	hdr    [WAVHeaderSize]byte
	size   int64
	off    int64

	pcm  [2][]int16 // the cached block, allocated on first use
	cSeg int
	cBlk int64
	cN   int // frames in the cached block; 0 = none
}

// NewWAVReader returns a reader of the WAV made of segs' windows in order.
// It does no I/O; errors in the maps or readers surface from Read.
func NewWAVReader(segs []Segment, opt WAVOptions) (*WAVReader, error) {
	r := &WAVReader{
		rs:     make([]*Renderer, len(segs)),
		bounds: make([]int64, len(segs)+1),
		opt:    opt,
		fb:     4,
		tick:   1,
	}
	for _, s := range segs {
		if s.Layout.Rate() == 16000 {
			r.tick = 2
		}
	}
	channels := 2
	if opt.Mono {
		channels, r.fb = 1, 2
	}
	sc := new(scratch)
	var total int64
	for i, s := range segs {
		rr, err := newRenderer(s, opt.MaskDTMF, sc, r.tick == 2)
		if err != nil {
			return nil, fmt.Errorf("codec: wav segment %d: %w", i, err)
		}
		r.rs[i] = rr
		r.bounds[i] = total
		total += int64(s.Layout.End-s.Layout.Start) * int64(r.tick)
	}
	r.bounds[len(segs)] = total
	dataLen := total * int64(r.fb)
	if dataLen > math.MaxUint32-36 {
		return nil, fmt.Errorf("%w: %d data bytes", ErrTooLong, dataLen)
	}
	r.hdr = WAVHeader(8000*r.tick, channels, uint32(dataLen))
	r.size = WAVHeaderSize + dataLen
	return r, nil
}

// Size returns the length of the WAV file in bytes: the 44-byte header plus
// two bytes per sample per channel.
func (r *WAVReader) Size() int64 { return r.size }

// Rate returns the sampling rate of the WAV: 8000 or 16000.
func (r *WAVReader) Rate() int { return 8000 * r.tick }

// Seek sets the offset of the next Read, as io.Seeker describes. Seeking
// past the end is allowed; Read then reports io.EOF.
func (r *WAVReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.off + offset
	case io.SeekEnd:
		abs = r.size + offset
	default:
		return 0, fmt.Errorf("codec: seek: invalid whence %d", whence)
	}
	if abs < 0 {
		return 0, errors.New("codec: seek: negative position")
	}
	r.off = abs
	return abs, nil
}

// Read reads up to len(p) bytes of the WAV file. It fills p unless the end
// of the file comes first or rendering fails; errors from the segments'
// readers are returned wrapped, along with the bytes read before them.
func (r *WAVReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && r.off < r.size {
		if r.off < WAVHeaderSize {
			c := copy(p[n:], r.hdr[r.off:])
			n += c
			r.off += int64(c)
			continue
		}
		d := r.off - WAVHeaderSize
		frame, within := d/int64(r.fb), int(d%int64(r.fb))
		seg := sort.Search(len(r.rs), func(i int) bool { return r.bounds[i+1] > frame })
		local := frame - r.bounds[seg]
		blk := local / RenderBlock
		if err := r.load(seg, blk); err != nil {
			return n, err
		}
		c := r.emit(p[n:], int(local-blk*RenderBlock), within)
		n += c
		r.off += int64(c)
	}
	return n, nil
}

// load makes block blk of segment seg the cached block.
func (r *WAVReader) load(seg int, blk int64) error {
	if r.cN > 0 && r.cSeg == seg && r.cBlk == blk {
		return nil
	}
	if r.pcm[0] == nil {
		r.pcm = [2][]int16{make([]int16, RenderBlock), make([]int16, RenderBlock)}
	}
	rr := r.rs[seg]
	first := blk * RenderBlock
	n := int(min(RenderBlock, r.bounds[seg+1]-r.bounds[seg]-first))
	r.cN = 0
	if err := rr.Render(rr.seg.Layout.Start+uint32(first/int64(r.tick)), r.pcm[0][:n], r.pcm[1][:n]); err != nil {
		return err
	}
	r.cSeg, r.cBlk, r.cN = seg, blk, n
	return nil
}

// emit encodes frames of the cached block from frame i, starting at byte
// within of that frame, into p and returns the number of bytes written.
func (r *WAVReader) emit(p []byte, i, within int) int {
	left, right := r.pcm[0][:r.cN], r.pcm[1][:r.cN]
	if r.opt.Swap {
		left, right = right, left
	}
	var f [4]byte
	w := 0
	if within > 0 {
		r.frame(&f, left[i], right[i])
		c := copy(p, f[within:r.fb])
		if within+c < r.fb {
			return c
		}
		w, i = c, i+1
	}
	le := binary.LittleEndian
	if r.opt.Mono {
		for ; i < len(left) && len(p)-w >= 2; i++ {
			le.PutUint16(p[w:], uint16(mix(left[i], right[i])))
			w += 2
		}
	} else {
		for ; i < len(left) && len(p)-w >= 4; i++ {
			q := p[w : w+4]
			le.PutUint16(q[0:], uint16(left[i]))
			le.PutUint16(q[2:], uint16(right[i]))
			w += 4
		}
	}
	if i < len(left) && w < len(p) {
		r.frame(&f, left[i], right[i])
		w += copy(p[w:], f[:r.fb])
	}
	return w
}

// frame encodes one output frame into f.
func (r *WAVReader) frame(f *[4]byte, l, rt int16) {
	if r.opt.Mono {
		binary.LittleEndian.PutUint16(f[0:], uint16(mix(l, rt)))
		return
	}
	binary.LittleEndian.PutUint16(f[0:], uint16(l))
	binary.LittleEndian.PutUint16(f[2:], uint16(rt))
}

// mix returns the saturating sum of two samples.
func mix(a, b int16) int16 {
	return int16(min(max(int32(a)+int32(b), math.MinInt16), math.MaxInt16))
}
