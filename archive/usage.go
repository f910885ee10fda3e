package archive

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"

	"github.com/callvault/callvault/archive/kv"
	"github.com/callvault/callvault/archive/kv/boltkv"
)

// Usage describes the archive file and its recordings, for monitoring.
type Usage struct {
	// FileSize, PageSize and FreePages describe the bbolt file; they
	// are zero on another backend, whose engine reports its own size.
	FileSize int64 // bytes of the bbolt file
	// ChunkFileBytes is what the chunk file (FORMAT.md, "Chunk file")
	// takes on disk: its released ranges take none.
	ChunkFileBytes int64
	PageSize       int
	FreePages      int // pages free for reuse (the file never shrinks; see Compact)
	Recordings     int // recordings stored, in any state
	Unfinished     int // in state recording (uploads open, or cut off by a crash)
	Unsealed       int // finished, waiting for their seal
	ExportsDue     int // sealed, their export hashes not sealed yet (seal_deferred.go)
	WhoQueue       int // finished, their who keys not written yet (whopending.go)
}

// Usage counts what the archive holds. It walks the index buckets' pages
// in one read transaction: cheap enough for a metrics scrape.
func (a *Archive) Usage(ctx context.Context) (Usage, error) {
	var u Usage
	if err := ctx.Err(); err != nil {
		return u, err
	}
	err := a.view(func(tx kv.Tx) error {
		if btx := boltkv.BoltTx(tx); btx != nil {
			u.FileSize = btx.Size() // the file's size, should Stat fail
		}
		u.Recordings = tx.Bucket(bucketDataKeys).KeyN()
		u.Unfinished = tx.Bucket(bucketUnfinished).KeyN()
		u.Unsealed = tx.Bucket(bucketUnsealed).KeyN()
		u.ExportsDue = tx.Bucket(bucketExportsDue).KeyN()
		c := tx.Bucket(bucketWhoPending).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if bytes.Equal(v, whoPendingReady) {
				u.WhoQueue++
			}
		}
		return nil
	})
	if err != nil {
		return u, fmt.Errorf("archive: usage: %w", err)
	}
	a.fileUsage(&u)
	return u, nil
}

// fileUsage fills in the bbolt file's figures; another backend has none.
func (a *Archive) fileUsage(u *Usage) {
	if a.bolt == nil {
		return
	}
	db := a.bolt.DB()
	st := db.Stats()
	u.FreePages = st.FreePageN + st.PendingPageN
	u.PageSize = db.Info().PageSize
	if fi, err := os.Stat(a.path); err == nil {
		u.FileSize = fi.Size()
	}
	if fi, err := os.Stat(ChunkFile(a.path)); err == nil {
		u.ChunkFileBytes = allocated(fi)
	}
}

var metaProbe = []byte("probe")

// Probe writes and commits a small record through the writer goroutine:
// it fails when the file cannot be written or synced, or the committer is
// stuck past ctx. Health checks call it.
func (a *Archive) Probe(ctx context.Context) error {
	now := a.now().UnixNano()
	err := a.update(ctx, func(tx kv.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaProbe, binary.BigEndian.AppendUint64(nil, uint64(now)))
	})
	if err != nil {
		return fmt.Errorf("archive: probe: %w", err)
	}
	return nil
}
