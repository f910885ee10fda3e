package byterange

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// served asks http.ServeContent itself for a resource of size bytes with
// the Range header h and returns its status and the ranges its answer
// carries (the whole resource for a 200).
func served(t testing.TB, h string, size int64) (int, []Range) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	if h != "" {
		r.Header.Set("Range", h)
	}
	w := httptest.NewRecorder()
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(make([]byte, size)))
	res := w.Result()
	switch res.StatusCode {
	case http.StatusOK:
		return res.StatusCode, []Range{{0, size}}
	case http.StatusPartialContent:
	default:
		return res.StatusCode, nil
	}
	mt, params, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if mt != "multipart/byteranges" {
		return res.StatusCode, []Range{contentRange(t, res.Header.Get("Content-Range"))}
	}
	var out []Range
	mr := multipart.NewReader(res.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return res.StatusCode, out
		}
		if err != nil {
			t.Fatalf("%q: multipart answer: %v", h, err)
		}
		out = append(out, contentRange(t, p.Header.Get("Content-Range")))
	}
}

func contentRange(t testing.TB, v string) Range {
	t.Helper()
	var a, b, n int64
	if _, err := fmt.Sscanf(v, "bytes %d-%d/%d", &a, &b, &n); err != nil {
		t.Fatalf("Content-Range %q: %v", v, err)
	}
	return Range{a, b - a + 1}
}

func request(hdr ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	return r
}

// TestServesStart: every way of asking for the first byte is seen, as
// http.ServeContent reads the header; ranges after it are not.
func TestServesStart(t *testing.T) {
	const size = 1000
	for _, c := range []struct {
		name, rng string
		start     bool
	}{
		{"no header", "", true},
		{"from zero", "bytes=0-", true},
		{"first bytes", "bytes=0-99", true},
		{"space after =", "bytes= 0-", true},
		{"tab after =", "bytes=\t0-99", true},
		{"leading zeros", "bytes=00-", true},
		{"many leading zeros", "bytes=0000000000000000000000000-10", true},
		{"space before dash", "bytes=0 -10", true},
		{"suffix past the start", "bytes=-100000000", true},
		{"suffix to the start", "bytes=-1000", true},
		{"suffix short of the start", "bytes=-999", false},
		{"zero among others", "bytes=500-600, 0-1", true},
		{"zero after an empty element", "bytes=,,0-1", true},
		{"zero after a range past the end", "bytes=5000-, 0-1", true},
		{"ranges adding up to more than the file", "bytes=1-999,1-999", true},
		{"ranges within the file", "bytes=1-400,500-", false},
		{"later range", "bytes=44-99", false},
		{"one past zero", "bytes=1-", false},
		{"past the end", "bytes=5000-", false},
		{"not bytes", "items=0-", true},
		{"upper case unit", "Bytes=0-", true},
		{"no ranges", "bytes=", true},
		{"only commas", "bytes=,, ,", true},
		{"garbage", "bytes=x-y", true},
		{"reversed", "bytes=10-1", true},
		{"negative start", "bytes=-5-10", true},
		{"sign", "bytes=+0-10", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := ServesStart(request("Range", c.rng), size); got != c.start {
				t.Errorf("ServesStart(%q) = %v, want %v", c.rng, got, c.start)
			}
			// What ServeContent does agrees wherever it serves byte 0.
			if _, rs := served(t, c.rng, size); slices.ContainsFunc(rs, func(r Range) bool { return r.Start == 0 && r.Length > 0 }) && !c.start {
				t.Errorf("ServeContent serves byte 0 for %q", c.rng)
			}
		})
	}
	// If-Range may make ServeContent drop the ranges: the whole file.
	if !ServesStart(request("Range", "bytes=44-99", "If-Range", `"other"`), size) {
		t.Error("Range with If-Range: not counted as the start")
	}
}

func TestTooMany(t *testing.T) {
	many := func(n int, sep string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf("%d-%d", i+1, i+1)
		}
		return "bytes=" + strings.Join(parts, sep)
	}
	for _, c := range []struct {
		rng  string
		want bool
	}{
		{"", false},
		{"bytes=0-", false},
		{many(MaxRanges, ","), false},
		{many(MaxRanges, ", ,,"), false},
		{many(MaxRanges+1, ","), true},
		{many(5000, ","), true},
		{"items=" + strings.Repeat("1-1,", 100), false},
	} {
		if got := TooMany(request("Range", c.rng)); got != c.want {
			t.Errorf("TooMany(%.60q) = %v, want %v", c.rng, got, c.want)
		}
	}
}

// FuzzParse holds Parse, ServesStart and Count to what
// http.ServeContent does with the same header: the ranges it serves are
// the ones Parse returns (or the whole resource when they add up to more),
// it answers 416 when Parse fails, ServesStart is true whenever its
// answer carries byte 0, and Count sees every range it would serve.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "bytes=0-", "bytes= 0-", "bytes=00-", "bytes=-100000000", "bytes=-5", "bytes=44-99",
		"bytes=1-2,3-4", "bytes=0-0,-1", "bytes=,", "bytes=5-1", "bytes=x", "bytes=9999-", "bytes=1-1,1-1,1-1",
		"bytes=\t1 - 2 ,", "bytes=-0", "bytes=0-9223372036854775807", "bytes=99999999999999999999-"} {
		f.Add(s, uint16(100))
	}
	f.Add("bytes=0-", uint16(0))
	f.Fuzz(func(t *testing.T, h string, sz uint16) {
		if strings.ContainsAny(h, "\r\n\x00") {
			return // not a header value that reaches a handler
		}
		size := int64(sz % 2048)
		ranges, err := Parse(h, size)
		code, got := served(t, h, size)
		start := ServesStart(request("Range", h), size)
		if slices.ContainsFunc(got, func(r Range) bool { return r.Start == 0 && r.Length > 0 }) && !start {
			t.Fatalf("%q (size %d): ServeContent serves byte 0 (%d %v), ServesStart says no", h, size, code, got)
		}
		switch {
		case errors.Is(err, ErrInvalid):
			if code != http.StatusRequestedRangeNotSatisfiable {
				t.Fatalf("%q (size %d): Parse: %v, ServeContent: %d %v", h, size, err, code, got)
			}
		case errors.Is(err, ErrNoOverlap):
			if size > 0 && code != http.StatusRequestedRangeNotSatisfiable || size == 0 && code != http.StatusOK {
				t.Fatalf("%q (size %d): Parse: %v, ServeContent: %d %v", h, size, err, code, got)
			}
		case err != nil:
			t.Fatalf("%q: unexpected error %v", h, err)
		default:
			var sum int64
			for _, r := range ranges {
				if r.Start < 0 || r.Length < 0 || r.Start+r.Length > size {
					t.Fatalf("%q (size %d): range %+v outside the resource", h, size, r)
				}
				sum += r.Length
			}
			want := ranges
			if len(ranges) == 0 || sum > size {
				want = []Range{{0, size}}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%q (size %d): ServeContent served %d %v, Parse says %v", h, size, code, got, ranges)
			}
			if min(len(ranges), MaxRanges+1) > Count(h) {
				t.Fatalf("%q: Count %d for %d ranges", h, Count(h), len(ranges))
			}
		}
	})
}
