package readahead

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies: the standard library and keeppool only.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".", "internal/keeppool")
}
