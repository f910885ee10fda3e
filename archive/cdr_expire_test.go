package archive

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestExpireOrphanCDRs: the daily run deletes the CDRs of calls that no
// recording answers to once the last of them is older than the seat
// grace by the archive's clock (here 30 days, retention off), more than
// one scan batch of them; CDRs of a listed recording, of one in the
// recycle bin, of a recording found by a SIP Call-ID of its calls, and
// of a call whose last CDR came later stay. Each
// deleting transaction is audited and the chain stays valid.
func TestExpireOrphanCDRs(t *testing.T) {
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	a, clk, rec := lifecycleFixture(t, now)
	ctx := t.Context()
	setLifecycle(t, a, 0, 90)
	if err := a.PutUser(ctx, User{Login: "anna", Role: RoleUser, Seat: true}, ""); err != nil {
		t.Fatal(err)
	}
	put := func(call, name string) {
		t.Helper()
		if _, err := a.PutCDR(ctx, CDR{CallID: call, CallerName: name}); err != nil {
			t.Fatal(err)
		}
	}
	count := func(call string) int {
		t.Helper()
		c, err := a.CDRs(ctx, call)
		if err != nil {
			t.Fatal(err)
		}
		return len(c)
	}

	// More orphans than one read transaction takes (expireScan calls).
	orphans := expireScan*2 + 7
	var wg sync.WaitGroup
	errs := make(chan error, orphans)
	for i := range orphans {
		wg.Go(func() {
			if _, err := a.PutCDR(ctx, CDR{CallID: fmt.Sprintf("orphan-%04d", i), CallerName: "Never Recorded"}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	listed := rec("anna", now.Add(-time.Hour))
	binned := rec("anna", now.Add(-2*time.Hour))
	recs := map[ID]string{}
	for _, id := range []ID{listed, binned} {
		r, err := a.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		recs[id] = r.CallGUID
		put(r.CallGUID, "Recorded Caller")
	}
	if err := a.Bin(ctx, binned, "anna"); err != nil {
		t.Fatal(err)
	}
	const sipID = "a84b4c76e66710@pc33.example.com"
	info := fmt.Appendf(nil, `{"result":{"calls":[{"callId":%q}]}}`, sipID)
	finishRec(t, a, NewRecording{User: "anna", Received: now}, Final{State: StateComplete, StartTime: now, Info: info})
	put(sipID, "By Call-ID")
	put("later", "First Attempt")
	clk.Add(20 * 24 * time.Hour)
	put("later", "Second Attempt")
	put("late-orphan", "Came Later")

	// Day 31: the first orphans are past the 30 days.
	clk.Add(11 * 24 * time.Hour)
	res, err := a.Expire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.CDRs != orphans || res.Removed() != 0 {
		t.Fatalf("first run: %d calls' CDRs and %d recordings deleted, want %d and 0", res.CDRs, res.Removed(), orphans)
	}
	for _, c := range []string{"orphan-0000", fmt.Sprintf("orphan-%04d", orphans-1)} {
		if n := count(c); n != 0 {
			t.Errorf("%s keeps %d CDRs", c, n)
		}
	}
	want := map[string]int{recs[listed]: 1, recs[binned]: 1, sipID: 1, "later": 2, "late-orphan": 1}
	for c, n := range want {
		if got := count(c); got != n {
			t.Errorf("%s: %d CDRs, want %d", c, got, n)
		}
	}
	evs, _, err := a.AuditLog(ctx, AuditQuery{Action: AuditLifecycleCDRs, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	audited := 0
	for _, e := range evs {
		var n int
		if _, err := fmt.Sscanf(e.Detail, "call detail records of %d calls deleted", &n); err != nil || e.Actor != SystemActor ||
			!strings.Contains(e.Detail, "within 30 days") {
			t.Errorf("audit entry %+v", e)
		}
		audited += n
	}
	if audited != orphans {
		t.Errorf("audit entries count %d calls, want %d", audited, orphans)
	}
	if last, ok := a.LastExpire(ctx); !ok || last.CDRs != orphans {
		t.Errorf("last run %+v", last)
	}

	// Day 52: the later ones go too; the binned recording's stay, and
	// are there when it is restored.
	clk.Add(21 * 24 * time.Hour)
	if res, err = a.Expire(ctx); err != nil || res.CDRs != 2 {
		t.Fatalf("second run: %d calls' CDRs deleted (%v), want 2", res.CDRs, err)
	}
	want = map[string]int{recs[listed]: 1, recs[binned]: 1, sipID: 1, "later": 0, "late-orphan": 0}
	for c, n := range want {
		if got := count(c); got != n {
			t.Errorf("%s: %d CDRs, want %d", c, got, n)
		}
	}
	if err := a.Restore(ctx, binned); err != nil {
		t.Fatal(err)
	}
	if r, err := a.Get(ctx, binned); err != nil || len(r.CDRs) != 1 {
		t.Fatalf("restored recording's CDRs: %v %v", r, err)
	}
	checkChain(t, a)
}
