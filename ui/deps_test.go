package ui

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps ui a handler package over archive: it reads
// recordings through recinfo and codec, uses the leaves export and
// foureyes, and imports none of recorder, webdav, share, api or cmd, nor a
// store of its own.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".", "archive", "archive/seal", "recinfo", "codec", "export", "foureyes", "internal/bytesize")
}
