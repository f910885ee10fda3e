package main

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/callvault/callvault/recorder/capture"
)

// streamedUpload is a PUT without a length whose body the test writes as
// it likes, as a phone streams a call.
type streamedUpload struct {
	pw   *io.PipeWriter
	done chan *http.Response
}

func (d *daemon) startStream(t *testing.T, name string) *streamedUpload {
	t.Helper()
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPut, d.url+"/recordings/Files/"+name, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("ingest", testIngestPassword)
	s := &streamedUpload{pw: pw, done: make(chan *http.Response, 1)}
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			pr.CloseWithError(err)
			s.done <- nil
			return
		}
		resp.Body.Close()
		s.done <- resp
	}()
	t.Cleanup(func() { pw.CloseWithError(io.ErrClosedPipe) })
	return s
}

// corpusCapture returns the capture of a generated corpus case.
func corpusCapture(t *testing.T, c string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpusDir(t), "generated", c, "capture.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// captureCuts returns the offset after each packet of a capture and the
// packet's capture time.
func captureCuts(t *testing.T, b []byte) (ends []int, times []time.Time) {
	t.Helper()
	rd, err := capture.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	for {
		p, err := rd.Next()
		if err != nil {
			return ends, times
		}
		ends = append(ends, int(p.Off)+len(p.Data))
		times = append(times, p.Time)
	}
}

// TestSecurePauseEndToEnd: a call streamed slowly to the daemon is paused
// by an integration token and resumed by the agent who owns it, by the
// call GUID of the upload's name; the stored capture and the WAV are
// silent between pause and resume, with a marker tone at each end, the
// rest is as sent, both are audited, and the recording's page and API
// show the pause.
func TestSecurePauseEndToEnd(t *testing.T) {
	corpus := corpusDir(t)
	upload, err := os.ReadFile(filepath.Join(corpus, "generated", "pcmu_bidir", "capture.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "")
	admin := "admin:" + testAdminPassword
	pbx, _ := d.integrationToken(t)
	const erinPW = "pw-erin-0123456789"
	d.apiWant(t, admin, "POST", "/api/v1/users", map[string]any{"login": "erin", "role": "user", "password": erinPW}, http.StatusCreated)
	const guid = "0000000000000000000000000000beef"
	ends, times := captureCuts(t, upload)
	s := d.startStream(t, guid+"-009033302ab1-1--erin.pcap")
	sent := 0
	// sendUntil writes the packets captured before at (from the first),
	// and waits until the daemon has taken them in: what it stored is
	// behind by the little it holds back for masking.
	sendUntil := func(at time.Duration) {
		t.Helper()
		k := 0
		for k < len(times) && times[k].Before(times[0].Add(at)) {
			k++
		}
		if _, err := s.pw.Write(upload[sent:ends[k-1]]); err != nil {
			t.Fatal(err)
		}
		sent = ends[k-1]
		waitMetricAtLeast(t, d.url, "callvault_ingest_bytes_total", float64(sent-16<<10))
	}
	sendUntil(5 * time.Second)
	if code, m := d.apiCall(t, "erin:wrong-password-123", "POST", "/api/v1/calls/"+guid+"/pause", nil); code != http.StatusUnauthorized {
		t.Fatalf("pause with a wrong password: %d %v", code, m)
	}
	d.apiWant(t, admin, "POST", "/api/v1/calls/"+guid+"/pause", nil, http.StatusNotFound) // not the admin's call
	m := d.apiWant(t, pbx, "POST", "/api/v1/calls/"+guid+"/pause", nil, http.StatusOK)
	id, _ := m["recordingId"].(string)
	if m["paused"] != true || id == "" {
		t.Fatalf("pause: %v", m)
	}
	d.apiWant(t, pbx, "POST", "/api/v1/calls/"+guid+"/pause", nil, http.StatusConflict)
	sendUntil(9 * time.Second)
	d.apiWant(t, "erin:"+erinPW, "POST", "/api/v1/calls/"+guid+"/resume", nil, http.StatusOK)
	sendUntil(time.Hour)
	s.pw.Close()
	if resp := <-s.done; resp == nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %v", resp)
	}
	d.apiWant(t, pbx, "POST", "/api/v1/calls/"+guid+"/resume", nil, http.StatusNotFound) // the call has ended

	var rec struct {
		Streams []struct {
			FirstPos uint32 `json:"firstPos"`
		} `json:"streams"`
		Masking *struct {
			Spans []struct {
				Stream           int
				StartPos, EndPos uint32
				Reason           string
			} `json:"spans"`
		} `json:"masking"`
	}
	d.getJSON(t, "/api/v1/recordings/"+id, &rec)
	if rec.Masking == nil || len(rec.Masking.Spans) != 2 || len(rec.Streams) != 2 {
		t.Fatalf("masking %+v, streams %+v", rec.Masking, rec.Streams)
	}
	start := uint32(math.MaxUint32)
	for _, st := range rec.Streams {
		start = min(start, st.FirstPos)
	}
	sp := rec.Masking.Spans[0]
	from, to := int(sp.StartPos-start), int(sp.EndPos-start)
	// Positions in 8 kHz samples from the call's first packet.
	if sp.Reason != "pause" || from < 4*8000 || from > 5*8000 || to < 9*8000 || to > 10*8000 {
		t.Fatalf("pause span [%d, %d) samples, requests at %d and %d: %+v", from, to, 5*8000, 9*8000, rec.Masking.Spans)
	}

	_, wav := d.get(t, "/api/v1/recordings/"+id+"/audio.wav")
	const marker = 480
	for ch, pcm := range wavSamples(t, wav) {
		for i := from + marker; i < to-marker; i++ {
			if pcm[i] != 0 {
				t.Fatalf("channel %d: sample %d in the pause is %d", ch, i, pcm[i])
			}
		}
		for _, at := range []int{from, to - marker} {
			var e float64
			for _, v := range pcm[at : at+marker] {
				e += float64(v) * float64(v)
			}
			if rms := math.Sqrt(e / marker); rms < 1000 || rms > 3000 {
				t.Errorf("channel %d: marker at %d: rms %.0f", ch, at, rms)
			}
		}
		if rms := rmsOf(pcm[:from]); rms < 100 {
			t.Errorf("channel %d: no speech before the pause (rms %.0f)", ch, rms)
		}
	}
	_, orig := d.get(t, "/api/v1/recordings/"+id+"/original.pcap")
	changed := 0
	for i := range orig {
		if orig[i] != upload[i] {
			changed++
		}
	}
	if len(orig) != len(upload) || changed < (to-from) || changed > 2*(to-from) {
		t.Fatalf("stored %d bytes of %d, %d changed for a pause of %d samples", len(orig), len(upload), changed, to-from)
	}
	for _, action := range []string{"call.pause", "call.resume"} {
		evs := d.auditEntries(t, action)
		if len(evs) != 1 || evs[0]["target"] != id {
			t.Errorf("%s: %v", action, evs)
		}
	}
	ui := d.uiLogin(t, "erin", erinPW)
	_, page := ui.get(t, "/recordings/"+id)
	if !bytes.Contains(page, []byte("1 secure pause(s)")) || !bytes.Contains(page, []byte("Paused: 0:0")) {
		t.Errorf("the recording's page does not show the pause")
	}
}

func rmsOf(pcm []int16) float64 {
	var e float64
	for _, v := range pcm {
		e += float64(v) * float64(v)
	}
	return math.Sqrt(e / float64(max(1, len(pcm))))
}
