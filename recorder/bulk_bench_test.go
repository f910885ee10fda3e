package recorder

import (
	"bytes"
	"context"
	"os"
	"os/exec"
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
// same bytes on the same disk, in the same iteration: dd itself, in a
// process of its own, reading the capture from a file in the page cache.
// (The same writes made from this process ran at 460–800 MB/s where the
// shell's dd, and a small Go program doing them, took 1.0–1.3 GB/s: the
// benchmark's own state slows them, and the share looked better than it
// is.) It reports both
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
	src := filepath.Join(dir, "capture.pcap")
	if err := os.WriteFile(src, capture, 0o600); err != nil {
		b.Fatal(err)
	}
	ddWrite(b, src, filepath.Join(dir, "plain")) // the source into the page cache
	b.SetBytes(int64(len(capture)))
	var ingest, plain, cpu, exported time.Duration
	for b.Loop() {
		t0 := time.Now()
		ddWrite(b, src, filepath.Join(dir, "plain"))
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

// ddWrite copies src to a new file dst with `dd bs=1M conv=fdatasync`.
func ddWrite(tb testing.TB, src, dst string) {
	os.Remove(dst)
	out, err := exec.Command("dd", "if="+src, "of="+dst, "bs=1M", "conv=fdatasync").CombinedOutput()
	if err != nil {
		tb.Fatalf("dd: %v: %s", err, out)
	}
}
