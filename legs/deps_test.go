package legs

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps legs pure logic: the standard library only.
func TestDependencies(t *testing.T) {
	depcheck.CheckTests(t, ".", "internal/depcheck")
	depcheck.Forbid(t, ".", "net/...", "os/exec")
}
