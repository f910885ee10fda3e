package bytesize

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps bytesize on the standard library alone.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".")
}
