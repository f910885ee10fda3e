package archive

import (
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/callvault/callvault/archive/kv/pgkv"
)

// BenchmarkPostgresDataKeys reads on PostgreSQL + S3 with the data keys
// fetched from S3 on every decryption (cache=off) and kept in memory
// once read (cache=on, CacheBuckets), side by side in one run: Get
// decrypts a recording's metadata (one data key), ReadRecording reads a
// recording of four chunks whole.
func BenchmarkPostgresDataKeys(b *testing.B) {
	for _, c := range []struct {
		name  string
		cache [][]byte
	}{{"cache=off", nil}, {"cache=on", CacheBuckets()}} {
		dir := b.TempDir()
		target := newPostgresTarget(b)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		s3 := target.s3
		s, err := pgkv.Open(ctx, target.url, pgkv.Options{BlobBuckets: BlobBuckets(), ShredBuckets: ShredBuckets(),
			CacheBuckets: c.cache, S3: &s3, MaxConns: 4})
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		a, err := OpenStore(s, filepath.Join(dir, "archive.db"), storeOptions(dir))
		if err != nil {
			s.Close()
			b.Fatal(err)
		}
		r := record(b, a, NewRecording{FileName: "bench.pcap", User: "alice"}, data(4*ChunkSize, 1), data(4096, 2), Final{})
		if err := a.Seal(b.Context(), r.ID, [][32]byte{{1}, {2}}); err != nil {
			b.Fatal(err)
		}
		b.Run("Get/"+c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := a.Get(b.Context(), r.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("ReadRecording/"+c.name, func(b *testing.B) {
			b.SetBytes(4 * ChunkSize)
			for b.Loop() {
				bl, err := a.OpenBlob(b.Context(), r.ID, BlobOriginal)
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.Copy(io.Discard, io.NewSectionReader(bl, 0, 4*ChunkSize)); err != nil || n != 4*ChunkSize {
					b.Fatal(n, err)
				}
			}
		})
		a.Close()
	}
}
