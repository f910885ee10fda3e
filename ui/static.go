package ui

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
)

//go:embed static
var staticFS embed.FS

// asset is one embedded static file with its content hash.
type asset struct {
	body  []byte
	hash  string // first 16 hex digits of sha256(body)
	ctype string
}

// staticFiles serves the embedded assets under /static/{hash}/{name}: the
// hash changes with the content, so responses are cached as immutable.
type staticFiles struct {
	files map[string]*asset
}

func loadStatic() (*staticFiles, error) {
	st := &staticFiles{files: map[string]*asset{}}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		st.files[path.Base(p)] = &asset{body: b, hash: hex.EncodeToString(sum[:8]), ctype: ct}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ui: static assets: %w", err)
	}
	for _, n := range []string{"app.css", "app.js", "favicon.svg"} {
		if st.files[n] == nil {
			return nil, fmt.Errorf("ui: static asset %s missing", n)
		}
	}
	return st, nil
}

// url returns the content-hashed URL of asset name.
func (s *staticFiles) url(name string) string {
	a := s.files[name]
	if a == nil {
		return ""
	}
	return "/static/" + a.hash + "/" + name
}

func (u *UI) serveStatic(w http.ResponseWriter, r *http.Request) {
	a := u.static.files[r.PathValue("name")]
	if a == nil || a.hash != r.PathValue("hash") {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	h.Set("ETag", `"`+a.hash+`"`)
	if r.Header.Get("If-None-Match") == `"`+a.hash+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(a.body)
}

// serveFavicon answers the browsers that ask for /favicon.ico without
// reading the page's icon link: the same SVG icon, cached for a day.
func (u *UI) serveFavicon(w http.ResponseWriter, r *http.Request) {
	a := u.static.files["favicon.svg"]
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("Cache-Control", "public, max-age=86400")
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	_, _ = w.Write(a.body)
}

// scripts are the bodies of the scripts, for the start-up check of the
// texts they ask for.
func (st *staticFiles) scripts() map[string][]byte {
	out := map[string][]byte{}
	for n, a := range st.files {
		if path.Ext(n) == ".js" {
			out[n] = a.body
		}
	}
	return out
}
