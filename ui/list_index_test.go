package ui

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
)

// TestListIndexMatchesScan: the views read from the archive's list index
// (the first page in date order from the time index, every other page
// and order from the list index) show the same calls on the same pages,
// with the same total, as the scan that decrypts every call (forced here
// by a from-date that filters nothing), for an admin, for users who see
// part of the calls by owner or by party, and for calls recorded in
// several segments some of which a user may not read.
func TestListIndexMatchesScan(t *testing.T) {
	tu := newTestUI(t)
	start := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	for i := range 60 {
		owner := []string{"alice", "bob", "admin", ""}[i%4]
		guid := fmt.Sprintf("call%02d", i)
		if i%5 == 0 && i > 0 {
			guid = fmt.Sprintf("call%02d", i-1) // a second segment of the call before
		}
		if i%11 == 0 && i > 0 {
			guid = fmt.Sprintf("call%02d", i-7) // a later segment of an older call
		}
		at := start.Add(time.Duration(i*37%60) * time.Hour)
		if i%9 == 0 {
			at = start.Add(5 * time.Hour) // equal times
		}
		dur := int64((i*13)%20+1) * 1000
		ps := []string{"301", fmt.Sprint(5550000 + i%6)}
		if i%6 == 0 {
			ps = []string{"201", "5559999"} // alice's extension
		}
		tu.storeRecording(owner, guid, at, dur, map[string]any{
			"calls": []map[string]any{{"index": 0, "callId": fmt.Sprint("sip-", i), "from": party{Number: ps[0]}, "to": party{Number: ps[1]}, "start": at, "durationMs": dur}},
		}, ps...)
	}
	walk := func(c *client, query string) (ids []string, total string) {
		t.Helper()
		for page := 1; page < 20; page++ {
			u := fmt.Sprintf("/?%s&size=25&page=%d", query, page)
			if page == 1 && !strings.Contains(query, "from=") && !strings.Contains(query, "sort=") && !strings.Contains(query, "order=") {
				u = "/?size=25" // the default view (no page number)
			}
			resp, body := c.get(u)
			must(t, resp, body, 200)
			got := recordingIDs(body)
			ids = append(ids, got...)
			if page == 1 {
				m := countRE.FindStringSubmatch(body)
				if m == nil {
					t.Fatalf("%s: no total", u)
				}
				total = m[1]
			}
			if len(got) < 25 {
				return ids, total
			}
		}
		t.Fatalf("%s: more than 20 pages", query)
		return nil, ""
	}
	for _, who := range []string{"admin", "alice", "bob"} {
		c := tu.login(who)
		for _, view := range []string{"", "sort=length", "sort=length&order=desc", "sort=user", "sort=user&order=desc", "order=asc", "sort=party", "sort=party&order=desc"} {
			got, gotTotal := walk(c, view)
			want, wantTotal := walk(c, view+"&from=2000-01-01")
			if len(want) == 0 || !slices.Equal(got, want) || gotTotal != wantTotal {
				t.Fatalf("%s, %q: list index gives %d calls (total %q)\n%v\nthe scan %d (total %q)\n%v", who, view, len(got), gotTotal, got, len(want), wantTotal, want)
			}
		}
	}
}

var countRE = regexp.MustCompile(`id="list-count" role="status">(\d+) call`)

// TestListPartySortFollowsCDRs: sorting by party remembers what each
// recording shows in the party column, and a CDR that arrives later (a
// new callee for one call) moves that call on the next sort, as the scan
// of every call would.
func TestListPartySortFollowsCDRs(t *testing.T) {
	tu := newTestUI(t)
	at := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 3 {
		rec := tu.addRecording("alice", fmt.Sprintf("pty%d", i), party{Number: "201"}, party{Number: fmt.Sprint(5550001 + i)}, at.Add(time.Duration(i)*time.Minute))
		ids = append(ids, rec.ID.String())
	}
	c := tu.login("alice")
	order := func(query string) []string {
		t.Helper()
		resp, body := c.get(query)
		must(t, resp, body, 200)
		return recordingIDs(body)
	}
	if got := order("/?sort=party"); !slices.Equal(got, ids) {
		t.Fatalf("by party: %v, want %v", got, ids)
	}
	if _, err := tu.arc.PutCDR(t.Context(), archive.CDR{CallID: "sip-pty2", Direction: archive.CDROutbound,
		CallerNumber: "201", CalleeNumber: "1110003"}); err != nil {
		t.Fatal(err)
	}
	want := []string{ids[2], ids[0], ids[1]}
	if got := order("/?sort=party"); !slices.Equal(got, want) {
		t.Fatalf("by party after the CDR: %v, want %v", got, want)
	}
	if got := order("/?sort=party&from=2000-01-01"); !slices.Equal(got, want) {
		t.Fatalf("the scan by party after the CDR: %v, want %v", got, want)
	}
}
