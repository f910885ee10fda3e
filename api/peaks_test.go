package api

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

func TestComputePeaks(t *testing.T) {
	wav := fakeWAV(8000) // left: i*37-3000 (wrapping int16), right: -i*11
	p, err := ComputePeaks(bytes.NewReader(wav), int64(len(wav)), 4)
	if err != nil {
		t.Fatal(err)
	}
	if p.N != 4 || p.Frames != 8000 || p.Rate != 8000 || p.Channels != 2 {
		t.Fatalf("shape: %+v", p)
	}
	// Reference: the same buckets computed the slow way.
	for c := range 2 {
		for b := range 4 {
			lo, hi := int16(32767), int16(-32768)
			for i := b * 2000; i < (b+1)*2000; i++ {
				v := int16(binary.LittleEndian.Uint16(wav[44+4*i+2*c:]))
				lo, hi = min(lo, v), max(hi, v)
			}
			if p.Min[c][b] != lo || p.Max[c][b] != hi {
				t.Fatalf("channel %d bucket %d: %d..%d, want %d..%d", c, b, p.Min[c][b], p.Max[c][b], lo, hi)
			}
		}
	}
	// Fewer frames than buckets: one bucket per frame.
	short := fakeWAV(3)
	p, err = ComputePeaks(bytes.NewReader(short), int64(len(short)), 800)
	if err != nil || p.N != 3 || p.Max[1][2] != -22 {
		t.Fatalf("3 frames: %+v %v", p, err)
	}
	// No audio.
	empty := fakeWAV(0)
	if p, err := ComputePeaks(bytes.NewReader(empty), int64(len(empty)), 800); err != nil || p.N != 0 {
		t.Fatalf("empty: %+v %v", p, err)
	}
	// A stream shorter than its size says ends early without error.
	if _, err := ComputePeaks(io.LimitReader(bytes.NewReader(wav), 1000), int64(len(wav)), 10); err != nil {
		t.Fatalf("short stream: %v", err)
	}
	for _, bad := range [][]byte{nil, []byte("RIFF"), append([]byte("RIFX"), wav[4:]...)} {
		if _, err := ComputePeaks(bytes.NewReader(bad), int64(len(bad)), 10); err == nil {
			t.Fatalf("accepted %q", bad)
		}
	}
}

func FuzzComputePeaks(f *testing.F) {
	f.Add(fakeWAV(100), 10)
	f.Add(fakeWAV(1), 800)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		if n < 1 || n > maxPeaks {
			return
		}
		p, err := ComputePeaks(bytes.NewReader(b), int64(len(b)), n)
		if err != nil {
			return
		}
		if p.N > n || len(p.Min) != p.Channels || len(p.Max) != p.Channels {
			t.Fatalf("shape: %+v", p)
		}
		for c := range p.Channels {
			for i := range p.N {
				if p.Min[c][i] > p.Max[c][i] && int64(i) < p.Frames {
					t.Fatalf("min > max at %d", i)
				}
			}
		}
	})
}

// TestPeaksParam: both peaks routes read n through peaksParam.
func TestPeaksParam(t *testing.T) {
	for q, want := range map[string]int{"": defaultPeaks, "?n=1": 1, "?n=800": 800, "?n=" + strconv.Itoa(maxPeaks): maxPeaks} {
		if n, err := peaksParam(httptest.NewRequest("GET", "/peaks"+q, nil)); err != nil || n != want {
			t.Errorf("%q: %d, %v; want %d", q, n, err, want)
		}
	}
	for _, q := range []string{"?n=0", "?n=-3", "?n=x", "?n=" + strconv.Itoa(maxPeaks+1)} {
		_, err := peaksParam(httptest.NewRequest("GET", "/peaks"+q, nil))
		var se *httpError
		if !errors.As(err, &se) || se.code != http.StatusBadRequest {
			t.Errorf("%q: %v, want a 400", q, err)
		}
	}
}
