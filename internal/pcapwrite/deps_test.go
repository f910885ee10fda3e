package pcapwrite

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps the capture writer on the standard library alone,
// so that every package's tests may use it.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".")
}
