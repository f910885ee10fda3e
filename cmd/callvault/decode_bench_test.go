package main

import (
	"os"
	"path/filepath"
	"testing"

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
	for b.Loop() {
		if _, err := decodeFile(in, out, codec.WAVOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
