package recinfo

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps recinfo below recorder: of callvault's packages it
// imports codec only, in the package and in its tests.
func TestDependencies(t *testing.T) {
	for _, args := range [][]string{{"list", "-deps", "."}, {"list", "-deps", "-test", "."}} {
		out, err := exec.Command("go", args...).Output()
		if err != nil {
			t.Fatalf("go %s: %v", strings.Join(args, " "), err)
		}
		for _, p := range strings.Fields(string(out)) {
			p = strings.TrimSuffix(p, ".test")
			switch p {
			case "github.com/callvault/callvault/recinfo", "github.com/callvault/callvault/codec":
			default:
				if strings.HasPrefix(p, "github.com/callvault/callvault/") {
					t.Errorf("recinfo imports %s", p)
				}
			}
		}
	}
}
