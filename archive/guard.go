package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/callvault/callvault/archive/kv"
	"github.com/callvault/callvault/archive/kv/boltkv"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
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

// viewGuarded is store.View under guard.
func viewGuarded(store kv.Store, where string, fn func(kv.Tx) error) error {
	return guard(where, func() error { return store.View(fn) })
}

// The duties below are bbolt's alone: they reach the file under the
// storage seam. On another backend the engine does them itself (PostgreSQL
// checks its pages and reports its closed pool on its own), and the
// archive skips them.

// openBoltFile opens or creates the bbolt file at path for Open, after
// walking an existing file's pages (preflight), and reports whether the
// file is new.
func openBoltFile(path string, opt Options) (*boltkv.Store, bool, error) {
	fi, statErr := os.Stat(path)
	if statErr == nil && fi.Size() > 0 {
		// bbolt's own walk at open panics out of reach on a damaged
		// page: find the damage first.
		if err := preflight(path, opt.LockTimeout); err != nil {
			return nil, false, err
		}
	}
	var db *bolt.DB
	err := guard("open", func() error {
		var err error
		db, err = bolt.Open(path, 0o600, &bolt.Options{
			Timeout:         opt.LockTimeout,
			InitialMmapSize: opt.InitialMmapSize,
			FreelistType:    bolt.FreelistMapType,
			NoFreelistSync:  true,
		})
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("archive: open %s: %w", path, err)
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		// A new file: make its directory entry durable too.
		if err := syncDir(filepath.Dir(path)); err != nil {
			db.Close()
			return nil, false, fmt.Errorf("archive: open: %w", err)
		}
	}
	// Grow the file in larger steps: each growth costs an extra fsync.
	db.AllocSize = 64 << 20
	store, err := boltkv.Open(db, ChunkFile(path), false, bucketChunks)
	if err != nil {
		db.Close()
		return nil, false, fmt.Errorf("archive: open %s: %w", path, err)
	}
	return store, statErr != nil || fi.Size() == 0, nil
}

// isStoreClosed reports whether err says the store was closed.
func isStoreClosed(err error) bool {
	return errors.Is(err, berrors.ErrDatabaseNotOpen)
}

// Check runs bbolt's consistency check over the whole file. It runs in a
// write transaction that is rolled back: bbolt's check reads the free
// list, which only a write transaction holds still, so writes wait while
// it runs (a check beside a running writer reports sound pages as corrupt).
// On another backend it checks nothing: the engine keeps its own pages
// sound (PostgreSQL's checksums and amcheck), and Verify checks what the
// archive holds on every backend.
func (a *Archive) Check() error {
	if a.bolt == nil {
		return nil
	}
	tx, err := a.bolt.DB().Begin(true)
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	if err != nil {
		return fmt.Errorf("archive: check: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := checkTx(tx); err != nil {
		return fmt.Errorf("archive: check: %w", err)
	}
	return nil
}

// checkTx runs bbolt's consistency check in tx and joins what it finds.
func checkTx(tx *bolt.Tx) error {
	var errs []error
	for err := range tx.Check() {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w (%w)", ErrCorrupt, errors.Join(errs...))
	}
	return nil
}

// preflight opens the file at path read-only and walks its pages, through
// bbolt (checkPages) and from the file's bytes (walkPages), so that damage
// is an error before bbolt's free-page scan meets it.
func preflight(path string, lockTimeout time.Duration) error {
	var db *bolt.DB
	err := guard("open", func() error {
		var err error
		db, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
		return err
	})
	if err != nil {
		return fmt.Errorf("archive: open %s: %w", path, err)
	}
	defer db.Close()
	if err := checkPages(db); err != nil {
		return fmt.Errorf("archive: open %s: %w", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("archive: open %s: %w", path, err)
	}
	defer f.Close()
	if err := walkFile(f, db.Info().PageSize); err != nil {
		return fmt.Errorf("archive: open %s: %w", path, err)
	}
	return nil
}

// checkPages walks every bucket of a file opened read-only, touching each
// branch and leaf page and each key, as bbolt's own free-page scan does,
// and checks that keys ascend. It returns the first damage found, naming
// the bucket. It reads no values beyond their headers.
func checkPages(db *bolt.DB) error {
	return viewGuarded(boltkv.New(db), "open", func(tx kv.Tx) error {
		return boltkv.BoltTx(tx).ForEach(func(name []byte, b *bolt.Bucket) error {
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
