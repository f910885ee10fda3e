// Package byterange reads a request's Range header the way
// http.ServeContent does, for the doors that serve recordings with Range
// and must know what a response carries: whether it includes the first
// byte (the fetch that is audited), and whether the header asks for so
// many ranges that the multipart answer would be many times the file.
package byterange

import (
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// MaxRanges is the most ranges a door serves in one request. A player asks
// for one; a header with more is refused (TooMany) rather than answered by
// http.ServeContent, whose multipart answer to thousands of tiny,
// overlapping ranges is many times the file (a part's headers are some 80
// bytes for each range of one byte).
const MaxRanges = 16

// Range is one range of a resource: Length bytes from Start.
type Range struct{ Start, Length int64 }

var (
	// ErrInvalid: http.ServeContent answers the header with 416.
	ErrInvalid = errors.New("byterange: invalid range")
	// ErrNoOverlap: every range starts past the end of the resource;
	// http.ServeContent answers 416 (200 for an empty resource).
	ErrNoOverlap = errors.New("byterange: no range overlaps the resource")
)

// Parse parses a Range header value for a resource of size bytes as
// net/http does (parseRange in net/http/fs.go): "bytes=" then ranges
// separated by commas, with optional whitespace around each range and
// its numbers, leading zeros, open ends clamped to the resource, suffix
// ranges ("-N": the last N bytes, all of them when N reaches the start),
// empty elements skipped and ranges past the end dropped. "" is no
// ranges and no error.
func Parse(s string, size int64) ([]Range, error) {
	if s == "" {
		return nil, nil
	}
	spec, ok := strings.CutPrefix(s, "bytes=")
	if !ok {
		return nil, ErrInvalid
	}
	var out []Range
	noOverlap := false
	for ra := range strings.SplitSeq(spec, ",") {
		ra = textproto.TrimString(ra)
		if ra == "" {
			continue
		}
		start, end, ok := strings.Cut(ra, "-")
		if !ok {
			return nil, ErrInvalid
		}
		start, end = textproto.TrimString(start), textproto.TrimString(end)
		var r Range
		if start == "" {
			if end == "" || end[0] == '-' {
				return nil, ErrInvalid
			}
			n, err := strconv.ParseInt(end, 10, 64)
			if err != nil || n < 0 {
				return nil, ErrInvalid
			}
			n = min(n, size)
			r = Range{Start: size - n, Length: n}
		} else {
			i, err := strconv.ParseInt(start, 10, 64)
			if err != nil || i < 0 {
				return nil, ErrInvalid
			}
			if i >= size {
				noOverlap = true
				continue
			}
			r.Start = i
			if end == "" {
				r.Length = size - i
			} else {
				j, err := strconv.ParseInt(end, 10, 64)
				if err != nil || i > j {
					return nil, ErrInvalid
				}
				r.Length = min(j, size-1) - i + 1
			}
		}
		out = append(out, r)
	}
	if noOverlap && len(out) == 0 {
		return nil, ErrNoOverlap
	}
	return out, nil
}

// Count returns how many ranges the Range header value s names, as Parse
// would read them (empty elements do not count), stopping at
// MaxRanges+1; 0 for a value that is not "bytes=…".
func Count(s string) int {
	spec, ok := strings.CutPrefix(s, "bytes=")
	if !ok {
		return 0
	}
	n := 0
	for ra := range strings.SplitSeq(spec, ",") {
		if textproto.TrimString(ra) != "" {
			if n++; n > MaxRanges {
				break
			}
		}
	}
	return n
}

// TooMany reports whether r's Range header (the first, the one
// http.ServeContent reads) names more than MaxRanges ranges. A door
// refuses such a request with Refuse before serving anything.
func TooMany(r *http.Request) bool { return Count(r.Header.Get("Range")) > MaxRanges }

// Refuse answers a request TooMany refused: 416 with the resource's size
// (RFC 9110, 14.2, lets a server reject a set of many small ranges). No
// byte of the resource is sent, so nothing is audited.
func Refuse(w http.ResponseWriter, size int64) {
	w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
	http.Error(w, "too many ranges: at most "+strconv.Itoa(MaxRanges)+" in one request", http.StatusRequestedRangeNotSatisfiable)
}

// RefuseTooMany answers r with Refuse when TooMany refuses it, the size
// being rs's (sought to its end and back to its start), and reports
// whether it did: for a door that serves a ReadSeeker it has not read yet.
func RefuseTooMany(w http.ResponseWriter, r *http.Request, rs io.Seeker) bool {
	if !TooMany(r) {
		return false
	}
	size, err := rs.Seek(0, io.SeekEnd)
	if _, err2 := rs.Seek(0, io.SeekStart); err == nil {
		err = err2
	}
	if err != nil {
		http.Error(w, "too many ranges: at most "+strconv.Itoa(MaxRanges)+" in one request", http.StatusRequestedRangeNotSatisfiable)
		return true
	}
	Refuse(w, size)
	return true
}

// ServesStart reports whether http.ServeContent's answer to r for a
// resource of size bytes may include its first byte (offset 0): when in
// doubt, it says so. That is the case without a Range header; with an
// If-Range header (ServeContent drops the ranges when it does not match);
// with a header it would reject or that this parser does not accept; when
// the ranges add up to more than the resource (ServeContent then serves
// all of it); and when a range starts at 0, suffix ranges that reach the
// start included. It is false only when every range ServeContent would
// serve starts after byte 0, or none overlaps a resource that is not
// empty (416).
func ServesStart(r *http.Request, size int64) bool {
	h := r.Header.Get("Range")
	if h == "" || r.Header.Get("If-Range") != "" {
		return true
	}
	ranges, err := Parse(h, size)
	switch {
	case errors.Is(err, ErrNoOverlap):
		return size == 0
	case err != nil || len(ranges) == 0:
		return true
	}
	var sum int64
	for _, ra := range ranges {
		if ra.Start == 0 {
			return true
		}
		sum += ra.Length
	}
	return sum > size
}
