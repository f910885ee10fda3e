package i18n

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps i18n a leaf of the standard library: the rules
// of writing a language, shared by the UI and the playback page.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".")
	depcheck.Forbid(t, ".", "testing/...")
}
