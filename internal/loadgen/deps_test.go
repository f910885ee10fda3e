package loadgen

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps the load generator apart from the daemon: it
// writes captures with pcapwrite and G.711 with zaf/g711, and talks to the
// daemon over HTTP only.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".", "internal/pcapwrite", "github.com/zaf/g711")
}
