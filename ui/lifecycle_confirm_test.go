package ui

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
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
