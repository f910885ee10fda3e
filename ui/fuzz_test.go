package ui

import (
	"net/url"
	"strings"
	"testing"
)

func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "/recordings/x?q=1", "//evil", "/\\evil", "https://evil/", "/%2F%2Fevil", "javascript:alert(1)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := safeNext(s)
		if !strings.HasPrefix(n, "/") || strings.HasPrefix(n, "//") || strings.HasPrefix(n, "/\\") {
			t.Fatalf("safeNext(%q) = %q", s, n)
		}
		u, err := url.Parse(n)
		if err != nil || u.Host != "" || u.Scheme != "" {
			t.Fatalf("safeNext(%q) = %q leaves the site", s, n)
		}
	})
}

func FuzzSplitList(f *testing.F) {
	f.Add("201, 202;\n alice ,,")
	f.Fuzz(func(t *testing.T, s string) {
		seen := map[string]bool{}
		for _, x := range splitList(s) {
			if x == "" || x != strings.TrimSpace(x) || strings.ContainsAny(x, ",;\n") || seen[x] {
				t.Fatalf("splitList(%q) gave %q", s, x)
			}
			seen[x] = true
		}
	})
}
