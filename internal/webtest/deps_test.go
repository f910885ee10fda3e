package webtest

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps the test helpers of ui and api on the archive
// and codec alone.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".", "archive", "archive/archivetest", "codec")
}
