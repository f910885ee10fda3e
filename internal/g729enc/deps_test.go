package g729enc

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps the test encoder on the G.729 building blocks;
// its tests decode with codec and read the corpus.
func TestDependencies(t *testing.T) {
	depcheck.CheckTests(t, ".", "internal/g729core", "codec", "internal/testcorpus")
}
