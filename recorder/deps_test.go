package recorder

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps recorder in its place, codec ← recinfo ← recorder
// ← cmd with archive below: no ui, webdav, share, api or cmd, and no store
// of its own.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".", "archive", "recinfo", "codec", "recorder/capture", "recorder/sip", "internal/readahead")
}
