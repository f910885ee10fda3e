package recorder

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/recinfo"
	"github.com/callvault/callvault/recorder/capture"
)

// packetEnds returns, for each packet of a capture, the offset after it
// and its capture time.
func packetEnds(t *testing.T, capt []byte) (ends []int, times []time.Time) {
	eachPacket(t, capt, func(p capture.Packet, _ *capture.Datagram) bool {
		ends = append(ends, int(p.Off)+len(p.Data))
		times = append(times, p.Time)
		return true
	})
	return ends, times
}

// liveRead returns how much of the live upload of guid was read, -1 when
// there is none.
func (r *Recorder) liveRead(guid string) int64 {
	r.liveMu.Lock()
	defer r.liveMu.Unlock()
	for l := range r.live {
		if l.guid == guid {
			return l.read()
		}
	}
	return -1
}

// TestSecurePause: a call streamed as it goes on is paused and resumed by
// its call GUID; the stored capture holds silence between pause and
// resume in both directions, with the marker tone at both ends, the rest
// is as sent, the in-band digits typed during the pause are not kept (the
// ones after it are), and the masking record lists the pause.
func TestSecurePause(t *testing.T) {
	c := makeDTMFCall(t)
	r, arc := openTestRecorder(t)
	ctx := context.Background()
	const guid = "f9e5956e47d460010630009033302ab1"
	name := guid + "-009033302ab1-11--desk.pcap"
	integ := &archive.User{Login: "crm", Role: archive.RoleIntegration}
	other := &archive.User{Login: "sales", Role: archive.RoleUser}

	if _, err := r.Pause(ctx, guid, integ, false); !errors.Is(err, ErrNoLiveCall) {
		t.Fatalf("pause before the upload: %v", err)
	}
	ends, times := packetEnds(t, c.pcap)
	pr, pw := io.Pipe()
	type result struct {
		rec *archive.Recording
		err error
	}
	done := make(chan result, 1)
	go func() {
		rec, err := r.ingest(ctx, name, pr, uploadKind{live: true})
		done <- result{rec, err}
	}()
	start := times[0]
	// send writes the capture up to the packets captured before at.
	sent := 0
	send := func(at time.Duration) {
		t.Helper()
		k := 0
		for k < len(times) && times[k].Before(start.Add(at)) {
			k++
		}
		if _, err := pw.Write(c.pcap[sent:ends[k-1]]); err != nil {
			t.Fatal(err)
		}
		sent = ends[k-1]
		// Wait until the upload has taken in what was sent, up to the
		// small read buffers in front of it, as a socket read would.
		for r.liveRead(guid) < int64(sent-1024) {
			time.Sleep(time.Millisecond)
		}
	}
	send(3900 * time.Millisecond)
	// The upload shows up as live once its analysis has begun.
	var id archive.ID
	var err error
	for {
		if id, err = r.Pause(ctx, guid, integ, false); !errors.Is(err, ErrNoLiveCall) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Pause(ctx, guid, integ, false); !errors.Is(err, ErrPauseState) {
		t.Fatalf("second pause: %v", err)
	}
	if _, err := r.Pause(ctx, guid, other, true); !errors.Is(err, ErrNoLiveCall) {
		t.Fatalf("resume by another user: %v", err)
	}
	send(5 * time.Second)
	if _, err := r.Pause(ctx, guid, &archive.User{Login: "desk", Role: archive.RoleUser}, true); err != nil {
		t.Fatalf("resume by the owner: %v", err)
	}
	send(13 * time.Second)
	pw.Close()
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	rec := res.rec
	if rec.ID != id {
		t.Fatalf("paused %s, stored %s", id, rec.ID)
	}
	in, err := recinfo.Parse(rec.Info)
	if err != nil {
		t.Fatal(err)
	}
	m := in.Masking
	if m == nil {
		t.Fatal("no masking record")
	}
	n := len(c.sent[0])
	audio, _ := storedPayloads(t, readBlob(t, arc, rec.ID, archive.BlobOriginal), n)
	for d := range 2 {
		var span *recinfo.MaskSpan
		for i, sp := range m.Spans {
			if sp.Reason == recinfo.MaskPause && in.Result.Streams[sp.Stream].SSRC == uint32(0x1000+d) {
				if span != nil {
					t.Fatalf("direction %d: two pause spans %+v", d, m.Spans)
				}
				span = &m.Spans[i]
			}
		}
		if span == nil {
			t.Fatalf("direction %d: no pause span in %+v", d, m.Spans)
		}
		origin := in.Result.Streams[span.Stream].FirstPos
		from, to := int(span.StartPos-origin), int(span.EndPos-origin)
		dtmf := make([]bool, n) // masked as DTMF typed in the pause: silence wins there
		for _, sp := range m.Spans {
			if sp.Reason == recinfo.MaskDTMF && sp.Stream == span.Stream {
				for p := int(sp.StartPos - origin); p < int(sp.EndPos-origin); p++ {
					dtmf[p] = true
				}
			}
		}
		markers := 0
		// The pause covers the time between the two requests, and not
		// much more (the margins err on the side of masking).
		if from > 3900*8 || from < 3700*8 || to < 5000*8 || to > 5000*8+pauseMargin+800 {
			t.Errorf("direction %d: pause [%d, %d) samples, requests at %d and %d", d, from, to, 3900*8, 5000*8)
		}
		marker := markerBytes(codec.PCMU)
		for p := 0; p < n; p++ {
			got := audio[d][p]
			switch {
			case p < from || p >= to:
				// A tone typed in the pause is masked to its end.
				if got != c.sent[d][p] && (!dtmf[p] || got != 0xFF) {
					t.Fatalf("direction %d: sample %d outside the pause changed", d, p)
				}
			case p < from+markerLen || p >= to-markerLen:
				if got == marker[(int(origin)+p)%8] {
					markers++
				} else if got != 0xFF || !dtmf[p] {
					t.Fatalf("direction %d: sample %d: %#x, want the marker", d, p, got)
				}
			default:
				if got != 0xFF {
					t.Fatalf("direction %d: sample %d in the pause: %#x", d, p, got)
				}
			}
		}
		if markers < markerLen+markerLen/4 {
			t.Errorf("direction %d: %d marker samples", d, markers)
		}
	}
	var digits string
	for _, dt := range in.Result.Calls[0].DTMF {
		if dt.InBand {
			digits += dt.Digit
		}
	}
	// Tones start every 160 ms from 4.0 s: those confirmed before the
	// resume's end of masking are not kept.
	if len(digits) == 0 || len(digits) >= len(c.inband) || c.inband[len(c.inband)-len(digits):] != digits {
		t.Errorf("digits kept %q of %q", digits, c.inband)
	}
	if _, err := r.Pause(ctx, guid, integ, false); !errors.Is(err, ErrNoLiveCall) {
		t.Fatalf("pause after the upload: %v", err)
	}
}

// TestSecurePauseLeftOpen: a pause never resumed ends with the call:
// everything after it is masked, with the marker only at its start.
func TestSecurePauseLeftOpen(t *testing.T) {
	c := makeDTMFCall(t)
	r, arc := openTestRecorder(t)
	ctx := context.Background()
	const guid = "f9e5956e47d460010630009033302ab2"
	ends, times := packetEnds(t, c.pcap)
	pr, pw := io.Pipe()
	done := make(chan *archive.Recording, 1)
	go func() {
		rec, err := r.ingest(ctx, guid+"-009033302ab1-11--desk.pcap", pr, uploadKind{live: true})
		if err != nil {
			t.Error(err)
		}
		done <- rec
	}()
	k := 0
	for times[k].Before(times[0].Add(2 * time.Second)) {
		k++
	}
	if _, err := pw.Write(c.pcap[:ends[k-1]]); err != nil {
		t.Fatal(err)
	}
	for r.liveRead(guid) < int64(ends[k-1]-1024) {
		time.Sleep(time.Millisecond)
	}
	if _, err := r.Pause(ctx, guid, &archive.User{Login: "crm", Role: archive.RoleIntegration}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write(c.pcap[ends[k-1]:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	rec := <-done
	if rec == nil {
		t.FailNow()
	}
	in, _ := recinfo.Parse(rec.Info)
	audio, codes := storedPayloads(t, readBlob(t, arc, rec.ID, archive.BlobOriginal), len(c.sent[0]))
	for _, code := range codes {
		if code != recinfo.MaskedEventCode {
			t.Fatalf("event codes in the pause: %v", codes)
		}
	}
	if len(in.Result.Calls[0].DTMF) != 0 {
		t.Errorf("digits kept in the pause: %+v", in.Result.Calls[0].DTMF)
	}
	pauses := 0
	for _, sp := range in.Masking.Spans {
		st := in.Result.Streams[sp.Stream]
		if sp.Reason != recinfo.MaskPause || st.SSRC > 0x1001 {
			continue
		}
		pauses++
		if sp.EndPos != st.EndPos {
			t.Errorf("stream %d: pause ends at %d, the stream at %d", sp.Stream, sp.EndPos, st.EndPos)
		}
		d, from := st.SSRC-0x1000, int(sp.StartPos-st.FirstPos)
		if from > 2*8000 || from < 2*8000-1600 {
			t.Errorf("stream %d: pause from %d", sp.Stream, from)
		}
		for p := from + markerLen; p < len(c.sent[0]); p++ {
			if audio[d][p] != 0xFF {
				t.Fatalf("direction %d: sample %d after the pause: %#x", d, p, audio[d][p])
			}
		}
	}
	if pauses != 2 {
		t.Errorf("%d pause spans on the audio streams: %+v", pauses, in.Masking.Spans)
	}
}
