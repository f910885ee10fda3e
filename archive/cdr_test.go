package archive

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func i64p(v int64) *int64 { return &v }

// finishRec creates and finishes a recording.
func finishRec(t *testing.T, a *Archive, nr NewRecording, f Final) *Recording {
	t.Helper()
	w, err := a.Create(t.Context(), nr)
	if err != nil {
		t.Fatal(err)
	}
	r, err := w.Finish(t.Context(), f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// listText returns the IDs List finds for a text.
func listText(t *testing.T, a *Archive, text string) []ID {
	t.Helper()
	recs, _, err := a.List(t.Context(), Query{Text: text})
	if err != nil {
		t.Fatal(err)
	}
	var out []ID
	for _, r := range recs {
		out = append(out, r.ID)
	}
	return out
}

func checkChain(t *testing.T, a *Archive) {
	t.Helper()
	res, err := a.VerifyChain(t.Context())
	if err != nil || !res.Valid {
		t.Fatalf("verify chain: %v %q", err, res.Problems)
	}
}

// TestCDRMeetsRecording: a CDR stored before a recording of its call (by
// conference GUID) and one stored hours after a recording (by a SIP
// Call-ID of its Info) both show in the recording as read, and their
// names and numbers find it by text; several CDRs of one call are kept,
// a repeated one once.
func TestCDRMeetsRecording(t *testing.T) {
	clk := newClock()
	a := OpenTestOptions(t, Options{Now: clk.Now})
	ctx := t.Context()
	const guid = "f9e5956e47d4600106300090333302ab"
	before := CDR{CallID: guid, Direction: CDRInbound, CallerNumber: "+4930111222", CallerName: "Wilhelmina Quast",
		CalleeNumber: "4711", QueueName: "Hotline Nord", AgentName: "Ottokar Beispiel", AgentID: "ag-17",
		StartTime: clk.Now(), EndTime: clk.Now().Add(time.Minute), WaitTimeMs: i64p(4000), TalkTimeMs: i64p(56000)}
	created, err := a.PutCDR(ctx, before)
	if err != nil || !created {
		t.Fatal(created, err)
	}
	clk.Add(time.Minute)
	r1 := finishRec(t, a, NewRecording{User: "alice", CallGUID: guid, FileName: guid + "-x.pcap", Received: clk.Now()},
		Final{State: StateComplete, StartTime: clk.Now()})
	got, err := a.Get(ctx, r1.ID)
	if err != nil || len(got.CDRs) != 1 || got.CDRs[0].CallerName != "Wilhelmina Quast" || got.CDRs[0].Direction != CDRInbound ||
		*got.CDRs[0].TalkTimeMs != 56000 || !got.CDRs[0].Received.Equal(clk.Now().Add(-time.Minute)) {
		t.Fatalf("before: %v %+v", err, got)
	}
	for _, q := range []string{"quast", "4930111", "Hotline", "ottokar"} {
		if ids := listText(t, a, q); len(ids) != 1 || ids[0] != r1.ID {
			t.Errorf("text %q: %v", q, ids)
		}
	}

	// A recording whose call has a SIP Call-ID; its CDR comes hours later.
	const sipID = "a84b4c76e66710@pc33.example.com"
	info := fmt.Appendf(nil, `{"result":{"calls":[{"callId":%q,"from":{"number":"200"},"to":{"number":"300"}}]}}`, sipID)
	r2 := finishRec(t, a, NewRecording{User: "bob", Received: clk.Now()}, Final{State: StateComplete, StartTime: clk.Now(), Info: info})
	if ids := listText(t, a, "zacharias"); len(ids) != 0 {
		t.Fatalf("found before the CDR: %v", ids)
	}
	clk.Add(5 * time.Hour)
	leg1 := CDR{CallID: sipID, Direction: CDROutbound, CallerNumber: "200", CalleeNumber: "+4940999888", CalleeName: "Zacharias Tiefensee",
		StartTime: clk.Now().Add(-5 * time.Hour), ReferredTo: "301"}
	leg2 := CDR{CallID: sipID, Direction: CDROutbound, CallerNumber: "301", CalleeNumber: "+4940999888", CalleeName: "Zacharias Tiefensee",
		StartTime: clk.Now().Add(-5*time.Hour + time.Minute), ReferredBy: "200", AnswerGroupName: "Vertrieb Süd"}
	for i, c := range []CDR{leg1, leg2, leg1} {
		created, err := a.PutCDR(ctx, c)
		if err != nil || created != (i < 2) {
			t.Fatalf("cdr %d: created %v, %v", i, created, err)
		}
	}
	got, err = a.Get(ctx, r2.ID)
	if err != nil || len(got.CDRs) != 2 || got.CDRs[0].ReferredTo != "301" || got.CDRs[1].ReferredBy != "200" {
		t.Fatalf("after: %v %+v", err, got.CDRs)
	}
	for _, q := range []string{"zacharias", "40999888", "vertrieb süd"} {
		if ids := listText(t, a, q); len(ids) != 1 || ids[0] != r2.ID {
			t.Errorf("text %q: %v", q, ids)
		}
	}
	cdrs, err := a.CDRs(ctx, sipID)
	if err != nil || len(cdrs) != 2 {
		t.Fatal(cdrs, err)
	}
	// ByCall and List read the merge too.
	byCall, err := a.ByCall(ctx, guid)
	if err != nil || len(byCall) != 1 || len(byCall[0].CDRs) != 1 {
		t.Fatalf("by call: %v %+v", err, byCall)
	}
	all, _, err := a.List(ctx, Query{})
	if err != nil || len(all) != 2 || len(all[0].CDRs)+len(all[1].CDRs) != 3 {
		t.Fatalf("list: %v %d", err, len(all))
	}
	// The index check of VerifyChain recomputes the search entries with
	// the CDRs: none is missing or stray.
	checkChain(t, a)
	// Binned and restored: the entries go and come back with the CDRs.
	if err := a.Bin(ctx, r2.ID, "admin"); err != nil {
		t.Fatal(err)
	}
	if ids := listText(t, a, "zacharias"); len(ids) != 0 {
		t.Fatalf("binned but found: %v", ids)
	}
	checkChain(t, a)
	if err := a.Restore(ctx, r2.ID); err != nil {
		t.Fatal(err)
	}
	if ids := listText(t, a, "zacharias"); len(ids) != 1 {
		t.Fatalf("restored: %v", ids)
	}
	checkChain(t, a)
	// After a reopen, the search index is rebuilt with the CDRs.
	a = reopenWith(t, a, Options{Now: clk.Now})
	if ids := listText(t, a, "wilhelmina"); len(ids) != 1 || ids[0] != r1.ID {
		t.Fatalf("after reopen: %v", ids)
	}
	checkChain(t, a)
}

func TestCDRValidate(t *testing.T) {
	a := OpenTest(t)
	for _, tc := range []struct {
		c     CDR
		field string
	}{
		{CDR{}, "callId"},
		{CDR{CallID: "  "}, "callId"},
		{CDR{CallID: strings.Repeat("x", 513)}, "callId"},
		{CDR{CallID: "c", Direction: "sideways"}, "direction"},
		{CDR{CallID: "c", CallerName: strings.Repeat("é", 129)}, "callerName"},
		{CDR{CallID: "c", AgentName: "a\x00b"}, "agentName"},
		{CDR{CallID: "c", QueueName: "\xff"}, "queueName"},
		{CDR{CallID: "c", WaitTimeMs: i64p(-1)}, "waitTimeMs"},
		{CDR{CallID: "c", TalkTimeMs: i64p(1 << 50)}, "talkTimeMs"},
		{CDR{CallID: "c", StartTime: time.Unix(100, 0), EndTime: time.Unix(50, 0)}, "endTime"},
	} {
		_, err := a.PutCDR(t.Context(), tc.c)
		var ce *CDRError
		if !errors.As(err, &ce) || ce.Field != tc.field || !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want field %s", tc.c, err, tc.field)
		}
	}
	for i := range maxCDRs {
		if _, err := a.PutCDR(t.Context(), CDR{CallID: "full", AgentID: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.PutCDR(t.Context(), CDR{CallID: "full", AgentID: "one more"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("cdr %d: %v", maxCDRs+1, err)
	}
	if _, err := a.PutCDR(t.Context(), CDR{CallID: "full", AgentID: "0"}); err != nil {
		t.Fatalf("a repeat of a stored CDR: %v", err)
	}
}

// TestCDRDeletedWithLastRecording: a call's CDRs stay while one of its
// recordings does, and go with the last.
func TestCDRDeletedWithLastRecording(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	const guid = "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0"
	if _, err := a.PutCDR(ctx, CDR{CallID: guid, CallerName: "Erwin Vergessen"}); err != nil {
		t.Fatal(err)
	}
	r1 := finishRec(t, a, NewRecording{User: "alice", CallGUID: guid, Received: time.Unix(1e9, 0)}, Final{State: StateComplete})
	r2 := finishRec(t, a, NewRecording{User: "alice", CallGUID: guid, Received: time.Unix(1e9+60, 0)}, Final{State: StateComplete})
	if err := a.Delete(ctx, r1.ID, "admin", "test"); err != nil {
		t.Fatal(err)
	}
	if c, err := a.CDRs(ctx, guid); err != nil || len(c) != 1 {
		t.Fatalf("after the first: %v %v", c, err)
	}
	checkChain(t, a)
	if err := a.Delete(ctx, r2.ID, "admin", "test"); err != nil {
		t.Fatal(err)
	}
	if c, err := a.CDRs(ctx, guid); err != nil || len(c) != 0 {
		t.Fatalf("after the last: %v %v", c, err)
	}
	checkChain(t, a)
}
