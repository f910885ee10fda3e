package api

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/callvault/callvault/archive/archivetest"
	"github.com/callvault/callvault/internal/webtest"
)

// openAPIOps reads the operations of openapi.yaml as "METHOD /path"
// with the set of those marked x-served-by (mounted outside api.API). It
// reads the file's fixed layout: paths at two spaces, methods at four,
// their keys at six.
func openAPIOps(t *testing.T) (ops []string, elsewhere map[string]bool) {
	t.Helper()
	f, err := os.Open("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pathRe := regexp.MustCompile(`^  (/\S*):\s*$`)
	methodRe := regexp.MustCompile(`^    (get|put|post|patch|delete|head|options):\s*$`)
	elsewhere = map[string]bool{}
	inPaths, path, op := false, "", ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "paths:":
			inPaths = true
			continue
		case len(line) > 0 && line[0] != ' ' && line[0] != '#':
			inPaths = false
		}
		if !inPaths {
			continue
		}
		if m := pathRe.FindStringSubmatch(line); m != nil {
			path, op = m[1], ""
		} else if m := methodRe.FindStringSubmatch(line); m != nil && path != "" {
			op = strings.ToUpper(m[1]) + " " + path
			if slices.Contains(ops, op) {
				t.Errorf("openapi.yaml: %s twice", op)
			}
			ops = append(ops, op)
		} else if op != "" && strings.HasPrefix(line, "      x-served-by:") {
			elsewhere[op] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(ops) < 10 {
		t.Fatalf("openapi.yaml: only %d operations found; layout changed?", len(ops))
	}
	return ops, elsewhere
}

// apiRoutePatterns returns the patterns registered with mux.Handle or
// mux.HandleFunc in methods of *API in this package's sources.
func apiRoutePatterns(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv == nil || fd.Body == nil || !isAPIRecv(fd.Recv) {
				continue
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) == 0 {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
					return true
				}
				lit, ok := call.Args[0].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Errorf("%s: route pattern is not a string literal", fset.Position(call.Pos()))
					return true
				}
				p, _ := strconv.Unquote(lit.Value)
				out = append(out, p)
				return true
			})
		}
	}
	return out
}

func isAPIRecv(fl *ast.FieldList) bool {
	if len(fl.List) != 1 {
		return false
	}
	st, ok := fl.List[0].Type.(*ast.StarExpr)
	if !ok {
		return false
	}
	id, ok := st.X.(*ast.Ident)
	return ok && id.Name == "API"
}

// TestOpenAPIMatchesRoutes checks that every route of the API handler is
// documented in api/openapi.yaml and that every documented operation (but
// those served elsewhere) reaches exactly that route of the handler.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	ops, elsewhere := openAPIOps(t)
	routes := apiRoutePatterns(t)
	if len(routes) < 10 {
		t.Fatalf("only %d routes found", len(routes))
	}
	for _, r := range routes {
		if !slices.Contains(ops, r) {
			t.Errorf("route %q is not documented in api/openapi.yaml", r)
		}
		if elsewhere[r] {
			t.Errorf("route %q is served by api.API but marked x-served-by", r)
		}
	}
	mux, ok := New(archivetest.OpenTest(t), webtest.SilentMedia{}, nil).Routes().(*http.ServeMux)
	if !ok {
		t.Fatal("Routes is not a *http.ServeMux")
	}
	params := regexp.MustCompile(`\{[^}]+\}`)
	for _, op := range ops {
		if elsewhere[op] {
			continue
		}
		if !slices.Contains(routes, op) {
			t.Errorf("documented operation %q is not a route of api.API", op)
			continue
		}
		method, path, _ := strings.Cut(op, " ")
		req := httptest.NewRequest(method, params.ReplaceAllString(path, "x1"), nil)
		if _, pattern := mux.Handler(req); pattern != op {
			t.Errorf("%s reaches %q", op, pattern)
		}
	}
}
