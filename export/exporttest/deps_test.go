package exporttest

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps the zip rewriter on the standard library alone.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".")
}
