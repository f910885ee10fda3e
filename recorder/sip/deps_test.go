package sip

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps the SIP/SDP parser on the standard library alone.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".")
}
