package ui

import (
	"context"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
)

// TestListCSV: an admin exports every call of the filter (not only the
// page) as CSV in the list's order; a name a spreadsheet would run as a
// formula is escaped; the export is audited; others may not export.
func TestListCSV(t *testing.T) {
	tu := newTestUI(t)
	start := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	for i := range 30 {
		tu.addRecording("alice", fmt.Sprintf("csv%02d", i), party{Number: "201"}, party{Number: fmt.Sprint(5550000 + i)}, start.Add(time.Duration(i)*time.Minute))
	}
	evil := tu.addRecording("bob", "evil", party{Number: "202"}, party{Name: "=HYPERLINK(\"http://x\")", Number: "999"}, start.Add(time.Hour))
	admin := tu.login("admin")
	resp, body := admin.get("/?size=25")
	must(t, resp, body, 200)
	if !strings.Contains(body, `href="/recordings.csv"`) {
		t.Fatal("no CSV export link for the admin")
	}
	resp, body = admin.get("/recordings.csv?q=55500")
	must(t, resp, body, 200)
	if ct := resp.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("content type %q", ct)
	}
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 31 || strings.Join(recs[0], ",") != strings.Join(listCSVHeader, ",") {
		t.Fatalf("%d lines, header %v; want 30 calls of the filter", len(recs), recs[0])
	}
	if recs[1][2] != "2026-11-01T08:29:00Z" || recs[1][3] != "20.000" || recs[1][6] == "" {
		t.Fatalf("first row %v", recs[1])
	}
	_, body = admin.get("/recordings.csv")
	if !strings.Contains(body, evil.ID.String()) || !strings.Contains(body, `'=HYPERLINK`) || strings.Contains(body, `,=HYPERLINK`) || strings.Contains(body, `,"=HYPERLINK`) {
		t.Fatalf("formula not escaped:\n%s", body)
	}
	evs, _, err := tu.arc.AuditLog(context.Background(), archive.AuditQuery{Action: "recordings.export"})
	if err != nil || len(evs) != 2 || evs[1].Detail != "csv: 30 calls; q=55500" || evs[0].Actor != "admin" {
		t.Fatalf("audit: %+v %v", evs, err)
	}
	alice := tu.login("alice")
	if resp, body := alice.get("/recordings.csv"); resp.StatusCode != 403 {
		t.Fatalf("a user exports: %d", resp.StatusCode)
	} else if _, b := alice.get("/"); strings.Contains(b, "recordings.csv") {
		t.Fatalf("a user sees the export link: %s", body[:0])
	}
}
