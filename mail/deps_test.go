package mail

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies: mail links the SMTP client library and nothing else of
// the module's or anyone's; its tests add the loopback SMTP server.
func TestDependencies(t *testing.T) {
	depcheck.Check(t, ".", "github.com/wneessen/go-mail")
	depcheck.CheckTests(t, ".", "github.com/wneessen/go-mail", "internal/smtptest", "internal/depcheck")
	depcheck.Forbid(t, ".", "testing/...", "net/http/...")
}
