package seal

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps the seal on the standard library alone (no bbolt,
// no archive), so offline verification links nothing else.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".")
}
