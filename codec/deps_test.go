package codec

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps codec a leaf: the standard library and zaf/g711
// only, in the package, with the G.729 building blocks of internal/g729core;
// its tests also compare audio with testcorpus.
func TestDependencies(t *testing.T) {
	depcheck.CheckTests(t, ".", "github.com/zaf/g711", "internal/g729core", "internal/testcorpus")
}
