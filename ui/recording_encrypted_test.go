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
// plainly that a call's media is encrypted and cannot be played, offer the
// original capture, and show no player; a clear call says nothing of the
// kind.
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
		hasTag := strings.Contains(row, "Encrypted media (SRTP) — the audio cannot be played</span>") &&
			strings.Contains(row, `href="/api/v1/recordings/`+enc.ID.String()+`/original.pcap"`)
		switch {
		case strings.Contains(row, enc.ID.String()) && !hasTag:
			t.Errorf("list row of the encrypted recording lacks the tag:\n%s", row)
		case strings.Contains(row, clear.ID.String()) && hasTag:
			t.Errorf("list row of the clear recording has the encrypted tag:\n%s", row)
		}
	}

	resp, body = c.get("/recordings/" + enc.ID.String())
	must(t, resp, body, 200, "Encrypted media (SRTP) — the audio cannot be played", "download the original capture",
		`href="/api/v1/recordings/`+enc.ID.String()+`/original.pcap"`, `<span class="tag warn">encrypted</span>`)
	for _, s := range []string{"<audio", `id="wave"`, `id="play"`, "/download.zip"} {
		if strings.Contains(body, s) {
			t.Errorf("the page of an encrypted recording has %s", s)
		}
	}
	if strings.Contains(body, "not playable") {
		t.Error("encrypted streams are also called not playable")
	}
	resp, body = c.get("/recordings/" + clear.ID.String())
	must(t, resp, body, 200)
	if strings.Contains(body, "Encrypted media") || strings.Contains(body, ">encrypted<") || strings.Contains(body, "cannot be played") {
		t.Error("the clear recording's page speaks of encryption")
	}
	if !strings.Contains(body, "<audio") {
		t.Error("the clear recording's page has no player")
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

// TestUndecodableCodecShown: a call in a codec the appliance does not
// decode (GSM) is named on the list and the page, with the original
// capture to download and no player. A call with one side in G.711 still
// plays, and so does a G.729 call stored when G.729 was not decoded.
func TestUndecodableCodecShown(t *testing.T) {
	tu := newTestUI(t)
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	call := func(guid string, codecs ...string) *archive.Recording {
		var streams []map[string]any
		for i, c := range codecs {
			streams = append(streams, map[string]any{"index": i, "call": 0, "channel": i, "codec": c, "supported": c == "PCMA", "packets": 500})
		}
		streams = append(streams, map[string]any{"index": len(codecs), "call": 0, "channel": 0, "codec": "telephone-event", "supported": false, "packets": 3})
		return tu.storeRecording("alice", guid, start, 10000, map[string]any{
			"streams": streams,
			"calls": []map[string]any{{
				"index": 0, "callId": "sip-" + guid, "from": party{Number: "201"}, "to": party{Number: "202"}, "start": start, "durationMs": 10000,
			}},
		})
	}
	gsm := call("33333333333333333333333333333333", "GSM", "GSM")
	half := call("44444444444444444444444444444444", "GSM", "PCMA")
	g729 := call("55555555555555555555555555555555", "G729", "G729")
	c := tu.login("alice")
	const line = "Audio in GSM — not decoded by this appliance"

	resp, body := c.get("/")
	must(t, resp, body, 200)
	for _, row := range strings.Split(body, "<tr>") {
		switch {
		case strings.Contains(row, gsm.ID.String()) && (!strings.Contains(row, line) || !strings.Contains(row, gsm.ID.String()+"/original.pcap")):
			t.Errorf("list row of the GSM recording:\n%s", row)
		case strings.Contains(row, g729.ID.String()) && strings.Contains(row, "not decoded"):
			t.Errorf("list row of the G.729 recording calls it undecodable:\n%s", row)
		case strings.Contains(row, half.ID.String()) && strings.Contains(row, "not decoded"):
			t.Errorf("list row of the half-G.711 recording calls it undecodable:\n%s", row)
		}
	}
	resp, body = c.get("/recordings/" + gsm.ID.String())
	must(t, resp, body, 200, line, "download the original capture", gsm.ID.String()+"/original.pcap", "Wireshark")
	if strings.Contains(body, "<audio") || strings.Contains(body, `id="wave"`) {
		t.Error("the GSM recording's page has a player")
	}
	resp, body = c.get("/recordings/" + g729.ID.String())
	must(t, resp, body, 200, "<audio", `id="wave"`)
	if strings.Contains(body, "not decoded by this appliance") {
		t.Error("the G.729 recording's page calls it undecodable")
	}
	resp, body = c.get("/recordings/" + half.ID.String())
	must(t, resp, body, 200, "<audio")
	if strings.Contains(body, "not decoded by this appliance") {
		t.Error("the half-G.711 recording's page calls it undecodable")
	}
}
