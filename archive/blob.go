package archive

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/callvault/callvault/archive/kv"
)

// Blob reads one blob of a recording. Each chunk is read in its own short
// read transaction, copied out, then authenticated and decrypted; the last
// chunk read is cached. ReadAt may be called concurrently; Read and Seek
// share one position. Memory: one chunk buffer.
type Blob struct {
	a       *Archive
	id      ID
	kind    BlobKind
	size    int64
	csize   int64 // plaintext bytes of a full chunk
	nchunks uint64
	final   bool // the last chunk carries the final flag (finished recording)

	mu     sync.Mutex
	c      *chunkCipher
	buf    []byte
	plain  []byte
	cached uint64
	have   bool
	pos    int64
}

// OpenBlob opens a blob for reading. For a recording still in state
// "recording" the blob covers the committed chunks.
func (a *Archive) OpenBlob(ctx context.Context, id ID, kind BlobKind) (*Blob, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !kind.valid() {
		return nil, fmt.Errorf("archive: open blob: kind %d: %w", kind, ErrInvalid)
	}
	b := &Blob{a: a, id: id, kind: kind}
	err := a.view(func(tx kv.Tx) error {
		m, dk, err := a.loadTx(tx, id)
		if err != nil {
			return err
		}
		defer clear(dk)
		if b.c, err = newChunkCipher(dk, id, kind); err != nil {
			return err
		}
		b.csize = int64(m.chunkSize())
		if m.State != StateRecording {
			b.size = m.OrigSize
			if kind == BlobMap {
				b.size = m.MapSize
			}
			b.nchunks, b.final = uint64(b.size/b.csize)+1, true
			return nil
		}
		b.nchunks = countChunks(tx, id, kind)
		b.size = int64(b.nchunks) * b.csize
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("archive: open blob: %w", err)
	}
	b.buf = make([]byte, 0, chunkBufCap)
	return b, nil
}

// countChunks counts the contiguous chunks 0, 1, ... of a blob.
func countChunks(tx kv.Tx, id ID, kind BlobKind) uint64 {
	prefix := blobPrefix(id, kind)
	var n uint64
	c := tx.Bucket(bucketChunkIndex).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) == chunkKeyLen; k, _ = c.Next() {
		if binary.BigEndian.Uint64(k[17:]) != n {
			break
		}
		n++
	}
	return n
}

// readChunk copies a stored chunk value, found through the chunk index,
// into dst in its own read transaction. It returns nil, nil when the chunk
// is missing (no index entry, or one pointing at no value) but the
// recording exists, and ErrNotFound when the recording is gone.
func (a *Archive) readChunk(id ID, kind BlobKind, idx uint64, dst []byte) ([]byte, error) {
	var out []byte
	err := a.view(func(tx kv.Tx) error {
		v, err := appendChunk(tx, id, kind, idx, dst)
		if err != nil {
			return err
		}
		if v == nil {
			if tx.Bucket(bucketDataKeys).Get(id[:]) == nil {
				return fmt.Errorf("archive: recording %s: %w", id, ErrNotFound)
			}
			return nil
		}
		if len(v)-len(dst) > chunkBufCap {
			return &ChunkError{ID: id, Kind: kind, Index: idx, Reason: "stored value too long", Err: ErrCorrupt}
		}
		out = v
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Size returns the blob's length in bytes.
func (b *Blob) Size() int64 { return b.size }

// String identifies the blob without revealing key material.
func (b *Blob) String() string { return "archive.Blob(" + b.id.String() + " " + b.kind.String() + ")" }

// GoString implements fmt.GoStringer like String.
func (b *Blob) GoString() string { return b.String() }

// load returns the plaintext of chunk idx.
func (b *Blob) load(idx uint64) ([]byte, error) {
	if b.have && b.cached == idx {
		return b.plain, nil
	}
	b.have = false
	if idx >= b.nchunks {
		return nil, &ChunkError{ID: b.id, Kind: b.kind, Index: idx, Reason: "beyond the end", Err: ErrCorrupt}
	}
	val, err := b.a.readChunk(b.id, b.kind, idx, b.buf[:0])
	if err != nil {
		return nil, err
	}
	if val == nil {
		return nil, &ChunkError{ID: b.id, Kind: b.kind, Index: idx, Reason: "missing", Err: ErrCorrupt}
	}
	last := b.final && idx == b.nchunks-1
	p, err := b.c.open(val, idx, last)
	if err != nil {
		return nil, &ChunkError{ID: b.id, Kind: b.kind, Index: idx, Reason: err.Error(), Err: ErrCorrupt}
	}
	want := int(b.csize)
	if last {
		want = int(b.size - int64(idx)*b.csize)
	}
	if len(p) != want {
		return nil, &ChunkError{ID: b.id, Kind: b.kind, Index: idx, Reason: fmt.Sprintf("holds %d bytes, want %d", len(p), want), Err: ErrCorrupt}
	}
	b.plain, b.cached, b.have = p, idx, true
	return p, nil
}

// ReadAt implements io.ReaderAt.
func (b *Blob) ReadAt(p []byte, off int64) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.readAt(p, off)
}

func (b *Blob) readAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("archive: blob read at %d: %w", off, ErrInvalid)
	}
	n := 0
	for n < len(p) && off < b.size {
		chunk, err := b.load(uint64(off / b.csize))
		if err != nil {
			return n, err
		}
		m := copy(p[n:], chunk[off%b.csize:])
		n += m
		off += int64(m)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Read implements io.Reader.
func (b *Blob) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(p) == 0 {
		return 0, nil
	}
	n, err := b.readAt(p, b.pos)
	b.pos += int64(n)
	if n > 0 && errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}

// Seek implements io.Seeker.
func (b *Blob) Seek(offset int64, whence int) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = b.pos + offset
	case io.SeekEnd:
		abs = b.size + offset
	default:
		return 0, fmt.Errorf("archive: blob seek: whence %d: %w", whence, ErrInvalid)
	}
	if abs < 0 {
		return 0, fmt.Errorf("archive: blob seek to %d: %w", abs, ErrInvalid)
	}
	b.pos = abs
	return abs, nil
}
