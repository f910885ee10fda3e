package ui

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
)

// TestCDRMergedInPages: a recording whose capture says nothing of its
// direction gets it, and the caller's name, from a CDR that arrives
// hours later; the list, its search and direction filter, and the
// recording page show the merge. A CDR sent before its recording shows
// the same way.
func TestCDRMergedInPages(t *testing.T) {
	tu := newTestUI(t)
	ctx := context.Background()
	start := testNow.Add(-3 * time.Hour)
	// The capture knows only numbers that are nobody's extension.
	rec := tu.addRecording("alice", "guid-cdr-after", party{Number: "555"}, party{Number: "556"}, start)
	c := tu.login("alice")
	resp, body := c.get("/?dir=in")
	must(t, resp, body, 200)
	if strings.Contains(body, rec.ID.String()) {
		t.Fatal("listed as incoming before any CDR")
	}
	tu.clock.Add(4 * time.Hour)
	wait, talk := int64(12000), int64(95000)
	if _, err := tu.arc.PutCDR(ctx, archive.CDR{CallID: "sip-guid-cdr-after", Direction: archive.CDRInbound,
		CallerName: "Leopoldine Fuchs", CallerNumber: "+43316999888", CalleeNumber: "201", QueueName: "Kundendienst",
		AgentName: "Åsa Øberg", AgentID: "201", WaitTimeMs: &wait, TalkTimeMs: &talk, StartTime: start}); err != nil {
		t.Fatal(err)
	}
	resp, body = c.get("/?dir=in")
	must(t, resp, body, 200, rec.ID.String(), "Leopoldine Fuchs (&#43;43316999888)", "Incoming")
	resp, body = c.get("/?dir=out")
	must(t, resp, body, 200)
	if strings.Contains(body, rec.ID.String()) {
		t.Fatal("an inbound call listed as outgoing")
	}
	for _, q := range []string{"leopoldine", "316999", "Kundendienst"} {
		resp, body = c.get("/?q=" + url.QueryEscape(q))
		must(t, resp, body, 200, rec.ID.String())
	}
	resp, body = c.get("/recordings/" + rec.ID.String())
	must(t, resp, body, 200, "Call details 1", "Kundendienst", "Leopoldine Fuchs (&#43;43316999888)", "Wait time", "0:12", "Talk time", "1:35", "Incoming")

	// A CDR first, its recording later; internal calls have a filter.
	if _, err := tu.arc.PutCDR(ctx, archive.CDR{CallID: "guid-cdr-before", Direction: archive.CDRInternal,
		CallerName: "Åsa Øberg", CallerNumber: "201", CalleeName: "Bob Builder", CalleeNumber: "202", ReferredTo: "203"}); err != nil {
		t.Fatal(err)
	}
	tu.clock.Add(time.Minute)
	rec2 := tu.addRecording("alice", "guid-cdr-before", party{Number: "777"}, party{Number: "778"}, tu.clock.Now())
	resp, body = c.get("/?dir=internal")
	must(t, resp, body, 200, rec2.ID.String(), "Åsa Øberg (201) → Bob Builder (202)", "Internal")
	if strings.Contains(body, rec.ID.String()) {
		t.Fatal("an inbound call listed as internal")
	}
	resp, body = c.get("/recordings/" + rec2.ID.String())
	must(t, resp, body, 200, "Referred to", "203")
}

// TestIntegrationAccountNoLogin: an integration account cannot sign in
// to the pages.
func TestIntegrationAccountNoLogin(t *testing.T) {
	tu := newTestUI(t)
	if err := tu.arc.PutUser(context.Background(), archive.User{Login: "pbx", Role: archive.RoleIntegration}, testPassword); err != nil {
		t.Fatal(err)
	}
	resp, body := tu.client().post("/login", url.Values{"login": {"pbx"}, "password": {testPassword}})
	if resp.StatusCode == 303 {
		t.Fatalf("integration account signed in: %s", body)
	}
}
