package recorder

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
)

// BenchmarkIngestBulk measures one large capture (about 300 MB, a 3.6-hour
// two-way call) from PUT body to committed and sealed, with the daemon's
// archive settings, next to what `dd bs=1M conv=fdatasync` does with the
// same bytes on the same disk, in the same iteration. It reports both
// rates, "share" (ingest's rate over the plain write's) and the CPU time
// the process used during each ingest (both cores, all goroutines). The
// upload is answered once original, map and metadata are committed and
// sealed; "exports-sealed" is the rate until the export hashes that
// follow in the background are sealed too (waited for before the next
// iteration).
func BenchmarkIngestBulk(b *testing.B) {
	capture := makeCallPcap(testCall{seconds: 13000, pt: 0})
	arc := archivetest.OpenTestOptions(b, archive.Options{InitialMmapSize: 1 << 30, CommitInterval: 100 * time.Millisecond})
	r, err := New(arc, Config{Prefix: "/recordings/Files/"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	b.SetBytes(int64(len(capture)))
	var ingest, plain, cpu, exported time.Duration
	for b.Loop() {
		t0 := time.Now()
		ddWrite(b, filepath.Join(dir, "plain"), capture)
		t1 := time.Now()
		c0 := cpuTime()
		if _, err := r.Ingest(context.Background(), "bulk.pcap", bytes.NewReader(capture)); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c0
		ingest += time.Since(t1)
		plain += t1.Sub(t0)
		r.Wait() // the export hashes, sealed after the answer
		exported += time.Since(t1)
	}
	mb := float64(len(capture)) * float64(b.N) / 1e6
	b.ReportMetric(mb/ingest.Seconds(), "ingest-MB/s")
	b.ReportMetric(mb/plain.Seconds(), "dd-MB/s")
	b.ReportMetric(plain.Seconds()/ingest.Seconds(), "share")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "ingest-cpu-s/op")
	b.ReportMetric(mb/exported.Seconds(), "exports-sealed-MB/s")
}

// cpuTime is the CPU time (user and system) the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ddWrite writes p to a new file in 1 MiB writes and ends with fdatasync,
// as `dd bs=1M conv=fdatasync` does.
func ddWrite(tb testing.TB, path string, p []byte) {
	os.Remove(path)
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	for off := 0; off < len(p); off += 1 << 20 {
		if _, err := f.Write(p[off:min(off+1<<20, len(p))]); err != nil {
			tb.Fatal(err)
		}
	}
	if err := syscall.Fdatasync(int(f.Fd())); err != nil {
		tb.Fatal(err)
	}
}
