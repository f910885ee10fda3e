package foureyes

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps foureyes below the pages, WebDAV and the
// recorder: they bind to it, it imports none of them (archive is its one
// callvault dependency).
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".", "archive", "archive/seal")
}
