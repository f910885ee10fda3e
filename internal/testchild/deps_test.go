package testchild

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps the child starter on the standard library alone.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".")
}
