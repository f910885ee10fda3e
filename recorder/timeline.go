package recorder

import (
	"encoding/binary"
	"math"
	"net/netip"
	"time"

	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/recorder/capture"
)

// flowKey identifies an RTP flow: one direction, one SSRC.
type flowKey struct {
	src, dst netip.AddrPort
	ssrc     uint32
}

// dirKey identifies a direction: packets from src to dst.
type dirKey struct {
	src, dst netip.AddrPort
}

// direction is one direction of media; it holds the DTMF mask window that
// audio entries of any of its flows are checked against.
type direction struct {
	key   dirKey
	order int // index in order of first appearance
	flows []*flow
	mask  dtmfMask
	win   [winKinds]maskWin // masking windows (mask.go)
}

// ptKind is what a payload type carries on a flow.
type ptKind uint8

const (
	kindUnknown ptKind = iota
	kindAudio
	kindEvent      // telephone-event, from SDP
	kindEventGuess // a dynamic type whose packets all looked like telephone-events
	kindCN         // comfort noise
)

// flow is an RTP flow: its timeline anchor, the payload types it carries
// and the streams they form.
type flow struct {
	key   flowKey
	dir   *direction
	kinds [128]ptKind

	// SDP: the announcements of the flow's receiving and sending address
	// (looked up again when Demux.sdpGen moves); the dialog binding the
	// latest packet fell in (nil without SDP; gap when it fell after that
	// dialog ended and no later one has claimed the address yet); that
	// dialog's bindings of the two addresses, whose rtpmap name payload
	// types; and the encryption their SDP says.
	sdpGen           int
	addrDst, addrSrc *sdpAddr
	bind             *sdpBinding
	gap              bool
	sdpDst, sdpSrc   *sdpBinding
	enc              string

	// timestamp unwrapping
	tsInit bool
	lastTS int64 // extended timestamp of the last packet

	// timeline anchor: anchorTS (extended, in clock units) sits at anchorPos
	clock     int64
	anchored  bool
	anchorPos int64
	anchorTS  int64
	reanchors int

	cur     *stream
	streams []*stream
	ev      eventState
}

// stream is one Result.Stream in the making.
type stream struct {
	idx   int
	f     *flow
	pt    uint8
	audio bool
	codec codec.Codec
	name  string
	clock int64
	g711  bool // one payload byte per 8 kHz timestamp tick: G.711, and G.722 (RFC 3551)

	first, last time.Time
	packets     int
	dups        int
	reordered   int
	cn          int
	events      int
	audioPkts   int
	seq         seqTracker

	// jitter (RFC 3550 A.8), in timestamp units
	jitter      float64
	lastTransit float64
	haveTransit bool

	// timestamp step of in-order audio packets, in 8 kHz samples: the
	// length given to entries of codecs whose payload size says nothing
	// about duration
	step       int64
	havePrev   bool
	prevExtTS  int64
	prevExtSeq int64

	havePos        bool
	minPos, endPos int64

	others  [8]uint8 // other payload types seen
	nOthers int
	dtmf    []dtmfRecord

	// in-band detection and masking (mask.go)
	tone       *toneDetector
	wide       *wideDetect // G.722 or G.729 decoding for tone
	toneRec    int         // index into dtmf of the in-band digit being detected, -1 none
	toneMasked bool        // the tone being detected is masked, its digit not kept
	ring       []ringEntry
	ringEnd    int64
	masked     []maskSpan
	lastSpan   [2]int // 1 + index into masked of the latest DTMF and pause span

	// The dialog binding the stream's packets fell in; see flow.bind.
	bind *sdpBinding
	gap  bool
	// enc is the encryption SDP said; tagPairs, tagged and tagLen follow
	// the SRTP tag heuristic (see demux_secure.go).
	enc                      string
	tagPairs, tagged, tagLen int64
}

// seqTracker counts sequence numbers: unique packets, duplicates within a
// window, reordering, and the extended range that gives the loss count. A
// jump too big to be loss or reordering, confirmed by the next packet,
// starts a new segment (a sender restart that kept its SSRC).
type seqTracker struct {
	init      bool
	max, base int64 // extended highest and lowest sequence of the segment
	expected  int64 // expected packets of closed segments
	received  int64 // unique packets
	window    [seqWindow / 64]uint64

	jumped  bool
	jumpSeq uint16
}

const (
	seqWindow      = 1024 // sequence numbers remembered for duplicate detection
	seqMaxDropout  = 3000 // forward jump still counted as loss
	seqMaxMisorder = seqWindow
)

func (t *seqTracker) bit(ext int64) (w int, m uint64) {
	i := uint64(ext) % seqWindow
	return int(i / 64), 1 << (i % 64)
}

// add takes a packet's sequence number and reports whether it is a
// duplicate (to be dropped) or arrived out of order.
func (t *seqTracker) add(seq uint16) (dup, reordered bool) {
	if !t.init {
		t.restart(int64(seq))
		return false, false
	}
	delta := int64(int16(seq - uint16(t.max)))
	ext := t.max + delta
	switch {
	case delta > 0 && delta < seqMaxDropout:
		if delta >= seqWindow {
			t.window = [seqWindow / 64]uint64{}
		} else {
			for e := t.max + 1; e < ext; e++ {
				w, m := t.bit(e)
				t.window[w] &^= m
			}
		}
		t.max = ext
	case delta <= 0 && -delta < seqMaxMisorder:
		w, m := t.bit(ext)
		if t.window[w]&m != 0 {
			return true, false
		}
		reordered = delta < 0
		if ext < t.base {
			t.base = ext
		}
	default:
		// A big jump: a sender restart if the next packet follows it.
		if t.jumped && seq == t.jumpSeq+1 {
			t.expected += t.max - t.base + 1
			t.restart(int64(seq))
			t.base-- // the packet that jumped first belongs to the new segment
			t.jumped = false
			return false, false
		}
		t.jumped, t.jumpSeq = true, seq
		t.received++
		return false, false
	}
	t.jumped = false
	w, m := t.bit(ext)
	t.window[w] |= m
	t.received++
	return false, reordered
}

// seen reports whether seq was received, as far as the duplicate window
// remembers.
func (t *seqTracker) seen(seq uint16) bool {
	if !t.init {
		return false
	}
	delta := int64(int16(seq - uint16(t.max)))
	if delta > 0 || -delta >= seqWindow {
		return false
	}
	w, m := t.bit(t.max + delta)
	return t.window[w]&m != 0
}

func (t *seqTracker) restart(ext int64) {
	t.init = true
	t.max, t.base = ext, ext
	t.window = [seqWindow / 64]uint64{}
	w, m := t.bit(ext)
	t.window[w] |= m
	t.received++
}

// lost is the number of sequence numbers expected but never received.
func (t *seqTracker) lost() int {
	if !t.init {
		return 0
	}
	return int(max(0, t.expected+t.max-t.base+1-t.received))
}

// newFlow starts a confirmed flow whose first packet arrived at t; it
// returns nil (and counts) when the stream bound is reached.
func (d *Demux) newFlow(k flowKey, t time.Time) *flow {
	if len(d.streams) >= d.maxStreams {
		d.streamLimit++
		return nil
	}
	dk := dirKey{src: k.src, dst: k.dst}
	dir := d.dirs[dk]
	if dir == nil {
		dir = &direction{key: dk, order: len(d.dirList)}
		d.dirs[dk] = dir
		d.dirList = append(d.dirList, dir)
	}
	f := &flow{key: k, dir: dir, sdpGen: -1}
	dir.flows = append(dir.flows, f)
	d.flows[k] = f
	return f
}

// lateGap is how long after a stream's last packet a packet that
// continues it still belongs to the stream's dialog once that has ended,
// when another dialog has claimed the address meanwhile; lateMaxSeqStep
// bounds how far its sequence number may be from the stream's highest.
const (
	lateGap        = 500 * time.Millisecond
	lateMaxSeqStep = 25
)

// at returns the binding of a that capture time t falls in: the one whose
// lifetime contains t (core). Outside every lifetime it is the nearest in
// time: the first binding before the first, between two the one whose end
// or start is nearer, and after the last one, once that has ended, the
// last one tentatively (gap): a later announcement may still take it.
func (a *sdpAddr) at(t time.Time) (b *sdpBinding, core, gap bool) {
	if a == nil || len(a.binds) == 0 {
		return nil, false, false
	}
	i := len(a.binds) - 1
	for i >= 0 && a.binds[i].start.After(t) {
		i--
	}
	if i < 0 {
		return a.binds[0], false, false
	}
	b = a.binds[i]
	if !b.ended || t.Before(b.end) {
		return b, true, false
	}
	if i+1 < len(a.binds) {
		if next := a.binds[i+1]; next.start.Sub(t) < t.Sub(b.end) {
			return next, false, false
		}
		return b, false, false
	}
	return b, false, true
}

// ofCall returns the latest binding of a made by SIP call ci, or nil.
func (a *sdpAddr) ofCall(ci int) *sdpBinding {
	if a == nil {
		return nil
	}
	for i := len(a.binds) - 1; i >= 0; i-- {
		if a.binds[i].call == ci {
			return a.binds[i]
		}
	}
	return nil
}

// chooseBinding returns the dialog binding a packet captured at t between
// the addresses dst and src belongs to: the one whose lifetime contains t,
// the receiver's first; else the receiver's nearest, else the sender's.
func chooseBinding(dst, src *sdpAddr, t time.Time) (b *sdpBinding, gap bool) {
	bd, coreD, gapD := dst.at(t)
	bs, coreS, gapS := src.at(t)
	if bd != nil && (coreD || !coreS) {
		return bd, gapD
	}
	return bs, gapS
}

// lateAfterEnd reports whether a packet with header h captured at t is a
// late packet of s, whose dialog has ended: the stream's payload type, a
// sequence number close to the stream's highest and not received yet, a
// timestamp close to the stream's latest, and captured shortly after the
// stream's last packet. A sender that starts the next call on the same
// SSRC restarts its sequence and timestamps (so its packets repeat ones
// received), or runs on only after the pause between the calls.
func (s *stream) lateAfterEnd(t time.Time, h *rtpHeader) bool {
	b := s.bind
	if b == nil || s.gap || !b.ended || !s.audio || h.pt != s.pt || !s.seq.init || !s.havePrev ||
		t.Before(b.end) || t.Sub(s.last) > lateGap {
		return false
	}
	dseq := int(int16(h.seq - uint16(s.seq.max)))
	dts := int64(int32(h.ts - uint32(s.prevExtTS)))
	maxTS := s.clock * int64(lateGap) / int64(time.Second)
	return dseq > -lateMaxSeqStep && dseq <= lateMaxSeqStep && !s.seq.seen(h.seq) && dts > -maxTS && dts <= maxTS
}

// bindFlow finds the dialog binding a packet of f with header h captured
// at t falls in, makes it the flow's, and on a change forgets the payload
// types learnt before and lets streams that had no dialog, or only a
// tentative one, join it.
func (d *Demux) bindFlow(f *flow, t time.Time, h *rtpHeader) {
	newSDP := f.sdpGen != d.sdpGen
	if newSDP {
		f.sdpGen = d.sdpGen
		f.addrDst = d.sdp[unmapAP(f.key.dst)]
		f.addrSrc = d.sdp[unmapAP(f.key.src)]
	}
	if f.addrDst == nil && f.addrSrc == nil {
		return
	}
	b, gap := chooseBinding(f.addrDst, f.addrSrc, t)
	if cur := f.cur; cur != nil && (cur.bind != b || cur.gap != gap) && cur.lateAfterEnd(t, h) {
		b, gap = cur.bind, false
	}
	moved := b != f.bind || gap != f.gap
	if !moved && !newSDP {
		return
	}
	// The bindings' rtpmap and attributes may have changed (a re-INVITE).
	f.bind, f.gap = b, gap
	f.kinds = [128]ptKind{}
	f.sdpDst, f.sdpSrc = f.addrDst.ofCall(b.call), f.addrSrc.ofCall(b.call)
	f.enc = sdpEncryption(f.sdpDst, f.sdpSrc)
	if !moved {
		return
	}
	for _, s := range f.streams {
		switch {
		case s.bind == nil:
			// Media before any announcement of its addresses.
			s.bind, s.gap = b, gap
		case s.gap && s.bind != b && !gap && b.start.Sub(s.first) <= s.first.Sub(s.bind.end):
			// Packets after a dialog ended, nearer to the next one.
			s.bind, s.gap = b, false
		}
	}
}

// streamCall returns the SIP call s belongs to, or -1: its dialog
// binding, or for a stream without one or with a tentative one, the
// binding its first packet falls in as the whole capture tells.
func (d *Demux) streamCall(s *stream) int {
	b := s.bind
	if b == nil || s.gap {
		k := s.f.key
		if nb, _ := chooseBinding(d.sdp[unmapAP(k.dst)], d.sdp[unmapAP(k.src)], s.first); nb != nil {
			b = nb
		}
	}
	if b == nil {
		return -1
	}
	return b.call
}

// rtpmap returns the SDP rtpmap of pt for f: the receiver's first, then
// the sender's.
func (f *flow) rtpmap(pt uint8) (encoding string, clock int, ok bool) {
	for _, m := range [2]*sdpBinding{f.sdpDst, f.sdpSrc} {
		if m == nil {
			continue
		}
		for _, r := range m.rtpmap {
			if r.pt == pt {
				return r.encoding, r.clock, true
			}
		}
	}
	return "", 0, false
}

// classify says what payload type pt carries on f, learning dynamic types
// from SDP or, without it, from the look of their payloads.
func (d *Demux) classify(f *flow, pt uint8, pl []byte, n int) ptKind {
	k := f.kinds[pt]
	switch k {
	case kindAudio, kindEvent, kindCN:
		return k
	case kindEventGuess:
		if eventLike(pl, n) {
			return k
		}
		f.kinds[pt] = kindAudio
		return kindAudio
	}
	if enc, _, ok := f.rtpmap(pt); ok {
		k = kindForEncoding(enc)
	} else {
		switch {
		case pt == 13 || pt == 19:
			k = kindCN
		case pt < 96:
			k = kindAudio
		case eventLike(pl, n):
			k = kindEventGuess
		default:
			k = kindAudio
		}
	}
	f.kinds[pt] = k
	return k
}

func kindForEncoding(enc string) ptKind {
	switch {
	case equalFold(enc, "telephone-event"), equalFold(enc, "X-NSE"), equalFold(enc, "NSE"):
		return kindEvent
	case equalFold(enc, "CN"):
		return kindCN
	}
	return kindAudio
}

// equalFold is strings.EqualFold for ASCII names, without allocation.
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// eventLike reports whether a payload of n bytes starting with pl looks
// like RFC 4733 events: whole 4-byte event blocks (at most four) with the
// reserved bit clear.
func eventLike(pl []byte, n int) bool {
	return n >= 4 && n <= 16 && n%4 == 0 && len(pl) >= 4 && pl[1]&0x40 == 0
}

// staticPT describes the static payload types of RFC 3551.
type staticPT struct {
	name  string
	clock int64
}

var staticPTs = [35]staticPT{
	0: {"PCMU", 8000}, 3: {"GSM", 8000}, 4: {"G723", 8000}, 5: {"DVI4", 8000},
	6: {"DVI4", 16000}, 7: {"LPC", 8000}, 8: {"PCMA", 8000}, 9: {"G722", 8000},
	10: {"L16", 44100}, 11: {"L16", 44100}, 12: {"QCELP", 8000}, 13: {"CN", 8000},
	14: {"MPA", 90000}, 15: {"G728", 8000}, 16: {"DVI4", 11025}, 17: {"DVI4", 22050},
	18: {"G729", 8000}, 19: {"CN", 8000}, 25: {"CelB", 90000}, 26: {"JPEG", 90000},
	28: {"nv", 90000}, 31: {"H261", 90000}, 32: {"MPV", 90000}, 33: {"MP2T", 90000},
	34: {"H263", 90000},
}

// payloadInfo returns the encoding name, codec and timestamp clock of pt
// on f.
func (f *flow) payloadInfo(pt uint8, kind ptKind) (name string, c codec.Codec, clock int64) {
	if enc, rate, ok := f.rtpmap(pt); ok {
		name, c, clock = enc, codec.ParseCodec(enc), int64(rate)
	} else if int(pt) < len(staticPTs) && staticPTs[pt].name != "" {
		name, c, clock = staticPTs[pt].name, codec.CodecForPT(pt), staticPTs[pt].clock
	} else if kind == kindEvent || kind == kindEventGuess {
		name = "telephone-event"
	} else {
		name = "unknown"
	}
	if c == codec.PCMU || c == codec.PCMA {
		name = c.String()
	}
	if clock <= 0 || clock > 1_000_000 {
		clock = 8000
		if (kind == kindEvent || kind == kindEventGuess) && f.clock > 0 {
			clock = f.clock
		}
	}
	return name, c, clock
}

// extendTS unwraps a 32-bit RTP timestamp relative to the flow's last one.
func (f *flow) extendTS(ts uint32) int64 {
	if !f.tsInit {
		f.tsInit = true
		f.lastTS = int64(ts)
		return f.lastTS
	}
	f.lastTS += int64(int32(ts - uint32(f.lastTS)))
	return f.lastTS
}

// toSamples converts a timestamp difference at clock Hz to 8 kHz samples.
func toSamples(x, clock int64) int64 {
	if clock == 8000 || clock <= 0 {
		return x
	}
	return x * 8000 / clock
}

// arrivalPos returns the position of capture time t: round((t-origin)*8000).
func (d *Demux) arrivalPos(t time.Time) int64 {
	dt := t.Sub(d.origin)
	neg := dt < 0
	if neg {
		dt = -dt
	}
	p := int64(dt/time.Second)*8000 + (int64(dt%time.Second)*8000+int64(time.Second)/2)/int64(time.Second)
	if neg {
		return -p
	}
	return p
}

// position places extended timestamp ts of f on the timeline, anchoring
// the flow at its first packet and anchoring it anew when the timestamp
// and the arrival time disagree by more than reanchorSamples.
func (f *flow) position(ts, arrival int64) int64 {
	if f.anchored {
		p := f.anchorPos + toSamples(ts-f.anchorTS, f.clock)
		if d := p - arrival; d <= reanchorSamples && d >= -reanchorSamples {
			return p
		}
		f.reanchors++
	}
	f.anchored, f.anchorPos, f.anchorTS = true, arrival, ts
	return arrival
}

// newStream adds a stream for pt on f, or returns nil at the bound.
func (d *Demux) newStream(f *flow, pt uint8, kind ptKind) *stream {
	if len(d.streams) >= d.maxStreams {
		d.streamLimit++
		return nil
	}
	s := &stream{idx: len(d.streams), f: f, bind: f.bind, gap: f.gap}
	d.streams = append(d.streams, s)
	f.streams = append(f.streams, s)
	d.setPT(f, s, pt, kind)
	return s
}

// setPT makes pt the stream's payload type.
func (d *Demux) setPT(f *flow, s *stream, pt uint8, kind ptKind) {
	s.pt = pt
	s.audio = kind == kindAudio
	s.name, s.codec, s.clock = f.payloadInfo(pt, kind)
	s.g711 = s.codec == codec.PCMU || s.codec == codec.PCMA || s.codec == codec.G722
	s.step = 160
	s.havePrev = false
	s.haveTransit = false
	if f.clock == 0 || (s.audio && s.clock != f.clock) {
		f.clock = s.clock
		f.anchored = false
	}
}

// streamFor returns the stream a packet of payload type pt goes to: one of
// the flow's streams in the flow's current dialog binding.
func (d *Demux) streamFor(f *flow, pt uint8, kind ptKind) *stream {
	s := f.cur
	if s != nil && (s.bind != f.bind || s.gap != f.gap) {
		s = nil
		for i := len(f.streams) - 1; i >= 0; i-- {
			if o := f.streams[i]; o.bind == f.bind && o.gap == f.gap {
				s = o
				break
			}
		}
		if s != nil {
			f.cur = s
		}
	}
	if kind != kindAudio {
		if s == nil {
			s = d.newStream(f, pt, kind)
			if s != nil {
				f.cur = s
			}
		}
		return s
	}
	if s != nil && s.audio && s.pt == pt {
		return s
	}
	for _, o := range f.streams {
		if o.audio && o.pt == pt && o.bind == f.bind && o.gap == f.gap {
			f.cur = o
			return o
		}
	}
	if s != nil && !s.audio && s.audioPkts == 0 {
		// The flow's first audio: the stream so far held only events or
		// comfort noise.
		old := s.pt
		d.setPT(f, s, pt, kind)
		s.addOther(old)
		return s
	}
	s = d.newStream(f, pt, kind)
	if s != nil {
		f.cur = s
	}
	return s
}

func (s *stream) addOther(pt uint8) {
	if pt == s.pt {
		return
	}
	for _, o := range s.others[:s.nOthers] {
		if o == pt {
			return
		}
	}
	if s.nOthers < len(s.others) {
		s.others[s.nOthers] = pt
		s.nOthers++
	}
}

func (s *stream) markPos(pos, n int64) {
	if !s.havePos {
		s.havePos, s.minPos, s.endPos = true, pos, pos+n
		return
	}
	s.minPos = min(s.minPos, pos)
	s.endPos = max(s.endPos, pos+n)
}

// place takes one RTP packet of a confirmed flow: pl is (at least the
// start of) its payload of h.n bytes, pieces where the payload sits in the
// capture (located is false when that is unknown).
func (d *Demux) place(f *flow, t time.Time, h *rtpHeader, pl []byte, pieces []capture.Piece, located bool) {
	d.bindFlow(f, t, h)
	kind := d.classify(f, h.pt, pl, h.n)
	s := d.streamFor(f, h.pt, kind)
	if s == nil {
		d.other++
		return
	}
	if f.enc != "" {
		s.enc = f.enc
	}
	d.packets++
	s.packets++
	if s.first.IsZero() || t.Before(s.first) {
		s.first = t
	}
	if t.After(s.last) {
		s.last = t
	}
	if s.pt != h.pt {
		s.addOther(h.pt)
	}
	ext := f.extendTS(h.ts)
	dup, reordered := s.seq.add(h.seq)
	if dup {
		s.dups++
		return
	}
	if reordered {
		s.reordered++
	}
	arrival := d.arrivalPos(t)

	switch kind {
	case kindCN:
		s.cn++
		s.markPos(f.position(ext, arrival), 0)
		return
	case kindEvent, kindEventGuess:
		s.events++
		if h.n < 4 || len(pl) < 4 {
			return
		}
		// An event packet is sent at its start plus its duration so far.
		dur := int64(binary.BigEndian.Uint16(pl[2:4]))
		end := f.position(ext+dur, arrival)
		start := end - toSamples(dur, f.clock)
		d.event(f, s, pl, ext, start)
		if f.ev.masked && d.overwriteFn != nil {
			d.maskEventPacket(pl, h.n, pieces, located)
		}
		return
	}

	s.audioPkts++
	anchors := f.reanchors
	pos := f.position(ext, arrival)
	if f.reanchors != anchors {
		// The timestamps jumped: jitter across the jump means nothing.
		s.haveTransit = false
	}
	d.jitter(s, t, ext, reordered)
	extSeq := s.seq.max
	if !reordered {
		if s.havePrev {
			ds := extSeq - s.prevExtSeq
			if ds >= 1 && ds <= 10 {
				if st := toSamples(ext-s.prevExtTS, f.clock) / ds; st > 0 && st <= 8000 {
					s.step = st
				}
			}
			if ds == 1 && s.g711 {
				s.tagCheck(int64(h.n), toSamples(ext-s.prevExtTS, f.clock))
			}
		}
		s.havePrev, s.prevExtTS, s.prevExtSeq = true, ext, extSeq
	}
	if h.n == 0 {
		return
	}
	samples := s.step
	if s.g711 {
		samples = int64(h.n)
	} else if s.codec == codec.G729 {
		// Whole frames: the payload says how long it is.
		samples = int64(codec.G729Samples(h.n))
	}
	if pos < 0 || pos+samples > math.MaxUint32 {
		d.outOfRange++
		return
	}
	if !located {
		d.unlocated++
		return
	}
	s.markPos(pos, samples)
	d.audioArrival(arrival)
	flags := f.dir.mask.flag(pos, samples)
	d.pkt = d.pkt[:0]
	p, left, done := pos, samples, 0
	for _, pc := range pieces {
		for pc.Len > 0 {
			l := min(pc.Len, math.MaxUint16)
			n := int64(l)
			if !s.g711 {
				if done+l == h.n {
					n = left
				} else {
					n = samples * int64(l) / int64(h.n)
				}
			}
			if pc.Off+int64(l) > codec.MaxOff {
				d.offTooBig++
			} else {
				d.emit(codec.Entry{Off: pc.Off, Len: uint16(l), Pos: uint32(p), Stream: uint16(s.idx), Flags: flags}, uint32(n))
				d.pkt = append(d.pkt, ringEntry{off: pc.Off, n: l, pos: p, samples: n})
			}
			p += n
			left -= n
			done += l
			pc.Off += int64(l)
			pc.Len -= l
		}
	}
	d.audioPlaced(f, s, pos, samples, pl, h.n)
}

// audioArrival moves the audio clock (Demux.latest) on to the earlier of
// the arrival positions of the last two audio packets: one packet with a
// stray capture time (far ahead of the rest) does not move it, and so
// does not make every other stream look idle (Pin) nor open a pause
// ahead of the audio (pauseAt).
func (d *Demux) audioArrival(arrival int64) {
	if d.audioSeen {
		d.latest = max(d.latest, min(d.lastArrival, arrival))
	}
	d.audioSeen, d.lastArrival = true, arrival
}

// jitter updates the RFC 3550 interarrival jitter of s.
func (d *Demux) jitter(s *stream, t time.Time, ext int64, reordered bool) {
	if reordered {
		return
	}
	arr := float64(t.Sub(d.origin)) * float64(s.clock) / float64(time.Second)
	transit := arr - float64(ext)
	if s.haveTransit {
		dd := transit - s.lastTransit
		if dd < 0 {
			dd = -dd
		}
		s.jitter += (dd - s.jitter) / 16
	}
	s.lastTransit, s.haveTransit = transit, true
}
