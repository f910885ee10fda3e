package ui

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// BenchmarkListSortedByLength renders the list page sorted by length (the
// first page of 50, and the 1000th) over 100,000 calls
// (CALLVAULT_BENCH_CALLS overrides the count), as an admin (every call)
// and as a user who sees 1 in 100. A sort other than by date reads every
// call the viewer may see on each page view.
func BenchmarkListSortedByLength(b *testing.B) {
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
		last := 1000
		if who == "alice" {
			last = 2
		}
		for _, page := range []int{1, last} {
			b.Run(fmt.Sprintf("%s/page%d", who, page), func(b *testing.B) {
				for b.Loop() {
					if resp, body := c.get(fmt.Sprintf("/?sort=length&page=%d", page)); resp.StatusCode != 200 || len(recordingIDs(body)) != 50 {
						b.Fatalf("%s: %d rows", resp.Status, len(recordingIDs(body)))
					}
				}
			})
		}
	}
}
