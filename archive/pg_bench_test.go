package archive

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive/kv"
	"github.com/callvault/callvault/archive/kv/pgkv"
	"github.com/callvault/callvault/internal/servertest"
)

// BenchmarkIngestBackends is BenchmarkIngest's archive-level ingest (32
// MiB per operation through Create, WriteOriginal and Finish, committed)
// on bbolt and on PostgreSQL + S3, side by side in one run. The
// PostgreSQL + S3 cases skip, loudly, without the servers
// (internal/servertest).
func BenchmarkIngestBackends(b *testing.B) {
	payload := data(ingestBytes, 1)
	for _, n := range []int{1, 16} {
		for _, store := range []string{"bbolt", "postgres"} {
			b.Run(fmt.Sprintf("%s/writers=%d", store, n), func(b *testing.B) {
				b.Setenv(testStoreEnv, store)
				benchIngestArchive(b, n, payload)
			})
		}
	}
}

// benchPGDirEnv names a directory that keeps BenchmarkPostgres1M's
// PostgreSQL cluster, S3 objects and archive files between runs, so that
// its recordings are stored once; without it they are stored in a
// temporary directory on every run.
const benchPGDirEnv = "CALLVAULT_BENCH_PG_DIR"

// BenchmarkPostgres1M lists and searches 1,000,000 recordings
// (CALLVAULT_BENCH_CALLS overrides the count) in an archive on
// PostgreSQL + S3. The recordings are stored by the fixture of
// BenchmarkList (metadata, data key, time and retention index) plus their
// who and search index entries, 5,000 to a transaction; the time that
// took is reported as build-s (kept with the data for later runs). Each
// run then opens the archive afresh and reports open-s, the time Open
// took; the listing and count cases also report index-s, Open plus the
// first build of the in-memory list index (every recording read and
// decrypted), and index-MB, the heap kept after it.
func BenchmarkPostgres1M(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("CALLVAULT_BENCH_CALLS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	dir := os.Getenv(benchPGDirEnv)
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "bench-pg-"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		if err := os.Chmod(dir, 0o755); err != nil { // for the postgres user
			b.Fatal(err)
		}
		b.Logf("%s is not set: storing %d recordings in a temporary directory", benchPGDirEnv, n)
	}
	pg := servertest.StartPostgresIn(b, filepath.Join(dir, "pg"))
	gw := servertest.StartS3In(b, filepath.Join(dir, "s3"))
	name := fmt.Sprintf("bench%d", n)
	if err := os.MkdirAll(filepath.Join(gw.Dir, name), 0o700); err != nil { // a bucket
		b.Fatal(err)
	}
	target := pgTarget{url: pg.Database(b, name), s3: pgkv.S3Options{Endpoint: gw.Endpoint, Bucket: name, AccessKey: gw.AccessKey, SecretKey: gw.SecretKey}}
	local := filepath.Join(dir, name)
	if err := os.MkdirAll(local, 0o700); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(local, "archive.db")
	opt := Options{KeyFile: filepath.Join(local, "archive.key"), KDF: FastKDF()}

	progress := filepath.Join(local, "built") // "recordings seconds"
	done, took := 0, 0.0
	if v, err := os.ReadFile(progress); err == nil {
		fmt.Sscan(string(v), &done, &took)
	}
	if done < n {
		a, err := target.openArchive(b, path, opt)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		keys := putSyntheticIndexed(b, a, done, n, meta1M, func(d int) {
			s := fmt.Sprint(d, took+time.Since(start).Seconds())
			if err := os.WriteFile(progress, []byte(s), 0o600); err != nil {
				b.Fatal(err)
			}
		})
		took += time.Since(start).Seconds()
		b.Logf("stored %d recordings (%d to %d) in %.0f s, %.1f who and search keys per recording", n-done, done, n, time.Since(start).Seconds(), float64(keys)/float64(n-done))
		if err := a.Close(); err != nil {
			b.Fatal(err)
		}
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	a, err := target.openArchive(b, path, opt)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	opened := time.Since(t0)
	b.Logf("%d recordings: opened in %v; stored in %.0f s", n, opened.Round(time.Millisecond), took)
	ctx := b.Context()
	var open time.Duration
	var indexMB float64
	// waitIndex waits for the list index that Open began to build.
	waitIndex := func() {
		if open != 0 {
			return
		}
		if _, _, err := a.listSnapshot(ctx); err != nil {
			b.Fatal(err)
		}
		open = time.Since(t0)
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&after)
		indexMB = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / (1 << 20)
		b.Logf("%d recordings: open and list index %v, %.0f MB of heap kept", n, open.Round(time.Millisecond), indexMB)
	}
	report := func(b *testing.B) {
		b.ReportMetric(opened.Seconds(), "open-s")
		if open != 0 {
			b.ReportMetric(open.Seconds(), "index-s")
			b.ReportMetric(indexMB, "index-MB")
		}
		b.ReportMetric(took, "build-s")
	}

	admin := &User{Login: "root", Role: RoleAdmin}
	user := &User{Login: "user7", Role: RoleUser, Extensions: []string{"207"}} // owns 1 %
	tag := fmt.Sprintf("%dk/", n/1000)
	// with counts the recordings i < n with i%50000 == k: those with
	// the number +49 89 00k.
	with := func(k int) int { return max(0, (n-k+49999)/50000) }
	// The list and search cases do not use the list index: they run
	// first, while Open's background build of the index reads every
	// recording; the listing and count cases wait for it.
	cases := []struct {
		name string
		run  func() (int, error)
		want int
	}{
		{"list/admin/page50", func() (int, error) { r, _, err := a.List(ctx, Query{Limit: 50}); return len(r), err }, 50},
		{"list/admin/page50-deep", func() (int, error) {
			r, _, err := a.List(ctx, Query{Limit: 50, To: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n/2) * time.Minute)})
			return len(r), err
		}, 50},
		{"list/user1pct/page50", func() (int, error) { r, _, err := a.ListFor(ctx, user, Query{Limit: 50}); return len(r), err }, min(50, n/100)},
		{"list/admin/match-1in100", func() (int, error) {
			r, _, err := a.List(ctx, Query{Limit: 50, Match: func(r *Recording) bool { return r.User == "user7" }})
			return len(r), err
		}, min(50, n/100)},
		{"search/admin/rare", func() (int, error) {
			r, _, err := a.List(ctx, Query{Limit: 50, Text: "89 0012345"})
			return len(r), err
		}, min(50, with(12345))},
		{"search/admin/absent", func() (int, error) {
			r, _, err := a.List(ctx, Query{Limit: 50, Text: "no such name"})
			return len(r), err
		}, 0},
		{"search/user1pct/rare", func() (int, error) {
			r, _, err := a.ListFor(ctx, user, Query{Limit: 50, Text: "89 0012307"})
			return len(r), err
		}, min(50, with(12307))},
		{"search/admin/common", func() (int, error) { r, _, err := a.List(ctx, Query{Limit: 50, Text: "+49 89 00"}); return len(r), err }, 50},
		{"listing/admin/all", func() (int, error) { es, err := a.Listing(ctx, admin, nil); return len(es), err }, n},
		{"count/admin", func() (int, error) { return a.CountListed(ctx, admin) }, n},
		{"count/user1pct", func() (int, error) { return a.CountListed(ctx, user) }, n / 100},
	}
	for _, c := range cases {
		b.Run(tag+c.name, func(b *testing.B) {
			if strings.HasPrefix(c.name, "listing/") || strings.HasPrefix(c.name, "count/") {
				waitIndex()
			}
			for b.Loop() {
				if got, err := c.run(); err != nil || got != c.want {
					b.Fatalf("%d, want %d: %v", got, c.want, err)
				}
			}
			report(b)
		})
	}
}

// meta1M is the i-th recording of BenchmarkPostgres1M: owned by one of
// 100 users, with one party, a phone number shared by every 50,000th
// recording. It has no file name, so that it has few search entries (17
// keys per recording in the who index, against about 90 with the file
// names, party names and Call-IDs of BenchmarkListText's recordings).
func meta1M(i int) *metaRecord {
	m := syntheticMeta(i, i%100)
	m.FileName = ""
	m.Parties = []string{fmt.Sprintf("+49 89 %07d", i%50000)}
	return m
}

// putSyntheticIndexed stores recordings from to n-1 as putSynthetic
// does, with their who and search index entries, 5,000 to a
// transaction; committed is told the count after each commit. It
// returns the number of index keys written.
func putSyntheticIndexed(tb testing.TB, a *Archive, from, n int, meta func(i int) *metaRecord, committed func(done int)) int {
	keys := 0
	for done := from; done < n; {
		var batch [][]byte
		end := min(done+5000, n)
		err := a.store.Update(func(tx kv.Tx) error {
			batch = batch[:0]
			for i := done; i < end; i++ {
				id, m := NewID(), meta(i)
				putSyntheticTx(tb, a, tx, id, randomKey(), m)
				batch = append(batch, a.whoKeys(m, id, nil)...)
			}
			return putWho(tx, batch)
		})
		if err != nil {
			tb.Fatal(err)
		}
		keys += len(batch)
		done = end
		committed(done)
	}
	return keys
}

// TestPutSyntheticIndexed: the recordings BenchmarkPostgres1M stores are
// found by ListFor and by a text search, the index complete as Open
// builds it.
func TestPutSyntheticIndexed(t *testing.T) {
	a := OpenTest(t)
	putSyntheticIndexed(t, a, 0, 300, meta1M, func(int) {})
	user := &User{Login: "user7", Role: RoleUser, Extensions: []string{"207"}}
	if r, _, err := a.ListFor(t.Context(), user, Query{}); err != nil || len(r) != 3 {
		t.Fatalf("ListFor: %d, %v", len(r), err)
	}
	if r, _, err := a.List(t.Context(), Query{Text: "89 0000123"}); err != nil || len(r) != 1 || !strings.Contains(strings.Join(r[0].Parties, ","), "0000123") {
		t.Fatalf("search: %d, %v", len(r), err)
	}
	checkWhoIndex(t, a)
}
