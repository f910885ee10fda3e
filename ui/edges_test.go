package ui

import (
	"regexp"
	"strings"
	"testing"
	"time"

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
	if n := strings.Count(body, "Access ended: your supervisor closed the supervision page."); n != 1 || strings.Contains(body, "They ended it") {
		t.Fatalf("the end is said %d times\n%.3000s", n, body)
	}
}
