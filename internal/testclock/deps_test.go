package testclock

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps the test clock on the standard library alone.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".")
}
