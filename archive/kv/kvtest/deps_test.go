package kvtest

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps the contract suite on the seam alone: it must not
// know any backend.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".", "archive/kv")
}
