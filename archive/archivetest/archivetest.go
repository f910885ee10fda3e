// Package archivetest opens archives for tests and damages closed archive
// files the way someone holding the file could. It is imported by tests
// only, so the daemon never links package testing.
package archivetest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/seal"
	"github.com/callvault/callvault/internal/testdisk"
)

// OpenTest opens a new archive in tb.TempDir() with a fresh key file and
// archive.FastKDF; on cleanup it runs Check and closes the archive.
func OpenTest(tb testing.TB) *archive.Archive {
	tb.Helper()
	return OpenTestOptions(tb, archive.Options{})
}

// OpenTestOptions is OpenTest with options. Unset fields get test
// defaults: a key file in the temporary directory, archive.FastKDF, a 10ms
// commit interval and a 64 MiB initial memory map. The clock is opt.Now
// (the wall clock when unset): a test that keeps a clock of its own, or
// stores fixed dates that rules compare with now, passes its clock here, so
// that the archive and the rest of the test read one clock.
func OpenTestOptions(tb testing.TB, opt archive.Options) *archive.Archive {
	tb.Helper()
	dir := tb.TempDir()
	a, err := archive.Open(filepath.Join(dir, "archive.db"), Defaults(dir, opt))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := a.Check(); err != nil && !errors.Is(err, archive.ErrClosed) {
			tb.Error(err)
		}
		if err := a.Close(); err != nil {
			tb.Error(err)
		}
	})
	return a
}

// Defaults returns opt with the unset fields set as OpenTestOptions sets
// them, the key file in dir.
func Defaults(dir string, opt archive.Options) archive.Options {
	if opt.KeyFile == "" && opt.Passphrase == nil {
		opt.KeyFile = filepath.Join(dir, "archive.key")
	}
	if opt.KDF == (archive.KDFParams{}) {
		opt.KDF = archive.FastKDF()
	}
	if opt.CommitInterval == 0 {
		opt.CommitInterval = 10 * time.Millisecond
	}
	if opt.InitialMmapSize == 0 {
		opt.InitialMmapSize = 64 << 20
	}
	return opt
}

// Bucket names and the chunk index key, as FORMAT.md lays them out.
var (
	bucketChunks     = []byte("chunks")
	bucketChunkIndex = []byte("chunkidx")
	bucketChain      = []byte("chain")
)

// chunkKey is id ‖ kind ‖ u64 index: the key of chunkidx.
func chunkKey(id archive.ID, kind archive.BlobKind, idx uint64) []byte {
	k := append(id[:], byte(kind))
	return binary.BigEndian.AppendUint64(k, idx)
}

// TamperChunk flips one bit of the stored value of chunk idx of a
// recording's blob in a closed archive file, through bbolt alone and
// without any key, as someone holding the file could. Tests use it to
// check what readers do with a chunk that fails authentication.
func TamperChunk(path string, id archive.ID, kind archive.BlobKind, idx uint64) error {
	return tamperFile(path, func(tx *bolt.Tx) error {
		seq := tx.Bucket(bucketChunkIndex).Get(chunkKey(id, kind, idx))
		if seq == nil {
			return fmt.Errorf("archive: tamper: %s chunk %d of %s: %w", kind, idx, id, archive.ErrNotFound)
		}
		b := tx.Bucket(bucketChunks)
		v := bytes.Clone(b.Get(seq))
		if len(v) == 13 && v[0] == 0xfe {
			// A reference into the chunk file (FORMAT.md, "Chunk
			// file"): flip the bit there.
			off, n := binary.BigEndian.Uint64(v[1:9]), binary.BigEndian.Uint32(v[9:13])
			if err := testdisk.Flip(archive.ChunkFile(path), int64(off)+int64(n/2), 0x01); err != nil {
				return fmt.Errorf("archive: tamper: %w", err)
			}
			return nil
		}
		if len(v) < 2 {
			return fmt.Errorf("archive: tamper: %s chunk %d of %s: %w", kind, idx, id, archive.ErrNotFound)
		}
		v[len(v)/2] ^= 0x01
		return b.Put(bytes.Clone(seq), v)
	})
}

// TamperSeal flips one bit of the signature of a recording's seal in the
// chain of a closed archive file, through bbolt alone and without any key.
func TamperSeal(path string, id archive.ID) error {
	return tamperFile(path, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketChain)
		var key, val []byte
		err := c.ForEach(func(k, v []byte) error {
			if e, err := seal.ParseEntry(v); err == nil && e.Type == seal.TypeSeal && e.ID == id {
				key, val = bytes.Clone(k), bytes.Clone(v)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if key == nil {
			return fmt.Errorf("archive: tamper: seal of %s: %w", id, archive.ErrNotFound)
		}
		val[len(val)-1] ^= 0x01
		return c.Put(key, val)
	})
}

func tamperFile(path string, fn func(*bolt.Tx) error) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return fmt.Errorf("archive: tamper: %w", err)
	}
	if err := db.Update(fn); err != nil {
		db.Close()
		return err
	}
	return db.Close()
}
