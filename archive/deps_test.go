package archive

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps the other callvault packages (its own seal
// subpackage and the slot file mechanics of internal/slotfile aside) out
// of archive, and package testing (the daemon links
// archive; test helpers belong in archivetest) and net/http too.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".", "archive/seal", "internal/slotfile", "go.etcd.io/bbolt/...", "golang.org/x/crypto/argon2")
	depcheck.Forbid(t, ".", "testing/...", "net/http/...")
}
