package archive

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"
)

// Usage describes the archive file and its recordings, for monitoring.
type Usage struct {
	FileSize   int64 // bytes of the bbolt file
	PageSize   int
	FreePages  int // pages free for reuse (the file never shrinks; see Compact)
	Recordings int // recordings stored, in any state
	Unfinished int // in state recording (uploads open, or cut off by a crash)
	Unsealed   int // finished, waiting for their seal
	ExportsDue int // sealed, their export hashes not sealed yet (seal_deferred.go)
}

// Usage counts what the archive holds. It walks the index buckets' pages
// in one read transaction: cheap enough for a metrics scrape.
func (a *Archive) Usage(ctx context.Context) (Usage, error) {
	var u Usage
	if err := ctx.Err(); err != nil {
		return u, err
	}
	st := a.db.Stats()
	u.FreePages = st.FreePageN + st.PendingPageN
	u.PageSize = a.db.Info().PageSize
	err := a.view(func(tx *bolt.Tx) error {
		u.FileSize = tx.Size()
		u.Recordings = tx.Bucket(bucketDataKeys).Stats().KeyN
		u.Unfinished = tx.Bucket(bucketUnfinished).Stats().KeyN
		u.Unsealed = tx.Bucket(bucketUnsealed).Stats().KeyN
		u.ExportsDue = tx.Bucket(bucketExportsDue).Stats().KeyN
		return nil
	})
	if err != nil {
		return u, fmt.Errorf("archive: usage: %w", err)
	}
	if fi, err := os.Stat(a.path); err == nil {
		u.FileSize = fi.Size()
	}
	return u, nil
}

var metaProbe = []byte("probe")

// Probe writes and commits a small record through the writer goroutine:
// it fails when the file cannot be written or synced, or the committer is
// stuck past ctx. Health checks call it.
func (a *Archive) Probe(ctx context.Context) error {
	now := a.now().UnixNano()
	err := a.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaProbe, binary.BigEndian.AppendUint64(nil, uint64(now)))
	})
	if err != nil {
		return fmt.Errorf("archive: probe: %w", err)
	}
	return nil
}
