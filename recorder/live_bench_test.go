package recorder

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
)

// BenchmarkLiveMemory measures the memory an open live upload holds in
// the recorder and the archive: n uploads of a 40-second two-way call,
// started one after the other over 40 seconds of call time, each fed
// 200 ms of its capture in turn (as the daemon's reads deliver a paced
// upload); when all n are open, the Go heap and goroutine stacks in use
// (after two collections, so idle pooled buffers are gone) are divided by
// n ("heap-KiB/call"). The HTTP server's per-connection buffers are not
// included. No time is measured: the calls are fed as fast as they read.
// "streamed" uploads are the daemon's PUTs without a length (which a
// secure pause may pause), the others uploads of a whole file.
//
//	go test -run '^$' -bench LiveMemory -benchtime 1x ./recorder/
func BenchmarkLiveMemory(b *testing.B) {
	for _, n := range []int{1000} {
		b.Run(fmt.Sprintf("calls=%d", n), func(b *testing.B) {
			for b.Loop() {
				liveMemoryRun(b, n, false)
			}
		})
		b.Run(fmt.Sprintf("streamed/calls=%d", n), func(b *testing.B) {
			for b.Loop() {
				liveMemoryRun(b, n, true)
			}
		})
	}
}

func liveMemoryRun(b *testing.B, n int, live bool) {
	arc := archivetest.OpenTestOptions(b, archive.Options{InitialMmapSize: 1 << 30, CommitInterval: 100 * time.Millisecond})
	r, err := New(arc, Config{Prefix: "/recordings/Files/"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	const seconds, tick = 40, 200 * time.Millisecond
	capture := makeCallPcap(testCall{seconds: seconds, pt: 0})
	per := len(capture) * int(tick) / int(seconds*time.Second)
	pipes := make([]*io.PipeWriter, n)
	var wg sync.WaitGroup
	for i := range n {
		pr, pw := io.Pipe()
		pipes[i] = pw
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.ingest(context.Background(), fmt.Sprintf("live-%d.pcap", i), pr, uploadKind{live: live}); err != nil {
				b.Error(err)
			}
			io.Copy(io.Discard, pr)
		}()
	}
	// Call i starts at tick i*T/n (T = ticks per call), so the calls
	// are spread over every phase of their chunks; at tick T-1 all are
	// open and the first is at its end.
	T := seconds * int(time.Second/tick)
	var perCall float64
	for t := 0; t < 2*T; t++ {
		for i, pw := range pipes {
			k := t - i*T/n
			if k < 0 || k > T {
				continue
			}
			if off := k * per; k < T && off < len(capture) {
				if _, err := pw.Write(capture[off:min(off+per, len(capture))]); err != nil {
					b.Fatal(err)
				}
				continue
			}
			if k == T {
				if off := T * per; off < len(capture) {
					if _, err := pw.Write(capture[off:]); err != nil {
						b.Fatal(err)
					}
				}
				pw.Close()
			}
		}
		if t == T-1 {
			runtime.GC() // twice: idle pooled buffers go at the second
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			perCall = float64(ms.HeapInuse+ms.StackInuse) / float64(n) / 1024
		}
	}
	wg.Wait()
	b.ReportMetric(perCall, "heap-KiB/call")
}
