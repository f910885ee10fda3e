package ui

import (
	"strings"
	"testing"

	"github.com/callvault/callvault/internal/webtest"
)

// TestVerifyExportsPendingPage: the recording page's check of a recording
// whose export hashes are not sealed yet verifies and says they are
// pending; once sealed, it no longer does.
func TestVerifyExportsPendingPage(t *testing.T) {
	e := newPlayEnv(t)
	rec := webtest.AddRec(t, e.arc, e.clock.Now(), "alice", 100, 1, false)
	if err := e.arc.SealDeferred(t.Context(), rec.ID); err != nil {
		t.Fatal(err)
	}
	alice := e.login("alice")
	resp, body := alice.post("/recordings/"+rec.ID.String()+"/verify", nil)
	must(t, resp, body, 200, "Verified:", `id="verify-exports-pending"`, "not sealed yet")
	if err := e.arc.SealExports(t.Context(), rec.ID, nil); err != nil {
		t.Fatal(err)
	}
	resp, body = alice.post("/recordings/"+rec.ID.String()+"/verify", nil)
	must(t, resp, body, 200, "Verified:")
	if strings.Contains(body, `id="verify-exports-pending"`) {
		t.Fatal("the check still says the export hashes are pending")
	}
}
