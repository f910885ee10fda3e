package ui

import (
	"strings"
	"testing"
	"time"
)

// TestG722PlaysOnListAndPage: a recording stored before G.722 was decoded
// (its info says G722 "supported": false) is no longer called undecodable
// or not playable: the list and the page give it a player like G.711.
func TestG722PlaysOnListAndPage(t *testing.T) {
	tu := newTestUI(t)
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	const guid = "72272272272272272272272272272272"
	rec := tu.storeRecording("alice", guid, start, 10000, map[string]any{
		"streams": []map[string]any{
			{"index": 0, "call": 0, "channel": 0, "codec": "G722", "supported": false, "packets": 500},
			{"index": 1, "call": 0, "channel": 1, "codec": "G722", "supported": false, "packets": 500},
		},
		"calls": []map[string]any{{
			"index": 0, "callId": "sip-" + guid, "from": party{Number: "201"}, "to": party{Number: "202"}, "start": start, "durationMs": 10000,
		}},
	})
	c := tu.login("alice")
	resp, body := c.get("/")
	must(t, resp, body, 200)
	for _, row := range strings.Split(body, "<tr>") {
		if strings.Contains(row, rec.ID.String()) && strings.Contains(row, "not decoded") {
			t.Errorf("list row of the G.722 recording calls it undecodable:\n%s", row)
		}
	}
	resp, body = c.get("/recordings/" + rec.ID.String())
	must(t, resp, body, 200, "<audio", "G722")
	if strings.Contains(body, "not decoded by this appliance") || strings.Contains(body, "not playable") {
		t.Error("the G.722 recording's page calls it unplayable")
	}
}
