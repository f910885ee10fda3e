package export

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps export free of storage, so that `callvault
// verify FILE.zip` links no bbolt: no bbolt, no archive (its bbolt-free
// seal aside) and none of the HTTP packages, in the package and in its
// tests. It fails, not skips, when go list cannot run.
func TestDependencies(t *testing.T) {
	for _, args := range [][]string{{"list", "-deps", "."}, {"list", "-deps", "-test", "."}} {
		out, err := exec.Command("go", args...).Output()
		if err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, ee.Stderr)
			}
			t.Fatalf("go %s: %v", strings.Join(args, " "), err)
		}
		pkgs := strings.Fields(string(out))
		if len(pkgs) == 0 {
			t.Fatalf("go %s listed nothing", strings.Join(args, " "))
		}
		for _, p := range pkgs {
			p = strings.TrimSuffix(p, ".test")
			switch {
			case strings.HasPrefix(p, "go.etcd.io/bbolt"):
				t.Errorf("export imports %s", p)
			case !strings.HasPrefix(p, "github.com/callvault/callvault/"):
			case p == "github.com/callvault/callvault/export", p == "github.com/callvault/callvault/archive/seal",
				p == "github.com/callvault/callvault/recinfo", p == "github.com/callvault/callvault/codec":
			default:
				t.Errorf("export imports %s (only archive/seal, recinfo and codec are allowed)", p)
			}
		}
	}
}
