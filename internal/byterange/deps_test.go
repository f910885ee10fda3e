package byterange

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies: the standard library only.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".")
}
