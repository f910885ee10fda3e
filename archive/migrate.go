package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"github.com/callvault/callvault/archive/kv"
	"github.com/callvault/callvault/archive/kv/boltkv"
	"github.com/callvault/callvault/internal/slotfile"
)

// Migrating an archive from one store to another (FORMAT.md, "Migrating
// between stores"): Migrate copies every bucket in batches, each batch a
// write transaction of its own that also records in bucketMigrating of
// the target how far it got, so that a copy cut off (Ctrl-C, kill -9)
// resumes after its last committed batch. CompareMigrated then compares
// every bucket of both stores; OpenMigrated opens the copy and
// FinishMigration verifies every recording's seal and the chain with
// Verify and VerifyChain, and removes bucketMigrating only when all of it
// held. Until then Open refuses the target.
//
// The data keys change form on the way: on bbolt bucketDataKeys holds
// references to slots of the data-key file (slots.go), on any other
// backend the boxes themselves. The boxes are copied unchanged, so no key
// is unwrapped; only the chain head's witness, written when the target is
// bbolt, needs the archive key.

// bucketMigrating is in the target of an unfinished copy:
//
//	"source" → sha256 of the source's meta "created" and seal public key
//	"state"  → sha256 of the source's chain head and audit head
//	"slot"   → uint64 BE, the next data-key slot (bbolt target)
//	"done"   → "" once every bucket is copied
//	"pos\0" ‖ bucket → the last key copied
//	"cnt\0" ‖ bucket → records uint64 BE ‖ bytes uint64 BE ‖ complete byte
var bucketMigrating = []byte("migrating")

var (
	migSource   = []byte("source")
	migStateKey = []byte("state")
	migSlot     = []byte("slot")
	migDone     = []byte("done")
)

func migPos(bucket []byte) []byte { return append([]byte("pos\x00"), bucket...) }
func migCnt(bucket []byte) []byte { return append([]byte("cnt\x00"), bucket...) }

// ErrMigrateStopped is returned by Migrate when MigrateOptions.StopAfter
// batches were committed: the copy is unfinished and resumable.
var ErrMigrateStopped = errors.New("archive: migrate stopped after the batches asked for")

// MigrateEnd is one side of a migration: an open store, and the path of
// the archive's local files (on bbolt the archive file itself, with the
// data-key file SlotFile(Path) beside it).
type MigrateEnd struct {
	Store kv.Store
	Path  string
}

func (e MigrateEnd) isBolt() bool { _, ok := e.Store.(*boltkv.Store); return ok }

// MigrateOptions tune Migrate.
type MigrateOptions struct {
	// BatchBytes and BatchRecords bound one write transaction of the
	// copy (defaults 32 MiB and 20000 records): the memory a copy
	// takes, whatever the archive's size, and the work a rerun repeats.
	BatchBytes   int
	BatchRecords int
	// Progress, when set, is called after each committed batch.
	Progress func(MigrateProgress)
	// StopAfter, when positive, ends the copy with ErrMigrateStopped
	// after that many batches of this run (a copy cut off on purpose).
	StopAfter int
}

// MigrateProgress is how far a copy is. Records and Bytes count what is
// committed in the target, by earlier runs too (Resumed*).
type MigrateProgress struct {
	Records, TotalRecords int64
	// Bytes are keys and values copied; TotalBytes is the size of the
	// source as its store reports it, an estimate.
	Bytes, TotalBytes int64
	// ResumedRecords and ResumedBytes were copied by earlier runs.
	ResumedRecords, ResumedBytes int64
	Batches                      int // committed by this run
}

// SizeReporter is a store that can tell how many bytes it holds; Migrate
// uses it for the progress's total.
type SizeReporter interface {
	Size(ctx context.Context) (int64, error)
}

type migBucket struct {
	pos      []byte
	recs     int64
	bytes    int64
	complete bool
}

// migState is what bucketMigrating says of the copy.
type migState struct {
	buckets map[string]*migBucket
	slot    uint64
	done    bool
}

func (s *migState) bucket(name []byte) *migBucket {
	b := s.buckets[string(name)]
	if b == nil {
		b = &migBucket{}
		s.buckets[string(name)] = b
	}
	return b
}

// sourceIdentity returns the source archive's identity and the
// fingerprint of its state.
func sourceIdentity(tx kv.Tx) (ident, state []byte, err error) {
	meta, ring := tx.Bucket(bucketMeta), tx.Bucket(bucketKeyring)
	if meta == nil || ring == nil || meta.Get(metaCreated) == nil || ring.Get(keyringSealPub) == nil {
		return nil, nil, fmt.Errorf("archive: migrate: the source holds no archive: %w", ErrInvalid)
	}
	if err := checkSchema(meta.Get(metaSchema)); err != nil {
		return nil, nil, err
	}
	if binary.BigEndian.Uint64(meta.Get(metaSchema)) != schemaVersion {
		return nil, nil, fmt.Errorf("archive: migrate: the source has schema version %d; start the daemon of this build on it once (it upgrades the layout to %d), stop it, then migrate: %w",
			binary.BigEndian.Uint64(meta.Get(metaSchema)), schemaVersion, ErrInvalid)
	}
	h := sha256.New()
	h.Write(meta.Get(metaCreated))
	h.Write(ring.Get(keyringSealPub))
	ident = h.Sum(nil)
	h.Reset()
	h.Write(meta.Get(metaChainHead))
	h.Write([]byte{0})
	h.Write(meta.Get(metaAuditHead))
	return ident, h.Sum(nil), nil
}

// beginTarget checks that the target is empty or an unfinished copy of
// the same source, in the state the source is in now, and reads how far
// that copy got; an empty target gets its bucketMigrating.
func beginTarget(tx kv.Tx, ident, state []byte, st *migState) error {
	m := tx.Bucket(bucketMigrating)
	if m == nil {
		var names []string
		_ = tx.ForEach(func(name []byte, _ kv.Bucket) error { names = append(names, string(name)); return nil })
		if len(names) > 0 {
			return fmt.Errorf("archive: migrate: the target already holds an archive (%d buckets) and no unfinished copy; migrate into an empty database and bucket, or a new file: %w", len(names), ErrInvalid)
		}
		m, err := tx.CreateBucket(bucketMigrating)
		if err != nil {
			return err
		}
		if err := m.Put(migSource, ident); err != nil {
			return err
		}
		if err := m.Put(migStateKey, state); err != nil {
			return err
		}
		st.slot = 1
		return m.Put(migSlot, binary.BigEndian.AppendUint64(nil, st.slot))
	}
	if !bytes.Equal(m.Get(migSource), ident) {
		return fmt.Errorf("archive: migrate: the target holds an unfinished copy of another archive: empty it first: %w", ErrInvalid)
	}
	if !bytes.Equal(m.Get(migStateKey), state) {
		return fmt.Errorf("archive: migrate: the source changed since the unfinished copy in the target began (a daemon ran on it): empty the target and migrate again: %w", ErrInvalid)
	}
	if v := m.Get(migSlot); len(v) == 8 {
		st.slot = binary.BigEndian.Uint64(v)
	}
	st.done = m.Get(migDone) != nil
	return m.ForEach(func(k, v []byte) error {
		switch {
		case bytes.HasPrefix(k, []byte("pos\x00")):
			st.bucket(k[4:]).pos = bytes.Clone(v)
		case bytes.HasPrefix(k, []byte("cnt\x00")) && len(v) == 17:
			b := st.bucket(k[4:])
			b.recs = int64(binary.BigEndian.Uint64(v))
			b.bytes = int64(binary.BigEndian.Uint64(v[8:]))
			b.complete = v[16] == 1
		}
		return nil
	})
}

// Migrate copies the archive in src into dst, which must be empty or hold
// an unfinished copy of the same archive, made while the source was as it
// is now: then the copy resumes after its last committed batch. src is
// only read (in one read transaction: a consistent snapshot); no daemon
// may write to it meanwhile. Migrate does not verify the copy: call
// CompareMigrated, then OpenMigrated and FinishMigration.
func Migrate(ctx context.Context, src, dst MigrateEnd, opt MigrateOptions) (MigrateProgress, error) {
	if opt.BatchBytes <= 0 {
		opt.BatchBytes = 32 << 20
	}
	if opt.BatchRecords <= 0 {
		opt.BatchRecords = 20000
	}
	var p MigrateProgress
	if sr, ok := src.Store.(SizeReporter); ok {
		p.TotalBytes, _ = sr.Size(ctx)
	}
	srcSlots, err := openSourceSlots(src)
	if err != nil {
		return p, err
	}
	defer srcSlots.close()
	err = viewGuarded(src.Store, "migrate", func(stx kv.Tx) error {
		ident, state, err := sourceIdentity(stx)
		if err != nil {
			return err
		}
		var names [][]byte
		if err := stx.ForEach(func(name []byte, b kv.Bucket) error {
			names = append(names, bytes.Clone(name))
			p.TotalRecords += int64(b.KeyN())
			return nil
		}); err != nil {
			return err
		}
		if p.TotalBytes == 0 {
			p.TotalBytes = boltInUse(stx)
		}
		// A data-key file beside an empty bbolt target belongs to
		// something else: refused before the marker that would make a
		// rerun take it for this copy's. (beginTarget refuses a target
		// that holds anything but an unfinished copy of this source.)
		if dst.isBolt() {
			empty := true
			if err := dst.Store.View(func(tx kv.Tx) error {
				return tx.ForEach(func([]byte, kv.Bucket) error { empty = false; return nil })
			}); err != nil {
				return err
			}
			if _, err := os.Stat(SlotFile(dst.Path)); err == nil && empty {
				return fmt.Errorf("archive: migrate: a data-key file %s is already beside the new archive file: move it away: %w", SlotFile(dst.Path), ErrInvalid)
			}
		}
		st := &migState{buckets: map[string]*migBucket{}}
		if err := dst.Store.Update(func(tx kv.Tx) error { return beginTarget(tx, ident, state, st) }); err != nil {
			return err
		}
		for _, b := range st.buckets {
			p.ResumedRecords += b.recs
			p.ResumedBytes += b.bytes
		}
		p.Records, p.Bytes = p.ResumedRecords, p.ResumedBytes
		if st.done {
			return nil
		}
		dstSlots, err := openTargetSlots(dst)
		if err != nil {
			return err
		}
		defer dstSlots.close()
		m := &migrator{ctx: ctx, src: stx, dst: dst, srcSlots: srcSlots, dstSlots: dstSlots, st: st, opt: opt, p: &p}
		for _, name := range names {
			if err := m.copyBucket(name); err != nil {
				return err
			}
		}
		return dst.Store.Update(func(tx kv.Tx) error { return tx.Bucket(bucketMigrating).Put(migDone, []byte{}) })
	})
	return p, err
}

// openSourceSlots opens the data-key file of a bbolt source read-only;
// nil on another backend.
func openSourceSlots(src MigrateEnd) (*keySlots, error) {
	if !src.isBolt() {
		return nil, nil
	}
	path := SlotFile(src.Path)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		// No recording yet: no data key either (checked per key below).
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("archive: data-key file: %w", err)
	}
	sf, err := slotfile.New(f, slotSize, slotMagic)
	if err != nil {
		f.Close()
	}
	return newKeySlots(path, sf, err)
}

// openTargetSlots opens or creates the data-key file of a bbolt target
// (Migrate refused a file beside a target no copy began in); nil on
// another backend.
func openTargetSlots(dst MigrateEnd) (*keySlots, error) {
	if !dst.isBolt() {
		return nil, nil
	}
	return openSlots(SlotFile(dst.Path), true)
}

type migEntry struct{ k, v []byte }

type migrator struct {
	ctx      context.Context
	src      kv.Tx
	dst      MigrateEnd
	srcSlots *keySlots
	dstSlots *keySlots
	st       *migState
	opt      MigrateOptions
	p        *MigrateProgress
}

// copyBucket copies one top-level bucket after its last committed key.
func (m *migrator) copyBucket(name []byte) error {
	if bytes.Equal(name, bucketMigrating) {
		return fmt.Errorf("archive: migrate: the source is itself an unfinished copy: %w", ErrInvalid)
	}
	state := m.st.bucket(name)
	if state.complete {
		return nil
	}
	sb := m.src.Bucket(name)
	c := sb.Cursor()
	k, v := c.First()
	if state.pos != nil {
		k, v = c.Seek(state.pos)
		if bytes.Equal(k, state.pos) {
			k, v = c.Next()
		}
	}
	dkeys := bytes.Equal(name, bucketDataKeys)
	for {
		if err := m.ctx.Err(); err != nil {
			return err
		}
		if m.opt.StopAfter > 0 && m.p.Batches >= m.opt.StopAfter {
			return ErrMigrateStopped
		}
		var batch []migEntry
		size := 0
		for ; k != nil && len(batch) < m.opt.BatchRecords && size < m.opt.BatchBytes; k, v = c.Next() {
			if v == nil {
				return fmt.Errorf("archive: migrate: bucket %s holds a nested bucket, which no archive has: %w", name, ErrCorrupt)
			}
			if dkeys {
				box, err := m.boxOf(k, v)
				if err != nil {
					return err
				}
				v = box
			}
			batch = append(batch, migEntry{bytes.Clone(k), bytes.Clone(v)})
			size += len(k) + len(v)
		}
		last := k == nil
		if err := m.commit(name, sb.Sequence(), batch, size, last); err != nil {
			return err
		}
		if last {
			return nil
		}
	}
}

// boxOf returns the boxed data key a source's bucketDataKeys value v
// names: the slot's content on bbolt, v itself elsewhere.
func (m *migrator) boxOf(k, v []byte) ([]byte, error) {
	n, ok := parseSlotRef(v)
	if !ok {
		return v, nil
	}
	if len(k) != len(ID{}) {
		return nil, fmt.Errorf("archive: migrate: data key entry of %d bytes: %w", len(k), ErrCorrupt)
	}
	box, err := m.srcSlots.get(n, ID(k))
	if err != nil {
		return nil, fmt.Errorf("archive: migrate: %w (start the daemon on the source once: it completes interrupted purges)", err)
	}
	return box, nil
}

// commit writes one batch and the progress it makes in one transaction.
func (m *migrator) commit(name []byte, seq uint64, batch []migEntry, size int, last bool) error {
	state := m.st.bucket(name)
	slot := m.st.slot
	dkeys := bytes.Equal(name, bucketDataKeys)
	err := m.dst.Store.Update(func(tx kv.Tx) error {
		b, err := tx.CreateBucketIfNotExists(name)
		if err != nil {
			return err
		}
		for _, e := range batch {
			v := e.v
			if dkeys && m.dstSlots != nil {
				if len(e.k) != len(ID{}) {
					return fmt.Errorf("archive: migrate: data key entry of %d bytes: %w", len(e.k), ErrCorrupt)
				}
				if err := m.dstSlots.put(slot, ID(e.k), v); err != nil {
					return err
				}
				v = slotRef(slot)
				slot++
			}
			if err := b.Put(e.k, v); err != nil {
				return err
			}
		}
		if last {
			if err := b.SetSequence(seq); err != nil {
				return err
			}
		}
		if err := m.dstSlots.sync(); err != nil {
			return err
		}
		mb := tx.Bucket(bucketMigrating)
		if len(batch) > 0 {
			if err := mb.Put(migPos(name), batch[len(batch)-1].k); err != nil {
				return err
			}
		}
		cnt := binary.BigEndian.AppendUint64(nil, uint64(state.recs+int64(len(batch))))
		cnt = binary.BigEndian.AppendUint64(cnt, uint64(state.bytes+int64(size)))
		cnt = append(cnt, 0)
		if last {
			cnt[16] = 1
		}
		if err := mb.Put(migCnt(name), cnt); err != nil {
			return err
		}
		return mb.Put(migSlot, binary.BigEndian.AppendUint64(nil, slot))
	})
	for _, e := range batch {
		clear(e.v) // data keys' boxes among them
	}
	if err != nil {
		return fmt.Errorf("archive: migrate: write bucket %s: %w", name, err)
	}
	m.st.slot = slot
	if len(batch) > 0 {
		state.pos = batch[len(batch)-1].k
	}
	state.recs += int64(len(batch))
	state.bytes += int64(size)
	state.complete = last
	m.p.Records += int64(len(batch))
	m.p.Bytes += int64(size)
	m.p.Batches++
	if m.opt.Progress != nil {
		m.opt.Progress(*m.p)
	}
	return nil
}

// MigrateCompared is what CompareMigrated compared.
type MigrateCompared struct {
	Buckets int
	Records int64
	Bytes   int64
}

// CompareMigrated compares every bucket of the source with the target of
// a finished Migrate: the same keys in the same order, the same sequence,
// and values whose sha256 agree (for data keys the boxes, whichever form
// each store keeps them in). It reads both stores in full.
func CompareMigrated(ctx context.Context, src, dst MigrateEnd) (MigrateCompared, error) {
	var res MigrateCompared
	srcSlots, err := openSourceSlots(src)
	if err != nil {
		return res, err
	}
	defer srcSlots.close()
	dstSlots, err := openSourceSlots(dst)
	if err != nil {
		return res, err
	}
	defer dstSlots.close()
	err = viewGuarded(src.Store, "migrate", func(stx kv.Tx) error {
		return viewGuarded(dst.Store, "migrate", func(dtx kv.Tx) error {
			m := dtx.Bucket(bucketMigrating)
			if m == nil || m.Get(migDone) == nil {
				return fmt.Errorf("archive: migrate: the target holds no finished copy: %w", ErrInvalid)
			}
			names := map[string]bool{}
			collect := func(name []byte, _ kv.Bucket) error { names[string(name)] = true; return nil }
			_ = stx.ForEach(collect)
			_ = dtx.ForEach(collect)
			delete(names, string(bucketMigrating))
			for name := range names {
				sb, db := stx.Bucket([]byte(name)), dtx.Bucket([]byte(name))
				if sb == nil || db == nil {
					return fmt.Errorf("archive: migrate: bucket %s is in only one of source and target", name)
				}
				if sb.Sequence() != db.Sequence() {
					return fmt.Errorf("archive: migrate: bucket %s: sequence %d in the source, %d in the target", name, sb.Sequence(), db.Sequence())
				}
				n, size, err := compareBucket(ctx, []byte(name), sb, db, srcSlots, dstSlots)
				if err != nil {
					return err
				}
				res.Buckets++
				res.Records += n
				res.Bytes += size
			}
			return nil
		})
	})
	return res, err
}

func compareBucket(ctx context.Context, name []byte, sb, db kv.Bucket, srcSlots, dstSlots *keySlots) (int64, int64, error) {
	dkeys := bytes.Equal(name, bucketDataKeys)
	value := func(slots *keySlots, k, v []byte) ([32]byte, error) {
		if dkeys {
			if n, ok := parseSlotRef(v); ok && len(k) == len(ID{}) {
				box, err := slots.get(n, ID(k))
				if err != nil {
					return [32]byte{}, err
				}
				v = box
			}
		}
		return sha256.Sum256(v), nil
	}
	sc, dc := sb.Cursor(), db.Cursor()
	sk, sv := sc.First()
	dk, dv := dc.First()
	var n, size int64
	for ; sk != nil || dk != nil; sk, sv, dk, dv = next2(sc, dc) {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return n, size, err
			}
		}
		if !bytes.Equal(sk, dk) {
			return n, size, fmt.Errorf("archive: migrate: bucket %s differs after %d records: key %x in the source, %x in the target", name, n, sk, dk)
		}
		sh, err := value(srcSlots, sk, sv)
		if err != nil {
			return n, size, fmt.Errorf("archive: migrate: bucket %s, source: %w", name, err)
		}
		dh, err := value(dstSlots, dk, dv)
		if err != nil {
			return n, size, fmt.Errorf("archive: migrate: bucket %s, target: %w", name, err)
		}
		if sh != dh {
			return n, size, fmt.Errorf("archive: migrate: bucket %s: the value of key %x differs between source and target", name, sk)
		}
		n++
		size += int64(len(sk) + len(sv))
	}
	if sn, dn := sb.KeyN(), db.KeyN(); sn != dn || int64(sn) != n {
		return n, size, fmt.Errorf("archive: migrate: bucket %s: %d keys in the source, %d in the target, %d compared", name, sn, dn, n)
	}
	return n, size, nil
}

func next2(a, b kv.Cursor) (ak, av, bk, bv []byte) {
	ak, av = a.Next()
	bk, bv = b.Next()
	return
}

// OpenMigrated opens the target of a finished copy (Migrate, then
// CompareMigrated) as an archive, which Open would refuse until
// FinishMigration. On bbolt it writes the chain head's witness into the
// new data-key file. opt opens the source too: the same key or
// passphrase. The archive owns dst.Store once OpenMigrated succeeds.
func OpenMigrated(dst MigrateEnd, opt Options) (*Archive, error) {
	opt, err := opt.openDefaults()
	if err != nil {
		return nil, err
	}
	done := false
	err = viewGuarded(dst.Store, "open", func(tx kv.Tx) error {
		m := tx.Bucket(bucketMigrating)
		done = m != nil && m.Get(migDone) != nil
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !done {
		return nil, fmt.Errorf("archive: open %s: it holds no finished copy: %w", dst.Path, ErrInvalid)
	}
	opt.migrated = true
	// created: the new data-key file gets the witness of the copied head.
	return open(dst.Store, dst.Path, true, opt)
}

// MigrateVerified is what FinishMigration verified.
type MigrateVerified struct {
	Recordings     int
	ExportsPending int // sealed, the export hashes' entry still due
	ChainEntries   int
	Problems       []string // one line per recording or chain problem
}

// FinishMigration verifies every stored recording (Verify, with exports
// as the verify command passes it) and the whole chain (VerifyChain) of
// an archive OpenMigrated opened and, when all of it holds, removes the
// mark of an unfinished copy, after which Open accepts the archive. With
// problems it returns them and an error, and the mark stays.
func (a *Archive) FinishMigration(ctx context.Context, exports func(*Recording) ([][32]byte, error)) (MigrateVerified, error) {
	var res MigrateVerified
	ids, err := a.Stored(ctx)
	if err != nil {
		return res, err
	}
	for _, id := range ids {
		v, err := a.Verify(ctx, id, exports)
		if err != nil {
			return res, err
		}
		res.Recordings++
		if v.ExportsPending {
			res.ExportsPending++
		}
		if !v.Valid {
			res.Problems = append(res.Problems, fmt.Sprintf("recording %s: %v", id, v.Problems))
		}
	}
	chain, err := a.VerifyChain(ctx)
	if err != nil {
		return res, err
	}
	res.ChainEntries = chain.Entries
	if !chain.Valid {
		res.Problems = append(res.Problems, fmt.Sprintf("chain: %v", chain.Problems))
	}
	if len(res.Problems) > 0 {
		return res, fmt.Errorf("archive: the copy does not verify (%d problems): %w", len(res.Problems), ErrCorrupt)
	}
	err = a.store.Update(func(tx kv.Tx) error {
		if tx.Bucket(bucketMigrating) == nil {
			return nil
		}
		return tx.DeleteBucket(bucketMigrating)
	})
	return res, err
}

// checkMigrating refuses, in Open, the target of a copy that is not
// finished and verified.
func checkMigrating(store kv.Store, opt Options) error {
	if opt.migrated {
		return nil
	}
	unfinished := false
	err := guard("open", func() error {
		return store.View(func(tx kv.Tx) error { unfinished = tx.Bucket(bucketMigrating) != nil; return nil })
	})
	if err != nil {
		return err
	}
	if unfinished {
		return fmt.Errorf("archive: open: this store holds a copy made by callvault migrate that is not finished and verified: run callvault migrate again to complete it: %w", ErrInvalid)
	}
	return nil
}
