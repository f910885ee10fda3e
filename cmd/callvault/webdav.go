package main

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/webdav"
)

// mountWebDAV mounts the read-only WebDAV tree of originals in the webdav
// zone, and in the ingest zone the recorder's PUT handler behind the
// WebDAV collection that devices probe. Each is mounted with and without
// its trailing slash, so a PROPFIND of "/webdav" is not redirected. gate
// is 4-eyes access (webdav.Options.Gate).
func mountWebDAV(rt *routes, arc *archive.Archive, put http.Handler, ingestPrefix string, gate func(http.ResponseWriter, *http.Request, *archive.User) (http.ResponseWriter, *http.Request, func(), bool), log *slog.Logger) {
	dav := webdav.New(arc, webdav.Options{Gate: gate}, log)
	rt.handle(zoneWebDAV, dav.Prefix(), dav)
	rt.handle(zoneWebDAV, strings.TrimSuffix(dav.Prefix(), "/"), dav)
	ing := webdav.IngestCollection(put, ingestAuth(arc), ingestPrefix)
	rt.handle(zoneIngest, ingestPrefix, ing)
	rt.handle(zoneIngest, strings.TrimSuffix(ingestPrefix, "/"), ing)
}

// ingestAuth accepts the credentials of ingest and admin accounts, like
// the recorder's PUT handler.
func ingestAuth(arc *archive.Archive) func(r *http.Request) error {
	return func(r *http.Request) error {
		_, err := basicAuth(r, arc, archive.RoleIngest, archive.RoleAdmin)
		return err
	}
}
