package archive

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// bbolt trusts the pages it reads: a damaged page header or element makes
// it panic ("page 78: has unexpected type/flags"), or fault on an offset
// past the end of the map. guard turns both into an error wrapping
// ErrCorrupt that names the damage, at the archive's boundary: Open,
// every read and write transaction, Verify and the iteration paths run
// through it. bbolt's View and Update roll back their transaction when fn
// panics, so no lock stays held.
//
// One case is out of reach: bbolt rebuilds its free-page list (at Open
// and after a write transaction rolls back) by walking every page in a
// goroutine of its own, where a panic cannot be recovered; and when that
// walk reports damage, bbolt closes the walk's transaction while the walk
// goes on, which crashes the process. Open therefore walks the whole file
// first, through bbolt under guard (checkPages) and from the file's bytes
// with every check bbolt's walk makes (walkPages in pagewalk.go), and
// refuses a damaged file before bbolt's walk can see it.

// CorruptError is damage to the archive file found while reading it:
// Detail names it (bbolt's message, with the page number when bbolt gave
// one, and the bucket when known).
type CorruptError struct {
	Where  string // what found it: "open", "read", "write", "compact", "salvage"
	Detail string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("the archive file is damaged (%s; found by %s): %v", e.Detail, e.Where, ErrCorrupt)
}

func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// guard runs fn, turning a panic or a memory fault inside it into a
// *CorruptError. Programming errors (nil dereferences in our own code)
// are reported the same way rather than crashing the appliance.
func guard(where string, fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	defer func() {
		if r := recover(); r != nil {
			err = corruptFromPanic(where, r)
		}
	}()
	return fn()
}

func corruptFromPanic(where string, r any) error {
	var detail string
	switch v := r.(type) {
	case runtime.Error:
		detail = v.Error()
		if strings.Contains(detail, "fault") {
			detail = "a page points outside the file: " + detail
		}
	case error:
		detail = v.Error()
	default:
		detail = fmt.Sprint(v)
	}
	detail = strings.TrimPrefix(detail, "assertion failed: ")
	if len(detail) > 300 {
		detail = detail[:300] + "…"
	}
	return &CorruptError{Where: where, Detail: detail}
}

// viewGuarded is db.View under guard.
func viewGuarded(db *bolt.DB, where string, fn func(*bolt.Tx) error) error {
	return guard(where, func() error { return db.View(fn) })
}

// checkPages walks every bucket of a file opened read-only, touching each
// branch and leaf page and each key, as bbolt's own free-page scan does,
// and checks that keys ascend. It returns the first damage found, naming
// the bucket. It reads no values beyond their headers.
func checkPages(db *bolt.DB) error {
	return viewGuarded(db, "open", func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if err := guard("open", func() error { return checkBucket(b) }); err != nil {
				var ce *CorruptError
				if errors.As(err, &ce) {
					ce.Detail = fmt.Sprintf("bucket %q: %s", printable(name), ce.Detail)
				}
				return err
			}
			return nil
		})
	})
}

func checkBucket(b *bolt.Bucket) error {
	c := b.Cursor()
	var prev []byte
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if prev != nil && bytes.Compare(prev, k) >= 0 {
			return &CorruptError{Where: "open", Detail: "keys out of order"}
		}
		prev = append(prev[:0], k...)
		if v == nil { // a nested bucket
			if nb := b.Bucket(k); nb != nil {
				if err := checkBucket(nb); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func printable(b []byte) string {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return fmt.Sprintf("%x", b)
		}
	}
	return string(b)
}
