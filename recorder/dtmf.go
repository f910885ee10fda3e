package recorder

import (
	"encoding/binary"

	"github.com/callvault/callvault/codec"
)

// RFC 4733 (formerly RFC 2833) telephone-events. Each event packet carries
// the event code, an end bit, a volume and the duration so far, all under
// the RTP timestamp of the event's start; the sender repeats the packet as
// the event goes on and sends the end packet (typically) three times.
// Events 0-15 are the DTMF digits; higher codes (fax tones, Cisco NSE) are
// counted but are not digits.

const dtmfDigits = "0123456789*#ABCD"

// maskGrace is how far past the last reported duration an event that has
// not ended yet masks audio (8 kHz samples), so that a lost end packet
// does not mask the rest of the call.
const maskGrace = 4000

// dtmfRecord is a digit as it is being collected.
type dtmfRecord struct {
	digit  byte
	pos    int64 // start on the timeline
	dur    int64 // duration in the event's clock units
	clock  int64
	inband bool // a tone found in the audio
}

// eventState follows the current telephone-event of a flow.
type eventState struct {
	have    bool
	ended   bool
	code    uint8
	firstTS int64 // extended timestamp of the event's first segment
	ts      int64 // extended timestamp of the current segment
	dur     int64 // duration of the current segment, clock units
	start   int64 // timeline position of the start
	clock   int64
	s       *stream
	digit   bool // a DTMF digit (0-15)
	masked  bool // masked, not kept: masking on, or it began in a pause
	rec     int  // index into s.dtmf, -1 when not kept
}

// total is the event's duration so far over all its segments.
func (e *eventState) total() int64 { return e.ts - e.firstTS + e.dur }

// dtmfMask is the window of a direction's latest digit, for FlagDTMF.
type dtmfMask struct {
	set        bool
	open       bool // not ended yet
	start, end int64
}

// flag returns FlagDTMF when [pos, pos+n) overlaps the mask window.
func (m *dtmfMask) flag(pos, n int64) codec.EntryFlag {
	if !m.set {
		return 0
	}
	end := m.end
	if m.open {
		end += maskGrace
	}
	if pos < end && pos+n > m.start {
		return codec.FlagDTMF
	}
	return 0
}

// event takes a telephone-event packet of f (payload pl, at least 4 bytes;
// extended timestamp ts; start the position of the event's start) and
// records digits on stream s.
func (d *Demux) event(f *flow, s *stream, pl []byte, ts, start int64) {
	code := pl[0]
	end := pl[1]&0x80 != 0
	dur := int64(binary.BigEndian.Uint16(pl[2:4]))
	e := &f.ev
	switch {
	case e.have && ts == e.ts && code == e.code:
		// The same event again: a longer duration, or a repeated end.
		if e.ended {
			return
		}
		e.dur = max(e.dur, dur)
		e.ended = end
	case e.have && ts < e.ts:
		return // a late packet of an earlier event
	case e.have && !e.ended && code == e.code && ts <= e.ts+e.dur+e.clock:
		// A long event goes on in a new segment (RFC 4733 2.5.1.3).
		e.ts, e.dur, e.ended = ts, dur, end
	default:
		*e = eventState{
			have: true, ended: end, code: code, firstTS: ts, ts: ts, dur: dur,
			start: start, clock: s.clock, s: s, rec: -1,
		}
		if e.clock <= 0 {
			e.clock = 8000
		}
		if int(code) < len(dtmfDigits) {
			e.digit = true
			if d.mask || d.paused(start) {
				e.masked = true
				break // masked: the digit is not kept
			}
			if d.digits >= maxDigits {
				d.digitsDropped++
				break
			}
			d.digits++
			s.dtmf = append(s.dtmf, dtmfRecord{digit: dtmfDigits[code], pos: start, clock: e.clock})
			e.rec = len(s.dtmf) - 1
		}
	}
	n := toSamples(e.total(), f.clock)
	e.s.markPos(e.start, n)
	if !e.digit {
		return
	}
	if e.rec >= 0 {
		e.s.dtmf[e.rec].dur = e.total()
	}
	f.dir.mask = dtmfMask{set: true, open: !e.ended, start: e.start, end: e.start + n}
	if e.masked && d.overwriteFn != nil {
		d.maskEvent(f.dir, e.start, e.start+n, !e.ended)
	}
}
