package webcore

import (
	"slices"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/export"
	"github.com/callvault/callvault/recinfo"
)

// TestCallDocCDRs: the PDF's document takes the direction, the title and
// a section per CDR from the call's CDRs.
func TestCallDocCDRs(t *testing.T) {
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	talk := int64(61000)
	rec := &archive.Recording{State: archive.StateComplete, StartTime: start, Received: start, User: "asa", CallGUID: "g1",
		Info: []byte(`{"result":{"calls":[{"from":{"number":"555"},"to":{"number":"556"}}]}}`),
		CDRs: []archive.CDR{
			{CallID: "g1", Direction: archive.CDROutbound, CallerNumber: "201", CalleeName: "Jānis Bērziņš", CalleeNumber: "+37120000000",
				QueueName: "Rīga", TalkTimeMs: &talk, ReferredTo: "202"},
			{CallID: "g1", Direction: archive.CDROutbound, CallerNumber: "202", CalleeName: "Jānis Bērziņš", CalleeNumber: "+37120000000", ReferredBy: "201"},
		}}
	users := map[string]*archive.User{"asa": {Login: "asa", Name: "Åsa Øberg"}}
	d := NewCallDoc(rec, users, nil, archive.Settings{}, time.UTC, make([]byte, 32), nil, start)
	if d.Title != "Jānis Bērziņš (+37120000000)" {
		t.Errorf("title %q", d.Title)
	}
	if !slices.Contains(d.Facts, [2]string{"Direction", "Outgoing"}) {
		t.Errorf("facts %q", d.Facts)
	}
	var heads []string
	for _, c := range d.Calls {
		heads = append(heads, c.Heading)
	}
	if !slices.Equal(heads, []string{"Call 1", "Call details 1", "Call details 2"}) {
		t.Fatalf("sections %q", heads)
	}
	for _, f := range [][2]string{{"Queue", "Rīga"}, {"Talk time", "1:01"}, {"Referred to", "202"}, {"Callee", "Jānis Bērziņš (+37120000000)"}} {
		if !slices.Contains(d.Calls[1].Facts, f) {
			t.Errorf("CDR 1 lacks %q: %q", f, d.Calls[1].Facts)
		}
	}
	if !slices.Contains(d.Calls[2].Facts, [2]string{"Referred by", "201"}) {
		t.Errorf("CDR 2: %q", d.Calls[2].Facts)
	}
	if _, err := export.CallInfoPDF(d); err != nil {
		t.Fatal(err)
	}
	// Without CDRs: the capture's guess, as before.
	rec.CDRs = nil
	if dir := Direction(rec, recinfo.ParseLenient(rec.Info), users["asa"]); dir != DirUnknown {
		t.Errorf("direction without CDRs: %q", dir)
	}
}
