package archive

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/callvault/callvault/archive/kv"
	"github.com/callvault/callvault/archive/kv/boltkv"
)

// OpenBoltSource opens the bbolt file at path read-only, as the source of
// a migration, after walking its pages (a damaged file is refused rather
// than copied). A file another process holds (a running daemon) is
// refused with ErrInUse once lockTimeout has passed.
func OpenBoltSource(path string, lockTimeout time.Duration) (*boltkv.Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	if lockTimeout <= 0 {
		lockTimeout = time.Second
	}
	if err := CheckNotInUse(path, lockTimeout); err != nil {
		return nil, err
	}
	if err := preflight(path, lockTimeout); err != nil {
		return nil, err
	}
	db, err := openBoltReadOnly(path, lockTimeout)
	if err != nil {
		return nil, err
	}
	store, err := boltkv.Open(db, ChunkFile(path), true, bucketChunks)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("archive: %w", err)
	}
	return store, nil
}

// OpenBoltTarget opens or creates the bbolt file at path for writing, as
// the target of a migration. A file another process holds is refused with
// ErrInUse once lockTimeout has passed.
func OpenBoltTarget(path string, lockTimeout time.Duration) (*boltkv.Store, error) {
	if err := CheckNotInUse(path, lockTimeout); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	store, _, err := openBoltFile(path, Options{LockTimeout: max(lockTimeout, time.Second), InitialMmapSize: 1 << 30})
	return store, err
}

// boltInUse is the size of the data of tx's bbolt file: what a migration
// reads, free pages included (a source opened read-only has no free list
// to subtract), so the progress it measures errs on the slow side. 0 on
// another backend.
func boltInUse(tx kv.Tx) int64 {
	bt := boltkv.BoltTx(tx)
	if bt == nil {
		return 0
	}
	return bt.Size()
}
