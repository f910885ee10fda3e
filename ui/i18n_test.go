package ui

import (
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"html/template"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/callvault/callvault/internal/webcore"
)

// withoutScriptText is a page without the layout's block of script texts.
func withoutScriptText(body string) string {
	return regexp.MustCompile(`(?s)<script type="application/json" id="ui-text">.*?</script>`).ReplaceAllString(body, "")
}

// TestTextsComplete: text.json has every key in English and German, and
// the start-up check finds every key the templates and scripts use and
// no key they do not.
func TestTextsComplete(t *testing.T) {
	tx, err := loadTexts()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range uiLanguages {
		if len(tx[l]) != len(tx[uiLanguages[0]]) {
			t.Errorf("%s has %d texts, %s %d", l, len(tx[l]), uiLanguages[0], len(tx[uiLanguages[0]]))
		}
	}
	pages := parsedPages(t, tx)
	st, err := loadStatic()
	if err != nil {
		t.Fatal(err)
	}
	if err := checkTexts(tx, pages, st.scripts()); err != nil {
		t.Fatal(err)
	}
}

func parsedPages(t *testing.T, tx texts) map[string]*template.Template {
	t.Helper()
	pages, err := parseTemplates(textFuncs(tx, "en"))
	if err != nil {
		t.Fatal(err)
	}
	return pages
}

// TestTextsCheckRefuses: the start-up check refuses a key a template uses
// that a language lacks, a key nothing uses, a key with no text, and a
// language the pages do not speak; New fails with it.
func TestTextsCheckRefuses(t *testing.T) {
	good, err := loadTexts()
	if err != nil {
		t.Fatal(err)
	}
	pages := parsedPages(t, good)
	st, err := loadStatic()
	if err != nil {
		t.Fatal(err)
	}
	clone := func() texts {
		c := texts{}
		for l, m := range good {
			c[l] = maps.Clone(m)
		}
		return c
	}
	missing := clone()
	delete(missing["de"], "nav.recordings")
	if err := checkTexts(missing, pages, st.scripts()); err == nil || !strings.Contains(err.Error(), `de: key "nav.recordings" is missing`) {
		t.Errorf("a key missing in German: %v", err)
	}
	missingEn := clone()
	delete(missingEn["en"], "js.play") // a key of the scripts
	if err := checkTexts(missingEn, pages, st.scripts()); err == nil || !strings.Contains(err.Error(), `en: key "js.play" is missing`) {
		t.Errorf("a key missing in English: %v", err)
	}
	unused := clone()
	unused["en"]["nav.nowhere"], unused["de"]["nav.nowhere"] = "Nowhere", "Nirgends"
	if err := checkTexts(unused, pages, st.scripts()); err == nil || !strings.Contains(err.Error(), `key "nav.nowhere" is not used`) {
		t.Errorf("an unused key: %v", err)
	}
	empty := clone()
	empty["de"]["login.title"] = " "
	if err := checkTexts(empty, pages, st.scripts()); err == nil || !strings.Contains(err.Error(), `de: key "login.title" is missing`) {
		t.Errorf("an empty text: %v", err)
	}
	if _, err := parseTexts([]byte(`{"a.b": {"en": "A", "fr": "A"}}`)); err == nil {
		t.Error("a language the pages do not speak passed")
	}
	if _, err := parseTexts([]byte(`{"a.b": "A"}`)); err == nil {
		t.Error("a malformed catalogue passed")
	}
}

// goKey is a key Go code names: "msg." and a dotted name.
var goKey = regexp.MustCompile(`^msg\.[A-Za-z0-9_.]+$`)

// TestTextKeysOfGo: every "msg." key the package's Go code names has a
// text, and every "msg." key of text.json is named by the Go code; the
// words of the audit actions (msg.action.ACTION, looked up by action)
// cover every action webcore has words for.
func TestTextKeysOfGo(t *testing.T) {
	tx, err := loadTexts()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && goKey.MatchString(s) {
					used[s] = true
				}
			}
			return true
		})
	}
	if len(used) < 100 {
		t.Fatalf("only %d keys found in the Go code", len(used))
	}
	for _, l := range uiLanguages {
		for _, k := range slices.Sorted(maps.Keys(used)) {
			if k == "msg.action." {
				continue // the prefix of the actions' keys
			}
			if strings.TrimSpace(tx[l][k]) == "" {
				t.Errorf("%s: key %q of the Go code has no text", l, k)
			}
		}
		for k := range tx[l] {
			if strings.HasPrefix(k, "msg.action.") {
				continue
			}
			if strings.HasPrefix(k, "msg.") && !used[k] {
				t.Errorf("%s: key %q is used by no Go code", l, k)
			}
		}
		for action := range webcore.ActionWords {
			if tx[l]["msg.action."+action] == "" {
				t.Errorf("%s: the audit action %q has no words", l, action)
			}
		}
	}
	// The English words of the actions are webcore's (the audit CSV's).
	for action, words := range webcore.ActionWords {
		if got := tx["en"]["msg.action."+action]; got != words {
			t.Errorf("action %q: %q in text.json, %q in webcore", action, got, words)
		}
	}
}

// A template's own words: text between tags (its tags and entities
// removed), and the attributes people read.
var (
	tagOrEntity = regexp.MustCompile(`(?s)<[^>]*>|&[a-z]+;|&#[0-9]+;`)
	readAttr    = regexp.MustCompile(`\b(?:title|aria-label|placeholder|alt|data-confirm)="([^"]*)"`)
	word        = regexp.MustCompile(`\pL{2,}`)
)

// TestTemplatesHaveNoRawText: no template says a word of its own: every
// text people read comes from text.json, so no page is left half in
// English. The product's name is the exception.
func TestTemplatesHaveNoRawText(t *testing.T) {
	action := regexp.MustCompile(`(?s)\{\{.*?\}\}`)
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		b, err := templateFS.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		src := action.ReplaceAllString(string(b), "\x00")
		var found []string
		for _, m := range readAttr.FindAllStringSubmatch(src, -1) {
			if !strings.HasPrefix(m[1], "https://") { // an example address
				found = append(found, word.FindAllString(m[1], -1)...)
			}
		}
		found = append(found, word.FindAllString(tagOrEntity.ReplaceAllString(src, " "), -1)...)
		for _, w := range found {
			if w != "callvault" {
				t.Errorf("%s: %q is not from text.json", n, w)
			}
		}
	}
}

// TestTextsGerman: the German texts are German: none repeats its English
// text except where the word is the same (names, units, technical terms),
// and the format verbs of both agree.
func TestTextsGerman(t *testing.T) {
	tx, err := loadTexts()
	if err != nil {
		t.Fatal(err)
	}
	same := map[string]bool{}
	verbs := regexp.MustCompile(`%(?:\[\d\])?[sdv]`)
	for k, en := range tx["en"] {
		de := tx["de"][k]
		if de == en {
			same[k] = true
		}
		if a, b := len(verbs.FindAllString(en, -1)), len(verbs.FindAllString(de, -1)); a != b {
			t.Errorf("%s: %d format verbs in English, %d in German", k, a, b)
		}
	}
	// Words German shares with English.
	sameOK := regexp.MustCompile(`^(?:Name|Webhooks?|Status|Text|Codec|Jitter|Mono|Position|Original|Logo|Pause|Agent|Passphrase|Administrator|Integration|WAV|optional|ok|%s|%d)$`)
	for k := range same {
		if !sameOK.MatchString(tx["en"][k]) {
			t.Errorf("%s: the German text is the English one: %q", k, tx["en"][k])
		}
	}
	b, err := os.ReadFile("text.json")
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(b) {
		t.Fatal("text.json is not JSON")
	}
}

// TestPageLanguage: a page speaks the browser's language (German for
// de-DE, English for what it does not speak), the account's choice
// overrides the browser, errors shown to people are in the page's
// language, and an unknown choice is refused.
func TestPageLanguage(t *testing.T) {
	tu := newTestUI(t)
	getAs := func(c *client, path, accept string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", tu.srv.URL+path, nil)
		if accept != "" {
			req.Header.Set("Accept-Language", accept)
		}
		return c.do(req)
	}
	resp, body := getAs(tu.client(), "/login", "de-DE,de;q=0.9,en;q=0.8")
	must(t, resp, body, 200, `<html lang="de">`, ">Anmelden</h1>", ">Anmeldename <input")
	if cl := resp.Header.Get("Content-Language"); cl != "de" || !strings.Contains(resp.Header.Get("Vary"), "Accept-Language") {
		t.Errorf("Content-Language %q, Vary %q", cl, resp.Header.Get("Vary"))
	}
	resp, body = getAs(tu.client(), "/login", "fr-FR, it;q=0.5")
	must(t, resp, body, 200, `<html lang="en">`, ">Log in</h1>")

	alice := tu.login("alice")
	resp, body = getAs(alice, "/no-such-page", "de")
	must(t, resp, body, 404, "<title>Nicht gefunden · callvault</title>", "Diese Seite gibt es nicht.")
	resp, body = getAs(alice, "/account", "de")
	must(t, resp, body, 200, `<option value="" selected>Wie im Browser eingestellt</option>`)

	// The account's choice wins over the browser, and back.
	resp, body = alice.post("/account/language", url.Values{"language": {"en"}})
	must(t, resp, body, 303)
	resp, body = getAs(alice, "/account?language=1", "de-DE")
	must(t, resp, body, 200, `<html lang="en">`, "The language was saved.", `<option value="en" lang="en" selected>English</option>`)
	resp, body = alice.post("/account/language", url.Values{"language": {""}})
	must(t, resp, body, 303)
	resp, body = getAs(alice, "/account", "de-DE")
	must(t, resp, body, 200, `<html lang="de">`)
	resp, body = alice.post("/account/language", url.Values{"language": {"fr"}})
	must(t, resp, body, 400)
	if u, err := tu.arc.GetUser(context.Background(), "alice"); err != nil || u.Language != "" {
		t.Fatalf("after a refused choice: %+v %v", u, err)
	}

	// The scripts get their texts in the page's language.
	resp, body = getAs(alice, "/account", "de")
	must(t, resp, body, 200, `<script type="application/json" id="ui-text">`)
	m := regexp.MustCompile(`(?s)<script type="application/json" id="ui-text">(.*?)</script>`).FindStringSubmatch(body)
	var js map[string]string
	if err := json.Unmarshal([]byte(m[1]), &js); err != nil || js["js.play"] != "Abspielen" {
		t.Fatalf("script texts: %v %v", js["js.play"], err)
	}
}
