package archive

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/callvault/callvault/archive/kv"
	"github.com/callvault/callvault/internal/slotfile"
)

// Data keys live in a file of fixed slots next to the archive file
// (PATH.dkeys), not in bbolt: bbolt copies a changed page to a new place
// and keeps the old one as a free page, so a key deleted from a bucket
// stays readable in the file (and in any copy of it) until compaction.
// A slot is overwritten in place with zeros when its recording is purged,
// in the purge's transaction, so neither the file nor a copy of both files
// made afterwards holds the key. The bucket bucketDataKeys maps a
// recording's ID to its slot.
//
// Layout (FORMAT.md, "Data-key slots"): slot 0 is the header, slotMagic
// padded with zeros; slot n ≥ 1 at offset n·slotSize holds the recording ID
// (16 bytes) and the data key boxed by the wrap subkey (box AAD "callvault
// data-key\0" ‖ 0x01 ‖ ID, as before), then zeros. An all-zero slot is free.
//
// Ordering: a slot is written and synced before the transaction that
// refers to it commits; a purge zeroes the slot inside its transaction and
// the slot is reused only after that transaction committed. Open sweeps:
// a written slot no recording refers to (cut off before its commit) is
// zeroed; a recording whose slot is zero or holds another ID (its purge was
// cut off between the wipe and the commit) is purged.

const (
	slotSize  = 128
	slotMagic = "callvault data-key slots\x00\x01"
	// slotRefLen is a bucketDataKeys value naming a slot: slotRefTag ‖
	// slot uint64 BE. Schema 2 stored the box itself (61 bytes, starting
	// with 0x01); Open moves those into slots.
	slotRefLen = 9
	slotRefTag = 0x02
	// slotSuffix names the slot file after the archive file.
	slotSuffix = ".dkeys"
	// maxSweepRepairs bounds the purges Open completes: a crash leaves at
	// most a few; many more mean the slot file does not belong to the
	// archive file (restored separately), and Open refuses rather than
	// purge recordings.
	maxSweepRepairs = 1024
)

// SlotFile returns the path of the data-key slot file of the archive file
// at path. It must be kept, backed up and restored together with it.
func SlotFile(path string) string { return path + slotSuffix }

type keySlots struct {
	file  *slotfile.File
	f     *os.File // file.OS(): the header's chain witness, backups, salvage
	mu    sync.Mutex
	wiped []uint64 // zeroed in the running transaction; free after it commits
	dirty atomic.Bool
}

func slotRef(n uint64) []byte { return binary.BigEndian.AppendUint64([]byte{slotRefTag}, n) }

func parseSlotRef(v []byte) (uint64, bool) {
	if len(v) != slotRefLen || v[0] != slotRefTag {
		return 0, false
	}
	n := binary.BigEndian.Uint64(v[1:])
	return n, n >= 1
}

// openSlots opens or creates the slot file. create allows a missing file
// (a new archive, or one whose keys are all still in bbolt).
func openSlots(path string, create bool) (*keySlots, error) {
	f, err := slotfile.Open(path, slotSize, slotMagic, create)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("archive: data-key file %s is missing: restore it together with the archive file (without it no recording can be decrypted): %w", path, ErrCorrupt)
	}
	return newKeySlots(path, f, err)
}

// newKeySlots wraps the slot file f as opened from path, or explains err.
func newKeySlots(path string, f *slotfile.File, err error) (*keySlots, error) {
	if errors.Is(err, slotfile.ErrNotSlotFile) {
		return nil, fmt.Errorf("archive: %s is not a data-key file: %w", path, ErrCorrupt)
	}
	if err != nil {
		return nil, fmt.Errorf("archive: data-key file: %w", err)
	}
	return &keySlots{file: f, f: f.OS()}, nil
}

func isZero(b []byte) bool { return slotfile.IsZero(b) }

// A nil *keySlots is the archive on a backend other than bbolt, which
// keeps no slot file: each data key's box is its bucketDataKeys value, in
// a shred bucket of the backend (ShredBuckets). Its methods do nothing
// there; alloc returns slot 0, which no slot reference names.

func (s *keySlots) close() error {
	if s == nil {
		return nil
	}
	return s.file.Close()
}

// alloc takes a free slot, or one past the end.
func (s *keySlots) alloc() uint64 {
	if s == nil {
		return 0
	}
	return s.file.Alloc()
}

// dataKeyValue is the bucketDataKeys value of a new recording whose
// boxed data key put wrote into slot n: the slot reference, or on a
// backend without a slot file the box itself.
func (a *Archive) dataKeyValue(n uint64, box []byte) []byte {
	if a.slots == nil {
		return box
	}
	return slotRef(n)
}

// put writes a recording's boxed data key into slot n.
func (s *keySlots) put(n uint64, id ID, box []byte) error {
	if s == nil {
		return nil
	}
	if len(box) > slotSize-16 {
		return fmt.Errorf("archive: data key box of %d bytes: %w", len(box), ErrInvalid)
	}
	s.dirty.Store(true)
	if err := s.file.Write(n, append(id[:], box...)); err != nil {
		return fmt.Errorf("archive: data-key file: %w", err)
	}
	return nil
}

// get reads slot n and returns the box stored for id; ErrNotFound when the
// slot is free or holds another recording's key.
func (s *keySlots) get(n uint64, id ID) ([]byte, error) {
	if s == nil {
		return nil, fmt.Errorf("archive: recording %s: a data-key slot reference on a backend without a data-key file: %w", id, ErrCorrupt)
	}
	b := make([]byte, slotSize)
	if err := s.file.Read(n, b); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("archive: recording %s: data key slot %d past the end of the data-key file: %w", id, n, ErrCorrupt)
		}
		return nil, fmt.Errorf("archive: data-key file: %w", err)
	}
	if !bytes.Equal(b[:16], id[:]) {
		return nil, fmt.Errorf("archive: recording %s: data key destroyed: %w", id, ErrNotFound)
	}
	return b[16 : 16+boxOverhead+keyLen], nil
}

// wipe zeroes slot n in the running transaction; the slot is reused after
// the transaction commits (committed).
func (s *keySlots) wipe(n uint64) error {
	s.dirty.Store(true)
	if err := s.file.Zero(n); err != nil {
		return fmt.Errorf("archive: data-key file: %w", err)
	}
	s.mu.Lock()
	if !slices.Contains(s.wiped, n) {
		s.wiped = append(s.wiped, n)
	}
	s.mu.Unlock()
	return nil
}

// release returns slot n, written by put for a transaction that did not
// commit, after zeroing it.
func (s *keySlots) release(n uint64) {
	if s == nil {
		return
	}
	s.dirty.Store(true)
	if err := s.file.Zero(n); err != nil {
		return // stays allocated; the next Open's sweep frees it
	}
	s.file.Free(n)
}

// sync makes written and wiped slots durable; the committer calls it
// before every commit.
func (s *keySlots) sync() error {
	if s == nil {
		return nil
	}
	if !s.dirty.Swap(false) {
		return nil
	}
	if err := s.file.Sync(); err != nil {
		s.dirty.Store(true)
		return fmt.Errorf("archive: data-key file: %w", err)
	}
	return nil
}

// committed is called after each group commit: wiped slots become free
// when it succeeded. After a failed commit they stay out of use; the
// recordings still pointing at them are purged by the next Open.
func (s *keySlots) committed(ok bool) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok {
		for _, n := range s.wiped {
			s.file.Free(n)
		}
	}
	s.wiped = s.wiped[:0]
}

func (s *keySlots) size() int64 { return s.file.Len() }

// dataKeyBox returns the boxed data key of id from its bucketDataKeys
// value: a slot reference, or (schema 2, before Open moved it) the box.
func (a *Archive) dataKeyBox(id ID, v []byte) ([]byte, error) {
	if n, ok := parseSlotRef(v); ok {
		return a.slots.get(n, id)
	}
	return v, nil
}

// destroyDataKeyTx removes a recording's data key inside tx: the bucket
// entry, and the slot's bytes in the file.
func (a *Archive) destroyDataKeyTx(tx kv.Tx, id ID) error {
	b := tx.Bucket(bucketDataKeys)
	if n, ok := parseSlotRef(b.Get(id[:])); ok {
		if box, err := a.slots.get(n, id); err == nil && box != nil { // the slot is still id's
			if err := a.slots.wipe(n); err != nil {
				return err
			}
		}
	}
	return b.Delete(id[:])
}

// openSlotsFor opens the slot file of the archive at a.path, moves data
// keys still stored in bbolt (schema 2) into slots, and sweeps (see the
// comment at the top of this file). It runs in Open, before the committer
// starts.
func (a *Archive) openSlotsFor() error {
	path := SlotFile(a.path)
	var refs, inline int
	_ = a.store.View(func(tx kv.Tx) error {
		b := tx.Bucket(bucketDataKeys)
		if a.bolt == nil {
			// Every value is an object there: read the first, not one
			// per recording at every open. A build that kept a slot
			// file there kept every key in it.
			if _, v := b.Cursor().First(); v != nil {
				if _, ok := parseSlotRef(v); ok {
					refs = b.KeyN()
				}
			}
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			if _, ok := parseSlotRef(v); ok {
				refs++
			} else {
				inline++
			}
			return nil
		})
	})
	if a.bolt == nil {
		return a.noSlotFile(refs)
	}
	s, err := openSlots(path, refs == 0)
	if err != nil {
		return err
	}
	a.slots = s
	if inline > 0 || a.storedSchema() < schemaSlots {
		if err := a.moveKeysToSlots(); err != nil {
			return err
		}
	}
	if inline > 0 {
		a.log.Warn("archive data keys moved to the data-key file; earlier copies stay in the archive file's free pages until it is compacted (callvault compact)",
			"keys", inline, "path", path)
	}
	return a.sweepSlots()
}

func (a *Archive) storedSchema() uint64 {
	var v uint64
	_ = a.store.View(func(tx kv.Tx) error {
		if b := tx.Bucket(bucketMeta).Get(metaSchema); len(b) == 8 {
			v = binary.BigEndian.Uint64(b)
		}
		return nil
	})
	return v
}

// moveKeysToSlots moves schema 2's inline data keys into slots and records
// schema 3 (schemaSlots), in one transaction.
func (a *Archive) moveKeysToSlots() error {
	return a.store.Update(func(tx kv.Tx) error {
		b := tx.Bucket(bucketDataKeys)
		type move struct {
			id  ID
			box []byte
		}
		var moves []move
		err := b.ForEach(func(k, v []byte) error {
			if _, ok := parseSlotRef(v); !ok && len(k) == len(ID{}) {
				moves = append(moves, move{ID(k), bytes.Clone(v)})
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, m := range moves {
			n := a.slots.alloc()
			if err := a.slots.put(n, m.id, m.box); err != nil {
				return err
			}
			if err := b.Put(m.id[:], slotRef(n)); err != nil {
				return err
			}
		}
		if err := a.slots.sync(); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(metaSchema, binary.BigEndian.AppendUint64(nil, schemaSlots))
	})
}

// sweepSlots frees slots no recording refers to and completes purges whose
// wipe reached the slot file but whose transaction did not commit.
func (a *Archive) sweepSlots() error {
	used := map[uint64]bool{}
	next := a.slots.file.Next()
	var lost []ID
	var beyond int
	err := a.store.View(func(tx kv.Tx) error {
		return tx.Bucket(bucketDataKeys).ForEach(func(k, v []byte) error {
			n, ok := parseSlotRef(v)
			if !ok || len(k) != len(ID{}) {
				return nil
			}
			if n >= next {
				beyond++
				return nil
			}
			if _, err := a.slots.get(n, ID(k)); err != nil {
				lost = append(lost, ID(k))
				return nil
			}
			used[n] = true
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("archive: sweep data keys: %w", err)
	}
	if beyond > 0 || len(lost) > maxSweepRepairs {
		return fmt.Errorf("archive: the data-key file %s does not match the archive file (%d keys past its end, %d missing): restore both files from the same backup: %w",
			SlotFile(a.path), beyond, len(lost), ErrCorrupt)
	}
	// Slots in use that no recording refers to.
	freed := 0
	for n := uint64(1); n < next; n++ {
		if used[n] {
			continue
		}
		if a.slots.file.IsFree(n) {
			continue
		}
		a.slots.release(n)
		freed++
	}
	if freed > 0 {
		a.log.Warn("archive data-key slots without a recording zeroed (an interrupted start of a recording)", "slots", freed)
	}
	for _, id := range lost {
		note, _ := json.Marshal(tombstoneNote{Who: SystemActor, Why: "purge completed at start: its data key was already destroyed"})
		if err := a.store.Update(func(tx kv.Tx) error {
			if err := tx.Bucket(bucketProtected).Delete(id[:]); err != nil { // the key is gone either way
				return err
			}
			return a.purgeTx(tx, id, note)
		}); err != nil {
			return fmt.Errorf("archive: complete purge of %s: %w", id, err)
		}
		a.slots.committed(true)
		a.log.Warn("archive recording purged at start: its data key was destroyed by an interrupted purge", "id", id.String())
	}
	return a.slots.sync()
}

// noSlotFile opens an archive on a backend other than bbolt, which keeps
// its data keys in the shred bucket bucketDataKeys and no slot file. refs
// counts the recordings whose key a slot file holds: an archive written
// by a build that kept one, which this build cannot read.
func (a *Archive) noSlotFile(refs int) error {
	if refs > 0 {
		return fmt.Errorf("archive: %d data keys are in a data-key file beside %s, which this build no longer keeps on a backend other than bbolt: %w",
			refs, a.path, ErrCorrupt)
	}
	if r, ok := a.store.(interface{ OnShredFailure(func(error)) }); ok {
		r.OnShredFailure(func(err error) {
			a.log.Error("archive purged data keys not yet removed from the object store; the sweep removes them", "err", err)
		})
	}
	return nil
}
