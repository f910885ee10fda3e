package recorder

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/callvault/callvault/internal/testcorpus"
)

// TestInBandFalsePositives counts the in-band digits the detector finds
// in the speech of the corpus: the generated captures (espeak-ng speech
// over a pink-noise bed, no DTMF) and the real ones (calls, IVR prompts,
// a fax; their DTMF is RFC 4733, and tones that overlap an event are not
// counted as in-band digits). None is allowed, over at least ten minutes
// of G.711 audio. The figure is in BENCHMARKS.md.
func TestInBandFalsePositives(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the whole generated corpus")
	}
	root := testcorpus.Dir(t)
	files, _ := filepath.Glob(filepath.Join(root, "generated", "*", "capture.pcap*"))
	real, _ := filepath.Glob(filepath.Join(root, "real", "*.pcap*"))
	files = append(files, real...)
	if len(files) == 0 {
		t.Skip("no generated captures")
	}
	var samples int64
	found := 0
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		a, err := Analyze(fh, io.Discard)
		fh.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, s := range a.Result.Streams {
			if s.Codec == "PCMU" || s.Codec == "PCMA" {
				samples += int64(s.EndPos - s.FirstPos)
			}
			for _, d := range s.DTMF {
				if d.InBand {
					found++
					t.Errorf("%s: stream %d: digit at %d ms (%d ms long) in speech", f, s.Index, d.StartMs, d.DurationMs)
				}
			}
		}
	}
	minutes := float64(samples) / 8000 / 60
	t.Logf("in-band false positives: %d in %.1f minutes of G.711 speech (%d captures)", found, minutes, len(files))
	if minutes < 10 {
		t.Errorf("only %.1f minutes of speech scanned", minutes)
	}
}
