package archive

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/callvault/callvault/archive/kv"
)

// VerifyResult reports what Verify or VerifyChain found. Valid means no
// problem was found. Problems are human-readable and never contain key
// material or plaintext metadata.
type VerifyResult struct {
	Valid    bool
	Problems []string

	// Verify
	ID     ID
	Sealed bool
	Chunks int   // chunks authenticated
	Bytes  int64 // plaintext bytes authenticated

	// ExportsPending (Verify): the seal is deferred and its exports
	// entry is not written yet; original, map and metadata were
	// verified, the export hashes could not be.
	ExportsPending bool

	// VerifyChain
	Entries    int // chain entries walked
	Seals      int
	Tombstones int
	Exports    int      // exports entries of deferred seals
	HeadSeq    uint64   // sequence number of the last entry
	Head       [32]byte // hash of the last entry: anchor it outside the appliance
}

func (r *VerifyResult) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

const verifyBatch = 16 // chunks copied per read transaction

// Verify recomputes everything about one recording from the stored bytes:
// it authenticates every chunk of both blobs (reporting the blob and chunk
// index of each failure, missing, reordered or truncated chunk), recomputes
// sizes and sha256 of the original and the map and the core metadata hash,
// checks the seal's Ed25519 signature with the stored public key and its
// links to the neighbouring chain entries, and, when exports is not nil,
// compares the seal's export hashes with what exports returns. It returns an
// error only when it could not run (not found, closed, cancelled).
func (a *Archive) Verify(ctx context.Context, id ID, exports func(*Recording) ([][32]byte, error)) (*VerifyResult, error) {
	res := &VerifyResult{ID: id}
	var (
		m                   *metaRecord
		dk                  []byte
		sealRaw, prevRaw    []byte
		nextRaw             []byte
		loadErr             error
		haveSeal, existPrev bool
		later               laterEntries
	)
	err := a.view(func(tx kv.Tx) error {
		m, dk, loadErr = a.loadTx(tx, id)
		if errors.Is(loadErr, ErrNotFound) {
			return loadErr
		}
		if loadErr != nil || m.SealSeq == 0 {
			return nil
		}
		chain := tx.Bucket(bucketChain)
		v := chain.Get(seqKey(m.SealSeq))
		sealRaw, haveSeal = bytes.Clone(v), v != nil
		if m.SealSeq > 1 {
			v = chain.Get(seqKey(m.SealSeq - 1))
			prevRaw, existPrev = bytes.Clone(v), v != nil
		}
		nextRaw = bytes.Clone(chain.Get(seqKey(m.SealSeq + 1)))
		later = readLaterTx(tx, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("archive: verify %s: %w", id, err)
	}
	if loadErr != nil {
		res.problem("metadata: %v", loadErr)
		return res, nil
	}
	defer clear(dk)

	sums, err := a.verifyData(ctx, res, id, dk, m)
	if err != nil {
		return nil, fmt.Errorf("archive: verify %s: %w", id, err)
	}

	r := m.recording(id, nil)
	switch {
	case m.State == StateRecording:
		res.problem("recording is unfinished (state %s)", m.State)
	case m.SealSeq == 0:
		res.problem("recording is not sealed")
	case !haveSeal:
		res.problem("seal %d: chain entry missing", m.SealSeq)
	default:
		res.Sealed = true
		a.verifySeal(res, r, m, sums, sealRaw, prevRaw, existPrev, nextRaw, later, exports)
	}
	res.Valid = len(res.Problems) == 0
	return res, nil
}

// verifyData authenticates every chunk of both blobs of recording id and,
// for a finished recording, compares their sizes and sha256 with the
// metadata m. It returns the sha256 of each blob's plaintext.
func (a *Archive) verifyData(ctx context.Context, res *VerifyResult, id ID, dk []byte, m *metaRecord) (map[BlobKind][32]byte, error) {
	sums := map[BlobKind][32]byte{}
	for _, kind := range []BlobKind{BlobOriginal, BlobMap} {
		sum, size, err := a.verifyBlob(ctx, res, id, dk, kind, m.State != StateRecording, m.chunkSize())
		if err != nil {
			return nil, err
		}
		sums[kind] = sum
		if m.State == StateRecording {
			continue
		}
		wantSize, wantSum := m.OrigSize, m.OrigSHA256
		if kind == BlobMap {
			wantSize, wantSum = m.MapSize, m.MapSHA256
		}
		if size != wantSize {
			res.problem("%s: %d bytes stored, metadata says %d", kind, size, wantSize)
		}
		if !bytes.Equal(sum[:], wantSum) {
			res.problem("%s: sha256 of the stored bytes differs from the metadata", kind)
		}
	}

	return sums, nil
}

func (a *Archive) verifySeal(res *VerifyResult, r *Recording, m *metaRecord, sums map[BlobKind][32]byte,
	sealRaw, prevRaw []byte, existPrev bool, nextRaw []byte, later laterEntries, exports func(*Recording) ([][32]byte, error)) {
	seq := m.SealSeq
	e, err := parseEntry(sealRaw)
	if err != nil || e.typ != entrySeal {
		res.problem("seal %d: malformed chain entry", seq)
		return
	}
	if e.seq != seq || e.id != r.ID {
		res.problem("seal %d: chain entry belongs to seq %d, recording %s", seq, e.seq, e.id)
	}
	if !ed25519.Verify(a.keys.sealPub, e.message(), e.sig) {
		res.problem("seal %d: bad signature", seq)
	}
	if e.orig != sums[BlobOriginal] {
		res.problem("seal %d: original sha256 differs from the stored bytes", seq)
	}
	if e.mp != sums[BlobMap] {
		res.problem("seal %d: map sha256 differs from the stored bytes", seq)
	}
	if e.meta != r.MetaSHA256() {
		res.problem("seal %d: metadata hash differs from the stored metadata", seq)
	}
	switch {
	case seq == 1:
		if e.prev != GenesisHash(a.keys.sealPub) {
			res.problem("seal %d: first entry does not start from the genesis hash", seq)
		}
	case !existPrev:
		res.problem("seal %d: previous chain entry %d missing", seq, seq-1)
	default:
		if p, err := parseEntry(prevRaw); err != nil {
			res.problem("seal %d: previous chain entry %d malformed", seq, seq-1)
		} else if p.seq != seq-1 || p.hash() != e.prev {
			res.problem("seal %d: does not link to chain entry %d", seq, seq-1)
		}
	}
	if nextRaw != nil {
		if n, err := parseEntry(nextRaw); err != nil {
			res.problem("seal %d: next chain entry %d malformed", seq, seq+1)
		} else if n.seq != seq+1 || n.prev != e.hash() {
			res.problem("seal %d: chain entry %d does not link to it", seq, seq+1)
		}
	}
	r.Seal = e.seal()
	if e.deferred && !a.verifyLater(res, r.Seal, m, later) {
		return // pending, or its exports entry does not verify
	}
	if exports == nil {
		return
	}
	got, err := exports(r)
	if err != nil {
		res.problem("exports: %v", err)
		return
	}
	sealed := r.Seal.Exports
	if len(got) != len(sealed) {
		res.problem("exports: %d computed, %d sealed", len(got), len(sealed))
		return
	}
	for i := range got {
		if got[i] != sealed[i] {
			res.problem("export %d: sha256 differs from the sealed one", i)
		}
	}
}

// verifyBlob authenticates every stored chunk of a blob and returns the
// sha256 and size of the plaintext.
func (a *Archive) verifyBlob(ctx context.Context, res *VerifyResult, id ID, dk []byte, kind BlobKind, finished bool, csize int) ([32]byte, int64, error) {
	c, err := newChunkCipher(dk, id, kind)
	if err != nil {
		return [32]byte{}, 0, err
	}
	prefix := blobPrefix(id, kind)
	var idxs []uint64
	var seqs [][seqKeyLen]byte // where each index entry points
	err = a.view(func(tx kv.Tx) error {
		cur := tx.Bucket(bucketChunkIndex).Cursor()
		for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
			if len(k) != chunkKeyLen {
				res.problem("%s: stray index key of length %d", kind, len(k))
				continue
			}
			idx := binary.BigEndian.Uint64(k[17:])
			if len(v) != seqKeyLen {
				res.problem("%s chunk %d: index entry of %d bytes", kind, idx, len(v))
				continue
			}
			idxs = append(idxs, idx)
			seqs = append(seqs, [seqKeyLen]byte(v))
		}
		return nil
	})
	if err != nil {
		return [32]byte{}, 0, err
	}
	if len(idxs) == 0 {
		if finished {
			res.problem("%s: no chunks stored (final chunk missing)", kind)
		}
		return sha256.Sum256(nil), 0, nil
	}
	lastIdx := idxs[len(idxs)-1]
	h := sha256.New()
	var size int64
	next := uint64(0)
	slab := make([]byte, verifyBatch*chunkBufCap)
	scratch := make([]byte, 0, chunkBufCap)
	for start := 0; start < len(idxs); start += verifyBatch {
		if err := ctx.Err(); err != nil {
			return [32]byte{}, 0, err
		}
		batch := idxs[start:min(start+verifyBatch, len(idxs))]
		vals := make([][]byte, len(batch))
		err := a.view(func(tx kv.Tx) error {
			b := tx.Bucket(bucketChunks)
			for i := range batch {
				vals[i] = kv.GetAppend(b, seqs[start+i][:], slab[i*chunkBufCap:i*chunkBufCap:(i+1)*chunkBufCap])
			}
			return nil
		})
		if err != nil {
			return [32]byte{}, 0, err
		}
		for i, idx := range batch {
			if idx != next {
				res.problem("%s: chunks %d..%d missing", kind, next, idx-1)
			}
			next = idx + 1
			if vals[i] == nil {
				res.problem("%s chunk %d: index entry points at no stored value (sequence %d)", kind, idx, binary.BigEndian.Uint64(seqs[start+i][:]))
				continue
			}
			last := finished && idx == lastIdx
			p, err := c.open(vals[i], idx, last)
			if err != nil {
				// open works in place: read the chunk again to tell a
				// misplaced final flag from damage.
				raw, rerr := a.readChunk(id, kind, idx, scratch[:0])
				if rerr != nil {
					return [32]byte{}, 0, rerr
				}
				if p2, err2 := c.open(raw, idx, !last); raw != nil && err2 == nil {
					if last {
						res.problem("%s chunk %d: last stored chunk is not a final chunk (blob truncated)", kind, idx)
					} else {
						res.problem("%s chunk %d: final chunk followed by more chunks", kind, idx)
					}
					p = p2
				} else {
					res.problem("%s chunk %d: %v", kind, idx, err)
					continue
				}
			}
			if idx != lastIdx && len(p) != csize {
				res.problem("%s chunk %d: %d bytes in a chunk that is not the last", kind, idx, len(p))
			}
			h.Write(p)
			size += int64(len(p))
			res.Chunks++
			res.Bytes += int64(len(p))
		}
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum, size, nil
}

const chainBatch = 512

// VerifyChain walks the whole seal chain, seals and tombstones: every
// signature, every link (prev = hash of the previous entry), contiguous
// sequence numbers, the stored head and its signature (entries cut from
// the end), and the cross references between the chain and the
// recordings (a sealed recording whose entry is gone, a sealed recording
// gone without a tombstone). It also recomputes every recording's index
// entries from its metadata and checks the indexes both ways (a recording
// hidden from the lists, an entry naming no stored recording; see
// verifyindex.go). Gaps, insertions and removals are reported as
// problems.
func (a *Archive) VerifyChain(ctx context.Context) (*VerifyResult, error) {
	res := &VerifyResult{}
	pub := a.keys.sealPub
	// The witness first: it only grows after commits, so the chain
	// walked next reaches at least the entry it names.
	witnessSeq, witnessSig, witnessErr := a.slots.readWitness()
	prevHash, prevSeq, prevKnown := GenesisHash(pub), uint64(0), true
	sealIDs := map[uint64]ID{}
	sealOf := map[ID]uint64{}
	tombs := map[ID]uint64{}
	later := newLaterCheck()
	var after []byte
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		type pair struct{ k, v []byte }
		var batch []pair
		err := a.view(func(tx kv.Tx) error {
			c := tx.Bucket(bucketChain).Cursor()
			var k, v []byte
			if after == nil {
				k, v = c.First()
			} else if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
				k, v = c.Next()
			}
			for ; k != nil && len(batch) < chainBatch; k, v = c.Next() {
				batch = append(batch, pair{bytes.Clone(k), bytes.Clone(v)})
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("archive: verify chain: %w", err)
		}
		if len(batch) == 0 {
			break
		}
		after = batch[len(batch)-1].k
		for _, x := range batch {
			if len(x.k) != seqKeyLen {
				res.problem("chain: entry under a key of length %d (inserted)", len(x.k))
				continue
			}
			k := binary.BigEndian.Uint64(x.k)
			e, err := parseEntry(x.v)
			if err != nil {
				res.problem("chain entry %d: malformed", k)
				prevSeq, prevKnown = k, false
				continue
			}
			res.Entries++
			switch {
			case e.seq != k:
				res.problem("chain entry %d: stored under key %d (moved or inserted)", e.seq, k)
			case k > prevSeq+1:
				res.problem("chain entries %d..%d missing (removed)", prevSeq+1, k-1)
			}
			if prevKnown && e.prev != prevHash {
				res.problem("chain entry %d: does not link to the entry before it (an entry was removed, inserted or replaced)", k)
			}
			if !ed25519.Verify(pub, e.message(), e.sig) {
				res.problem("chain entry %d: bad signature", k)
			}
			switch e.typ {
			case entrySeal:
				res.Seals++
				if s, dup := sealOf[e.id]; dup {
					res.problem("chain entry %d: recording %s already sealed by entry %d", k, e.id, s)
				}
				sealOf[e.id], sealIDs[e.seq] = e.seq, e.id
				later.seal(e)
			case entryExports:
				res.Exports++
				later.exports(res, e, sealIDs)
			case entryTombstone:
				res.Tombstones++
				if sha256.Sum256(e.note) != e.noteHash {
					res.problem("chain entry %d: tombstone note altered", k)
				}
				if e.sealSeq != 0 && sealIDs[e.sealSeq] != e.id {
					res.problem("chain entry %d: tombstone refers to seal %d of another recording", k, e.sealSeq)
				}
				tombs[e.id] = e.seq
			}
			prevHash, prevSeq, prevKnown = e.hash(), k, true
		}
	}
	res.HeadSeq, res.Head = prevSeq, prevHash

	// The stored head, signed with the seal key, detects entries cut from
	// the end; the indexes are checked against the recordings.
	var head []byte
	present := map[ID]bool{}
	type recCheck struct {
		id  ID
		seq uint64
		m   *metaRecord
		err error
	}
	var recs []recCheck
	ix := newIndexCheck(res)
	var afterID []byte
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := 0
		err := a.view(func(tx kv.Tx) error {
			head = bytes.Clone(tx.Bucket(bucketMeta).Get(metaChainHead))
			ix.ready(tx)
			c := tx.Bucket(bucketRecs).Cursor()
			var k []byte
			if afterID == nil {
				k, _ = c.First()
			} else if k, _ = c.Seek(afterID); k != nil && bytes.Equal(k, afterID) {
				k, _ = c.Next()
			}
			for ; k != nil && n < chainBatch; k, _ = c.Next() {
				n++
				afterID = bytes.Clone(k)
				if len(k) != len(ID{}) {
					res.problem("recordings: key of length %d", len(k))
					continue
				}
				id := ID(k)
				m, dk, err := a.loadTx(tx, id)
				clear(dk)
				rc := recCheck{id: id, err: err}
				if err == nil {
					rc.seq, rc.m = m.SealSeq, m
					a.checkIndexesTx(tx, ix, id, m)
				} else {
					ix.unreadable[id] = true
				}
				recs = append(recs, rc)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("archive: verify chain: %w", err)
		}
		if n < chainBatch {
			break
		}
	}
	switch {
	case head == nil && res.Entries > 0:
		res.problem("chain head record missing")
	case head != nil:
		hs, hh, err := parseChainHead(pub, head)
		switch {
		case errors.Is(err, errHeadFormat):
			res.problem("chain head record malformed")
		case err != nil:
			res.problem("%v", err)
		}
		if err != errHeadFormat && (hs != prevSeq || hh != prevHash) {
			res.problem("chain head record names entry %d, but the chain ends at entry %d (entries removed from the end, or appended)", hs, prevSeq)
		}
	}
	checkWitness(res, pub, witnessSeq, witnessSig, witnessErr, prevSeq, func(seq uint64) ([32]byte, bool) {
		var h [32]byte
		ok := false
		_ = a.view(func(tx kv.Tx) error {
			if e, err := parseEntry(tx.Bucket(bucketChain).Get(seqKey(seq))); err == nil && e.seq == seq {
				h, ok = e.hash(), true
			}
			return nil
		})
		return h, ok
	})
	for _, rc := range recs {
		present[rc.id] = true
		switch {
		case rc.err != nil:
			res.problem("recording %s: %v", rc.id, rc.err)
		case rc.seq != 0 && sealIDs[rc.seq] != rc.id:
			res.problem("recording %s: its seal %d is missing from the chain", rc.id, rc.seq)
		default:
			later.recording(res, rc.id, rc.m)
		}
		if t, ok := tombs[rc.id]; ok {
			res.problem("recording %s: still present although tombstone %d deleted it", rc.id, t)
		}
	}
	if err := a.checkIndexEntries(ctx, ix); err != nil {
		return nil, fmt.Errorf("archive: verify chain: %w", err)
	}
	seqs := make([]uint64, 0, len(sealIDs))
	for s := range sealIDs {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	for _, s := range seqs {
		id := sealIDs[s]
		if _, t := tombs[id]; !t && !present[id] {
			res.problem("recording %s (seal %d) is gone without a tombstone", id, s)
		}
	}
	res.Valid = len(res.Problems) == 0
	return res, nil
}

// Stored returns the ID of every stored recording, in the recycle bin or
// not, finished or not, in ID order: what an offline verification walks
// (a list walks the time index, which an edit of the file can empty).
func (a *Archive) Stored(ctx context.Context) ([]ID, error) {
	return a.idsIn(ctx, bucketRecs)
}
