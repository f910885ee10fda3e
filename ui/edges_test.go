package ui

import (
	"regexp"
	"strings"
	"testing"
	"time"
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
