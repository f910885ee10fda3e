package webdav

import (
	"bytes"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/callvault/callvault/archive"
)

// A GET of a collection in a browser shows a plain HTML index, so the tree
// can be looked through without a WebDAV client. HEAD gives its headers.

var indexTmpl = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><h1>{{.Title}}</h1>
<p>Read-only archive of original captures (dates in UTC). Mount this URL with a WebDAV client to copy originals.</p>
<table><thead><tr><th>Name</th><th>Size</th><th>Modified (UTC)</th></tr></thead><tbody>
{{if .Parent}}<tr><td><a href="{{.Parent}}">../</a></td><td></td><td></td></tr>{{end}}
{{range .Rows}}<tr><td><a href="{{.Href}}">{{.Name}}</a></td><td>{{.Size}}</td><td>{{.Modified}}</td></tr>
{{end}}</tbody></table></body></html>
`))

type indexRow struct {
	Href, Name, Size, Modified string
}

type indexPage struct {
	Title  string
	Parent string
	Rows   []indexRow
}

func (h *Handler) serveIndex(w http.ResponseWriter, r *http.Request, u *archive.User, n node) {
	ctx := r.Context()
	ok, err := h.exists(ctx, u, n)
	if err == nil && !ok {
		plain(w, http.StatusNotFound, "not found")
		return
	}
	var l *listing
	if err == nil {
		l, err = h.list(ctx, u, n)
	}
	if err != nil {
		_ = h.fail(ctx, "index", err)
		plain(w, http.StatusInternalServerError, "internal error")
		return
	}
	page := indexPage{Title: h.prefix + n.rel()}
	if n.kind != kindRoot {
		page.Parent = escapePath(h.prefix + n.parent().rel())
	}
	for _, e := range l.entries {
		row := indexRow{Name: e.name, Href: escapePath(h.prefix + n.rel() + e.name)}
		if e.dir {
			row.Name += "/"
			row.Href += "/"
		} else {
			row.Size = strconv.FormatInt(e.size, 10)
			row.Modified = e.mtime.UTC().Format(time.DateTime)
		}
		page.Rows = append(page.Rows, row)
	}
	var buf bytes.Buffer
	if err := indexTmpl.Execute(&buf, page); err != nil {
		_ = h.fail(ctx, "index", err)
		plain(w, http.StatusInternalServerError, "internal error")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = buf.WriteTo(w)
	}
}

// escapePath percent-encodes a path for an href.
func escapePath(p string) string { return (&url.URL{Path: p}).EscapedPath() }
