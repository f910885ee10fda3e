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

// FuzzSelected: the recordings chosen for a link (?r=a,b&r=c) come out
// trimmed, without empty ids, commas or repeats, and keep every id given.
func FuzzSelected(f *testing.F) {
	f.Add("0123456789abcdef0123456789abcdef, 1111", "1111,,x")
	f.Fuzz(func(t *testing.T, a, b string) {
		got := selected([]string{a, b})
		seen := map[string]bool{}
		for _, x := range got {
			if x == "" || x != strings.TrimSpace(x) || strings.Contains(x, ",") || seen[x] {
				t.Fatalf("selected(%q, %q) gave %q", a, b, x)
			}
			seen[x] = true
		}
		for _, v := range []string{a, b} {
			for _, x := range strings.Split(v, ",") {
				if x = strings.TrimSpace(x); x != "" && !seen[x] {
					t.Fatalf("selected(%q, %q) lost %q", a, b, x)
				}
			}
		}
	})
}
