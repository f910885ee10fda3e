package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// authzWorld is a running appliance with people of every kind and
// recordings only some of them may read.
type authzWorld struct {
	d       *daemon
	clients map[string]*uiClient // by role name; "anonymous" has no session
	recA    string               // alice's call with +47 12 34 56 78 (dave's access list names that number)
	recB1   string               // bob's call, first segment
	recB2   string               // bob's call, second segment (same call id)
	guidA   string
	guidB   string
	noteA   string // alice's note on recA
}

// roles of the matrix, in the order they are reported.
// Those allowed to change things come last, so a delete does not hide what
// the others would have got.
var authzRoles = []string{"anonymous", "sam", "bob", "carol", "dave", "alice", "admin"}

func setupAuthz(t *testing.T) *authzWorld {
	t.Helper()
	d := startDaemon(t, "")
	w := &authzWorld{d: d, clients: map[string]*uiClient{}}
	admin := d.uiLogin(t, "admin", testAdminPassword)
	w.clients["admin"] = admin
	pw := func(login string) string { return "pw-" + login + "-0123456789" }
	// alice and bob own recordings; carol's access list names alice; dave's
	// names a number alice spoke to; sam is a supervisor of nobody's calls.
	admin.createUser(t, "alice", pw("alice"), "user", url.Values{"extensions": {"201"}})
	admin.createUser(t, "bob", pw("bob"), "user", url.Values{"extensions": {"202"}})
	admin.createUser(t, "carol", pw("carol"), "user", url.Values{"accessList": {"alice"}})
	admin.createUser(t, "dave", pw("dave"), "user", url.Values{"accessList": {"+47 12 34 56 78"}})
	admin.createUser(t, "sam", pw("sam"), "supervisor", nil)
	for _, l := range []string{"alice", "bob", "carol", "dave", "sam"} {
		w.clients[l] = d.uiLogin(t, l, pw(l))
	}
	w.clients["anonymous"] = d.newUIClient(t)

	w.guidA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaa0001"
	w.guidB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbb0002"
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	w.recA = d.ingestSynth(t, w.guidA, "alice", synthCall{seconds: 3, start: start, callID: "a@pbx",
		from: synthParty{"Åsa Øberg", "201"}, to: synthParty{"Jānis Bērziņš", "+4712345678"}})
	w.recB1 = d.ingestSynth(t, w.guidB, "bob", synthCall{seconds: 2, start: start.Add(time.Hour), callID: "b1@pbx",
		from: synthParty{"Šarūnas Žukauskas", "5550100"}, to: synthParty{"Bob", "202"}})
	w.recB2 = d.ingestSynth(t, w.guidB, "bob", synthCall{seconds: 2, start: start.Add(time.Hour + time.Minute), callID: "b2@pbx",
		from: synthParty{"Šarūnas Žukauskas", "5550100"}, to: synthParty{"Bob", "202"}})

	resp, body := w.clients["alice"].post(t, "/recordings/"+w.recA+"/notes", url.Values{"text": {"Customer asked for a callback."}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("alice adds a note: %s\n%s", resp.Status, body)
	}
	_, page := w.clients["alice"].get(t, "/recordings/"+w.recA)
	m := regexp.MustCompile(`/recordings/` + w.recA + `/notes/(\d+)/delete`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("alice's note is not on the recording page")
	}
	w.noteA = string(m[1])
	return w
}

// expect says which roles get which status; roles not named get other.
type expect struct {
	ok     []string // these roles get okCode
	okCode int
	other  int            // everyone else (but anonymous, see anon)
	anon   int            // 0: same as other
	by     map[string]int // exceptions by role
}

func (e expect) code(role string) int {
	if c, ok := e.by[role]; ok {
		return c
	}
	if slices.Contains(e.ok, role) {
		return e.okCode
	}
	if role == "anonymous" && e.anon != 0 {
		return e.anon
	}
	return e.other
}

func TestAuthzMatrix(t *testing.T) {
	w := setupAuthz(t)
	a, b1, b2 := w.recA, w.recB1, w.recB2
	readA := []string{"alice", "carol", "dave", "admin"}
	readB := []string{"bob", "admin"}
	members := []string{"alice", "carol", "dave", "sam", "bob", "admin"}
	const guessed = "0123456789abcdef0123456789abcdef"

	type route struct {
		method, path string
		form         url.Values
		e            expect
	}
	page := func(path string, ok []string) route {
		return route{"GET", path, nil, expect{ok: ok, okCode: 200, other: 404, anon: 303}}
	}
	api := func(path string, ok []string) route {
		return route{"GET", path, nil, expect{ok: ok, okCode: 200, other: 404, anon: 401}}
	}
	adminPage := func(path string) route {
		return route{"GET", path, nil, expect{ok: []string{"admin"}, okCode: 200, other: 403, anon: 303}}
	}
	adminPost := func(path string, form url.Values, okCode int) route {
		return route{"POST", path, form, expect{ok: []string{"admin"}, okCode: okCode, other: 403, anon: 401}}
	}
	routes := []route{
		{"GET", "/", nil, expect{ok: members, okCode: 200, anon: 303}},
		{"GET", "/account", nil, expect{ok: members, okCode: 200, anon: 303}},
		{"GET", "/login", nil, expect{ok: []string{"anonymous"}, okCode: 200, other: 303}},
		{"GET", "/no/such/page", nil, expect{other: 404}},
		page("/recordings/"+a, readA),
		page("/recordings/"+b1, readB),
		page("/recordings/"+b2, readB),
		page("/recordings/"+guessed, nil),
		page("/recordings/not-an-id", nil),
		{"POST", "/recordings/" + a + "/verify", url.Values{}, expect{ok: readA, okCode: 200, other: 404, anon: 401}},
		{"POST", "/recordings/" + b1 + "/verify", url.Values{}, expect{ok: readB, okCode: 200, other: 404, anon: 401}},
		{"POST", "/recordings/" + guessed + "/notes", url.Values{"text": {"x"}}, expect{other: 404, anon: 401}},
		{"POST", "/recordings/" + b1 + "/notes", url.Values{"text": {"hello"}}, expect{ok: readB, okCode: 303, other: 404, anon: 401}},
		// alice's note: readers who are not the author get 403, others 404.
		{"POST", "/recordings/" + a + "/notes/" + w.noteA, url.Values{"text": {"edited"}},
			expect{ok: []string{"alice", "admin"}, okCode: 303, other: 404, anon: 401, by: map[string]int{"carol": 403, "dave": 403}}},
		{"POST", "/recordings/" + a + "/notes/" + w.noteA + "/delete", url.Values{},
			expect{ok: []string{"alice"}, okCode: 303, other: 404, anon: 401, by: map[string]int{"carol": 403, "dave": 403}}},
		api("/api/v1/recordings/"+a, readA),
		api("/api/v1/recordings/"+a+"/audio.wav", readA),
		api("/api/v1/recordings/"+a+"/audio.wav?channels=mono", readA),
		api("/api/v1/recordings/"+a+"/peaks?n=100", readA),
		api("/api/v1/recordings/"+a+"/download.zip", readA),
		api("/api/v1/recordings/"+a+"/original.pcap", readA),
		api("/api/v1/recordings/"+a+"/verify", readA),
		api("/api/v1/recordings/"+b1, readB),
		api("/api/v1/recordings/"+b2+"/audio.wav", readB),
		api("/api/v1/recordings/"+b2+"/download.zip", readB),
		api("/api/v1/recordings/"+b1+"/original.pcap", readB),
		api("/api/v1/calls/"+w.guidA, readA),
		api("/api/v1/calls/"+w.guidA+"/audio.wav", readA),
		api("/api/v1/calls/"+w.guidB+"/audio.wav", readB),
		api("/api/v1/recordings/"+guessed+"/audio.wav", nil),
		api("/api/v1/recordings/"+guessed+"/download.zip", nil),
		adminPage("/admin/users"),
		adminPage("/admin/users/new"),
		adminPage("/admin/users/alice"),
		adminPage("/admin/audit"),
		adminPage("/admin/settings"),
		adminPost("/admin/settings", url.Values{"pbxName": {"PBX"}, "timeZone": {"UTC"}, "sealing": {"on"}}, 303),
		adminPost("/admin/users/sam", url.Values{"name": {"Sam"}, "role": {"supervisor"}}, 303),
		adminPost("/admin/users/sam/tokens", url.Values{"label": {"t"}}, 200),
		adminPost("/admin/settings/ingest", url.Values{"login": {"ingest"}, "password": {"ingest-test-password"}, "confirm": {"ingest-test-password"}}, 303),
	}
	for _, rt := range routes {
		for _, role := range authzRoles {
			c := w.clients[role]
			var resp *http.Response
			var body []byte
			if rt.method == "GET" {
				resp, body = c.get(t, rt.path)
			} else {
				resp, body = c.post(t, rt.path, rt.form)
			}
			want := rt.e.code(role)
			if resp.StatusCode != want {
				t.Errorf("%s %s as %s: %d, want %d\n%.300s", rt.method, rt.path, role, resp.StatusCode, want, body)
			}
			if resp.StatusCode == 303 && role == "anonymous" && rt.method == "GET" &&
				!strings.HasPrefix(resp.Header.Get("Location"), "/login") {
				t.Errorf("%s %s as anonymous redirects to %q, not to the login", rt.method, rt.path, resp.Header.Get("Location"))
			}
		}
	}

	// The recordings list shows each person exactly what they may read;
	// bob's two segments are one call (one row).
	wantList := map[string][]string{
		"alice": {a}, "carol": {a}, "dave": {a}, "sam": nil, "bob": {b1}, "admin": {b1, a},
	}
	for role, want := range wantList {
		_, body := w.clients[role].get(t, "/")
		got := listedRecordings(body)
		if !slices.Equal(got, want) {
			t.Errorf("list as %s: %v, want %v", role, got, want)
		}
	}
	// The JSON API list, with the session cookie, shows the same recordings.
	for role, want := range wantList {
		_, body := w.clients[role].get(t, "/api/v1/recordings")
		for _, id := range []string{a, b1, b2} {
			in := strings.Contains(string(body), id)
			should := slices.Contains(want, id) || (id == b2 && slices.Contains(want, b1))
			if in != should {
				t.Errorf("API list as %s: recording %s listed=%t, want %t", role, id, in, should)
			}
		}
	}

	// HTTP Basic and Bearer reach the API with the same rights.
	for _, role := range []string{"alice", "carol", "dave", "sam", "bob"} {
		c := w.clients[role]
		for _, id := range []string{a, b1} {
			req, _ := http.NewRequest("GET", w.d.url+"/api/v1/recordings/"+id+"/audio.wav", nil)
			req.SetBasicAuth(c.login, c.pass)
			resp, _ := w.clients["anonymous"].do(t, req)
			want := 404
			if (id == a && slices.Contains(readA, role)) || (id == b1 && slices.Contains(readB, role)) {
				want = 200
			}
			if resp.StatusCode != want {
				t.Errorf("basic auth %s GET audio of %s: %d, want %d", role, id, resp.StatusCode, want)
			}
		}
	}

	// A form posted from another site is refused, even with a session.
	req, _ := http.NewRequest("POST", w.d.url+"/recordings/"+a+"/notes", strings.NewReader("text=evil"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp, _ := w.clients["alice"].do(t, req); resp.StatusCode != 403 {
		t.Errorf("cross-site note post: %d, want 403", resp.StatusCode)
	}
	// No state change on GET: the POST-only routes refuse GET.
	for _, p := range []string{"/logout", "/recordings/" + a + "/verify", "/recordings/" + a + "/notes", "/admin/settings/key"} {
		if resp, _ := w.clients["admin"].get(t, p); resp.StatusCode != 405 && resp.StatusCode != 404 && resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		} else if p == "/logout" && resp.StatusCode == 200 {
			t.Errorf("GET /logout answered 200")
		}
	}
	if resp, _ := w.clients["admin"].get(t, "/"); resp.StatusCode != 200 {
		t.Fatalf("admin's session ended after GETs of POST-only routes: %d", resp.StatusCode)
	}
	// An oversized form is refused.
	big := url.Values{"text": {strings.Repeat("x", 70<<10)}}
	if resp, _ := w.clients["alice"].post(t, "/recordings/"+a+"/notes", big); resp.StatusCode != 413 {
		t.Errorf("70 KiB note form: %d, want 413", resp.StatusCode)
	}
	fmt.Fprintf(testWriter{t}, "authz matrix: %d routes x %d roles\n", len(routes), len(authzRoles))
}

// TestAuthzFourEyes: a user under 4-eyes access reaches no recording by
// page, API, Basic auth or WebDAV until the supervisor grants it, reaches
// them while the supervisor's page is connected, and no longer once it
// has closed.
func TestAuthzFourEyes(t *testing.T) {
	w := setupAuthz(t)
	a, b1 := w.recA, w.recB1
	const evePW = "pw-eve-0123456789"
	// eve's access list would let her read everything of alice's and bob's.
	w.clients["admin"].createUser(t, "eve", evePW, "user", url.Values{"accessList": {"alice, bob"}, "supervisor": {"sam"}})
	eve := w.d.uiLogin(t, "eve", evePW)
	davGet := func(path string) int {
		req, _ := http.NewRequest("PROPFIND", w.d.url+path, nil)
		req.Header.Set("Depth", "1")
		req.SetBasicAuth("eve", evePW)
		resp, _ := w.clients["anonymous"].do(t, req)
		return resp.StatusCode
	}
	check := func(when string, page, api, dav int) {
		t.Helper()
		for _, p := range []string{"/recordings/" + a, "/recordings/" + b1, "/recyclebin"} {
			if resp, _ := eve.get(t, p); resp.StatusCode != page {
				t.Errorf("%s: GET %s as eve: %d, want %d", when, p, resp.StatusCode, page)
			}
		}
		for _, p := range []string{"/api/v1/recordings", "/api/v1/recordings/" + a, "/api/v1/recordings/" + a + "/audio.wav",
			"/api/v1/recordings/" + a + "/peaks?n=100", "/api/v1/recordings/" + a + "/download.zip", "/api/v1/recordings/" + a + "/original.pcap",
			"/api/v1/recordings/" + a + "/verify", "/api/v1/recordings/" + a + "/notes", "/api/v1/calls/" + w.guidB + "/audio.wav",
			"/api/v1/recyclebin"} {
			if resp, _ := eve.get(t, p); resp.StatusCode != api {
				t.Errorf("%s: GET %s as eve: %d, want %d", when, p, resp.StatusCode, api)
			}
			req, _ := http.NewRequest("GET", w.d.url+p, nil)
			req.SetBasicAuth("eve", evePW)
			if resp, _ := w.clients["anonymous"].do(t, req); resp.StatusCode != api {
				t.Errorf("%s: GET %s as eve with Basic auth: %d, want %d", when, p, resp.StatusCode, api)
			}
		}
		if c := davGet("/webdav/"); c != dav {
			t.Errorf("%s: PROPFIND /webdav/ as eve: %d, want %d", when, c, dav)
		}
		_, body := eve.get(t, "/")
		if got := len(listedRecordings(body)); (got > 0) != (page == 200) {
			t.Errorf("%s: eve's list shows %d recordings", when, got)
		}
	}
	check("no grant", 403, 403, 403)

	// sam's supervision page: the event stream, answering its pings.
	ctx, closePage := context.WithCancel(context.Background())
	defer closePage()
	req, _ := http.NewRequestWithContext(ctx, "GET", w.d.url+"/supervise/events", nil)
	stream, err := w.clients["sam"].c.Do(req)
	if err != nil || stream.StatusCode != 200 {
		t.Fatalf("sam's event stream: %v %v", err, stream)
	}
	defer stream.Body.Close()
	ids := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stream.Body)
		for sc.Scan() {
			if m := regexp.MustCompile(`^data: \{.*"stream":"(\w+)"`).FindStringSubmatch(sc.Text()); m != nil {
				ids <- m[1]
			}
		}
	}()
	var id string
	select {
	case id = <-ids:
	case <-time.After(10 * time.Second):
		t.Fatal("no hello on sam's event stream")
	}
	beating := make(chan struct{})
	go func() { // the page answers its pings until it closes
		defer close(beating)
		for ctx.Err() == nil {
			req, _ := http.NewRequestWithContext(ctx, "POST", w.d.url+"/supervise/heartbeat", strings.NewReader("stream="+id))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", w.d.url)
			if resp, err := w.clients["sam"].c.Do(req); err == nil {
				resp.Body.Close()
			}
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	if resp, body := eve.post(t, "/foureyes/request", url.Values{}); resp.StatusCode != 303 {
		t.Fatalf("eve asks: %s %.300s", resp.Status, body)
	}
	if resp, body := w.clients["sam"].post(t, "/supervise/eve/grant", url.Values{}); resp.StatusCode != 303 {
		t.Fatalf("sam grants: %s %.300s", resp.Status, body)
	}
	check("granted", 200, 200, 207)

	// The page closes: after the grace, eve reads nothing again.
	closePage()
	<-beating
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, _ := eve.get(t, "/api/v1/recordings/"+a)
		if resp.StatusCode == 403 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("eve still reads 15 s after sam's page closed: %d", resp.StatusCode)
		}
		time.Sleep(100 * time.Millisecond)
	}
	check("page closed", 403, 403, 403)
}

// testWriter writes to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// send makes a JSON API request with the session cookie, as the web UI's
// scripts do (same origin).
func (c *uiClient) send(t *testing.T, method, path, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, c.d.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Origin", c.d.url)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return c.do(t, req)
}

// TestAuthzLifecycle is the matrix of the lifecycle's pages and API: the
// legal hold, deleting, the recycle bin and the seal chain, by page, by
// API and by guessed id. Nobody restores, purges or deletes a recording
// of someone else (admins excepted). Every account deletes recoverably
// (the default), so deleted recordings go to the recycle bin first.
func TestAuthzLifecycle(t *testing.T) {
	w := setupAuthz(t)
	a, b1 := w.recA, w.recB1
	members := []string{"alice", "carol", "dave", "sam", "bob", "admin"}
	const guessed = "0123456789abcdef0123456789abcdef"
	type route struct {
		method, path string
		body         string // a form (pages) or JSON (API)
		e            expect
	}
	// post is a state change: anonymous callers get 401.
	post := func(method, path, body string, e expect) route { e.anon = 401; return route{method, path, body, e} }
	// own: only owner gets code; the admin finds it gone (404); readers
	// who are not the owner are refused with 403; others find nothing.
	own := func(owner string, code int, readers ...string) expect {
		by := map[string]int{"admin": 404}
		for _, r := range readers {
			by[r] = 403
		}
		return expect{ok: []string{owner}, okCode: code, other: 404, by: by}
	}
	// hold: only the admin may (nobody else has the right); alice's
	// readers are refused, the others do not find it.
	hold := func(code int) expect {
		return expect{ok: []string{"admin"}, okCode: code, other: 404, by: map[string]int{"carol": 403, "dave": 403, "alice": 403}}
	}
	adminOnly := func(code int) expect { return expect{ok: []string{"admin"}, okCode: code, other: 403} }
	routes := []route{
		{"GET", "/recyclebin", "", expect{ok: members, okCode: 200, anon: 303}},
		post("POST", "/recordings/"+a+"/protect", "", hold(303)),
		post("POST", "/recordings/"+a+"/unprotect", "", hold(303)),
		post("POST", "/recordings/"+guessed+"/protect", "", expect{other: 404}),
		post("POST", "/recordings/"+guessed+"/delete", "", expect{other: 404}),
		post("POST", "/recyclebin/"+guessed+"/restore", "", expect{other: 404}),
		post("POST", "/recyclebin/"+guessed+"/purge", "", adminOnly(404)),
		// bob deletes his recording; only he restores it; only the admin
		// purges it; then nobody finds it.
		post("POST", "/recordings/"+b1+"/delete", "", own("bob", 303)),
		post("POST", "/recyclebin/"+b1+"/restore", "", own("bob", 303)),
		post("POST", "/recordings/"+b1+"/delete", "", own("bob", 303)),
		post("POST", "/recyclebin/"+b1+"/purge", "", adminOnly(303)),
		{"GET", "/recordings/" + b1, "", expect{other: 404, anon: 303}},
		post("POST", "/admin/settings/lifecycle", "retentionDays=0&recycleBinDays=30", adminOnly(303)),
		// The same through the API, on alice's recording.
		{"GET", "/api/v1/recyclebin", "", expect{ok: members, okCode: 200, anon: 401}},
		post("PUT", "/api/v1/recordings/"+a+"/protect", "", hold(200)),
		post("DELETE", "/api/v1/recordings/"+a, "", expect{other: 404, by: map[string]int{"carol": 403, "dave": 403, "alice": 409, "admin": 409}}),
		post("DELETE", "/api/v1/recordings/"+a+"/protect", "", hold(200)),
		post("PUT", "/api/v1/recordings/"+guessed+"/protect", "", expect{other: 404}),
		post("DELETE", "/api/v1/recordings/"+guessed, "", expect{other: 404}),
		post("DELETE", "/api/v1/recordings/"+a, "", own("alice", 200, "carol", "dave")),
		post("POST", "/api/v1/recyclebin/"+a+"/restore", "", own("alice", 200)),
		post("DELETE", "/api/v1/recordings/"+a, "", own("alice", 200, "carol", "dave")),
		post("DELETE", "/api/v1/recyclebin/"+a, "", adminOnly(200)),
		post("DELETE", "/api/v1/recyclebin/"+guessed, "", adminOnly(404)),
		post("POST", "/api/v1/recyclebin/"+guessed+"/restore", "", expect{other: 404}),
		{"GET", "/api/v1/seal/verify", "", expect{ok: []string{"admin"}, okCode: 200, other: 403, anon: 401}},
		post("PATCH", "/api/v1/settings", `{"retentionDays": 0, "recycleBinDays": 30}`, adminOnly(200)),
		post("PATCH", "/api/v1/users/alice", `{"deletionMode": "permanent"}`, adminOnly(200)),
		post("PATCH", "/api/v1/users/me", `{"mayProtect": true}`, expect{ok: []string{"admin"}, okCode: 200, other: 403}),
	}
	for _, rt := range routes {
		for _, role := range authzRoles {
			c := w.clients[role]
			var resp *http.Response
			var body []byte
			switch {
			case rt.method == "GET":
				resp, body = c.get(t, rt.path)
			case strings.HasPrefix(rt.path, "/api/"):
				resp, body = c.send(t, rt.method, rt.path, rt.body)
			default:
				form, _ := url.ParseQuery(rt.body)
				resp, body = c.post(t, rt.path, form)
			}
			if want := rt.e.code(role); resp.StatusCode != want {
				t.Errorf("%s %s as %s: %d, want %d\n%.300s", rt.method, rt.path, role, resp.StatusCode, want, body)
			}
		}
	}
	// Both recordings are gone for good; the chain says so.
	for _, id := range []string{a, b1} {
		if resp, _ := w.clients["admin"].get(t, "/api/v1/recordings/"+id); resp.StatusCode != 404 {
			t.Errorf("purged %s: %d", id, resp.StatusCode)
		}
	}
	_, body := w.clients["admin"].get(t, "/api/v1/seal/verify")
	if !strings.Contains(string(body), `"valid": true`) || !strings.Contains(string(body), `"tombstones": 2`) {
		t.Errorf("seal chain after two purges: %s", body)
	}
	fmt.Fprintf(testWriter{t}, "lifecycle authz matrix: %d routes x %d roles\n", len(routes), len(authzRoles))
}

// TestAuthzSharePages: the pages of secure links. carol may send links
// (she reads alice's call), dave may see the External access page and
// receives an internal link; the admin may do everything; the others
// (alice and bob included: they have neither right) are refused.
func TestAuthzSharePages(t *testing.T) {
	w := setupAuthz(t)
	a := w.recA
	admin := w.clients["admin"]
	for login, f := range map[string]url.Values{
		"carol": {"name": {"carol"}, "role": {"user"}, "accessList": {"alice"}, "email": {"carol@example.org"}, "maySendLinks": {"on"}},
		"dave":  {"name": {"dave"}, "role": {"user"}, "accessList": {"+47 12 34 56 78"}, "email": {"dave@example.org"}, "maySeeExternal": {"on"}},
	} {
		if resp, body := admin.post(t, "/admin/users/"+login, f); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("grant %s: %s\n%s", login, resp.Status, body)
		}
		w.clients[login] = w.d.uiLogin(t, login, "pw-"+login+"-0123456789")
	}
	carol := w.clients["carol"]
	external := url.Values{"r": {a}, "recipientName": {"Kari Kunde"}, "recipientEmail": {"kari@example.net"}, "reason": {"complaint"},
		"days": {"1"}, "subject": {"Calls"}, "body": {"Listen: {{link}}"}, "language": {"en"}}
	internal := url.Values{"r": {a}, "recipient": {"dave"}, "subject": {"Calls"}, "body": {"See {{link}}"}}
	if resp, body := carol.post(t, "/share/new", external); resp.StatusCode != 200 {
		t.Fatalf("carol sends a link: %s\n%s", resp.Status, body)
	}
	if resp, body := carol.post(t, "/share/internal", internal); resp.StatusCode != 200 {
		t.Fatalf("carol sends an internal link: %s\n%s", resp.Status, body)
	}
	_, logPage := admin.get(t, "/external")
	gm := regexp.MustCompile(`data-link="([0-9a-f]+)"`).FindSubmatch(logPage)
	_, outbox := admin.get(t, "/admin/outbox")
	lm := regexp.MustCompile(`/links/([A-Za-z0-9_-]+)`).FindSubmatch(outbox)
	if gm == nil || lm == nil {
		t.Fatalf("no grant on the log or no internal link in the outbox:\n%s\n%s", logPage, outbox)
	}
	grant, link := string(gm[1]), string(lm[1])
	config := url.Values{"footer": {"Example AS"}, "sessionMinutes": {"120"}, "days": {"7"}, "subjectExternal": {"Calls"},
		"bodyExternal": {"{{link}}"}, "subjectInternal": {"Calls"}, "bodyInternal": {"{{link}}"}, "language": {"en"}, "terms_en": {"Terms."}}

	senders := []string{"carol", "admin"}
	viewers := []string{"dave", "admin"}
	type route struct {
		method, path string
		form         url.Values
		e            expect
	}
	get := func(path string, ok []string, other int) route {
		return route{"GET", path, nil, expect{ok: ok, okCode: 200, other: other, anon: 303}}
	}
	post := func(path string, form url.Values, e expect) route { e.anon = 401; return route{"POST", path, form, e} }
	routes := []route{
		get("/share/new?r="+a, senders, 403),
		post("/share/new", external, expect{ok: senders, okCode: 200, other: 403}),
		get("/share/internal?r="+a, senders, 403),
		post("/share/internal", internal, expect{ok: senders, okCode: 200, other: 403}),
		get("/links/"+link, []string{"dave"}, 404),
		get("/links/"+strings.Repeat("A", 32), nil, 404),
		get("/external", viewers, 403),
		get("/external?q=kari&status=valid", viewers, 403),
		get("/external/"+grant+"/cancel", viewers, 403),
		post("/external/"+grant+"/cancel", url.Values{}, expect{ok: viewers, okCode: 200, other: 403}),
		get("/external/config", []string{"admin"}, 403),
		post("/external/config", config, expect{ok: []string{"admin"}, okCode: 303, other: 403}),
		get("/admin/outbox", []string{"admin"}, 403),
		// dave cancels first; the admin then finds it cancelled.
		post("/external/"+grant+"/cancel", url.Values{"confirm": {"yes"}}, expect{other: 403, by: map[string]int{"dave": 303, "admin": 409}}),
	}
	for _, rt := range routes {
		for _, role := range authzRoles {
			c := w.clients[role]
			var resp *http.Response
			var body []byte
			if rt.method == "GET" {
				resp, body = c.get(t, rt.path)
			} else {
				resp, body = c.post(t, rt.path, rt.form)
			}
			if want := rt.e.code(role); resp.StatusCode != want {
				t.Errorf("%s %s as %s: %d, want %d\n%.300s", rt.method, rt.path, role, resp.StatusCode, want, body)
			}
		}
	}
	// The navigation offers the pages to those who may open them.
	for _, role := range []string{"sam", "bob", "carol", "dave", "alice", "admin"} {
		_, body := w.clients[role].get(t, "/account")
		if got, want := strings.Contains(string(body), `href="/external"`), slices.Contains(viewers, role); got != want {
			t.Errorf("nav of %s: External access %t, want %t", role, got, want)
		}
		if got, want := strings.Contains(string(body), `href="/admin/outbox"`), role == "admin"; got != want {
			t.Errorf("nav of %s: Outbox %t, want %t", role, got, want)
		}
	}
	fmt.Fprintf(testWriter{t}, "share pages authz matrix: %d routes x %d roles\n", len(routes), len(authzRoles))
}

// TestAuthzShares is the matrix of secure links: the API routes by role
// (sending needs "may send links", the log and cancel need admin or "may
// see the external access page"), and the playback zone, where only a
// link's own session opens its recordings: no UI session, no other
// link's cookie and no guessed token does.
func TestAuthzShares(t *testing.T) {
	s := startShareDaemon(t)
	s.createShareUsers(t)
	recA := s.ingestSynth(t, "5ddd0000000000000000000000000001", "alice", synthCall{seconds: 2, callID: "z1@pbx.test"})
	recB := s.ingestSynth(t, "5ddd0000000000000000000000000002", "bob", synthCall{seconds: 2, callID: "z2@pbx.test"})
	clients := map[string]*uiClient{"anonymous": s.newUIClient(t), "admin": s.uiLogin(t, "admin", testAdminPassword)}
	for _, l := range []string{"alice", "erin", "bob"} {
		clients[l] = s.uiLogin(t, l, sharePass(l))
	}
	roles := []string{"anonymous", "bob", "alice", "erin", "admin"}
	// A link to cancel: its first canceller succeeds, later ones find it
	// cancelled already.
	gid := s.createShare(t, "admin", shareBody("gina@example.org", 3, recB))

	senders := []string{"alice", "admin"}
	managers := []string{"erin", "admin"}
	type route struct {
		method, path, body string
		e                  expect
	}
	routes := []route{
		// alice may read only her recording; the admin reads both.
		{"POST", "/api/v1/shares", shareBody("h@example.org", 1, recA), expect{ok: senders, okCode: 201, other: 403, anon: 401}},
		{"POST", "/api/v1/shares", shareBody("h@example.org", 1, recB), expect{ok: []string{"admin"}, okCode: 201, other: 403, anon: 401,
			by: map[string]int{"alice": 404}}},
		{"GET", "/api/v1/shares", "", expect{ok: managers, okCode: 200, other: 403, anon: 401}},
		{"GET", "/api/v1/shares?status=expired", "", expect{ok: managers, okCode: 200, other: 403, anon: 401}},
		{"POST", "/api/v1/shares/" + gid + "/cancel", "", expect{ok: []string{"erin"}, okCode: 200, other: 403, anon: 401,
			by: map[string]int{"admin": 409}}},
		{"POST", "/api/v1/shares/" + strings.Repeat("0", 32) + "/cancel", "", expect{ok: managers, okCode: 404, other: 403, anon: 401}},
		{"POST", "/api/v1/internal-links", `{"recordings":["` + recA + `"],"recipient":"bob"}`,
			expect{ok: senders, okCode: 201, other: 403, anon: 401}},
		{"POST", "/api/v1/internal-links", `{"recordings":["` + recB + `"],"recipient":"erin"}`,
			expect{ok: []string{"admin"}, okCode: 201, other: 403, anon: 401, by: map[string]int{"alice": 404}}},
	}
	for _, rt := range routes {
		for _, role := range roles {
			var resp *http.Response
			var body []byte
			if rt.method == "GET" {
				resp, body = clients[role].get(t, rt.path)
			} else {
				resp, body = clients[role].send(t, rt.method, rt.path, rt.body)
			}
			if want := rt.e.code(role); resp.StatusCode != want {
				t.Errorf("%s %s as %s: %d, want %d\n%.300s", rt.method, rt.path, role, resp.StatusCode, want, body)
			}
		}
	}

	// The playback zone: two recipients, each with a session of their own.
	s.wantAPI(t, "admin", "POST", "/api/v1/shares", shareBody("kim@example.org", 3, recA), http.StatusCreated)
	s.wantAPI(t, "admin", "POST", "/api/v1/shares", shareBody("lee@example.org", 3, recB), http.StatusCreated)
	kim := newRecipient(t, linkOf(t, s.waitMail(t, "kim@example.org", 1)))
	lee := newRecipient(t, linkOf(t, s.waitMail(t, "lee@example.org", 1)))
	kim.login(s, "kim@example.org", 2)
	lee.login(s, "lee@example.org", 2)
	kimPath, leePath := strings.TrimPrefix(kim.link, s.url), strings.TrimPrefix(lee.link, s.url)
	kimCookie := cookieOf(t, kim, "callvault_link")
	const guessedToken = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	type zoneRoute struct {
		who    string // kim, lee, a UI session, or nobody
		method string
		path   string
		cookie string // sent by hand, whatever the path
		want   int
	}
	zone := []zoneRoute{
		{"kim", "GET", kimPath + "/api/recordings", "", 200},
		{"kim", "GET", kimPath + "/audio/" + recA, "", 200},
		// Another recipient's recording through one's own link: not there.
		{"kim", "GET", kimPath + "/audio/" + recB, "", 404},
		{"lee", "GET", leePath + "/audio/" + recA, "", 404},
		// Another link with one's own cookie: no session there.
		{"nobody", "GET", leePath + "/api/recordings", kimCookie, 401},
		{"nobody", "GET", leePath + "/audio/" + recB, kimCookie, 401},
		{"nobody", "GET", kimPath + "/api/recordings", "", 401},
		{"nobody", "GET", kimPath + "/audio/" + recA, "", 401},
		{"nobody", "POST", kimPath + "/api/terms", "", 401},
		// Guessed and malformed tokens name no link.
		{"nobody", "GET", "/p/" + guessedToken, "", 404},
		{"nobody", "GET", "/p/" + guessedToken + "/api/recordings", kimCookie, 404},
		{"nobody", "POST", "/p/" + guessedToken + "/api/code", "", 404},
		{"nobody", "GET", "/p/not-a-token/audio/" + recA, "", 404},
		// A UI session (even the admin's) opens nothing in the zone.
		{"admin", "GET", kimPath + "/api/recordings", "", 401},
		{"admin", "GET", kimPath + "/audio/" + recA, "", 401},
		// The zone's cookie opens nothing in the API.
		{"nobody", "GET", "/api/v1/shares", kimCookie, 401},
		{"nobody", "GET", "/api/v1/recordings/" + recA + "/audio.wav", kimCookie, 401},
	}
	for _, z := range zone {
		var c *http.Client
		switch z.who {
		case "kim":
			c = kim.c
		case "lee":
			c = lee.c
		case "admin":
			c = clients["admin"].c
		default:
			c = &http.Client{Timeout: client.Timeout}
		}
		resp, body := zoneRequest(t, c, z.method, s.url+z.path, z.cookie)
		if resp.StatusCode != z.want {
			t.Errorf("%s %s as %s (cookie %t): %d, want %d\n%.200s", z.method, z.path, z.who, z.cookie != "", resp.StatusCode, z.want, body)
		}
	}
	fmt.Fprintf(testWriter{t}, "shares authz matrix: %d routes x %d roles, %d playback-zone requests\n", len(routes), len(roles), len(zone))
}

// cookieOf returns the value of the recipient's cookie name for its link.
func cookieOf(t *testing.T, r *recipient, name string) string {
	t.Helper()
	u, _ := url.Parse(r.link + "/api/recordings")
	for _, c := range r.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	t.Fatalf("no %s cookie for %s", name, r.link)
	return ""
}

// TestAuthzWebhooks: webhooks are for admins only, by API and by page;
// a file link opens nothing without a valid token.
func TestAuthzWebhooks(t *testing.T) {
	w := setupAuthz(t)
	admin := w.clients["admin"]
	// .invalid never resolves: nothing leaves the machine.
	resp, body := admin.send(t, "POST", "/api/v1/webhooks", `{"url":"https://hooks.invalid/calls","secret":"0123456789abcdef-secret"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %s %s", resp.Status, body)
	}
	id := regexp.MustCompile(`"id": ?"([0-9a-f]+)"`).FindSubmatch(body)
	if id == nil || strings.Contains(string(body), "0123456789abcdef-secret") {
		t.Fatalf("create answered %s", body)
	}
	hook := "/api/v1/webhooks/" + string(id[1])
	page := "/admin/webhooks/" + string(id[1])
	type route struct {
		method, path, body string
		e                  expect
	}
	adminOnly := func(code int) expect { return expect{ok: []string{"admin"}, okCode: code, other: 403, anon: 401} }
	pageOnly := func(code, anon int) expect {
		return expect{ok: []string{"admin"}, okCode: code, other: 403, anon: anon}
	}
	routes := []route{
		{"GET", "/api/v1/webhooks", "", adminOnly(200)},
		{"POST", "/api/v1/webhooks", `{"url":"https://hooks.invalid/other","secret":"0123456789abcdef-other"}`, adminOnly(201)},
		{"GET", hook, "", adminOnly(200)},
		{"PUT", hook, `{"users":["alice"]}`, adminOnly(200)},
		{"POST", hook + "/enable", "", adminOnly(200)},
		{"GET", hook + "/attempts", "", adminOnly(200)},
		{"GET", "/api/v1/webhooks/0000000000000000", "", adminOnly(404)},
		{"GET", "/admin/webhooks", "", pageOnly(200, 303)},
		{"GET", page, "", pageOnly(200, 303)},
		{"POST", page, "url=https%3A%2F%2Fhooks.invalid%2Fcalls&users=bob&enabled=1", pageOnly(303, 401)},
		{"POST", page + "/enable", "", pageOnly(303, 401)},
		{"POST", "/admin/webhooks", "url=https%3A%2F%2Fhooks.invalid%2Fp&secret=0123456789abcdef-page&enabled=1", pageOnly(303, 401)},
		// File links: only a genuine, unexpired token opens one.
		{"GET", "/hooks/files/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.wav", "", expect{other: 404}},
		{"GET", "/hooks/files/" + w.recA + ".wav", "", expect{other: 404}},
		{"DELETE", hook, "", adminOnly(204)},
	}
	for _, rt := range routes {
		for _, role := range authzRoles {
			if rt.method == "DELETE" && role == "admin" {
				continue // below, once the others were refused
			}
			c := w.clients[role]
			var resp *http.Response
			var body []byte
			switch {
			case rt.method == "GET":
				resp, body = c.get(t, rt.path)
			case strings.HasPrefix(rt.path, "/api/"):
				resp, body = c.send(t, rt.method, rt.path, rt.body)
			default:
				form, _ := url.ParseQuery(rt.body)
				resp, body = c.post(t, rt.path, form)
			}
			if want := rt.e.code(role); resp.StatusCode != want {
				t.Errorf("%s %s as %s: %d, want %d\n%.300s", rt.method, rt.path, role, resp.StatusCode, want, body)
			}
			if strings.Contains(string(body), "0123456789abcdef-") {
				t.Errorf("%s %s as %s shows a secret", rt.method, rt.path, role)
			}
		}
	}
	if resp, body := admin.send(t, "DELETE", hook, ""); resp.StatusCode != http.StatusNoContent {
		t.Errorf("admin deletes: %s %s", resp.Status, body)
	}
	fmt.Fprintf(testWriter{t}, "webhooks authz matrix: %d routes x %d roles\n", len(routes), len(authzRoles))
}

// TestAuthzLegs: the call-leg lookup answers only for recordings the
// caller may read — a dialog one may not read is "not found", like one
// that does not exist, and tells nothing of its legs — and under 4-eyes
// access nothing without a grant.
func TestAuthzLegs(t *testing.T) {
	w := setupAuthz(t)
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	readA := []string{"alice", "carol", "dave", "admin"}
	readB := []string{"bob", "admin"}
	members := []string{"alice", "carol", "dave", "sam", "bob", "admin"}
	legA := legPath(w.guidA, "201", "004712345678", start)
	legB := legPath(w.guidB, "bob", "5550100", start.Add(time.Hour)) // two segments a minute apart: one leg
	far := legPath(w.guidA, "201", "+4712345678", start.Add(time.Minute))
	routes := []struct {
		path string
		e    expect
	}{
		{legA, expect{ok: readA, okCode: 200, other: 404, anon: 401}},
		{legA + "/audio.wav", expect{ok: readA, okCode: 200, other: 404, anon: 401}},
		{legA + "/audio.wav?channels=mono", expect{ok: readA, okCode: 200, other: 404, anon: 401}},
		{legPath("a@pbx", "201", "+4712345678", start), expect{ok: readA, okCode: 200, other: 404, anon: 401}},
		{legB, expect{ok: readB, okCode: 200, other: 404, anon: 401}},
		{legB + "/audio.wav", expect{ok: readB, okCode: 200, other: 404, anon: 401}},
		{far, expect{other: 404, anon: 401}},
		{far + "/audio.wav", expect{other: 404, anon: 401}},
		{legPath("0123456789abcdef0123456789abcdef", "201", "", start), expect{other: 404, anon: 401}},
		{"/api/v1/legs/not-a-leg-id", expect{ok: members, okCode: 400, anon: 401}},
		{legA + "/audio.wav?channels=5", expect{ok: readA, okCode: 400, other: 404, anon: 401}},
	}
	for _, rt := range routes {
		for _, role := range authzRoles {
			resp, body := w.clients[role].get(t, rt.path)
			if want := rt.e.code(role); resp.StatusCode != want {
				t.Errorf("GET %s as %s: %d, want %d\n%.300s", rt.path, role, resp.StatusCode, want, body)
			}
			// Only readers learn of the dialog's legs.
			if strings.Contains(string(body), "candidates") && !slices.Contains(readA, role) && !slices.Contains(readB, role) {
				t.Errorf("GET %s as %s shows candidates: %.300s", rt.path, role, body)
			}
		}
	}
	_, body := w.clients["bob"].get(t, legB)
	if got := decodeLeg(t, body); len(got.Segments) != 2 || got.Segments[0].RecordingID != w.recB1 || got.Segments[1].RecordingID != w.recB2 {
		t.Errorf("bob's leg: %s", body)
	}
	// The ingest account reads no leg.
	req, _ := http.NewRequest("GET", w.d.url+legA, nil)
	req.SetBasicAuth("ingest", testIngestPassword)
	if resp, _ := w.clients["anonymous"].do(t, req); resp.StatusCode != 403 {
		t.Errorf("ingest account: %d, want 403", resp.StatusCode)
	}
	// Under 4-eyes access, no grant: 403.
	const evePW = "pw-eve-0123456789"
	w.clients["admin"].createUser(t, "eve", evePW, "user", url.Values{"accessList": {"alice, bob"}, "supervisor": {"sam"}})
	eve := w.d.uiLogin(t, "eve", evePW)
	for _, p := range []string{legA, legA + "/audio.wav", far} {
		if resp, _ := eve.get(t, p); resp.StatusCode != 403 {
			t.Errorf("GET %s as eve without a grant: %d, want 403", p, resp.StatusCode)
		}
	}
}

// TestAuthzFlex: Twilio Flex's url_provider decides by the archive user a
// Flex token (or an API token) maps to, as the API does: the same
// recordings and calls are readable, the rest are 404; no credential is
// 401; a UI session or a login's password opens nothing there; an
// ingest account gets 403.
func TestAuthzFlex(t *testing.T) {
	tw := newFlexTwilio(t)
	d := startDaemonWith(t, "", func(o *serveOptions) { o.config = flexConfig(t, tw, "https://flex.twilio.com") })
	admin := d.uiLogin(t, "admin", testAdminPassword)
	pw := func(login string) string { return "pw-" + login + "-0123456789" }
	admin.createUser(t, "alice", pw("alice"), "user", url.Values{"extensions": {"201"}})
	admin.createUser(t, "bob", pw("bob"), "user", url.Values{"extensions": {"202"}})
	admin.createUser(t, "carol", pw("carol"), "user", url.Values{"accessList": {"alice"}})
	admin.createUser(t, "dave", pw("dave"), "user", url.Values{"accessList": {"+47 12 34 56 78"}})
	admin.createUser(t, "sam", pw("sam"), "supervisor", nil)
	guidA, guidB := "aaaaaaaaaaaaaaaaaaaaaaaaaaaaf001", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbf002"
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	recA := d.ingestSynth(t, guidA, "alice", synthCall{seconds: 2, start: start, callID: "fa@pbx",
		from: synthParty{"Alice", "201"}, to: synthParty{"Customer", "+4712345678"}})
	recB1 := d.ingestSynth(t, guidB, "bob", synthCall{seconds: 2, start: start.Add(time.Hour), callID: "fb1@pbx",
		from: synthParty{"Caller", "5550100"}, to: synthParty{"Bob", "202"}})
	d.ingestSynth(t, guidB, "bob", synthCall{seconds: 2, start: start.Add(time.Hour + time.Minute), callID: "fb2@pbx",
		from: synthParty{"Caller", "5550100"}, to: synthParty{"Bob", "202"}})

	roles := []string{"anonymous", "sam", "bob", "carol", "dave", "alice", "admin"}
	flexAuth, apiAuth := map[string]string{}, map[string]string{}
	for _, role := range roles[1:] {
		flexAuth[role] = flexBasic(tw.token(role + "@example.com"))
		apiAuth[role] = "Bearer " + d.apiToken(t, role)
	}
	readA := []string{"alice", "carol", "dave", "admin"}
	readB := []string{"bob", "admin"}
	routes := []struct {
		recording string
		e         expect
	}{
		{recA, expect{ok: readA, okCode: 200, other: 404, anon: 401}},
		{guidA, expect{ok: readA, okCode: 200, other: 404, anon: 401}},
		{recB1, expect{ok: readB, okCode: 200, other: 404, anon: 401}},
		{guidB, expect{ok: readB, okCode: 200, other: 404, anon: 401}},
		{"0123456789abcdef0123456789abcdef", expect{other: 404, anon: 401}},
		{"", expect{other: 400, anon: 401}},
	}
	n := 0
	for _, via := range []map[string]string{flexAuth, apiAuth} {
		for _, rt := range routes {
			for _, role := range roles {
				var hdr []string
				if role != "anonymous" {
					hdr = []string{"Authorization", via[role]}
				}
				resp, body := flexGet(t, d.url+"/flex/url?recording="+rt.recording, hdr...)
				n++
				if want := rt.e.code(role); resp.StatusCode != want {
					t.Errorf("%q as %s (%.6s): %d, want %d\n%.200s", rt.recording, role, via[role], resp.StatusCode, want, body)
				}
			}
		}
	}
	// Credentials that are not tokens open nothing; an ingest account is no reader.
	session := admin.c
	req, _ := http.NewRequest(http.MethodGet, d.url+"/flex/url?recording="+recA, nil)
	resp, err := session.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the admin's UI session: %s", resp.Status)
	}
	adminPw := basicHeader("admin", testAdminPassword)
	tokenPw := basicHeader("token", testAdminPassword)
	for _, c := range []struct {
		name, auth string
		want       int
	}{
		{"admin's password", adminPw, 401},
		{"a password as a token", tokenPw, 401},
		{"ingest account", flexBasic(tw.token("ingest@example.com")), 403},
		{"unknown Flex user", flexBasic(tw.token("mallory@example.com")), 403},
	} {
		if resp, body := flexGet(t, d.url+"/flex/url?recording="+recA, "Authorization", c.auth); resp.StatusCode != c.want {
			t.Errorf("%s: %s, want %d\n%.200s", c.name, resp.Status, c.want, body)
		}
	}
	// The preflight needs no credential, for the allowed origin only.
	for origin, want := range map[string]int{"https://flex.twilio.com": 204, "https://evil.example": 403} {
		req, _ := http.NewRequest(http.MethodOptions, d.url+"/flex/url?recording="+recA, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "GET")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want || (want == 204) != (resp.Header.Get("Access-Control-Allow-Origin") == origin) {
			t.Errorf("preflight from %s: %s %v", origin, resp.Status, resp.Header)
		}
	}
	fmt.Fprintf(testWriter{t}, "flex authz matrix: %d requests\n", n)
}

// TestAuthzCDR: call detail records are taken from integration accounts
// and admins only, and an integration account reaches no other route,
// whether by token or by password.
func TestAuthzCDR(t *testing.T) {
	w := setupAuthz(t)
	pbx, pbxPW := w.d.integrationToken(t)
	body := `{"callId":"` + w.guidA + `","direction":"inbound","callerName":"Matrix Caller"}`
	// Each role sends a record of its own (a repeat answers 200).
	for _, role := range authzRoles {
		b := strings.Replace(body, "Matrix Caller", "Caller of "+role, 1)
		resp, got := w.clients[role].send(t, "POST", "/api/v1/cdr", b)
		want := http.StatusForbidden
		switch role {
		case "anonymous":
			want = http.StatusUnauthorized
		case "admin":
			want = http.StatusCreated
		}
		if resp.StatusCode != want {
			t.Errorf("POST /api/v1/cdr as %s: %d, want %d\n%.300s", role, resp.StatusCode, want, got)
		}
	}
	// The innovaphone form of the route: the same rights.
	inno := "/api/v1/cdr/innovaphone?msg=" + url.QueryEscape(`<cdr dir="to" e164="201" cn="A"><event msg="setup-from" time="1" conf="`+w.guidA+`"/></cdr>`)
	for _, role := range authzRoles {
		resp, got := w.clients[role].get(t, inno)
		want := http.StatusForbidden
		switch role {
		case "anonymous", "admin":
			// The GET form stores a record: a session (what a
			// cross-site navigation carries) does not do for it.
			want = http.StatusUnauthorized
		}
		if resp.StatusCode != want {
			t.Errorf("GET %s as %s: %d, want %d\n%.300s", inno, role, resp.StatusCode, want, got)
		}
	}
	if code, _ := w.d.apiCall(t, pbx, "GET", inno, nil); code != http.StatusCreated {
		t.Errorf("innovaphone CDR as pbx: %d", code)
	}
	if code, _ := w.d.apiCall(t, "ingest:"+testIngestPassword, "POST", "/api/v1/cdr", map[string]string{"callId": w.guidA}); code != http.StatusForbidden {
		t.Errorf("POST /api/v1/cdr as ingest: %d", code)
	}
	for _, auth := range []string{pbx, "pbx:" + pbxPW} {
		if code, _ := w.d.apiCall(t, auth, "POST", "/api/v1/cdr", map[string]string{"callId": w.guidB, "callerName": "Bob's caller"}); code != http.StatusCreated && code != http.StatusOK {
			t.Errorf("POST /api/v1/cdr as pbx (%.6s): %d", auth, code)
		}
		for _, r := range []struct{ method, path string }{
			{"GET", "/api/v1/recordings"}, {"GET", "/api/v1/recordings/" + w.recA}, {"GET", "/api/v1/recordings/" + w.recA + "/audio.wav"},
			{"GET", "/api/v1/recordings/" + w.recA + "/original.pcap"}, {"GET", "/api/v1/recordings/" + w.recA + "/download.zip"},
			{"GET", "/api/v1/recordings/" + w.recA + "/notes"}, {"GET", "/api/v1/calls/" + w.guidB}, {"GET", "/api/v1/users"},
			{"GET", "/api/v1/users/pbx"}, {"GET", "/api/v1/users/pbx/tokens"}, {"POST", "/api/v1/users/pbx/tokens"},
			{"GET", "/api/v1/audit"}, {"GET", "/api/v1/settings"}, {"GET", "/api/v1/recyclebin"}, {"GET", "/api/v1/seal/verify"},
			{"GET", "/api/v1/shares"}, {"DELETE", "/api/v1/recordings/" + w.recA},
		} {
			var b any
			if r.method == "POST" {
				b = map[string]string{"label": "x"}
			}
			if code, _ := w.d.apiCall(t, auth, r.method, r.path, b); code != http.StatusForbidden {
				t.Errorf("%s %s as pbx (%.6s): %d, want 403", r.method, r.path, auth, code)
			}
		}
	}
	// What the admin and the integration account sent shows to those who
	// may read the recordings, and only to them.
	for role, sees := range map[string]bool{"alice": true, "carol": true, "bob": false, "admin": true} {
		_, page := w.clients[role].get(t, "/?q="+url.QueryEscape("caller of admin"))
		if got := strings.Contains(string(page), w.recA); got != sees {
			t.Errorf("%s finds alice's call by its CDR: %v", role, got)
		}
	}
	_, page := w.clients["bob"].get(t, "/recordings/"+w.recB1)
	if !strings.Contains(string(page), "Bob&#39;s caller") {
		t.Error("bob's recording page lacks the integration account's CDR")
	}
	fmt.Fprintf(testWriter{t}, "cdr authz: %d roles, ingest, integration by token and password\n", len(authzRoles))
}

// TestAuthzWholeCall: a call's zip and its waveform are for those who may
// read the call, like its audio; others do not learn that it exists.
func TestAuthzWholeCall(t *testing.T) {
	w := setupAuthz(t)
	readA := []string{"alice", "carol", "dave", "admin"}
	readB := []string{"bob", "admin"}
	for _, rt := range []struct {
		path string
		ok   []string
	}{
		{"/api/v1/calls/" + w.guidA + "/download.zip", readA},
		{"/api/v1/calls/" + w.guidB + "/download.zip", readB},
		{"/api/v1/calls/" + w.guidB + "/peaks?n=100", readB},
		{"/api/v1/calls/0123456789abcdef0123456789abcdef/download.zip", nil},
	} {
		e := expect{ok: rt.ok, okCode: 200, other: 404, anon: 401}
		for _, role := range authzRoles {
			resp, body := w.clients[role].get(t, rt.path)
			if want := e.code(role); resp.StatusCode != want {
				t.Errorf("GET %s as %s: %d, want %d\n%.300s", rt.path, role, resp.StatusCode, want, body)
			}
		}
	}
}

// TestAuthzListActions: the list's CSV export is for admins; its bulk
// zip holds only recordings the member may read (the others are refused
// on a page that does not say whether they exist), and a bulk legal hold
// follows the single one's rule.
func TestAuthzListActions(t *testing.T) {
	w := setupAuthz(t)
	csvExp := expect{ok: []string{"admin"}, okCode: 200, other: 403, anon: 303}
	readB := map[string]bool{"bob": true, "admin": true}
	for _, role := range authzRoles {
		c := w.clients[role]
		resp, body := c.get(t, "/recordings.csv")
		if want := csvExp.code(role); resp.StatusCode != want {
			t.Errorf("GET /recordings.csv as %s: %d, want %d", role, resp.StatusCode, want)
		}
		if role == "admin" && !strings.Contains(string(body), w.recB1) {
			t.Errorf("the admin's CSV lacks a recording:\n%.300s", body)
		}
		resp, body = c.post(t, "/recordings/bulk", url.Values{"action": {"zip"}, "r": {w.recB1}})
		switch {
		case role == "anonymous":
			if resp.StatusCode != 401 && resp.StatusCode != 303 {
				t.Errorf("bulk zip as anonymous: %d", resp.StatusCode)
			}
		case readB[role]:
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" {
				t.Errorf("bulk zip of bob's as %s: %d %s", role, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
		default:
			if resp.StatusCode != 200 || !strings.Contains(string(body), "There is no such recording, or you may not see it.") {
				t.Errorf("bulk zip of bob's as %s: %d\n%.300s", role, resp.StatusCode, body)
			}
		}
	}
	resp, body := w.clients["carol"].post(t, "/recordings/bulk", url.Values{"action": {"protect"}, "r": {w.recA}})
	if resp.StatusCode != 200 || !strings.Contains(string(body), "0 done, 1 refused.") {
		t.Errorf("carol protects alice's: %d\n%.300s", resp.StatusCode, body)
	}
}

// TestAuthzListViews: in every order and on every page size the list and
// its total show each person exactly the calls they may read, as the
// date order does; a user under 4-eyes access without a grant sees none.
func TestAuthzListViews(t *testing.T) {
	w := setupAuthz(t)
	a, b1 := w.recA, w.recB1
	wantList := map[string][]string{
		"alice": {a}, "carol": {a}, "dave": {a}, "sam": nil, "bob": {b1}, "admin": {a, b1},
	}
	const evePW = "pw-eve-0123456789"
	w.clients["admin"].createUser(t, "eve", evePW, "user", url.Values{"accessList": {"alice, bob"}, "supervisor": {"sam"}})
	eve := w.d.uiLogin(t, "eve", evePW)
	for _, view := range []string{"/?sort=length", "/?sort=user&order=desc", "/?sort=party", "/?order=asc", "/?page=2&size=25"} {
		for role, want := range wantList {
			_, body := w.clients[role].get(t, view)
			got := listedRecordings(body)
			slices.Sort(got)
			want = slices.Sorted(slices.Values(want))
			if !slices.Equal(got, want) {
				t.Errorf("%s as %s: %v, want %v", view, role, got, want)
			}
			count := fmt.Sprintf(`role="status">%d call`, len(want))
			if !strings.Contains(string(body), count) {
				t.Errorf("%s as %s: no total of %d", view, role, len(want))
			}
		}
		if _, body := eve.get(t, view); len(listedRecordings(body)) != 0 {
			t.Errorf("%s as eve without a grant: %v", view, listedRecordings(body))
		}
	}
}

// TestAuthzSecurePause: only the agent who owns a call being recorded
// now, and an integration account, may pause and resume it; everyone
// else learns nothing of it (404), and nobody pauses without logging in.
func TestAuthzSecurePause(t *testing.T) {
	w := setupAuthz(t)
	upload := corpusCapture(t, "pcmu_bidir")
	const guid = "cccccccccccccccccccccccccccc0003"
	s := w.d.startStream(t, guid+"-009033302ab1-1--alice.pcap")
	if _, err := s.pw.Write(upload[:len(upload)/3]); err != nil {
		t.Fatal(err)
	}
	basic := func(login string) string {
		if login == "admin" {
			return "admin:" + testAdminPassword
		}
		return login + ":pw-" + login + "-0123456789"
	}
	pause, resume := "/api/v1/calls/"+guid+"/pause", "/api/v1/calls/"+guid+"/resume"
	// The call is live once its owner can pause it.
	for {
		code, m := w.d.apiCall(t, basic("alice"), "POST", pause, nil)
		if code == http.StatusOK {
			break
		}
		if code != http.StatusNotFound {
			t.Fatalf("alice pauses: %d %v", code, m)
		}
		time.Sleep(5 * time.Millisecond)
	}
	w.d.apiWant(t, basic("alice"), "POST", resume, nil, http.StatusOK)
	e := expect{ok: []string{"alice"}, okCode: http.StatusOK, other: http.StatusNotFound, anon: http.StatusUnauthorized}
	for _, role := range authzRoles {
		auth := ""
		if role != "anonymous" {
			auth = basic(role)
		}
		for _, path := range []string{pause, resume} {
			if code, m := w.d.apiCall(t, auth, "POST", path, nil); code != e.code(role) {
				t.Errorf("POST %s as %s: %d, want %d: %v", path, role, code, e.code(role), m)
			}
		}
	}
	pbx, pbxPW := w.d.integrationToken(t)
	for _, auth := range []string{pbx, "pbx:" + pbxPW} {
		w.d.apiWant(t, auth, "POST", pause, nil, http.StatusOK)
		w.d.apiWant(t, auth, "POST", resume, nil, http.StatusOK)
	}
	if code, _ := w.d.apiCall(t, "ingest:"+testIngestPassword, "POST", pause, nil); code == http.StatusOK {
		t.Error("the recording devices' account paused a call")
	}
	if evs := w.d.auditEntries(t, "call.pause"); len(evs) != 4 {
		t.Errorf("call.pause audited %d times, want 4", len(evs))
	}
	fmt.Fprintf(testWriter{t}, "secure pause authz: %d roles, integration by token and password, ingest\n", len(authzRoles))
}
