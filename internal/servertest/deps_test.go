package servertest

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps the test servers' starter on the standard
// library alone: the servers are programs it runs.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".")
}
