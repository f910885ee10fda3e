package webdav

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
)

// fill stores n small recordings for users u0..u9 with start times from
// times(i), each with a 2 KiB ingest result like real ones, 32 at a time so
// the archive group-commits them.
func fill(tb testing.TB, arc *archive.Archive, n int, times func(i int) time.Time) {
	tb.Helper()
	ctx := context.Background()
	info := bytes.Repeat([]byte(`{"k":"v"},`), 200)
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	sem := make(chan struct{}, 32)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			start := times(i)
			w, err := arc.Create(ctx, archive.NewRecording{
				FileName: fmt.Sprintf("%032x-009033302ab1-1--u%d.pcap", i, i%10), User: fmt.Sprintf("u%d", i%10), Received: start,
			})
			if err == nil {
				_, err = w.WriteOriginal(make([]byte, 100))
			}
			if err == nil {
				_, err = w.Finish(ctx, archive.Final{State: archive.StateComplete, StartTime: start, Info: info})
			}
			if err != nil {
				select {
				case errc <- err:
				default:
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		tb.Fatal(err)
	default:
	}
}

func benchPropfind(b *testing.B, f *fixture, login, path string, want int) {
	b.Helper()
	for b.Loop() {
		req, _ := http.NewRequest("PROPFIND", f.srv.URL+path, strings.NewReader(allprop))
		req.SetBasicAuth(login, testPassword)
		req.Header.Set("Depth", "1")
		req.Header.Set("Content-Type", "application/xml")
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if n := bytes.Count(body, []byte("<response")); resp.StatusCode != 207 || (want >= 0 && n != want) {
			b.Fatalf("%s: %d responses, want %d", resp.Status, n, want)
		}
	}
}

// BenchmarkPropfindDay lists a day of 1000 recordings (no cache): the cost
// is decrypting that day's metadata.
func BenchmarkPropfindDay(b *testing.B) {
	f := newFixture(b, Options{CacheTTL: -1})
	fill(b, f.arc, 1000, func(i int) time.Time { return day.Add(time.Duration(i) * time.Second) })
	fill(b, f.arc, 1000, func(i int) time.Time { return day.AddDate(0, 0, -1).Add(time.Duration(i) * time.Second) })
	b.Run("admin", func(b *testing.B) { benchPropfind(b, f, "boss", "/webdav/2026/11/21/", 1001) })
}

// BenchmarkPropfindRoot lists the years of 3000 recordings over three
// years (no cache), as an admin and as a user who can read none of them.
func BenchmarkPropfindRoot(b *testing.B) {
	f := newFixture(b, Options{CacheTTL: -1})
	fill(b, f.arc, 3000, func(i int) time.Time { return day.AddDate(-(i % 3), -(i % 11), -(i % 27)) })
	b.Run("admin", func(b *testing.B) { benchPropfind(b, f, "boss", "/webdav/", -1) })
	b.Run("no-rights", func(b *testing.B) { benchPropfind(b, f, "dave", "/webdav/", 2) }) // self, users/
	b.Run("admin-month", func(b *testing.B) { benchPropfind(b, f, "boss", "/webdav/2026/11/", -1) })
}

// BenchmarkGetOriginal fetches a 16 MiB original (decrypting every chunk).
func BenchmarkGetOriginal(b *testing.B) {
	f := newFixture(b, Options{})
	rec := f.add(b, "big.pcap", "alice", day, 16<<20)
	p := f.srv.URL + "/webdav/2026/11/21/" + fileName(rec, false)
	b.SetBytes(rec.OrigSize)
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodGet, p, nil)
		req.SetBasicAuth("alice", testPassword)
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if n != rec.OrigSize {
			b.Fatalf("%d bytes", n)
		}
	}
}
