package ui

import (
	"bytes"
	"context"
	"maps"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
)

// pageModels holds, for every template, a zero view model and a realistic
// one. A template without an entry fails the test, so a new page gets one.
func pageModels(u *UI) map[string][]any {
	base := u.base(&reqCtx{
		user:     &archive.User{Login: "alice", Name: "Åsa Øberg <script>", Role: archive.RoleAdmin},
		settings: archive.Settings{PBXName: "Rīga PBX"}, loc: time.UTC,
	}, "Title", "recordings")
	base.Flash = "Saved."
	base.Error = "Something <b>odd</b>."
	evil := `<script>alert(1)</script>`
	m := map[string][]any{
		"login.html": {loginPage{}, loginPage{Base: base, Login: "alice" + evil, Next: "/x?y=1"}},
		"error.html": {errorPage{}, errorPage{Base: base, Code: 404, Message: "There is no such recording."}},
		"account.html": {accountPage{}, accountPage{
			Base: base, Login: "alice", Name: "Åsa Øberg", Email: "asa@example.com", Role: "user",
			Extensions: "201, 202", AccessList: "bob", NewToken: "cvt_SECRET",
			Tokens:   []tokenView{{ID: "t1", Label: "CRM" + evil, Created: "2026-11-21 10:00:00", LastUsed: "never", RevokeURL: "/account/tokens/t1/revoke"}},
			TokenURL: "/account/tokens", PasswordError: "The current password is wrong.",
		}},
		"recordings.html": {listPage{}, listPage{
			Base: base, Q: "Bērziņš", From: "2026-11-01", To: "2026-11-21", Dir: "in", Filtered: true,
			Rows: []listRow{
				{URL: "/recordings/1", When: "2026-11-21 09:00:00", WhenISO: "2026-11-21T09:00:00Z", Duration: "1:02",
					Direction: "in", DirLabel: "Incoming", With: "Jānis Bērziņš (+37120000000)" + evil, User: "Åsa Øberg", Segments: 2, Sealed: true,
					Deletion: "2026-12-21", DeletionISO: "2026-12-21", DeletionWhy: "the owner has no recording seat" + evil},
				{URL: "/recordings/2", When: "2026-11-20 17:00:00", Duration: "0:05", DirLabel: "—", With: "unknown",
					User: "bob", Segments: 1, State: "interrupted", StateLabel: "interrupted", Protected: true},
			},
			NextURL: "/?page=3&q=x", FirstURL: "/?q=x",
			View:      listView{Sort: sortLength, Desc: true, Page: 2, Size: 25, Total: 300},
			Heads:     map[string]sortHead{sortLength: {URL: "/?sort=length", Aria: "descending"}, sortDate: {URL: "/?order=asc"}},
			Pages:     []pageLinkItem{{N: 1, URL: "/?q=x"}, {N: 2, URL: "/?page=2", Current: true}, {}, {N: 12, URL: "/?page=12"}},
			Sizes:     []pageLinkItem{{N: 25, URL: "/?size=25", Current: true}, {N: 50, URL: "/"}},
			SortParam: "length", OrderParam: "desc", SizeParam: "25", ExportURL: "/recordings.csv?q=x",
		}},
		"recording.html":  sampleRecordingPages(base),  // with the lifecycle's, lifecycle_test.go
		"recyclebin.html": sampleRecycleBinPages(base), // lifecycle_test.go
		"list_bulk.html":  sampleBulkPages(base),       // list_bulk_test.go
		"waiting.html":    sampleWaitingPages(base),    // foureyes_test.go
		"supervise.html":  sampleSupervisePages(base),  // foureyes_test.go
		"audit.html": {auditPage{}, auditPage{
			Base: base, Q: "x", Actor: "alice", Action: "login", Filtered: true,
			Rows: []auditRow{
				{Seq: 2, When: "2026-11-21 10:00:00", Actor: "alice", Action: "login", Target: "alice", Remote: "10.0.0.1:5555", OK: true},
				{Seq: 1, When: "2026-11-21 09:59:00", Actor: "mallory", Action: "login", Target: "mallory", OK: false, Detail: evil},
			},
			NextURL: "/admin/audit?cursor=x", FirstURL: "/admin/audit",
			Chain: &chainView{Valid: false, Entries: 2, Problems: []string{"entry 2: hash mismatch"}},
		}},
		"users.html": {usersPage{}, usersPage{Base: base, Users: []userRow{
			{Login: "alice", Name: "Åsa Øberg", Role: "user", Extensions: "201", URL: "/admin/users/alice", Seat: true, HasPassword: true},
			{Login: "šarūnas", Name: "Šarūnas Žukauskas", Role: "supervisor", URL: "/admin/users/%C5%A1ar%C5%ABnas", Disabled: true},
		}}},
		"user_edit.html": {userEditPage{}, userEditPage{
			Base: base, Action: "/admin/users/alice", DeleteURL: "/admin/users/alice/delete",
			F: userForm{Login: "alice", Name: "Åsa Øberg", Role: "supervisor", Extensions: "201", AccessList: "bob, 202", Supervisor: "admin", Seat: true, MaySendLinks: true,
				MayProtect: true, DeletionMode: "permanent"},
			Roles: []string{"user", "supervisor", "admin"}, Supervisors: []string{"admin"},
			Tokens: []tokenView{{ID: "t1", Label: "CRM", RevokeURL: "/x"}}, TokenURL: "/admin/users/alice/tokens",
			NewToken: "cvt_SECRET", FormError: "The email address is not valid.",
			DeletionModes: deletionModeChoices(nil),
		}},
		"settings.html": {settingsPage{}, settingsPage{
			Base: base, PBXName: "Rīga PBX", TimeZone: "Europe/Riga", Sealing: true, Unsealed: 3,
			Levels:       []levelView{{Name: "gui", Label: "GUI", Level: "debug"}, {Name: "recording", Label: "Recording", Level: "info"}},
			LevelChoices: []string{"debug", "info", "warn", "error"}, TimeZones: []string{"UTC", "Europe/Riga"},
			IngestLogins: []string{"ingest"}, KeyFileMode: true, KeyFingerprint: "abcd ef01", PublicKeyPEM: "-----BEGIN PUBLIC KEY-----",
			SettingsError: "Unknown time zone.", IngestError: "x", KeyError: "y",
			RetentionDays: "365", RecycleBinDays: "30" + evil, MaxDays: 11000, SeatGraceDays: 30, LifecycleError: "Retention: enter a whole number.",
			LastRun: &lastRunView{When: "2026-11-21 00:05:00", Retention: 3, Grace: 1, Bin: 2, Protected: 1, Failed: 1, CDRs: 4,
				RetentionCutoff: "2025-11-21 00:00:00", GraceCutoff: "2026-10-22 00:00:00"},
		}},
	}
	maps.Copy(m, sampleSharePages(base))   // share_test.go
	maps.Copy(m, sampleWebhookPages(base)) // webhooks_test.go
	return m
}

func sampleRecordingPage(base Base) recordingPage {
	call := callView{Number: 1, URL: "/recordings/abc?call=1", Selected: true, From: "Åsa Øberg (201)", To: "Jānis Bērziņš (+371)",
		Start: "2026-11-21 09:00:00", Duration: "1:02", Codecs: "PCMA", Packets: 3000, Lost: 30, LossPct: "1.0 %", DTMF: "4 2",
		SIPCallID: "x@y", Streams: []streamView{{Side: "Remote (left)", Codec: "PCMA", Packets: 1500, Lost: 30, LossPct: "2.0 %", Jitter: "1.2 ms"},
			{Side: "Local (right)", Codec: "G729", Unsupported: true}, {Side: "Local (right)", Codec: "PCMU", Encrypted: true}},
		Encryption: "SRTP"}
	p := recordingPage{
		Base: base,
		Rec: recView{ID: "abc", Title: "Jānis Bērziņš", Start: "2026-11-21 09:00:00", Duration: "1:02", State: "interrupted",
			StateLabel: "interrupted", User: "alice", UserName: "Åsa Øberg", DirLabel: "Outgoing", FileName: "f.pcap",
			Size: "1.0 MiB", Truncated: true, Damage: "cut", Warnings: []string{"w1"}, Device: "0090 1",
			AudioURL: "/a.wav", MonoURL: "/a.wav?m", PeaksURL: "/p", MonoPeaks: "/p?m", DownloadURL: "/d.zip", OriginalURL: "/o.pcap"},
		Calls:    []callView{call, {Number: 2, URL: "/recordings/abc?call=2"}},
		Segments: []segmentView{{URL: "/recordings/a", When: "09:00", Duration: "0:30", Current: true}, {URL: "/recordings/b", When: "09:01", Duration: "0:32"}},
		Notes: []noteView{{ID: 1, Author: "Åsa Øberg", Created: "2026-11-21 10:00:00", Text: "Call back <b>tomorrow</b>\nsecond line", MayEdit: true,
			EditURL: "/recordings/abc/notes/1", DeleteURL: "/recordings/abc/notes/1/delete"},
			{ID: 2, Author: "bob", Created: "x", Updated: "y", Edited: true, Text: "ok"}},
		NoteURL: "/recordings/abc/notes", VerifyURL: "/recordings/abc/verify",
		Seal:      &sealView2{Seq: 7, Time: "2026-11-21", Orig: "aa", Map: "bb", Meta: "cc", Exports: []string{"dd"}, KeyFingerprint: "ee"},
		Verify:    &verifyView{Valid: false, Problems: []string{"original: chunk 3 fails authentication"}, ExportsPending: true},
		NoteError: "A note needs some text.",
	}
	p.Call = &p.Calls[0]
	return p
}

func TestTemplatesRender(t *testing.T) {
	tu := newTestUI(t)
	models := pageModels(tu.ui)
	for _, lang := range uiLanguages {
		for name := range tu.ui.pages[lang] {
			ms, ok := models[name]
			if !ok {
				t.Errorf("template %s has no view models in pageModels", name)
				continue
			}
			for i, m := range ms {
				var buf bytes.Buffer
				if err := tu.ui.pages[lang][name].ExecuteTemplate(&buf, "layout", m); err != nil {
					t.Errorf("%s model %d: %v", name, i, err)
					continue
				}
				out := buf.String()
				if !strings.HasPrefix(out, "<!doctype html>") || !strings.Contains(out, "</html>") {
					t.Errorf("%s model %d: not a whole page", name, i)
				}
				if strings.Contains(out, "<script>alert(1)</script>") || strings.Contains(out, "<b>tomorrow</b>") || strings.Contains(out, "<b>odd</b>") {
					t.Errorf("%s model %d: unescaped text", name, i)
				}
				if strings.Contains(out, " style=") || strings.Contains(out, "<script>") || strings.Contains(out, "javascript:") {
					t.Errorf("%s model %d: inline script or style (the CSP forbids them)", name, i)
				}
				if i == 1 && !strings.Contains(out, "Rīga PBX") {
					t.Errorf("%s: the PBX name is not in the header", name)
				}
			}
		}
	}
	for name := range models {
		if tu.ui.pages["en"][name] == nil {
			t.Errorf("pageModels names %s, which is no template", name)
		}
	}
}

func TestRecordingPages(t *testing.T) {
	tu := newTestUI(t)
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	recA := tu.addRecording("alice", "aaaa0001", party{Name: "Åsa Øberg", Number: "201"}, party{Name: "Jānis Bērziņš", Number: "+37120000000"}, start)
	recB := tu.addRecording("bob", "bbbb0001", party{Name: "Šarūnas Žukauskas", Number: "+37060000000"}, party{Name: "Bob", Number: "202"}, start.Add(time.Hour))
	recB2 := tu.addRecording("bob", "bbbb0001", party{Name: "Šarūnas Žukauskas", Number: "+37060000000"}, party{Name: "Bob", Number: "202"}, start.Add(2*time.Hour))

	alice := tu.login("alice")
	resp, body := alice.get("/")
	must(t, resp, body, 200, recA.ID.String(), "Jānis Bērziņš", "Outgoing", "Åsa Øberg")
	if strings.Contains(body, recB.ID.String()) {
		t.Fatal("alice sees bob's recording")
	}
	resp, body = alice.get("/recordings/" + recA.ID.String())
	must(t, resp, body, 200, "Jānis Bērziņš (&#43;37120000000)", "PCMA", "4 2", "1.0 %", "Not sealed", "No notes yet.",
		"/api/v1/recordings/"+recA.ID.String()+"/download.zip", "/api/v1/recordings/"+recA.ID.String()+"/peaks?call=1")
	if resp, _ := alice.get("/recordings/" + recB.ID.String()); resp.StatusCode != 404 {
		t.Fatalf("alice opens bob's recording: %d", resp.StatusCode)
	}

	// Bob's two segments are one row, linked to the first segment.
	bob := tu.login("bob")
	resp, body = bob.get("/")
	must(t, resp, body, 200, "2 parts", "Incoming", recB.ID.String())
	if strings.Contains(body, `href="/recordings/`+recB2.ID.String()) {
		t.Fatal("the second segment has a row of its own")
	}
	resp, body = bob.get("/recordings/" + recB.ID.String())
	must(t, resp, body, 200, "Parts of this call", recB2.ID.String())

	// Filters.
	admin := tu.login("admin")
	for _, c := range []struct {
		q    string
		want []string
		not  []string
	}{
		{"q=%C5%BEukauskas", []string{recB.ID.String()}, []string{recA.ID.String()}},
		{"q=B%C4%93rzi%C5%86%C5%A1", []string{recA.ID.String()}, []string{recB.ID.String()}},
		{"q=201", []string{recA.ID.String()}, []string{recB.ID.String()}},
		{"q=%C3%A5sa", []string{recA.ID.String()}, []string{recB.ID.String()}}, // the owner's display name
		{"dir=in", []string{recB.ID.String()}, []string{recA.ID.String()}},
		{"dir=out", []string{recA.ID.String()}, []string{recB.ID.String()}},
		{"from=2026-11-20&to=2026-11-20", []string{recA.ID.String(), recB.ID.String()}, nil},
		{"from=2026-11-21", nil, []string{recA.ID.String(), recB.ID.String()}},
		{"to=2026-11-19", nil, []string{recA.ID.String(), recB.ID.String()}},
	} {
		resp, body := admin.get("/?" + c.q)
		must(t, resp, body, 200, c.want...)
		for _, n := range c.not {
			if strings.Contains(body, n) {
				t.Errorf("filter %s lists %s", c.q, n)
			}
		}
	}
	if resp, _ := admin.get("/?page=garbage"); resp.StatusCode != 400 {
		t.Fatalf("bad page: %d", resp.StatusCode)
	}
	if resp, body := admin.get("/?from=notadate"); !strings.Contains(body, "not a date") || resp.StatusCode != 200 {
		t.Fatalf("bad date: %d", resp.StatusCode)
	}

	// Notes: add, edit, delete, with author checks.
	id := recA.ID.String()
	resp, _ = alice.post("/recordings/"+id+"/notes", url.Values{"text": {"Callback <tomorrow>, Šarūnas"}})
	if resp.StatusCode != 303 {
		t.Fatalf("add note: %d", resp.StatusCode)
	}
	resp, body = alice.post("/recordings/"+id+"/notes", url.Values{"text": {"   "}})
	must(t, resp, body, 400, "A note needs some text.")
	notes, _ := tu.arc.Notes(context.Background(), recA.ID)
	if len(notes) != 1 || notes[0].Author != "alice" {
		t.Fatalf("notes: %+v", notes)
	}
	nid := "/recordings/" + id + "/notes/" + itoa(int(notes[0].ID))
	resp, body = alice.get("/recordings/" + id)
	must(t, resp, body, 200, "Callback &lt;tomorrow&gt;, Šarūnas", nid+"/delete")
	if resp, _ := bob.post(nid, url.Values{"text": {"bob was here"}}); resp.StatusCode != 404 {
		t.Fatalf("bob edits alice's note: %d", resp.StatusCode)
	}
	if resp, _ := alice.post(nid, url.Values{"text": {"Callback on Monday"}}); resp.StatusCode != 303 {
		t.Fatalf("edit: %d", resp.StatusCode)
	}
	resp, body = admin.get("/recordings/" + id)
	must(t, resp, body, 200, "Callback on Monday", "edited")
	if resp, _ := admin.post(nid+"/delete", url.Values{}); resp.StatusCode != 303 {
		t.Fatalf("admin deletes the note: %d", resp.StatusCode)
	}
	if notes, _ := tu.arc.Notes(context.Background(), recA.ID); len(notes) != 0 {
		t.Fatalf("notes after delete: %+v", notes)
	}
	var actions []string
	events, _, _ := tu.arc.AuditLog(context.Background(), archive.AuditQuery{Action: "note"})
	for _, e := range events {
		actions = append(actions, e.Actor+" "+e.Action)
	}
	if got := strings.Join(actions, ", "); got != "admin note.delete, alice note.edit, alice note.add" {
		t.Fatalf("audit of notes: %s", got)
	}
}

func TestAdminPages(t *testing.T) {
	tu := newTestUI(t)
	ctx := context.Background()
	alice := tu.login("alice")
	for _, p := range []string{"/admin/users", "/admin/audit", "/admin/settings", "/admin/users/new", "/admin/users/bob"} {
		resp, body := alice.get(p)
		must(t, resp, body, 403, "This page is for administrators.")
	}
	admin := tu.login("admin")

	// Users: create with every field, edit, refuse self-demotion, delete.
	resp, body := admin.post("/admin/users", url.Values{
		"login": {"carol"}, "name": {"Šarūnas Žukauskas"}, "email": {"s@example.com"}, "role": {"supervisor"},
		"extensions": {"203, 204"}, "accessList": {"alice\n+371 2000 0000"}, "supervisor": {"admin"},
		"seat": {"on"}, "maySendLinks": {"on"}, "maySeeExternal": {"on"},
		"password": {"carol-password-1"}, "confirm": {"carol-password-1"},
	})
	if resp.StatusCode != 303 {
		t.Fatalf("create carol: %d\n%s", resp.StatusCode, body)
	}
	c, err := tu.arc.GetUser(ctx, "carol")
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "Šarūnas Žukauskas" || c.Role != archive.RoleSupervisor || strings.Join(c.Extensions, "|") != "203|204" ||
		strings.Join(c.AccessList, "|") != "alice|+371 2000 0000" || c.Supervisor != "admin" || !c.Seat || !c.MaySendLinks || !c.MaySeeExternal {
		t.Fatalf("carol: %+v", c)
	}
	resp, body = admin.post("/admin/users", url.Values{"login": {"carol"}, "role": {"user"}, "password": {"x-password-1"}, "confirm": {"x-password-1"}})
	must(t, resp, body, 400, "A user with this login exists.")
	resp, body = admin.get("/admin/users/carol")
	must(t, resp, body, 200, "Šarūnas Žukauskas", "371 2000 0000", `value="supervisor" selected`)
	resp, _ = admin.post("/admin/users/carol", url.Values{"name": {"Carol"}, "role": {"user"}, "disabled": {"on"}})
	if resp.StatusCode != 303 {
		t.Fatalf("edit carol: %d", resp.StatusCode)
	}
	if c, _ := tu.arc.GetUser(ctx, "carol"); c.Name != "Carol" || !c.Disabled || c.Seat || len(c.Extensions) != 0 {
		t.Fatalf("carol after edit: %+v", c)
	}
	// A WebDAV password: set, then removed.
	resp, _ = admin.post("/admin/users/carol", url.Values{"name": {"Carol"}, "role": {"user"}, "webdavPassword": {"carol-dav-pass-1"}})
	if resp.StatusCode != 303 {
		t.Fatalf("set webdav password: %d", resp.StatusCode)
	}
	if at, _ := tu.arc.WebDAVPasswordSet(ctx, "carol"); at.IsZero() {
		t.Fatal("webdav password not set from the form")
	}
	resp, _ = admin.post("/admin/users/carol", url.Values{"name": {"Carol"}, "role": {"user"}, "webdavClear": {"on"}})
	if resp.StatusCode != 303 {
		t.Fatalf("clear webdav password: %d", resp.StatusCode)
	}
	if at, _ := tu.arc.WebDAVPasswordSet(ctx, "carol"); !at.IsZero() {
		t.Fatal("webdav password not removed from the form")
	}
	resp, body = admin.post("/admin/users/admin", url.Values{"name": {"A"}, "role": {"user"}})
	must(t, resp, body, 400, "You cannot take away your own admin role")
	resp, body = admin.post("/admin/users/admin/delete", url.Values{})
	must(t, resp, body, 400, "You cannot delete your own account.")
	if resp, _ := admin.post("/admin/users/carol/delete", url.Values{}); resp.StatusCode != 303 {
		t.Fatalf("delete carol: %d", resp.StatusCode)
	}
	if _, err := tu.arc.GetUser(ctx, "carol"); err == nil {
		t.Fatal("carol still exists")
	}

	// Settings.
	resp, body = admin.post("/admin/settings", url.Values{"pbxName": {"Vilnius PBX"}, "timeZone": {"Mars/Olympus"}})
	must(t, resp, body, 400, "Unknown time zone")
	resp, _ = admin.post("/admin/settings", url.Values{"pbxName": {"Vilnius PBX"}, "timeZone": {"Europe/Vilnius"}, "trace.gui": {"debug"}})
	if resp.StatusCode != 303 {
		t.Fatalf("settings: %d", resp.StatusCode)
	}
	s, _ := tu.arc.Settings(ctx)
	if s.PBXName != "Vilnius PBX" || s.TimeZone != "Europe/Vilnius" || s.Sealing || s.TraceLevels["gui"] != "debug" {
		t.Fatalf("settings: %+v", s)
	}
	resp, body = alice.get("/")
	must(t, resp, body, 200, "Vilnius PBX")

	// The ingest password.
	resp, _ = admin.post("/admin/settings/ingest", url.Values{"login": {"ingest"}, "password": {"new-ingest-pw-1"}, "confirm": {"new-ingest-pw-1"}})
	if resp.StatusCode != 303 {
		t.Fatalf("ingest password: %d", resp.StatusCode)
	}
	if _, err := tu.arc.Authenticate(ctx, netip.IPv6Loopback(), "ingest", "new-ingest-pw-1"); err != nil {
		t.Fatalf("ingest password not changed: %v", err)
	}
	resp, body = admin.post("/admin/settings/ingest", url.Values{"login": {"alice"}, "password": {"new-ingest-pw-1"}, "confirm": {"new-ingest-pw-1"}})
	must(t, resp, body, 400, "Choose a recording-device account.")

	// The key form asks for the admin's password.
	resp, body = admin.post("/admin/settings/key", url.Values{"mode": {"passphrase"}, "passphrase": {"a long passphrase"}, "passphraseConfirm": {"a long passphrase"}, "current": {"wrong"}})
	must(t, resp, body, 400, "Your password is wrong.")

	// The audit page shows what happened, with the chain status.
	resp, body = admin.get("/admin/audit")
	must(t, resp, body, 200, "hash chain verifies", "settings.change", "user.delete", "user.create")
	resp, body = admin.get("/admin/audit?action=user.create")
	must(t, resp, body, 200, "user.create")
	if strings.Contains(body, "<td>settings.change</td>") {
		t.Fatal("the action filter did not filter")
	}
}
