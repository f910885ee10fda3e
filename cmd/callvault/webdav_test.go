package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	dav "github.com/emersion/go-webdav"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/webtest"
)

// Accounts of the WebDAV tests besides admin and ingest.
const (
	alicePassword = "alice-account-password"
	bobPassword   = "bob-account-password"
	bobDAV        = "bob-webdav-password"
)

// davOriginal is one uploaded capture as the tree should show it.
type davOriginal struct {
	upload string // the PUT name
	id     string
	user   string
	data   []byte // the original (decompressed when uploaded as gzip)
	name   string // its name in the tree, once found
	path   string // its path below /webdav/ by date, once found
}

// davDaemon is a daemon with accounts and a few recordings for the WebDAV
// tests.
type davDaemon struct {
	*daemon
	originals []*davOriginal
}

// startDAVDaemon creates the accounts in the archive first (admin, ingest,
// alice, bob with a WebDAV password), starts the daemon over it and
// uploads captures of the corpus for alice, bob and nobody.
func startDAVDaemon(t *testing.T) *davDaemon {
	t.Helper()
	corpus := corpusDir(t)
	data := filepath.Join(t.TempDir(), "data")
	key := filepath.Join(filepath.Dir(data), "callvault.key")
	arc, err := archive.Open(filepath.Join(data, "callvault.db"), archive.Options{KeyFile: key, KDF: archive.FastKDF()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, u := range []struct {
		user archive.User
		pw   string
	}{
		{archive.User{Login: "admin", Role: archive.RoleAdmin}, testAdminPassword},
		{archive.User{Login: "ingest", Role: archive.RoleIngest}, testIngestPassword},
		{archive.User{Login: "alice", Role: archive.RoleUser}, alicePassword},
		{archive.User{Login: "bob", Role: archive.RoleUser}, bobPassword},
	} {
		if err := arc.PutUser(ctx, u.user, u.pw); err != nil {
			t.Fatal(err)
		}
	}
	if err := arc.SetWebDAVPassword(ctx, "bob", bobDAV); err != nil {
		t.Fatal(err)
	}
	if err := arc.Close(); err != nil {
		t.Fatal(err)
	}
	d := &davDaemon{daemon: startDaemon(t, data)}
	for _, u := range []struct {
		file, upload, user string
		gzip               bool
	}{
		{"generated/pcmu_bidir/capture.pcap", "f9e5956e47d460010630009033302ab1-009033302ab1-11--alice.pcap", "alice", false},
		{"generated/sip_pcmu/capture.pcap", "0000000000000000000000000000a11c-009033302ab1-12--alice.pcap.gz", "alice", true},
		{"generated/pcma_bidir/capture.pcap", "00000000000000000000000000000b0b-009033302ab1-13--bob.pcap", "bob", false},
		{"real/sipp_dtmf_2833/dtmf_2833_0.pcap", "00000000000000000000000000000b0c-009033302ab1-14--bob.pcap", "bob", false},
		{"generated/pcapng_two_calls/capture.pcapng", "Ærlig Šiliņš 日本 #1 100%.pcapng", "", false},
	} {
		b, err := os.ReadFile(filepath.Join(corpus, u.file))
		if err != nil {
			t.Fatal(err)
		}
		body := b
		if u.gzip {
			var z bytes.Buffer
			zw := gzip.NewWriter(&z)
			zw.Write(b)
			zw.Close()
			body = z.Bytes()
		}
		resp, js := d.put(t, url.PathEscape(u.upload), bytes.NewReader(body), int64(len(body)))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT %s: %s %v", u.upload, resp.Status, js)
		}
		d.originals = append(d.originals, &davOriginal{upload: u.upload, id: js["id"].(string), user: u.user, data: b})
	}
	// Find each recording in the admin's tree by the ID in its name.
	files := davWalk(t, d.url, "admin", testAdminPassword, "/webdav/")
	for _, o := range d.originals {
		for p := range files {
			if strings.HasPrefix(p, "/webdav/users/") {
				continue
			}
			if strings.Contains(p, "~"+o.id[:8]+".") {
				o.path, o.name = p, p[strings.LastIndex(p, "/")+1:]
			}
		}
		if o.path == "" {
			t.Fatalf("%s (%s) not in the tree: %v", o.upload, o.id, files)
		}
	}
	return d
}

// davWalk lists every file below dir with go-webdav's client, one
// collection at a time (Depth 1), and returns path → size.
func davWalk(t *testing.T, base, login, password, dir string) map[string]int64 {
	t.Helper()
	c, err := dav.NewClient(dav.HTTPClientWithBasicAuth(client, login, password), base+"/webdav/")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	var visit func(string)
	visit = func(p string) {
		fis, err := c.ReadDir(context.Background(), p, false)
		if err != nil {
			t.Fatalf("%s: ReadDir %s: %v", login, p, err)
		}
		for _, fi := range fis {
			switch {
			case fi.Path == p:
			case fi.IsDir:
				visit(fi.Path)
			default:
				out[fi.Path] = fi.Size
			}
		}
	}
	visit(dir)
	return out
}

func (d *davDaemon) do(t *testing.T, login, password, method, path string, body io.Reader, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, d.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if login != "" {
		req.SetBasicAuth(login, password)
	}
	return webtest.Do(t, client, req, hdr...)
}

// TestWebDAVEndToEnd: the daemon's /webdav/ tree read with go-webdav's
// client: every original byte for byte, by date and by user, ranged GETs,
// the views of two users, the WebDAV password, and the ingest collection.
func TestWebDAVEndToEnd(t *testing.T) {
	d := startDAVDaemon(t)
	ctx := context.Background()
	admin, err := dav.NewClient(dav.HTTPClientWithBasicAuth(client, "admin", testAdminPassword), d.url+"/webdav/")
	if err != nil {
		t.Fatal(err)
	}
	all := davWalk(t, d.url, "admin", testAdminPassword, "/webdav/")
	if len(all) != 2*len(d.originals) { // by date and by user (or _unassigned)
		t.Errorf("admin sees %d files, want %d", len(all), 2*len(d.originals))
	}
	for _, o := range d.originals {
		user := o.user
		if user == "" {
			user = "_unassigned"
		}
		byUser := "/webdav/users/" + user + strings.TrimPrefix(o.path, "/webdav")
		for _, p := range []string{o.path, byUser} {
			if size, ok := all[p]; !ok || size != int64(len(o.data)) {
				t.Errorf("%s: listed %v with size %d, want %d", p, ok, size, len(o.data))
			}
			rc, err := admin.Open(ctx, p)
			if err != nil {
				t.Fatalf("open %s: %v", p, err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, o.data) {
				t.Errorf("%s: %d bytes differ from the original (%d)", p, len(got), len(o.data))
			}
		}
		if strings.HasSuffix(o.upload, ".gz") && !strings.HasSuffix(o.name, ".pcap") {
			t.Errorf("gzip upload served as %s", o.name)
		}
	}
	// Ranged GET across chunk boundaries, compared with the original.
	big := d.originals[2]
	for _, r := range [][2]int{{0, 23}, {65530, 65545}, {100000, 300000}, {len(big.data) - 7, len(big.data) - 1}} {
		resp, b := d.do(t, "admin", testAdminPassword, http.MethodGet, escape(big.path), nil, "Range", fmt.Sprintf("bytes=%d-%d", r[0], r[1]))
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(b, big.data[r[0]:r[1]+1]) {
			t.Errorf("range %v: %s, %d bytes", r, resp.Status, len(b))
		}
	}

	// alice sees her two recordings (by date and by user), bob his two
	// with his WebDAV password; neither sees the other's.
	for _, u := range []struct{ login, pw string }{{"alice", alicePassword}, {"bob", bobDAV}} {
		files := davWalk(t, d.url, u.login, u.pw, "/webdav/")
		var want []string
		for _, o := range d.originals {
			if o.user == u.login {
				want = append(want, o.path, "/webdav/users/"+u.login+strings.TrimPrefix(o.path, "/webdav"))
			}
		}
		slices.Sort(want)
		got := slices.Sorted(maps.Keys(files))
		if !slices.Equal(got, want) {
			t.Errorf("%s sees %v, want %v", u.login, got, want)
		}
		for _, o := range d.originals {
			if o.user == u.login {
				continue
			}
			resp, _ := d.do(t, u.login, u.pw, http.MethodGet, escape(o.path), nil)
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s GET %s: %s", u.login, o.path, resp.Status)
			}
		}
	}
	if resp, _ := d.do(t, "bob", bobPassword, "PROPFIND", "/webdav/", nil, "Depth", "1"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("bob's account password while he has a WebDAV password: %s", resp.Status)
	}
	if resp, _ := d.do(t, "ingest", testIngestPassword, "PROPFIND", "/webdav/", nil, "Depth", "1"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("ingest account on /webdav/: %s", resp.Status)
	}
	if resp, _ := d.do(t, "admin", testAdminPassword, "PROPFIND", "/webdav/", nil, "Depth", "infinity"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("Depth infinity: %s", resp.Status)
	}
	if resp, _ := d.do(t, "admin", testAdminPassword, http.MethodDelete, escape(big.path), nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("DELETE: %s", resp.Status)
	}
	if resp, _ := d.do(t, "admin", testAdminPassword, "PROPFIND", "/webdav", nil, "Depth", "0"); resp.StatusCode != http.StatusMultiStatus {
		t.Errorf("PROPFIND /webdav: %s", resp.Status)
	}

	// The ingest URL family answers devices' probes; PUT still ingests.
	resp, _ := d.do(t, "", "", http.MethodOptions, "/recordings/Files/", nil)
	if resp.StatusCode != 200 || resp.Header.Get("DAV") == "" {
		t.Errorf("OPTIONS ingest: %s %v", resp.Status, resp.Header)
	}
	for _, p := range []string{"/recordings/Files/", "/recordings/Files"} {
		resp, b := d.do(t, "ingest", testIngestPassword, "PROPFIND", p, nil, "Depth", "1")
		var ms struct {
			Responses []struct {
				Href string `xml:"href"`
			} `xml:"response"`
		}
		if resp.StatusCode != http.StatusMultiStatus || xml.Unmarshal(b, &ms) != nil || len(ms.Responses) != 1 {
			t.Errorf("PROPFIND %s: %s %s", p, resp.Status, b)
		}
		if resp, _ := d.do(t, "ingest", testIngestPassword, "MKCOL", p, nil); resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("MKCOL %s: %s", p, resp.Status)
		}
	}
	if resp, _ := d.do(t, "", "", "PROPFIND", "/recordings/Files/", nil, "Depth", "1"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("PROPFIND ingest without credentials: %s", resp.Status)
	}
	if resp, _ := d.do(t, "alice", alicePassword, "PROPFIND", "/recordings/Files/", nil, "Depth", "1"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("PROPFIND ingest as a user: %s", resp.Status)
	}
}

// escape percent-encodes a path for a request URL.
func escape(p string) string { return (&url.URL{Path: p}).EscapedPath() }
