package recorder

import (
	"math"

	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/recinfo"
	"github.com/callvault/callvault/recorder/capture"
)

// Masking at ingest. With DemuxOptions.MaskDTMF the Demux overwrites, in
// the capture bytes the caller still holds (DemuxOptions.Overwrite), the
// audio payload of every DTMF tone with the codec's silence and the event
// code of every RFC 4733 digit packet. A tone is known only some time after
// it started (an RFC 4733 event at its first packet, an in-band tone after
// toneHitsToBegin blocks), and the mask reaches toneGuard before that: so
// each audio stream keeps its entries of the last toneHold samples (ring),
// and Pin tells the caller from which capture offset on it must still hold
// the bytes back.

// Mask windows of a direction, one per source.
const (
	winEvent     = iota // an RFC 4733 digit of this direction
	winTone             // an in-band tone of this direction
	winEventEcho        // a digit of the reverse direction (its echo)
	winToneEcho         // an in-band tone of the reverse direction
	winKinds
)

// maskWin is a window [from, to) of timeline positions whose audio is
// masked.
type maskWin struct {
	set      bool
	from, to int64
}

// ringEntry is a map entry of a stream kept while it may still be masked.
type ringEntry struct {
	off     int64 // in the capture
	n       int   // bytes
	pos     int64 // timeline position
	samples int64
}

// ringKeep is how far (samples) behind a stream's latest audio its ring
// reaches; ringIdle is how long (samples) after a stream's latest audio
// its ring is let go, when the capture has moved on.
const (
	ringKeep = toneHold + toneBlock
	ringIdle = 8000
)

// maxMaskSpans bounds the spans kept per stream; beyond, the last one
// grows to cover what follows.
const maxMaskSpans = 4096

// maxRing bounds a stream's ring: packets whose positions do not move on
// (the same timestamp again and again, or tiny payloads) would otherwise
// keep every entry. The oldest entries beyond it leave the ring early
// (forceOut).
const maxRing = 128

// maxHeldBytes bounds the capture bytes before the packet being read that
// masking may hold back (Demux.ReleaseBefore): a normal call's held
// audio is a few KiB, a second of it about 20 KiB.
const maxHeldBytes = 256 << 10

// maskSpan is a masked stretch of a stream, in timeline samples.
type maskSpan struct {
	from, to int64
	pause    bool
}

// silenceByte is the payload byte a codec decodes to silence: µ-law
// 0xFF, A-law 0xD5, G.722 g722Silence; 0 for other codecs (G.729:
// maskFill).
func silenceByte(c codec.Codec) byte {
	switch c {
	case codec.PCMU:
		return 0xFF
	case codec.PCMA:
		return 0xD5
	case codec.G722:
		return g722Silence
	}
	return 0
}

// audioPlaced takes the entries (d.pkt) of an audio packet of stream s on
// flow f just placed at pos with samples samples, payload pl of n bytes:
// it runs in-band detection and masking.
func (d *Demux) audioPlaced(f *flow, s *stream, pos, samples int64, pl []byte, n int) {
	if d.overwriteFn != nil {
		d.ringAdd(s, d.pkt, pos+samples)
	}
	if d.inband && (s.g711 || s.codec == codec.G729) {
		if s.tone == nil {
			s.tone = newToneDetector(s.codec)
		}
		if len(pl) >= n && n > 0 {
			d.toneEvs = d.toneEvs[:0]
			if tab := g711DetectTables(s.codec); tab != nil {
				s.tone.feedG711(pos, pl[:n], tab, &d.toneEvs)
			} else if pcm := d.detectPCM(s, pl[:n]); pcm != nil {
				s.tone.feed(pos, pcm, &d.toneEvs)
			}
			for _, e := range d.toneEvs {
				d.tone(f, s, e)
			}
		}
	}
	if d.overwriteFn != nil {
		for k := range f.dir.win {
			if w := &f.dir.win[k]; w.set {
				for _, e := range d.pkt {
					d.maskEntry(s, e, w.from, w.to)
				}
			}
		}
		for _, w := range d.pauses {
			if w.to > pos && w.from < pos+samples {
				for _, e := range d.pkt {
					d.maskPauseEntry(s, e, w)
				}
			}
		}
	}
}

// tone takes what the detector of stream s on flow f reported.
func (d *Demux) tone(f *flow, s *stream, e toneEvent) {
	if e.confirmed {
		s.toneMasked = d.mask || d.paused(e.start)
	}
	if s.toneMasked && d.overwriteFn != nil {
		to := int64(math.MaxInt64) // open until the tone ends
		if e.ended {
			to = e.end + toneGuard
		}
		d.setMask(f.dir, winTone, winToneEcho, e.start-toneGuard, to)
		return
	}
	if s.toneMasked {
		return // in a pause: no digit
	}
	if e.confirmed {
		s.toneRec = -1
		if f.dir.mask.flag(e.start, e.end-e.start) != 0 {
			return // the sender also sent it as an RFC 4733 event
		}
		if d.digits >= maxDigits {
			d.digitsDropped++
			return
		}
		d.digits++
		s.dtmf = append(s.dtmf, dtmfRecord{digit: e.digit, pos: e.start, clock: 8000, inband: true})
		s.toneRec = len(s.dtmf) - 1
	}
	if s.toneRec >= 0 && s.toneRec < len(s.dtmf) {
		s.dtmf[s.toneRec].dur = e.end - s.dtmf[s.toneRec].pos
	}
}

// maskEvent masks the audio of an RFC 4733 digit of dir: [start, end) as
// far as known, open by maskGrace while the event has not ended.
func (d *Demux) maskEvent(dir *direction, start, end int64, open bool) {
	if open {
		end += maskGrace
	}
	d.setMask(dir, winEvent, winEventEcho, start-toneGuard, end+toneGuard)
}

// setMask sets window kind of dir, and echo of its reverse direction, to
// [from, to), and masks what the streams of both hold of it.
func (d *Demux) setMask(dir *direction, kind, echo int, from, to int64) {
	dir.win[kind] = maskWin{set: true, from: from, to: to}
	d.maskHeld(dir, from, to)
	if rev := d.dirs[dirKey{src: dir.key.dst, dst: dir.key.src}]; rev != nil {
		rev.win[echo] = maskWin{set: true, from: from, to: to}
		d.maskHeld(rev, from, to)
	}
}

// maskHeld masks [from, to) in the ring entries of every audio stream of
// dir.
func (d *Demux) maskHeld(dir *direction, from, to int64) {
	for _, f := range dir.flows {
		for _, s := range f.streams {
			for _, e := range s.ring {
				d.maskEntry(s, e, from, to)
			}
		}
	}
}

// maskEntry overwrites what entry e of stream s holds of [from, to): for
// G.711 the samples in the window, for other codecs (whose bytes are not
// samples) the whole entry.
func (d *Demux) maskEntry(s *stream, e ringEntry, from, to int64) {
	a, b := max(from, e.pos), min(to, e.pos+e.samples)
	if a >= b {
		return
	}
	off, n := e.off, e.n
	if s.g711 {
		off, n = e.off+(a-e.pos), int(b-a)
	} else {
		a, b = e.pos, e.pos+e.samples
	}
	if !d.maskFill(s, off, n) {
		d.maskMissed += n
	}
	s.addMaskSpan(a, b, false)
	// A pause's marker tones stay audible over DTMF silence.
	for _, w := range d.pauses {
		if w.from < b && w.to > a {
			d.maskPauseEntry(s, e, w)
		}
	}
}

// maskEventPacket overwrites the event codes of the digits in an RFC 4733
// packet (pl, n bytes; pieces where it sits in the capture).
func (d *Demux) maskEventPacket(pl []byte, n int, pieces []capture.Piece, located bool) {
	masked := false
	for k := 0; k+4 <= min(len(pl), n); k += 4 {
		if int(pl[k]) >= len(dtmfDigits) {
			continue
		}
		off, ok := pieceOffset(pieces, k)
		if !located || !ok || !d.overwrite(off, 1, recinfo.MaskedEventCode) {
			d.maskMissed++
			continue
		}
		masked = true
	}
	if masked {
		d.maskedEvents++
	}
}

func (s *stream) addMaskSpan(a, b int64, pause bool) {
	// Merge with the latest span of the same kind when they touch (DTMF
	// and pause spans interleave).
	k := 0
	if pause {
		k = 1
	}
	if i := s.lastSpan[k] - 1; i >= 0 {
		if l := &s.masked[i]; (a <= l.to && b >= l.from) || len(s.masked) == maxMaskSpans {
			l.from, l.to = min(l.from, a), max(l.to, b)
			return
		}
	}
	s.masked = append(s.masked, maskSpan{from: a, to: b, pause: pause})
	s.lastSpan[k] = len(s.masked)
}

// ringAdd keeps the entries es of s's latest packet, ending at end, and
// lets go of those more than ringKeep behind, and of the oldest beyond
// maxRing entries (forceOut).
func (d *Demux) ringAdd(s *stream, es []ringEntry, end int64) {
	s.ringEnd = max(s.ringEnd, end)
	keep := s.ring[:0]
	for _, e := range s.ring {
		if e.pos+e.samples >= s.ringEnd-ringKeep {
			keep = append(keep, e)
		}
	}
	s.ring = append(keep, es...)
	if over := len(s.ring) - maxRing; over > 0 {
		for _, e := range s.ring[:over] {
			d.forceOut(s, e)
		}
		s.ring = s.ring[:copy(s.ring, s.ring[over:])]
	}
}

// forceOut lets entry e of s leave the ring before masking is done with
// it. With DTMF masking its audio is masked then and there, as a tone
// might still be found in it: what leaves the hold buffer undecided is
// silence, never audio a tone could be in. Without (a live upload held
// for secure pauses) it leaves as it is: the pauses known so far are
// applied to audio as it is placed.
func (d *Demux) forceOut(s *stream, e ringEntry) {
	if !d.mask {
		return
	}
	if !d.maskFill(s, e.off, e.n) {
		d.maskMissed += e.n
	} else {
		d.forced += e.n
	}
	s.addMaskSpan(e.pos, e.pos+e.samples, false)
}

// ReleaseBefore lets the capture bytes before offset off go: the entries
// of every stream's ring that start before off leave it (forceOut), and
// Pin returns off or more from now on. The first packets of unconfirmed
// flows held from before off go as they are (like a stray flow's, Pin);
// should masking need them later, they are counted as missed.
func (d *Demux) ReleaseBefore(off int64) {
	if d.overwriteFn == nil || off <= d.pinFloor {
		return
	}
	d.pinFloor = off
	for _, s := range d.streams {
		keep := s.ring[:0]
		for _, e := range s.ring {
			if e.off < off {
				d.forceOut(s, e)
			} else {
				keep = append(keep, e)
			}
		}
		s.ring = keep
	}
}

// Pin returns the smallest capture offset whose bytes masking may still
// overwrite, or math.MaxInt64: the caller must hold back the bytes from
// there on. It also lets go of the entries of streams idle for a while:
// a second of capture time behind the audio clock or behind the latest
// datagrams of any kind (each the earlier of the last two, audioArrival,
// so that one packet with a stray capture time does not make every
// stream look idle and let its held audio go unmasked).
func (d *Demux) Pin() int64 {
	pin := int64(math.MaxInt64)
	if d.overwriteFn == nil {
		return pin
	}
	now := d.latest
	if d.originSet && !d.prevTime.IsZero() {
		t := d.lastTime
		if d.prevTime.Before(t) {
			t = d.prevTime
		}
		now = max(now, d.arrivalPos(t))
	}
	for _, s := range d.streams {
		if len(s.ring) == 0 {
			continue
		}
		if s.ringEnd < now-ringIdle {
			s.ring = s.ring[:0]
			continue
		}
		for _, e := range s.ring {
			pin = min(pin, e.off)
		}
	}
	for _, c := range d.cands {
		if d.arrivalPos(c.last) < now-ringIdle {
			continue // a stray packet, most likely: not held back for ever
		}
		for i := range c.held {
			for _, p := range c.held[i].pieces {
				pin = min(pin, p.Off)
			}
		}
	}
	return max(pin, d.pinFloor)
}

// masking returns what masking did, for the info document (without the
// hash of the capture as received, which the caller knows).
func (d *Demux) masking() *recinfo.Masking {
	if !d.mask && len(d.pauses) == 0 {
		return nil
	}
	m := &recinfo.Masking{Spans: []recinfo.MaskSpan{}, EventPackets: d.maskedEvents, Missed: d.maskMissed}
	for _, s := range d.streams {
		for _, sp := range s.masked {
			reason := recinfo.MaskDTMF
			if sp.pause {
				reason = recinfo.MaskPause
			}
			m.Spans = append(m.Spans, recinfo.MaskSpan{
				Stream: s.idx, StartPos: clampPos(sp.from), EndPos: clampPos(sp.to), Reason: reason,
			})
		}
	}
	return m
}

// pieceOffset returns the capture offset of byte i of a payload that sits
// in pieces.
func pieceOffset(pieces []capture.Piece, i int) (int64, bool) {
	for _, p := range pieces {
		if i < p.Len {
			return p.Off + int64(i), true
		}
		i -= p.Len
	}
	return 0, false
}

// overwrite fills n bytes at capture offset off through DemuxOptions.Overwrite.
func (d *Demux) overwrite(off int64, n int, fill byte) bool {
	return d.overwriteFn != nil && d.overwriteFn(off, n, fill)
}

// FinishTones ends the tones still going on when the capture ends (their
// masks close, their digits get their duration). Result calls it.
func (d *Demux) FinishTones() {
	for _, s := range d.streams {
		if s.tone == nil {
			continue
		}
		d.toneEvs = d.toneEvs[:0]
		s.tone.flush(&d.toneEvs, d.mask)
		for _, e := range d.toneEvs {
			d.tone(s.f, s, e)
		}
	}
}
