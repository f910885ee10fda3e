package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/internal/testclock"
)

// integrationToken creates the integration account pbx (by the API, as
// admin) and returns a bearer token of it and its password.
func (d *daemon) integrationToken(t *testing.T) (tok, pw string) {
	t.Helper()
	admin := "admin:" + testAdminPassword
	pw = "pw-pbx-0123456789"
	d.apiWant(t, admin, "POST", "/api/v1/users", map[string]any{"login": "pbx", "role": "integration", "password": pw}, http.StatusCreated)
	m := d.apiWant(t, admin, "POST", "/api/v1/users/pbx/tokens", map[string]any{"label": "cdr push"}, http.StatusCreated)
	tok, _ = m["token"].(string)
	if tok == "" {
		t.Fatalf("no token: %v", m)
	}
	return "Bearer " + tok, pw
}

// TestCDREndToEnd: a CDR sent before its recording is uploaded, and one
// sent hours (on the appliance's clock) after another recording, each
// show in the recording's API view, the list, the search and the
// direction filter of the pages. The integration account reaches
// nothing else: no page, API route, WebDAV or upload.
func TestCDREndToEnd(t *testing.T) {
	clk := testclock.Ticking(time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC), time.Millisecond)
	d := startDaemonWith(t, "", func(o *serveOptions) { o.now = clk.Now })
	pbx, pbxPW := d.integrationToken(t)
	admin := "admin:" + testAdminPassword
	ui := d.uiLogin(t, "admin", testAdminPassword)

	const guid1, guid2 = "cdcdcdcdcdcdcdcdcdcdcdcdcdcd0001", "cdcdcdcdcdcdcdcdcdcdcdcdcdcd0002"
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	d.apiWant(t, pbx, "POST", "/api/v1/cdr", map[string]any{"callId": guid1, "direction": "outbound", "callerNumber": "201",
		"calleeName": "Gottfried Wanderer", "calleeNumber": "+4989111222", "agentName": "Agent Smith", "startTime": start.UnixMilli()}, http.StatusCreated)
	rec1 := d.ingestSynth(t, guid1, "admin", synthCall{seconds: 2, start: start, callID: "one@pbx",
		from: synthParty{"", "7001"}, to: synthParty{"", "7002"}})
	rec2 := d.ingestSynth(t, guid2, "admin", synthCall{seconds: 2, start: start.Add(time.Hour), callID: "two@pbx",
		from: synthParty{"", "7003"}, to: synthParty{"", "7004"}})
	clk.Add(6 * time.Hour)
	for _, leg := range []map[string]any{
		{"callId": "two@pbx", "direction": "inbound", "callerName": "Hildegard Sturm", "callerNumber": "+4930333444", "queueName": "Reklamation", "referredTo": "202"},
		{"callId": "two@pbx", "direction": "inbound", "callerName": "Hildegard Sturm", "callerNumber": "+4930333444", "queueName": "Reklamation", "referredBy": "201", "answerGroupName": "Team B"},
	} {
		d.apiWant(t, pbx, "POST", "/api/v1/cdr", leg, http.StatusCreated)
	}
	m := d.apiWant(t, admin, "GET", "/api/v1/recordings/"+rec2, nil, http.StatusOK)
	cdrs, _ := m["cdrs"].([]any)
	if len(cdrs) != 2 || m["direction"] != "in" {
		t.Fatalf("recording 2: %v", m)
	}
	if got, _ := cdrs[0].(map[string]any)["received"].(string); !strings.HasPrefix(got, "2026-11-20T14:") {
		t.Errorf("received %q, want the appliance's clock (6 h on)", got)
	}
	m = d.apiWant(t, admin, "GET", "/api/v1/recordings/"+rec1, nil, http.StatusOK)
	if cdrs, _ := m["cdrs"].([]any); len(cdrs) != 1 || m["direction"] != "out" {
		t.Fatalf("recording 1: %v", m)
	}
	for q, want := range map[string]string{"wanderer": rec1, "4930333": rec2, "team b": rec2} {
		m := d.apiWant(t, admin, "GET", "/api/v1/recordings?q="+url.QueryEscape(q), nil, http.StatusOK)
		recs, _ := m["recordings"].([]any)
		if len(recs) != 1 || recs[0].(map[string]any)["id"] != want {
			t.Errorf("search %q: %v", q, recs)
		}
	}
	for dir, want := range map[string]string{"in": rec2, "out": rec1} {
		_, body := ui.get(t, "/?dir="+dir)
		if got := listedRecordings(body); len(got) != 1 || !strings.Contains(string(body), want) {
			t.Errorf("dir=%s lists %v", dir, got)
		}
	}
	_, body := ui.get(t, "/recordings/"+rec2)
	for _, s := range []string{"Call details 2", "Hildegard Sturm", "Reklamation", "Team B"} {
		if !strings.Contains(string(body), s) {
			t.Errorf("recording page lacks %q", s)
		}
	}

	// The integration account, by token or password, reaches nothing else.
	for _, p := range []string{"/api/v1/recordings", "/api/v1/recordings/" + rec1, "/api/v1/recordings/" + rec1 + "/audio.wav",
		"/api/v1/users/pbx", "/api/v1/audit"} {
		if code, _ := d.apiCall(t, pbx, "GET", p, nil); code != http.StatusForbidden {
			t.Errorf("GET %s with the integration token: %d", p, code)
		}
		if code, _ := d.apiCall(t, "pbx:"+pbxPW, "GET", p, nil); code != http.StatusForbidden {
			t.Errorf("GET %s as pbx (Basic): %d", p, code)
		}
	}
	c := d.newUIClient(t)
	if resp, _ := c.post(t, "/login", url.Values{"login": {"pbx"}, "password": {pbxPW}}); resp.StatusCode == http.StatusSeeOther {
		t.Error("the integration account signed in to the pages")
	}
	req, _ := http.NewRequest("PROPFIND", d.url+"/webdav/", nil)
	req.Header.Set("Depth", "1")
	req.SetBasicAuth("pbx", pbxPW)
	if resp, _ := c.do(t, req); resp.StatusCode != http.StatusForbidden {
		t.Errorf("WebDAV as pbx: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest("PUT", d.url+"/recordings/Files/"+guid2+"-x-1--pbx.pcap", strings.NewReader("x"))
	req.SetBasicAuth("pbx", pbxPW)
	if resp, _ := c.do(t, req); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("upload as pbx: %d", resp.StatusCode)
	}
	d.mustVerifyChain(t)
}
