package share

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps share a leaf over archive: it reads recordings
// through recinfo and codec, queues mail through mail's types, picks a language through internal/i18n, and keeps
// its own store (share.db) in bbolt, with the grant keys in a slot file
// (internal/slotfile); no ui, api, recorder or cmd.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".", "archive", "archive/seal", "recinfo", "codec", "mail", "internal/byterange", "internal/i18n", "internal/listening", "internal/ratelimit", "internal/slotfile", "go.etcd.io/bbolt/...")
	depcheck.Forbid(t, ".", "testing/...")
}
