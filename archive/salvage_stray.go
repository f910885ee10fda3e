package archive

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"slices"

	"github.com/callvault/callvault/archive/kv"
	"github.com/callvault/callvault/archive/kv/boltkv"
	bolt "go.etcd.io/bbolt"
)

// Chunks whose references were lost. The chunks table holds only a
// reference per chunk (its place in the chunk file), about 110 to a leaf,
// so one damaged leaf loses the references of ≈ 110 chunks while their
// values are intact in the chunk file. Salvage finds them again: the
// chunk index still names each chunk's sequence number, the recording's
// data key opens only its own chunks at their own index (the AEAD binds
// id, kind, index and final flag), and every value starts a block of the
// chunk file. So a missing chunk is looked for among the blocks that no
// readable reference covers and that start with a chunk's version byte,
// and taken when it authenticates.

// strayTrialBudget bounds the authentication attempts of one salvage
// (each reads and opens up to 64 KiB: ≈ 30 µs), so that a file whose
// references are mostly unreadable does not keep salvage busy for hours.
var strayTrialBudget = 1_000_000

// strayChunks is the chunk file's blocks that may hold a lost chunk.
type strayChunks struct {
	f     io.ReaderAt
	size  int64
	offs  []int64 // candidate block offsets, ascending
	taken []bool
	next  int // the candidate after the last one found: tried first
	left  int // trials left in the budget
	buf   []byte
	open  []byte // buf's copy, opened in place
}

// strays returns the candidates of src's chunk file, found on first use;
// nil when src keeps no chunk file.
func (s *salvageSource) strays(ctx context.Context, res *SalvageResult) *strayChunks {
	if s.stray != nil || s.bolt == nil {
		return s.stray
	}
	f, size := s.bolt.ValueFile()
	if f == nil {
		return nil
	}
	refs := s.referencedSpans(size)
	st := &strayChunks{f: f, size: size, left: strayTrialBudget, buf: make([]byte, chunkBufCap), open: make([]byte, chunkBufCap)}
	// Read the gaps between referenced ranges and note every block that
	// starts with a chunk's version byte.
	const block = boltkv.ValueBlock
	piece := make([]byte, 1<<20)
	at := int64(block) // past the file's header
	scan := func(from, to int64) {
		for from < to && ctx.Err() == nil {
			n := min(int64(len(piece)), to-from)
			m, err := f.ReadAt(piece[:n], from)
			for i := 0; i < m; i += block {
				if piece[i] >= minFormat && piece[i] <= curFormat {
					st.offs = append(st.offs, from+int64(i))
				}
			}
			if err != nil {
				if err != io.EOF {
					res.Problems = append(res.Problems, fmt.Sprintf("chunk file: reading at %d: %v", from+int64(m), err))
				}
				return
			}
			from += n
		}
	}
	for _, r := range refs {
		if r[0] > at {
			scan(at, r[0])
		}
		at = max(at, (r[0]+r[1]+block-1)&^(block-1))
	}
	scan(at, size)
	st.taken = make([]bool, len(st.offs))
	s.stray = st
	return st
}

// referencedSpans returns the ranges of the chunk file that the readable
// references point at, sorted. A damaged page ends a walk, so the
// chunks table is walked from both ends; each walk is bounded by the
// number of blocks the file has, in case damage makes it circle.
func (s *salvageSource) referencedSpans(size int64) [][2]int64 {
	var spans [][2]int64
	limit := size/boltkv.ValueBlock + 1
	walk := func(first, step func(*bolt.Cursor) ([]byte, []byte)) {
		_ = guard("salvage", func() error {
			return s.bolt.DB().View(func(tx *bolt.Tx) error {
				b := tx.Bucket(bucketChunks)
				if b == nil {
					return nil
				}
				c := b.Cursor()
				n := int64(0)
				for k, v := first(c); k != nil && n < limit; k, v = step(c) {
					// A reference outside the file is damage, not a
					// range to skip.
					if off, l, ok := boltkv.ParseRef(v); ok && off >= boltkv.ValueBlock && l <= size-off {
						spans = append(spans, [2]int64{off, l})
					}
					n++
				}
				return nil
			})
		})
	}
	walk((*bolt.Cursor).First, (*bolt.Cursor).Next)
	walk((*bolt.Cursor).Last, (*bolt.Cursor).Prev)
	slices.SortFunc(spans, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
	return spans
}

// find returns the stored value of chunk idx of the blob c opens, n bytes
// long, from the candidates, or nil.
func (st *strayChunks) find(ctx context.Context, c *chunkCipher, idx uint64, last bool, n int) []byte {
	if n < chunkOverhead || n > len(st.buf) {
		return nil
	}
	for k := range st.offs {
		if st.left <= 0 || ctx.Err() != nil {
			return nil
		}
		i := (st.next + k) % len(st.offs)
		if st.taken[i] || st.offs[i]+int64(n) > st.size {
			continue
		}
		st.left--
		val := st.buf[:n]
		if _, err := st.f.ReadAt(val, st.offs[i]); err != nil {
			continue
		}
		if _, err := c.open(append(st.open[:0], val...), idx, last); err != nil {
			continue
		}
		st.taken[i] = true
		st.next = i + 1
		return bytes.Clone(val)
	}
	return nil
}

// recoverChunks looks in the chunk file for the chunks of recording id
// whose values do not read or do not authenticate (their references lost
// to damage), and serves those it finds to later reads (strayOverlay). It
// returns how many it found.
func (s *salvageSource) recoverChunks(ctx context.Context, res *SalvageResult, id ID, dk []byte, m *metaRecord) int {
	found := 0
	for _, kind := range []BlobKind{BlobOriginal, BlobMap} {
		c, err := newChunkCipher(dk, id, kind)
		if err != nil {
			return found
		}
		prefix := blobPrefix(id, kind)
		var idxs []uint64
		var seqs [][seqKeyLen]byte
		err = s.a.view(func(tx kv.Tx) error {
			cur := tx.Bucket(bucketChunkIndex).Cursor()
			for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
				if len(k) == chunkKeyLen && len(v) == seqKeyLen {
					idxs = append(idxs, binary.BigEndian.Uint64(k[17:]))
					seqs = append(seqs, [seqKeyLen]byte(v))
				}
			}
			return nil
		})
		if err != nil || len(idxs) == 0 {
			continue
		}
		csize := int64(m.chunkSize())
		size := m.OrigSize
		if kind == BlobMap {
			size = m.MapSize
		}
		finished := m.State != StateRecording
		for i, idx := range idxs {
			last := finished && i == len(idxs)-1
			n := int(csize)
			if last {
				n = int(size - int64(idx)*csize)
				if n < 0 || int64(n) >= csize {
					continue // the metadata does not describe this chunk
				}
			}
			if s.chunkReads(c, seqs[i], idx, last) {
				continue
			}
			st := s.strays(ctx, res)
			if st == nil {
				return found
			}
			if v := st.find(ctx, c, idx, last, n+chunkOverhead); v != nil {
				s.overlay.found[string(seqs[i][:])] = v
				found++
			}
		}
	}
	return found
}

// chunkReads reports whether the chunk under seq reads and authenticates
// as chunk idx of c's blob.
func (s *salvageSource) chunkReads(c *chunkCipher, seq [seqKeyLen]byte, idx uint64, last bool) bool {
	var val []byte
	err := s.a.view(func(tx kv.Tx) error {
		val = bytes.Clone(tx.Bucket(bucketChunks).Get(seq[:]))
		return nil
	})
	if err != nil || val == nil {
		return false
	}
	_, err = c.open(val, idx, last)
	return err == nil
}

// strayOverlay is salvage's view of src: the chunks found by
// recoverChunks read in place of what the chunks table holds under their
// sequence numbers.
type strayOverlay struct {
	kv.Store
	found map[string][]byte // by sequence key
}

func (o *strayOverlay) View(fn func(kv.Tx) error) error {
	return o.Store.View(func(tx kv.Tx) error { return fn(strayTx{tx, o}) })
}

type strayTx struct {
	kv.Tx
	o *strayOverlay
}

func (t strayTx) Bucket(name []byte) kv.Bucket {
	b := t.Tx.Bucket(name)
	if b != nil && len(t.o.found) > 0 && bytes.Equal(name, bucketChunks) {
		return strayBucket{b, t.o}
	}
	return b
}

// innerBucket names the embedded bucket (kv.Bucket has a Bucket method).
type innerBucket = kv.Bucket

type strayBucket struct {
	innerBucket
	o *strayOverlay
}

func (b strayBucket) Get(key []byte) []byte {
	if v, ok := b.o.found[string(key)]; ok {
		return v
	}
	return b.innerBucket.Get(key)
}
