package ui

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
)

// TestNoteAuthorExact: a note is changed only by its author or an admin.
// carol, whose access list names alice and who so reads alice's
// recordings, sees no edit link on alice's note and is refused when she
// posts anyway; the pages apply the same rule as the API
// (archive.MayChangeNote).
func TestNoteAuthorExact(t *testing.T) {
	tu := newTestUI(t)
	ctx := context.Background()
	if err := tu.arc.PutUser(ctx, archive.User{Login: "carol", Name: "Carol", Role: archive.RoleUser, AccessList: []string{"alice"}}, testPassword); err != nil {
		t.Fatal(err)
	}
	rec := tu.addRecording("alice", "notecase", party{Name: "Åsa", Number: "201"}, party{Number: "+371"}, time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC))
	id := rec.ID.String()
	n, err := tu.arc.AddNote(ctx, rec.ID, "alice", "alice's own note")
	if err != nil {
		t.Fatal(err)
	}
	edit := "/recordings/" + id + "/notes/" + strconv.FormatUint(n.ID, 10)

	other := tu.login("carol")
	resp, body := other.get("/recordings/" + id)
	must(t, resp, body, 200, "alice&#39;s own note")
	if resp.StatusCode == 200 && strings.Contains(body, edit+"/delete") {
		t.Fatal("carol is offered to delete alice's note")
	}
	resp, body = other.post(edit, url.Values{"text": {"changed by carol"}})
	must(t, resp, body, 403, "Only the author or an administrator may change this note.")
	resp, body = other.post(edit+"/delete", url.Values{})
	must(t, resp, body, 403)
	if got, err := tu.arc.Note(ctx, rec.ID, n.ID); err != nil || got.Text != "alice's own note" {
		t.Fatalf("note after carol's attempts: %+v %v", got, err)
	}

	alice := tu.login("alice")
	resp, body = alice.get("/recordings/" + id)
	must(t, resp, body, 200, edit+"/delete")
	if resp, _ := alice.post(edit, url.Values{"text": {"edited by alice"}}); resp.StatusCode != 303 {
		t.Fatalf("the author edits: %d", resp.StatusCode)
	}
}
