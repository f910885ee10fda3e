package archive

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/callvault/callvault/archive/kv"
)

// benchMinute is the size of a one-minute G.711 call's capture: two RTP
// streams of 50 packets a second, 160 bytes of audio and 54 of headers
// each.
const benchMinute = 2 * 50 * 60 * (160 + 54)

// BenchmarkMigrate copies an archive of 200 one-minute recordings from
// bbolt into a new bbolt file and into PostgreSQL + S3 (skipped without
// the servers), and verifies each copy (CompareMigrated, then every
// recording's chunks and seal and the chain; export hashes not
// recomputed): MB/s of the source's keys and values, recordings/s.
func BenchmarkMigrate(b *testing.B) {
	const n = 200
	dir := b.TempDir()
	srcPath := filepath.Join(dir, "src.db")
	opt := storeOptions(dir)
	a, err := Open(srcPath, opt)
	if err != nil {
		b.Fatal(err)
	}
	orig := data(benchMinute, 1)
	for i := range n {
		r := record(b, a, NewRecording{CallGUID: fmt.Sprint(i)}, orig, data(2000, uint64(i)), Final{Info: []byte(`{}`)})
		if err := a.Seal(b.Context(), r.ID, [][32]byte{{1}}); err != nil {
			b.Fatal(err)
		}
	}
	if err := a.Close(); err != nil {
		b.Fatal(err)
	}
	src, err := OpenBoltSource(srcPath, time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()

	run := func(b *testing.B, target func(i int) MigrateEnd) {
		var copied, total time.Duration
		var bytes int64
		for i := range b.N {
			b.StopTimer()
			dst := target(i)
			b.StartTimer()
			t0 := time.Now()
			p, err := Migrate(b.Context(), MigrateEnd{Store: src, Path: srcPath}, dst, MigrateOptions{})
			if err != nil {
				b.Fatal(err)
			}
			copied += time.Since(t0)
			bytes += p.Bytes
			if _, err := CompareMigrated(b.Context(), MigrateEnd{Store: src, Path: srcPath}, dst); err != nil {
				b.Fatal(err)
			}
			m, err := OpenMigrated(dst, opt)
			if err != nil {
				b.Fatal(err)
			}
			v, err := m.FinishMigration(b.Context(), nil)
			if err != nil || v.Recordings != n {
				b.Fatal(err, v)
			}
			total += time.Since(t0)
			b.StopTimer()
			m.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(bytes)/1e6/copied.Seconds(), "copy-MB/s")
		b.ReportMetric(float64(n*b.N)/copied.Seconds(), "copy-recordings/s")
		b.ReportMetric(float64(bytes)/1e6/total.Seconds(), "MB/s")
		b.ReportMetric(float64(n*b.N)/total.Seconds(), "recordings/s")
	}
	b.Run("bbolt", func(b *testing.B) {
		run(b, func(i int) MigrateEnd {
			path := filepath.Join(b.TempDir(), "dst.db")
			s, err := OpenBoltTarget(path, time.Second)
			if err != nil {
				b.Fatal(err)
			}
			return MigrateEnd{Store: s, Path: path}
		})
	})
	b.Run("postgres+s3", func(b *testing.B) {
		run(b, func(i int) MigrateEnd {
			var s kv.Store = newPostgresTarget(b).open(b)
			return MigrateEnd{Store: s, Path: filepath.Join(b.TempDir(), "archive.db")}
		})
	})
}
