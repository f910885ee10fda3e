package boltkv

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps boltkv to the seam it implements and bbolt.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".", "archive/kv", "go.etcd.io/bbolt/...")
	depcheck.Forbid(t, ".", "testing/...", "net/http/...")
}
