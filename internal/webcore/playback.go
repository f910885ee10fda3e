package webcore

import (
	"io"
	"strconv"
	"strings"
	"sync"
)

// CheckedReader remembers the first error of the reader it wraps, so
// that a response whose body fails part way (a chunk that does not
// authenticate) can be aborted after http.ServeContent returns.
// ServeContent may read from another goroutine (multipart ranges).
type CheckedReader struct {
	rs io.ReadSeeker

	mu  sync.Mutex
	err error
}

// NewCheckedReader wraps rs.
func NewCheckedReader(rs io.ReadSeeker) *CheckedReader { return &CheckedReader{rs: rs} }

func (c *CheckedReader) Read(p []byte) (int, error) {
	n, err := c.rs.Read(p)
	if err != nil && err != io.EOF {
		c.mu.Lock()
		if c.err == nil {
			c.err = err
		}
		c.mu.Unlock()
	}
	return n, err
}

func (c *CheckedReader) Seek(off int64, whence int) (int64, error) { return c.rs.Seek(off, whence) }

// Failed returns the first error a Read returned other than io.EOF.
func (c *CheckedReader) Failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Probe reads one byte of rs where the first range of a Range header
// starts (at 0 without one) and seeks back to the start, so that a stored
// chunk that fails to authenticate there is an error before any status is
// sent. Readers of stored recordings keep the chunk or block they read
// last, so serving from there costs nothing more. Past the end it reads
// nothing.
func Probe(rs io.ReadSeeker, rangeHeader string) error {
	size, err := rs.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	var start int64
	if spec, ok := strings.CutPrefix(strings.TrimSpace(rangeHeader), "bytes="); ok {
		first, _, _ := strings.Cut(spec, ",")
		from, to, _ := strings.Cut(strings.TrimSpace(first), "-")
		if from == "" { // a suffix: the last N bytes
			if n, err := strconv.ParseInt(to, 10, 64); err == nil && n > 0 {
				start = max(0, size-n)
			}
		} else if n, err := strconv.ParseInt(from, 10, 64); err == nil && n >= 0 {
			start = n
		}
	}
	if start < size {
		if _, err := rs.Seek(start, io.SeekStart); err != nil {
			return err
		}
		var b [1]byte
		if _, err := io.ReadFull(rs, b[:]); err != nil {
			return err
		}
	}
	_, err = rs.Seek(0, io.SeekStart)
	return err
}
