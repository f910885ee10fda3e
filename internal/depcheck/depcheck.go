// Package depcheck checks in tests that dependencies point the way
// DESIGN.md ("Packages") says: each package states, in a deps_test.go of a
// few lines, which packages it may depend on, and the test fails (it never
// skips) when the go command cannot list them.
//
// The dependencies are read from `go list -deps -json`, so they are what
// the compiler links, indirect ones included. The standard library is
// always allowed; Forbid keeps single standard packages out where that
// matters (package testing in the daemon, net/http in the archive).
//
// A pattern names a package of this module by its path inside the module
// ("archive", "recorder/capture") and any other package by its import path
// ("github.com/zaf/g711"); a trailing "/..." takes in the packages below
// it as well, as with the go command.
package depcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/parser"
	"go/token"
	"io"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// store lists the storage libraries only the store owners may import.
var store = []string{"go.etcd.io/bbolt/...", "github.com/jackc/pgx/...", "github.com/aws/aws-sdk-go-v2/service/s3/..."}

// storeOwners are the packages that keep a store of their own: archive,
// and share, whose external store (share.db) must be a file apart from
// the archive so that the copies it hands out, and their keys, can be
// destroyed without touching the archive; and webhook, whose outbox
// (webhooks.db) churns with every delivery attempt and whose webhooks,
// queue and attempts can be dropped without touching the sealed archive.
// Nothing else touches a store.
var storeOwners = []string{"archive/...", "share", "webhook"}

// Check fails t when pkg (an import path or a directory such as ".")
// depends on a package outside the standard library that allowed does not
// name. Allowing a package allows what it depends on in turn: that package
// has its own rules. Whatever the allowed set, the test fails when pkg, or
// a package of this module it depends on, imports a storage library
// directly and is not a store owner (archive or below it, share, webhook).
func Check(t testing.TB, pkg string, allowed ...string) {
	t.Helper()
	check(t, pkg, false, allowed)
}

// CheckTests is Check with the tests of pkg included: what its test files
// import obeys the same rules.
func CheckTests(t testing.TB, pkg string, allowed ...string) {
	t.Helper()
	check(t, pkg, true, allowed)
}

// Forbid fails t when a package that pkg matches depends on a package
// that one of the forbidden patterns names. Its patterns are import paths
// as the go command spells them ("testing/...", "net/http/...",
// "github.com/zaf/g711"), the standard library's included. pkg may be a
// pattern such as "../..." to cover several packages.
func Forbid(t testing.TB, pkg string, forbidden ...string) {
	t.Helper()
	pkgs := list(t, pkg, false)
	for _, p := range pkgs {
		if p.DepOnly {
			continue
		}
		for _, d := range p.Deps {
			if matchAny("", forbidden, d) {
				t.Errorf("%s depends on %s, which is forbidden to it", p.ImportPath, d)
			}
		}
	}
}

// ImportedOnlyIn fails t when a Go file in dir (test files aside) other
// than the files named imports a package that pattern names (an import
// path as the go command spells it, "/..." allowed). It keeps a library to
// the few files whose duty it is, as bbolt in the archive is kept to the
// files that reach the bbolt file beneath the storage seam. A directory
// without Go files, or a named file that is not there, fails t too.
func ImportedOnlyIn(t testing.TB, dir, pattern string, files ...string) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("%s: no Go files (%v)", dir, err)
	}
	named := map[string]bool{}
	for _, f := range files {
		named[f] = true
	}
	may := "none"
	if len(files) > 0 {
		may = strings.Join(files, ", ")
	}
	fset := token.NewFileSet()
	for _, p := range paths {
		base := filepath.Base(p)
		if strings.HasSuffix(base, "_test.go") {
			continue
		}
		if named[base] {
			delete(named, base)
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatalf("%v", err)
		}
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			if err == nil && match("", pattern, path) {
				t.Errorf("%s imports %s; the files that may: %s", filepath.ToSlash(p), path, may)
			}
		}
	}
	for _, f := range slices.Sorted(maps.Keys(named)) {
		t.Errorf("%s: no file %s", dir, f)
	}
}

func check(t testing.TB, pkg string, tests bool, allowed []string) {
	t.Helper()
	pkgs := list(t, pkg, tests)
	byPath := make(map[string]*listed, len(pkgs))
	var roots []*listed
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
		if !p.DepOnly {
			roots = append(roots, p)
		}
	}
	mod := ""
	for _, root := range roots {
		if mod = modulePath(root); mod != "" {
			break
		}
	}
	if mod == "" {
		t.Fatalf("go list: %s is not in a module", pkg)
	}
	if tests {
		// The tests that hold these checks import depcheck.
		allowed = append(allowed[:len(allowed):len(allowed)], "internal/depcheck")
	}
	// The package itself, and with tests its test variants, external test
	// package and test main.
	self := map[string]bool{}
	for _, root := range roots {
		self[own(root.ImportPath)] = true
	}
	bad := map[string]string{} // dependency → the package that depends on it
	for _, root := range roots {
		// What the allowed packages depend on is allowed too.
		covered := map[string]bool{}
		for _, d := range root.Deps {
			if p := byPath[d]; p != nil && matchAny(mod, allowed, plain(d)) {
				covered[plain(d)] = true
				for _, dd := range p.Deps {
					covered[plain(dd)] = true
				}
			}
		}
		for _, d := range root.Deps {
			p := byPath[d]
			if p == nil || p.Standard || self[own(d)] || covered[plain(d)] {
				continue
			}
			bad[plain(d)] = own(root.ImportPath)
		}
	}
	may := "the standard library only"
	if len(allowed) > 0 {
		may = "the standard library and " + strings.Join(allowed, ", ")
	}
	for _, d := range slices.Sorted(maps.Keys(bad)) {
		t.Errorf("%s depends on %s; it may depend on %s", bad[d], d, may)
	}
	// Nothing but the store owners touches a store.
	for _, p := range pkgs {
		if p.ForTest != "" || strings.HasSuffix(p.ImportPath, ".test") ||
			modulePath(p) != mod || matchAny(mod, storeOwners, p.ImportPath) {
			continue
		}
		for _, imp := range p.Imports {
			if matchAny(mod, store, imp) {
				t.Errorf("%s imports %s; only archive, share and webhook may touch a store", p.ImportPath, imp)
			}
		}
	}
}

// listed is the part of go list's package record that the checks read.
type listed struct {
	ImportPath string
	Standard   bool
	DepOnly    bool
	ForTest    string
	Imports    []string
	Deps       []string
	Module     *struct{ Path string }
	Error      *struct{ Err string }
}

// list runs go list -deps on pkg and fails t, rather than skipping, when
// that does not work.
func list(t testing.TB, pkg string, tests bool) []*listed {
	t.Helper()
	args := []string{"list", "-deps", "-json=ImportPath,Standard,DepOnly,ForTest,Imports,Deps,Module,Error"}
	if tests {
		args = append(args, "-test")
	}
	args = append(args, pkg)
	cmd := exec.Command("go", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	var pkgs []*listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		p := new(listed)
		if err := dec.Decode(p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go %s: reading its output: %v", strings.Join(args, " "), err)
		}
		if p.Error != nil {
			t.Fatalf("go %s: %s: %s", strings.Join(args, " "), p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, p)
	}
	roots := 0
	for _, p := range pkgs {
		if !p.DepOnly {
			roots++
		}
	}
	if roots == 0 {
		t.Fatalf("go %s listed no package", strings.Join(args, " "))
	}
	return pkgs
}

func modulePath(p *listed) string {
	if p.Module == nil {
		return ""
	}
	return p.Module.Path
}

// plain strips the mark go list -test puts on the name of a package
// compiled for a test ("p [q.test]").
func plain(path string) string {
	if i := strings.Index(path, " ["); i >= 0 {
		path = path[:i]
	}
	return path
}

// own is plain with the names of a package's test main ("p.test") and
// external test package ("p_test") taken back to the package's own.
func own(path string) string {
	return strings.TrimSuffix(strings.TrimSuffix(plain(path), ".test"), "_test")
}

func matchAny(mod string, patterns []string, path string) bool {
	for _, pat := range patterns {
		if match(mod, pat, path) {
			return true
		}
	}
	return false
}

// match reports whether path is what pattern names, with mod the module
// path that module-relative patterns are taken against; mod "" takes
// patterns as import paths.
func match(mod, pattern, path string) bool {
	if first, _, _ := strings.Cut(pattern, "/"); mod != "" && !strings.Contains(first, ".") {
		pattern = mod + "/" + pattern
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == base || strings.HasPrefix(path, base+"/")
	}
	return path == pattern
}
