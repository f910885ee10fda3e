package testcorpus

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// outcomeTB records how a helper ended the test.
type outcomeTB struct {
	testing.TB
	fatal, skip string
}

func (o *outcomeTB) Helper() {}

func (o *outcomeTB) Fatalf(format string, args ...any) {
	o.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (o *outcomeTB) Skipf(format string, args ...any) {
	o.skip = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls dirIn on a TB that records the outcome.
func run(t *testing.T, root string) (dir string, o *outcomeTB) {
	o = &outcomeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		dir = dirIn(o, root)
	}()
	<-done
	return dir, o
}

func TestMissingCorpus(t *testing.T) {
	root := filepath.Join(t.TempDir(), "repo") // no ../shared beside it

	t.Setenv("CI", "")
	if _, o := run(t, root); o.fatal != "" || o.skip == "" {
		t.Errorf("without CI: fatal %q, skip %q; want a loud skip", o.fatal, o.skip)
	}
	t.Setenv("CI", "true")
	if _, o := run(t, root); o.fatal == "" || o.skip != "" {
		t.Errorf("under CI=true: fatal %q, skip %q; want a failure", o.fatal, o.skip)
	}
}

func TestFoundCorpus(t *testing.T) {
	root := filepath.Join(t.TempDir(), "repo")
	want := filepath.Join(root, "..", "shared", "testdata", "pcap")
	if err := os.MkdirAll(want, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CI", "true")
	if dir, o := run(t, root); dir != want || o.fatal != "" || o.skip != "" {
		t.Errorf("dir %q, fatal %q, skip %q", dir, o.fatal, o.skip)
	}
}

// TestNCC: the same waveform at another gain correlates fully, an inverted
// one negatively, silence not at all, and only the common length counts.
func TestNCC(t *testing.T) {
	a := []int16{100, -200, 300, -400}
	for _, c := range []struct {
		name string
		b    []int16
		want float64
	}{
		{"gain", []int16{50, -100, 150, -200}, 1},
		{"inverted", []int16{-100, 200, -300, 400}, -1},
		{"silent", []int16{0, 0, 0, 0}, 0},
		{"longer", []int16{100, -200, 300, -400, 9999}, 1},
	} {
		if got := NCC(a, c.b); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: NCC = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestStreams: the reference streams of a generated case come back with
// their addresses, SSRC, counts and WAV file.
func TestStreams(t *testing.T) {
	refs := Streams(t, filepath.Join(Dir(t), "generated", "pcmu_bidir"))
	if len(refs) == 0 {
		t.Fatal("no streams")
	}
	r := refs[0]
	if r.Num != "01" || r.Src != "127.189.112.129:16058" || r.Dst != "127.9.227.193:25384" || r.SSRC != 0x7dc5b7ee ||
		r.Codec != "PCMU" || r.Packets != 900 || r.Lost != 0 || r.DurationS != 18 || r.WAV != "stream_01.wav" || r.FirstTime != "1795245619.744094000" {
		t.Errorf("first stream %+v", r)
	}
}
