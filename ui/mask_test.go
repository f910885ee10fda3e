package ui

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
)

// TestMaskDTMFForms: the settings page and the user form set the
// appliance's and a user's mask-DTMF setting.
func TestMaskDTMFForms(t *testing.T) {
	tu := newTestUI(t)
	ctx := context.Background()
	admin := tu.loginAt("admin")
	resp, body := admin.get("/admin/settings")
	must(t, resp, body, 200, `name="maskDtmf"`)
	form := url.Values{"pbxName": {"PBX"}, "timeZone": {"UTC"}, "sealing": {"on"}, "maskDtmf": {"on"}}
	if resp, body := admin.post("/admin/settings", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("settings: %d\n%s", resp.StatusCode, body)
	}
	if s, _ := tu.arc.Settings(ctx); !s.MaskDTMF {
		t.Fatal("mask DTMF not saved")
	}
	resp, body = admin.get("/admin/settings")
	must(t, resp, body, 200, `name="maskDtmf" checked`)

	if err := tu.arc.PutUser(ctx, archive.User{Login: "desk", Role: archive.RoleUser}, ""); err != nil {
		t.Fatal(err)
	}
	resp, _ = admin.post("/admin/users/desk", url.Values{"role": {"user"}, "maskDtmf": {"on"}, "deletionMode": {"recoverable"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("user form: %d", resp.StatusCode)
	}
	if u, err := tu.arc.GetUser(ctx, "desk"); err != nil || !u.MaskDTMF {
		t.Fatalf("desk %+v %v", u, err)
	}
	resp, body = admin.get("/admin/users/desk")
	must(t, resp, body, 200, `name="maskDtmf" checked`)
}

// TestRecordingPageMasking: a masked recording says what was masked and
// that the sealed original is the upload with the masks applied, shows
// its secure pauses in the facts and on the waveform; digits found in the
// audio are listed apart from RFC 4733 ones.
func TestRecordingPageMasking(t *testing.T) {
	tu := newTestUI(t)
	ctx := context.Background()
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	w, err := tu.arc.Create(ctx, archive.NewRecording{FileName: "m.pcap", CallGUID: "bbbb0001", User: "alice", Received: start})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteOriginal([]byte("capture bytes")); err != nil {
		t.Fatal(err)
	}
	info, _ := json.Marshal(map[string]any{
		"version": 1,
		"result": map[string]any{
			"streams": []map[string]any{{"index": 0, "call": 0, "channel": 0, "codec": "PCMU", "supported": true}, {"index": 1, "call": 0, "channel": 1, "codec": "PCMU", "supported": true}},
			"calls": []map[string]any{{
				"index": 0, "start": start, "durationMs": 20000, "startPos": 16000, "endPos": 176000, "streams": []int{0, 1},
				"dtmf": []map[string]any{{"digit": "7", "inBand": true}, {"digit": "#"}},
			}}},
		"masking": map[string]any{"receivedHmacSha256": "5e0b", "eventPackets": 3, "spans": []map[string]any{
			{"stream": 0, "startPos": 100, "endPos": 900, "reason": "dtmf"},
			{"stream": 1, "startPos": 100, "endPos": 900, "reason": "dtmf"},
			{"stream": 0, "startPos": 56000, "endPos": 96000, "reason": "pause"},
			{"stream": 1, "startPos": 56000, "endPos": 96000, "reason": "pause"},
		}},
	})
	rec, err := w.Finish(ctx, archive.Final{State: archive.StateComplete, StartTime: start, DurationMs: 20000, Info: info})
	if err != nil {
		t.Fatal(err)
	}
	resp, body := tu.loginAt("admin").get("/recordings/" + rec.ID.String())
	must(t, resp, body, 200, `id="masked"`, "1 stretch(es) of DTMF", `id="seal-masked"`, "upload with the masks applied", "5e0b",
		"<dt>DTMF tones</dt><dd class=\"mono\">7</dd>", "<dt>DTMF</dt><dd class=\"mono\">#</dd>",
		"1 secure pause(s)", "Paused: 0:05–0:10", `class="pause-mark" data-left="25.000%" data-width="25.000%" title="Secure pause 0:05–0:10"`)
}
