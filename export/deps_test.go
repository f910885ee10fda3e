package export

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps export free of storage, so that `callvault
// verify FILE.zip` links no bbolt: no archive (its bbolt-free seal aside)
// and none of the HTTP packages, in the package and in its tests.
func TestDependencies(t *testing.T) {
	depcheck.CheckTests(t, ".", "archive/seal", "recinfo", "codec", "export/exporttest",
		"codeberg.org/go-pdf/fpdf", "golang.org/x/image/font/gofont/...")
}
