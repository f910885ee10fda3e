package boltkv

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/callvault/callvault/archive/kv"
	bolt "go.etcd.io/bbolt"
)

// The value file. The values of the file buckets (top-level buckets named
// when the store is opened) are not kept in bbolt's pages but written to
// a file of their own; bbolt keeps a reference in their place:
//
//	refTag ‖ offset uint64 BE ‖ length uint32 BE   (13 bytes)
//
// Why: bbolt writes every dirty page of a commit with a system call of its
// own and copies each value twice on the way (into its node, then into the
// page cache). A group commit of a hundred 64 KiB values cost a hundred
// writes, each one a point where the committing goroutine gives up its
// processor and queues behind every other runnable goroutine. Here, the
// values of a transaction go to the disk in a write or a few, bypassing
// the page cache (O_DIRECT) where the file system allows, and one
// fdatasync; bbolt then commits a few small leaves.
//
// Layout: a 4096-byte header (valueMagic, then zeros), then values, each
// starting a 4096-byte block and followed by zeros to the next. A
// transaction's values go, back to back, into the largest free extents
// (at most maxRuns of them) and past the end of the file, each run with
// one write.
//
// Order and crash safety: a transaction's values are written and synced
// before bbolt commits the references to them, so a committed reference
// always points at durable bytes. Nothing a committed reference points at
// is written over. A crash after the write and before bbolt's commit
// leaves bytes no reference points at: Open cuts the file back to the end
// of the last referenced value.
//
// Space: a value deleted or overwritten is released when its transaction
// commits; its blocks are punched out (fallocate PUNCH_HOLE: zeroed and
// given back to the file system) once every read transaction that began
// before that commit has ended, so a reader never finds its snapshot's
// values gone, and only then offered to later transactions: never the
// other way round, or a punch could zero a new value. Releases not done
// before a crash are done by the next Open, which punches and frees every
// range no reference points at. The free list lives in memory. A value
// replaced or deleted in the transaction that put it is written with the
// others and released at its commit. When bbolt's commit fails after the
// values were written, their blocks stay out of the free list until the
// next Open: the failure may come after bbolt's meta page reached the
// disk, and then they are referenced.
//
// Values of a file bucket put before it became one (inline in bbolt) are
// read as they are; a stored value is taken for a reference only when it
// is 13 bytes and starts with refTag, which the caller's inline values
// must never do. Nested buckets of a file bucket keep their values in
// bbolt. The bytes in the file are not checked here: the layer above
// authenticates them (the archive's values are AES-GCM sealed and bound to
// their place). A reference past the end of the file reads as absent; any
// other read failure fails the transaction (txReads).
const (
	refTag      = 0xfe
	refLen      = 13
	valueBlock  = 4096
	valueMagic  = "callvault value file v1\n"
	stageAlloc  = 8 << 20  // initial capacity of the write buffer
	stageShrink = 64 << 20 // a buffer grown past this is dropped after its transaction
)

type span struct{ off, n int64 }

// values is the open value file of a store.
type values struct {
	w, r    *os.File // w may be O_DIRECT; r reads through the page cache
	direct  bool
	buckets map[string]bool
	ro      bool

	// stage holds the values of the write transaction (only one at a
	// time), block-aligned for O_DIRECT, each value starting a block.
	stage []byte

	// life is held shared while releasing, exclusively to close.
	life   sync.RWMutex
	closed bool

	// limit is where the values a reader may find end (end, or a
	// read-only file's size): a reference reaching past it (a damaged
	// one) reads as absent before a buffer is sized for it.
	limit atomic.Int64

	mu      sync.Mutex
	end     int64          // past the last value: what no free extent takes goes here (block-aligned)
	epoch   uint64         // commits that released values
	readers map[uint64]int // open read transactions by the epoch they began in
	pending []release
	// free lists the block-aligned extents below end that no value lies
	// in and no reader can see, in offset order, merged.
	free []span
}

type release struct {
	epoch uint64
	spans []span
}

// Open returns the store on db with the values of the named top-level
// buckets kept in the value file at path (created when absent). With
// readOnly the file is only read (it may be absent: every reference then
// reads as absent); otherwise Open truncates a tail no reference points at
// and releases every range none does.
func Open(db *bolt.DB, path string, readOnly bool, buckets ...[]byte) (*Store, error) {
	v := &values{buckets: map[string]bool{}, ro: readOnly, readers: map[uint64]int{}}
	for _, b := range buckets {
		v.buckets[string(b)] = true
	}
	if readOnly {
		f, err := os.Open(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("boltkv: value file: %w", err)
		}
		v.r = f
		if f != nil {
			fi, err := f.Stat()
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("boltkv: value file: %w", err)
			}
			v.limit.Store(fi.Size())
		}
		return &Store{db: db, v: v}, nil
	}
	if err := v.open(db, path); err != nil {
		v.close()
		return nil, fmt.Errorf("boltkv: value file %s: %w", path, err)
	}
	return &Store{db: db, v: v}, nil
}

func (v *values) open(db *bolt.DB, path string) error {
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	v.r, v.w = f, f
	if errors.Is(statErr, os.ErrNotExist) {
		// A new file: its directory entry must be as durable as the
		// references bbolt will commit to it.
		if err := syncDir(filepath.Dir(path)); err != nil {
			return err
		}
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() < valueBlock {
		head := make([]byte, valueBlock)
		copy(head, valueMagic)
		if _, err := f.WriteAt(head, 0); err != nil {
			return err
		}
		if err := fdatasync(f); err != nil {
			return err
		}
	} else {
		head := make([]byte, len(valueMagic))
		if _, err := f.ReadAt(head, 0); err != nil {
			return err
		}
		if string(head) != valueMagic {
			return errors.New("not a value file (bad header)")
		}
	}
	// The live ranges, from every reference.
	var live []span
	err = db.View(func(tx *bolt.Tx) error {
		for name := range v.buckets {
			b := tx.Bucket([]byte(name))
			if b == nil {
				continue
			}
			if err := b.ForEach(func(_, val []byte) error {
				if s, ok := parseRef(val); ok {
					live = append(live, s)
				}
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(live, func(a, b span) int { return cmp.Compare(a.off, b.off) })
	v.end = valueBlock
	var gaps []span
	for _, s := range live {
		if s.off > v.end {
			gaps = append(gaps, span{v.end, s.off - v.end})
		}
		v.end = max(v.end, s.off+s.n)
	}
	v.end = align(v.end)
	v.limit.Store(v.end)
	if fi.Size() > v.end {
		if err := f.Truncate(v.end); err != nil {
			return err
		}
	}
	punch(f, gaps)
	v.freeInteriors(gaps)
	if d, err := openDirect(path); err == nil {
		v.w, v.direct = d, true
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func align(n int64) int64 { return (n + valueBlock - 1) &^ (valueBlock - 1) }

func (v *values) close() {
	v.life.Lock()
	defer v.life.Unlock()
	v.closed = true
	if v.w != nil && v.w != v.r {
		v.w.Close()
	}
	if v.r != nil {
		v.r.Close()
	}
}

// punch releases the blocks of spans, zeroing what lies in partial blocks.
// A file system that cannot punch keeps the bytes: they are garbage no
// reference points at.
func punch(f *os.File, spans []span) {
	for _, s := range spans {
		if s.n > 0 {
			_ = punchHole(f, s.off, s.n)
		}
	}
}

// ParseRef returns where in the value file a value stored in a file
// bucket lies (as read from bbolt directly, bypassing the store): ok is
// false for a value kept inline. Salvage uses it to find the file's
// referenced ranges.
func ParseRef(stored []byte) (off, n int64, ok bool) {
	s, ok := parseRef(stored)
	return s.off, s.n, ok
}

// ValueBlock is the value file's block: its header fills the first, and
// every value starts one.
const ValueBlock = valueBlock

func parseRef(v []byte) (span, bool) {
	if len(v) != refLen || v[0] != refTag {
		return span{}, false
	}
	return span{int64(binary.BigEndian.Uint64(v[1:9])), int64(binary.BigEndian.Uint32(v[9:13]))}, true
}

// enter registers a read transaction about to begin; leave ends it.
func (v *values) enter() uint64 {
	v.mu.Lock()
	e := v.epoch
	v.readers[e]++
	v.mu.Unlock()
	return e
}

func (v *values) leave(e uint64) {
	v.mu.Lock()
	if v.readers[e]--; v.readers[e] == 0 {
		delete(v.readers, e)
	}
	ready := v.readyLocked()
	v.mu.Unlock()
	v.reclaim(ready)
}

// reclaim punches the spans out, then offers their whole blocks for
// reuse: never the other way round, or a punch could zero a new value.
func (v *values) reclaim(spans []span) {
	if len(spans) == 0 {
		return
	}
	v.punch(spans)
	v.mu.Lock()
	v.freeInteriors(spans)
	v.mu.Unlock()
}

// punch releases spans unless the file is closed.
func (v *values) punch(spans []span) {
	if len(spans) == 0 {
		return
	}
	v.life.RLock()
	defer v.life.RUnlock()
	if !v.closed {
		punch(v.r, spans)
	}
}

// readyLocked takes the released spans no open read transaction can see.
func (v *values) readyLocked() []span {
	oldest := v.epoch
	for e := range v.readers {
		oldest = min(oldest, e)
	}
	var ready []span
	n := 0
	for _, p := range v.pending {
		if p.epoch < oldest {
			ready = append(ready, p.spans...)
			continue
		}
		v.pending[n] = p
		n++
	}
	clear(v.pending[n:])
	v.pending = v.pending[:n]
	return ready
}

// readAppend returns dst (a new buffer when nil) with the value s refers
// to appended, or nil when the file does not hold it (there is no file,
// or s reaches past its end). Any other failure to read is an error.
func (v *values) readAppend(s span, dst []byte) ([]byte, error) {
	if v.r == nil || s.off < 0 || s.n > v.limit.Load()-s.off {
		return nil, nil
	}
	if dst == nil {
		dst = make([]byte, 0, s.n) // not nil, even for an empty value
	}
	out := slices.Grow(dst, int(s.n))[:len(dst)+int(s.n)]
	if _, err := v.r.ReadAt(out[len(dst):], s.off); err != nil {
		if errors.Is(err, io.EOF) {
			if s.n == 0 {
				return out, nil
			}
			return nil, nil
		}
		return nil, err
	}
	return out, nil
}

// txReads holds the first error a transaction met reading the value file.
// kv.Bucket's Get and cursors cannot return one, so the value reads as
// absent there, and the transaction fails with the error when its function
// returns: a read error (EIO from a failing disk) is never taken for a
// value that is not there.
type txReads struct {
	err atomic.Pointer[error]
}

func (r *txReads) fail(err error) {
	if r != nil {
		r.err.CompareAndSwap(nil, &err)
	}
}

// check returns the transaction's read error in place of err, which may
// stem from the value that seemed absent.
func (r *txReads) check(err error) error {
	if r != nil {
		if p := r.err.Load(); p != nil {
			return fmt.Errorf("boltkv: value file: %w", *p)
		}
	}
	return err
}

// txValues is the value-file state of one write transaction.
type txValues struct {
	v        *values
	vals     []staged
	refs     []byte // slab the references are cut from (bbolt keeps them until the end)
	released []span
}

// staged is a value put in this transaction: at pos in the stage, its
// reference ref (which holds stagedBase+pos until flush places it).
type staged struct {
	pos, n  int64
	ref     []byte
	dropped bool // replaced or deleted in the same transaction
}

// stagedBase marks the offsets of references to values still in the
// stage: no file reaches it.
const stagedBase = 1 << 62

func (v *values) begin() *txValues {
	if cap(v.stage) == 0 || cap(v.stage) > stageShrink {
		v.stage = alignedBuf(stageAlloc)
	}
	v.stage = v.stage[:0]
	return &txValues{v: v}
}

// add stages val and returns its reference.
func (t *txValues) add(val []byte) []byte {
	v := t.v
	// Every value starts a block; room is kept for the padding of the
	// last.
	pos := align(int64(len(v.stage)))
	if int(pos)+len(val)+valueBlock > cap(v.stage) {
		// Grow into a new aligned buffer; values handed out from the old
		// one stay valid, as bbolt requires until the transaction ends.
		nb := alignedBuf(max(2*cap(v.stage), int(pos)+len(val)+2*valueBlock))
		nb = append(nb[:0], v.stage...)
		v.stage = nb
	}
	v.stage = append(v.stage, make([]byte, int(pos)-len(v.stage))...)
	v.stage = append(v.stage, val...)
	if len(t.refs) < refLen {
		t.refs = make([]byte, 256*refLen)
	}
	ref := t.refs[:refLen:refLen]
	t.refs = t.refs[refLen:]
	ref[0] = refTag
	binary.BigEndian.PutUint64(ref[1:9], uint64(stagedBase+pos))
	binary.BigEndian.PutUint32(ref[9:13], uint32(len(val)))
	t.vals = append(t.vals, staged{pos: pos, n: int64(len(val)), ref: ref})
	return ref
}

// get returns the value a stored v refers to (v itself when inline); a
// read error goes to r, and the value reads as absent.
func (t *txValues) get(v *values, stored []byte, r *txReads) []byte {
	s, ok := parseRef(stored)
	if !ok {
		return stored
	}
	if s.off >= stagedBase {
		i := s.off - stagedBase
		if t != nil && i+s.n <= int64(len(t.v.stage)) {
			return t.v.stage[i : i+s.n : i+s.n]
		}
		return nil
	}
	val, err := v.readAppend(s, nil)
	if err != nil {
		r.fail(err)
	}
	return val
}

// release frees the blocks of the value stored refers to once the
// transaction commits and no older reader is open. A value staged in this
// transaction is still written with the others (its run stays one write),
// and its blocks are released with the rest.
func (t *txValues) release(stored []byte) {
	s, ok := parseRef(stored)
	if !ok {
		return
	}
	if s.off < stagedBase {
		t.released = append(t.released, span{s.off, align(s.n)})
		return
	}
	pos := s.off - stagedBase
	if i, found := slices.BinarySearchFunc(t.vals, pos, func(v staged, pos int64) int { return cmp.Compare(v.pos, pos) }); found {
		t.vals[i].dropped = true
	}
}

// run is a stretch of the stage written at one file offset.
type run struct {
	off      int64
	from, to int64 // stage[from:to]
}

// maxRuns bounds the free extents one transaction writes into.
const maxRuns = 8

// place gives every staged value its place in the file and patches its
// reference: runs of values into the largest free extents (at most
// maxRuns), the rest past the end.
func (t *txValues) place() []run {
	v := t.v
	v.mu.Lock()
	defer v.mu.Unlock()
	var runs []run
	i := 0
	for len(runs) < maxRuns && i < len(t.vals) {
		e, ok := v.takeLargest(align(t.vals[i].n))
		if !ok {
			break
		}
		r := run{off: e.off, from: t.vals[i].pos}
		for i < len(t.vals) && t.vals[i].pos+t.vals[i].n-r.from <= e.n {
			t.vals[i].placeAt(r.off + t.vals[i].pos - r.from)
			r.to = t.vals[i].pos + t.vals[i].n
			i++
		}
		runs = append(runs, r)
		if used := align(r.to - r.from); used < e.n {
			v.addFree(span{e.off + used, e.n - used})
		}
	}
	if i < len(t.vals) {
		r := run{off: v.end, from: t.vals[i].pos, to: int64(len(v.stage))}
		for ; i < len(t.vals); i++ {
			t.vals[i].placeAt(r.off + t.vals[i].pos - r.from)
		}
		runs = append(runs, r)
		v.end += align(r.to - r.from)
		v.limit.Store(v.end)
	}
	return runs
}

// placeAt sets the offset in the value's reference.
func (s staged) placeAt(off int64) { binary.BigEndian.PutUint64(s.ref[1:9], uint64(off)) }

// takeLargest removes and returns the largest free extent, if it holds at
// least n bytes.
func (v *values) takeLargest(n int64) (span, bool) {
	best := -1
	for i, e := range v.free {
		if e.n >= n && (best < 0 || e.n > v.free[best].n) {
			best = i
		}
	}
	if best < 0 {
		return span{}, false
	}
	e := v.free[best]
	v.free = slices.Delete(v.free, best, best+1)
	return e, true
}

// addFree adds a block-aligned extent no value lies in to the free list,
// merged with its neighbours.
func (v *values) addFree(e span) {
	if e.n <= 0 {
		return
	}
	i, _ := slices.BinarySearchFunc(v.free, e.off, func(f span, off int64) int { return cmp.Compare(f.off, off) })
	if i > 0 && v.free[i-1].off+v.free[i-1].n == e.off {
		i--
		e = span{v.free[i].off, v.free[i].n + e.n}
		v.free = slices.Delete(v.free, i, i+1)
	}
	if i < len(v.free) && e.off+e.n == v.free[i].off {
		e.n += v.free[i].n
		v.free = slices.Delete(v.free, i, i+1)
	}
	v.free = slices.Insert(v.free, i, e)
}

// freeInteriors adds the whole blocks within spans (merged where they
// touch) to the free list.
func (v *values) freeInteriors(spans []span) {
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.off, b.off) })
	for i := 0; i < len(spans); {
		s := spans[i]
		end := s.off + s.n
		for i++; i < len(spans) && spans[i].off <= end; i++ {
			end = max(end, spans[i].off+spans[i].n)
		}
		lo, hi := align(s.off), end&^(valueBlock-1)
		if hi > lo {
			v.addFree(span{lo, hi - lo})
		}
	}
}

// flush writes the staged values and syncs them; bbolt commits after it.
func (t *txValues) flush(tx *bolt.Tx) error {
	v := t.v
	if len(t.vals) > 0 {
		for _, r := range t.place() {
			if err := v.writeRun(r); err != nil {
				return fmt.Errorf("boltkv: value file: %w", err)
			}
		}
		if err := fdatasync(v.w); err != nil {
			return fmt.Errorf("boltkv: value file: %w", err)
		}
		for _, s := range t.vals {
			if s.dropped {
				t.released = append(t.released, span{int64(binary.BigEndian.Uint64(s.ref[1:9])), align(s.n)})
			}
		}
	}
	released := t.released
	if len(released) == 0 {
		return nil
	}
	tx.OnCommit(func() {
		v.mu.Lock()
		v.pending = append(v.pending, release{epoch: v.epoch, spans: released})
		v.epoch++
		ready := v.readyLocked()
		v.mu.Unlock()
		v.reclaim(ready)
	})
	return nil
}

// writeRun writes a run, padded with zeros to whole blocks.
func (v *values) writeRun(r run) error {
	n := align(r.to - r.from)
	// Values start blocks of the aligned stage, and the padding after
	// each but the last is zeros already; room for that one's is kept.
	b := v.stage[r.from:r.to]
	if end := r.from + n; end <= int64(len(v.stage)) {
		b = v.stage[r.from:end]
	} else {
		b = append(b, make([]byte, end-r.to)...)
	}
	return v.write(b, r.off)
}

// write writes b at off; flush syncs.
func (v *values) write(b []byte, off int64) error {
	if v.direct {
		_, err := v.w.WriteAt(b, off)
		if err == nil || !errors.Is(err, errInvalid) {
			return err
		}
		// The file system refuses direct writes after all: write
		// through the page cache from now on.
		v.direct = false
		v.w.Close()
		v.w = v.r
	}
	_, err := v.r.WriteAt(b, off)
	return err
}

// alignedBuf returns an empty buffer of capacity n whose first byte is
// block-aligned, as O_DIRECT needs.
func alignedBuf(n int) []byte {
	b := make([]byte, n+valueBlock)
	off := int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) & (valueBlock - 1))
	if off != 0 {
		off = valueBlock - off
	}
	return b[off : off : off+n]
}

// ValueFile returns the open value file and its length, which covers
// every value a transaction begun before the call refers to; nil and 0
// when the store keeps no value file. The caller reads it with ReadAt and
// does not close it. Within a read transaction (View), the values its
// snapshot refers to stay in place.
func (s *Store) ValueFile() (*os.File, int64) {
	if s == nil || s.v == nil || s.v.r == nil {
		return nil, 0
	}
	s.v.mu.Lock()
	end := s.v.end
	s.v.mu.Unlock()
	if s.v.ro {
		if fi, err := s.v.r.Stat(); err == nil {
			end = fi.Size()
		}
	}
	return s.v.r, end
}

// fileBucket is a top-level bucket whose values are in the value file.
type fileBucket struct {
	b *bolt.Bucket
	v *values
	t *txValues // nil in a read transaction
	r *txReads
}

func (b fileBucket) Get(key []byte) []byte { return b.t.get(b.v, b.b.Get(key), b.r) }

// GetAppend implements kv.AppendGetter: a value in the file is read
// straight into dst.
func (b fileBucket) GetAppend(key, dst []byte) []byte {
	stored := b.b.Get(key)
	if s, ok := parseRef(stored); ok && s.off < stagedBase {
		out, err := b.v.readAppend(s, dst)
		if err != nil {
			b.r.fail(err)
		}
		return out
	}
	v := b.t.get(b.v, stored, b.r)
	if v == nil {
		return nil
	}
	return append(dst, v...)
}

// Nested buckets keep their values in bbolt.
func (b fileBucket) KeyN() int                      { return keyN(b.b) }
func (b fileBucket) Sequence() uint64               { return b.b.Sequence() }
func (b fileBucket) SetSequence(v uint64) error     { return b.b.SetSequence(v) }
func (b fileBucket) NextSequence() (uint64, error)  { return b.b.NextSequence() }
func (b fileBucket) Bucket(name []byte) kv.Bucket   { return Bucket{b.b}.Bucket(name) }
func (b fileBucket) DeleteBucket(name []byte) error { return b.b.DeleteBucket(name) }

func (b fileBucket) CreateBucketIfNotExists(name []byte) (kv.Bucket, error) {
	return Bucket{b.b}.CreateBucketIfNotExists(name)
}

func (b fileBucket) Put(key, value []byte) error {
	if b.t == nil {
		return b.b.Put(key, value) // bbolt refuses it: a read transaction
	}
	if len(key) == 0 || value == nil {
		return b.b.Put(key, value) // bbolt's own refusal
	}
	old := b.b.Get(key)
	if err := b.b.Put(key, b.t.add(value)); err != nil {
		return err
	}
	b.t.release(old)
	return nil
}

func (b fileBucket) Delete(key []byte) error {
	if b.t == nil {
		return b.b.Delete(key)
	}
	old := b.b.Get(key)
	if err := b.b.Delete(key); err != nil {
		return err
	}
	b.t.release(old)
	return nil
}

func (b fileBucket) Cursor() kv.Cursor {
	return &fileCursor{c: cursor{c: b.b.Cursor()}, b: b}
}

func (b fileBucket) ForEach(fn func(k, v []byte) error) error {
	return b.b.ForEach(func(k, v []byte) error {
		if v == nil {
			return fn(k, nil)
		}
		return fn(k, b.t.get(b.v, v, b.r))
	})
}

// fileCursor is a cursor on a file bucket: its values are read from the
// value file.
type fileCursor struct {
	c cursor
	b fileBucket
}

func (c *fileCursor) at(k, v []byte) ([]byte, []byte) {
	if v == nil {
		return k, nil
	}
	return k, c.b.t.get(c.b.v, v, c.b.r)
}

func (c *fileCursor) First() ([]byte, []byte)        { return c.at(c.c.First()) }
func (c *fileCursor) Last() ([]byte, []byte)         { return c.at(c.c.Last()) }
func (c *fileCursor) Seek(k []byte) ([]byte, []byte) { return c.at(c.c.Seek(k)) }
func (c *fileCursor) Next() ([]byte, []byte)         { return c.at(c.c.Next()) }
func (c *fileCursor) Prev() ([]byte, []byte)         { return c.at(c.c.Prev()) }

func (c *fileCursor) Delete() error {
	var old []byte
	if c.b.t != nil && c.c.key != nil {
		old = c.b.b.Get(c.c.key)
	}
	if err := c.c.Delete(); err != nil {
		return err
	}
	if c.b.t != nil {
		c.b.t.release(old)
	}
	return nil
}
