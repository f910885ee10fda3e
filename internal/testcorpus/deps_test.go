package testcorpus

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps the corpus locator on the standard library alone.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".")
}
