package webdav

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps webdav on archive's API: none of recorder, ui,
// api, share or cmd, and no bbolt of its own.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".", "archive", "archive/seal", "github.com/emersion/go-webdav/...")
}
