package recorder

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
)

// BenchmarkStorage imports n synthetic two-way PCMU calls of 20 to 40
// seconds one after the other (what `callvault import` does), then
// reports what the archive costs on disk: the archive file, its data-key
// file and its chunk file per call-minute stored ("MB/call-min";
// "disk-MB/call-min" counts the blocks they take, without the holes of
// the archive file's growth step not yet written and of the chunks
// released), next to the captures themselves ("capture-MB/call-min").
// With churn it then deletes every other recording (what retention does
// to the oldest half) and imports n more: "churn-x" is the files' size
// over what the live recordings' captures hold ("churn-disk-x" the blocks
// they take), "churn-growth-x" the files' size after the churn over their
// size after the first import, scaled by the live call-minutes (1.0 when
// deleted space is all reused).
//
//	go test -run '^$' -bench 'Storage/n=10000' -benchtime 1x ./recorder/
func BenchmarkStorage(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			for b.Loop() {
				storageRun(b, n)
			}
		})
	}
}

func storageRun(b *testing.B, n int) {
	arc := archivetest.OpenTestOptions(b, archive.Options{InitialMmapSize: 1 << 30, CommitInterval: 100 * time.Millisecond})
	r, err := New(arc, Config{Prefix: "/recordings/Files/"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	type stored struct {
		id      archive.ID
		seconds int
		size    int
	}
	var recs []stored
	start := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	importN := func(from int) {
		for i := from; i < from+n; i++ {
			secs := 20 + i*7%21
			capture := makeCallPcap(testCall{seconds: secs, pt: 0, start: start.Add(time.Duration(i) * time.Minute)})
			rec, err := r.Ingest(ctx, fmt.Sprintf("call-%d.pcap", i), bytes.NewReader(capture))
			if err != nil {
				b.Fatal(err)
			}
			recs = append(recs, stored{rec.ID, secs, len(capture)})
		}
	}
	// size returns the files' sizes and, where the system tells, the
	// bytes they take on disk.
	size := func() (total, onDisk int64, known bool) {
		known = true
		for _, p := range []string{arc.Path(), archive.SlotFile(arc.Path()), archive.ChunkFile(arc.Path())} {
			fi, err := os.Stat(p)
			if err != nil {
				b.Fatal(err)
			}
			total += fi.Size()
			n, ok := allocated(fi)
			onDisk += n
			known = known && ok
		}
		return total, onDisk, known
	}
	live := func() (minutes float64, total int64) {
		for _, s := range recs {
			if s.id != (archive.ID{}) {
				minutes += float64(s.seconds) / 60
				total += int64(s.size)
			}
		}
		return
	}
	importN(0)
	first, onDisk, known := size()
	min1, bytes1 := live()
	b.ReportMetric(float64(first)/1e6/min1, "MB/call-min")
	if known {
		b.ReportMetric(float64(onDisk)/1e6/min1, "disk-MB/call-min")
	}
	b.ReportMetric(float64(bytes1)/1e6/min1, "capture-MB/call-min")

	for i := 0; i < len(recs); i += 2 {
		if err := arc.Delete(ctx, recs[i].id, "retention", "expired"); err != nil {
			b.Fatal(err)
		}
		recs[i].id = archive.ID{}
	}
	importN(n)
	after, afterDisk, _ := size()
	min2, bytes2 := live()
	b.ReportMetric(float64(after)/float64(bytes2), "churn-x")
	b.ReportMetric(float64(after)/float64(first)*min1/min2, "churn-growth-x")
	if known {
		b.ReportMetric(float64(afterDisk)/float64(bytes2), "churn-disk-x")
	}
}
