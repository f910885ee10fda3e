package foureyes

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps foureyes below the pages, WebDAV and the
// recorder: they bind to it, it imports none of them (archive is its one
// callvault dependency).
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal("go list:", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 || !strings.Contains(string(out), "github.com/callvault/callvault/archive") {
		t.Fatal("go list output not understood")
	}
	for _, p := range deps {
		// ui, webdav and recorder above all; any other callvault package
		// but archive (and its seal) is as wrong.
		if strings.HasPrefix(p, "github.com/callvault/callvault/") && p != "github.com/callvault/callvault/foureyes" &&
			p != "github.com/callvault/callvault/archive" && !strings.HasPrefix(p, "github.com/callvault/callvault/archive/") {
			t.Errorf("foureyes imports %s", p)
		}
	}
}
