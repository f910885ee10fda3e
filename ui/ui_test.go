package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/api"
	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/internal/testclock"
	"github.com/callvault/callvault/recinfo"
)

// noMedia is a Media for pages that never render audio.
type noMedia struct{}

func (noMedia) WAV(context.Context, []*archive.Recording, int, codec.WAVOptions) (*codec.WAVReader, error) {
	return nil, errors.New("no audio in this test")
}

func (noMedia) Exports(context.Context, *archive.Recording) ([][32]byte, error) { return nil, nil }

const testPassword = "test-password-0123"

// testUI is a UI over a fresh archive with an admin and two users, served
// by httptest.
type testUI struct {
	t   testing.TB
	arc *archive.Archive
	ui  *UI
	srv *httptest.Server
	// clock is the test's one clock, for the archive and the UI.
	clock *testclock.Clock
}

// newTestUI is newTestUIAt at testNow.
func newTestUI(t testing.TB) *testUI {
	t.Helper()
	return newTestUIAt(t, testNow)
}

// newTestUIAt is newTestUI with the archive's and the UI's clock standing
// at now.
func newTestUIAt(t testing.TB, now time.Time) *testUI {
	t.Helper()
	clock := newTestClock(now)
	tu := newTestUIWith(t, archive.Options{Now: clock.Now})
	tu.clock = clock
	return tu
}

// newTestUIWith is newTestUI over an archive opened with opt; the UI
// reads the archive's clock.
func newTestUIWith(t testing.TB, opt archive.Options) *testUI {
	t.Helper()
	arc := archivetest.OpenTestOptions(t, opt)
	ctx := context.Background()
	for _, u := range []archive.User{
		{Login: "admin", Name: "Ada Admin", Role: archive.RoleAdmin},
		{Login: "alice", Name: "Åsa Øberg", Role: archive.RoleUser, Extensions: []string{"201"}},
		{Login: "bob", Name: "Bob Builder", Role: archive.RoleUser, Extensions: []string{"202"}},
		{Login: "ingest", Name: "Devices", Role: archive.RoleIngest},
	} {
		if err := arc.PutUser(ctx, u, testPassword); err != nil {
			t.Fatal(err)
		}
	}
	tu := &testUI{t: t, arc: arc}
	u, err := New(arc, noMedia{}, Options{Version: "test"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	tu.ui = u
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", api.New(arc, noMedia{}, nil).Routes())
	mux.Handle("/", u.Routes())
	tu.srv = httptest.NewServer(mux)
	t.Cleanup(tu.srv.Close)
	return tu
}

// party is one end of a call in the recording-info document.
type party = recinfo.Party

// addRecording stores a recording of login with one call between from and
// to, and no audio.
func (tu *testUI) addRecording(login, guid string, from, to party, start time.Time) *archive.Recording {
	tu.t.Helper()
	return tu.storeRecording(login, guid, start, 20000, map[string]any{
		"streams": []map[string]any{
			{"index": 0, "call": 0, "channel": 0, "codec": "PCMA", "supported": true, "packets": 990, "lost": 10, "jitterMs": 1.5},
			{"index": 1, "call": 0, "channel": 1, "codec": "PCMA", "supported": true, "packets": 1000},
		},
		"calls": []map[string]any{{
			"index": 0, "callId": "sip-" + guid, "from": from, "to": to, "start": start, "durationMs": 20000,
			"streams": []int{0, 1}, "dtmf": []map[string]any{{"digit": "4"}, {"digit": "2"}},
		}},
	}, from.Name, from.Number, to.Name, to.Number)
}

// storeRecording stores a complete recording of login that lasts
// durationMs and whose analysis is result, without audio.
func (tu *testUI) storeRecording(login, guid string, start time.Time, durationMs int64, result map[string]any, parties ...string) *archive.Recording {
	tu.t.Helper()
	ctx := context.Background()
	w, err := tu.arc.Create(ctx, archive.NewRecording{FileName: guid + "-0090333-1--" + login + ".pcap", CallGUID: guid, User: login, Received: start})
	if err != nil {
		tu.t.Fatal(err)
	}
	if _, err := w.WriteOriginal([]byte("capture bytes")); err != nil {
		tu.t.Fatal(err)
	}
	info := map[string]any{
		"version": 1,
		"name":    map[string]any{"guid": guid, "user": login},
		"result":  result,
	}
	b, _ := json.Marshal(info)
	rec, err := w.Finish(ctx, archive.Final{State: archive.StateComplete, StartTime: start, DurationMs: durationMs, Info: b, Parties: parties})
	if err != nil {
		tu.t.Fatal(err)
	}
	return rec
}

// client is a browser-like client: cookies, no redirects followed,
// same-origin headers on posts.
type client struct {
	tu *testUI
	c  *http.Client
}

func (tu *testUI) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{tu: tu, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (c *client) do(req *http.Request) (*http.Response, string) {
	c.tu.t.Helper()
	resp, err := c.c.Do(req)
	if err != nil {
		c.tu.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (c *client) get(path string) (*http.Response, string) {
	req, _ := http.NewRequest("GET", c.tu.srv.URL+path, nil)
	return c.do(req)
}

func (c *client) post(path string, form url.Values) (*http.Response, string) {
	req, _ := http.NewRequest("POST", c.tu.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.tu.srv.URL)
	return c.do(req)
}

func (tu *testUI) login(login string) *client {
	tu.t.Helper()
	c := tu.client()
	resp, body := c.post("/login", url.Values{"login": {login}, "password": {testPassword}})
	if resp.StatusCode != http.StatusSeeOther {
		tu.t.Fatalf("login %s: %s\n%s", login, resp.Status, body)
	}
	return c
}

func must(t *testing.T, resp *http.Response, body string, code int, contains ...string) {
	t.Helper()
	if resp.StatusCode != code {
		t.Fatalf("%s %s: %d, want %d\n%.600s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, code, body)
	}
	for _, s := range contains {
		if !strings.Contains(body, s) {
			t.Fatalf("%s %s: body lacks %q\n%.2000s", resp.Request.Method, resp.Request.URL.Path, s, body)
		}
	}
}

func TestLoginLogout(t *testing.T) {
	tu := newTestUI(t)
	c := tu.client()
	resp, _ := c.get("/")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2F" {
		t.Fatalf("anonymous /: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := c.get("/login?next=/admin/users")
	must(t, resp, body, 200, `name="next" value="/admin/users"`)

	resp, body = c.post("/login", url.Values{"login": {"alice"}, "password": {"wrong"}})
	must(t, resp, body, 401, "Wrong login or password.")
	resp, body = c.post("/login", url.Values{"login": {"ingest"}, "password": {testPassword}})
	must(t, resp, body, 401, "Wrong login or password.")

	resp, _ = c.post("/login", url.Values{"login": {"alice"}, "password": {testPassword}, "next": {"//evil.example/x"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login with a foreign next: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var ck *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == "callvault_session" {
			ck = k
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure {
		t.Fatalf("session cookie: %+v", ck)
	}
	resp, body = c.get("/")
	must(t, resp, body, 200, "Åsa Øberg", "Log out")
	// The API accepts the session cookie.
	resp, body = c.get("/api/v1/recordings")
	must(t, resp, body, 200, `"recordings"`)

	resp, _ = c.post("/logout", url.Values{})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if _, _, err := tu.arc.SessionByToken(context.Background(), ck.Value); !errors.Is(err, archive.ErrNotFound) {
		t.Fatalf("session after logout: %v", err)
	}
	// The old cookie is worthless, on pages and on the API.
	c2 := tu.client()
	u, _ := url.Parse(tu.srv.URL)
	c2.c.Jar.SetCookies(u, []*http.Cookie{{Name: "callvault_session", Value: ck.Value}})
	if resp, _ := c2.get("/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("old cookie on /: %d", resp.StatusCode)
	}
	if resp, _ := c2.get("/api/v1/recordings"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("old cookie on the API: %d", resp.StatusCode)
	}

	events, _, err := tu.arc.AuditLog(context.Background(), archive.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		if e.Action != "login" && e.Action != "logout" {
			continue
		}
		got = append(got, fmt.Sprintf("%s %s %t", e.Actor, e.Action, e.OK))
	}
	want := "alice logout true|alice login true|ingest login false|alice login false"
	if strings.Join(got, "|") != want {
		t.Fatalf("audit: %q, want %q", strings.Join(got, "|"), want)
	}
}

func TestSecurityHeadersAndStatic(t *testing.T) {
	tu := newTestUI(t)
	c := tu.client()
	resp, body := c.get("/login")
	must(t, resp, body, 200)
	for k, want := range map[string]string{
		"Content-Security-Policy": "default-src 'self'", "X-Content-Type-Options": "nosniff",
		"X-Frame-Options": "DENY", "Cache-Control": "no-store", "Referrer-Policy": "same-origin",
	} {
		if got := resp.Header.Get(k); !strings.Contains(got, want) {
			t.Errorf("%s: %q", k, got)
		}
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"frame-ancestors 'none'", "script-src 'self'", "style-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP lacks %s", want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(body, "<script>") || strings.Contains(body, " style=") {
		t.Error("inline script or style")
	}
	for _, name := range []string{"app.css", "app.js"} {
		u := tu.ui.static.url(name)
		resp, body := c.get(u)
		must(t, resp, body, 200)
		if !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("%s: Cache-Control %q", name, resp.Header.Get("Cache-Control"))
		}
		wantType := map[string]string{"app.css": "text/css", "app.js": "javascript"}[name]
		if !strings.Contains(resp.Header.Get("Content-Type"), wantType) || len(body) < 100 {
			t.Errorf("%s: Content-Type %q, %d bytes", name, resp.Header.Get("Content-Type"), len(body))
		}
		if resp, _ := c.get("/static/0000000000000000/" + name); resp.StatusCode != 404 {
			t.Errorf("%s under a stale hash: %d", name, resp.StatusCode)
		}
	}
}

func TestCrossOriginRefused(t *testing.T) {
	tu := newTestUI(t)
	c := tu.login("alice")
	req, _ := http.NewRequest("POST", tu.srv.URL+"/account/tokens", strings.NewReader("label=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, _ := c.do(req)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site post: %d", resp.StatusCode)
	}
	toks, _ := tu.arc.Tokens(context.Background(), "alice")
	if len(toks) != 0 {
		t.Fatal("a cross-site post created a token")
	}
	// A multipart body is refused: forms are URL-encoded only.
	req, _ = http.NewRequest("POST", tu.srv.URL+"/account/tokens", strings.NewReader("--x--"))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	req.Header.Set("Origin", tu.srv.URL)
	if resp, _ := c.do(req); resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("multipart: %d", resp.StatusCode)
	}
}

func TestChangePassword(t *testing.T) {
	tu := newTestUI(t)
	c := tu.login("alice")
	other := tu.login("alice") // a second session of the same login
	resp, body := c.post("/account/password", url.Values{"current": {"nope"}, "new": {"new-password-123"}, "confirm": {"new-password-123"}})
	must(t, resp, body, 400, "The current password is wrong.")
	resp, body = c.post("/account/password", url.Values{"current": {testPassword}, "new": {"short"}, "confirm": {"short"}})
	must(t, resp, body, 400, "at least 10 characters")
	resp, body = c.post("/account/password", url.Values{"current": {testPassword}, "new": {"new-password-123"}, "confirm": {"new-password-124"}})
	must(t, resp, body, 400, "differ")
	resp, _ = c.post("/account/password", url.Values{"current": {testPassword}, "new": {"new-password-123"}, "confirm": {"new-password-123"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("change: %d", resp.StatusCode)
	}
	if _, err := tu.arc.Authenticate(context.Background(), netip.IPv6Loopback(), "alice", "new-password-123"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	if resp, _ := c.get("/account"); resp.StatusCode != 200 {
		t.Fatalf("this session after the change: %d", resp.StatusCode)
	}
	if resp, _ := other.get("/account"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the other session after the change: %d", resp.StatusCode)
	}
}

func TestTokens(t *testing.T) {
	tu := newTestUI(t)
	c := tu.login("alice")
	resp, body := c.post("/account/tokens", url.Values{"label": {"CRM"}})
	must(t, resp, body, 200, "shown only once", `id="new-token"`)
	i := strings.Index(body, `id="new-token">`)
	token := body[i+len(`id="new-token">`):]
	token = token[:strings.Index(token, "<")]
	req, _ := http.NewRequest("GET", tu.srv.URL+"/api/v1/recordings", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 200 {
		t.Fatalf("bearer token: %v %v", r, err)
	}
	resp, body = c.get("/account")
	must(t, resp, body, 200, "CRM")
	if strings.Contains(body, token) {
		t.Fatal("the token is shown again")
	}
	toks, _ := tu.arc.Tokens(context.Background(), "alice")
	if len(toks) != 1 {
		t.Fatalf("tokens: %v", toks)
	}
	resp, _ = c.post("/account/tokens/"+toks[0].ID+"/revoke", url.Values{})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if _, err := tu.arc.AuthenticateToken(context.Background(), netip.IPv6Loopback(), token); err == nil {
		t.Fatal("revoked token still works")
	}
}

func TestSessionCookieUnderTLS(t *testing.T) {
	tu := newTestUI(t)
	srv := httptest.NewTLSServer(tu.ui.Routes())
	defer srv.Close()
	c := srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, _ := http.NewRequest("POST", srv.URL+"/login", strings.NewReader("login=alice&password="+testPassword))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", srv.URL)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var ck *http.Cookie
	for _, k := range resp.Cookies() {
		ck = k
	}
	if resp.StatusCode != http.StatusSeeOther || ck == nil || ck.Name != "__Host-callvault_session" || !ck.Secure || !ck.HttpOnly || ck.Path != "/" {
		t.Fatalf("login over TLS: %d, cookie %+v", resp.StatusCode, ck)
	}
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatal("no HSTS over TLS")
	}
}

func TestListPaging(t *testing.T) {
	tu := newTestUI(t)
	start := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	want := map[string]bool{}
	// 70 calls of two segments each, interleaved with 40 calls of bob.
	for i := range 70 {
		guid := fmt.Sprintf("call%04d", i)
		at := start.Add(time.Duration(i) * time.Hour)
		first := tu.addRecording("alice", guid, party{Number: "201"}, party{Number: fmt.Sprint(5550000 + i)}, at)
		tu.addRecording("alice", guid, party{Number: "201"}, party{Number: fmt.Sprint(5550000 + i)}, at.Add(10*time.Minute))
		want[first.ID.String()] = true
		if i < 40 {
			tu.addRecording("bob", fmt.Sprintf("bob%04d", i), party{Number: "202"}, party{Number: "1"}, at.Add(30*time.Minute))
		}
	}
	c := tu.login("alice")
	seen := map[string]bool{}
	next, pages := "/", 0
	for next != "" {
		pages++
		resp, body := c.get(next)
		must(t, resp, body, 200)
		for _, m := range recordingIDs(body) {
			if seen[m] {
				t.Fatalf("page %d repeats %s", pages, m)
			}
			seen[m] = true
			if !want[m] {
				t.Fatalf("page %d lists %s, which is not the first segment of one of alice's calls", pages, m)
			}
		}
		next = ""
		if i := strings.Index(body, `rel="next"`); i >= 0 {
			j := strings.LastIndex(body[:i], `href="`)
			next = strings.ReplaceAll(body[j+len(`href="`):strings.Index(body[j+6:], `"`)+j+6], "&amp;", "&")
		}
	}
	if len(seen) != 70 || pages != 2 {
		t.Fatalf("%d calls over %d pages, want 70 over 2", len(seen), pages)
	}
}

// recordingIDs are the recordings a list page links to, once each.
func recordingIDs(body string) []string {
	var out []string
	seen := map[string]bool{}
	for rest := body; ; {
		i := strings.Index(rest, `href="/recordings/`)
		if i < 0 {
			return out
		}
		rest = rest[i+len(`href="/recordings/`):]
		id := rest[:32]
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
}

func TestKeyRotationForm(t *testing.T) {
	arc := archivetest.OpenTest(t)
	keyFile := filepath.Join(filepath.Dir(arc.Path()), "archive.key")
	before, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := arc.PutUser(context.Background(), archive.User{Login: "admin", Role: archive.RoleAdmin}, testPassword); err != nil {
		t.Fatal(err)
	}
	u, err := New(arc, noMedia{}, Options{KeyFile: keyFile}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tu := &testUI{t: t, arc: arc, ui: u, srv: httptest.NewServer(u.Routes())}
	defer tu.srv.Close()
	c := tu.login("admin")
	resp, body := c.post("/admin/settings/key", url.Values{"mode": {"rotate"}, "current": {testPassword}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("rotate: %d\n%s", resp.StatusCode, body)
	}
	after, _ := os.ReadFile(keyFile)
	if bytes.Equal(before, after) || len(after) == 0 {
		t.Fatal("the key file did not change")
	}
	events, _, _ := arc.AuditLog(context.Background(), archive.AuditQuery{Action: "key.rotate"})
	if len(events) != 1 || !events[0].OK || events[0].Actor != "admin" {
		t.Fatalf("audit: %+v", events)
	}
	resp, body = c.post("/admin/settings/key", url.Values{"mode": {"passphrase"}, "passphrase": {"short"}, "passphraseConfirm": {"short"}, "current": {testPassword}})
	must(t, resp, body, 400, "at least 12 characters")
}
