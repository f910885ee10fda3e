package webdav

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
)

func TestTreeByDateAndUser(t *testing.T) {
	f := newFixture(t, Options{})
	a := f.add(t, "f9e5956e47d460010630009033302ab1-009033302ab1-11--alice.pcap", "alice", day, 150_000)
	b := f.add(t, "bob-call.pcap", "bob", day.Add(time.Hour), 1000)
	old := f.add(t, "old.pcap", "alice", time.Date(2025, 2, 3, 23, 59, 59, 0, time.UTC), 10)
	none := f.add(t, "nouser.pcap", "", day.Add(2*time.Hour), 20)

	want := map[string]*archive.Recording{
		"/webdav/2026/11/21/" + fileName(a, false):                      a,
		"/webdav/2026/11/21/" + fileName(b, false):                      b,
		"/webdav/2025/02/03/" + fileName(old, false):                    old,
		"/webdav/2026/11/21/" + fileName(none, false):                   none,
		"/webdav/users/alice/2026/11/21/" + fileName(a, false):          a,
		"/webdav/users/alice/2025/02/03/" + fileName(old, false):        old,
		"/webdav/users/bob/2026/11/21/" + fileName(b, false):            b,
		"/webdav/users/_unassigned/2026/11/21/" + fileName(none, false): none,
	}
	got := f.walk(t, "boss", "/webdav/")
	if len(got) != len(want) {
		t.Errorf("admin sees %d files, want %d: %v", len(got), len(want), keys(got))
	}
	for p, rec := range want {
		r, ok := got[(&url.URL{Path: p}).EscapedPath()]
		if !ok {
			t.Errorf("missing %s", p)
			continue
		}
		prop := r.Propstat[0].Prop
		if prop.Length != strconv.FormatInt(rec.OrigSize, 10) {
			t.Errorf("%s: length %s, want %d", p, prop.Length, rec.OrigSize)
		}
		if prop.ETag != `"`+hex.EncodeToString(rec.OrigSHA256[:])+`"` {
			t.Errorf("%s: etag %s", p, prop.ETag)
		}
		if mt, err := http.ParseTime(prop.Modified); err != nil || !mt.Equal(rec.Finished.Truncate(time.Second)) {
			t.Errorf("%s: modified %q, want %v", p, prop.Modified, rec.Finished)
		}
		if prop.Type != typePcap {
			t.Errorf("%s: type %q", p, prop.Type)
		}
	}

	// The root lists years and users/ only; a year its months; Depth 0 the
	// collection itself.
	_, rs := f.propfind(t, "boss", "/webdav/", "1")
	if h := hrefs(rs); !slices.Equal(h, []string{"/webdav/", "/webdav/2025/", "/webdav/2026/", "/webdav/users/"}) {
		t.Errorf("root: %v", h)
	}
	_, rs = f.propfind(t, "boss", "/webdav/2026/", "0")
	if h := hrefs(rs); !slices.Equal(h, []string{"/webdav/2026/"}) {
		t.Errorf("Depth 0: %v", h)
	}
	_, rs = f.propfind(t, "boss", "/webdav/users/", "1")
	if h := hrefs(rs); !slices.Equal(h, []string{"/webdav/users/", "/webdav/users/_unassigned/", "/webdav/users/alice/",
		"/webdav/users/bob/", "/webdav/users/boss/", "/webdav/users/carol/", "/webdav/users/dave/"}) {
		t.Errorf("users/: %v", h)
	}
	// The prefix without its slash is the root; empty and absent
	// collections are 404.
	if code, rs := f.propfind(t, "boss", "/webdav", "0"); code != 207 || len(rs) != 1 || rs[0].Href != "/webdav/" {
		t.Errorf("/webdav: %d %v", code, hrefs(rs))
	}
	for _, p := range []string{"/webdav/2024/", "/webdav/2026/10/", "/webdav/2026/11/20/", "/webdav/users/nobody/",
		"/webdav/users/dave/2026/", "/webdav/2026/11/21/nothing.pcap", "/webdav/2026/13/", "/webdav/2026/02/30/"} {
		if code, _ := f.propfind(t, "boss", p, "0"); code != http.StatusNotFound {
			t.Errorf("PROPFIND %s: %d, want 404", p, code)
		}
	}
}

func TestGetRangeHeadAndAudit(t *testing.T) {
	f := newFixture(t, Options{})
	rec := f.add(t, "call.pcap", "alice", day, 3*archive.ChunkSize+1234)
	orig := f.orig[rec.ID]
	p := "/webdav/users/alice/2026/11/21/" + fileName(rec, false)

	resp, b := f.do(t, "alice", http.MethodGet, p, nil)
	if resp.StatusCode != 200 || !bytes.Equal(b, orig) {
		t.Fatalf("GET: %s, %d bytes, equal %v", resp.Status, len(b), bytes.Equal(b, orig))
	}
	if resp.Header.Get("ETag") != `"`+hex.EncodeToString(rec.OrigSHA256[:])+`"` || resp.Header.Get("Content-Type") != typePcap ||
		resp.Header.Get("Last-Modified") == "" || resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Errorf("GET headers: %v", resp.Header)
	}
	for _, rg := range [][2]int{{0, 0}, {archive.ChunkSize - 10, archive.ChunkSize + 10}, {70000, 150000}, {len(orig) - 5, len(orig) - 1}} {
		resp, b := f.do(t, "alice", http.MethodGet, p, nil, "Range", fmt.Sprintf("bytes=%d-%d", rg[0], rg[1]))
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(b, orig[rg[0]:rg[1]+1]) {
			t.Errorf("Range %v: %s, %d bytes", rg, resp.Status, len(b))
		}
	}
	resp, b = f.do(t, "alice", http.MethodGet, p, nil, "Range", "bytes=-100")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(b, orig[len(orig)-100:]) {
		t.Errorf("suffix range: %s", resp.Status)
	}
	resp, _ = f.do(t, "alice", http.MethodGet, p, nil, "Range", fmt.Sprintf("bytes=%d-", len(orig)+10))
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("range beyond the end: %s", resp.Status)
	}
	resp, _ = f.do(t, "alice", http.MethodGet, p, nil, "If-None-Match", `"`+hex.EncodeToString(rec.OrigSHA256[:])+`"`)
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %s", resp.Status)
	}

	before := auditCount(t, f.arc, "webdav.get")
	resp, b = f.do(t, "alice", http.MethodHead, p, nil)
	if resp.StatusCode != 200 || len(b) != 0 || resp.ContentLength != int64(len(orig)) {
		t.Errorf("HEAD: %s, body %d, length %d", resp.Status, len(b), resp.ContentLength)
	}
	if code, _ := f.propfind(t, "alice", p, "0"); code != 207 {
		t.Errorf("PROPFIND file: %d", code)
	}
	if n := auditCount(t, f.arc, "webdav.get"); n != before {
		t.Errorf("HEAD and PROPFIND were audited as fetches (%d → %d)", before, n)
	}
	f.do(t, "alice", http.MethodGet, p, nil, "Range", "bytes=0-9")
	evs, _, err := f.arc.AuditLog(context.Background(), archive.AuditQuery{Action: "webdav.get"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != before+1 {
		t.Fatalf("audit entries %d, want %d", len(evs), before+1)
	}
	e := evs[0]
	if e.Actor != "alice" || e.Target != rec.ID.String() || !e.OK || e.Remote != "127.0.0.1" ||
		!strings.Contains(e.Detail, p) || !strings.Contains(e.Detail, "range=bytes=0-9") {
		t.Errorf("audit event %+v", e)
	}
	// Every GET so far (1 full, 6 ranged, 1 conditional, 1 more) was logged.
	if before != 8 {
		t.Errorf("GETs audited before HEAD: %d, want 8", before)
	}
}

func auditCount(t *testing.T, arc *archive.Archive, action string) int {
	t.Helper()
	evs, _, err := arc.AuditLog(context.Background(), archive.AuditQuery{Action: action, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

// TestViewsNeverShowOthers walks the whole tree as each user and checks
// that it holds exactly the recordings archive.MayRead allows, and that
// guessed paths to other recordings are 404.
func TestViewsNeverShowOthers(t *testing.T) {
	f := newFixture(t, Options{})
	f.add(t, "a1.pcap", "alice", day, 100)
	f.add(t, "a2.pcap", "alice", day.AddDate(0, -1, 0), 100)
	f.add(t, "b1.pcap", "bob", day, 100)
	f.add(t, "b2.pcap", "bob", day.AddDate(-1, 0, 0), 100)
	f.add(t, "party.pcap", "dave", day, 100, "sip:201@pbx.example", "+4930123")
	f.add(t, "x.pcap", "", day, 100)
	f.add(t, "ghost.pcap", "ghost", day, 100) // a user without an account

	ctx := context.Background()
	for _, u := range testUsers {
		if u.Role == archive.RoleIngest {
			continue
		}
		t.Run(u.Login, func(t *testing.T) {
			user, err := f.arc.GetUser(ctx, u.Login)
			if err != nil {
				t.Fatal(err)
			}
			got := f.walk(t, u.Login, "/webdav/")
			seen := map[archive.ID]bool{}
			for href := range got {
				id := idOf(t, f, href)
				seen[id] = true
				rec := recByID(f, id)
				if !archive.MayRead(user, rec) {
					t.Errorf("%s sees %s (user %q)", u.Login, href, rec.User)
				}
			}
			for _, rec := range f.recs {
				if archive.MayRead(user, rec) != seen[rec.ID] {
					t.Errorf("%s: recording of %q visible=%v, MayRead=%v", u.Login, rec.User, seen[rec.ID], archive.MayRead(user, rec))
				}
				// Guessed paths: every place the recording could be.
				for _, dir := range []string{"/webdav/", "/webdav/users/" + rec.User + "/", "/webdav/users/_unassigned/"} {
					p := dir + indexTime(rec).Format("2006/01/02/") + fileName(rec, false)
					resp, b := f.do(t, u.Login, http.MethodGet, p, nil)
					if resp.StatusCode == 200 && !archive.MayRead(user, rec) {
						t.Errorf("%s fetched %s", u.Login, p)
					}
					if resp.StatusCode == 200 && !bytes.Equal(b, f.orig[rec.ID]) {
						t.Errorf("%s: %s: wrong bytes", u.Login, p)
					}
				}
			}
		})
	}
	// Spot checks of the rule as the tree applies it.
	alice := f.walk(t, "alice", "/webdav/")
	if len(alice) != 2*2+1 { // a1, a2 by date and by user; party.pcap by date (extension 201)
		t.Errorf("alice sees %v", keys(alice))
	}
	_, rs := f.propfind(t, "alice", "/webdav/users/", "1")
	if h := hrefs(rs); !slices.Equal(h, []string{"/webdav/users/", "/webdav/users/alice/"}) {
		t.Errorf("alice's users/: %v", h)
	}
	_, rs = f.propfind(t, "carol", "/webdav/users/", "1")
	if h := hrefs(rs); !slices.Equal(h, []string{"/webdav/users/", "/webdav/users/bob/", "/webdav/users/carol/"}) {
		t.Errorf("carol's users/: %v", h)
	}
	for _, p := range []string{"/webdav/users/bob/", "/webdav/users/_unassigned/", "/webdav/users/ghost/"} {
		if code, _ := f.propfind(t, "alice", p, "0"); code != http.StatusNotFound {
			t.Errorf("alice: PROPFIND %s: %d", p, code)
		}
	}
	if len(f.walk(t, "dave", "/webdav/users/dave/")) != 1 {
		t.Error("dave's own recording missing under users/dave/")
	}
	admin := f.walk(t, "boss", "/webdav/users/_unassigned/")
	if len(admin) != 2 {
		t.Errorf("_unassigned holds %v, want the recording without a user and the one of ghost", keys(admin))
	}
}

func idOf(t *testing.T, f *fixture, href string) archive.ID {
	t.Helper()
	p, err := url.PathUnescape(href)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range f.recs {
		if strings.HasSuffix(p, "/"+fileName(r, false)) {
			return r.ID
		}
	}
	t.Fatalf("no recording for %s", href)
	return archive.ID{}
}

func recByID(f *fixture, id archive.ID) *archive.Recording {
	for _, r := range f.recs {
		if r.ID == id {
			return r
		}
	}
	return nil
}

func TestReadOnlyMethods(t *testing.T) {
	f := newFixture(t, Options{})
	rec := f.add(t, "call.pcap", "alice", day, 100)
	file := "/webdav/2026/11/21/" + fileName(rec, false)
	newFile, newDir, orphan := "/webdav/2026/11/21/new.pcap", "/webdav/2026/11/21/new/", "/webdav/2026/11/22/new.pcap"
	for _, tc := range []struct {
		method string
		path   string
		code   int
	}{
		{"PUT", file, 403}, {"PUT", newFile, 403}, {"PUT", orphan, 409}, {"PUT", "/webdav/2026/", 405},
		{"POST", file, 403},
		{"DELETE", file, 403}, {"DELETE", "/webdav/2026/", 403}, {"DELETE", newFile, 404},
		{"MKCOL", newDir, 415}, {"MKCOL", "/webdav/2026/", 405}, {"MKCOL", file, 405}, {"MKCOL", "/webdav/2026/11/22/x/", 415},
		{"COPY", file, 403}, {"MOVE", file, 403}, {"COPY", newFile, 404}, {"MOVE", "/webdav/users/", 403},
		{"PROPPATCH", file, 403}, {"PROPPATCH", "/webdav/", 403}, {"PROPPATCH", newFile, 404},
	} {
		resp, b := f.do(t, "boss", tc.method, tc.path, strings.NewReader("x"), "Destination", f.srv.URL+"/webdav/elsewhere.pcap")
		if resp.StatusCode != tc.code || (tc.code != 404 && !strings.Contains(string(b), "read-only archive")) {
			t.Errorf("%s %s: %s %q, want %d", tc.method, tc.path, resp.Status, b, tc.code)
		}
	}
	// Without a body (the test above sends "x"), MKCOL gets 403 or 409.
	for p, code := range map[string]int{newDir: 403, "/webdav/2026/11/22/x/": 409, "/webdav/newdir/": 403} {
		if resp, _ := f.do(t, "boss", "MKCOL", p, nil); resp.StatusCode != code {
			t.Errorf("MKCOL %s: %s, want %d", p, resp.Status, code)
		}
	}
	// Another user's file does not exist for alice: 404, not 403.
	bobs := f.add(t, "bob.pcap", "bob", day, 10)
	if resp, _ := f.do(t, "alice", "DELETE", "/webdav/2026/11/21/"+fileName(bobs, false), nil); resp.StatusCode != 404 {
		t.Errorf("DELETE of a file alice cannot see: %s", resp.Status)
	}
	for _, m := range []string{"LOCK", "UNLOCK", "TRACE", "REPORT"} {
		resp, _ := f.do(t, "boss", m, file, nil)
		if resp.StatusCode != http.StatusMethodNotAllowed || strings.Contains(resp.Header.Get("Allow"), "LOCK") {
			t.Errorf("%s: %s Allow %q", m, resp.Status, resp.Header.Get("Allow"))
		}
	}
	resp, _ := f.do(t, "", http.MethodOptions, "/webdav/", nil)
	if resp.StatusCode != 200 || strings.Contains(resp.Header.Get("DAV"), "2") || !strings.Contains(resp.Header.Get("DAV"), "1") ||
		resp.Header.Get("Allow") != "OPTIONS, GET, HEAD, PROPFIND" {
		t.Errorf("OPTIONS: %s DAV %q Allow %q", resp.Status, resp.Header.Get("DAV"), resp.Header.Get("Allow"))
	}
	// Nothing changed.
	if resp, b := f.do(t, "boss", http.MethodGet, file, nil); resp.StatusCode != 200 || !bytes.Equal(b, f.orig[rec.ID]) {
		t.Errorf("after writes: %s", resp.Status)
	}
	unwritten := auditCount(t, f.arc, "webdav.get")
	if unwritten != 1 {
		t.Errorf("audit has %d fetches, want 1", unwritten)
	}
}

func TestDepthInfinityRefused(t *testing.T) {
	f := newFixture(t, Options{})
	f.add(t, "call.pcap", "alice", day, 100)
	for _, d := range []string{"infinity", "Infinity", ""} {
		req, _ := http.NewRequest("PROPFIND", f.srv.URL+"/webdav/", strings.NewReader(allprop))
		req.SetBasicAuth("boss", testPassword)
		if d != "" {
			req.Header.Set("Depth", d)
		}
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(b.String(), "propfind-finite-depth") {
			t.Errorf("Depth %q: %s %s", d, resp.Status, b.String())
		}
	}
	if resp, _ := f.do(t, "boss", "PROPFIND", "/webdav/", nil, "Depth", "2"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("Depth 2: %s", resp.Status)
	}
	// go-webdav's recursive ReadDir is refused as well.
	if _, err := (&fileSystem{f.h}).ReadDir(context.WithValue(context.Background(), ctxKey{}, &reqInfo{user: &testUsers[0]}), "/webdav/", true); err == nil {
		t.Error("recursive ReadDir succeeded")
	}
}

func TestAuthentication(t *testing.T) {
	f := newFixture(t, Options{})
	rec := f.add(t, "call.pcap", "alice", day, 100)
	p := "/webdav/2026/11/21/" + fileName(rec, false)
	ctx := context.Background()

	resp, _ := f.do(t, "", http.MethodGet, p, nil)
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
		t.Errorf("anonymous: %s %q", resp.Status, resp.Header.Get("WWW-Authenticate"))
	}
	if resp, _ := f.do(t, "", "PROPFIND", "/webdav/", nil, "Depth", "1"); resp.StatusCode != 401 {
		t.Errorf("anonymous PROPFIND: %s", resp.Status)
	}
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+p, nil)
	req.SetBasicAuth("alice", "wrong")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("wrong password: %s", resp.Status)
	}
	if n := auditCount(t, f.arc, "webdav.login"); n != 1 {
		t.Errorf("failed logins audited: %d", n)
	}
	if resp, b := f.do(t, "phone", "PROPFIND", "/webdav/", nil, "Depth", "1"); resp.StatusCode != 403 {
		t.Errorf("ingest account: %s %s", resp.Status, b)
	}

	// A WebDAV password replaces the account password for WebDAV.
	if err := f.arc.SetWebDAVPassword(ctx, "alice", "dav-secret"); err != nil {
		t.Fatal(err)
	}
	get := func(login, pw string) int {
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+p, nil)
		req.SetBasicAuth(login, pw)
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := get("alice", "dav-secret"); c != 200 {
		t.Errorf("WebDAV password: %d", c)
	}
	if c := get("alice", "dav-secret"); c != 200 {
		t.Errorf("WebDAV password (cached): %d", c)
	}
	if c := get("alice", testPassword); c != 401 {
		t.Errorf("account password while a WebDAV password is set: %d", c)
	}
	if set, err := f.arc.WebDAVPasswordSet(ctx, "alice"); err != nil || set.IsZero() {
		t.Errorf("WebDAVPasswordSet: %v %v", set, err)
	}
	// Disabling the account ends WebDAV access at once, cache or not.
	u, _ := f.arc.GetUser(ctx, "alice")
	u.Disabled = true
	if err := f.arc.PutUser(ctx, *u, ""); err != nil {
		t.Fatal(err)
	}
	if c := get("alice", "dav-secret"); c != 401 {
		t.Errorf("disabled user: %d", c)
	}
	u.Disabled = false
	if err := f.arc.PutUser(ctx, *u, ""); err != nil {
		t.Fatal(err)
	}
	// Changing it drops the old one at once.
	if err := f.arc.SetWebDAVPassword(ctx, "alice", "dav-secret-2"); err != nil {
		t.Fatal(err)
	}
	if c := get("alice", "dav-secret"); c != 401 {
		t.Errorf("old WebDAV password after change: %d", c)
	}
	if c := get("alice", "dav-secret-2"); c != 200 {
		t.Errorf("new WebDAV password: %d", c)
	}
	// Removing it brings the account password back.
	if err := f.arc.SetWebDAVPassword(ctx, "alice", ""); err != nil {
		t.Fatal(err)
	}
	if c := get("alice", testPassword); c != 200 {
		t.Errorf("account password after removal: %d", c)
	}
	if c := get("alice", "dav-secret-2"); c != 401 {
		t.Errorf("removed WebDAV password: %d", c)
	}
	// A deleted and recreated account does not inherit the old one.
	if err := f.arc.SetWebDAVPassword(ctx, "bob", "bob-dav"); err != nil {
		t.Fatal(err)
	}
	if err := f.arc.DeleteUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond)
	if err := f.arc.PutUser(ctx, archive.User{Login: "bob", Role: archive.RoleAdmin}, "new-bob"); err != nil {
		t.Fatal(err)
	}
	if c := get("bob", "bob-dav"); c != 401 {
		t.Errorf("recreated account accepted the old WebDAV password: %d", c)
	}
	if c := get("bob", "new-bob"); c != 200 {
		t.Errorf("recreated account: %d", c)
	}
	if err := f.arc.SetWebDAVPassword(ctx, "nobody", "x"); err == nil {
		t.Error("WebDAV password for a missing user")
	}
}

func TestNamesAndEncoding(t *testing.T) {
	f := newFixture(t, Options{})
	uni := f.add(t, "Ærlig talt – Šiliņš 日本 100%?#;.pcap", "alice", day, 500)
	gz := f.addOpts(t, archive.NewRecording{FileName: "zipped.pcap.gz", User: "alice", Received: day, Gzip: true}, day, 600)
	ng := f.add(t, "next.PCAPNG", "alice", day, 700)
	got := f.walk(t, "alice", "/webdav/2026/")
	want := []string{
		"/webdav/2026/11/21/" + "Ærlig talt – Šiliņš 日本 100%_#;~" + uni.ID.String()[:8] + ".pcap",
		"/webdav/2026/11/21/zipped~" + gz.ID.String()[:8] + ".pcap",
		"/webdav/2026/11/21/next~" + ng.ID.String()[:8] + ".pcapng",
	}
	for _, w := range want {
		href := (&url.URL{Path: w}).EscapedPath()
		if _, ok := got[href]; !ok {
			t.Errorf("missing %s (%s) in %v", w, href, keys(got))
		}
		resp, b := f.do(t, "alice", http.MethodGet, href, nil)
		if resp.StatusCode != 200 || len(b) == 0 {
			t.Errorf("GET %s: %s", href, resp.Status)
		}
	}
	if r := got[(&url.URL{Path: want[2]}).EscapedPath()]; r.Propstat[0].Prop.Type != typePcapng {
		t.Errorf("pcapng type %q", r.Propstat[0].Prop.Type)
	}
	// Over-encoded requests name the same file; traversal does not escape
	// the tree.
	over := strings.ReplaceAll((&url.URL{Path: want[1]}).EscapedPath(), "zipped", "%7Aipped")
	if resp, _ := f.do(t, "alice", http.MethodGet, over, nil); resp.StatusCode != 200 {
		t.Errorf("GET %s: %s", over, resp.Status)
	}
	for _, raw := range []string{
		"/webdav/2026/11/21/../../../users/bob/",
		"/webdav/2026/11/21/%2e%2e/%2e%2e/",
		"/webdav/users/alice/../bob/",
		"/webdav/users/%2e%2e/",
		"/webdav/2026/11/21/..%2fx.pcap",
		"/webdav//2026/",
		"/webdav/2026/11/21/x%00.pcap",
	} {
		// Through the server (its mux cleans paths by redirecting) ...
		req, err := http.NewRequest(http.MethodGet, f.srv.URL+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = raw // sent as is, not cleaned by the client
		req.SetBasicAuth("alice", testPassword)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("GET %s: %s", raw, resp.Status)
		}
		// ... and straight into the handler, which must refuse on its own.
		for _, m := range []string{http.MethodGet, "PROPFIND"} {
			req = httptest.NewRequest(m, "/", nil)
			req.URL.Path, req.URL.RawPath = "", ""
			if req.URL.Path, err = url.PathUnescape(raw); err != nil {
				t.Fatal(err)
			}
			req.SetBasicAuth("alice", testPassword)
			req.Header.Set("Depth", "1")
			rw := httptest.NewRecorder()
			f.h.ServeHTTP(rw, req)
			if rw.Code != http.StatusNotFound {
				t.Errorf("%s %q into the handler: %d", m, req.URL.Path, rw.Code)
			}
		}
	}
}

func TestFileEntriesCollide(t *testing.T) {
	mk := func(id string, name string) *archive.Recording {
		i, err := archive.ParseID(id)
		if err != nil {
			t.Fatal(err)
		}
		return &archive.Recording{ID: i, FileName: name, Finished: day}
	}
	recs := []*archive.Recording{
		mk("0123456789abcdef0123456789abcdef", "a.pcap"),
		mk("0123456789abcdefffffffffffffffff", "a.pcap"), // same first 8 hex digits
		mk("0123456789abcdef0000000000000000", "b.pcap"),
	}
	var names []string
	for _, e := range fileEntries(recs) {
		names = append(names, e.name)
	}
	want := []string{"a~0123456789abcdef0123456789abcdef.pcap", "a~0123456789abcdefffffffffffffffff.pcap", "b~01234567.pcap"}
	if !slices.Equal(names, want) {
		t.Errorf("names %v, want %v", names, want)
	}
	// Order of input does not change the names.
	slices.Reverse(recs)
	var again []string
	for _, e := range fileEntries(recs) {
		again = append(again, e.name)
	}
	if !slices.Equal(again, want) {
		t.Errorf("reversed: %v", again)
	}
}

func TestCacheShowsNewRecordingsAfterTTL(t *testing.T) {
	now := day
	f := newFixture(t, Options{CacheTTL: time.Minute, Now: func() time.Time { return now }})
	f.add(t, "one.pcap", "alice", day, 10)
	if n := len(f.walk(t, "alice", "/webdav/2026/11/21/")); n != 1 {
		t.Fatalf("%d files", n)
	}
	two := f.add(t, "two.pcap", "alice", day, 10)
	if n := len(f.walk(t, "alice", "/webdav/2026/11/21/")); n != 1 {
		t.Errorf("cached listing changed within the TTL: %d files", n)
	}
	now = now.Add(2 * time.Minute)
	if n := len(f.walk(t, "alice", "/webdav/2026/11/21/")); n != 2 {
		t.Errorf("after the TTL: %d files", n)
	}
	// A deleted recording is gone at once for GET, even while listed.
	if err := f.arc.Delete(context.Background(), two.ID, "boss", "test"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := f.do(t, "alice", http.MethodGet, "/webdav/2026/11/21/"+fileName(two, false), nil); resp.StatusCode != 404 {
		t.Errorf("GET of a deleted recording: %s", resp.Status)
	}
}

func TestCollectionIndexPage(t *testing.T) {
	f := newFixture(t, Options{})
	rec := f.add(t, "x&y'z.pcap", "alice", day, 10)
	resp, b := f.do(t, "alice", http.MethodGet, "/webdav/2026/11/21/", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("index: %s", resp.Status)
	}
	if strings.Contains(string(b), "x&y'z") || !strings.Contains(string(b), ">x&amp;y&#39;z~"+rec.ID.String()[:8]) {
		t.Errorf("index not escaped: %s", b)
	}
	if resp, _ := f.do(t, "alice", http.MethodGet, "/webdav/2027/", nil); resp.StatusCode != 404 {
		t.Errorf("index of an absent year: %s", resp.Status)
	}
	if resp, b := f.do(t, "alice", http.MethodHead, "/webdav/", nil); resp.StatusCode != 200 || len(b) != 0 {
		t.Errorf("HEAD of the root: %s", resp.Status)
	}
}

var noRedirect = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func hrefs(rs []msResponse) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Href)
	}
	return out
}

func TestOtherPrefix(t *testing.T) {
	f := newFixture(t, Options{Prefix: "/dav/archive/"})
	rec := f.add(t, "call.pcap", "alice", day, 70_000)
	got := f.walk(t, "alice", "/dav/archive/")
	want := []string{"/dav/archive/2026/11/21/" + fileName(rec, false), "/dav/archive/users/alice/2026/11/21/" + fileName(rec, false)}
	if !slices.Equal(keys(got), want) {
		t.Errorf("tree %v, want %v", keys(got), want)
	}
	if resp, b := f.do(t, "alice", http.MethodGet, want[1], nil, "Range", "bytes=65536-"); resp.StatusCode != 206 || !bytes.Equal(b, f.orig[rec.ID][65536:]) {
		t.Errorf("GET: %s", resp.Status)
	}
	if code, _ := f.propfind(t, "alice", "/dav/", "0"); code != http.StatusNotFound {
		t.Errorf("outside the prefix: %d", code)
	}
	for _, bad := range []string{"webdav/", "/webdav", "/"} {
		o := Options{Prefix: bad}
		if o.Validate() == nil {
			t.Errorf("prefix %q accepted", bad)
		}
	}
}

// TestFileAccessCheckedWithinTTL: listings are cached, but GET and
// PROPFIND of a file ask again whether the recording may be read: a
// binned recording, or one whose owner left the reader's access list, is
// gone at once, within the cache's TTL.
func TestFileAccessCheckedWithinTTL(t *testing.T) {
	now := day
	f := newFixture(t, Options{CacheTTL: time.Minute, Now: func() time.Time { return now }})
	ctx := context.Background()
	mine := f.add(t, "mine.pcap", "alice", day, 10)
	bobs := f.add(t, "bobs.pcap", "bob", day, 10)
	paths := map[string]string{ // reader → a file of the cached listing
		"alice": "/webdav/2026/11/21/" + fileName(mine, false),
		"carol": "/webdav/users/bob/2026/11/21/" + fileName(bobs, false),
	}
	for login, p := range paths {
		f.walk(t, login, "/webdav/") // fills the cache
		if resp, _ := f.do(t, login, http.MethodGet, p, nil); resp.StatusCode != 200 {
			t.Fatalf("GET %s as %s: %s", p, login, resp.Status)
		}
		if code, _ := f.propfind(t, login, p, "0"); code != http.StatusMultiStatus {
			t.Fatalf("PROPFIND %s as %s: %d", p, login, code)
		}
	}
	// Within the TTL: alice's recording goes to the recycle bin, and bob
	// leaves carol's access list.
	now = now.Add(time.Second)
	if err := f.arc.Bin(ctx, mine.ID, "boss"); err != nil {
		t.Fatal(err)
	}
	carol := testUsers[3]
	carol.AccessList = nil
	if err := f.arc.PutUser(ctx, carol, ""); err != nil {
		t.Fatal(err)
	}
	for login, p := range paths {
		if resp, b := f.do(t, login, http.MethodGet, p, nil); resp.StatusCode != 404 {
			t.Errorf("GET %s as %s within the TTL after access ended: %s, %d bytes", p, login, resp.Status, len(b))
		}
		if resp, _ := f.do(t, login, http.MethodHead, p, nil); resp.StatusCode != 404 {
			t.Errorf("HEAD %s as %s within the TTL after access ended: %s", p, login, resp.Status)
		}
		if code, _ := f.propfind(t, login, p, "0"); code != 404 {
			t.Errorf("PROPFIND %s as %s within the TTL after access ended: %d", p, login, code)
		}
	}
	// The admin still reads bob's recording.
	if resp, _ := f.do(t, "boss", http.MethodGet, paths["carol"], nil); resp.StatusCode != 200 {
		t.Errorf("GET as boss: %s", resp.Status)
	}
}
