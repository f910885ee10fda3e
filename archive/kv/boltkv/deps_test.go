package boltkv

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps the bbolt backend on the seam and bbolt; its
// tests use the contract suite.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".", "archive/kv", "go.etcd.io/bbolt/...")
	depcheck.CheckTests(t, ".", "archive/kv/...", "go.etcd.io/bbolt/...", "internal/depcheck")
	depcheck.Forbid(t, ".", "testing/...", "net/http/...")
}
