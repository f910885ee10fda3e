package g729core

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps the G.729 building blocks on the standard library
// alone.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".")
}
