package webcore

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

var errBad = errors.New("chunk does not authenticate")

// badFrom is a reader whose bytes from bad on fail to read.
type badFrom struct {
	*bytes.Reader
	bad int64
}

func (b badFrom) Read(p []byte) (int, error) {
	pos, _ := b.Seek(0, io.SeekCurrent)
	if pos >= b.bad {
		return 0, errBad
	}
	if n := b.bad - pos; int64(len(p)) > n {
		p = p[:n]
	}
	return b.Reader.Read(p)
}

func TestProbe(t *testing.T) {
	data := make([]byte, 1000)
	for _, c := range []struct {
		rangeHeader string
		bad         int64
		fails       bool
	}{
		{"", 0, true},
		{"", 1, false},
		{"bytes=500-", 500, true},
		{"bytes=499-", 500, false},
		{"bytes=0-10, 600-700", 500, false},
		{"bytes=-100", 900, true},
		{"bytes=-100", 901, false},
		{"bytes=-5000", 0, true},  // suffix longer than the file: from 0
		{"bytes=1000-", 0, false}, // past the end: nothing read
		{"items=500-", 500, false},
	} {
		rs := badFrom{bytes.NewReader(data), c.bad}
		err := Probe(rs, c.rangeHeader)
		if (err != nil) != c.fails || (err != nil && !errors.Is(err, errBad)) {
			t.Errorf("Range %q, bad from %d: %v", c.rangeHeader, c.bad, err)
		}
		if pos, _ := rs.Seek(0, io.SeekCurrent); err == nil && pos != 0 {
			t.Errorf("Range %q: left at %d", c.rangeHeader, pos)
		}
	}
}

func TestCheckedReader(t *testing.T) {
	cr := NewCheckedReader(badFrom{bytes.NewReader(make([]byte, 100)), 50})
	if _, err := io.Copy(io.Discard, io.LimitReader(cr, 50)); err != nil || cr.Failed() != nil {
		t.Fatalf("good part: %v, %v", err, cr.Failed())
	}
	if _, err := io.ReadAll(cr); !errors.Is(err, errBad) || !errors.Is(cr.Failed(), errBad) {
		t.Fatalf("bad part: %v, %v", err, cr.Failed())
	}
	cr.Seek(0, io.SeekStart)
	io.ReadAll(io.LimitReader(cr, 10))
	if !errors.Is(cr.Failed(), errBad) {
		t.Fatal("the first error was forgotten")
	}
	ok := NewCheckedReader(bytes.NewReader(make([]byte, 10)))
	if _, err := io.ReadAll(ok); err != nil || ok.Failed() != nil {
		t.Fatalf("io.EOF counted as a failure: %v", ok.Failed())
	}
}

// FuzzProbe: any Range header leaves a readable stream at its start.
func FuzzProbe(f *testing.F) {
	for _, s := range []string{"", "bytes=0-", "bytes=-1", "bytes=5-2", "bytes=99999999999999999999-", "bytes=-0, 1-2"} {
		f.Add(s, 10)
	}
	f.Fuzz(func(t *testing.T, rangeHeader string, size int) {
		rs := bytes.NewReader(make([]byte, size&0xfff))
		if err := Probe(rs, rangeHeader); err != nil {
			t.Fatalf("Range %q: %v", rangeHeader, err)
		}
		if pos, _ := rs.Seek(0, io.SeekCurrent); pos != 0 {
			t.Fatalf("Range %q: left at %d", rangeHeader, pos)
		}
	})
}
