package webcore

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps what pages and API share below both: it reads
// the archive, recinfo, codec and export, and never ui or api.
func TestDependencies(t *testing.T) {
	depcheck.CheckTests(t, ".", "archive", "archive/seal", "recinfo", "codec", "export")
	depcheck.Forbid(t, ".", "testing/...")
}
