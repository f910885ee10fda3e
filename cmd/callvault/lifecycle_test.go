package main

import (
	"fmt"
	"os"
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

// TestLifecycleAtStart: the lifecycle counts on the appliance's own
// clock. A capture whose packets say 2002, uploaded under a name no user
// has, is kept across a restart (the seat grace counts from its receipt)
// and never shows a deletion day from 2002; saving a retention of one day
// through the API deletes nothing received today, also at a restart. A
// capture imported into the stopped data directory with --keep-call-time
// counts from its call: the import says it will go, the run at start
// deletes exactly it, and the audit log names it.
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
	call := func(n int, start time.Time) synthCall {
		return synthCall{seconds: 1, start: start, callID: fmt.Sprintf("life-%d@pbx", n),
			from: synthParty{"Åsa Øberg", "201"}, to: synthParty{"Jānis Bērziņš", "+37120000000"}}
	}
	old := time.Date(2002, 7, 26, 14, 0, 0, 0, time.UTC)
	nobody := d.ingestSynth(t, "0123456789abcdef0123456789abcdef", "nobody", call(1, old))
	mine := d.ingestSynth(t, "2222222222222222222222222222aaaa", "alice", call(2, old.Add(time.Hour)))
	m := d.apiWant(t, admin, "GET", "/api/v1/recordings/"+nobody, nil, 200)
	received, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(m["received"]))
	deletion, err := time.Parse(time.RFC3339Nano, fmt.Sprint(m["deletionDate"]))
	if err != nil || received.IsZero() || deletion.Before(received.AddDate(0, 0, archive.SeatGraceDays-1)) {
		t.Fatalf("deletion date %v of a capture received %v", m["deletionDate"], m["received"])
	}
	m = d.apiWant(t, admin, "PATCH", "/api/v1/settings", map[string]any{"retentionDays": 1}, 200)
	if m["retentionDays"] != float64(1) {
		t.Fatalf("settings: %v", m)
	}
	d.apiWant(t, admin, "PATCH", "/api/v1/settings", map[string]any{"retentionDays": 11001}, 400)

	d.stop()
	d, runs = startLifecycleDaemon(t, data)
	if r := nextRunResult(t, d, runs); r.Removed() != 0 {
		t.Fatalf("run at the restart: %+v", r)
	}
	d.apiWant(t, admin, "GET", "/api/v1/recordings/"+nobody, nil, 200)
	d.apiWant(t, admin, "GET", "/api/v1/recordings/"+mine, nil, 200)
	d.stop()

	// An import that keeps the call's time: retention 1 day deletes it.
	in := t.TempDir()
	name := "3333333333333333333333333333aaaa-009033302ab1-11--alice.pcap"
	if err := os.WriteFile(filepath.Join(in, name), synthPcap(call(3, time.Date(2019, 3, 1, 9, 0, 0, 0, time.UTC))), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	if err := run(t.Context(), []string{"import", "--data", data, "--key-file", d.key, "--keep-call-time", in}, &stdout, &stderr); err != nil {
		t.Fatalf("import: %v\n%s", err, stderr.String())
	}
	if out := stdout.String(); !strings.Contains(out, "with retention 1 days, calls before") ||
		!strings.Contains(out, "import: 1 of the imported recordings are past their retention") ||
		!strings.Contains(stderr.String(), "deleted at the next lifecycle run (retention 1 days, call of 2019-03-01)") {
		t.Fatalf("import output:\n%s\n%s", out, stderr.String())
	}
	d, runs = startLifecycleDaemon(t, data)
	r := nextRunResult(t, d, runs)
	if r.Retention != 1 || r.Grace != 0 || r.Failed != 0 {
		t.Fatalf("run at start: %+v", r)
	}
	d.apiWant(t, admin, "GET", "/api/v1/recordings/"+nobody, nil, 200)
	d.apiWant(t, admin, "GET", "/api/v1/recordings/"+mine, nil, 200)

	// The log and the audit log say what happened, naming the recording;
	// the settings show it; the seal chain holds the tombstone.
	if out := d.out.String(); !strings.Contains(out, "lifecycle run") || !strings.Contains(out, "retention=1") {
		t.Errorf("log lacks the run:\n%s", out)
	}
	m = d.apiWant(t, admin, "GET", "/api/v1/audit?action=lifecycle.delete", nil, 200)
	evs, _ := m["events"].([]any)
	if len(evs) != 1 {
		t.Fatalf("audit: %v", m)
	}
	ev, _ := evs[0].(map[string]any)
	target, _ := ev["target"].(string)
	if ev["actor"] != archive.SystemActor || !strings.Contains(fmt.Sprint(ev["detail"]), "retention") || target == "" {
		t.Errorf("audit event: %v", ev)
	}
	d.apiWant(t, admin, "GET", "/api/v1/recordings/"+target, nil, 404)
	m = d.apiWant(t, admin, "GET", "/api/v1/audit?action=lifecycle.run", nil, 200)
	if evs, _ := m["events"].([]any); len(evs) != 3 {
		t.Errorf("lifecycle.run entries: %v", m)
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
