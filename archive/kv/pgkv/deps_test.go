package pgkv

import (
	"testing"

	"github.com/callvault/callvault/internal/depcheck"
)

// TestDependencies keeps the PostgreSQL backend on the seam, pgx and the
// AWS SDK's S3 client; its tests add the contract suite, the test servers
// and the test clock.
func TestDependencies(t *testing.T) {
	libs := []string{"archive/kv", "github.com/jackc/pgx/v5/...", "github.com/aws/aws-sdk-go-v2/...", "github.com/aws/smithy-go/..."}
	depcheck.Check(t, ".", libs...)
	depcheck.CheckTests(t, ".", append(libs, "archive/kv/kvtest", "internal/servertest", "internal/testchild", "internal/testclock", "internal/depcheck")...)
	depcheck.Forbid(t, ".", "testing/...")
}
