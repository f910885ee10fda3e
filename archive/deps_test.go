package archive

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps the other callvault packages (its own seal
// subpackage, the storage seam under kv, and the slot file mechanics of
// internal/slotfile and the counters of internal/ratelimit aside) out of archive, and package testing (the daemon
// links archive; test helpers belong in archivetest) and net/http too.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".", "archive/seal", "archive/kv/...", "internal/slotfile", "internal/keeppool", "internal/ratelimit", "go.etcd.io/bbolt/...", "golang.org/x/crypto/argon2")
	depcheck.Forbid(t, ".", "testing/...", "net/http/...")
}

// TestBoltOnlyBeneathTheSeam keeps bbolt to the files that do what only a
// bbolt file needs (opening and walking the file, its consistency check,
// backup by copying it, compaction, salvage); everything else reaches the
// records through kv.Store and runs on any backend.
func TestBoltOnlyBeneathTheSeam(t *testing.T) {
	depcheck.ImportedOnlyIn(t, ".", "go.etcd.io/bbolt/...",
		"guard.go", "pagewalk.go", "compact.go", "backup.go", "salvage.go", "salvage_stray.go", "migrate_bolt.go")
}
