package main

import (
	"go/parser"
	"go/token"
	"regexp"
	"strings"
	"testing"
)

// TestPackageDocCommands keeps the package documentation in step with the
// usage text: it names every command the usage lists, in the same order,
// and no other.
func TestPackageDocCommands(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	if f.Doc == nil {
		t.Fatal("main.go has no package documentation")
	}
	commands := func(text string, line *regexp.Regexp) []string {
		var names []string
		for _, m := range line.FindAllStringSubmatch(text, -1) {
			names = append(names, m[1])
		}
		return names
	}
	inUsage := commands(usage, regexp.MustCompile(`(?m)^  ([a-z]+) `))
	inDoc := commands(f.Doc.Text(), regexp.MustCompile(`(?m)^\t([a-z]+) `))
	if len(inUsage) < 10 {
		t.Fatalf("usage text not understood: commands %q", inUsage)
	}
	if strings.Join(inDoc, " ") != strings.Join(inUsage, " ") {
		t.Errorf("package documentation lists commands %q, the usage text %q", inDoc, inUsage)
	}
}
