package archive

import (
	"bytes"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TamperChunk flips one bit of the stored value of chunk idx of a
// recording's blob in a closed archive file, through bbolt alone and
// without any key, as someone holding the file could. Tests use it to
// check what readers do with a chunk that fails authentication.
func TamperChunk(path string, id ID, kind BlobKind, idx uint64) error {
	return tamperFile(path, func(tx *bolt.Tx) error {
		k := chunkKey(id, kind, idx)
		seq := tx.Bucket(bucketChunkIndex).Get(k[:])
		if seq == nil {
			return fmt.Errorf("archive: tamper: %s chunk %d of %s: %w", kind, idx, id, ErrNotFound)
		}
		b := tx.Bucket(bucketChunks)
		v := bytes.Clone(b.Get(seq))
		if len(v) < 2 {
			return fmt.Errorf("archive: tamper: %s chunk %d of %s: %w", kind, idx, id, ErrNotFound)
		}
		v[len(v)/2] ^= 0x01
		return b.Put(bytes.Clone(seq), v)
	})
}

// TamperSeal flips one bit of the signature of a recording's seal in the
// chain of a closed archive file, through bbolt alone and without any key.
func TamperSeal(path string, id ID) error {
	return tamperFile(path, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketChain)
		var key, val []byte
		err := c.ForEach(func(k, v []byte) error {
			if e, err := parseEntry(v); err == nil && e.typ == entrySeal && e.id == id {
				key, val = bytes.Clone(k), bytes.Clone(v)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if key == nil {
			return fmt.Errorf("archive: tamper: seal of %s: %w", id, ErrNotFound)
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
