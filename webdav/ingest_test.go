package webdav

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/webtest"
)

func TestIngestCollection(t *testing.T) {
	var puts []string
	put := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		puts = append(puts, r.URL.Path+"="+string(b))
		w.WriteHeader(http.StatusCreated)
	})
	auth := func(r *http.Request) error {
		if u, p, ok := r.BasicAuth(); ok && u == "phone" && p == "pw" {
			return nil
		}
		return archive.ErrBadCredentials
	}
	h := IngestCollection(put, auth, "/recordings/Files/")
	mux := http.NewServeMux()
	mux.Handle("/recordings/Files/", h)
	mux.Handle("/recordings/Files", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	do := func(method, path, body string, authed bool, hdr ...string) (*http.Response, string) {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if authed {
			req.SetBasicAuth("phone", "pw")
		}
		resp, b := webtest.Do(t, noRedirect, req, hdr...)
		return resp, string(b)
	}

	for _, p := range []string{"/recordings/Files/", "/recordings/Files"} {
		resp, _ := do("OPTIONS", p, "", false)
		if resp.StatusCode != 200 || resp.Header.Get("DAV") != "1" || !strings.Contains(resp.Header.Get("Allow"), "PROPFIND") {
			t.Errorf("OPTIONS %s: %s %v", p, resp.Status, resp.Header)
		}
		resp, _ = do("PROPFIND", p, "", false, "Depth", "1")
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("PROPFIND %s without credentials: %s", p, resp.Status)
		}
		for _, depth := range []string{"0", "1", "infinity", ""} {
			resp, b := do("PROPFIND", p, allprop, true, "Depth", depth, "Content-Type", "application/xml")
			var ms multistatus
			if resp.StatusCode != 207 || xml.Unmarshal([]byte(b), &ms) != nil || len(ms.Responses) != 1 ||
				ms.Responses[0].Href != "/recordings/Files/" || ms.Responses[0].Propstat[0].Prop.ResourceType.Collection == nil {
				t.Errorf("PROPFIND %s Depth %q: %s %s", p, depth, resp.Status, b)
			}
		}
		resp, _ = do("MKCOL", p, "", true)
		if resp.StatusCode != 405 {
			t.Errorf("MKCOL %s: %s", p, resp.Status)
		}
	}
	// A named property: resourcetype found, the unknown one reported 404.
	resp, b := do("PROPFIND", "/recordings/Files/", `<?xml version="1.0"?><propfind xmlns="DAV:"><prop><resourcetype/><getetag/><x xmlns="urn:y"/></prop></propfind>`, true, "Depth", "0")
	if resp.StatusCode != 207 || !strings.Contains(b, "<D:collection/>") || !strings.Contains(b, "404 Not Found") ||
		!strings.Contains(b, `xmlns:x="urn:y"`) {
		t.Errorf("PROPFIND prop: %s %s", resp.Status, b)
	}
	var ms multistatus
	if err := xml.Unmarshal([]byte(b), &ms); err != nil {
		t.Errorf("PROPFIND prop: not XML: %v", err)
	}
	if resp, _ := do("PROPFIND", "/recordings/Files/", "<not xml", true, "Depth", "0"); resp.StatusCode != 400 {
		t.Errorf("bad body: %s", resp.Status)
	}
	if resp, _ := do("PROPFIND", "/recordings/Files/x.pcap", "", true, "Depth", "0"); resp.StatusCode != 404 {
		t.Errorf("PROPFIND of a member: %s", resp.Status)
	}
	if resp, _ := do("MKCOL", "/recordings/Files/sub/", "", true); resp.StatusCode != 403 {
		t.Errorf("MKCOL below: %s", resp.Status)
	}
	for _, m := range []string{"GET", "DELETE", "LOCK", "MOVE"} {
		if resp, _ := do(m, "/recordings/Files/x.pcap", "", true); resp.StatusCode != 405 {
			t.Errorf("%s: %s", m, resp.Status)
		}
	}
	// PUT goes to the recorder's handler, which authenticates on its own.
	resp, _ = do("PUT", "/recordings/Files/call.pcap", "data", false)
	if resp.StatusCode != 201 || len(puts) != 1 || puts[0] != "/recordings/Files/call.pcap=data" {
		t.Errorf("PUT: %s %v", resp.Status, puts)
	}
	if resp, _ := do("PUT", "/recordings/Files/", "data", true); resp.StatusCode != 405 || len(puts) != 1 {
		t.Errorf("PUT to the collection: %s", resp.Status)
	}
}

// FuzzIngestPropfind: any PROPFIND body gives 400 or a well-formed
// multistatus naming the collection.
func FuzzIngestPropfind(f *testing.F) {
	for _, s := range []string{
		"", allprop,
		`<?xml version="1.0"?><propfind xmlns="DAV:"><prop><resourcetype/><getetag/><x xmlns="urn:y"/></prop></propfind>`,
		`<propfind xmlns="DAV:"><prop><a xmlns=""/><b xmlns="urn:&quot;&lt;"/></prop></propfind>`,
		`<propfind xmlns="DAV:"><propname/></propfind>`, "<not xml",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		props, err := readPropfind(strings.NewReader(body))
		if err != nil {
			return
		}
		rw := httptest.NewRecorder()
		writeCollection(rw, "/recordings/Files/", props)
		var ms multistatus
		if rw.Code != 207 {
			t.Fatalf("status %d", rw.Code)
		}
		if err := xml.Unmarshal(rw.Body.Bytes(), &ms); err != nil || len(ms.Responses) != 1 || ms.Responses[0].Href != "/recordings/Files/" {
			t.Fatalf("body %q gave %v:\n%s", body, err, rw.Body.String())
		}
		// Every byte must be well-formed XML, not just what Unmarshal reads.
		d := xml.NewDecoder(strings.NewReader(rw.Body.String()))
		for {
			if _, err := d.Token(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("body %q: malformed output: %v\n%s", body, err, rw.Body.String())
			}
		}
	})
}
