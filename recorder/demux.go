package recorder

import (
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/recorder/capture"
	"github.com/callvault/callvault/recorder/sip"
)

// Bounds on what a Demux keeps, against hostile or merely odd captures.
const (
	defaultMaxStreams = 512
	maxMaxStreams     = 1 << 16 // Entry.Stream is 16 bits
	maxCandidates     = 64      // unconfirmed flows held at once
	maxHeld           = 4       // packets held per unconfirmed flow
	maxSIPCalls       = 256     // Call-IDs remembered
	maxSDPMedia       = 256     // SDP media addresses remembered
	maxBindings       = 1024    // SDP announcements (address, dialog) remembered
	maxSecured        = 256     // address pairs seen carrying ZRTP or DTLS
	maxRTPMaps        = 32      // rtpmap lines kept per SDP media
	maxSIPText        = 128     // bytes kept of a Call-ID, name or encoding
	maxDigits         = 4096    // DTMF digits kept per capture

	// originMargin is subtracted from the first RTP packet's capture time
	// to get the recording's origin, so that packets of other flows held
	// or reordered a little earlier still land on positions >= 0.
	originMargin = 2 * time.Second
	// reanchorSamples is how far (8 kHz samples) the timestamp-predicted
	// position of a packet may drift from its arrival position before the
	// flow is anchored anew at the packet's arrival (a sender that
	// restarted its timestamps without changing SSRC).
	reanchorSamples = 12000
	// confirmMaxSeqStep and confirmMaxTSStep bound the sequence and
	// timestamp steps between two packets of an unconfirmed flow that
	// confirm it as RTP.
	confirmMaxSeqStep = 100
	confirmMaxTSStep  = 1 << 20
)

// DemuxOptions configures a Demux.
type DemuxOptions struct {
	// Emit receives every placement map entry as it is decided, in the
	// order the map is to be written, with the number of 8 kHz samples the
	// entry covers (the payload bytes for G.711; the RTP timestamp step
	// for other codecs). Emit is called from Datagram, never concurrently.
	// A nil Emit discards entries.
	Emit func(e codec.Entry, samples uint32)
	// MaxStreams bounds the number of streams (and so of map stream
	// indexes); packets of further flows are counted and dropped.
	// Zero means 512; values above 65536 are lowered to 65536.
	MaxStreams int
	// InBand finds DTMF tones in the audio of G.711 streams; without
	// MaskDTMF they are recorded as digits like RFC 4733 events.
	InBand bool
	// MaskDTMF masks every DTMF tone (RFC 4733 and, with InBand, in-band)
	// through Overwrite instead of recording its digit; see Pin.
	MaskDTMF bool
	// Overwrite fills n capture bytes at offset off with fill and reports
	// whether it could (the caller still held them).
	Overwrite func(off int64, n int, fill byte) bool
}

// A Demux finds the RTP streams of a capture by their content, follows
// each direction's timeline and emits placement map entries for the audio
// payloads, while collecting SIP signalling, DTMF and statistics. Feed it
// every datagram of a capture in capture order with Datagram, then call
// Result once. A Demux is not safe for concurrent use.
//
// Its memory is bounded by MaxStreams and by fixed limits on unconfirmed
// flows, SIP calls and SDP media, whatever the capture holds. In the
// steady state (packets of known streams) Datagram does not allocate.
type Demux struct {
	emit       func(codec.Entry, uint32)
	maxStreams int

	originSet bool
	origin    time.Time

	flows   map[flowKey]*flow
	dirs    map[dirKey]*direction
	dirList []*direction
	cands   map[flowKey]*candidate
	// freeCands keeps dropped candidates' buffers for reuse
	freeCands []*candidate
	streams   []*stream

	sipCalls []*sipCall
	sipByID  map[string]int
	sdp      map[netip.AddrPort]*sdpAddr
	sdpGen   int // counts changes to SDP bindings
	nbinds   int
	secured  map[addrPair]*securedPair

	recent     [2]*flow // flows looked up last
	nextRecent int

	hdr    rtpHeader       // scratch for the datagram being read
	pieces []capture.Piece // scratch: where the current payload sits

	packets, rtcp, sipMsgs, other int

	// counters behind Result.Warnings
	outOfRange, unlocated, offTooBig, streamLimit, candDropped, sipDropped int
	digits, digitsDropped                                                  int

	// in-band detection and masking (mask.go)
	inband, mask             bool
	overwriteFn              func(off int64, n int, fill byte) bool
	latest                   int64       // audio clock: arrival position (audioArrival)
	lastArrival              int64       // arrival position of the latest audio packet
	audioSeen                bool        // lastArrival is set
	pkt                      []ringEntry // scratch: entries of the packet being placed
	pcm                      []int16     // scratch: its decoded samples
	toneEvs                  []toneEvent // scratch: what the detector reported
	maskedEvents, maskMissed int
	pauses                   []maskWin // secure pauses (pause.go)
	// prevTime and lastTime are the capture times of the two latest
	// datagrams of any kind (with Overwrite; Pin), pinFloor the offset
	// before which Pin holds nothing back (ReleaseBefore), forced the
	// audio bytes masked as they left the ring undecided (forceOut).
	prevTime, lastTime time.Time
	pinFloor           int64
	forced             int
}

// NewDemux returns a Demux ready for a capture's first datagram.
func NewDemux(opt DemuxOptions) *Demux {
	d := &Demux{
		emit:        opt.Emit,
		maxStreams:  opt.MaxStreams,
		flows:       make(map[flowKey]*flow),
		dirs:        make(map[dirKey]*direction),
		cands:       make(map[flowKey]*candidate),
		sipByID:     make(map[string]int),
		sdp:         make(map[netip.AddrPort]*sdpAddr),
		secured:     make(map[addrPair]*securedPair),
		pieces:      make([]capture.Piece, 0, 8),
		inband:      opt.InBand,
		mask:        opt.MaskDTMF,
		overwriteFn: opt.Overwrite,
	}
	if d.maxStreams <= 0 {
		d.maxStreams = defaultMaxStreams
	}
	if d.maxStreams > maxMaxStreams {
		d.maxStreams = maxMaxStreams
	}
	if d.emit == nil {
		d.emit = func(codec.Entry, uint32) {}
	}
	return d
}

// Datagram takes the next datagram of the capture. It never keeps dg or
// its buffers: payload bytes it needs later (the first packets of a flow
// not yet confirmed as RTP) are copied, and map entries point at the
// capture through dg.Pieces.
func (d *Demux) Datagram(dg *capture.Datagram) {
	if dg == nil {
		return
	}
	if d.overwriteFn != nil {
		d.prevTime, d.lastTime = d.lastTime, dg.Time
	}
	p := dg.Payload
	if dg.Proto == capture.UDP {
		if isRTCPHead(p) {
			if isRTCP(p) {
				d.rtcp++
			} else {
				d.other++
			}
			return
		}
		if parseRTP(p, &d.hdr) {
			d.rtp(dg, &d.hdr)
			return
		}
		if d.secureMedia(dg.Src, dg.Dst, dg.Time, p) {
			d.other++
			return
		}
	}
	if d.trySIP(dg) {
		return
	}
	d.other++
}

// rtp handles a datagram that parsed as an RTP header.
func (d *Demux) rtp(dg *capture.Datagram, h *rtpHeader) {
	k := flowKey{src: dg.Src, dst: dg.Dst, ssrc: h.ssrc}
	pl := dg.Payload[h.off : h.off+h.n]
	if f := d.lookup(k); f != nil {
		d.placeLive(f, dg, h, pl)
		return
	}
	if !d.originSet {
		d.origin = dg.Time.Add(-originMargin)
		d.originSet = true
	}
	c := d.cands[k]
	if c == nil {
		// A new SSRC on a direction already carrying RTP, or a flow on an
		// address SDP announced, is taken at once.
		if d.dirs[dirKey{src: k.src, dst: k.dst}] != nil || d.sdpMatch(k) {
			if f := d.newFlow(k, dg.Time); f != nil {
				d.placeLive(f, dg, h, pl)
			} else {
				d.other++
			}
			return
		}
		c = d.newCandidate(k)
		d.hold(c, dg, h, pl)
		return
	}
	last := &c.held[len(c.held)-1]
	if !confirms(&last.h, h) {
		d.hold(c, dg, h, pl)
		return
	}
	defer d.dropCandidate(k, c)
	f := d.newFlow(k, c.held[0].t)
	if f == nil {
		d.other += len(c.held) + 1
		return
	}
	for i := range c.held {
		hp := &c.held[i]
		d.place(f, hp.t, &hp.h, hp.pre[:min(len(hp.pre), hp.h.n)], hp.pieces, hp.located)
	}
	d.placeLive(f, dg, h, pl)
}

// lookup returns the confirmed flow of k, or nil. The two flows looked up
// last are remembered: a call's two directions alternate.
func (d *Demux) lookup(k flowKey) *flow {
	for i := range d.recent {
		if f := d.recent[i]; f != nil && f.key == k {
			return f
		}
	}
	f := d.flows[k]
	if f != nil {
		d.recent[d.nextRecent] = f
		d.nextRecent ^= 1
	}
	return f
}

// confirms reports whether b, following a on the same flow, looks like
// the next packet of an RTP stream: the sequence number moved on by a
// little and the timestamp did not go back or leap.
func confirms(a, b *rtpHeader) bool {
	ds := b.seq - a.seq
	dt := b.ts - a.ts
	return ds >= 1 && ds <= confirmMaxSeqStep && dt <= confirmMaxTSStep
}

// placeLive places a packet of the datagram being read.
func (d *Demux) placeLive(f *flow, dg *capture.Datagram, h *rtpHeader, pl []byte) {
	var ok bool
	d.pieces, ok = appendPieces(d.pieces[:0], dg, h.off, h.n)
	d.place(f, dg.Time, h, pl, d.pieces, ok)
}

// appendPieces appends to dst where bytes [off, off+n) of dg's payload sit
// in the capture; ok is false when dg.Pieces does not cover them.
func appendPieces(dst []capture.Piece, dg *capture.Datagram, off, n int) ([]capture.Piece, bool) {
	for _, p := range dg.Pieces {
		if n == 0 {
			break
		}
		if p.Len < 0 || p.Off < 0 {
			return dst, false
		}
		if off >= p.Len {
			off -= p.Len
			continue
		}
		l := min(p.Len-off, n)
		dst = append(dst, capture.Piece{Off: p.Off + int64(off), Len: l})
		n -= l
		off = 0
	}
	return dst, n == 0
}

// candidate is a flow of RTP-looking datagrams not yet confirmed as RTP.
type candidate struct {
	held []heldPacket
	last time.Time
}

// heldPacket is a packet of a candidate flow, kept until the flow is
// confirmed: its header, the start of its payload and where the payload
// sits in the capture.
type heldPacket struct {
	t       time.Time
	h       rtpHeader
	pre     [16]byte
	pieces  []capture.Piece
	located bool
}

func (d *Demux) newCandidate(k flowKey) *candidate {
	if len(d.cands) >= maxCandidates {
		// Evict the candidate heard from longest ago.
		var oldK flowKey
		var old *candidate
		for ck, c := range d.cands {
			if old == nil || c.last.Before(old.last) {
				oldK, old = ck, c
			}
		}
		d.other += len(old.held)
		d.candDropped += len(old.held)
		d.dropCandidate(oldK, old)
	}
	var c *candidate
	if n := len(d.freeCands); n > 0 {
		c = d.freeCands[n-1]
		d.freeCands = d.freeCands[:n-1]
		c.held = c.held[:0]
	} else {
		c = &candidate{held: make([]heldPacket, 0, maxHeld)}
	}
	d.cands[k] = c
	return c
}

// dropCandidate forgets a candidate, keeping its buffers for reuse.
func (d *Demux) dropCandidate(k flowKey, c *candidate) {
	delete(d.cands, k)
	if len(d.freeCands) < maxCandidates {
		d.freeCands = append(d.freeCands, c)
	}
}

func (d *Demux) hold(c *candidate, dg *capture.Datagram, h *rtpHeader, pl []byte) {
	if len(c.held) == maxHeld {
		// Keep the latest packets: the flow is judged on its last one.
		// Rotate so that the dropped packet's buffers are reused.
		first := c.held[0]
		copy(c.held, c.held[1:])
		c.held[maxHeld-1] = first
		c.held = c.held[:maxHeld-1]
		d.other++
	}
	c.held = c.held[:len(c.held)+1]
	hp := &c.held[len(c.held)-1]
	hp.t, hp.h = dg.Time, *h
	hp.pre = [16]byte{}
	copy(hp.pre[:], pl)
	hp.pieces, hp.located = appendPieces(hp.pieces[:0], dg, h.off, h.n)
	c.last = dg.Time
}

// sipCall is what SIP told about one Call-ID.
type sipCall struct {
	callID   string
	from, to sip.Address
	invite   bool // from and to come from an INVITE request
	// ended is set by the dialog's BYE (or the response to it); binds are
	// the SDP bindings it made, closed then.
	ended bool
	binds []*sdpBinding
}

// sdpAddr is an address SDP announced for receiving RTP, with every
// announcement of it in capture order.
type sdpAddr struct {
	binds []*sdpBinding
}

// sdpBinding is one SIP dialog's claim on an address: an SDP media
// description announcing it, valid from the capture time of the message
// that carried it until the dialog's BYE, or until another dialog
// announces the same address. A re-INVITE of the same dialog updates the
// binding it holds.
type sdpBinding struct {
	call       int // index into Demux.sipCalls
	start, end time.Time
	ended      bool // end is set
	rtpmap     []sdpMap
	// What the media description says about encryption.
	savp   bool // a secure RTP profile (RTP/SAVP, RTP/SAVPF, over UDP or DTLS)
	dtls   bool // DTLS-SRTP: UDP/TLS transport or a=fingerprint
	crypto bool // a=crypto (SDES keys)
	zrtp   bool // a=zrtp-hash
}

// sdpMap is one a=rtpmap line, its encoding name cut to maxSIPText.
type sdpMap struct {
	pt       uint8
	encoding string
	clock    int
}

// clip returns s cut to at most maxSIPText bytes (on a UTF-8 boundary), as
// a copy, so that a kept value does not pin the message it came from.
func clip(s string) string {
	if len(s) > maxSIPText {
		n := maxSIPText
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	return strings.Clone(s)
}

func clipAddress(a sip.Address) sip.Address {
	return sip.Address{Display: clip(a.Display), User: clip(a.User), Host: clip(a.Host)}
}

// trySIP parses dg's payload as SIP and keeps what it tells; it reports
// whether the payload was SIP.
func (d *Demux) trySIP(dg *capture.Datagram) bool {
	p := dg.Payload
	if len(p) < 8 || p[0] < 'A' || p[0] > 'z' {
		return false
	}
	m, err := sip.Parse(p)
	if err != nil || m == nil {
		return false
	}
	d.sipMsgs++
	if m.CallID == "" {
		return true
	}
	ci, ok := d.sipByID[clipKey(m.CallID)]
	if !ok {
		if len(d.sipCalls) >= maxSIPCalls {
			d.sipDropped++
			return true
		}
		ci = len(d.sipCalls)
		id := clip(m.CallID)
		d.sipByID[id] = ci
		d.sipCalls = append(d.sipCalls, &sipCall{callID: id, from: clipAddress(m.From), to: clipAddress(m.To)})
	}
	sc := d.sipCalls[ci]
	if m.Request && m.Method == "INVITE" && !sc.invite {
		sc.from, sc.to, sc.invite = clipAddress(m.From), clipAddress(m.To), true
	}
	if (m.Request && m.Method == "BYE") || (!m.Request && m.CSeqMethod == "BYE") {
		d.endDialog(sc, dg.Time)
		return true
	}
	if m.SDP == nil {
		return true
	}
	for _, md := range m.SDP.Media {
		if md.Type != "audio" || md.Port == 0 {
			continue
		}
		a := md.Conn
		if !a.IsValid() {
			a = m.SDP.Conn
		}
		if !a.IsValid() || a.IsUnspecified() {
			continue
		}
		d.bind(ci, netip.AddrPortFrom(a.Unmap(), md.Port), &md, dg.Time)
	}
	return true
}

// bind records that SIP call ci announced ap for receiving RTP at time t.
func (d *Demux) bind(ci int, ap netip.AddrPort, md *sip.Media, t time.Time) {
	sa := d.sdp[ap]
	if sa == nil {
		if len(d.sdp) >= maxSDPMedia {
			d.sipDropped++
			return
		}
		sa = &sdpAddr{}
		d.sdp[ap] = sa
	}
	var b *sdpBinding
	if n := len(sa.binds); n > 0 && sa.binds[n-1].call == ci && !sa.binds[n-1].ended {
		b = sa.binds[n-1] // the same dialog again (a re-INVITE, a retransmission)
	} else {
		if d.nbinds >= maxBindings {
			d.sipDropped++
			return
		}
		d.nbinds++
		if n > 0 && !sa.binds[n-1].ended {
			// Another dialog takes the address over.
			prev := sa.binds[n-1]
			prev.end, prev.ended = t, true
		}
		b = &sdpBinding{call: ci, start: t}
		sa.binds = append(sa.binds, b)
		sc := d.sipCalls[ci]
		sc.binds = append(sc.binds, b)
	}
	b.rtpmap = b.rtpmap[:0]
	for pt, rm := range md.RTPMap {
		if len(b.rtpmap) == maxRTPMaps {
			break
		}
		if pt < 128 && rm.Encoding != "" {
			b.rtpmap = append(b.rtpmap, sdpMap{pt: pt, encoding: clip(rm.Encoding), clock: rm.ClockRate})
		}
	}
	b.savp, b.dtls, b.crypto, b.zrtp = md.SecureProfile(), md.DTLS(), md.Crypto, md.ZRTPHash
	d.sdpGen++
}

// endDialog closes the SDP bindings of a dialog at its BYE.
func (d *Demux) endDialog(sc *sipCall, t time.Time) {
	if sc.ended {
		return
	}
	sc.ended = true
	for _, b := range sc.binds {
		if !b.ended {
			b.end, b.ended = t, true
		}
	}
	d.sdpGen++
}

// sdpMatch reports whether either end of k is an address SDP announced.
func (d *Demux) sdpMatch(k flowKey) bool {
	if len(d.sdp) == 0 {
		return false
	}
	return d.sdp[unmapAP(k.src)] != nil || d.sdp[unmapAP(k.dst)] != nil
}

// clipKey is the key a Call-ID is remembered under (see clip), without
// copying.
func clipKey(id string) string {
	if len(id) > maxSIPText {
		return clip(id)
	}
	return id
}

func unmapAP(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
