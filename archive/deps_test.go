package archive

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps archive free of package testing (the daemon links
// archive), of net/http and of the other callvault packages (its own seal
// subpackage aside).
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal("go list:", err)
	}
	for _, p := range strings.Fields(string(out)) {
		switch {
		case p == "testing" || strings.HasPrefix(p, "testing/"):
			t.Errorf("archive imports %s into every binary that links it (test helpers belong in archivetest)", p)
		case p == "net/http" || strings.HasPrefix(p, "net/http/"):
			t.Errorf("archive imports %s", p)
		case strings.HasPrefix(p, "github.com/callvault/callvault/") && p != "github.com/callvault/callvault/archive" &&
			p != "github.com/callvault/callvault/archive/seal":
			t.Errorf("archive imports %s", p)
		}
	}
}
