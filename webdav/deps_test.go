package webdav

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps webdav on archive's API: it imports no bbolt
// itself, and none of recorder, ui, share or cmd even indirectly.
func TestDependencies(t *testing.T) {
	deps, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal("go list:", err)
	}
	direct, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, ".").Output()
	if err != nil {
		t.Fatal("go list:", err)
	}
	if !strings.Contains(string(deps), "github.com/callvault/callvault/archive") {
		t.Fatal("go list output not understood")
	}
	for _, p := range strings.Fields(string(direct)) {
		if strings.HasPrefix(p, "go.etcd.io/") {
			t.Errorf("webdav imports %s", p)
		}
	}
	for _, p := range strings.Fields(string(deps)) {
		switch {
		case strings.HasPrefix(p, "github.com/callvault/callvault/") && p != "github.com/callvault/callvault/archive" &&
			p != "github.com/callvault/callvault/archive/seal" && p != "github.com/callvault/callvault/webdav":
			t.Errorf("webdav imports %s", p)
		}
	}
}
