package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/internal/webtest"
	"github.com/callvault/callvault/legs"
)

// addCallRec stores a finished recording of owner in call guid holding
// one call of 1 s (8000 samples) from start between from and to.
func addCallRec(t *testing.T, arc *archive.Archive, guid, owner string, start time.Time, sipID, from, to string) *archive.Recording {
	t.Helper()
	ctx := context.Background()
	w, err := arc.Create(ctx, archive.NewRecording{User: owner, FileName: guid + ".pcap", CallGUID: guid, Received: start})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteOriginal([]byte("capture")); err != nil {
		t.Fatal(err)
	}
	call := map[string]any{"index": 0, "callId": sipID, "from": map[string]string{"number": from}, "to": map[string]string{"number": to},
		"startPos": 0, "endPos": 8000, "start": start, "durationMs": 1000}
	info, _ := json.Marshal(map[string]any{"version": 1, "result": map[string]any{"origin": start, "calls": []any{call}}})
	rec, err := w.Finish(ctx, archive.Final{State: archive.StateComplete, StartTime: start, DurationMs: 1000, Info: info})
	if err != nil {
		t.Fatal(err)
	}
	if err := arc.Seal(ctx, rec.ID, nil); err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestLegAudioKeepsHold: the leg's WAV is its two 1 s segments with the
// 2.5 s hold between them as silence, audited as one play of the dialog;
// the JSON names both segments; and media that cannot hand out segments
// answers 501 rather than a WAV without the hold.
func TestLegAudioKeepsHold(t *testing.T) {
	e := newPlayEnv(t)
	e.api.SetLegs(legs.Options{Country: "46"})
	const guid = "2e9e0000000000000000000000000001"
	t0 := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	a := addCallRec(t, e.arc, guid, "alice", t0, "s1@pbx", "+46701234567", "201")
	b := addCallRec(t, e.arc, guid, "alice", t0.Add(3500*time.Millisecond), "s2@pbx", "0701234567", "201")
	addCallRec(t, e.arc, guid, "bob", t0, "s3@pbx", "+46701234567", "202")
	leg := "/api/v1/legs/" + url.PathEscape(guid+":201:0046701234567:"+strconv.FormatInt(t0.Add(time.Second).UnixMilli(), 10))

	e.api.media = webtest.SilentMedia{Frames: 8000}
	resp, body, err := e.get("alice", leg)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("leg: %v %v %s", resp.Status, err, body)
	}
	var v legView
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Segments) != 2 || v.Segments[0].RecordingID != a.ID.String() || v.Segments[1].RecordingID != b.ID.String() ||
		v.DurationMs != 4500 || v.DistanceMs != 1000 || len(v.Candidates) != 1 || !v.Candidates[0].Chosen {
		t.Fatalf("leg %s", body)
	}
	resp, wav, err := e.get("alice", v.Audio)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("leg audio: %v %v %.200s", resp.Status, err, wav)
	}
	if want := codec.WAVHeaderSize + (8000+20000+8000)*4; len(wav) != want {
		t.Fatalf("leg audio: %d bytes, want %d (two seconds of calls and 2.5 s of hold, stereo)", len(wav), want)
	}
	plays := e.audited(actionPlay)
	if len(plays) != 1 || plays[0].Target != guid || !strings.Contains(plays[0].Detail, a.ID.String()) || !strings.Contains(plays[0].Detail, b.ID.String()) {
		t.Fatalf("plays %+v", plays)
	}
	// bob's recording of the dialog is not alice's to read: for her it
	// is as if absent, and bob's own leg is his.
	e.wantStatus("alice", "/api/v1/legs/"+url.PathEscape(guid+":202:+46701234567:"+strconv.FormatInt(t0.UnixMilli(), 10)), http.StatusNotFound, "no such leg")
	e.wantStatus("bob", "/api/v1/legs/"+url.PathEscape(guid+":202:+46701234567:"+strconv.FormatInt(t0.UnixMilli(), 10)), http.StatusOK, `"recordingId"`)
	e.wantStatus("bob", leg, http.StatusNotFound, "no such leg")

	e.api.media = onlyWAV{}
	e.wantStatus("alice", v.Audio, http.StatusNotImplemented, "not available")
}

// onlyWAV is media without segments.
type onlyWAV struct{}

func (onlyWAV) WAV(ctx context.Context, recs []*archive.Recording, call int, opt codec.WAVOptions) (*codec.WAVReader, error) {
	return webtest.SilentMedia{}.WAV(ctx, recs, call, opt)
}

func (onlyWAV) Exports(context.Context, *archive.Recording) ([][32]byte, error) { return nil, nil }
