package share

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// PageData is what the recipient's page is rendered from. The page talks
// to the playback zone's JSON API under Base (see api/openapi.yaml).
type PageData struct {
	Lang   string   // the page's language, one of Languages
	Base   string   // the link's path, "/p/TOKEN"; assets under Base+"/static/"
	Logo   bool     // a logo is configured, served at Base+"/logo"
	Footer []string // at most three lines
}

// maxFooterLines is how many footer lines the page shows.
const maxFooterLines = 3

//go:embed web
var webFS embed.FS

// pageTmpl is the page, parsed once; a broken template fails every test.
var pageTmpl = template.Must(template.ParseFS(webFS, "web/page.html"))

// pageView is the template's view of PageData.
type pageView struct {
	PageData
	Tag       string // BCP 47 tag of Lang
	Languages []langOption
	Strings   map[string]string // the script's texts, as a JSON block
}

type langOption struct {
	Code, Name, Tag string
	Selected        bool
}

// T is the page string key in the page's language; an unknown key is a
// template error, so a typo cannot render an empty label.
func (v pageView) T(key string) (string, error) {
	s := pageText(v.Lang, key)
	if s == "" {
		return "", fmt.Errorf("share: no page string %q", key)
	}
	return s, nil
}

// renderPage writes the recipient's page. An unknown language renders in
// English; blank footer lines are skipped and at most three are shown.
//
// The page holds no inline script, handler or style, so it runs under
// Content-Security-Policy: default-src 'self'. Its script (web/page.js)
// drives these elements:
//
//	#lang                select of Languages; a change reloads with ?lang=xx
//	#message             status line: code sent, wrong code, wait, session ended, expired
//	#step-code           #request-code, #code, #submit-code
//	#step-terms          #terms (the text), #terms-fallback (English shown), #accept-terms
//	#step-recordings     #recordings: one <details data-id> per recording, each with
//	                     <audio data-id controlslist="nodownload">; open when there is one
//	body[data-step]      loading, code, terms, recordings or expired
//
// It polls the recordings every 5 s while they are shown: a recording that
// disappears is paused and removed, none left means the link expired, and
// a 401 returns to the code step.
func renderPage(w io.Writer, d PageData) error {
	if !validLanguage(d.Lang) {
		d.Lang = "en"
	}
	var footer []string
	for _, l := range d.Footer {
		if strings.TrimSpace(l) != "" && len(footer) < maxFooterLines {
			footer = append(footer, l)
		}
	}
	d.Footer = footer
	v := pageView{PageData: d, Tag: languageTag(d.Lang), Strings: map[string]string{}}
	for _, l := range Languages {
		v.Languages = append(v.Languages, langOption{Code: l, Name: LanguageName(l), Tag: languageTag(l), Selected: l == d.Lang})
	}
	for _, k := range pageKeys {
		v.Strings[k] = pageText(d.Lang, k)
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, v); err != nil {
		return fmt.Errorf("share: render page: %w", err)
	}
	_, err := buf.WriteTo(w)
	return err
}

// staticAsset is one file the page loads.
type staticAsset struct {
	body  []byte
	ctype string
	etag  string
}

// staticAssets are the page's script and stylesheet, by name. The template
// is not among them.
var staticAssets = func() map[string]staticAsset {
	m := map[string]staticAsset{}
	for name, ctype := range map[string]string{
		"page.js":  "text/javascript; charset=utf-8",
		"page.css": "text/css; charset=utf-8",
	} {
		b, err := webFS.ReadFile("web/" + name)
		if err != nil {
			panic("share: embedded asset missing: " + name)
		}
		sum := sha256.Sum256(b)
		m[name] = staticAsset{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	return m
}()

// staticHandler serves the page's assets; the caller strips Base+"/static".
// Only GET and HEAD of page.js and page.css are answered.
func staticHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := staticAssets[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.ctype)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		if r.Header.Get("If-None-Match") == a.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Length", strconv.Itoa(len(a.body)))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(a.body)
	})
}
