package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
)

// TestStoredInfoShown: documents the recorder stored (recinfo's golden
// files) show on the pages and pass through the API as they were stored:
// the streams byte for byte, the calls with their Call-ID and without the
// timeline window.
func TestStoredInfoShown(t *testing.T) {
	tu := newTestUI(t)
	c := tu.login("alice")
	start := time.Date(2026, 11, 21, 7, 20, 21, 0, time.UTC)
	for _, tc := range []struct {
		file  string
		guid  string
		query string // the call the page shows
		shown []string
	}{
		{"sip_pcmu.json", "f9e5956e47d460010630009033302ab1", "", []string{"mallory", "566", "1-1453@127.2.208.35", "PCMU"}},
		{"projectrtp_sinora.json", "f9e5956e47d460010630009033302ab2", "?call=2", []string{"PCMU", "2 2 2 2 2"}},
	} {
		b, err := os.ReadFile("../recinfo/testdata/" + tc.file)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		w, err := tu.arc.Create(ctx, archive.NewRecording{FileName: tc.guid + "-009033302ab1-11--alice.pcap", CallGUID: tc.guid, User: "alice", Received: start})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.WriteOriginal([]byte("capture bytes")); err != nil {
			t.Fatal(err)
		}
		rec, err := w.Finish(ctx, archive.Final{State: archive.StateComplete, StartTime: start, DurationMs: 19003, Info: b})
		if err != nil {
			t.Fatal(err)
		}

		resp, body := c.get("/recordings/" + rec.ID.String() + tc.query)
		must(t, resp, body, 200, tc.shown...)

		var stored struct {
			Result struct {
				Streams json.RawMessage  `json:"streams"`
				Calls   []map[string]any `json:"calls"`
			} `json:"result"`
		}
		if err := json.Unmarshal(b, &stored); err != nil {
			t.Fatal(err)
		}
		resp, body = c.get("/api/v1/recordings/" + rec.ID.String())
		must(t, resp, body, 200)
		var got struct {
			Streams  json.RawMessage  `json:"streams"`
			CallList []map[string]any `json:"callList"`
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatal(err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, got.Streams); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(compact.Bytes(), stored.Result.Streams) {
			t.Errorf("%s: API streams\n%s\nwant the stored\n%s", tc.file, compact.Bytes(), stored.Result.Streams)
		}
		for _, call := range stored.Result.Calls {
			delete(call, "startPos")
			delete(call, "endPos")
			if _, ok := call["callId"]; !ok {
				call["callId"] = ""
			}
			if _, ok := call["dtmf"]; !ok {
				call["dtmf"] = nil
			}
		}
		want, _ := json.Marshal(stored.Result.Calls)
		have, _ := json.Marshal(got.CallList)
		if !bytes.Equal(have, want) {
			t.Errorf("%s: API callList\n%s\nwant\n%s", tc.file, have, want)
		}
	}
}
