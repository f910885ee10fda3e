package share

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
)

// addRecordings adds n finished, sealed recordings of alice.
func (e *env) addRecordings(n int) []*archive.Recording {
	e.t.Helper()
	ctx := context.Background()
	var out []*archive.Recording
	for i := range n {
		w, err := e.arc.Create(ctx, archive.NewRecording{User: "alice", CallGUID: "bench", Received: testNow.Add(-time.Duration(i+10) * time.Minute)})
		if err != nil {
			e.t.Fatal(err)
		}
		if _, err := w.WriteOriginal([]byte("capture")); err != nil {
			e.t.Fatal(err)
		}
		rec, err := w.Finish(ctx, archive.Final{State: archive.StateComplete, DurationMs: 600000,
			Info: []byte(`{"version":1,"result":{"calls":[{"index":0}]}}`)})
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}

// BenchmarkSend40x10min: Send of 40 recordings of 10 minutes each, from
// the call to the link mail queued (the copies rendered, sealed and
// committed to share.db). Run with -benchtime=1x: each op writes 770 MB.
func BenchmarkSend40x10min(b *testing.B) {
	e := newEnv(b, Options{})
	e.svc.media = sizedMedia{samples: 8000 * 600}
	recs := e.addRecordings(MaxRecordings)
	b.ResetTimer()
	for b.Loop() {
		g := e.send(e.request(recipEmail, 7, recs...))
		b.StopTimer()
		if err := e.svc.Cancel(context.Background(), e.users["admin"], "", g.ID); err != nil {
			b.Fatal(err)
		}
		e.deliver()
		b.StartTimer()
	}
	b.ReportMetric(float64(MaxRecordings*(8000*600*4+44))/1e6, "MB/op")
}

// BenchmarkFirstAudioByte: a logged-in recipient's request for a
// 10-minute recording, to its first byte (a Range request in the middle,
// as a player seeking does).
func BenchmarkFirstAudioByte(b *testing.B) {
	e := newEnv(b, Options{})
	e.svc.media = sizedMedia{samples: 8000 * 600}
	recs := e.addRecordings(1)
	e.send(e.request(recipEmail, 7, recs...))
	v := e.visitor(e.linkOf(e.deliver()[0]))
	v.login()
	url := v.base + "/audio/" + recs[0].ID.String()
	for b.Loop() {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Range", "bytes=9600000-")
		resp, err := v.c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var one [1]byte
		if _, err := io.ReadFull(resp.Body, one[:]); err != nil || resp.StatusCode != http.StatusPartialContent {
			b.Fatal(resp.StatusCode, err)
		}
		resp.Body.Close()
	}
}
