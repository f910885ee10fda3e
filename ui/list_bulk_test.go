package ui

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/export"
	"github.com/callvault/callvault/internal/webtest"
)

func sampleBulkPages(base Base) []any {
	evil := `<script>alert(1)</script>`
	rows := []bulkRow{
		{ID: "a", URL: "/recordings/a", Label: "2026-11-01 08:00 · 555" + evil, Done: true},
		{ID: "b", Label: "b", Why: "This recording is protected (legal hold)." + evil},
	}
	return []any{
		bulkPage{},
		bulkPage{Base: base, Action: bulkProtect, Heading: "Protect recordings", Reason: "case 42" + evil, Rows: rows, Done: 1, Refused: 1},
		bulkPage{Base: base, Action: bulkDelete, Heading: "Delete recordings", Rows: rows, Confirm: true, IDs: []string{"a"}, Permanent: true},
		bulkPage{Base: base, Action: bulkZip, Heading: "Download recordings", Rows: rows, Refused: 1, ZipIDs: []string{"a"}},
	}
}

// TestListBulk: protect three selected calls with a case number (a note
// on each and the audit log), a refused row explained; delete asks first
// and refuses the protected ones; a zip holds each recording in a folder.
func TestListBulk(t *testing.T) {
	tu := newTestUI(t)
	tu.ui.media = webtest.SilentMedia{} // the zip renders WAVs
	ctx := context.Background()
	start := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	var mine []*archive.Recording
	for i := range 4 {
		mine = append(mine, tu.addRecording("alice", fmt.Sprintf("bulk%d", i), party{Number: "201"}, party{Number: fmt.Sprint(5550000 + i)}, start.Add(time.Duration(i)*time.Minute)))
	}
	bobs := tu.addRecording("bob", "bobs", party{Number: "202"}, party{Number: "1"}, start)
	admin := tu.login("admin")
	form := url.Values{"action": {"protect"}, "reason": {"  case  4711 "}}
	for _, rec := range mine[:3] {
		form.Add("r", rec.ID.String())
	}
	resp, body := admin.post("/recordings/bulk", form)
	must(t, resp, body, 200)
	if !strings.Contains(body, "3 done.") || !strings.Contains(body, "case 4711") {
		t.Fatalf("bulk protect page:\n%s", body)
	}
	for i, rec := range mine {
		got, err := tu.arc.Get(ctx, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		notes, _ := tu.arc.Notes(ctx, rec.ID)
		if want := i < 3; got.Protected != want || (len(notes) == 1) != want {
			t.Fatalf("recording %d: protected %v, %d notes", i, got.Protected, len(notes))
		}
		if i < 3 && notes[0].Text != "Protected (legal hold): case 4711" {
			t.Fatalf("note %q", notes[0].Text)
		}
	}
	evs, _, _ := tu.arc.AuditLog(ctx, archive.AuditQuery{Action: "recording.protect"})
	if len(evs) != 3 || evs[0].Detail != "reason: case 4711" {
		t.Fatalf("audit: %+v", evs)
	}
	// Again: each row says it was already protected; a garbage id is refused.
	resp, body = admin.post("/recordings/bulk", url.Values{"action": {"protect"}, "r": {mine[0].ID.String() + "," + mine[1].ID.String()}})
	must(t, resp, body, 200)
	if !strings.Contains(body, "0 done, 2 refused.") || strings.Count(body, "It was already protected.") != 2 {
		t.Fatalf("again:\n%s", body)
	}
	if resp, _ := admin.post("/recordings/bulk", url.Values{"action": {"protect"}, "r": {"nope"}}); resp.StatusCode != 400 {
		t.Fatalf("bad id: %d", resp.StatusCode)
	}

	// Alice: her own deletable, bob's not visible, protected ones refused.
	alice := tu.login("alice")
	sel := url.Values{"action": {"delete"}, "r": {mine[0].ID.String(), mine[3].ID.String(), bobs.ID.String()}}
	resp, body = alice.post("/recordings/bulk", sel)
	must(t, resp, body, 200)
	if !strings.Contains(body, "protected (legal hold)") || !strings.Contains(body, "There is no such recording, or you may not see it.") ||
		!strings.Contains(body, `id="bulk-confirm"`) || !strings.Contains(body, "Delete 1 recording") {
		t.Fatalf("delete confirmation:\n%s", body)
	}
	if got, _ := tu.arc.Get(ctx, mine[3].ID); got == nil {
		t.Fatal("deleted before confirming")
	}
	sel.Set("confirm", "1")
	resp, body = alice.post("/recordings/bulk", sel)
	must(t, resp, body, 200)
	if !strings.Contains(body, "1 done, 2 refused.") {
		t.Fatalf("delete:\n%s", body)
	}
	if got, err := tu.arc.Get(ctx, mine[3].ID); err == nil && got.Binned.IsZero() {
		t.Fatal("not deleted")
	}
	if got, _ := tu.arc.Get(ctx, mine[0].ID); got == nil || !got.Binned.IsZero() {
		t.Fatal("a protected recording was deleted")
	}

	// Zip of two: one folder each, with their files, streamed: nothing of
	// it is written to disk (no temporary directory to write to).
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	resp, body = admin.post("/recordings/bulk", url.Values{"action": {"zip"}, "r": {mine[1].ID.String() + "," + bobs.ID.String()}})
	must(t, resp, body, 200)
	if ct := resp.Header.Get("Content-Type"); ct != "application/zip" {
		t.Fatalf("zip: %s\n%s", ct, body)
	}
	zr, err := zip.NewReader(bytes.NewReader([]byte(body)), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]int{}
	for _, f := range zr.File {
		dir, _, ok := strings.Cut(f.Name, "/")
		if !ok {
			t.Fatalf("file %s not in a folder", f.Name)
		}
		dirs[dir]++
	}
	if len(dirs) != 2 || dirs["20261101-080100-"+mine[1].ID.String()[:8]] != 4 {
		t.Fatalf("zip folders: %v", dirs)
	}
	// Each folder is one recording's zip: its seal.json names its files.
	for dir := range dirs {
		rc, err := zr.Open(dir + "/" + export.SealName)
		if err != nil {
			t.Fatal(err)
		}
		var zs export.SealFile
		err = json.NewDecoder(rc).Decode(&zs)
		rc.Close()
		if err != nil || len(zs.Files) != 3 {
			t.Fatalf("%s: seal.json %+v %v", dir, zs, err)
		}
		for name, sum := range zs.Files {
			b, err := fs.ReadFile(zr, dir+"/"+name)
			if h := sha256.Sum256(b); err != nil || hex.EncodeToString(h[:]) != sum {
				t.Fatalf("%s/%s: %v, or not the sum seal.json names", dir, name, err)
			}
		}
	}
	// Alice may not download bob's: the page says so and offers hers.
	resp, body = alice.post("/recordings/bulk", url.Values{"action": {"zip"}, "r": {mine[1].ID.String(), bobs.ID.String()}})
	must(t, resp, body, 200)
	if !strings.Contains(body, "1 of the selected recordings cannot be downloaded") || !strings.Contains(body, "Download the other 1") {
		t.Fatalf("refused zip:\n%s", body)
	}
}
