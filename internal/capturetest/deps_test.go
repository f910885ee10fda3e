package capturetest

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps the capture synthesizer on pcapwrite and the
// standard library, so that any package's tests may use it.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".", "internal/pcapwrite")
}
