package recorder

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/recinfo"
	"github.com/callvault/callvault/recorder/capture"
)

// Analysis is what one pass over a capture found: the timeline result, the
// placement map's index and how the capture ended.
type Analysis struct {
	Result *Result
	Spans  []codec.Span
	// Entries is the number of placement-map entries written.
	Entries int
	// Truncated is set when the last packet record was cut short (an
	// interrupted upload or a capture file copied while being written).
	Truncated bool
	// Damage describes where the capture stopped being readable; the bytes
	// after it are kept but not decoded.
	Damage string
	// Masking is what masking overwrote (nil without masking).
	Masking *recinfo.Masking
}

// ErrNotCapture is returned by Analyze for input that is neither pcap,
// pcapng nor a gzip of either.
var ErrNotCapture = errors.New("recorder: not a pcap or pcapng capture")

// sourceReader remembers the first error of the underlying reader, so that a
// failing upload body is told apart from a malformed capture.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// Analyze reads a (decompressed) capture from r to its end, writes the
// placement map to mapw and returns what it found. Every byte of r is read,
// also past damage in the capture, so a tee in front of r sees the whole
// input. The error is non-nil only when r itself fails (the Analysis then
// holds what was found so far), when mapw fails, or, before anything was
// read past the header, with ErrNotCapture.
//
// Analyze finds in-band DTMF tones in G.711 audio and records them as
// digits.
func Analyze(r io.Reader, mapw io.Writer) (*Analysis, error) {
	return analyze(r, mapw, analyzeOpts{inband: true})
}

// analyzeOpts configure analyze.
type analyzeOpts struct {
	inband bool // find in-band DTMF
	// With hold, r is read through a tee into hold, and masking overwrites
	// hold's bytes before hold passes them on (all of them by the time
	// analyze returns, unless storing failed).
	hold *holdBuffer
	mask bool        // mask DTMF (needs hold)
	live *liveUpload // secure pauses of a live upload (needs hold)
	// chunkNote, with hold, is given what masking did up to the end of
	// each chunk of the stored original, before the bytes that end it are
	// passed on.
	chunkNote func(*recinfo.Masking)
	// heldLimit, when not zero, replaces maxHeldBytes (tests).
	heldLimit int64
	// inspect, when set, is called with the Demux and each packet's
	// capture offset once the hold buffer was given what it may let go
	// (tests).
	inspect func(d *Demux, off int64)
}

// analyze is Analyze with options.
func analyze(r io.Reader, mapw io.Writer, o analyzeOpts) (a *Analysis, err error) {
	src := &sourceReader{r: r}
	mw := &mapWriter{w: mapw}
	opt := DemuxOptions{Emit: mw.emit, InBand: o.inband || o.mask}
	hold := o.hold
	if hold != nil {
		opt.MaskDTMF, opt.Overwrite = o.mask, hold.overwrite
	}
	demux := NewDemux(opt)
	if hold != nil && o.chunkNote != nil {
		hold.onChunk = func(_ int64, received []byte) {
			if m := demux.masking(); m != nil {
				m.ReceivedHMAC = hex.EncodeToString(received)
				o.chunkNote(m)
			}
		}
	}
	live := o.live
	if hold == nil {
		live = nil
	}
	heldLimit := int64(maxHeldBytes)
	if o.heldLimit > 0 {
		heldLimit = o.heldLimit
	}
	a = &Analysis{}
	if hold != nil {
		defer func() {
			if a != nil {
				a.Masking = demux.masking()
			}
			if ferr := hold.flush(); ferr != nil && err == nil {
				err = ferr
			}
		}()
	}

	rd, err := capture.NewReader(src)
	if err != nil {
		if src.err != nil {
			return a, src.err
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			// Nothing, or less than a header: an empty upload.
			a.Result = demux.Result()
			a.Damage = "capture ends before its file header"
			return a, nil
		}
		return nil, fmt.Errorf("%w: %v", ErrNotCapture, err)
	}
	dec := capture.NewDecoder()
	for {
		p, err := rd.Next()
		if err != nil {
			switch {
			case src.err != nil:
				err = src.err
			case errors.Is(err, io.EOF):
				err = nil
			case errors.Is(err, capture.ErrTruncated):
				a.Truncated = true
				err = nil
			default:
				a.Damage = err.Error()
				// Keep reading so that every byte reaches the tee.
				if _, derr := io.Copy(io.Discard, src); derr != nil {
					err = derr
				} else {
					err = nil
				}
			}
			// The map is ended and written also when the capture was
			// cut off: its entries point at bytes the original keeps.
			if ferr := mw.close(); err == nil {
				err = ferr
			}
			a.Result = demux.Result()
			a.Spans = mw.enc.Index.Spans
			a.Entries = mw.enc.Index.Len()
			if err == nil && mw.err != nil {
				err = mw.err
			}
			return a, err
		}
		if hold != nil && hold.due(p.Off) {
			// Every byte before this packet is final unless masking may
			// still overwrite it, and masking holds back no more than
			// maxHeldBytes before it.
			pin := demux.Pin()
			if cut := p.Off - heldLimit; pin < cut {
				demux.ReleaseBefore(cut)
				pin = demux.Pin()
			}
			if err := hold.releaseAt(p.Off, min(pin, p.Off)); err != nil {
				a.Result = demux.Result()
				return a, err
			}
		}
		if o.inspect != nil {
			o.inspect(demux, p.Off)
		}
		dg, derr := dec.Decode(p)
		if derr != nil || dg == nil {
			continue
		}
		if live != nil {
			live.before(demux, p.Off)
		}
		demux.Datagram(dg)
		if live != nil {
			live.after(demux)
		}
		if mw.err != nil {
			a.Result = demux.Result()
			return a, mw.err
		}
	}
}

// mapWriter batches placement-map entries, encoded as a version 2 map,
// and keeps the map's index.
type mapWriter struct {
	w   io.Writer
	buf []byte
	enc codec.MapEncoder
	err error
}

const mapBatch = 256 * codec.EntrySize

func (m *mapWriter) emit(e codec.Entry, samples uint32) {
	if m.err != nil {
		return
	}
	if m.buf == nil {
		m.buf = make([]byte, 0, mapBatch)
	}
	m.buf = m.enc.Append(m.buf, e, samples)
	if len(m.buf) >= mapBatch {
		m.err = m.flush()
	}
}

// close ends the map (MapEncoder.Close) and writes what is left of it.
func (m *mapWriter) close() error {
	if m.err == nil {
		m.buf = m.enc.Close(m.buf)
	}
	return m.flush()
}

func (m *mapWriter) flush() error {
	if len(m.buf) == 0 {
		return m.err
	}
	_, err := m.w.Write(m.buf)
	m.buf = m.buf[:0]
	if err != nil && m.err == nil {
		m.err = err
	}
	return m.err
}

// peekCapture reports whether the first bytes of br look like pcap or pcapng.
func peekCapture(br *bufio.Reader) (bool, error) {
	b, err := br.Peek(4)
	if len(b) < 4 {
		if err == io.EOF || err == nil {
			return len(b) == 0, nil // empty body: accepted as an empty recording
		}
		return false, err
	}
	return capture.HasCaptureMagic(b), nil
}

// durationMs is the length of the longest call's window.
func (a *Analysis) durationMs() int64 {
	var d int64
	if a.Result == nil {
		return 0
	}
	for _, c := range a.Result.Calls {
		d = max(d, c.DurationMs)
	}
	return d
}

// startTime is the wall-clock start of the first call, or zero.
func (a *Analysis) startTime() time.Time {
	if a.Result == nil || len(a.Result.Calls) == 0 {
		return time.Time{}
	}
	t := a.Result.Calls[0].Start
	for _, c := range a.Result.Calls[1:] {
		if !c.Start.IsZero() && c.Start.Before(t) {
			t = c.Start
		}
	}
	return t
}
