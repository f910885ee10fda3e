package api

import (
	"html"
	"net/http"
	"strconv"
	"strings"
)

// wantsPage reports whether a request comes from a person's browser
// navigating to an API address (a download link clicked, an address
// typed), rather than from a script or an API client: the browser says
// Sec-Fetch-Mode: navigate, or, without fetch metadata, accepts HTML
// and not JSON. Such a request gets its error as a short HTML page; every
// other caller gets JSON.
func wantsPage(r *http.Request) bool {
	if m := r.Header.Get("Sec-Fetch-Mode"); m != "" {
		return m == "navigate"
	}
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "text/html") && !strings.Contains(accept, "application/json")
}

// writeErrorPage writes he as a page for a person: its message in plain
// words and a way back, never JSON or internal detail.
func writeErrorPage(w http.ResponseWriter, he *httpError) {
	msg := he.page
	if msg == "" {
		msg = he.msg
		if msg != "" {
			msg = strings.ToUpper(msg[:1]) + msg[1:]
			if !strings.HasSuffix(msg, ".") {
				msg += "."
			}
		}
	}
	title := http.StatusText(he.code)
	if title == "" {
		title = "Error " + strconv.Itoa(he.code)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.WriteHeader(he.code)
	_, _ = w.Write([]byte(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>` + html.EscapeString(title) + ` · callvault</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}@media (prefers-color-scheme:dark){body{background:#111;color:#eee}a{color:#8cf}}</style></head>
<body><main><h1>` + html.EscapeString(title) + `</h1>
<p>` + html.EscapeString(msg) + `</p>
<p><a href="/">Back to the recordings</a></p></main></body></html>
`))
}
