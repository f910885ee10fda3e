package archive

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrInUse reports an archive file locked by another process (a running
// daemon): compaction and restore need it stopped.
var ErrInUse = errors.New("archive: file in use by another process")

// CompactResult tells what Compact did.
type CompactResult struct {
	Before, After int64 // file sizes in bytes
}

// Compact rewrites the archive file at path without its free pages: it
// copies every bucket into path+".compact", checks the copy, syncs it and
// renames it over path. The file must not be open anywhere (the daemon
// stopped): a lock held elsewhere for longer than lockTimeout yields
// ErrInUse. No key is needed; values are copied as they are, encrypted.
// A crash midway leaves the original untouched and at most a stale
// ".compact" file, which the next run replaces.
func Compact(path string, lockTimeout time.Duration) (CompactResult, error) {
	var res CompactResult
	fi, err := os.Stat(path)
	if err != nil {
		return res, fmt.Errorf("archive: compact: %w", err)
	}
	res.Before = fi.Size()
	if lockTimeout <= 0 {
		lockTimeout = time.Second
	}
	// A damaged page would make bbolt panic out of reach (guard.go).
	if err := preflight(path, lockTimeout); err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return res, fmt.Errorf("archive: compact %s: %w (stop the daemon first)", path, ErrInUse)
		}
		return res, fmt.Errorf("archive: compact: %w", err)
	}
	// Exclusive lock: bbolt's read-only open shares its lock, so a second
	// reader could otherwise slip in while the file is replaced.
	src, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout, FreelistType: bolt.FreelistMapType, NoFreelistSync: true})
	if errors.Is(err, berrors.ErrTimeout) {
		return res, fmt.Errorf("archive: compact %s: %w (stop the daemon first)", path, ErrInUse)
	}
	if err != nil {
		return res, fmt.Errorf("archive: compact: open %s: %w", path, err)
	}
	defer src.Close()
	if err := src.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta) == nil || tx.Bucket(bucketMeta).Get(metaSchema) == nil {
			return fmt.Errorf("not an archive file: %w", ErrInvalid)
		}
		return nil
	}); err != nil {
		return res, fmt.Errorf("archive: compact %s: %w", path, err)
	}
	tmp := path + ".compact"
	_ = os.Remove(tmp)
	dst, err := bolt.Open(tmp, fi.Mode().Perm(), &bolt.Options{NoSync: true, FreelistType: bolt.FreelistMapType, NoFreelistSync: true})
	if err != nil {
		return res, fmt.Errorf("archive: compact: create %s: %w", tmp, err)
	}
	fail := func(err error) (CompactResult, error) {
		dst.Close()
		os.Remove(tmp)
		return res, fmt.Errorf("archive: compact %s: %w", path, err)
	}
	if err := guard("compact", func() error { return bolt.Compact(dst, src, 64<<20) }); err != nil {
		return fail(err)
	}
	if err := dst.View(func(tx *bolt.Tx) error {
		if err := checkTx(tx); err != nil {
			return fmt.Errorf("check of the copy: %w", err)
		}
		return nil
	}); err != nil {
		return fail(err)
	}
	if err := dst.Sync(); err != nil {
		return fail(err)
	}
	if err := dst.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return res, fmt.Errorf("archive: compact: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return res, fmt.Errorf("archive: compact: %w", err)
	}
	if fi, err := os.Stat(path); err == nil {
		res.After = fi.Size()
	}
	return res, nil
}

// CheckNotInUse reports ErrInUse when another process (a running daemon)
// holds the archive file at path. A missing file is not in use.
func CheckNotInUse(path string, lockTimeout time.Duration) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	db, err := openBoltReadOnly(path, lockTimeout)
	if err != nil {
		return err
	}
	return db.Close()
}

// openBoltReadOnly opens the bbolt file at path read-only. A file another
// process holds is refused with ErrInUse once lockTimeout (default 1 s)
// has passed.
func openBoltReadOnly(path string, lockTimeout time.Duration) (*bolt.DB, error) {
	if lockTimeout <= 0 {
		lockTimeout = time.Second
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout, ReadOnly: true})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("archive: %s: %w", path, ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("archive: open %s: %w", path, err)
	}
	return db, nil
}
