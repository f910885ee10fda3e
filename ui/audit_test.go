package ui

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/webcore"
	"github.com/callvault/callvault/internal/webtest"
)

func readCSV(t *testing.T, body string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("csv: %v\n%s", err, body)
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != strings.Join(webcore.CSVHeader, ",") {
		t.Fatalf("csv header: %v", rows)
	}
	return rows[1:]
}

// TestAuditLogForAuditors: entries link to their recording, actions read
// as words, the source is an address without a port, and a filtered view
// downloads as CSV (from the page and the API), safe to open in a
// spreadsheet and audited itself.
func TestAuditLogForAuditors(t *testing.T) {
	e := newPlayEnv(t)
	rec := webtest.AddRec(t, e.arc, e.clock.Now(), "alice", 100, 1, true)
	id := rec.ID.String()
	if resp, _, _ := webtest.Get(t, e.srv.URL, "alice", testPassword, "/api/v1/recordings/"+id+"/audio.wav"); resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	ctx := context.Background()
	// Entries written before sources were stored without the port, a
	// retention run, an action without words, and a detail that a
	// spreadsheet would run as a formula.
	for _, ev := range []archive.AuditEvent{
		{Actor: "bob", Action: "login", Target: "bob", Remote: "192.0.2.7:51234", OK: true},
		{Actor: "bob", Action: "login", Target: "bob", Remote: "[2001:db8::5]:443", OK: false},
		{Actor: archive.SystemActor, Action: "lifecycle.run", Target: "recordings", OK: true, Detail: "expired 0"},
		{Actor: "alice", Action: "share.send", Target: id, Remote: "192.0.2.8:1", OK: true, Detail: "=HYPERLINK(\"http://evil.example\")"},
	} {
		if err := e.arc.Audit(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}

	admin := e.login("admin")
	resp, body := admin.get("/admin/audit")
	must(t, resp, body, 200,
		`<a href="/recordings/`+id+`">`+id+`</a>`, `title="play">Played<`, `title="lifecycle.run">Retention run<`,
		`title="share.send">Sent a link to an external recipient<`, `title="login">Logged in<`, ">192.0.2.7<", ">2001:db8::5<", ">127.0.0.1<",
		`href="/admin/audit.csv"`)
	for _, port := range []string{"192.0.2.7:51234", ":51234", "]:443", "127.0.0.1:"} {
		if strings.Contains(body, port) {
			t.Fatalf("the page shows a port: %q", port)
		}
	}
	if strings.Contains(body, `<a href="/recordings/recordings"`) || strings.Contains(body, `href="/recordings/bob"`) {
		t.Fatal("a target that is no recording is linked")
	}

	// The filtered view and its CSV.
	resp, body = admin.get("/admin/audit?action=login&actor=bob")
	must(t, resp, body, 200, `href="/admin/audit.csv?action=login&amp;actor=bob"`)
	resp, body = admin.get("/admin/audit.csv?action=login&actor=bob")
	must(t, resp, body, 200)
	if ct := resp.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("csv headers: %q %q", ct, resp.Header.Get("Content-Disposition"))
	}
	rows := readCSV(t, body)
	if len(rows) != 2 {
		t.Fatalf("csv rows for bob's logins: %v", rows)
	}
	for _, r := range rows {
		if r[2] != "bob" || r[3] != "login" || r[4] != "Logged in" || strings.Contains(r[6], ":51234") || len(r[9]) != 64 {
			t.Fatalf("csv row: %v", r)
		}
	}
	if rows[0][6] != "2001:db8::5" || rows[0][7] != "failed" || rows[1][6] != "192.0.2.7" || rows[1][7] != "ok" {
		t.Fatalf("csv rows (newest first): %v", rows)
	}
	exports := webtest.Audited(t, e.arc, "audit.export")
	if len(exports) != 1 || exports[0].Actor != "admin" || !strings.Contains(exports[0].Detail, "actor=bob action=login") {
		t.Fatalf("audit.export entries: %+v", exports)
	}
	// Only admins export.
	alice := e.login("alice")
	if resp, _ := alice.get("/admin/audit.csv"); resp.StatusCode == 200 {
		t.Fatal("alice exports the audit log")
	}

	// The API: format=csv and Accept: text/csv, same filters; cells a
	// spreadsheet would run are quoted.
	for _, hdr := range [][]string{nil, {"Accept", "text/csv"}} {
		path := "/api/v1/audit?actor=alice"
		if hdr == nil {
			path += "&format=csv"
		}
		resp, b, err := webtest.Get(t, e.srv.URL, "admin", testPassword, path, hdr...)
		if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
			t.Fatalf("%s %v: %d %v", path, hdr, resp.StatusCode, err)
		}
		rows := readCSV(t, string(b))
		// alice's login, the share, the play.
		if len(rows) != 3 || rows[0][3] != "login" || rows[1][3] != "share.send" || rows[2][3] != "play" || rows[2][5] != id {
			t.Fatalf("api csv rows: %v", rows)
		}
		if rows[1][8] != `'=HYPERLINK("http://evil.example")` {
			t.Fatalf("formula cell: %q", rows[1][8])
		}
	}
	if n := len(webtest.Audited(t, e.arc, "audit.export")); n != 3 {
		t.Fatalf("%d audit.export entries, want 3", n)
	}
	resp2, b, _ := webtest.Get(t, e.srv.URL, "admin", testPassword, "/api/v1/audit?actor=bob")
	var js struct{ Events []struct{ Remote string } }
	if err := json.Unmarshal(b, &js); err != nil || resp2.StatusCode != 200 || len(js.Events) != 2 || js.Events[1].Remote != "192.0.2.7" {
		t.Fatalf("api json: %d %v %+v", resp2.StatusCode, err, js)
	}
	webtest.WantStatus(t, e.srv.URL, "admin", "/api/v1/audit?format=xml", http.StatusBadRequest, "format")
}
