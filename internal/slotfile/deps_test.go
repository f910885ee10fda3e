package slotfile

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps the slot file on the standard library: it is a
// file mechanism below the archive and share, not a store.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".")
	depcheck.Forbid(t, ".", "testing/...", "net/http/...")
}
