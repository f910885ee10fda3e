package ui

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/webcore"
)

// sampleRecordingPages are the recording page's view models: the plain
// ones and one per state of the lifecycle part.
func sampleRecordingPages(base Base) []any {
	life := func(v lifeView) recordingPage {
		p := sampleRecordingPage(base)
		v.ProtectURL, v.UnprotectURL, v.DeleteURL = "/recordings/abc/protect", "/recordings/abc/unprotect", "/recordings/abc/delete"
		p.Life = &v
		return p
	}
	return []any{
		recordingPage{}, sampleRecordingPage(base),
		life(lifeView{Protected: true, MayProtect: true, NoDelete: webcore.RefusedProtected.Page}),
		life(lifeView{MayProtect: true, MayDelete: true, Deletion: "2026-12-21", DeletionISO: "2026-12-21",
			DeletionWhy: "the owner has no recording seat <script>alert(1)</script>"}),
		life(lifeView{MayDelete: true, Permanent: true}),
		life(lifeView{}),
	}
}

func sampleRecycleBinPages(base Base) []any {
	base.Nav = "recyclebin"
	row := binRow{ID: "abc", When: "2026-11-20 09:00:00", WhenISO: "2026-11-20T09:00:00Z", Duration: "1:02",
		With: "Jānis Bērziņš <script>alert(1)</script>", User: "Åsa Øberg", Binned: "2026-11-21 10:00:00", BinnedBy: "Åsa Øberg",
		Purge: "2026-12-22", PurgeISO: "2026-12-22", RestoreURL: "/recyclebin/abc/restore", PurgeURL: "/recyclebin/abc/purge",
		StateLabel: "interrupted", Description: "the call of 2026-11-20 09:00:00 with Jānis <b>odd</b>"}
	return []any{
		binPage{},
		binPage{Base: base, Rows: []binRow{row, {ID: "def", With: "unknown"}}, MayPurge: true, Days: 30,
			NextURL: "/recyclebin?cursor=x", FirstURL: "/recyclebin"},
		binPage{Base: base, Rows: []binRow{row}, Days: 7},
	}
}

// TestLifecycleTemplates checks what the lifecycle's view models show.
func TestLifecycleTemplates(t *testing.T) {
	tu := newTestUI(t)
	render := func(name string, m any) string {
		t.Helper()
		var buf bytes.Buffer
		if err := tu.ui.pages["en"][name].ExecuteTemplate(&buf, "layout", m); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	base := tu.ui.base(&reqCtx{user: &archive.User{Login: "alice", Role: archive.RoleUser}, loc: time.UTC}, "T", "recordings")
	pages := sampleRecordingPages(base)
	for i, c := range []struct {
		want, not []string
	}{
		2: {[]string{"Protected (legal hold).", "Lift legal hold", "/recordings/abc/unprotect", webcore.RefusedProtected.Page},
			[]string{"/recordings/abc/delete", "To be deleted automatically"}},
		3: {[]string{"Protect (legal hold)", "Move to the recycle bin", "To be deleted automatically on", "2026-12-21", "&lt;script&gt;"},
			[]string{"Delete permanently", "Lift legal hold"}},
		4: {[]string{"Delete permanently", "cannot be restored", "Not deleted automatically."},
			[]string{"Move to the recycle bin", "/recordings/abc/protect"}},
		5: {[]string{"Not deleted automatically."}, []string{"<form method=\"post\" action=\"/recordings/abc/delete\"", "/protect"}},
	} {
		if c.want == nil {
			continue
		}
		out := render("recording.html", pages[i])
		for _, s := range c.want {
			if !strings.Contains(out, s) {
				t.Errorf("recording model %d lacks %q", i, s)
			}
		}
		for _, s := range c.not {
			if strings.Contains(out, s) {
				t.Errorf("recording model %d has %q", i, s)
			}
		}
	}
	bins := sampleRecycleBinPages(base)
	out := render("recyclebin.html", bins[1])
	for _, s := range []string{"/recyclebin/abc/restore", "/recyclebin/abc/purge", "for 30 days", `rel="next"`, `aria-current="page">Recycle bin`} {
		if !strings.Contains(out, s) {
			t.Errorf("recycle bin lacks %q", s)
		}
	}
	if out := render("recyclebin.html", bins[2]); strings.Contains(out, "/purge") {
		t.Error("the recycle bin offers a purge to someone who may not")
	}
	if out := render("recyclebin.html", bins[0]); !strings.Contains(out, "The recycle bin is empty.") {
		t.Error("empty bin")
	}
}

func TestRunDay(t *testing.T) {
	riga, err := time.LoadLocation("Europe/Riga")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 12, 21, 0, 0, 0, 0, riga), "2026-12-21"},
		{time.Date(2026, 12, 21, 0, 5, 0, 0, riga), "2026-12-21"},
		{time.Date(2026, 12, 21, 0, 5, 1, 0, riga), "2026-12-22"},
		{time.Date(2026, 12, 21, 23, 0, 0, 0, time.UTC), "2026-12-23"}, // 01:00 on the 22nd in Riga
	} {
		if got := runDay(c.at, riga).Format(time.DateOnly); got != c.want {
			t.Errorf("runDay(%v) = %s, want %s", c.at, got, c.want)
		}
	}
}

// TestLifecyclePages walks the lifecycle through the pages: deletion
// dates, settings, the legal hold, deleting in each mode, the recycle
// bin, and who may do what. It runs in two years: the archive and the
// pages share one clock, whatever the wall clock's date.
func TestLifecyclePages(t *testing.T) {
	for _, year := range []int{2026, 2031} {
		t.Run(strconv.Itoa(year), func(t *testing.T) { testLifecyclePages(t, year) })
	}
}

func testLifecyclePages(t *testing.T, year int) {
	tu := newTestUIAt(t, time.Date(year, 11, 21, 10, 0, 0, 0, time.UTC))
	ctx := context.Background()
	start := time.Date(year, 11, 20, 9, 0, 0, 0, time.UTC)
	y := strconv.Itoa(year)
	recA := tu.addRecording("alice", "aaaa0001", party{Name: "Åsa Øberg", Number: "201"}, party{Name: "Jānis", Number: "+371"}, start)
	recB := tu.addRecording("bob", "bbbb0001", party{Name: "X", Number: "+370"}, party{Name: "Bob", Number: "202"}, start)
	pageA, pageB := "/recordings/"+recA.ID.String(), "/recordings/"+recB.ID.String()
	alice, bob, admin := tu.login("alice"), tu.login("bob"), tu.login("admin")

	// alice holds no seat: her recording goes 30 days after the call's day.
	resp, body := alice.get(pageA)
	must(t, resp, body, 200, "To be deleted automatically on", y+"-12-21", "the owner has no recording seat",
		"Move to the recycle bin", `action="`+pageA+`/delete"`)
	if strings.Contains(body, "Protect (legal hold)") {
		t.Fatal("alice may protect without the right")
	}
	resp, body = alice.get("/")
	must(t, resp, body, 200, "to be deleted on", y+"-12-21", `href="/recyclebin"`)

	// Settings: retention and recycle-bin days, checked.
	resp, body = admin.get("/admin/settings")
	must(t, resp, body, 200, `name="retentionDays"`, `value="0"`, `name="recycleBinDays"`, `value="30"`, "No run yet.")
	for _, bad := range []url.Values{
		{"retentionDays": {"-1"}, "recycleBinDays": {"30"}},
		{"retentionDays": {"11001"}, "recycleBinDays": {"30"}},
		{"retentionDays": {"x"}, "recycleBinDays": {"30"}},
		{"retentionDays": {""}, "recycleBinDays": {"30"}},
		{"retentionDays": {"10"}, "recycleBinDays": {"0"}},
		{"retentionDays": {"10"}, "recycleBinDays": {"11001"}},
		{"retentionDays": {"10"}, "recycleBinDays": {"1.5"}},
	} {
		resp, body := admin.post("/admin/settings/lifecycle", bad)
		must(t, resp, body, 400, "whole number of days")
		if !strings.Contains(body, `value="`+bad.Get("retentionDays")+`"`) {
			t.Errorf("%v: the form does not keep what was typed", bad)
		}
	}
	for _, ok := range []url.Values{
		{"retentionDays": {"0"}, "recycleBinDays": {"1"}, "confirmDeletion": {"1000"}},
		{"retentionDays": {"11000"}, "recycleBinDays": {"11000"}, "confirmDeletion": {"1000"}},
		{"retentionDays": {" 10 "}, "recycleBinDays": {"7"}, "confirmDeletion": {"1000"}},
	} {
		if resp, body := admin.post("/admin/settings/lifecycle", ok); resp.StatusCode != 303 {
			t.Fatalf("%v: %d\n%s", ok, resp.StatusCode, body)
		}
	}
	if s, _ := tu.arc.Settings(ctx); s.RetentionDays != 10 || s.RecycleBinDays != 7 {
		t.Fatalf("settings: %+v", s)
	}
	resp, body = admin.get("/admin/settings?saved=lifecycle")
	must(t, resp, body, 200, "Retention settings saved.", `value="10"`, `value="7"`)
	if resp, _ := alice.post("/admin/settings/lifecycle", url.Values{"retentionDays": {"1"}, "recycleBinDays": {"1"}}); resp.StatusCode != 403 {
		t.Fatalf("alice changes the retention: %d", resp.StatusCode)
	}
	resp, body = alice.get(pageA)
	must(t, resp, body, 200, y+"-12-01", "retention 10 days")

	// The last run shows on the settings page.
	if _, err := tu.arc.Expire(ctx); err != nil {
		t.Fatal(err)
	}
	resp, body = admin.get("/admin/settings")
	must(t, resp, body, 200, "Last run", "kept because of a legal hold", "of 0 calls deleted (no recording of the call arrived)")
	if strings.Contains(body, "No run yet.") {
		t.Fatal("the run does not show")
	}

	// The legal hold: admins, and users with the right.
	if resp, _ := alice.post(pageA+"/protect", url.Values{}); resp.StatusCode != 403 {
		t.Fatalf("alice protects without the right: %d", resp.StatusCode)
	}
	if resp, _ := bob.post(pageA+"/protect", url.Values{}); resp.StatusCode != 404 {
		t.Fatalf("bob protects what he may not read: %d", resp.StatusCode)
	}
	if resp, _ := admin.post(pageA+"/protect", url.Values{}); resp.StatusCode != 303 {
		t.Fatalf("admin protects: %d", resp.StatusCode)
	}
	resp, body = alice.get(pageA)
	must(t, resp, body, 200, "Protected (legal hold).", webcore.RefusedProtected.Page[:30], "protected")
	if strings.Contains(body, `action="`+pageA+`/delete"`) || strings.Contains(body, "To be deleted automatically") {
		t.Fatal("a protected recording offers a delete or has a deletion date")
	}
	resp, body = alice.post(pageA+"/delete", url.Values{})
	must(t, resp, body, 409, "protected")
	resp, body = alice.get("/")
	must(t, resp, body, 200, `title="legal hold">protected`)
	// alice gets the right and lifts the hold.
	resp, _ = admin.post("/admin/users/alice", url.Values{"name": {"Åsa Øberg"}, "role": {"user"}, "extensions": {"201"},
		"mayProtect": {"on"}, "deletionMode": {"recoverable"}})
	if resp.StatusCode != 303 {
		t.Fatalf("give alice the right: %d", resp.StatusCode)
	}
	resp, body = alice.get(pageA)
	must(t, resp, body, 200, "Lift legal hold")
	if resp, _ := alice.post(pageA+"/unprotect", url.Values{}); resp.StatusCode != 303 {
		t.Fatalf("alice lifts the hold: %d", resp.StatusCode)
	}

	// Recoverable: to the recycle bin; the owner and admins restore.
	if resp, _ := bob.post(pageA+"/delete", url.Values{}); resp.StatusCode != 404 {
		t.Fatalf("bob deletes alice's recording: %d", resp.StatusCode)
	}
	resp, _ = alice.post(pageA+"/delete", url.Values{})
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/recyclebin?binned=1" {
		t.Fatalf("alice deletes: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := alice.get(pageA); resp.StatusCode != 404 {
		t.Fatalf("a binned recording opens: %d", resp.StatusCode)
	}
	resp, body = alice.get("/recyclebin?binned=1")
	must(t, resp, body, 200, "moved to the recycle bin", "/recyclebin/"+recA.ID.String()+"/restore", "Jānis")
	if strings.Contains(body, "/purge") {
		t.Fatal("alice is offered a purge")
	}
	if _, body := alice.get("/"); strings.Contains(body, recA.ID.String()) {
		t.Fatal("the list shows a binned recording")
	}
	if _, body := bob.get("/recyclebin"); strings.Contains(body, recA.ID.String()) || !strings.Contains(body, "The recycle bin is empty.") {
		t.Fatal("bob sees alice's recycle bin")
	}
	if resp, _ := bob.post("/recyclebin/"+recA.ID.String()+"/restore", url.Values{}); resp.StatusCode != 404 {
		t.Fatalf("bob restores alice's recording: %d", resp.StatusCode)
	}
	if resp, _ := alice.post("/recyclebin/"+recA.ID.String()+"/purge", url.Values{}); resp.StatusCode != 403 {
		t.Fatalf("alice purges: %d", resp.StatusCode)
	}
	if resp, _ := alice.post("/recyclebin/"+recA.ID.String()+"/restore", url.Values{}); resp.StatusCode != 303 {
		t.Fatalf("alice restores: %d", resp.StatusCode)
	}
	if resp, _ := alice.get(pageA); resp.StatusCode != 200 {
		t.Fatalf("restored recording: %d", resp.StatusCode)
	}
	if resp, _ := alice.post("/recyclebin/"+recA.ID.String()+"/restore", url.Values{}); resp.StatusCode != 404 {
		t.Fatalf("restore of a recording not in the bin: %d", resp.StatusCode)
	}
	// The admin purges what is in the bin.
	if resp, _ := alice.post(pageA+"/delete", url.Values{}); resp.StatusCode != 303 {
		t.Fatalf("alice deletes again: %d", resp.StatusCode)
	}
	resp, body = admin.get("/recyclebin")
	must(t, resp, body, 200, "/recyclebin/"+recA.ID.String()+"/purge", "Åsa Øberg")
	if resp, _ := admin.post("/recyclebin/"+recA.ID.String()+"/purge", url.Values{}); resp.StatusCode != 303 {
		t.Fatalf("admin purges: %d", resp.StatusCode)
	}
	if _, err := tu.arc.Get(ctx, recA.ID); !errors.Is(err, archive.ErrNotFound) {
		t.Fatalf("purged recording: %v", err)
	}
	if resp, _ := admin.post("/recyclebin/"+recA.ID.String()+"/purge", url.Values{}); resp.StatusCode != 404 {
		t.Fatalf("purge twice: %d", resp.StatusCode)
	}

	// Permanent: gone at once.
	resp, _ = admin.post("/admin/users/bob", url.Values{"name": {"Bob Builder"}, "role": {"user"}, "extensions": {"202"}, "deletionMode": {"permanent"}})
	if resp.StatusCode != 303 {
		t.Fatalf("bob permanent: %d", resp.StatusCode)
	}
	resp, body = admin.get("/admin/users/bob")
	must(t, resp, body, 200, `value="permanent" selected`)
	resp, body = bob.get(pageB)
	must(t, resp, body, 200, "Delete permanently")
	resp, _ = bob.post(pageB+"/delete", url.Values{})
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/?deleted=1" {
		t.Fatalf("bob deletes: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body = bob.get("/?deleted=1")
	must(t, resp, body, 200, "deleted permanently")
	if _, err := tu.arc.Get(ctx, recB.ID); !errors.Is(err, archive.ErrNotFound) {
		t.Fatalf("permanently deleted recording: %v", err)
	}

	// Denied: no button, and the form is refused.
	recB2 := tu.addRecording("bob", "bbbb0002", party{Number: "+370"}, party{Number: "202"}, start)
	resp, _ = admin.post("/admin/users/bob", url.Values{"name": {"Bob Builder"}, "role": {"user"}, "extensions": {"202"}, "deletionMode": {"denied"}})
	if resp.StatusCode != 303 {
		t.Fatalf("bob denied: %d", resp.StatusCode)
	}
	resp, body = bob.get("/recordings/" + recB2.ID.String())
	must(t, resp, body, 200)
	if strings.Contains(body, "Move to the recycle bin") || strings.Contains(body, "Delete permanently") {
		t.Fatal("a denied user gets a delete button")
	}
	resp, body = bob.post("/recordings/"+recB2.ID.String()+"/delete", url.Values{})
	must(t, resp, body, 403, "Your account may not delete recordings.")
	resp, body = admin.post("/admin/users/bob", url.Values{"name": {"B"}, "role": {"user"}, "deletionMode": {"forever"}})
	must(t, resp, body, 400, "Choose a deletion mode.")
	// A form without the field keeps the mode.
	if resp, _ := admin.post("/admin/users/bob", url.Values{"name": {"Bob Builder"}, "role": {"user"}}); resp.StatusCode != 303 {
		t.Fatalf("edit bob: %d", resp.StatusCode)
	}
	if u, _ := tu.arc.GetUser(ctx, "bob"); u.DeletionMode != archive.DeleteDenied {
		t.Fatalf("bob's mode: %q", u.DeletionMode)
	}

	// Everything is in the audit log.
	var got []string
	evs, _, _ := tu.arc.AuditLog(ctx, archive.AuditQuery{Action: "recording", Limit: 100})
	for i := len(evs) - 1; i >= 0; i-- {
		e := evs[i]
		s := e.Actor + " " + e.Action
		if !e.OK {
			s += " refused"
		}
		got = append(got, s)
	}
	want := "alice recording.protect refused, admin recording.protect, alice recording.delete refused, alice recording.unprotect, " +
		"alice recording.delete, alice recording.restore, alice recording.delete, admin recording.purge, bob recording.delete, " +
		"bob recording.delete refused"
	if strings.Join(got, ", ") != want {
		t.Errorf("audit:\n got %s\nwant %s", strings.Join(got, ", "), want)
	}
	evs, _, _ = tu.arc.AuditLog(ctx, archive.AuditQuery{Action: "settings.change", Limit: 100})
	if len(evs) != 3 || evs[0].Detail != "retentionDays 11000→10, recycleBinDays 11000→7" {
		t.Errorf("settings audit: %+v", evs)
	}
	evs, _, _ = tu.arc.AuditLog(ctx, archive.AuditQuery{Action: "user.change", Limit: 100})
	if len(evs) == 0 || !strings.Contains(evs[len(evs)-1].Detail, "may protect=true") {
		t.Errorf("user audit: %+v", evs)
	}
}

// TestRecycleBinPaging pages through the recycle bin page.
func TestRecycleBinPaging(t *testing.T) {
	tu := newTestUI(t)
	ctx := context.Background()
	start := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	want := map[string]bool{}
	for i := range listPageSize + 5 {
		rec := tu.addRecording("alice", "", party{Number: "201"}, party{Number: "5550000"}, start.Add(time.Duration(i)*time.Minute))
		if err := tu.arc.Bin(ctx, rec.ID, "alice"); err != nil {
			t.Fatal(err)
		}
		want[rec.ID.String()] = true
	}
	c := tu.login("alice")
	seen := map[string]bool{}
	next, pages := "/recyclebin", 0
	for next != "" {
		pages++
		resp, body := c.get(next)
		must(t, resp, body, 200)
		for rest := body; ; {
			i := strings.Index(rest, `action="/recyclebin/`)
			if i < 0 {
				break
			}
			rest = rest[i+len(`action="/recyclebin/`):]
			id := rest[:32]
			if strings.HasPrefix(rest[32:], "/restore") {
				if seen[id] || !want[id] {
					t.Fatalf("page %d: %s repeated or unknown", pages, id)
				}
				seen[id] = true
			}
		}
		next = ""
		if i := strings.Index(body, `rel="next"`); i >= 0 {
			j := strings.LastIndex(body[:i], `href="`)
			next = strings.ReplaceAll(body[j+len(`href="`):strings.Index(body[j+6:], `"`)+j+6], "&amp;", "&")
		}
	}
	if len(seen) != len(want) || pages != 2 {
		t.Fatalf("%d entries over %d pages, want %d over 2", len(seen), pages, len(want))
	}
	if resp, _ := c.get("/recyclebin?cursor=garbage"); resp.StatusCode != 400 {
		t.Fatalf("bad cursor: %d", resp.StatusCode)
	}
}
