package codec

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps codec a leaf: the standard library and zaf/g711
// only, in the package and in its tests.
func TestDependencies(t *testing.T) {
	depcheck.CheckTests(t, ".", "github.com/zaf/g711")
}
