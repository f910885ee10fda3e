package i18n

import (
	"fmt"
	"html/template"
	"slices"
	"strings"
	"text/template/parse"
)

// TemplateKeys adds to keys the string literal passed first to a call of
// the function fn anywhere in t's templates ({{fn "key"}}, also inside
// pipelines and nested actions). A call whose key is not a literal is
// reported as an error: a key must be seen to be checked.
func TemplateKeys(t *template.Template, fn string, keys map[string]bool) error {
	var err error
	for _, tt := range t.Templates() {
		if tt.Tree == nil || tt.Tree.Root == nil {
			continue
		}
		walk(tt.Tree.Root, func(c *parse.CommandNode) {
			id, ok := c.Args[0].(*parse.IdentifierNode)
			if !ok || id.Ident != fn {
				return
			}
			if len(c.Args) < 2 {
				err = fmt.Errorf("template %s: %s without a key", tt.Name(), fn)
				return
			}
			s, ok := c.Args[1].(*parse.StringNode)
			if !ok {
				err = fmt.Errorf("template %s: %s with a key that is not a literal: %s", tt.Name(), fn, c)
				return
			}
			keys[s.Text] = true
		})
	}
	return err
}

// walk calls f on every command under n.
func walk(n parse.Node, f func(*parse.CommandNode)) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walk(c, f)
		}
	case *parse.ActionNode:
		walk(n.Pipe, f)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			walk(c, f)
		}
	case *parse.CommandNode:
		if len(n.Args) > 0 {
			f(n)
		}
		for _, a := range n.Args {
			walk(a, f)
		}
	case *parse.IfNode:
		walkBranch(&n.BranchNode, f)
	case *parse.RangeNode:
		walkBranch(&n.BranchNode, f)
	case *parse.WithNode:
		walkBranch(&n.BranchNode, f)
	case *parse.TemplateNode:
		walk(n.Pipe, f)
	}
}

// walkBranch walks an if, range or with: its pipeline and both lists.
func walkBranch(b *parse.BranchNode, f func(*parse.CommandNode)) {
	walk(b.Pipe, f)
	walk(b.List, f)
	walk(b.ElseList, f)
}

// Check compares catalogues (language → key → text) with the keys a
// product uses: every used key must have a text in every language, and
// every key of a catalogue must be used. The error lists every problem,
// sorted, so a start-up failure names them all at once.
func Check(catalogues map[string]map[string]string, used map[string]bool) error {
	var problems []string
	for lang, cat := range catalogues {
		for k := range used {
			if strings.TrimSpace(cat[k]) == "" {
				problems = append(problems, fmt.Sprintf("%s: key %q is missing", lang, k))
			}
		}
		for k := range cat {
			if !used[k] {
				problems = append(problems, fmt.Sprintf("%s: key %q is not used", lang, k))
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	slices.Sort(problems)
	return fmt.Errorf("i18n: %d problems: %s", len(problems), strings.Join(problems, "; "))
}
