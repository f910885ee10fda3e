package archive

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/callvault/callvault/archive/kv"
	"github.com/callvault/callvault/archive/kv/boltkv"
	"github.com/callvault/callvault/internal/slotfile"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SalvageLoss is a recording Salvage could not carry over, and why.
type SalvageLoss struct {
	ID     ID
	Reason string
}

// SalvageResult tells what Salvage copied and what it lost.
type SalvageResult struct {
	Recovered []ID          // recordings copied, data and seal authenticated
	Lost      []SalvageLoss // recordings found but not copied
	// Problems are losses that are not recordings: users, settings,
	// notes, the audit log, chain entries.
	Problems []string
	// ChainKept is the number of seal-chain entries copied as they were
	// (the longest run from the first entry that reads, links and
	// verifies); Resealed counts recordings whose seal entry lay beyond
	// it and that were sealed again; Tombstones counts the tombstones
	// appended for sealed recordings that were lost.
	ChainKept, Resealed, Tombstones int
	Users, Notes                    int
	// StrayChunks counts chunks whose references were lost (damage to
	// the chunks table) and that were found again in the chunk file by
	// their content: recovered recordings hold them.
	StrayChunks int
	// Chain is VerifyChain of the new archive.
	Chain *VerifyResult
}

// Complete reports whether nothing was lost.
func (r *SalvageResult) Complete() bool { return len(r.Lost) == 0 && len(r.Problems) == 0 }

// salvageWho is the tombstone author of recordings Salvage lost.
const salvageWho = "salvage"

// Salvage copies what still authenticates in the archive at src (a
// stopped appliance's file, possibly damaged) into a new archive at dst,
// which must not exist. opt names the key of src; dst gets the same
// keyring (the same master key, seal key and key file or passphrase), so
// every box is copied as it is and every seal keeps its signature.
//
// It reads src read-only, each read under guard, so damage costs what
// lies on the damaged pages and nothing else: recordings are found
// through the metadata table, the data-key table and slot file, the time
// index and the seal chain. A recording is copied when its data key and
// metadata open, every chunk of both blobs authenticates, sizes and
// sha256 match its metadata and, when sealed, its seal. The longest
// verified run of the chain from its first entry is copied as it was;
// a recording whose seal lay beyond it is sealed again; a sealed
// recording that is lost gets a tombstone by "salvage" naming the
// reason, so the new chain verifies and says what is gone. Users, API
// tokens, sessions, settings, WebDAV passwords and notes are copied as
// far as they read; the audit log when it reads whole. Salvage returns
// an error only when it could not run (src in use, keyring unreadable,
// wrong key, dst exists).
func Salvage(ctx context.Context, src, dst string, opt Options) (*SalvageResult, error) {
	opt, err := opt.withDefaults(time.Second)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dst); !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("archive: salvage: %s exists; salvage writes a new archive: %w", dst, ErrInvalid)
	}
	s, err := openSalvageSource(src, opt)
	if err != nil {
		return nil, err
	}
	defer s.close()
	d, err := s.createDest(dst, opt)
	if err != nil {
		return nil, err
	}
	res := &SalvageResult{}
	err = s.copyAll(ctx, d, res)
	if cerr := d.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("archive: salvage: %w", err)
	}
	return res, nil
}

// salvageSource is src opened read-only, as an *Archive without a
// committer: only its read paths are used.
type salvageSource struct {
	a       *Archive
	keyring map[string][]byte // raw values of bucketKeyring
	created []byte
	bolt    *boltkv.Store
	overlay *strayOverlay // a's store
	stray   *strayChunks  // set up on first need (salvage_stray.go)
}

func openSalvageSource(path string, opt Options) (*salvageSource, error) {
	var db *bolt.DB
	err := guard("salvage", func() error {
		var err error
		db, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: opt.LockTimeout})
		return err
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("archive: salvage %s: %w (stop the daemon first)", path, ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("archive: salvage: open %s: %w", path, err)
	}
	store, err := boltkv.Open(db, ChunkFile(path), true, bucketChunks)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("archive: salvage: %w", err)
	}
	ov := &strayOverlay{Store: store, found: map[string][]byte{}}
	s := &salvageSource{a: &Archive{path: path, store: ov, bufs: newChunkBufs(), log: opt.Logger, now: opt.Now, kdf: opt.KDF}, keyring: map[string][]byte{}, bolt: store, overlay: ov}
	fail := func(err error) (*salvageSource, error) {
		db.Close()
		return nil, fmt.Errorf("archive: salvage %s: %w", path, err)
	}
	err = viewGuarded(s.a.store, "salvage", func(tx kv.Tx) error {
		kr := tx.Bucket(bucketKeyring)
		if kr == nil {
			return fmt.Errorf("no keyring: not an archive file: %w", ErrInvalid)
		}
		for _, k := range [][]byte{keyringKEK, keyringKDF, keyringMaster, keyringSealPub, keyringSealPriv} {
			if v := kr.Get(k); v != nil {
				s.keyring[string(k)] = bytes.Clone(v)
			}
		}
		if m := tx.Bucket(bucketMeta); m != nil {
			s.created = bytes.Clone(m.Get(metaCreated))
		}
		return nil
	})
	if err != nil {
		return fail(fmt.Errorf("keyring unreadable, nothing can be decrypted: %w", err))
	}
	if s.keyring[string(keyringMaster)] == nil {
		return fail(fmt.Errorf("keyring holds no master key: %w", ErrCorrupt))
	}
	if err := guard("salvage", func() error { return s.a.unlock(opt) }); err != nil {
		return fail(err)
	}
	f, err := os.Open(SlotFile(path))
	if err != nil {
		return fail(fmt.Errorf("data-key file: %w", err))
	}
	sf, err := slotfile.New(f, slotSize, slotMagic)
	if s.a.slots, err = newKeySlots(SlotFile(path), sf, err); err != nil {
		f.Close()
		return fail(err)
	}
	return s, nil
}

func (s *salvageSource) close() {
	s.a.slots.close()
	s.a.store.Close()
}

// createDest writes a new file holding src's keyring and opens it as an
// archive.
func (s *salvageSource) createDest(path string, opt Options) (*Archive, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("archive: salvage: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opt.LockTimeout})
	if err != nil {
		return nil, fmt.Errorf("archive: salvage: create %s: %w", path, err)
	}
	err = boltkv.New(db).Update(func(tx kv.Tx) error {
		if err := initSchema(tx, opt.Now()); err != nil {
			return err
		}
		if len(s.created) == 8 {
			if err := tx.Bucket(bucketMeta).Put(metaCreated, s.created); err != nil {
				return err
			}
		}
		kr := tx.Bucket(bucketKeyring)
		for k, v := range s.keyring {
			if err := kr.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("archive: salvage: create %s: %w", path, err)
	}
	return Open(path, opt)
}

// tolerantWalk calls fn for each key of bucket in src, in batches of
// short read transactions. Damage ends the walk; it is returned after fn
// has seen everything before it.
func (s *salvageSource) tolerantWalk(ctx context.Context, bucket []byte, fn func(k, v []byte)) error {
	var after []byte
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := 0
		err := s.a.view(func(tx kv.Tx) error {
			if tx.Bucket(bucket) == nil {
				return fmt.Errorf("bucket %s missing: %w", bucket, ErrCorrupt)
			}
			after, n = ascBatch(tx, bucket, after, 1024, func(k, v []byte) bool {
				fn(bytes.Clone(k), bytes.Clone(v))
				return true
			})
			return nil
		})
		if err != nil {
			return err
		}
		if n < 1024 {
			return nil
		}
	}
}

// chainPrefix is the longest run of src's chain from entry 1 that reads,
// links and verifies.
type chainPrefix struct {
	raw    [][]byte // entry seq i+1
	seals  map[ID]*chainEntry
	tombs  map[ID]uint64
	head   [32]byte
	beyond map[ID]*chainEntry // seal entries after the run that still verify on their own
	// deleted are recordings tombstoned after the run by entries that
	// still verify on their own: not looked for.
	deleted map[ID]bool
}

func (s *salvageSource) readChain(ctx context.Context, res *SalvageResult) *chainPrefix {
	pub := s.a.keys.sealPub
	p := &chainPrefix{seals: map[ID]*chainEntry{}, tombs: map[ID]uint64{}, beyond: map[ID]*chainEntry{}, deleted: map[ID]bool{}, head: GenesisHash(pub)}
	broken := ""
	var total uint64
	err := s.tolerantWalk(ctx, bucketChain, func(k, v []byte) {
		total++
		e, err := parseEntry(v)
		ok := err == nil && len(k) == seqKeyLen && binary.BigEndian.Uint64(k) == e.seq && ed25519.Verify(pub, e.message(), e.sig)
		if broken == "" {
			switch {
			case !ok:
				broken = fmt.Sprintf("entry under key %x does not verify", k)
			case e.seq != uint64(len(p.raw))+1:
				broken = fmt.Sprintf("entries %d..%d missing", len(p.raw)+1, e.seq-1)
			case e.prev != p.head:
				broken = fmt.Sprintf("entry %d does not link to the one before", e.seq)
			}
		}
		if broken != "" {
			switch {
			case ok && e.typ == entrySeal:
				p.beyond[e.id] = e
			case ok && e.typ == entryTombstone:
				p.deleted[e.id] = true
			}
			return
		}
		p.raw = append(p.raw, v)
		p.head = e.hash()
		switch e.typ {
		case entrySeal:
			p.seals[e.id] = e
		case entryTombstone:
			p.tombs[e.id] = e.seq
		}
	})
	if err != nil {
		broken = fmt.Sprintf("damaged after %d entries: %v", total, err)
	}
	var headSeq uint64
	_ = s.a.view(func(tx kv.Tx) error {
		headSeq, _, _ = parseChainHead(pub, tx.Bucket(bucketMeta).Get(metaChainHead))
		return nil
	})
	if broken == "" && headSeq > uint64(len(p.raw)) {
		broken = fmt.Sprintf("the head names entry %d", headSeq)
	}
	if broken != "" {
		res.Problems = append(res.Problems, fmt.Sprintf("seal chain: kept entries 1..%d; %s", len(p.raw), broken))
	}
	res.ChainKept = len(p.raw)
	return p
}

// candidates returns every recording ID src names anywhere it can be
// read: the metadata and data-key tables, the slot file, the time index,
// the recycle bin and the unfinished list.
func (s *salvageSource) candidates(ctx context.Context, res *SalvageResult, chain *chainPrefix) []ID {
	seen := map[ID]bool{}
	add := func(b []byte) {
		if len(b) == len(ID{}) {
			seen[ID(b)] = true
		}
	}
	walks := []struct {
		bucket []byte
		id     func(k []byte) []byte
	}{
		{bucketRecs, func(k []byte) []byte { return k }},
		{bucketDataKeys, func(k []byte) []byte { return k }},
		{bucketUnfinished, func(k []byte) []byte { return k }},
		{bucketByTime, func(k []byte) []byte { return k[min(8, len(k)):] }},
		{bucketBin, func(k []byte) []byte { return k[min(8, len(k)):] }},
	}
	for _, w := range walks {
		if err := s.tolerantWalk(ctx, w.bucket, func(k, _ []byte) { add(w.id(k)) }); err != nil {
			res.Problems = append(res.Problems, fmt.Sprintf("%s: %v (recordings are also found through the other tables)", indexNameOr(w.bucket), err))
		}
	}
	for id := range chain.seals {
		seen[id] = true
	}
	for id := range chain.beyond {
		seen[id] = true
	}
	for id := range chain.deleted {
		delete(seen, id)
	}
	// The slot file is not bbolt: read it directly.
	buf := make([]byte, slotSize)
	for n := int64(1); ; n++ {
		if _, err := s.a.slots.f.ReadAt(buf, n*slotSize); err != nil {
			if !errors.Is(err, io.EOF) {
				res.Problems = append(res.Problems, fmt.Sprintf("data-key file: %v", err))
			}
			break
		}
		if !isZero(buf[:16]) {
			add(buf[:16])
		}
	}
	ids := make([]ID, 0, len(seen))
	for id := range seen {
		if _, dead := chain.tombs[id]; dead {
			continue // deleted; tombstoned in the chain that is kept
		}
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(x, y ID) int { return bytes.Compare(x[:], y[:]) })
	return ids
}

func indexNameOr(bucket []byte) string {
	if n, ok := indexNames[string(bucket)]; ok {
		return n
	}
	if string(bucket) == string(bucketRecs) {
		return "recordings table"
	}
	return string(bucket)
}

// salvaged is one recording checked in src and ready to copy.
type salvaged struct {
	id     ID
	m      *metaRecord
	dk     []byte
	keyBox []byte // the data key boxed by the wrap key (the same in dst)
	seal   *chainEntry
	reseal *chainEntry // set when its seal lies beyond the kept chain
	notes  [][2][]byte
}

// check loads and authenticates recording id in src.
func (s *salvageSource) check(ctx context.Context, res *SalvageResult, id ID, chain *chainPrefix) (*salvaged, string) {
	r := &salvaged{id: id}
	err := s.a.view(func(tx kv.Tx) error {
		v := tx.Bucket(bucketDataKeys).Get(id[:])
		if v == nil {
			return errors.New("data key entry missing")
		}
		box, err := s.a.dataKeyBox(id, v)
		if err != nil {
			return err
		}
		r.keyBox = bytes.Clone(box)
		r.m, r.dk, err = s.a.loadTx(tx, id)
		return err
	})
	if err != nil {
		return nil, err.Error()
	}
	vr := &VerifyResult{}
	sums, err := s.a.verifyData(ctx, vr, id, r.dk, r.m)
	if err != nil || len(vr.Problems) > 0 {
		// Chunks whose references were lost may still be in the chunk
		// file.
		if n := s.recoverChunks(ctx, res, id, r.dk, r.m); n > 0 {
			res.StrayChunks += n
			vr = &VerifyResult{}
			sums, err = s.a.verifyData(ctx, vr, id, r.dk, r.m)
		}
	}
	if err != nil {
		clear(r.dk)
		return nil, err.Error()
	}
	if len(vr.Problems) > 0 {
		clear(r.dk)
		return nil, strings.Join(vr.Problems, "; ")
	}
	if r.m.SealSeq != 0 {
		e := chain.seals[id]
		if e == nil {
			e = chain.beyond[id]
			r.reseal = &chainEntry{typ: entrySeal, id: id}
			if e != nil {
				r.reseal.exports, r.reseal.deferred = e.exports, e.deferred
			}
		} else if e.seq != r.m.SealSeq {
			clear(r.dk)
			return nil, fmt.Sprintf("metadata names seal %d, the chain seals it at %d", r.m.SealSeq, e.seq)
		}
		rec := r.m.recording(id, nil)
		if e != nil && (e.orig != sums[BlobOriginal] || e.mp != sums[BlobMap] || e.meta != rec.MetaSHA256()) {
			clear(r.dk)
			return nil, "stored bytes or metadata differ from its seal"
		}
		if r.reseal != nil {
			r.reseal.orig, r.reseal.mp, r.reseal.meta = sums[BlobOriginal], sums[BlobMap], rec.MetaSHA256()
		} else {
			r.seal = e
		}
	}
	return r, ""
}

func (s *salvageSource) copyAll(ctx context.Context, d *Archive, res *SalvageResult) error {
	chain := s.readChain(ctx, res)
	// The kept run of the chain, as it was.
	for i := 0; i < len(chain.raw); i += 1024 {
		part := chain.raw[i:min(i+1024, len(chain.raw))]
		last := i+len(part) == len(chain.raw)
		err := d.update(ctx, func(tx kv.Tx) error {
			b := tx.Bucket(bucketChain)
			for j, v := range part {
				if err := b.Put(seqKey(uint64(i+j+1)), v); err != nil {
					return err
				}
			}
			if last {
				return tx.Bucket(bucketMeta).Put(metaChainHead, d.signedHead(uint64(len(chain.raw)), chain.head))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	lost := map[ID]string{}
	for _, id := range s.candidates(ctx, res, chain) {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, why := s.check(ctx, res, id, chain)
		if r == nil {
			lost[id] = why
			continue
		}
		err := s.copyRecording(ctx, d, r, res)
		clear(r.dk)
		if err != nil {
			return fmt.Errorf("recording %s: %w", id, err)
		}
		res.Recovered = append(res.Recovered, id)
	}
	// Sealed recordings of the kept chain that are gone get a tombstone.
	seqs := make([]*chainEntry, 0, len(chain.seals))
	for id, e := range chain.seals {
		if _, dead := chain.tombs[id]; !dead && !slices.Contains(res.Recovered, id) {
			seqs = append(seqs, e)
			if _, ok := lost[id]; !ok {
				lost[id] = "not found in the damaged file"
			}
		}
	}
	slices.SortFunc(seqs, func(x, y *chainEntry) int { return int(x.seq - y.seq) })
	for _, e := range seqs {
		note, _ := json.Marshal(tombstoneNote{Who: salvageWho, Why: "lost in salvage: " + lost[e.id]})
		err := d.update(ctx, func(tx kv.Tx) error { return d.appendTombstoneTx(tx, e.id, e.seq, note) })
		if err != nil {
			return err
		}
		res.Tombstones++
	}
	for id, why := range lost {
		res.Lost = append(res.Lost, SalvageLoss{ID: id, Reason: why})
	}
	slices.SortFunc(res.Lost, func(x, y SalvageLoss) int { return bytes.Compare(x.ID[:], y.ID[:]) })
	if err := s.copyState(ctx, d, res); err != nil {
		return err
	}
	_ = d.Audit(ctx, AuditEvent{Actor: salvageWho, Action: "salvage", OK: res.Complete(),
		Detail: fmt.Sprintf("salvaged from %s: %d recordings copied, %d lost, %d chain entries kept, %d resealed",
			s.a.path, len(res.Recovered), len(res.Lost), res.ChainKept, res.Resealed)})
	v, err := d.VerifyChain(ctx)
	if err != nil {
		return err
	}
	res.Chain = v
	return nil
}

// copyRecording writes r into d: its chunks as they are (under new
// sequence numbers; their AEAD does not cover those), then its data key,
// metadata, indexes, notes and seal in one transaction.
func (s *salvageSource) copyRecording(ctx context.Context, d *Archive, r *salvaged, res *SalvageResult) error {
	for _, kind := range []BlobKind{BlobOriginal, BlobMap} {
		prefix := blobPrefix(r.id, kind)
		var keys [][]byte
		var seqs [][]byte
		err := s.a.view(func(tx kv.Tx) error {
			c := tx.Bucket(bucketChunkIndex).Cursor()
			for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
				keys, seqs = append(keys, bytes.Clone(k)), append(seqs, bytes.Clone(v))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i := 0; i < len(keys); i += verifyBatch {
			end := min(i+verifyBatch, len(keys))
			vals := make([][]byte, end-i)
			err := s.a.view(func(tx kv.Tx) error {
				b := tx.Bucket(bucketChunks)
				for j := range vals {
					vals[j] = bytes.Clone(b.Get(seqs[i+j]))
				}
				return nil
			})
			if err != nil {
				return err
			}
			newSeqs := make([][seqKeyLen]byte, len(vals))
			err = d.update(ctx, func(tx kv.Tx) error {
				store := openChunkStore(tx)
				for j, v := range vals {
					if err := store.put(keys[i+j], v, &newSeqs[j]); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	prefix := r.id[:]
	if err := s.tolerantWalkPrefix(ctx, bucketNotes, prefix, func(k, v []byte) { r.notes = append(r.notes, [2][]byte{k, v}) }); err != nil {
		res.Problems = append(res.Problems, fmt.Sprintf("recording %s: notes damaged, %d copied: %v", r.id, len(r.notes), err))
	}
	var metaBox, chunkNote []byte
	_ = s.a.view(func(tx kv.Tx) error {
		metaBox = bytes.Clone(tx.Bucket(bucketRecs).Get(r.id[:]))
		chunkNote = bytes.Clone(tx.Bucket(bucketUnfinished).Get(r.id[:])) // sealed; kept as it is
		return nil
	})
	slot := d.slots.alloc()
	err := d.update(ctx, func(tx kv.Tx) error {
		if err := d.slots.put(slot, r.id, r.keyBox); err != nil {
			return err
		}
		if err := tx.Bucket(bucketDataKeys).Put(r.id[:], slotRef(slot)); err != nil {
			return err
		}
		m := *r.m
		exportsMoved := salvageExports(&m, r.reseal, uint64(res.ChainKept))
		if r.reseal != nil {
			e := *r.reseal
			e.time = nsOf(d.now())
			if err := d.appendEntry(tx, &e); err != nil {
				return err
			}
			m.SealSeq = e.seq
			if err := d.putMetaTx(tx, r.id, r.dk, &m); err != nil {
				return err
			}
		} else if exportsMoved {
			if err := d.putMetaTx(tx, r.id, r.dk, &m); err != nil {
				return err
			}
		} else if err := tx.Bucket(bucketRecs).Put(r.id[:], metaBox); err != nil {
			return err
		}
		var puts [][2][]byte
		if m.ExportsDue {
			puts = append(puts, [2][]byte{bucketExportsDue, r.id[:]})
		}
		if m.Binned != 0 {
			bk := timeKey(m.Binned, r.id)
			puts = append(puts, [2][]byte{bucketBin, bk[:]})
		} else if err := d.indexTx(tx, r.id, &m, true); err != nil {
			return err
		}
		if len(m.OrigSHA256) > 0 {
			puts = append(puts, [2][]byte{bucketByOrig, d.origKey(m.OrigSHA256, r.id)})
		}
		if m.Protected {
			puts = append(puts, [2][]byte{bucketProtected, r.id[:]})
		}
		switch {
		case m.State == StateRecording:
			puts = append(puts, [2][]byte{bucketUnfinished, r.id[:]})
		case m.SealSeq == 0:
			puts = append(puts, [2][]byte{bucketUnsealed, r.id[:]})
		}
		for _, p := range puts {
			if err := tx.Bucket(p[0]).Put(p[1], []byte{}); err != nil {
				return err
			}
		}
		if m.State == StateRecording && len(chunkNote) > 0 {
			if err := tx.Bucket(bucketUnfinished).Put(r.id[:], chunkNote); err != nil {
				return err
			}
		}
		nb := tx.Bucket(bucketNotes)
		for _, n := range r.notes {
			if err := nb.Put(n[0], n[1]); err != nil {
				return err
			}
			if len(n[0]) == 24 {
				if seq := binary.BigEndian.Uint64(n[0][16:]); seq > nb.Sequence() {
					if err := nb.SetSequence(seq); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if r.reseal != nil {
		res.Resealed++
	}
	res.Notes += len(r.notes)
	return nil
}

// tolerantWalkPrefix is tolerantWalk over the keys starting with prefix.
func (s *salvageSource) tolerantWalkPrefix(ctx context.Context, bucket, prefix []byte, fn func(k, v []byte)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.a.view(func(tx kv.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			fn(bytes.Clone(k), bytes.Clone(v))
		}
		return nil
	})
}

// copyState copies users, tokens, sessions, settings, WebDAV passwords
// and seat losses as far as they read, and the audit log when it reads
// whole.
func (s *salvageSource) copyState(ctx context.Context, d *Archive, res *SalvageResult) error {
	for _, b := range [][]byte{bucketUsers, bucketTokens, bucketSessions, bucketSettings, bucketWebDAV, bucketSeatLost} {
		var kvs [][2][]byte
		if err := s.tolerantWalk(ctx, b, func(k, v []byte) { kvs = append(kvs, [2][]byte{k, v}) }); err != nil {
			res.Problems = append(res.Problems, fmt.Sprintf("%s: damaged, %d entries copied: %v", b, len(kvs), err))
		}
		if string(b) == string(bucketUsers) {
			res.Users = len(kvs)
		}
		if err := d.update(ctx, func(tx kv.Tx) error { return putAll(tx.Bucket(b), kvs) }); err != nil {
			return err
		}
	}
	var audit [][2][]byte
	err := s.tolerantWalk(ctx, bucketAudit, func(k, v []byte) { audit = append(audit, [2][]byte{k, v}) })
	var head []byte
	if err == nil {
		err = s.a.view(func(tx kv.Tx) error { head = bytes.Clone(tx.Bucket(bucketMeta).Get(metaAuditHead)); return nil })
	}
	if err == nil && len(audit) > 0 && (len(head) < 8 || binary.BigEndian.Uint64(head) != uint64(len(audit)) ||
		!bytes.Equal(audit[len(audit)-1][0], seqKey(uint64(len(audit))))) {
		err = errors.New("entries missing")
	}
	if err != nil {
		res.Problems = append(res.Problems, fmt.Sprintf("audit log: damaged (%v); not carried over, the new log starts with the salvage", err))
		return nil
	}
	return d.update(ctx, func(tx kv.Tx) error {
		if err := putAll(tx.Bucket(bucketAudit), audit); err != nil {
			return err
		}
		if head == nil {
			return nil
		}
		return tx.Bucket(bucketMeta).Put(metaAuditHead, head)
	})
}

func putAll(b kv.Bucket, kvs [][2][]byte) error {
	for _, kv := range kvs {
		if err := b.Put(kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}
