package archive

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/callvault/callvault/archive/kv"
	"github.com/callvault/callvault/archive/kv/boltkv"
)

// Chunk storage (from schema 2 on). A chunk value is stored once, under
// the next sequence number of bucketChunks, and found through
// bucketChunkIndex (id ‖ kind ‖ index → sequence number).
//
// Why: live uploads write chunks of thousands of recordings at once. Keyed
// by recording, every new chunk landed in a leaf next to that recording's
// older chunks, and bbolt rewrites a dirty leaf whole (two or more 64 KiB
// values, as a leaf never holds fewer than two keys): each chunk cost two to
// three times its size in page writes and copies, and a group commit
// dirtied thousands of such leaves. Under sequence numbers allocated in
// commit order every insert appends at the right edge of the tree; only the
// last leaf (a few chunks) and the small index leaves are rewritten. The
// AEAD still binds a value to recording, blob kind, index and final flag
// (format.go), so a value moved to another slot or an index entry pointing
// at another chunk fails authentication.

// chunkStore writes chunks within one write transaction.
type chunkStore struct {
	data, index kv.Bucket
	ic          kv.Cursor // on index, reused: a Get per chunk would allocate a cursor
}

func openChunkStore(tx kv.Tx) chunkStore {
	s := chunkStore{data: tx.Bucket(bucketChunks), index: tx.Bucket(bucketChunkIndex)}
	// Values are only ever appended at the right edge: fill leaves fully
	// before splitting (bbolt's advice for sequential inserts). Other
	// backends place values their own way.
	if b := boltkv.BoltBucket(s.data); b != nil {
		b.FillPercent = 1.0
	}
	return s
}

// raiseChunkSequence sets the sequence of bucketChunks to its last key
// when it is behind (a file edited by hand), so that a new chunk never
// overwrites a stored one. Open runs it once: a cursor on chunks reads the
// last value too (from the chunk file, or from S3), which a check in every
// group commit would pay each time.
func raiseChunkSequence(tx kv.Tx) error {
	data := tx.Bucket(bucketChunks)
	if k, _ := data.Cursor().Last(); len(k) == seqKeyLen {
		if last := binary.BigEndian.Uint64(k); last > data.Sequence() {
			return data.SetSequence(last)
		}
	}
	return nil
}

// put stores the chunk value val under key (a chunkKey): val under the next
// sequence number, written into seq, and seq under key in the index. bbolt
// keeps references to val and seq until the transaction ends, so both must
// stay untouched until then. A chunk stored under key before is replaced
// and its old value deleted.
func (s *chunkStore) put(key, val []byte, seq *[seqKeyLen]byte) error {
	if s.ic == nil {
		s.ic = s.index.Cursor()
	}
	if k, old := s.ic.Seek(key); bytes.Equal(k, key) && len(old) == seqKeyLen {
		if err := s.data.Delete(old); err != nil {
			return err
		}
	}
	n, err := s.data.NextSequence()
	if err != nil {
		return err
	}
	binary.BigEndian.PutUint64(seq[:], n)
	if err := s.data.Put(seq[:], val); err != nil {
		return err
	}
	return s.index.Put(key, seq[:])
}

// deleteFrom deletes the chunks whose index keys start with prefix and are
// not before start: the index entries and the values they point at. Keys
// are collected first: deleting under a moving cursor skips keys.
func (s *chunkStore) deleteFrom(prefix, start []byte) error {
	var keys, seqs [][]byte
	c := s.index.Cursor()
	for k, v := c.Seek(start); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		keys = append(keys, bytes.Clone(k))
		if len(v) == seqKeyLen {
			seqs = append(seqs, bytes.Clone(v))
		}
	}
	for _, k := range seqs {
		if err := s.data.Delete(k); err != nil {
			return err
		}
	}
	for _, k := range keys {
		if err := s.index.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// deleteRecording deletes every chunk of a recording, of any blob kind.
func (s *chunkStore) deleteRecording(id ID) error { return s.deleteFrom(id[:], id[:]) }

// deleteBlobFrom deletes the chunks of a blob from index from on.
func (s *chunkStore) deleteBlobFrom(id ID, kind BlobKind, from uint64) error {
	start := chunkKey(id, kind, from)
	return s.deleteFrom(start[:17], start[:])
}

// appendChunk returns dst with the stored value of a chunk appended: nil
// when the index has no entry or the entry points at no value.
func appendChunk(tx kv.Tx, id ID, kind BlobKind, idx uint64, dst []byte) ([]byte, error) {
	k := chunkKey(id, kind, idx)
	seq := tx.Bucket(bucketChunkIndex).Get(k[:])
	if seq == nil {
		return nil, nil
	}
	if len(seq) != seqKeyLen {
		return nil, &ChunkError{ID: id, Kind: kind, Index: idx, Reason: fmt.Sprintf("index entry of %d bytes", len(seq)), Err: ErrCorrupt}
	}
	return kv.GetAppend(tx.Bucket(bucketChunks), seq, dst), nil
}
