package seal

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the seal free of bbolt, of the archive and of
// every other callvault package, so offline verification links none of
// them.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatal("go list:", err)
	}
	for _, p := range strings.Fields(string(out)) {
		switch {
		case strings.HasPrefix(p, "go.etcd.io/bbolt"):
			t.Errorf("seal imports %s", p)
		case strings.HasPrefix(p, "github.com/callvault/callvault/") && p != "github.com/callvault/callvault/archive/seal":
			t.Errorf("seal imports %s", p)
		case p != "github.com/callvault/callvault/archive/seal":
			t.Errorf("seal imports %s (the seal needs the standard library only)", p)
		}
	}
}
