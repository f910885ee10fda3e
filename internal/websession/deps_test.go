package websession

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps the session cookie on the archive alone.
func TestDependencies(t *testing.T) {
	depcheck.CheckTests(t, ".", "archive", "archive/archivetest")
	depcheck.Forbid(t, ".", "testing/...")
}
