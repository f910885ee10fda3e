package ui

import (
	"context"
	"net/url"
	"testing"
)

// TestUserOwnSupervisorAnyCase: the user form refuses a supervisor that
// is the user's own login in another letter case (4-eyes access compares
// logins without case), on create and on change.
func TestUserOwnSupervisorAnyCase(t *testing.T) {
	tu := newTestUI(t)
	ctx := context.Background()
	admin := tu.login("admin")
	resp, body := admin.post("/admin/users/alice", url.Values{"name": {"Åsa Øberg"}, "role": {"user"}, "extensions": {"201"},
		"supervisor": {"Alice"}, "deletionMode": {"recoverable"}})
	must(t, resp, body, 400, "A user cannot be their own supervisor.")
	// A new login cannot differ from an existing one only in case, so
	// the supervisor here names no account; the form says why first.
	resp, body = admin.post("/admin/users", url.Values{"login": {"Zora"}, "role": {"user"}, "supervisor": {"ZORA"},
		"password": {testPassword}, "confirm": {testPassword}, "deletionMode": {"recoverable"}})
	must(t, resp, body, 400, "A user cannot be their own supervisor.")
	if u, err := tu.arc.GetUser(ctx, "alice"); err != nil || u.Supervisor != "" {
		t.Fatalf("alice: %+v %v", u, err)
	}
	if _, err := tu.arc.GetUser(ctx, "Zora"); err == nil {
		t.Fatal("Zora was created")
	}
}
