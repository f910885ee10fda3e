package recorder

import (
	"context"
	"io"
	"math"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/recinfo"
)

// ingestPaused streams capture pcap into r as a live upload of call guid,
// pausing it when the packets captured up to pauseAt (from the first)
// have been taken in and resuming it after those up to resumeAt.
func ingestPaused(t *testing.T, r *Recorder, pcap []byte, guid string, pauseAt, resumeAt time.Duration) *archive.Recording {
	t.Helper()
	ctx := context.Background()
	integ := &archive.User{Login: "crm", Role: archive.RoleIntegration}
	ends, times := packetEnds(t, pcap)
	pr, pw := io.Pipe()
	type result struct {
		rec *archive.Recording
		err error
	}
	done := make(chan result, 1)
	go func() {
		rec, err := r.ingest(ctx, guid+"-009033302ab1-11--desk.pcap", pr, uploadKind{live: true})
		done <- result{rec, err}
	}()
	sent := 0
	send := func(at time.Duration) {
		t.Helper()
		k := 0
		for k < len(times) && times[k].Before(times[0].Add(at)) {
			k++
		}
		if _, err := pw.Write(pcap[sent:ends[k-1]]); err != nil {
			t.Fatal(err)
		}
		sent = ends[k-1]
		for r.liveRead(guid) < int64(sent-1024) {
			time.Sleep(time.Millisecond)
		}
	}
	send(pauseAt)
	for {
		_, err := r.Pause(ctx, guid, integ, false)
		if err == nil {
			break
		}
		if err != ErrNoLiveCall {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	send(resumeAt)
	if _, err := r.Pause(ctx, guid, integ, true); err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write(pcap[sent:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	return res.rec
}

// pauseSpan returns the pause span of direction d (SSRC 0x1000+d) in the
// masking record of in, as positions from its stream's first [from, to),
// after checking that it runs from about pauseAt to resumeAt (plus the
// margin), and which of the stream's n positions DTMF masks cover: digits
// typed in the pause are masked beyond it by their guard.
func pauseSpan(t *testing.T, in *recinfo.Info, d, n int, pauseAt, resumeAt time.Duration) (from, to int, dtmf []bool) {
	t.Helper()
	var span *recinfo.MaskSpan
	for i, sp := range in.Masking.Spans {
		if sp.Reason == recinfo.MaskPause && in.Result.Streams[sp.Stream].SSRC == uint32(0x1000+d) {
			span = &in.Masking.Spans[i]
		}
	}
	if span == nil {
		t.Fatalf("direction %d: no pause span in %+v", d, in.Masking.Spans)
	}
	origin := int(in.Result.Streams[span.Stream].FirstPos)
	from, to = int(span.StartPos)-origin, int(span.EndPos)-origin
	at, until := int(pauseAt/time.Millisecond)*8, int(resumeAt/time.Millisecond)*8
	if from > at || from < at-1600 || to < until || to > until+pauseMargin+800 {
		t.Fatalf("direction %d: pause [%d, %d)", d, from, to)
	}
	dtmf = make([]bool, n)
	for _, sp := range in.Masking.Spans {
		if sp.Reason == recinfo.MaskDTMF && sp.Stream == span.Stream {
			for p := int(sp.StartPos) - origin; p < int(sp.EndPos)-origin && p < n; p++ {
				dtmf[p] = true
			}
		}
	}
	return from, to, dtmf
}

// tone1k fits a 1 kHz sine to pcm (rate samples a second) and returns its
// amplitude and its share of pcm's power.
func tone1k(pcm []int16, rate float64) (amp, share float64) {
	var ss, sc, total float64
	for i, v := range pcm {
		x := float64(v)
		w := 2 * math.Pi * 1000 * float64(i) / rate
		ss += x * math.Sin(w)
		sc += x * math.Cos(w)
		total += x * x
	}
	n := float64(len(pcm))
	amp = 2 * math.Hypot(ss, sc) / n
	if total == 0 {
		return 0, 0
	}
	return amp, amp * amp / 2 / (total / n)
}

// TestSecurePauseG722: a G.722 call paused while digits are typed: the
// stored stream of each direction, decoded, holds the 1 kHz marker at both
// boundaries of the pause and silence between, no tone of the digits in
// the pause, and outside the pause the octets sent.
func TestSecurePauseG722(t *testing.T) {
	c := makeG722DTMFCall(t)
	r, arc := openTestRecorder(t)
	rec := ingestPaused(t, r, c.pcap, "f9e5956e47d460010630009033302ab3", 4500*time.Millisecond, 6*time.Second)
	in, err := recinfo.Parse(rec.Info)
	if err != nil {
		t.Fatal(err)
	}
	n := len(c.sent[0])
	audio, _ := storedPayloads(t, readBlob(t, arc, rec.ID, archive.BlobOriginal), n)
	for d := range 2 {
		from, to, dtmf := pauseSpan(t, in, d, n, 4500*time.Millisecond, 6*time.Second)
		for p := range n {
			if (p < from || p >= to) && audio[d][p] != c.sent[d][p] && (!dtmf[p] || audio[d][p] != g722Silence) {
				t.Fatalf("direction %d: octet %d outside the pause changed", d, p)
			}
		}

		pcm := make([]int16, 2*n)
		codec.NewG722Decoder().Decode(pcm, audio[d])
		tone := codec.G722MarkerSettle + 40 // 5 ms into the marker's tone
		for _, m := range [][2]int{{from + tone, from + markerLen}, {to - markerLen + tone, to}} {
			amp, share := tone1k(pcm[2*m[0]:2*m[1]], 16000)
			t.Logf("direction %d: marker at %d: 1 kHz amplitude %.0f, %.3f of the power", d, m[0], amp, share)
			if share < 0.95 || amp < 1800 || amp > 2900 {
				t.Errorf("direction %d: marker at %d: 1 kHz amplitude %.0f, %.3f of the power", d, m[0], amp, share)
			}
		}
		// Between the markers, once the decoder has let go of the
		// first one: silence.
		peak := 0
		for _, v := range pcm[2*(from+markerLen+codec.G722MarkerSettle/2) : 2*(to-markerLen)] {
			peak = max(peak, int(v), -int(v))
		}
		if peak > 100 {
			t.Errorf("direction %d: the pause decodes with peaks of %d", d, peak)
		}
		// No digit in the pause (those after it are kept).
		for _, e := range g722Tones(t, audio[d]) {
			if e.end > int64(from) && e.start < int64(to) {
				t.Errorf("direction %d: tone %+v in the pause [%d, %d)", d, e, from, to)
			}
		}
	}
}
