package webhook

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps webhook a leaf over archive: it reads recordings
// (recinfo, webcore's words for direction and times), renders them
// through the Media the recorder implements and serves them as webcore
// and byterange say (the checked read, the Range header), and keeps its own store
// (webhooks.db) in bbolt; no ui, api, recorder or cmd.
func TestDependencies(t *testing.T) {
	depcheck.CheckTests(t, ".", "archive", "archive/seal", "archive/archivetest", "recinfo", "codec", "internal/webcore", "internal/byterange", "internal/webtest",
		"internal/testclock", "go.etcd.io/bbolt/...")
	depcheck.Forbid(t, ".", "testing/...")
}
