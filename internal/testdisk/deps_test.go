package testdisk

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps the disk helpers on the standard library alone.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".")
}
