package ui

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// BenchmarkListViews renders list pages over 100,000 one-segment calls
// (CALLVAULT_BENCH_CALLS overrides the count), stored through the archive
// (encrypted metadata, search and who indexes): the default view (the
// first page by date), the first and the 1000th page sorted by length,
// and the 1000th page by date, as an admin (every call) and as a user who
// sees 1 in 100. One page is requested before timing, so the archive's
// list index is built (once per open) outside the loop.
func BenchmarkListViews(b *testing.B) {
	n := 100_000
	if s := os.Getenv("CALLVAULT_BENCH_CALLS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	tu := newTestUI(b)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			owner := "bob"
			if i%100 == 0 {
				owner = "alice"
			}
			at := start.Add(time.Duration(i) * time.Minute)
			dur := int64((i*7919)%3600+1) * 1000
			from, to := party{Number: "301"}, party{Number: fmt.Sprint(i)}
			tu.storeRecording(owner, fmt.Sprintf("g%06d", i), at, dur, map[string]any{
				"calls": []map[string]any{{"index": 0, "callId": fmt.Sprint("sip-", i), "from": from, "to": to, "start": at, "durationMs": dur}},
			}, "", from.Number, "", to.Number)
		}()
	}
	wg.Wait()
	for _, who := range []string{"admin", "alice"} {
		c := tu.login(who)
		last := min(1000, n/50)
		if who == "alice" {
			last = 2
		}
		want := 50
		if who == "alice" && n < 10_000 {
			want = -1 // fewer than two pages
		}
		c.get("/?sort=length") // builds the list index
		for _, v := range []struct{ name, url string }{
			{"default", "/"},
			{"length/page1", "/?sort=length"},
			{fmt.Sprintf("length/page%d", last), fmt.Sprintf("/?sort=length&page=%d", last)},
			{fmt.Sprintf("date/page%d", last), fmt.Sprintf("/?page=%d", last)},
		} {
			b.Run(who+"/"+v.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if resp, body := c.get(v.url); resp.StatusCode != 200 || want > 0 && len(recordingIDs(body)) != want {
						b.Fatalf("%s: %d rows", resp.Status, len(recordingIDs(body)))
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/page")
			})
		}
	}
}
