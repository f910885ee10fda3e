package ui

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps ui a handler package over archive: it reads
// recordings through recinfo and codec, uses the leaves export and
// foureyes, sends and lists secure links through share, shares with the
// JSON API only what internal/webcore and internal/websession hold, and
// imports none of api, recorder, webdav or cmd, nor a store of its own. (Its tests mount the JSON API
// beside the pages, as the daemon does: the pages' player and links reach
// it.)
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".", "archive", "archive/seal", "recinfo", "codec", "export", "foureyes", "share", "webhook", "internal/bytesize",
		"internal/webcore", "internal/websession")
	depcheck.Forbid(t, ".", "testing/...")
}
