package archivetest

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps archivetest on the archive it opens and damages
// (and the disk helper that damages it): none of the packages whose tests
// use it.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".", "archive", "archive/seal", "internal/testdisk")
}
