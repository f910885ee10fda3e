package smtptest

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies: the test server is go-smtp and its SASL library.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".", "github.com/emersion/go-smtp", "github.com/emersion/go-sasl")
}
