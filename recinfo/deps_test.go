package recinfo

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps recinfo below recorder: of callvault's packages
// it uses codec only, in the package and in its tests.
func TestDependencies(t *testing.T) {
	depcheck.CheckTests(t, ".", "codec")
}
