package share

import (
	"io"
	"net/http"
)

// PageData is what the recipient's page is rendered from. The page talks
// to the playback zone's JSON API under Base (see api/openapi.yaml).
type PageData struct {
	Lang   string   // the page's language, one of Languages
	Base   string   // the link's path, "/p/TOKEN"; assets under Base+"/static/"
	Logo   bool     // a logo is configured, served at Base+"/logo"
	Footer []string // at most three lines
}

// renderPage writes the recipient's page.
func renderPage(w io.Writer, d PageData) error {
	_, err := io.WriteString(w, "<!doctype html><title>callvault</title>")
	return err
}

// staticHandler serves the page's assets; the caller strips Base+"/static".
func staticHandler() http.Handler { return http.NotFoundHandler() }
