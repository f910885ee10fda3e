package browsertest

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies: a test package around chromedp, nothing of callvault.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".", "github.com/chromedp/...")
}
