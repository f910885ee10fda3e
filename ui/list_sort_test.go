package ui

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestListSortPageCount: sorting by length, user and party orders every
// matching call across pages; the total and page numbers show; the page
// size and the filters stay in the links.
func TestListSortPageCount(t *testing.T) {
	tu := newTestUI(t)
	start := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	byID := map[string]int64{}
	for i := range 30 {
		// Lengths not in time order: 7 is coprime with 30.
		dur := int64((i*7)%30+1) * 1000
		owner := "alice"
		at := start.Add(time.Duration(i) * time.Hour)
		from, to := party{Number: "201"}, party{Number: fmt.Sprint(5550000 + i)}
		rec := tu.storeRecording(owner, fmt.Sprintf("len%02d", i), at, dur, map[string]any{
			"calls": []map[string]any{{"index": 0, "callId": fmt.Sprint("sip-", i), "from": from, "to": to, "start": at, "durationMs": dur}},
		}, "", "201", "", to.Number)
		byID[rec.ID.String()] = dur
	}
	c := tu.login("admin")
	var lens []int64
	for page := 1; page <= 2; page++ {
		resp, body := c.get(fmt.Sprintf("/?sort=length&size=25&page=%d", page))
		must(t, resp, body, 200)
		if !strings.Contains(body, "30 calls, page "+fmt.Sprint(page)) {
			t.Fatalf("page %d: no total of 30 calls and page number", page)
		}
		for _, id := range recordingIDs(body) {
			lens = append(lens, byID[id])
		}
		if page == 1 && !strings.Contains(body, `href="/?page=2&amp;size=25&amp;sort=length" class="page"`) {
			t.Fatalf("page 1 has no link to page 2 keeping sort and size")
		}
	}
	if len(lens) != 30 || !slices.IsSorted(lens) {
		t.Fatalf("lengths over two pages of 25: %v", lens)
	}
	// Descending, filters kept in the header links.
	resp, body := c.get("/?sort=length&order=desc&q=555")
	must(t, resp, body, 200)
	ids := recordingIDs(body)
	if len(ids) != 30 || byID[ids[0]] != 30000 || byID[ids[29]] != 1000 {
		t.Fatalf("descending by length: %d rows, first %d", len(ids), byID[ids[0]])
	}
	if !strings.Contains(body, `aria-sort="descending"><a href="/?q=555&amp;sort=length" class="sort" id="sort-length">`) {
		t.Fatal("the length header does not flip to ascending and keep the filter")
	}
	// Party: the other number ascends with the time here.
	resp, body = c.get("/?sort=party&size=100")
	must(t, resp, body, 200)
	ids = recordingIDs(body)
	if len(ids) != 30 {
		t.Fatalf("by party, size=100: %d rows", len(ids))
	}
	first := body[strings.Index(body, ids[0]):]
	first = first[:strings.Index(first, "</tr>")]
	if !strings.Contains(first, "5550000") {
		t.Fatalf("by party, first row: %s", first)
	}
	if resp, _ := c.get("/?page=0"); resp.StatusCode != 400 {
		t.Fatalf("page 0: %d", resp.StatusCode)
	}
	// A page past the end shows the last one.
	resp, body = c.get("/?size=25&page=9")
	must(t, resp, body, 200)
	if n := len(recordingIDs(body)); n != 5 {
		t.Fatalf("page past the end: %d rows, want the last 5", n)
	}
}

func TestSortRowsTies(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := []listRow{
		{Select: "b", sortKey: sortKey{userKey: "x", at: at}},
		{Select: "a", sortKey: sortKey{userKey: "x", at: at}},
		{Select: "c", sortKey: sortKey{userKey: "w", at: at.Add(time.Hour)}},
		{Select: "d", sortKey: sortKey{userKey: "x", at: at.Add(time.Hour)}},
	}
	sortRows(rows, listView{Sort: sortUser})
	var got []string
	for _, r := range rows {
		got = append(got, r.Select)
	}
	if strings.Join(got, "") != "cdab" {
		t.Fatalf("by user, ties newest first then by id: %v", got)
	}
	v, ok := parseListView(url.Values{"sort": {"user"}, "order": {"desc"}, "size": {"7"}, "page": {"3"}})
	if !ok || v.Sort != sortUser || !v.Desc || v.Size != listPageSize || v.Page != 3 {
		t.Fatalf("parse: %+v %v", v, ok)
	}
}

// TestListDirectionWords: direction shows as an arrow and a word, the
// other party with its role (from the caller, to the callee); a call
// whose capture names no party falls back to the parties the file name
// gives, and "unknown" is left for when nothing is known.
func TestListDirectionWords(t *testing.T) {
	tu := newTestUI(t)
	at := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	// alice's extension is 201 (newTestUI): 201 calling out.
	tu.addRecording("alice", "out1", party{Number: "201"}, party{Name: "Callee Corp", Number: "5551234"}, at)
	tu.storeRecording("alice", "bare1", at.Add(time.Minute), 1000, nil, "", "", "", "7778888")
	tu.storeRecording("alice", "none1", at.Add(2*time.Minute), 1000, nil)
	c := tu.login("alice")
	resp, body := c.get("/")
	must(t, resp, body, 200)
	rows := strings.Split(body, "<tr>")[2:] // after the header row
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	// Newest first: none1, bare1, out1.
	if !strings.Contains(rows[2], `title="the callee">to</span>`) || !strings.Contains(rows[2], "Callee Corp") ||
		!strings.Contains(rows[2], `aria-hidden="true">↗</span> Outgoing`) {
		t.Fatalf("outgoing row:\n%s", rows[2])
	}
	if !strings.Contains(rows[1], "7778888") || strings.Contains(rows[1], ">unknown<") {
		t.Fatalf("the file name's party is known:\n%s", rows[1])
	}
	if !strings.Contains(rows[0], `class="plain">unknown</a>`) {
		t.Fatalf("nothing known:\n%s", rows[0])
	}
}
