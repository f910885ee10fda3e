package flex

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps flex a handler package over archive: it reads
// recordings through recinfo and codec, asks foureyes for 4-eyes access,
// serves audio as the API does (internal/webcore), and keeps no store
// (its links and cache live in memory).
func TestDependencies(t *testing.T) {
	depcheck.CheckTests(t, ".", "archive", "archive/archivetest", "recinfo", "codec", "foureyes", "internal/byterange", "internal/webcore", "internal/ratelimit", "internal/webtest", "internal/testclock")
	depcheck.Forbid(t, ".", "testing/...")
}
