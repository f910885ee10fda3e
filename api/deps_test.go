package api

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps api a handler package over archive, as ui is:
// it shares with the pages only what internal/webcore and
// internal/websession hold, sends links through share, manages webhooks through webhook, and neither it nor
// its tests import ui, recorder, webdav or cmd, nor a store of their own.
func TestDependencies(t *testing.T) {
	depcheck.CheckTests(t, ".", "archive", "archive/seal", "archive/archivetest", "recinfo", "codec", "export", "foureyes", "share", "webhook", "mail", "legs",
		"internal/webcore", "internal/websession", "internal/byterange", "internal/webtest", "internal/testclock", "internal/listening")
	depcheck.Forbid(t, ".", "testing/...")
}
