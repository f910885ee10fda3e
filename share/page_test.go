package share

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// pageElem is one start tag of a rendered page.
type pageElem struct {
	name  string
	attrs map[string]string
	text  string // character data up to the next tag
}

// parsePageHTML checks that page is well-formed HTML (every pageElem closed,
// void elements excepted) and returns its start tags in order.
func parsePageHTML(t *testing.T, page string) []pageElem {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(strings.TrimPrefix(page, "<!doctype html>")))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	var (
		els   []pageElem
		stack []int // indexes into els
	)
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("page does not parse: %v\n%s", err, page)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e := pageElem{name: tok.Name.Local, attrs: map[string]string{}}
			for _, a := range tok.Attr {
				e.attrs[strings.ToLower(a.Name.Local)] = a.Value
			}
			els = append(els, e)
			stack = append(stack, len(els)-1) // void elements get a synthetic end
		case xml.EndElement:
			if len(stack) == 0 || els[stack[len(stack)-1]].name != tok.Name.Local {
				t.Fatalf("unbalanced </%s>", tok.Name.Local)
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				els[stack[len(stack)-1]].text += string(tok)
			}
		}
	}
	if len(stack) != 0 {
		t.Fatalf("%d unclosed elements", len(stack))
	}
	return els
}

func elemByID(els []pageElem, id string) (pageElem, bool) {
	for _, e := range els {
		if e.attrs["id"] == id {
			return e, true
		}
	}
	return pageElem{}, false
}

func mustRenderPage(t *testing.T, d PageData) string {
	t.Helper()
	var buf bytes.Buffer
	if err := renderPage(&buf, d); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// The ids the page's script and the end-to-end browser test rely on.
var pageElemIDs = []string{
	"lang", "message", "request-code", "code", "submit-code", "terms",
	"terms-fallback", "accept-terms", "recordings", "step-code", "step-terms",
	"step-recordings", "page-strings",
}

func TestRenderPageEachLanguage(t *testing.T) {
	for _, lang := range Languages {
		t.Run(lang, func(t *testing.T) {
			page := mustRenderPage(t, PageData{Lang: lang, Base: "/p/TOKEN", Logo: true, Footer: []string{"ACME Ltd", "Call +47 00 00 00 00"}})
			els := parsePageHTML(t, page)
			for _, id := range pageElemIDs {
				if _, ok := elemByID(els, id); !ok {
					t.Errorf("no pageElem #%s", id)
				}
			}
			html := els[0]
			if html.name != "html" || html.attrs["lang"] != languageTag(lang) {
				t.Errorf("<html lang=%q>, want %q", html.attrs["lang"], languageTag(lang))
			}
			title := ""
			for _, e := range els {
				if e.name == "title" {
					title = e.text
				}
			}
			if title != pageText(lang, "title") {
				t.Errorf("title %q, want %q", title, pageText(lang, "title"))
			}
			if b, _ := elemByID(els, "request-code"); strings.TrimSpace(b.text) != pageText(lang, "requestCode") {
				t.Errorf("#request-code says %q", b.text)
			}
			// The switcher offers every language by its own name, the page's selected.
			var opts []pageElem
			for _, e := range els {
				if e.name == "option" {
					opts = append(opts, e)
				}
			}
			if len(opts) != len(Languages) {
				t.Fatalf("%d language options, want %d", len(opts), len(Languages))
			}
			for i, o := range opts {
				if o.attrs["value"] != Languages[i] || o.text != LanguageName(Languages[i]) {
					t.Errorf("option %d: %q %q", i, o.attrs["value"], o.text)
				}
				if _, sel := o.attrs["selected"]; sel != (Languages[i] == lang) {
					t.Errorf("option %s selected=%v", Languages[i], sel)
				}
			}
			if sel, _ := elemByID(els, "lang"); sel.attrs["name"] != "lang" {
				t.Errorf("#lang has name %q; the form must submit ?lang=", sel.attrs["name"])
			}
			// The script's strings are valid JSON in the page's language.
			js, _ := elemByID(els, "page-strings")
			var got map[string]string
			if err := json.Unmarshal([]byte(js.text), &got); err != nil {
				t.Fatalf("page strings are not JSON: %v\n%s", err, js.text)
			}
			for _, k := range pageKeys {
				if got[k] != pageText(lang, k) {
					t.Errorf("string %s = %q, want %q", k, got[k], pageText(lang, k))
				}
			}
			body := els[slices.IndexFunc(els, func(e pageElem) bool { return e.name == "body" })]
			if body.attrs["data-base"] != "/p/TOKEN" || body.attrs["data-lang"] != lang || body.attrs["data-locale"] != languageTag(lang) {
				t.Errorf("body data: %v", body.attrs)
			}
			var logo, css, script bool
			for _, e := range els {
				switch {
				case e.name == "img" && e.attrs["src"] == "/p/TOKEN/logo":
					logo = true
				case e.name == "link" && e.attrs["href"] == "/p/TOKEN/static/page.css" && e.attrs["rel"] == "stylesheet":
					css = true
				case e.name == "script" && e.attrs["src"] == "/p/TOKEN/static/page.js":
					script = true
				}
			}
			if !logo || !css || !script {
				t.Errorf("logo %v, stylesheet %v, script %v", logo, css, script)
			}
			var footer []string
			for _, e := range els[slices.IndexFunc(els, func(e pageElem) bool { return e.name == "footer" })+1:] {
				if e.name == "p" {
					footer = append(footer, e.text)
				}
			}
			if !slices.Equal(footer, []string{"ACME Ltd", "Call +47 00 00 00 00"}) {
				t.Errorf("footer lines %q", footer)
			}
		})
	}
}

func TestRenderPageUnknownLanguageIsEnglish(t *testing.T) {
	for _, lang := range []string{"", "xx", "EN", "fr", "<script>"} {
		page := mustRenderPage(t, PageData{Lang: lang, Base: "/p/T"})
		els := parsePageHTML(t, page)
		if els[0].attrs["lang"] != "en-GB" {
			t.Errorf("%q: <html lang=%q>", lang, els[0].attrs["lang"])
		}
		if b, _ := elemByID(els, "request-code"); strings.TrimSpace(b.text) != "Request one-time code" {
			t.Errorf("%q: #request-code says %q", lang, b.text)
		}
		if b, _ := elemByID(els, "accept-terms"); strings.TrimSpace(b.text) != "I accept" {
			t.Errorf("%q: #accept-terms says %q", lang, b.text)
		}
	}
}

func TestRenderPageWithoutLogoOrFooter(t *testing.T) {
	page := mustRenderPage(t, PageData{Lang: "no", Base: "/p/T"})
	parsePageHTML(t, page)
	if strings.Contains(page, "/logo") || strings.Contains(page, "<footer") {
		t.Errorf("logo or footer shown though none configured:\n%s", page)
	}
}

func TestRenderPageFooterAtMostThreeLines(t *testing.T) {
	page := mustRenderPage(t, PageData{Lang: "en", Base: "/p/T", Footer: []string{"one", " ", "two", "three", "four"}})
	parsePageHTML(t, page)
	for _, l := range []string{"one", "two", "three"} {
		if !strings.Contains(page, "<p>"+l+"</p>") {
			t.Errorf("footer line %q missing", l)
		}
	}
	if strings.Contains(page, "four") || strings.Contains(page, "<p> </p>") {
		t.Errorf("more than three footer lines, or a blank one:\n%s", page)
	}
}

// Footer lines come from an admin's settings and the base from the URL:
// neither can put markup or script on the page.
func TestRenderPageEscapes(t *testing.T) {
	evil := `<script>alert(1)</script><img src=x onerror=alert(2)>`
	page := mustRenderPage(t, PageData{
		Lang: "en", Base: `/p/T"><script>alert(3)</script>`, Logo: true,
		Footer: []string{evil, `</footer><a href="javascript:alert(4)" download>x</a>`},
	})
	els := parsePageHTML(t, page)
	for _, bad := range []string{"<script>alert", "<img src=x", `<a href`, `"><script`} {
		if strings.Contains(page, bad) {
			t.Errorf("page holds %q unescaped", bad)
		}
	}
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("footer not shown escaped:\n%s", page)
	}
	for _, e := range els {
		if e.name == "a" || e.name == "img" && e.attrs["src"] == "x" {
			t.Errorf("injected <%s> on the page: %v", e.name, e.attrs)
		}
		if _, ok := e.attrs["onerror"]; ok {
			t.Errorf("injected handler on <%s>", e.name)
		}
	}
	body := els[slices.IndexFunc(els, func(e pageElem) bool { return e.name == "body" })]
	if body.attrs["data-base"] != `/p/T"><script>alert(3)</script>` {
		t.Errorf("data-base = %q", body.attrs["data-base"])
	}
}

// The page works under Content-Security-Policy: default-src 'self': no
// inline script, handler or style; its one data block is not script.
func TestRenderPageNoInlineScriptOrStyle(t *testing.T) {
	page := mustRenderPage(t, PageData{Lang: "lv", Base: "/p/T", Logo: true, Footer: []string{"x"}})
	for _, e := range parsePageHTML(t, page) {
		if e.name == "style" {
			t.Errorf("inline <style>")
		}
		for a, v := range e.attrs {
			if a == "style" || strings.HasPrefix(a, "on") {
				t.Errorf("<%s %s=%q>", e.name, a, v)
			}
			if strings.Contains(strings.ToLower(v), "javascript:") {
				t.Errorf("<%s %s=%q>", e.name, a, v)
			}
		}
		if e.name == "script" {
			src, hasSrc := e.attrs["src"]
			switch {
			case hasSrc && strings.TrimSpace(e.text) == "" && strings.HasPrefix(src, "/p/T/static/"):
			case e.attrs["type"] == "application/json":
			default:
				t.Errorf("inline script: %v %q", e.attrs, e.text)
			}
		}
	}
}

var downloadWord = regexp.MustCompile(`(?i)(^|[^a-z])download`)

// No download control: no link, no download attribute, nothing in the
// script that makes one; the players are built with controlslist=nodownload
// and without a context menu.
func TestNoDownloadControl(t *testing.T) {
	page := mustRenderPage(t, PageData{Lang: "en", Base: "/p/T"})
	for _, e := range parsePageHTML(t, page) {
		if e.name == "a" {
			t.Errorf("a link on the page: %v", e.attrs)
		}
		if _, ok := e.attrs["download"]; ok {
			t.Errorf("<%s download>", e.name)
		}
	}
	if downloadWord.MatchString(page) {
		t.Errorf("the page mentions download: %v", downloadWord.FindAllStringIndex(page, -1))
	}
	js := string(staticAssets["page.js"].body)
	if m := downloadWord.FindAllString(js, -1); m != nil {
		t.Errorf("the script mentions download outside nodownload: %q", m)
	}
	for _, want := range []string{
		`createElement('audio')`,
		`setAttribute('controlslist', 'nodownload')`,
		`addEventListener('contextmenu', noMenu)`,
		`ev.preventDefault()`,
		`a.dataset.id = id`,
		`a.src = r.audio`,
	} {
		if !strings.Contains(js, want) {
			t.Errorf("the script lacks %q", want)
		}
	}
	if strings.Contains(js, "innerHTML") || strings.Contains(js, "insertAdjacentHTML") || strings.Contains(js, "document.write") {
		t.Error("the script builds markup from strings; server data must go through textContent")
	}
}

// Every string the script asks for exists.
func TestScriptStringKeys(t *testing.T) {
	js := string(staticAssets["page.js"].body)
	used := regexp.MustCompile(`\bt\('([A-Za-z]+)'`).FindAllStringSubmatch(js, -1)
	if len(used) < 10 {
		t.Fatalf("found only %d t('…') calls in the script", len(used))
	}
	for _, m := range used {
		if !slices.Contains(pageKeys, m[1]) {
			t.Errorf("the script uses string %q, which is not a page key", m[1])
		}
	}
}

// The script must at least parse; node is optional on a build machine.
func TestScriptSyntax(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	f, err := os.CreateTemp(t.TempDir(), "page-*.js")
	if err != nil {
		t.Fatal(err)
	}
	f.Write(staticAssets["page.js"].body)
	f.Close()
	if out, err := exec.Command(node, "--check", f.Name()).CombinedOutput(); err != nil {
		t.Fatalf("page.js: %v\n%s", err, out)
	}
}

func TestStaticHandler(t *testing.T) {
	h := staticHandler()
	cases := []struct {
		method, path string
		status       int
		ctype        string
	}{
		{"GET", "/page.js", 200, "text/javascript; charset=utf-8"},
		{"GET", "/page.css", 200, "text/css; charset=utf-8"},
		{"HEAD", "/page.js", 200, "text/javascript; charset=utf-8"},
		{"GET", "page.css", 200, "text/css; charset=utf-8"},
		{"GET", "/page.html", 404, ""},
		{"GET", "/", 404, ""},
		{"GET", "/../page.go", 404, ""},
		{"GET", "/web/page.js", 404, ""},
		{"POST", "/page.js", 405, ""},
	}
	for _, c := range cases {
		r := httptest.NewRequest(c.method, "/", nil)
		r.URL.Path = c.path
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.status {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, w.Code, c.status)
			continue
		}
		if c.status != 200 {
			continue
		}
		if got := w.Header().Get("Content-Type"); got != c.ctype {
			t.Errorf("%s %s: Content-Type %q, want %q", c.method, c.path, got, c.ctype)
		}
		if w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s %s: no nosniff", c.method, c.path)
		}
		name := strings.TrimPrefix(c.path, "/")
		if c.method == "GET" && !bytes.Equal(w.Body.Bytes(), staticAssets[name].body) {
			t.Errorf("%s %s: body differs from the embedded file", c.method, c.path)
		}
		if c.method == "HEAD" && w.Body.Len() != 0 {
			t.Errorf("HEAD %s: a body", c.path)
		}
		// Revalidation answers 304.
		r2 := httptest.NewRequest("GET", "/", nil)
		r2.URL.Path = c.path
		r2.Header.Set("If-None-Match", w.Header().Get("ETag"))
		w2 := httptest.NewRecorder()
		h.ServeHTTP(w2, r2)
		if w2.Code != http.StatusNotModified {
			t.Errorf("%s with its ETag: %d, want 304", c.path, w2.Code)
		}
	}
}

// TestPageScriptSetsNoInlineStyle: the page's script sets no style
// attribute or property, so the page's policy needs no 'unsafe-inline'
// for styles (it shows and hides with the hidden attribute).
func TestPageScriptSetsNoInlineStyle(t *testing.T) {
	js := string(staticAssets["page.js"].body)
	for _, bad := range []string{".style", "cssText", "'style'", `"style"`, "insertRule", "<style"} {
		if strings.Contains(js, bad) {
			t.Errorf("page.js uses %s", bad)
		}
	}
	if strings.Contains(pageCSP, "unsafe-inline") {
		t.Error("the page's policy allows inline style")
	}
}
