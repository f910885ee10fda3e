package recorder

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/codec"
)

// Secure pause: while a phone streams a call (a PUT without a length),
// an agent or an integration pauses the recording around a passage that
// must not be kept (card data read out) and resumes it. The audio between
// pause and resume is masked in what is stored, in every direction of the
// upload, like a DTMF tone (mask.go): the payload bytes are overwritten
// before they are stored, and the info document's masking record lists the
// spans (reason "pause"). At each boundary a marker tone is written into
// the masked span itself (markerLen samples of 1 kHz at about -20 dBm0 at
// its start and at its end), so the WAV, which is rendered from the stored
// capture, beeps where the pause began and ended. In G.711 the marker is
// markerLen samples of the tone; in G.722 (ADPCM, whose octets decode
// according to the state the octets before left) it is 30 ms of silence
// octets, which bring any decoder to one state, then 30 ms of octets
// encoded from that state (codec.G722Marker); in G.729 (whole frames of
// 10 ms) it is four silence frames, which bring the decoder to one state,
// then four frames encoded from it (pause_g729.go), the first frames that
// start in the pause and the last ones before its end. A pause left open
// ends with the call. DTMF digits inside a pause are never kept.
//
// Where a pause begins and ends on the capture's timeline: a request
// notes how many bytes of the upload had been read when it arrived. The
// pause begins after the last packet read before it: what was read later
// was sent later. The resume takes effect after the last packet read
// before it, plus pauseMargin: a phone's packets wait a little in the
// network and in the socket buffer (the ingest's read pacing gathers about
// 200 ms), and what was sent before the resume must be masked, so the end
// errs on the side of masking a little more.

// Errors of Pause.
var (
	// ErrNoLiveCall: no upload in progress carries that call (or the
	// caller may not pause it).
	ErrNoLiveCall = errors.New("recorder: no call with that id is being recorded now")
	// ErrPauseState: a pause of a paused call, or a resume of one that is
	// not paused.
	ErrPauseState = errors.New("recorder: the call is already in that state")
	// ErrTooManyPauses: maxPauses reached for the upload.
	ErrTooManyPauses = errors.New("recorder: too many pauses in this call")
)

const (
	maxPauses   = 64
	markerLen   = 480  // 60 ms
	pauseMargin = 4000 // 500 ms
	maxLiveSIP  = 16   // SIP Call-IDs an upload is found by
)

// liveUpload is an upload that can be paused now. The API's goroutine
// queues commands; the upload's goroutine applies them between datagrams.
type liveUpload struct {
	id    archive.ID
	guid  string
	owner string
	read  func() int64 // bytes of the upload read so far

	pending atomic.Bool
	mu      sync.Mutex
	sip     []string // SIP Call-IDs seen in the capture so far
	cmds    []pauseCmd
	paused  bool // after the queued commands
	pauses  int

	// the upload's goroutine only
	nSIP int
}

type pauseCmd struct {
	resume bool
	off    int64 // bytes of the upload read when it was asked for
}

func (r *Recorder) addLive(id archive.ID, guid, owner string, read func() int64) *liveUpload {
	l := &liveUpload{id: id, guid: strings.ToLower(guid), owner: owner, read: read}
	r.liveMu.Lock()
	if r.live == nil {
		r.live = map[*liveUpload]struct{}{}
	}
	r.live[l] = struct{}{}
	r.liveMu.Unlock()
	return l
}

func (r *Recorder) dropLive(l *liveUpload) {
	r.liveMu.Lock()
	delete(r.live, l)
	r.liveMu.Unlock()
}

// Pause pauses (resume false) or resumes the recording of the call with
// callID, as u: an integration account, or the user who owns the upload
// (the upload name's user is their login). callID is the call GUID of the
// upload's name or a SIP Call-ID seen in the capture. It returns the
// recording being written; ErrNoLiveCall when no upload in progress
// carries the call for u, ErrPauseState when it is in that state already.
func (r *Recorder) Pause(ctx context.Context, callID string, u *archive.User, resume bool) (archive.ID, error) {
	if err := ctx.Err(); err != nil {
		return archive.ID{}, err
	}
	callID = strings.TrimSpace(callID)
	if callID == "" || u == nil {
		return archive.ID{}, ErrNoLiveCall
	}
	r.liveMu.Lock()
	var match *liveUpload
	for l := range r.live {
		if (u.Role == archive.RoleIntegration || (l.owner != "" && l.owner == u.Login)) && l.matches(callID) {
			match = l
			break
		}
	}
	r.liveMu.Unlock()
	if match == nil {
		return archive.ID{}, ErrNoLiveCall
	}
	return match.id, match.command(resume)
}

func (l *liveUpload) matches(callID string) bool {
	if l.guid != "" && strings.EqualFold(l.guid, callID) {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.sip {
		if s == callID {
			return true
		}
	}
	return false
}

func (l *liveUpload) command(resume bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.paused != !resume {
		if !resume && l.pauses >= maxPauses {
			return ErrTooManyPauses
		}
		if !resume {
			l.pauses++
		}
		l.paused = !resume
		l.cmds = append(l.cmds, pauseCmd{resume: resume, off: l.read()})
		l.pending.Store(true)
		return nil
	}
	return ErrPauseState
}

// before runs in the upload's goroutine before the packet at capture
// offset off: it applies the commands asked for before the packet was
// read.
func (l *liveUpload) before(d *Demux, off int64) {
	if !l.pending.Load() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.cmds) > 0 && l.cmds[0].off <= off {
		if l.cmds[0].resume {
			d.resumeAt(d.latest + pauseMargin)
		} else {
			d.pauseAt(d.latest)
		}
		l.cmds = l.cmds[1:]
	}
	l.pending.Store(len(l.cmds) > 0)
}

// after runs in the upload's goroutine after a datagram: it makes the SIP
// Call-IDs seen so far known to Pause.
func (l *liveUpload) after(d *Demux) {
	if n := min(len(d.sipCalls), maxLiveSIP); n != l.nSIP {
		l.mu.Lock()
		for _, c := range d.sipCalls[l.nSIP:n] {
			l.sip = append(l.sip, c.callID)
		}
		l.mu.Unlock()
		l.nSIP = n
	}
}

// pauseAt opens a pause at position from.
func (d *Demux) pauseAt(from int64) {
	if n := len(d.pauses); n > 0 && d.pauses[n-1].to == math.MaxInt64 {
		return
	}
	d.pauses = append(d.pauses, maskWin{set: true, from: from, to: math.MaxInt64})
	d.maskPaused()
}

// resumeAt closes the open pause at position to.
func (d *Demux) resumeAt(to int64) {
	n := len(d.pauses)
	if n == 0 || d.pauses[n-1].to != math.MaxInt64 {
		return
	}
	w := &d.pauses[n-1]
	w.to = max(to, w.from+1)
	d.maskPaused() // the end marker, over what is held already
}

// paused reports whether position pos lies in a pause.
func (d *Demux) paused(pos int64) bool {
	for i := len(d.pauses) - 1; i >= 0; i-- {
		if w := d.pauses[i]; pos >= w.from && pos < w.to {
			return true
		}
	}
	return false
}

// maskPaused masks the latest pause in every stream's held entries.
func (d *Demux) maskPaused() {
	w := d.pauses[len(d.pauses)-1]
	for _, s := range d.streams {
		for _, e := range s.ring {
			d.maskPauseEntry(s, e, w)
		}
	}
}

// maskPauseEntry overwrites what entry e of stream s holds of pause w:
// silence, and the marker tone in the first and (once the pause is closed)
// the last markerLen samples of the pause. G.729 payloads are overwritten
// whole, with silence frames and the frames of the G.729 marker
// (pause_g729.go); those of other codecs with zeros.
func (d *Demux) maskPauseEntry(s *stream, e ringEntry, w maskWin) {
	a, b := max(w.from, e.pos), min(w.to, e.pos+e.samples)
	if a >= b {
		return
	}
	if !s.g711 {
		var ok bool
		if s.codec == codec.G729 {
			ok = d.fillG729(e.off, e.n, func(k int) *[codec.G729FrameSize]byte {
				return g729PauseFrame(w, e.pos+int64(k*codec.G729FrameSamples))
			})
		} else {
			ok = d.maskFill(s, e.off, e.n)
		}
		if !ok {
			d.maskMissed += e.n
		}
		s.addMaskSpan(e.pos, e.pos+e.samples, true)
		return
	}
	silence := silenceByte(s.codec)
	closed := w.to != math.MaxInt64
	for p := a; p < b; {
		// Runs of one kind: marker or silence.
		inMarker := p < w.from+markerLen || (closed && p >= w.to-markerLen)
		q := p + 1
		for q < b && (q < w.from+markerLen || (closed && q >= w.to-markerLen)) == inMarker {
			q++
		}
		off := e.off + (p - e.pos)
		if inMarker {
			for k := p; k < q; k++ {
				if !d.overwrite(off+(k-p), 1, markerByte(s.codec, w, k)) {
					d.maskMissed++
				}
			}
		} else if !d.overwrite(off, int(q-p), silence) {
			d.maskMissed += int(q - p)
		}
		p = q
	}
	s.addMaskSpan(a, b, true)
}

// markerByte returns the byte at position p of a marker of pause w in
// codec c (G.711 or G.722). A G.711 marker is a 1 kHz tone in phase with
// the timeline. A G.722 marker is the octets codec.G722Marker, after
// codec.G722MarkerSettle octets of silence that bring the decoder to the
// state the octets were made for: at the start of the pause, and at its
// end, where the silence before the marker is part of it.
func markerByte(c codec.Codec, w maskWin, p int64) byte {
	if c != codec.G722 {
		return markerBytes(c)[p%8]
	}
	k := p - w.from
	if w.to != math.MaxInt64 && p >= w.to-markerLen {
		k = p - (w.to - markerLen)
	}
	if k < codec.G722MarkerSettle {
		return g722Silence
	}
	return codec.G722Marker[k-codec.G722MarkerSettle]
}

// A G.722 marker fills markerLen octets.
var _ = [1]struct{}{}[markerLen-codec.G722MarkerSettle-len(codec.G722Marker)]

// markerBytes returns one period (8 samples at 8 kHz) of the 1 kHz marker
// in codec c: the code whose decoded value is nearest each sample.
func markerBytes(c codec.Codec) *[8]byte {
	if c == codec.PCMA {
		return &markerAlaw
	}
	return &markerUlaw
}

var markerUlaw, markerAlaw = markerTable(codec.PCMU), markerTable(codec.PCMA)

func markerTable(c codec.Codec) [8]byte {
	const amp = 2300 // about -20 dBm0
	var dec [256]int16
	var all [256]byte
	for i := range all {
		all[i] = byte(i)
	}
	c.Decode(dec[:], all[:])
	var t [8]byte
	for k := range t {
		want := amp * math.Sin(2*math.Pi*float64(k)/8)
		best := 0
		for i := range dec {
			if math.Abs(float64(dec[i])-want) < math.Abs(float64(dec[best])-want) {
				best = i
			}
		}
		t[k] = byte(best)
	}
	return t
}
