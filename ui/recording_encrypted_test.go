package ui

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
)

// addEncryptedRecording stores a recording of login whose one call's
// streams the recorder marked encrypted (SRTP).
func (tu *testUI) addEncryptedRecording(login, guid string, start time.Time) *archive.Recording {
	tu.t.Helper()
	return tu.storeRecording(login, guid, start, 10000, map[string]any{
		"streams": []map[string]any{
			{"index": 0, "call": 0, "channel": 0, "codec": "PCMU", "supported": false, "encrypted": true, "encryption": "srtp", "packets": 500},
			{"index": 1, "call": 0, "channel": 1, "codec": "PCMU", "supported": false, "encrypted": true, "encryption": "srtp", "packets": 500},
		},
		"calls": []map[string]any{{
			"index": 0, "callId": "sip-" + guid, "from": party{Number: "201"}, "to": party{Number: "202"}, "start": start, "durationMs": 10000,
			"streams": []int{0, 1},
		}},
	})
}

// TestEncryptedRecordingShown: the list and the recording page say
// plainly that a call's media is encrypted; a clear call says nothing of
// the kind.
func TestEncryptedRecordingShown(t *testing.T) {
	tu := newTestUI(t)
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	enc := tu.addEncryptedRecording("alice", "11111111111111111111111111111111", start)
	clear := tu.addRecording("alice", "22222222222222222222222222222222", party{Number: "201"}, party{Number: "203"}, start.Add(time.Hour))
	c := tu.login("alice")

	resp, body := c.get("/")
	must(t, resp, body, 200)
	rows := strings.Split(body, "<tr>")
	for _, row := range rows {
		hasTag := strings.Contains(row, ">encrypted</span>")
		switch {
		case strings.Contains(row, enc.ID.String()) && !hasTag:
			t.Errorf("list row of the encrypted recording lacks the tag:\n%s", row)
		case strings.Contains(row, clear.ID.String()) && hasTag:
			t.Errorf("list row of the clear recording has the encrypted tag:\n%s", row)
		}
	}

	resp, body = c.get("/recordings/" + enc.ID.String())
	must(t, resp, body, 200, "Encrypted media (SRTP)", "plays as silence", `<span class="tag warn">encrypted</span>`)
	if strings.Contains(body, "not playable") {
		t.Error("encrypted streams are also called not playable")
	}
	resp, body = c.get("/recordings/" + clear.ID.String())
	must(t, resp, body, 200)
	if strings.Contains(body, "Encrypted media") || strings.Contains(body, ">encrypted<") {
		t.Error("the clear recording's page speaks of encryption")
	}
	// The API passes the recorder's stream fields through.
	resp, body = c.get("/api/v1/recordings/" + enc.ID.String())
	must(t, resp, body, 200)
	var js struct {
		Streams []struct {
			Encrypted  bool   `json:"encrypted"`
			Encryption string `json:"encryption"`
		} `json:"streams"`
	}
	if err := json.Unmarshal([]byte(body), &js); err != nil || len(js.Streams) != 2 || !js.Streams[0].Encrypted || js.Streams[0].Encryption != "srtp" {
		t.Errorf("API streams %+v (%v)", js.Streams, err)
	}
}
