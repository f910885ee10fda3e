package ui

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
)

// BenchmarkListPage renders the first recordings page over 10,000 stored
// recordings: for an admin every recording matches; alice owns one in 100,
// so her page scans 5,000 recordings to fill 50 rows; sam owns none, so his
// (empty) page scans all 10,000.
func BenchmarkListPage(b *testing.B) {
	const n = 10000
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
			tu.addRecording(owner, fmt.Sprintf("g%06d", i), party{Number: "201"}, party{Number: fmt.Sprint(i)}, start.Add(time.Duration(i)*time.Minute))
		}()
	}
	wg.Wait()
	if err := tu.arc.PutUser(context.Background(), archive.User{Login: "sam", Role: archive.RoleSupervisor}, testPassword); err != nil {
		b.Fatal(err)
	}
	for _, who := range []string{"admin", "alice", "sam"} {
		c := tu.login(who)
		want := 50
		if who == "sam" {
			want = 0
		}
		b.Run(who, func(b *testing.B) {
			for b.Loop() {
				if resp, body := c.get("/"); resp.StatusCode != 200 || len(recordingIDs(body)) != want {
					b.Fatalf("%s: %d rows", resp.Status, len(recordingIDs(body)))
				}
			}
		})
	}
}
