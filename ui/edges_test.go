package ui

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
	"github.com/callvault/callvault/foureyes"
	"github.com/callvault/callvault/internal/webtest"
)

// TestRecordingWithoutOwnerTitle: a recording that belongs to nobody and
// names no parties is titled plainly, without "Recording of" and without
// empty "· ·" separators.
func TestRecordingWithoutOwnerTitle(t *testing.T) {
	tu := newTestUI(t)
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	rec := tu.storeRecording("", "33333333333333333333333333333333", start, 5000, map[string]any{})
	c := tu.login("admin")
	resp, body := c.get("/recordings/" + rec.ID.String())
	must(t, resp, body, 200)
	h1 := regexp.MustCompile(`(?s)<h1[^>]*>(.*?)</h1>`).FindStringSubmatch(body)
	if h1 == nil {
		t.Fatalf("no heading\n%.2000s", body)
	}
	if title := strings.TrimSpace(h1[1]); strings.HasSuffix(title, "of") || strings.Contains(title, "Recording of") || title == "" {
		t.Fatalf("heading %q", title)
	}
	sub := regexp.MustCompile(`(?s)<p class="sub">(.*?)</p>`).FindStringSubmatch(body)
	if sub == nil {
		t.Fatalf("no subtitle\n%.2000s", body)
	}
	text := regexp.MustCompile(`<[^>]+>`).ReplaceAllString(sub[1], "")
	if regexp.MustCompile(`·\s*·|·\s*$`).MatchString(strings.TrimSpace(text)) {
		t.Fatalf("subtitle %q has empty separators", text)
	}
}

// TestUserFormLinkRightsExplained: the user form says what the two
// external-link rights allow.
func TestUserFormLinkRightsExplained(t *testing.T) {
	tu := newTestUI(t)
	c := tu.login("admin")
	resp, body := c.get("/admin/users/new")
	must(t, resp, body, 200, "May send external links", "May see the external access page",
		"secure links that expire", "cancel links")
}

// TestFourEyesWaitingWording: the waiting page's heading follows the
// state (a refusal is not "Waiting"); an access that ended says why in
// one sentence; a supervisor's pages name who waits for an answer.
func TestFourEyesWaitingWording(t *testing.T) {
	tu, _, _ := newFourEyesTest(t, foureyes.Options{Grace: time.Millisecond}, webtest.SilentMedia{})
	alice, sam := tu.login("alice"), tu.login("sam")
	h1 := func(body string) string {
		m := regexp.MustCompile(`<h1[^>]*>(.*?)</h1>`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no heading\n%.2000s", body)
		}
		return m[1]
	}

	resp, body := alice.get("/")
	must(t, resp, body, 200)
	if h := h1(body); h != "Access needs your supervisor" {
		t.Fatalf("before asking: heading %q", h)
	}
	// Nobody has asked: no notice on sam's home.
	resp, body = sam.get("/")
	must(t, resp, body, 200)
	if strings.Contains(body, "fe-sup-waiting") {
		t.Fatal("a notice of a request before anyone asked")
	}
	sp := openSupervision(t, sam, true)
	as := alice.stream(t, "/foureyes/events")
	resp, body = alice.post("/foureyes/request", nil)
	must(t, resp, body, 303)
	resp, body = alice.get("/")
	must(t, resp, body, 200)
	if h := h1(body); h != "Waiting for your supervisor" {
		t.Fatalf("after asking: heading %q", h)
	}
	resp, body = sam.get("/")
	must(t, resp, body, 200, `id="fe-sup-waiting"`, "Åsa Øberg asks you for access.", `href="/supervise"`)
	resp, body = sam.get("/supervise")
	must(t, resp, body, 200)
	if strings.Contains(body, "fe-sup-waiting") {
		t.Fatal("the supervision page repeats the notice")
	}

	// Refused: the heading says so.
	resp, body = sam.post("/supervise/alice/refuse", nil)
	must(t, resp, body, 303)
	as.wardState(foureyes.Refused)
	resp, body = alice.get("/")
	must(t, resp, body, 200, "Sam Supervisor refused access.")
	if h := h1(body); h != "Access refused" || strings.Contains(body, "<title>Waiting") {
		t.Fatalf("after a refusal: heading %q", h)
	}
	resp, body = sam.get("/")
	must(t, resp, body, 200)
	if strings.Contains(body, "fe-sup-waiting") {
		t.Fatal("the notice outlives the answer")
	}

	// Granted, then the supervision page closes: one sentence says why.
	grantAlice(t, alice, sam)
	as.wardState(foureyes.Granted)
	sp.close()
	wantEnded(t, as, foureyes.ReasonClosed)
	resp, body = alice.get("/")
	must(t, resp, body, 200)
	if h := h1(body); h != "Access ended" {
		t.Fatalf("after the end: heading %q", h)
	}
	if n := strings.Count(withoutScriptText(body), "Access ended: your supervisor closed the supervision page."); n != 1 || strings.Contains(body, "They ended it") {
		t.Fatalf("the end is said %d times\n%.3000s", n, body)
	}
}

// TestKeyRotationKeepsOldAndOffersDownload: a key-file rotation from the
// settings page says where the new key file is, keeps the old one beside
// it and says backups need it, and offers the new key for download once,
// to the admin who rotated.
func TestKeyRotationKeepsOldAndOffersDownload(t *testing.T) {
	arc := archivetest.OpenTest(t)
	keyFile := filepath.Join(filepath.Dir(arc.Path()), "archive.key")
	before, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"admin", "admin2"} {
		if err := arc.PutUser(context.Background(), archive.User{Login: l, Role: archive.RoleAdmin}, testPassword); err != nil {
			t.Fatal(err)
		}
	}
	u, err := New(arc, noMedia{}, Options{KeyFile: keyFile}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tu := &testUI{t: t, arc: arc, ui: u, srv: httptest.NewServer(u.Routes())}
	defer tu.srv.Close()
	c, other := tu.login("admin"), tu.login("admin2")
	resp, body := c.post("/admin/settings/key", url.Values{"mode": {"rotate"}, "current": {testPassword}})
	must(t, resp, body, 200, `id="key-rotated"`, "The new key file is <code>"+keyFile+"</code>", "Backups made before this change can only be restored with it")
	m := regexp.MustCompile(`The old key file was kept as <code>([^<]+)</code>`).FindStringSubmatch(body)
	if m == nil || filepath.Dir(m[1]) != filepath.Dir(keyFile) {
		t.Fatalf("no old key file named\n%.3000s", body)
	}
	if old, err := os.ReadFile(m[1]); err != nil || !bytes.Equal(old, before) {
		t.Fatalf("old key file %s: %v", m[1], err)
	}
	after, _ := os.ReadFile(keyFile)
	if bytes.Equal(after, before) {
		t.Fatal("the key file did not change")
	}
	tok := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(body)
	if tok == nil {
		t.Fatal("no download offered")
	}
	// Another admin cannot take it; the admin who rotated gets it once.
	resp, body = other.post("/admin/settings/key/download", url.Values{"token": {tok[1]}})
	must(t, resp, body, http.StatusGone)
	resp, body = c.post("/admin/settings/key/download", url.Values{"token": {tok[1]}})
	must(t, resp, body, 200)
	if body != string(after) || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("download: %q %q", resp.Header.Get("Content-Disposition"), body)
	}
	resp, body = c.post("/admin/settings/key/download", url.Values{"token": {tok[1]}})
	must(t, resp, body, http.StatusGone, "only once")
	if strings.Contains(body, string(after)) {
		t.Fatal("the key is in the refusal")
	}
}

// TestRecordToURLOnEveryAddress: a listener bound to every address is
// shown with the host the admin reached the UI by, and is not called
// unreachable.
func TestRecordToURLOnEveryAddress(t *testing.T) {
	tu := newTestUI(t)
	tu.ui.SetIngest("/recordings/Files/", []IngestListener{{Name: "phones", Addr: "0.0.0.0:8080"}, {Name: "main", Addr: "[::]:8443", TLS: true}})
	c := tu.login("admin")
	resp, body := c.get("/admin/settings")
	u, _ := url.Parse(tu.srv.URL)
	must(t, resp, body, 200, "http://"+u.Hostname()+":8080/recordings/Files/", "https://"+u.Hostname()+":8443/recordings/Files/",
		"listener phones", "Login: <code>ingest</code>")
	if strings.Contains(body, "Phones cannot reach") {
		t.Fatal("an address on every interface is called unreachable")
	}
}
