package main

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// legView is the part of GET /api/v1/legs/{legId} the tests read.
type legView struct {
	LegID    string `json:"legId"`
	Start    time.Time
	End      time.Time
	Audio    string `json:"audio"`
	Segments []struct {
		RecordingID string    `json:"recordingId"`
		Call        int       `json:"call"`
		Start       time.Time `json:"start"`
		End         time.Time `json:"end"`
		DurationMs  int64     `json:"durationMs"`
	} `json:"segments"`
	Candidates []struct {
		Start      time.Time `json:"start"`
		DistanceMs int64     `json:"distanceMs"`
		Segments   int       `json:"segments"`
		Chosen     bool      `json:"chosen"`
	} `json:"candidates"`
	Error string `json:"error"`
}

func legPath(dialog, agent, ani string, at time.Time) string {
	return "/api/v1/legs/" + url.PathEscape(dialog+":"+agent+":"+ani+":"+strconv.FormatInt(at.UnixMilli(), 10))
}

// TestLegLookup: a contact centre's leg id finds the agent's and caller's
// segments of a call across a hold, chooses the leg closest to its time,
// answers 404 beyond the configured distance, and serves one WAV of the
// segments with the hold kept as silence.
func TestLegLookup(t *testing.T) {
	cfg := writeConfig(t, "[legs]\ncountry_code = \"46\"\n")
	d := startDaemonWith(t, "", func(o *serveOptions) { o.config = cfg })
	const guid = "1e9e0000000000000000000000000001"
	t0 := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	caller := synthParty{"Caller", "+46701234567"}
	agent := synthParty{"Alice", "201"}
	// The first leg: 3 s, on hold for about 2 s, 2 s more (the caller's
	// number now written nationally, as another PBX leg may have it).
	segA := d.ingestSynth(t, guid, "alice", synthCall{seconds: 3, start: t0, callID: "leg-a@pbx", from: caller, to: agent})
	segB := d.ingestSynth(t, guid, "alice", synthCall{seconds: 2, start: t0.Add(5 * time.Second), callID: "leg-b@pbx",
		from: synthParty{"Caller", "0701234567"}, to: agent})
	// The same agent and caller again ten minutes later: a second leg.
	segC := d.ingestSynth(t, guid, "alice", synthCall{seconds: 2, start: t0.Add(10 * time.Minute), callID: "leg-c@pbx", from: caller, to: agent})
	// Another agent and another caller in the same dialog.
	d.ingestSynth(t, guid, "bob", synthCall{seconds: 2, start: t0.Add(time.Second), callID: "leg-d@pbx", from: caller, to: synthParty{"Bob", "202"}})
	d.ingestSynth(t, guid, "alice", synthCall{seconds: 2, start: t0.Add(7 * time.Second), callID: "leg-e@pbx", from: synthParty{"Other", "0046709999999"}, to: agent})

	var leg legView
	d.getJSON(t, legPath(guid, "201", "0046701234567", t0.Add(1500*time.Millisecond)), &leg)
	if len(leg.Segments) != 2 || leg.Segments[0].RecordingID != segA || leg.Segments[1].RecordingID != segB {
		t.Fatalf("segments %+v, want %s then %s", leg.Segments, segA, segB)
	}
	if len(leg.Candidates) != 2 || !leg.Candidates[0].Chosen || leg.Candidates[0].Segments != 2 || leg.Candidates[1].Chosen {
		t.Fatalf("candidates %+v", leg.Candidates)
	}
	if d := leg.Candidates[1].Start.Sub(t0); d < 10*time.Minute || d > 10*time.Minute+time.Second {
		t.Errorf("second candidate starts %v after t0", d)
	}
	gap := leg.Segments[1].Start.Sub(leg.Segments[0].End)
	if gap < 1500*time.Millisecond || gap > 2500*time.Millisecond {
		t.Fatalf("hold gap %v, want about 2 s (segments %+v)", gap, leg.Segments)
	}

	// The WAV: segment A, the gap as silence, segment B.
	_, wa := d.get(t, "/api/v1/recordings/"+segA+"/audio.wav")
	_, wb := d.get(t, "/api/v1/recordings/"+segB+"/audio.wav")
	resp, wl := d.get(t, leg.Audio)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/wav" {
		t.Fatalf("leg audio: %s %.200s", resp.Status, wl)
	}
	a, b, l := wavSamples(t, wa), wavSamples(t, wb), wavSamples(t, wl)
	gapSamples := int(gap * 8000 / time.Second)
	for c := range 2 {
		na, nb := len(a[c]), len(b[c])
		if len(l[c]) != na+gapSamples+nb {
			t.Fatalf("channel %d: %d samples, want %d + %d + %d", c, len(l[c]), na, gapSamples, nb)
		}
		if !slices.Equal(l[c][:na], a[c]) || !slices.Equal(l[c][na+gapSamples:], b[c]) {
			t.Fatalf("channel %d: the segments' audio differs from their recordings'", c)
		}
		if slices.ContainsFunc(l[c][na:na+gapSamples], func(v int16) bool { return v != 0 }) {
			t.Fatalf("channel %d: the hold is not silent", c)
		}
		if !slices.ContainsFunc(l[c][:na], func(v int16) bool { return v != 0 }) {
			t.Fatalf("channel %d: the first segment is silent", c)
		}
	}
	if want := leg.Segments[1].End.Sub(leg.Segments[0].Start); len(l[0]) < int(want*8000/time.Second)-2 || len(l[0]) > int(want*8000/time.Second)+2 {
		t.Errorf("leg audio lasts %d samples, the leg %v", len(l[0]), want)
	}

	// The closest start wins: 8 s after the second leg's start, in ISO 8601.
	d.getJSON(t, "/api/v1/legs/"+url.PathEscape(guid+":alice:+46 70 123 45 67:"+t0.Add(10*time.Minute+8*time.Second).Format(time.RFC3339)), &leg)
	if len(leg.Segments) != 1 || leg.Segments[0].RecordingID != segC || !leg.Candidates[1].Chosen {
		t.Fatalf("near the second leg: %+v", leg)
	}

	// Beyond 10 s of every leg: 404 naming the distance, with the candidates.
	resp, body := d.get(t, legPath(guid, "201", "0701234567", t0.Add(5*time.Minute)))
	var miss legView
	_ = json.Unmarshal(body, &miss)
	if resp.StatusCode != 404 || !strings.Contains(miss.Error, "within 10s") || len(miss.Candidates) != 2 {
		t.Fatalf("out of range: %s %s", resp.Status, body)
	}
	if resp, body := d.get(t, legPath(guid, "201", "0701234567", t0.Add(5*time.Minute))+"/audio.wav"); resp.StatusCode != 404 {
		t.Fatalf("out of range audio: %s %.200s", resp.Status, body)
	}
	// An unknown dialog, and a leg id that does not parse.
	if resp, _ := d.get(t, legPath("ffff0000000000000000000000000009", "201", "", t0)); resp.StatusCode != 404 {
		t.Errorf("unknown dialog: %s", resp.Status)
	}
	if resp, body := d.get(t, "/api/v1/legs/"+guid+":201"); resp.StatusCode != 400 || !strings.Contains(string(body), "legStartTime") {
		t.Errorf("bad leg id: %s %s", resp.Status, body)
	}

	// A SIP Call-ID names the dialog too: only that SIP dialog's call.
	d.getJSON(t, legPath("leg-b@pbx", "201", "+46701234567", t0.Add(5*time.Second)), &leg)
	if len(leg.Segments) != 1 || leg.Segments[0].RecordingID != segB {
		t.Fatalf("by SIP Call-ID: %+v", leg)
	}

	// The leg's audio is audited as a play of the dialog.
	var audit struct {
		Events []struct{ Target, Detail string }
	}
	d.getJSON(t, "/api/v1/audit?action=play", &audit)
	found := false
	for _, e := range audit.Events {
		found = found || (e.Target == guid && strings.Contains(e.Detail, segA) && strings.Contains(e.Detail, segB))
	}
	if !found {
		t.Errorf("no play of the leg in the audit log: %+v", audit.Events)
	}
}

// TestLegsConfig: the [legs] keys are checked.
func TestLegsConfig(t *testing.T) {
	for text, key := range map[string]string{
		"[legs]\ncountry_code = \"+46\"\n": "legs.country_code",
		"[legs]\ncountry_code = \"0\"\n":   "legs.country_code",
		"[legs]\nmax_distance = \"0s\"\n":  "legs.max_distance",
		"[legs]\nhold_gap = \"2h\"\n":      "legs.hold_gap",
	} {
		_, err := loadConfig(writeConfig(t, text))
		if err == nil || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), ":2:") {
			t.Errorf("%q: %v", text, err)
		}
	}
	cfg, err := loadConfig(writeConfig(t, "[legs]\ncountry_code = \"46\"\nmax_distance = \"30s\"\n"))
	if err != nil || cfg.Legs.options().Country != "46" || cfg.Legs.MaxDistance.Duration != 30*time.Second || cfg.Legs.HoldGap.Duration != 2*time.Minute {
		t.Errorf("legs config %+v, %v", cfg.Legs, err)
	}
}

// decodeLeg reads a leg's JSON.
func decodeLeg(t *testing.T, body []byte) legView {
	t.Helper()
	var v legView
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("leg JSON: %v: %.300s", err, body)
	}
	return v
}
