package archive

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/callvault/callvault/archive/kv"
)

func BenchmarkChunkSeal(b *testing.B) {
	c, _ := newChunkCipher(randomKey(), NewID(), BlobOriginal)
	buf := make([]byte, chunkBufCap)
	copy(buf[1:], data(ChunkSize, 1))
	b.SetBytes(ChunkSize)
	b.ReportAllocs()
	var i uint64
	for b.Loop() {
		c.seal(buf, ChunkSize, i, false)
		i++
	}
}

// BenchmarkChunkOpen includes the copy out of the database page that every
// read does.
func BenchmarkChunkOpen(b *testing.B) {
	c, _ := newChunkCipher(randomKey(), NewID(), BlobOriginal)
	buf := make([]byte, chunkBufCap)
	copy(buf[1:], data(ChunkSize, 1))
	stored := append([]byte(nil), c.seal(buf, ChunkSize, 7, false)...)
	work := make([]byte, 0, chunkBufCap)
	b.SetBytes(ChunkSize)
	b.ReportAllocs()
	for b.Loop() {
		work = append(work[:0], stored...)
		if _, err := c.open(work, 7, false); err != nil {
			b.Fatal(err)
		}
	}
}

const (
	ingestBytes = 32 << 20 // per benchmark operation, all writers together
	ingestWrite = 32 << 10 // bytes per WriteOriginal, like an HTTP body read
)

// BenchmarkIngest compares group-committed ingest with N concurrent
// writers against a plain sequential file write + fsync of the same bytes.
// Each operation writes 32 MiB in total (Create, writes, Finish per writer).
func BenchmarkIngest(b *testing.B) {
	payload := data(ingestBytes, 1)
	for _, n := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("archive/writers=%d", n), func(b *testing.B) { benchIngestArchive(b, n, payload) })
	}
	// Live uploads: many recordings open at once, each receiving a chunk
	// now and then, so consecutive chunks belong to different recordings
	// (the daemon under thousands of phones). The recordings stay open
	// across operations and grow, as calls do.
	b.Run("archive/open=1024", func(b *testing.B) {
		const open, workers = 1024, 16
		a := OpenTestOptions(b, Options{CommitInterval: 100 * time.Millisecond, InitialMmapSize: 1 << 30, CommitBytes: benchCommitBytes})
		ws := make([]*Writer, open)
		for i := range ws {
			w, err := a.Create(b.Context(), NewRecording{})
			if err != nil {
				b.Fatal(err)
			}
			ws[i] = w
		}
		b.SetBytes(ingestBytes)
		start := a.Stats()
		next := 0
		for b.Loop() {
			var wg sync.WaitGroup
			for g := range workers {
				wg.Go(func() {
					// Worker g owns writers g, g+workers, ...; each
					// operation hands every writer its next chunk in turn.
					for k := g; k < ingestBytes/ChunkSize; k += workers {
						w := ws[(next+k)%open]
						for p := payload[k*ChunkSize : (k+1)*ChunkSize]; len(p) > 0; p = p[min(len(p), ingestWrite):] {
							if _, err := w.WriteOriginal(p[:min(len(p), ingestWrite)]); err != nil {
								b.Error(err)
								return
							}
						}
					}
				})
			}
			wg.Wait()
			next += ingestBytes / ChunkSize
			if err := ws[0].Sync(b.Context()); err != nil { // all queued chunks durable
				b.Fatal(err)
			}
		}
		reportCommits(b, start, a.Stats())
	})
	for _, every := range []int{4 << 20, ingestBytes} {
		name := "file/fsync-every-4MiB"
		if every == ingestBytes {
			name = "file/fsync-at-end"
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			b.SetBytes(ingestBytes)
			i := 0
			for b.Loop() {
				path := filepath.Join(dir, fmt.Sprint(i))
				i++
				f, err := os.Create(path)
				if err != nil {
					b.Fatal(err)
				}
				pending := 0
				for p := payload; len(p) > 0; {
					k := min(len(p), ingestWrite)
					if _, err := f.Write(p[:k]); err != nil {
						b.Fatal(err)
					}
					p = p[k:]
					if pending += k; pending >= every {
						if err := f.Sync(); err != nil {
							b.Fatal(err)
						}
						pending = 0
					}
				}
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
				f.Close()
				os.Remove(path)
			}
		})
	}
}

// benchIngestArchive stores payload as n recordings per operation in an
// archive of OpenTestOptions, committed in groups as the daemon does.
func benchIngestArchive(b *testing.B, n int, payload []byte) {
	a := OpenTestOptions(b, Options{CommitInterval: 100 * time.Millisecond, InitialMmapSize: 1 << 30, CommitBytes: benchCommitBytes})
	b.SetBytes(int64(len(payload)))
	start := a.Stats()
	for b.Loop() {
		ingestRound(b, a, n, payload)
	}
	reportCommits(b, start, a.Stats())
}

// reportCommits reports the commits per operation and their mean time
// between the archive's Stats start and s.
func reportCommits(b *testing.B, start, s Stats) {
	b.ReportMetric(float64(s.Commits-start.Commits)/float64(b.N), "commits/op")
	b.ReportMetric(float64(s.CommitTime-start.CommitTime)/float64(s.Commits-start.Commits)/1e6, "ms/commit")
}

// ingestRound stores payload as n recordings written at once, each by
// Create, WriteOriginal of ingestWrite bytes at a time, and Finish.
func ingestRound(b *testing.B, a *Archive, n int, payload []byte) {
	per := len(payload) / n
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ctx := b.Context()
			w, err := a.Create(ctx, NewRecording{})
			if err != nil {
				b.Error(err)
				return
			}
			p := payload[i*per : (i+1)*per]
			for len(p) > 0 {
				k := min(len(p), ingestWrite)
				if _, err := w.WriteOriginal(p[:k]); err != nil {
					b.Error(err)
					return
				}
				p = p[k:]
			}
			if _, err := w.Finish(ctx, Final{State: StateComplete}); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
}

// bulkRecordings inserts n finished recordings directly (setup for
// BenchmarkList), spread one minute apart.
func bulkRecordings(b *testing.B, a *Archive, n int) {
	putSynthetic(b, a, n, func(i int) *metaRecord { return syntheticMeta(i, i%50) })
}

// syntheticMeta is the metadata of the i-th of many finished recordings
// of user<owner>, one minute apart from 2024-01-01, with 800 bytes of
// info and no parties.
func syntheticMeta(i, owner int) *metaRecord {
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	return &metaRecord{V: curFormat, State: StateComplete, Received: base.Add(time.Duration(i) * time.Minute).UnixNano(),
		FileName: fmt.Sprintf("%032x-009033302ab1-11--user%d.pcap", i, owner), User: fmt.Sprint("user", owner),
		OrigSize: 1 << 20, MapSize: 1 << 14, OrigSHA256: make([]byte, 32), MapSHA256: make([]byte, 32), Info: make([]byte, 800)}
}

// putSynthetic stores n recordings with putSyntheticTx, meta(i) giving
// the i-th one's metadata, 5000 to a transaction.
func putSynthetic(tb testing.TB, a *Archive, n int, meta func(i int) *metaRecord) {
	for done := 0; done < n; {
		err := a.store.Update(func(tx kv.Tx) error {
			for i := 0; i < 5000 && done < n; i, done = i+1, done+1 {
				putSyntheticTx(tb, a, tx, NewID(), randomKey(), meta(done))
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// putSyntheticTx stores a recording's metadata and data key (in a slot)
// and its time- and retention-index entries only, as a fixture of many recordings written
// straight into the store; chunks, who and search entries are left out.
func putSyntheticTx(tb testing.TB, a *Archive, tx kv.Tx, id ID, dk []byte, m *metaRecord) {
	tb.Helper()
	aead, err := metaAEAD(dk)
	if err != nil {
		tb.Fatal(err)
	}
	box, err := sealMeta(aead, id, m)
	if err != nil {
		tb.Fatal(err)
	}
	wrapped := a.wrapDataKey(id, dk)
	slot := a.slots.alloc()
	if err := a.slots.put(slot, id, wrapped); err != nil {
		tb.Fatal(err)
	}
	tk, rk := timeKey(m.indexNS(), id), timeKey(m.retentionNS(), id)
	for _, kv := range [][3][]byte{{bucketDataKeys, id[:], a.dataKeyValue(slot, wrapped)}, {bucketRecs, id[:], box}, {bucketByTime, tk[:], {}}, {bucketByRetention, rk[:], {}}} {
		if err := tx.Bucket(kv[0]).Put(kv[1], kv[2]); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkList pages through 100k recordings, 50 per page, without and
// with a Match filter.
func BenchmarkList(b *testing.B) {
	a := OpenTestOptions(b, Options{InitialMmapSize: 1 << 30})
	bulkRecordings(b, a, 100_000)
	ctx := b.Context()
	b.Run("100k/page50", func(b *testing.B) {
		cursor := ""
		for b.Loop() {
			recs, next, err := a.List(ctx, Query{Limit: 50, Cursor: cursor})
			if err != nil || len(recs) != 50 {
				b.Fatal(len(recs), err)
			}
			cursor = next
		}
	})
	b.Run("100k/page50-deep", func(b *testing.B) { // a page in the middle via To
		for b.Loop() {
			recs, _, err := a.List(ctx, Query{Limit: 50, To: time.Date(2024, 2, 15, 0, 0, 0, 0, time.UTC)})
			if err != nil || len(recs) != 50 {
				b.Fatal(len(recs), err)
			}
		}
	})
	b.Run("100k/match-1in50", func(b *testing.B) {
		for b.Loop() {
			recs, _, err := a.List(ctx, Query{Limit: 50, Match: func(r *Recording) bool { return r.User == "user7" }})
			if err != nil || len(recs) != 50 {
				b.Fatal(len(recs), err)
			}
		}
	})
}

// BenchmarkAuthenticateCached is the cost of a repeated Basic-auth check.
func BenchmarkAuthenticateCached(b *testing.B) {
	a := OpenTest(b)
	ctx := b.Context()
	if err := a.PutUser(ctx, User{Login: "phone", Role: RoleIngest}, "secret"); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := a.Authenticate(ctx, netip.IPv6Loopback(), "phone", "secret"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBlobReadAt reads 160-byte payloads at random offsets of a
// 4 MiB blob (the WAV renderer's access pattern).
func BenchmarkBlobReadAt(b *testing.B) {
	a := OpenTest(b)
	r := record(b, a, NewRecording{}, data(4<<20, 1), nil, Final{})
	bl, err := a.OpenBlob(b.Context(), r.ID, BlobOriginal)
	if err != nil {
		b.Fatal(err)
	}
	p := make([]byte, 160)
	off := int64(0)
	b.SetBytes(160)
	for b.Loop() {
		if _, err := bl.ReadAt(p, off); err != nil {
			b.Fatal(err)
		}
		off = (off + 7919*160) % (4<<20 - 160)
	}
}

var benchCommitBytes = 4 << 20
