package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
)

// TestBrowserListSortPageBulk: in Chromium, the list sorts by length
// from its header, pages with the sort kept in the URL, narrows as one
// types (without a page load), and protects three selected calls with a
// case number at once.
func TestBrowserListSortPageBulk(t *testing.T) {
	ctx := newBrowser(t)
	d := startDaemon(t, "")
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	const n = 27
	for i := range n {
		d.ingestSynth(t, fmt.Sprintf("c0ffee%026d", i), "admin", synthCall{seconds: 1 + (i*7)%9, start: start.Add(time.Duration(i) * time.Minute),
			callID: fmt.Sprintf("l%d@pbx", i), from: synthParty{"Admin", "100"}, to: synthParty{fmt.Sprintf("Party %02d", i), fmt.Sprint(5550100 + i)}})
	}
	login(t, ctx, d.url, "admin", testAdminPassword)
	step(t, ctx, "25 per page", chromedp.Navigate(d.url+"/?size=25"), chromedp.WaitVisible(`#sort-length`))
	if got := eval[string](t, ctx, `document.getElementById("list-count").textContent`); !strings.Contains(got, "27 calls") {
		t.Fatalf("count: %q", got)
	}
	step(t, ctx, "sort by length", chromedp.Click(`#sort-length`))
	poll(t, ctx, "sorted page", `location.search.includes("sort=length") && document.readyState === "complete" && !!document.querySelector("table.list")`)
	lengths := func() []string {
		return strings.Fields(eval[string](t, ctx, `Array.from(document.querySelectorAll("table.list tbody td.num")).map(c => c.textContent.trim()).join(" ")`))
	}
	page1 := lengths()
	if len(page1) != 25 || page1[0] != "0:01" || page1[24] > "0:09" {
		t.Fatalf("page 1 by length: %v", page1)
	}
	for i := 1; i < len(page1); i++ {
		if page1[i] < page1[i-1] {
			t.Fatalf("page 1 not ascending: %v", page1)
		}
	}
	step(t, ctx, "page 2", chromedp.Click(`nav.pager a.page`))
	poll(t, ctx, "page 2", `location.search.includes("page=2") && document.readyState === "complete" && !!document.querySelector("table.list")`)
	if s := eval[string](t, ctx, `location.search`); !strings.Contains(s, "sort=length") || !strings.Contains(s, "size=25") {
		t.Fatalf("page 2 lost the sort or size: %s", s)
	}
	if page2 := lengths(); len(page2) != 2 || page2[0] < page1[24] || page2[1] != "0:09" {
		t.Fatalf("page 2 by length: %v after %v", page2, page1)
	}

	// Search as you type: the results narrow without a page load.
	step(t, ctx, "type a search", chromedp.Navigate(d.url+"/"), chromedp.WaitVisible(`input[name="q"]`),
		chromedp.Evaluate[chromedp.Void](`window.samePage = true`),
		chromedp.SendKeys(`input[name="q"]`, "Party 07"))
	poll(t, ctx, "narrowed in place", `window.samePage === true && document.getElementById("list-count").textContent.includes("1 call") && location.search.includes("q=Party")`)

	// Bulk protect of three rows with a case number.
	step(t, ctx, "select three", chromedp.Navigate(d.url+"/"), chromedp.WaitVisible(`#sel-all`),
		chromedp.Evaluate[chromedp.Void](`Array.from(document.querySelectorAll('input[name="r"]')).slice(0, 3).forEach(b => b.click())`))
	if got := eval[string](t, ctx, `document.getElementById("sel-count").textContent`); got != "3 selected" {
		t.Fatalf("selection count %q", got)
	}
	step(t, ctx, "protect", setField(`input[name="reason"]`, "case 2026-17"), chromedp.Click(`#bulk-protect`))
	poll(t, ctx, "result page", `!!document.getElementById("bulk-summary")`)
	if got := eval[string](t, ctx, `document.getElementById("bulk-summary").textContent`); !strings.Contains(got, "3 done.") || !strings.Contains(got, "case 2026-17") {
		t.Fatalf("bulk result: %q", got)
	}
	step(t, ctx, "back to the list", chromedp.Navigate(d.url+"/"), chromedp.WaitVisible(`table.list`))
	if got := eval[int](t, ctx, `document.querySelectorAll('table.list span.tag[title="legal hold"]').length`); got != 3 {
		t.Fatalf("%d rows protected, want 3", got)
	}
}

// TestBrowserListCSVExport: in Chromium, an admin filters the list, sorts
// it by length and clicks "Export as CSV": the downloaded file holds the
// filtered calls in the list's order, a party name that starts like a
// formula is escaped, and the export is in the audit log.
func TestBrowserListCSVExport(t *testing.T) {
	ctx := newBrowser(t)
	d := startDaemon(t, "")
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	secs := []int{5, 2, 7, 3}
	ids := map[string]int{}
	for i, s := range secs {
		from, to := synthParty{"Admin", "100"}, synthParty{fmt.Sprintf("Party %02d", i), fmt.Sprint(5550200 + i)}
		if i == 2 { // a caller whose name starts like a formula
			from, to = synthParty{"=HYPERLINK(1) Party", "5550202"}, synthParty{"Admin", "100"}
		}
		id := d.ingestSynth(t, fmt.Sprintf("c0ffee%026d", 100+i), "admin", synthCall{seconds: s, start: start.Add(time.Duration(i) * time.Minute),
			callID: fmt.Sprintf("x%d@pbx", i), from: from, to: to})
		ids[id] = s
	}
	// One call the filter leaves out.
	d.ingestSynth(t, fmt.Sprintf("c0ffee%026d", 199), "admin", synthCall{seconds: 4, start: start.Add(time.Hour),
		callID: "x9@pbx", from: synthParty{"Admin", "100"}, to: synthParty{"Someone Else", "5550299"}})
	login(t, ctx, d.url, "admin", testAdminPassword)
	step(t, ctx, "filtered, by length", chromedp.Navigate(d.url+"/?q=Party&sort=length"), chromedp.WaitVisible(`#export-csv`))
	if got := eval[string](t, ctx, `document.getElementById("list-count").textContent`); !strings.Contains(got, "4 calls") {
		t.Fatalf("count: %q", got)
	}
	f, err := os.Open(clickDownload(t, ctx, "export", `#export-csv`))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 5 || rows[0][0] != "id" || rows[0][3] != "length_s" {
		t.Fatalf("CSV: %q", rows)
	}
	var got []int
	formula := false
	for _, r := range rows[1:] {
		s, ok := ids[r[0]]
		if !ok {
			t.Fatalf("row of a call the filter leaves out: %q", r)
		}
		got = append(got, s)
		if strings.Contains(r[5], "HYPERLINK") {
			formula = true
			if !strings.HasPrefix(r[5], "'=") {
				t.Fatalf("formula not escaped: %q", r[5])
			}
		}
	}
	if !slices.IsSorted(got) || !formula {
		t.Fatalf("lengths %v (want ascending), formula row seen: %v", got, formula)
	}
	if ev := d.auditEntries(t, "recordings.export"); len(ev) != 1 || !strings.Contains(fmt.Sprint(ev[0]), "4 calls") {
		t.Fatalf("audit: %v", ev)
	}
}

// clickDownload clicks sel and returns the path of the file the browser
// downloads (within 30 s).
func clickDownload(t *testing.T, ctx context.Context, what, sel string) string {
	t.Helper()
	dir := t.TempDir()
	b := chromedp.FromContext(ctx).Browser
	if _, err := cdp.Call(ctx, b, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: new(true),
	}); err != nil {
		t.Fatalf("download behaviour: %v", err)
	}
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	step(t, ctx, what, chromedp.Click(sel))
	deadline := time.AfterFunc(30*time.Second, func() { t.Error("download did not complete in 30 s") })
	defer deadline.Stop()
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("download: %v", err)
		}
		switch ev.State {
		case browser.DownloadProgressStateCompleted:
			return filepath.Join(dir, ev.GUID)
		case browser.DownloadProgressStateCanceled:
			t.Fatal("download cancelled")
		}
	}
	t.Fatal("no download")
	return ""
}
