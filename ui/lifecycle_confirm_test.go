package ui

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
)

// plainJar keeps cookies without looking at their expiry, which the
// archive's test clock sets (net/http/cookiejar compares it with the wall
// clock).
type plainJar struct {
	mu sync.Mutex
	c  map[string]*http.Cookie
}

func (j *plainJar) SetCookies(_ *url.URL, cs []*http.Cookie) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, c := range cs {
		if c.MaxAge < 0 {
			delete(j.c, c.Name)
		} else {
			j.c[c.Name] = c
		}
	}
}

func (j *plainJar) Cookies(*url.URL) []*http.Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []*http.Cookie
	for _, c := range j.c {
		out = append(out, &http.Cookie{Name: c.Name, Value: c.Value})
	}
	return out
}

// loginAt logs login in with a plainJar client.
func (tu *testUI) loginAt(login string) *client {
	tu.t.Helper()
	c := tu.client()
	c.c.Jar = &plainJar{c: map[string]*http.Cookie{}}
	resp, body := c.post("/login", url.Values{"login": {login}, "password": {testPassword}})
	if resp.StatusCode != http.StatusSeeOther {
		tu.t.Fatalf("login %s: %s\n%s", login, resp.Status, body)
	}
	return c
}

// TestAPISettingsConfirmDeletion: a retention change that deletes
// recordings is refused with their number until it is confirmed; the
// preview counts as the run does; the run then writes one audit entry per
// recording it deletes.
func TestAPISettingsConfirmDeletion(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	e := newAPIEnvOn(t, archivetest.OpenTestOptions(t, archive.Options{Now: func() time.Time { return now }}))
	// The fixture's three recordings were received on 2026-01-02: alice
	// has no seat and zed is no user (both already due by the seat
	// grace); carol's seat keeps hers.
	e.patchUser("carol", map[string]any{"seat": true})
	var pv archive.ExpirePreview
	if err := json.Unmarshal([]byte(e.want("admin", "POST", "/api/v1/settings/preview", `{"retentionDays": 30}`, 200)), &pv); err != nil {
		t.Fatal(err)
	}
	if pv != (archive.ExpirePreview{WouldDelete: 1, Retention: 3}) {
		t.Errorf("preview %+v", pv)
	}
	e.want("alice", "POST", "/api/v1/settings/preview", `{"retentionDays": 30}`, 403)
	e.want("admin", "POST", "/api/v1/settings/preview", `{"retentionDays": 11001}`, 400)
	e.want("admin", "PATCH", "/api/v1/settings", `{"retentionDays": 30}`, 409, `"wouldDelete": 1`, "deletes 1 recording")
	e.want("admin", "PATCH", "/api/v1/settings", `{"retentionDays": 30, "confirmDeletion": 0}`, 409)
	if s, _ := e.arc.Settings(context.Background()); s.RetentionDays != 0 {
		t.Fatalf("a refused change was saved: %+v", s)
	}
	e.want("admin", "PATCH", "/api/v1/settings", `{"pbxName": "PBX 1"}`, 200) // no lifecycle change
	e.want("admin", "PATCH", "/api/v1/settings", `{"retentionDays": 30, "confirmDeletion": 1}`, 200, `"retentionDays": 30`)
	if evs := e.audited("settings.change"); len(evs) == 0 || !strings.Contains(evs[0].Detail, "confirmed") {
		t.Errorf("settings audit: %+v", evs)
	}
	res, err := e.arc.Expire(context.Background())
	if err != nil || res.Retention != 3 {
		t.Fatalf("run: %+v, %v", res, err)
	}
	var targets []string
	for _, ev := range e.audited(archive.AuditLifecycleDelete) {
		targets = append(targets, ev.Target)
		if ev.Actor != archive.SystemActor || !strings.Contains(ev.Detail, "retention") {
			t.Errorf("audit entry %+v", ev)
		}
	}
	var want []string
	for _, r := range e.recs {
		want = append(want, r.ID.String())
	}
	slices.Sort(targets)
	slices.Sort(want)
	if !slices.Equal(targets, want) {
		t.Errorf("lifecycle.delete entries for %v, want %v", targets, want)
	}
}

// TestSettingsPageConfirmDeletion: the settings page shows how many
// recordings a new retention deletes and saves only when the admin
// confirms; a recording's deletion day is never in the past and reads as
// a future, automatic deletion.
func TestSettingsPageConfirmDeletion(t *testing.T) {
	tu := newTestUIAt(t, time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC))
	ctx := context.Background()
	if err := tu.arc.PutUser(ctx, archive.User{Login: "alice", Name: "Åsa Øberg", Role: archive.RoleUser,
		Extensions: []string{"201"}, Seat: true}, ""); err != nil {
		t.Fatal(err)
	}
	// A capture whose packets say 2002, received now, and one received 40
	// days ago.
	old := tu.addRecording("alice", "aaaa0001", party{Name: "Åsa", Number: "201"}, party{Name: "X", Number: "+371"},
		time.Date(2002, 7, 26, 9, 0, 0, 0, time.UTC))
	tu.clock.Add(-40 * 24 * time.Hour)
	earlier := tu.addRecording("alice", "aaaa0002", party{Name: "Åsa", Number: "201"}, party{Name: "Y", Number: "+372"},
		time.Date(2026, 10, 12, 9, 0, 0, 0, time.UTC))
	tu.clock.Add(40 * 24 * time.Hour)
	// addRecording sets Received to the call's start: the appliance
	// received the 2002 capture now.
	if err := tu.arc.SetRetentionBase(ctx, old.ID, tu.clock.Now()); err != nil {
		t.Fatal(err)
	}
	admin := tu.loginAt("admin")
	form := url.Values{"retentionDays": {"30"}, "recycleBinDays": {"30"}}
	resp, body := admin.post("/admin/settings/lifecycle", form)
	must(t, resp, body, 409, "deletes 1 recording that the current settings keep", `name="confirmDeletion" value="1"`,
		"Save and delete 1 recording(s) at the next run", `value="30"`)
	if s, _ := tu.arc.Settings(ctx); s.RetentionDays != 0 {
		t.Fatalf("saved without confirmation: %+v", s)
	}
	form.Set("confirmDeletion", "1")
	if resp, body := admin.post("/admin/settings/lifecycle", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirmed: %d\n%s", resp.StatusCode, body)
	}
	if evs, _, _ := tu.arc.AuditLog(ctx, archive.AuditQuery{Action: "settings.change"}); len(evs) == 0 ||
		!strings.Contains(evs[0].Detail, "confirmed: the next lifecycle run deletes 1 more recordings") {
		t.Errorf("settings audit: %+v", evs)
	}
	// The 40-day-old recording is due: today, at the next run, never the
	// day its retention ran out. The 2002 capture goes 30 days after it
	// was received.
	resp, body = admin.get("/recordings/" + earlier.ID.String())
	must(t, resp, body, 200, "To be deleted automatically at the next daily run (retention 30 days).")
	resp, body = admin.get("/recordings/" + old.ID.String())
	must(t, resp, body, 200, "To be deleted automatically on", "2026-12-22", "(retention 30 days)")
	if strings.Contains(body, "2002-08") {
		t.Error("a deletion date from the capture's time")
	}
	resp, body = admin.get("/")
	must(t, resp, body, 200, "to be deleted at the next daily run", "to be deleted on <time datetime=\"2026-12-22\">")
}

// TestSettingsTimeZoneConfirmDeletion: a new time zone moves the
// lifecycle's midnight; when that deletes a recording at the next run,
// the appliance form asks to confirm too.
func TestSettingsTimeZoneConfirmDeletion(t *testing.T) {
	tu := newTestUIAt(t, time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC))
	ctx := context.Background()
	if err := tu.arc.PutUser(ctx, archive.User{Login: "alice", Role: archive.RoleUser, Seat: true}, ""); err != nil {
		t.Fatal(err)
	}
	// Received 2026-10-22 05:00 UTC: with retention 30 days kept under UTC
	// (cutoff 2026-10-22 00:00 UTC), due under UTC+14 (cutoff 2026-10-22
	// 10:00 UTC).
	tu.addRecording("alice", "aaaa0003", party{Name: "Åsa", Number: "201"}, party{Name: "Z", Number: "+373"},
		time.Date(2026, 10, 22, 5, 0, 0, 0, time.UTC))
	s, _ := tu.arc.Settings(ctx)
	s.RetentionDays = 30
	if err := tu.arc.PutSettings(ctx, s); err != nil {
		t.Fatal(err)
	}
	admin := tu.loginAt("admin")
	form := url.Values{"pbxName": {"PBX"}, "timeZone": {"Pacific/Kiritimati"}, "sealing": {"on"}}
	resp, body := admin.post("/admin/settings", form)
	must(t, resp, body, 409, "deletes 1 recording that the current settings keep", "Check the time zone",
		`name="confirmDeletion" value="1"`)
	if s, _ := tu.arc.Settings(ctx); s.TimeZone == "Pacific/Kiritimati" {
		t.Fatal("saved without confirmation")
	}
	form.Set("confirmDeletion", "1")
	if resp, body := admin.post("/admin/settings", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirmed: %d\n%s", resp.StatusCode, body)
	}
	if s, _ := tu.arc.Settings(ctx); s.TimeZone != "Pacific/Kiritimati" {
		t.Fatalf("not saved: %+v", s)
	}
	// Only the PBX name: no question.
	form = url.Values{"pbxName": {"PBX 2"}, "timeZone": {"Pacific/Kiritimati"}, "sealing": {"on"}}
	if resp, body := admin.post("/admin/settings", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("pbx name: %d\n%s", resp.StatusCode, body)
	}
}
