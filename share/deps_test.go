package share

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps share a leaf over archive: it reads recordings
// through recinfo and codec, queues mail through mail's types, and keeps
// its own store (share.db) in bbolt; no ui, api, recorder or cmd.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".", "archive", "archive/seal", "recinfo", "codec", "mail", "internal/listening", "go.etcd.io/bbolt/...")
	depcheck.Forbid(t, ".", "testing/...")
}
