package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
)

// startLifecycleDaemon is startDaemon that also reports the lifecycle
// job's runs.
func startLifecycleDaemon(t *testing.T, data string) (*daemon, <-chan archive.ExpireResult) {
	t.Helper()
	runs := make(chan archive.ExpireResult, 16)
	d := startDaemonWith(t, data, func(o *serveOptions) {
		o.lifecycleRan = func(r archive.ExpireResult) {
			select {
			case runs <- r:
			default:
			}
		}
	})
	return d, runs
}

// nextRunResult waits for the lifecycle job's next run.
func nextRunResult(t *testing.T, d *daemon, runs <-chan archive.ExpireResult) archive.ExpireResult {
	t.Helper()
	select {
	case r := <-runs:
		return r
	case <-time.After(2 * time.Minute):
		t.Fatalf("no lifecycle run\n%s", d.out)
	}
	return archive.ExpireResult{}
}

// TestLifecycleAtStart: with a retention of one day set through the API,
// a restart deletes the recording whose call is years old, keeps the
// protected one of the same age and the recent one, and says so in the
// log and the audit log.
func TestLifecycleAtStart(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	d, runs := startLifecycleDaemon(t, data)
	if r := nextRunResult(t, d, runs); r.Removed() != 0 || r.Ran.IsZero() {
		t.Fatalf("first run on an empty archive: %+v", r)
	}
	admin := "admin:" + testAdminPassword
	d.apiWant(t, admin, "POST", "/api/v1/users", map[string]any{
		"login": "alice", "password": "alice-password-1", "seat": true, "extensions": []string{"201"},
	}, 201)
	m := d.apiWant(t, admin, "PATCH", "/api/v1/settings", map[string]any{"retentionDays": 1}, 200)
	if m["retentionDays"] != float64(1) {
		t.Fatalf("settings: %v", m)
	}
	d.apiWant(t, admin, "PATCH", "/api/v1/settings", map[string]any{"retentionDays": 11001}, 400)

	old := time.Date(2019, 3, 1, 9, 0, 0, 0, time.UTC)
	call := func(n int, start time.Time) synthCall {
		return synthCall{seconds: 1, start: start, callID: fmt.Sprintf("life-%d@pbx", n),
			from: synthParty{"Åsa Øberg", "201"}, to: synthParty{"Jānis Bērziņš", "+37120000000"}}
	}
	expired := d.ingestSynth(t, "1111111111111111111111111111aaaa", "alice", call(1, old))
	held := d.ingestSynth(t, "2222222222222222222222222222aaaa", "alice", call(2, old.Add(time.Hour)))
	recent := d.ingestSynth(t, "3333333333333333333333333333aaaa", "alice", call(3, time.Now().Add(-time.Minute)))
	m = d.apiWant(t, admin, "PUT", "/api/v1/recordings/"+held+"/protect", nil, 200)
	if m["protected"] != true {
		t.Fatalf("protect: %v", m)
	}
	m = d.apiWant(t, admin, "GET", "/api/v1/recordings/"+expired, nil, 200)
	if s, _ := m["deletionDate"].(string); !strings.HasPrefix(s, "2019-03-03") {
		t.Fatalf("deletion date of the old recording: %v", m["deletionDate"])
	}

	d.stop()
	d, runs = startLifecycleDaemon(t, data)
	r := nextRunResult(t, d, runs)
	if r.Retention != 1 || r.Protected != 1 || r.Grace != 0 || r.Failed != 0 {
		t.Fatalf("run at start: %+v", r)
	}
	d.apiWant(t, admin, "GET", "/api/v1/recordings/"+expired, nil, 404)
	if m := d.apiWant(t, admin, "GET", "/api/v1/recordings/"+held, nil, 200); m["protected"] != true {
		t.Fatalf("held: %v", m)
	}
	d.apiWant(t, admin, "GET", "/api/v1/recordings/"+recent, nil, 200)

	// The log and the audit log say what happened; the settings show it;
	// the seal chain holds the tombstone and verifies.
	if out := d.out.String(); !strings.Contains(out, "lifecycle run") || !strings.Contains(out, "retention=1") ||
		!strings.Contains(out, "protected_kept=1") {
		t.Errorf("log lacks the run:\n%s", out)
	}
	m = d.apiWant(t, admin, "GET", "/api/v1/audit?action=lifecycle.run", nil, 200)
	evs, _ := m["events"].([]any)
	if len(evs) != 2 {
		t.Fatalf("audit: %v", m)
	}
	ev, _ := evs[0].(map[string]any)
	if ev["actor"] != archive.SystemActor || !strings.Contains(fmt.Sprint(ev["detail"]), "1 by retention") ||
		!strings.Contains(fmt.Sprint(ev["detail"]), "legal hold: 1") {
		t.Errorf("audit event: %v", ev)
	}
	m = d.apiWant(t, admin, "GET", "/api/v1/settings", nil, 200)
	if last, _ := m["lastExpire"].(map[string]any); last == nil || last["retention"] != float64(1) {
		t.Errorf("lastExpire: %v", m["lastExpire"])
	}
	m = d.apiWant(t, admin, "GET", "/api/v1/seal/verify", nil, 200)
	if m["valid"] != true || m["tombstones"] != float64(1) {
		t.Errorf("seal chain: %v", m)
	}
}

func TestNextRun(t *testing.T) {
	riga, err := time.LoadLocation("Europe/Riga")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		now  time.Time
		loc  *time.Location
		want string
	}{
		{time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC), time.UTC, "2026-11-22T00:05:00Z"},
		{time.Date(2026, 11, 21, 0, 4, 59, 0, time.UTC), time.UTC, "2026-11-21T00:05:00Z"},
		{time.Date(2026, 11, 21, 0, 5, 0, 0, time.UTC), time.UTC, "2026-11-22T00:05:00Z"},
		{time.Date(2026, 11, 21, 21, 0, 0, 0, time.UTC), riga, "2026-11-22T00:05:00+02:00"},  // 23:00 in Riga
		{time.Date(2026, 11, 21, 22, 30, 0, 0, time.UTC), riga, "2026-11-23T00:05:00+02:00"}, // 00:30 in Riga
		{time.Date(2026, 3, 28, 21, 0, 0, 0, time.UTC), riga, "2026-03-29T00:05:00+02:00"},   // the night summer time starts
		{time.Date(2026, 3, 29, 12, 0, 0, 0, time.UTC), riga, "2026-03-30T00:05:00+03:00"},
	} {
		if got := nextRun(c.now, c.loc).Format(time.RFC3339); got != c.want {
			t.Errorf("nextRun(%v, %v) = %s, want %s", c.now, c.loc, got, c.want)
		}
	}
}
