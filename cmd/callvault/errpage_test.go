package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestAPIErrorPageForPeople: a person's browser that navigates to an API
// address it may not read (a download link clicked after a 4-eyes grant
// ended) gets an HTML page in plain words; API clients and the pages'
// scripts keep getting JSON.
func TestAPIErrorPageForPeople(t *testing.T) {
	d := startDaemon(t, "")
	admin := d.uiLogin(t, "admin", testAdminPassword)
	const samPW, alicePW = "sam-errpage-pw-1", "alice-errpage-pw-1"
	admin.createUser(t, "sam", samPW, "supervisor", nil)
	admin.createUser(t, "alice", alicePW, "user", url.Values{"extensions": {"201"}, "supervisor": {"sam"}})
	rec := d.ingestSynth(t, "4e4e0000000000000000000000000002", "alice", synthCall{seconds: 5,
		start: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC), callID: "errpage@pbx",
		from: synthParty{"Alice", "201"}, to: synthParty{"Bob", "+37120000000"}})
	alice := d.uiLogin(t, "alice", alicePW)
	path := "/api/v1/recordings/" + rec + "/download.zip"

	get := func(h http.Header) (*http.Response, string) {
		req, _ := http.NewRequest("GET", d.url+path, nil)
		for k, v := range h {
			req.Header[k] = v
		}
		resp, body := alice.do(t, req)
		return resp, string(body)
	}
	// A click on the link: Chromium's headers.
	resp, body := get(http.Header{"Sec-Fetch-Mode": {"navigate"}, "Sec-Fetch-Dest": {"document"},
		"Accept": {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}})
	if resp.StatusCode != 403 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("navigation: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if strings.Contains(body, `{"error"`) || strings.Contains(body, "POST /api") || !strings.Contains(body, "Ask for access again") || !strings.Contains(body, `href="/"`) {
		t.Fatalf("navigation page:\n%s", body)
	}
	// A browser without fetch metadata that asks for HTML.
	resp, body = get(http.Header{"Accept": {"text/html"}})
	if resp.StatusCode != 403 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("Accept text/html: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	// A script (fetch) and an API client get JSON.
	for _, h := range []http.Header{{"Sec-Fetch-Mode": {"cors"}, "Accept": {"*/*"}}, {"Accept": {"application/json"}}, {}} {
		resp, body = get(h)
		if resp.StatusCode != 403 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || !strings.Contains(body, `"error"`) {
			t.Fatalf("%v: %d %s\n%s", h, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
	// Not found, navigated to: a page too.
	req, _ := http.NewRequest("GET", d.url+"/api/v1/recordings/nosuchrecording/download.zip", nil)
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	resp, b := admin.do(t, req)
	if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || strings.Contains(string(b), `"error"`) {
		t.Fatalf("not found, navigated: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
}
