package capture

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps the capture reader on the standard library alone.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".")
}
