package webdav

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/callvault/callvault/archive"
)

// IngestCollection makes the ingest URL family look like a WebDAV
// collection to devices that probe it before uploading: OPTIONS (no
// credentials needed), PROPFIND of the collection (207, the collection
// itself and no members: uploads are never listed back), MKCOL of the
// collection (405: it exists) and PUT of a member, which goes to put (the
// recorder's handler, which authenticates on its own). auth checks a
// device's credentials for PROPFIND and MKCOL: nil accepts them, a
// *archive.LimitedError answers 429 with Retry-After, any other error 401. prefix is the collection's
// path with its trailing slash ("/recordings/Files/"); mount the handler at
// the prefix and at the prefix without its slash.
func IngestCollection(put http.Handler, auth func(r *http.Request) error, prefix string) http.Handler {
	coll := strings.TrimSuffix(prefix, "/")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		isColl := r.URL.Path == prefix || r.URL.Path == coll
		if !isColl && !strings.HasPrefix(r.URL.Path, prefix) {
			plain(w, http.StatusNotFound, "not found")
			return
		}
		switch r.Method {
		case http.MethodPut:
			if isColl {
				w.Header().Set("Allow", "OPTIONS, PROPFIND, MKCOL")
				plain(w, http.StatusMethodNotAllowed, "PUT a capture to "+prefix+"<name>.pcap")
				return
			}
			put.ServeHTTP(w, r)
			return
		case http.MethodOptions:
			w.Header().Set("DAV", "1")
			if isColl {
				w.Header().Set("Allow", "OPTIONS, PROPFIND, MKCOL")
			} else {
				w.Header().Set("Allow", "OPTIONS, PUT")
			}
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusOK)
			return
		}
		if err := auth(r); err != nil {
			var le *archive.LimitedError
			if errors.As(err, &le) {
				w.Header().Set("Retry-After", strconv.Itoa(le.RetrySeconds()))
				plain(w, http.StatusTooManyRequests, "too many failed attempts; retry later")
				return
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="callvault ingest", charset="UTF-8"`)
			plain(w, http.StatusUnauthorized, "authentication required")
			return
		}
		switch r.Method {
		case "PROPFIND":
			if !isColl {
				plain(w, http.StatusNotFound, "not found: uploads are not listed")
				return
			}
			switch strings.ToLower(strings.TrimSpace(r.Header.Get("Depth"))) {
			case "", "0", "1", "infinity": // no members, so every depth gives the same answer
			default:
				plain(w, http.StatusBadRequest, "bad Depth header")
				return
			}
			props, err := readPropfind(http.MaxBytesReader(w, r.Body, maxPropXML))
			if err != nil {
				plain(w, http.StatusBadRequest, "bad PROPFIND body: "+err.Error())
				return
			}
			writeCollection(w, prefix, props)
		case "MKCOL":
			if isColl {
				w.Header().Set("Allow", "OPTIONS, PROPFIND, PUT")
				plain(w, http.StatusMethodNotAllowed, "the collection exists")
				return
			}
			plain(w, http.StatusForbidden, "the ingest collection is flat: PUT captures directly into "+prefix)
		default:
			if isColl {
				w.Header().Set("Allow", "OPTIONS, PROPFIND, MKCOL")
			} else {
				w.Header().Set("Allow", "OPTIONS, PUT")
			}
			plain(w, http.StatusMethodNotAllowed, "method not allowed: devices upload with PUT")
		}
	})
}

// propfindBody is the part of a PROPFIND body the ingest collection reads.
type propfindBody struct {
	XMLName  xml.Name  `xml:"DAV: propfind"`
	AllProp  *struct{} `xml:"DAV: allprop"`
	PropName *struct{} `xml:"DAV: propname"`
	Prop     *struct {
		Names []struct{ XMLName xml.Name } `xml:",any"`
	} `xml:"DAV: prop"`
}

// readPropfind returns the property names asked for; nil means allprop
// (also for an empty body).
func readPropfind(r io.Reader) ([]xml.Name, error) {
	var b propfindBody
	err := xml.NewDecoder(r).Decode(&b)
	switch {
	case errors.Is(err, io.EOF):
		return nil, nil
	case err != nil:
		return nil, errors.New("not a DAV:propfind document")
	case b.Prop != nil:
		names := make([]xml.Name, 0, len(b.Prop.Names))
		for _, n := range b.Prop.Names {
			names = append(names, n.XMLName)
		}
		return names, nil
	}
	return nil, nil
}

// writeCollection answers a PROPFIND of the ingest collection: resource
// type collection and a display name; any other property asked for is
// reported missing (404 in its own propstat).
func writeCollection(w http.ResponseWriter, href string, props []xml.Name) {
	var found, missing strings.Builder
	known := map[xml.Name]string{
		{Space: "DAV:", Local: "resourcetype"}: "<D:resourcetype><D:collection/></D:resourcetype>",
		{Space: "DAV:", Local: "displayname"}:  "<D:displayname>" + xmlText(path.Base(href)) + "</D:displayname>",
	}
	if props == nil {
		found.WriteString(known[xml.Name{Space: "DAV:", Local: "resourcetype"}])
		found.WriteString(known[xml.Name{Space: "DAV:", Local: "displayname"}])
	}
	for _, p := range props {
		if v, ok := known[p]; ok {
			found.WriteString(v)
			continue
		}
		if p.Space == "" {
			fmt.Fprintf(&missing, `<%s xmlns=""/>`, xmlText(p.Local))
		} else {
			fmt.Fprintf(&missing, `<x:%s xmlns:x="%s"/>`, xmlText(p.Local), xmlText(p.Space))
		}
	}
	w.Header().Set("Content-Type", `application/xml; charset="utf-8"`)
	w.WriteHeader(http.StatusMultiStatus)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<D:multistatus xmlns:D="DAV:"><D:response><D:href>%s</D:href>`, xmlText(escapePath(href)))
	if found.Len() > 0 {
		fmt.Fprintf(w, `<D:propstat><D:prop>%s</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>`, found.String())
	}
	if missing.Len() > 0 {
		fmt.Fprintf(w, `<D:propstat><D:prop>%s</D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>`, missing.String())
	}
	fmt.Fprint(w, "</D:response></D:multistatus>\n")
}

func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
