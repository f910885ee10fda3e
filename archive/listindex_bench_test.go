package archive

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// BenchmarkListIndex builds the list index over 100,000 recordings
// (CALLVAULT_BENCH_CALLS overrides the count) and reports the heap it
// keeps (index-MB) and its build time (build-ms); each op is then one
// Listing of every recording for an admin.
func BenchmarkListIndex(b *testing.B) {
	n := 100_000
	if s := os.Getenv("CALLVAULT_BENCH_CALLS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	a := OpenTest(b)
	ctx := b.Context()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			at := start.Add(time.Duration(i) * time.Minute)
			w, err := a.Create(ctx, NewRecording{Received: at, User: fmt.Sprint("user", i%50), CallGUID: fmt.Sprintf("%08x-1c2d-4e5f-8a9b-%012x", i, i)})
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := w.Finish(ctx, Final{State: StateComplete, StartTime: at, DurationMs: int64(i%3600+1) * 1000, Parties: []string{"301", fmt.Sprint("+4989", 1000000+i)}}); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	admin := &User{Login: "root", Role: RoleAdmin}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC() // and the pools
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	if _, _, err := a.listSnapshot(ctx); err != nil {
		b.Fatal(err)
	}
	build := time.Since(t0)
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ResetTimer()
	for b.Loop() {
		if es, err := a.Listing(ctx, admin, nil); err != nil || len(es) != n {
			b.Fatalf("%d, %v", len(es), err)
		}
	}
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "index-MB")
	b.ReportMetric(float64(build.Milliseconds()), "build-ms")
}
