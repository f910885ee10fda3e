package archive

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/callvault/callvault/archive/kv"
)

// NewRecording describes an upload that is starting.
type NewRecording struct {
	FileName string
	CallGUID string
	User     string
	Received time.Time // zero means now
	Gzip     bool
	// Imported marks a capture stored by callvault import, not a call a
	// phone just recorded (Recording.Imported).
	Imported bool
}

// Final is what Finish records about a recording.
type Final struct {
	State      State // StateComplete or StateInterrupted
	StartTime  time.Time
	DurationMs int64
	GzipSHA256 []byte
	Info       []byte // ingest result (JSON), at most 8 MiB
	// Parties are the numbers and names of the call's parties (from SIP
	// From/To), at most MaxParties of at most MaxPartyLen bytes each;
	// MayRead matches them against a user's extensions and access list.
	Parties []string
	// SealDeferred also seals the recording, as SealDeferred does, in
	// the transaction that finishes it: one commit instead of two before
	// an upload is answered. While sealing is off the recording stays
	// listed by Unsealed, as it does without this.
	SealDeferred bool
}

// Writer writes the two blobs of one recording. Its methods must be called
// from one goroutine at a time. Memory: one 64 KiB buffer per blob kind
// while it holds a partial chunk, one full chunk being hashed and sealed,
// plus its chunks waiting in the commit queue.
//
// A full chunk is hashed, sealed and queued for the committer by a
// goroutine of the writer's own (the pipeline), so the caller's next reads
// overlap with that work; the pipeline runs while chunks wait and ends
// when none does, so a writer that fills a chunk now and then (a live
// call) holds no goroutine in between.
type Writer struct {
	a    *Archive
	id   ID
	meta *metaRecord
	mac  cipher.AEAD // metadata cipher
	orig blobWriter
	mp   blobWriter

	mu     sync.Mutex // guards err, written by the committer
	err    error
	closed bool // Finish was called

	resumed bool   // made by Resume: its chunks commit also while the disk is full
	note    []byte // the chunk note Resume found for the committed original

	// queued counts the writer's chunks in the commit queue: sent and
	// not yet through a commit (committed or failed).
	queued atomic.Int64

	pmu   sync.Mutex
	pcond sync.Cond  // on pmu: the pipeline took a job or went idle
	pq    []chunkJob // full chunks waiting for the pipeline, in order
	pn    int        // chunks handed to the pipeline and not yet queued
	prun  bool       // the pipeline goroutine is running
}

// chunkJob is a full chunk of one blob waiting to be hashed, sealed and
// queued.
type chunkJob struct {
	b    *blobWriter
	buf  *[]byte // plaintext at [1:1+b.csize]
	idx  uint64
	note []byte // NoteOriginal's note for this chunk
}

// pipeDepth bounds the full chunks a writer has handed to its pipeline and
// that are not queued for the committer yet. One is enough for the caller
// to fill the next chunk while the pipeline seals the last, and keeps a
// writer's memory where it was when it sealed chunks itself: when the
// committer falls behind, the caller waits with one full chunk out.
const pipeDepth = 1

type blobWriter struct {
	kind  BlobKind
	c     *chunkCipher
	buf   *[]byte // pooled; plaintext at [1:1+n]
	n     int
	csize int // plaintext bytes of a full chunk
	// stage holds the start of a chunk until it outgrows stageMax: a live
	// call's map grows by a few bytes a second, and a whole pooled chunk
	// buffer per open call would be most of its memory. It is a list of
	// pooled segments of stageMax bytes, staged bytes in all, so that a
	// growing chunk is never reallocated and copied.
	stage  []*[stageMax]byte
	staged int
	idx    uint64 // index of the chunk being filled
	size   int64
	h      hash.Hash // of the chunks handed to the pipeline or sealed, in order
	note   []byte    // NoteOriginal's note for the chunk being filled
}

func newWriter(a *Archive, id ID, dk []byte, m *metaRecord) (*Writer, error) {
	w := &Writer{a: a, id: id, meta: m}
	w.pcond.L = &w.pmu
	var err error
	if w.mac, err = metaAEAD(dk); err != nil {
		return nil, err
	}
	for _, b := range []*blobWriter{&w.orig, &w.mp} {
		b.kind = BlobOriginal
		if b == &w.mp {
			b.kind = BlobMap
		}
		if b.c, err = newChunkCipher(dk, id, b.kind); err != nil {
			return nil, err
		}
		b.h = sha256.New()
		b.csize = m.chunkSize()
	}
	return w, nil
}

// String identifies the writer without revealing key material.
func (w *Writer) String() string { return "archive.Writer(" + w.id.String() + ")" }

// GoString implements fmt.GoStringer like String.
func (w *Writer) GoString() string { return w.String() }

func validText(field, s string) error {
	if len(s) > maxNameLen || !utf8.ValidString(s) {
		return fmt.Errorf("archive: %s: too long or not UTF-8: %w", field, ErrInvalid)
	}
	return nil
}

// Create starts a recording. It returns after a durable record in state
// "recording" is committed, so a crash from then on leaves a recording
// that Unfinished reports. If ctx ends first, the record may still be
// committed (and then shows up in Unfinished).
func (a *Archive) Create(ctx context.Context, nr NewRecording) (*Writer, error) {
	for _, f := range [][2]string{{"file name", nr.FileName}, {"call id", nr.CallGUID}, {"user", nr.User}} {
		if err := validText(f[0], f[1]); err != nil {
			return nil, err
		}
	}
	if err := a.space.admit(); err != nil {
		return nil, fmt.Errorf("archive: create: %w", err)
	}
	received := nr.Received
	if received.IsZero() {
		received = a.now()
	}
	id := NewID()
	dk := randomKey()
	defer clear(dk)
	m := &metaRecord{
		V: curFormat, State: StateRecording, Received: nsOf(received), Chunk: createChunkSize,
		FileName: nr.FileName, CallGUID: nr.CallGUID, User: nr.User, Gzip: nr.Gzip,
		Imported: nr.Imported,
	}
	w, err := newWriter(a, id, dk, m)
	if err != nil {
		return nil, err
	}
	box, err := sealMeta(w.mac, id, m)
	if err != nil {
		return nil, err
	}
	wrapped := a.wrapDataKey(id, dk)
	// Claimed before its record is visible to the other processes.
	if got, err := a.claim(ctx, id); err != nil {
		return nil, fmt.Errorf("archive: create: %w", err)
	} else if !got { // a fresh random id another process holds: a hash collision
		return nil, fmt.Errorf("archive: create: id %s claimed by another process: %w", id, ErrInvalid)
	}
	var slot uint64 // taken by the first run of the transaction
	tk, rk := timeKey(m.indexNS(), id), timeKey(m.retentionNS(), id)
	var ck []byte
	if nr.CallGUID != "" {
		ck = a.callKey(nr.CallGUID, id)
	}
	err = a.update(ctx, func(tx kv.Tx) error {
		a.listTouchTx(tx, id)
		if tx.Bucket(bucketDataKeys).Get(id[:]) != nil {
			return fmt.Errorf("archive: id collision: %w", ErrInvalid)
		}
		if slot == 0 {
			slot = a.slots.alloc()
			if err := a.slots.put(slot, id, wrapped); err != nil {
				return err
			}
		}
		puts := []struct{ b, k, v []byte }{
			{bucketDataKeys, id[:], a.dataKeyValue(slot, wrapped)},
			{bucketRecs, id[:], box},
			{bucketByTime, tk[:], []byte{}},
			{bucketByRetention, rk[:], []byte{}},
			{bucketUnfinished, id[:], []byte{}},
			// Its who keys come after it is finished (whopending.go).
			{bucketWhoPending, tk[:], a.unfinishedWho(m.User)},
		}
		if ck != nil {
			puts = append(puts, struct{ b, k, v []byte }{bucketByCall, ck, []byte{}})
		}
		for _, p := range puts {
			if err := tx.Bucket(p.b).Put(p.k, p.v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// After ctx ended the transaction may still run (and commit):
		// its slot stays; otherwise it did not commit and the slot, if
		// written, is given back.
		if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			if slot != 0 {
				a.slots.release(slot)
			}
			a.release(id)
		}
		return nil, fmt.Errorf("archive: create: %w", err)
	}
	return w, nil
}

// Resume reopens a recording left in state "recording" by a crash. The
// original blob keeps its committed chunks (all full) and continues after
// them; the map blob is reset to empty, since the caller rebuilds it by
// reparsing the original. Resume must not be used on a recording that a
// live Writer of this process is still writing.
func (a *Archive) Resume(ctx context.Context, id ID) (*Writer, error) {
	var (
		m  *metaRecord
		dk []byte
	)
	err := a.view(func(tx kv.Tx) error {
		var err error
		m, dk, err = a.loadTx(tx, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("archive: resume: %w", err)
	}
	defer clear(dk)
	if m.State != StateRecording {
		return nil, fmt.Errorf("archive: resume %s: state %s: %w", id, m.State, ErrState)
	}
	w, err := newWriter(a, id, dk, m)
	if err != nil {
		return nil, err
	}
	w.resumed = true
	// Rehash the committed original, chunk by chunk, one short read
	// transaction each.
	buf := a.getBuf()
	defer a.bufs.Put(buf)
	for idx := uint64(0); ; idx++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		val, err := a.readChunk(id, BlobOriginal, idx, (*buf)[:0])
		if err != nil {
			return nil, fmt.Errorf("archive: resume: %w", err)
		}
		if val == nil {
			break
		}
		p, err := w.orig.c.open(val, idx, false)
		if err != nil {
			return nil, fmt.Errorf("archive: resume: %w", &ChunkError{ID: id, Kind: BlobOriginal, Index: idx, Reason: err.Error(), Err: ErrCorrupt})
		}
		if len(p) != w.orig.csize {
			return nil, fmt.Errorf("archive: resume: %w", &ChunkError{ID: id, Kind: BlobOriginal, Index: idx, Reason: "short chunk before the end", Err: ErrCorrupt})
		}
		w.orig.h.Write(p)
		w.orig.idx = idx + 1
		w.orig.size += int64(w.orig.csize)
	}
	err = a.view(func(tx kv.Tx) error {
		if box := tx.Bucket(bucketUnfinished).Get(id[:]); len(box) > 0 {
			// A note of a chunk that is not the last one kept (or that
			// does not authenticate) describes other bytes: none.
			w.note, _ = boxOpen(w.mac, chunkNoteAAD(id, w.orig.idx), box)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("archive: resume: %w", err)
	}
	err = a.update(ctx, func(tx kv.Tx) error {
		s := openChunkStore(tx)
		if err := s.deleteBlobFrom(id, BlobMap, 0); err != nil {
			return err
		}
		// Chunks after a gap cannot be part of the blob.
		return s.deleteBlobFrom(id, BlobOriginal, w.orig.idx)
	})
	if err != nil {
		return nil, fmt.Errorf("archive: resume: %w", err)
	}
	a.log.Info("archive recording resumed", "id", id.String(), "committed_bytes", w.orig.size)
	return w, nil
}

// ID returns the recording's ID.
func (w *Writer) ID() ID { return w.id }

// OriginalSize returns the bytes of the original accepted so far
// (committed plus buffered).
func (w *Writer) OriginalSize() int64 { return w.orig.size }

// OriginalDigest returns a SHA-256 of the original written so far (a
// hash of its own, which the caller may go on writing to) and the length
// it covers. It waits for the chunks handed to the pipeline to be hashed;
// like the writes, it must not run concurrently with them.
func (w *Writer) OriginalDigest() (hash.Hash, int64, error) {
	w.drain()
	if err := w.check(); err != nil {
		return nil, 0, err
	}
	b := &w.orig
	c, ok := b.h.(hash.Cloner)
	if !ok {
		return nil, 0, fmt.Errorf("archive: writer %s: the original's hash cannot be copied", w.id)
	}
	d, err := c.Clone()
	if err != nil {
		return nil, 0, err
	}
	if b.buf != nil {
		d.Write((*b.buf)[1 : 1+b.n])
	}
	b.eachStaged(func(p []byte) { d.Write(p) })
	return d, b.size, nil
}

// ChunkSize returns the plaintext size of the recording's full chunks:
// the original's chunk boundaries fall at its multiples.
func (w *Writer) ChunkSize() int { return w.orig.csize }

// WriteOriginal appends to the original blob. It blocks while the commit
// queue is full. After an error the writer is broken (the recording stays
// "recording" until Resumed; see Abort). A full disk gives an error
// matching ErrNoSpace.
func (w *Writer) WriteOriginal(p []byte) (int, error) { return w.write(&w.orig, p) }

// NoteOriginal attaches note (at most MaxChunkNote bytes) to the chunk of
// the original being filled: it is committed with that chunk, in the same
// transaction, sealed under the recording's metadata key, and replaces the
// note of every earlier chunk. The caller's note describes the original up
// to the end of that chunk (what the caller must remember of those bytes
// to finish the recording after a crash); Resume's Writer returns it from
// Note when that chunk is the last one committed. Finish drops it.
func (w *Writer) NoteOriginal(note []byte) {
	if len(note) > MaxChunkNote {
		return
	}
	w.orig.note = bytes.Clone(note)
}

// MaxChunkNote bounds a chunk note (bytes).
const MaxChunkNote = 1 << 20

// Note returns, for a Writer made by Resume, the note committed with the
// last committed chunk of the original (NoteOriginal), or nil when that
// chunk had none.
func (w *Writer) Note() []byte { return w.note }

// chunkNoteAAD binds a chunk note to its recording and to the number of
// original chunks it describes.
func chunkNoteAAD(id ID, chunks uint64) []byte {
	return boxAAD(aadChunkNote, id[:], binary.BigEndian.AppendUint64(nil, chunks))
}

// WriteMap appends to the placement map blob.
func (w *Writer) WriteMap(p []byte) (int, error) { return w.write(&w.mp, p) }

func (w *Writer) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

func (w *Writer) check() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return fmt.Errorf("archive: writer %s: already finished: %w", w.id, ErrState)
	}
	return w.err
}

// stageMax is the most a blob's chunk start is kept in its own small
// buffer when writes are large (a bulk upload); small writes (a live call's
// paced reads, its map) keep the whole chunk there, in segments of
// stageMax, and take a pooled chunk buffer only when the chunk is full: a
// slow writer holds about half a chunk on average instead of a whole one.
const stageMax = 16 << 10

// stages reports whether p goes to b's stage rather than to a pooled
// chunk buffer. The stage never holds a whole chunk: a chunk size below
// stageMax would otherwise leave more staged than the buffer takes.
func (b *blobWriter) stages(p []byte) bool {
	if b.buf != nil || b.staged+len(p) >= b.csize {
		return false
	}
	return b.staged+len(p) <= stageMax || len(p) < stageMax/2
}

// stageAppend appends p to b's stage, taking segments as it fills.
func (b *blobWriter) stageAppend(p []byte) {
	for len(p) > 0 {
		if b.staged == len(b.stage)*stageMax {
			b.stage = append(b.stage, stageSegs.Get())
		}
		n := copy(b.stage[b.staged/stageMax][b.staged%stageMax:], p)
		b.staged += n
		p = p[n:]
	}
}

// eachStaged calls fn with the staged bytes of each segment, in order.
func (b *blobWriter) eachStaged(fn func(p []byte)) {
	for i, seg := range b.stage {
		fn(seg[:min(stageMax, b.staged-i*stageMax)])
	}
}

// unstage copies the staged bytes to dst, which must hold them, returns
// their number and gives the segments back.
func (b *blobWriter) unstage(dst []byte) int {
	n := 0
	b.eachStaged(func(p []byte) { n += copy(dst[n:], p) })
	b.releaseStage()
	return n
}

// releaseStage gives the stage's segments back, dropping what they held.
func (b *blobWriter) releaseStage() {
	for _, seg := range b.stage {
		stageSegs.Put(seg)
	}
	clear(b.stage)
	b.stage, b.staged = b.stage[:0], 0
}

// ensureBuf gives b a pooled chunk buffer, moving staged bytes into it.
func (w *Writer) ensureBuf(b *blobWriter) {
	if b.buf != nil {
		return
	}
	b.buf = w.a.getBuf()
	b.n = b.unstage((*b.buf)[1 : 1+b.csize])
}

func (w *Writer) write(b *blobWriter, p []byte) (int, error) {
	if err := w.check(); err != nil {
		return 0, err
	}
	total := 0
	for len(p) > 0 {
		if b.stages(p) { // also what is left after a chunk filled
			b.stageAppend(p)
			b.size += int64(len(p))
			return total + len(p), nil
		}
		w.ensureBuf(b)
		m := copy((*b.buf)[1+b.n:1+b.csize], p)
		b.n += m
		b.size += int64(m)
		total += m
		p = p[m:]
		if b.n == b.csize {
			if err := w.flush(b); err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

// flush hands the full buffer to the pipeline, which hashes it, seals it
// as a non-final chunk and queues it for the committer. It blocks while
// pipeDepth chunks are out. A failure of an earlier chunk is returned here
// or by a later call.
func (w *Writer) flush(b *blobWriter) error {
	if w.a.c.isClosed() {
		w.fail(ErrClosed)
		return ErrClosed
	}
	j := chunkJob{b: b, buf: b.buf, idx: b.idx, note: b.note}
	b.buf, b.n, b.note = nil, 0, nil
	b.idx++
	w.pmu.Lock()
	for w.pn >= pipeDepth {
		w.pcond.Wait()
	}
	w.pn++
	w.pq = append(w.pq, j)
	if !w.prun {
		w.prun = true
		go w.pipeline()
	}
	w.pmu.Unlock()
	return w.errNow()
}

// pipeline hashes, seals and queues the waiting chunks in order, and ends
// when none is left.
func (w *Writer) pipeline() {
	w.pmu.Lock()
	for len(w.pq) > 0 {
		j := w.pq[0]
		w.pq = append(w.pq[:0], w.pq[1:]...)
		w.pmu.Unlock()
		w.sealChunk(j)
		w.pmu.Lock()
		w.pn--
		w.pcond.Broadcast()
	}
	w.prun = false
	w.pcond.Broadcast()
	w.pmu.Unlock()
}

// sealChunk hashes and seals one full chunk and queues it; after a failure
// of the writer it only gives the buffer back.
func (w *Writer) sealChunk(j chunkJob) {
	if w.errNow() != nil {
		w.a.bufs.Put(j.buf)
		return
	}
	b := j.b
	b.h.Write((*j.buf)[1 : 1+b.csize])
	val := b.c.seal(*j.buf, b.csize, j.idx, false)
	o := op{w: w, key: chunkKey(w.id, b.kind, j.idx), val: j.buf, n: len(val)}
	if j.note != nil {
		o.note = boxSeal(w.mac, chunkNoteAAD(w.id, j.idx+1), j.note)
	}
	w.queued.Add(1)
	if err := w.a.c.sendWait(o); err != nil {
		w.queued.Add(-1)
		w.a.bufs.Put(o.val)
		w.fail(err)
	}
}

// drain waits until the pipeline has queued (or given up) every chunk
// handed to it.
func (w *Writer) drain() {
	w.pmu.Lock()
	for w.prun || w.pn > 0 {
		w.pcond.Wait()
	}
	w.pmu.Unlock()
}

// Sync returns once every full chunk handed in so far is committed and
// fsynced. A partial chunk stays buffered (it is sealed as the final chunk
// by Finish).
func (w *Writer) Sync(ctx context.Context) error {
	w.drain()
	if err := w.check(); err != nil {
		return err
	}
	done := make(chan error, 1)
	if err := w.a.c.send(ctx, op{done: done}); err != nil {
		return err
	}
	select {
	case err := <-done:
		if err != nil {
			return err
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	return w.check()
}

// Finish seals the final chunks and commits them together with the
// metadata; when it returns, the recording is durable and readable, in
// state f.State, and listed by Unsealed — or sealed, with f.SealDeferred
// while sealing is on (the returned recording then carries its Seal). The
// writer cannot be used afterwards. If ctx ends first, the commit may
// still happen.
func (w *Writer) Finish(ctx context.Context, f Final) (*Recording, error) {
	w.drain() // every full chunk hashed and queued before the final ones
	if err := w.check(); err != nil {
		return nil, err
	}
	if f.State != StateComplete && f.State != StateInterrupted {
		return nil, fmt.Errorf("archive: finish %s: state %q: %w", w.id, f.State, ErrInvalid)
	}
	if len(f.Info) > maxInfoLen || len(f.GzipSHA256) > 64 || f.DurationMs < 0 {
		return nil, fmt.Errorf("archive: finish %s: info, gzip hash or duration out of range: %w", w.id, ErrInvalid)
	}
	if err := validParties(f.Parties); err != nil {
		return nil, fmt.Errorf("archive: finish %s: %w", w.id, err)
	}
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()

	var vals [2][]byte
	var keys [2][chunkKeyLen]byte
	var seqs [2][seqKeyLen]byte // values' keys, referenced by bbolt until the commit
	var bufs []*[]byte
	for i, b := range []*blobWriter{&w.orig, &w.mp} {
		w.ensureBuf(b)
		b.h.Write((*b.buf)[1 : 1+b.n])
		vals[i] = b.c.seal(*b.buf, b.n, b.idx, true)
		keys[i] = chunkKey(w.id, b.kind, b.idx)
		bufs = append(bufs, b.buf)
		b.buf = nil
	}
	old := w.meta
	m := *old
	m.State = f.State
	m.Finished = nsOf(w.a.now())
	m.Start = nsOf(f.StartTime)
	m.DurationMs = f.DurationMs
	m.GzipSHA256 = bytes.Clone(f.GzipSHA256)
	m.Info = bytes.Clone(f.Info)
	m.Parties = slices.Clone(f.Parties)
	m.OrigSize, m.MapSize = w.orig.size, w.mp.size
	m.OrigSHA256, m.MapSHA256 = w.orig.h.Sum(nil), w.mp.h.Sum(nil)
	box, err := sealMeta(w.mac, w.id, &m)
	if err != nil {
		for _, b := range bufs {
			w.a.bufs.Put(b)
		}
		return nil, err
	}
	oldKey, newKey := timeKey(old.indexNS(), w.id), timeKey(m.indexNS(), w.id)
	id := w.id
	// The final commit must not come before the writer's other chunks:
	// while some are still queued it queues behind them; once they are
	// through (a live call's last full chunk was written seconds before
	// its end) it goes ahead of other uploads' chunks.
	ordered := w.queued.Load() > 0
	var sealed *Recording // with f.SealDeferred, as sealed in the transaction
	err = w.a.updateOp(ctx, func(tx kv.Tx) error {
		sealed = nil
		if tx.Bucket(bucketDataKeys).Get(id[:]) == nil {
			return fmt.Errorf("archive: recording %s was deleted: %w", id, ErrNotFound)
		}
		// A chunk that failed in an earlier group commit must not end up
		// as a recording with a hole: the committer reports failures
		// before it runs the next group.
		if err := w.errNow(); err != nil {
			return err
		}
		chunks := openChunkStore(tx)
		for i := range vals {
			if err := chunks.put(keys[i][:], vals[i], &seqs[i]); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketRecs).Put(id[:], box); err != nil {
			return err
		}
		w.a.listTouchTx(tx, id)
		if oldKey != newKey {
			if err := tx.Bucket(bucketByTime).Delete(oldKey[:]); err != nil {
				return err
			}
			if err := tx.Bucket(bucketByTime).Put(newKey[:], []byte{}); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketUnfinished).Delete(id[:]); err != nil {
			return err
		}
		if err := tx.Bucket(bucketByOrig).Put(w.a.origKey(m.OrigSHA256, id), []byte{}); err != nil {
			return err
		}
		// The who keys are the indexer's (whopending.go): the recording
		// moves to its final time key in bucketWhoPending, ready. One
		// created by a build that wrote its keys at Create (not pending)
		// has them replaced here, as that build did; they include the
		// search terms of the call's CDRs, read in this transaction.
		if whoPending(tx, oldKey[:]) {
			if oldKey != newKey {
				if err := tx.Bucket(bucketWhoPending).Delete(oldKey[:]); err != nil {
					return err
				}
			}
			if err := pendWho(tx, newKey[:], whoPendingReady); err != nil {
				return err
			}
		} else if err := replaceWho(tx, w.a.whoKeys(old, id, w.a.cdrsTx(tx, old)), w.a.whoKeys(&m, id, w.a.cdrsTx(tx, &m))); err != nil {
			return err
		}
		if err := tx.Bucket(bucketUnsealed).Put(id[:], []byte{}); err != nil {
			return err
		}
		if !f.SealDeferred {
			return nil
		}
		sm, err := w.a.sealTx(tx, id, nil, true)
		if err != nil || sm == nil {
			return err
		}
		sealed, err = w.a.recordingTx(tx, id)
		return err
	}, ordered, bufs...)
	if err != nil {
		return nil, fmt.Errorf("archive: finish %s: %w", w.id, err)
	}
	w.a.release(w.id) // finished: no longer to recover
	w.a.wakeWhoIndexer()
	if err := w.errNow(); err != nil {
		return nil, fmt.Errorf("archive: finish %s: %w", w.id, err)
	}
	w.meta = &m
	if sealed != nil {
		return sealed, nil
	}
	return m.recording(w.id, nil), nil
}

// Abort gives up a writer whose writes failed (a full disk, a commit
// error): it waits until none of the writer's chunks is still in the
// commit queue, so the recording's committed chunks no longer change, and
// closes the writer. The recording stays in state "recording" with what was
// committed; Resume then finishes it (the caller's salvage after the
// failure, or recovery at the next start). Abort returns early with ctx's
// error when ctx ends; the writer is closed all the same.
func (w *Writer) Abort(ctx context.Context) error {
	w.mu.Lock()
	w.closed = true // also after a Finish that failed
	w.mu.Unlock()
	w.drain()
	for _, b := range []*blobWriter{&w.orig, &w.mp} {
		if b.buf != nil {
			w.a.bufs.Put(b.buf)
			b.buf, b.n = nil, 0
		}
		b.releaseStage()
	}
	// The queue is first in, first out: once a barrier sent now has been
	// through a commit, every chunk queued before it has been too.
	done := make(chan error, 1)
	if err := w.a.c.send(ctx, op{done: done}); err != nil {
		return err
	}
	select {
	case <-done: // a failed commit here changes nothing: the chunks are settled either way
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *Writer) errNow() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}
