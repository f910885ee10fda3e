package recorder

import (
	"bytes"
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

// TestMaskCorpus masks every capture of the corpus that has DTMF (the
// RFC 4733 digits of the real calls, IVR and event-only captures) and
// reads what would be stored again without masking: no digit is left,
// not as an event nor as a tone, every byte arrived, and the masking
// record counts the event packets it overwrote.
func TestMaskCorpus(t *testing.T) {
	root := testcorpus.Dir(t)
	files, _ := filepath.Glob(filepath.Join(root, "real", "*.pcap*"))
	more, _ := filepath.Glob(filepath.Join(root, "real", "sipp_dtmf_2833", "*.pcap"))
	files = append(files, more...)
	withDigits := 0
	for _, f := range files {
		in, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := Analyze(bytes.NewReader(in), io.Discard)
		if err != nil || plain.Result == nil {
			continue // not a capture the recorder reads
		}
		digits := 0
		for _, c := range plain.Result.Calls {
			digits += len(c.DTMF)
		}
		var out bytes.Buffer
		hold := newHoldBuffer(&out, nil)
		masked, err := analyze(io.TeeReader(bytes.NewReader(in), hold), io.Discard, analyzeOpts{inband: true, hold: hold, mask: true})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if out.Len() != len(in) {
			t.Fatalf("%s: stored %d bytes of %d", f, out.Len(), len(in))
		}
		again, err := Analyze(bytes.NewReader(out.Bytes()), io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, r := range []*Result{masked.Result, again.Result} {
			for _, c := range r.Calls {
				if len(c.DTMF) != 0 {
					t.Errorf("%s: digits left: %+v", filepath.Base(f), c.DTMF)
				}
			}
		}
		if digits > 0 {
			withDigits++
			if masked.Masking == nil || masked.Masking.EventPackets == 0 || masked.Masking.Missed != 0 {
				t.Errorf("%s: %d digits, masking %+v", filepath.Base(f), digits, masked.Masking)
			}
		}
	}
	if withDigits < 10 {
		t.Errorf("only %d captures with digits", withDigits)
	}
}
