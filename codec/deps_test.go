package codec

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps codec a leaf: the standard library and zaf/g711 only, in
// the package and in its tests.
func TestDeps(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go command not found, cannot check dependencies: %v", err)
	}
	allowed := map[string]bool{
		"github.com/callvault/callvault/codec": true,
		"github.com/zaf/g711":                  true,
	}
	for _, withTests := range []bool{false, true} {
		args := []string{"list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}"}
		if withTests {
			args = append(args, "-test")
		}
		out, err := exec.Command(gobin, append(args, ".")...).Output()
		if err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, ee.Stderr)
			}
			t.Fatalf("go %s: %v", strings.Join(args, " "), err)
		}
		for _, p := range strings.Fields(string(out)) {
			// With -test: "pkg [pkg.test]" variants and the test main "pkg.test".
			if strings.HasPrefix(p, "[") {
				continue
			}
			p = strings.TrimSuffix(p, ".test")
			if !allowed[p] {
				t.Errorf("codec depends on %s (tests included: %v); only the standard library and github.com/zaf/g711 are allowed", p, withTests)
			}
		}
	}
}
