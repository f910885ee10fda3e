package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/callvault/callvault/codec"
)

// BenchmarkDecodeFile: what `callvault decode` does with the 10-minute
// two-way PCMU capture of the shared corpus, without the process start:
// analysis, the stereo WAV rendered and written.
func BenchmarkDecodeFile(b *testing.B) {
	in := filepath.Join("..", "..", "..", "shared", "testdata", "pcap", "generated", "pcmu_long", "capture.pcap")
	fi, err := os.Stat(in)
	if err != nil {
		b.Skip(err)
	}
	out := filepath.Join(b.TempDir(), "out.wav")
	b.SetBytes(fi.Size())
	var cpu time.Duration
	for b.Loop() {
		c0 := cpuTime()
		if _, err := decodeFile(in, out, codec.WAVOptions{}); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c0
	}
	b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(b.N), "cpu-ms/op")
}

// cpuTime is the CPU time (user and system) the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
