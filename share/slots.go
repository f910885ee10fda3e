package share

import (
	"bytes"
	"crypto/cipher"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"

	"github.com/callvault/callvault/internal/slotfile"
	bolt "go.etcd.io/bbolt"
)

// Grant keys live in a file of fixed slots beside share.db
// (share.db.gkeys), not in bbolt: bbolt writes a changed page elsewhere
// and keeps the old one as a free page, so a key deleted from a bucket
// would stay in the file (and in every copy of it) until the page is
// reused. A slot is overwritten in place with zeros and synced when its
// grant is destroyed. See "Grant-key slots" in doc.go for the layout and
// for what each crash leaves.

const (
	gslotSize  = 128
	gslotMagic = "callvault share grant-key slots\x00\x01"
	// gslotSuffix names the slot file after share.db.
	gslotSuffix = ".gkeys"
	// wrappedLen is a wrapped grant key: nonce ‖ 32-byte key ‖ tag.
	wrappedLen = 12 + 32 + 16
	// slotRefTag starts a bKeys value naming a slot: slotRefTag ‖
	// box(grant wrap key, AD "grant slot" ‖ grant id, slot u64 BE).
	// Earlier stores kept the wrapped key itself there (wrappedLen bytes);
	// Open moves those into slots.
	slotRefTag = 0x02
	slotRefLen = 1 + 12 + 8 + 16
)

// KeyFile returns the path of the grant-key slot file of the external
// store at path. It must be kept, copied and restored together with it.
func KeyFile(path string) string { return path + gslotSuffix }

// grantSlots is the open slot file.
type grantSlots struct {
	file *slotfile.File
	rw   sync.RWMutex // writes of a slot exclude reads of it (a torn read)
}

// openGrantSlots opens the slot file, creating it when create is set
// (no grant refers to a slot yet).
func openGrantSlots(path string, create bool) (*grantSlots, error) {
	f, err := slotfile.Open(path, gslotSize, gslotMagic, create)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("the grant-key file %s is missing: restore it together with %s (without it no link can play)", path, path[:len(path)-len(gslotSuffix)])
	case errors.Is(err, slotfile.ErrNotSlotFile):
		return nil, fmt.Errorf("%s is not a grant-key file", path)
	case err != nil:
		return nil, fmt.Errorf("grant-key file: %w", err)
	}
	return &grantSlots{file: f}, nil
}

func (s *grantSlots) close() error { return s.file.Close() }

// alloc takes the lowest free slot, or one past the end. The slot is the
// caller's until it is referenced by a commit or given back by wipe.
func (s *grantSlots) alloc() uint64 { return s.file.Alloc() }

// put writes gid's wrapped key into slot n and syncs the file: the
// commit that refers to the slot comes after.
func (s *grantSlots) put(n uint64, gid, wrapped []byte) error {
	if len(gid) != idLen || len(wrapped) != wrappedLen {
		return fmt.Errorf("share: grant key of %d bytes", len(wrapped))
	}
	b := append(bytes.Clone(gid), wrapped...)
	s.rw.Lock()
	err := s.file.Write(n, b)
	s.rw.Unlock()
	clear(b)
	if err == nil {
		err = s.file.Sync()
	}
	if err != nil {
		return fmt.Errorf("grant-key file: %w", err)
	}
	return nil
}

// get returns the wrapped key slot n holds for gid; nil when the slot is
// zero, past the end, or holds another grant's key.
func (s *grantSlots) get(n uint64, gid []byte) ([]byte, error) {
	b := make([]byte, gslotSize)
	s.rw.RLock()
	err := s.file.Read(n, b)
	s.rw.RUnlock()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("grant-key file: %w", err)
	}
	if !bytes.Equal(b[:idLen], gid) {
		return nil, nil
	}
	return b[idLen : idLen+wrappedLen], nil
}

// wipe zeroes slot n, syncs the file and frees the slot. A slot whose
// wipe failed stays out of use; the next Open's sweep zeroes it.
func (s *grantSlots) wipe(n uint64) error {
	if n == 0 { // the header; 0 also stands for "no slot"
		return nil
	}
	s.rw.Lock()
	err := s.file.Zero(n)
	s.rw.Unlock()
	if err == nil {
		err = s.file.Sync()
	}
	if err != nil {
		return fmt.Errorf("grant-key file: %w", err)
	}
	s.file.Free(n)
	return nil
}

// BackupSnapshot is share.db as of one read transaction with its
// grant-key file read while that transaction is open, for a backup
// (archive.WriteBackup): every key the snapshot refers to is there. Slot
// writes wait meanwhile, so no slot is read torn; a slot wiped before
// the read belongs to a grant the snapshot still holds, which the
// restored store's Open then destroys.
func (s *Service) BackupSnapshot(fn func(tx *bolt.Tx, keys io.Reader, keysLen int64) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		s.slots.rw.RLock()
		defer s.slots.rw.RUnlock()
		n := s.slots.file.Len()
		return fn(tx, io.NewSectionReader(s.slots.file.OS(), 0, n), n)
	})
}

// slotRef is the bKeys value naming slot n for gid.
func (s *Service) slotRef(gid []byte, n uint64) []byte {
	return append([]byte{slotRefTag}, seal(s.grantKey, ad("grant slot", gid), binary.BigEndian.AppendUint64(nil, n))...)
}

// parseSlotRef returns the slot a bKeys value names; ok is false for a
// value that is not a slot reference (a key stored inline by earlier
// versions) or does not authenticate.
func (s *Service) parseSlotRef(gid, v []byte) (uint64, bool) {
	if len(v) != slotRefLen || v[0] != slotRefTag {
		return 0, false
	}
	p, err := open(s.grantKey, ad("grant slot", gid), v[1:])
	if err != nil || len(p) != 8 {
		return 0, false
	}
	n := binary.BigEndian.Uint64(p)
	return n, n >= 1
}

// grantAEAD returns the cipher of grant gid from its bKeys value, nil when
// the grant has no key any more.
func (s *Service) grantAEAD(gid, v []byte) (cipher.AEAD, error) {
	if v == nil {
		return nil, nil
	}
	n, ok := s.parseSlotRef(gid, v)
	if !ok {
		return nil, fmt.Errorf("share: grant %x: bad key reference", gid)
	}
	wrapped, err := s.slots.get(n, gid)
	if wrapped == nil || err != nil {
		return nil, err
	}
	key, err := open(s.grantKey, ad("grant key", gid), wrapped)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	return newAEAD(key)
}

// storeKey puts grant gid's wrapped key into a new slot and syncs it; the
// caller then commits the returned reference, or gives the slot back with
// s.slots.wipe.
func (s *Service) storeKey(gid, key []byte) (uint64, []byte, error) {
	wrapped := seal(s.grantKey, ad("grant key", gid), key)
	n := s.slots.alloc()
	if err := s.slots.put(n, gid, wrapped); err != nil {
		s.slots.wipe(n)
		return 0, nil, err
	}
	if s.keyHook != nil {
		s.keyHook(gid, key, wrapped)
	}
	return n, s.slotRef(gid, n), nil
}

// wipeSlots zeroes the slots of destroyed grants after their commit.
func (s *Service) wipeSlots(ns []uint64) {
	for _, n := range ns {
		if err := s.slots.wipe(n); err != nil {
			s.log.Error("share: zeroing a destroyed grant's key; the next start zeroes it", "slot", n, "err", err)
		}
	}
}

// crash is a point where a test stops an operation as a crash would:
// nothing after it runs, not even the cleanup of a failure.
func (s *Service) crash(point string) bool {
	return s.crashHook != nil && s.crashHook(point)
}

var errCrashed = errors.New("share: stopped at a test crash point")

// openKeys opens the slot file beside share.db, moves keys stored inline
// by earlier versions into slots, and sweeps: a slot no grant refers to
// is zeroed (a Send cut off before its commit, or a destroy cut off
// between its commit and the wipe); a grant whose slot holds no key for
// it (the files do not belong together) has its copies destroyed. It
// runs in Open.
func (s *Service) openKeys() error {
	path := KeyFile(s.opt.Path)
	var refs, inline int
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bKeys).ForEach(func(k, v []byte) error {
			if len(v) == slotRefLen && v[0] == slotRefTag {
				refs++
			} else {
				inline++
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	if s.slots, err = openGrantSlots(path, refs == 0); err != nil {
		return err
	}
	used := map[uint64]bool{}
	var lost []*grantRecord
	err = s.db.Update(func(tx *bolt.Tx) error {
		keys := tx.Bucket(bKeys)
		type kv struct{ k, v []byte }
		var all []kv
		if err := keys.ForEach(func(k, v []byte) error {
			all = append(all, kv{bytes.Clone(k), bytes.Clone(v)})
			return nil
		}); err != nil {
			return err
		}
		for _, e := range all {
			if len(e.v) == wrappedLen {
				// A key stored inline: into a slot.
				key, err := open(s.grantKey, ad("grant key", e.k), e.v)
				if err != nil {
					return fmt.Errorf("grant %x: %w", e.k, err)
				}
				n := s.slots.alloc()
				err = s.slots.put(n, e.k, e.v)
				clear(key)
				if err != nil {
					return err
				}
				used[n] = true
				if err := keys.Put(e.k, s.slotRef(e.k, n)); err != nil {
					return err
				}
				continue
			}
			n, ok := s.parseSlotRef(e.k, e.v)
			if !ok {
				return fmt.Errorf("grant %x: its key reference does not open (share.db of another archive?)", e.k)
			}
			if n >= s.slots.file.Next() {
				return fmt.Errorf("the grant-key file %s is shorter than %s needs: restore both from the same copy", path, s.opt.Path)
			}
			wrapped, err := s.slots.get(n, e.k)
			if err != nil {
				return err
			}
			if wrapped != nil {
				used[n] = true
				continue
			}
			// The grant's key is gone: its copies cannot play. The
			// order of writes never leaves this; the two files are
			// from different times.
			g, err := s.grantTx(tx, hex.EncodeToString(e.k))
			if err != nil {
				return err
			}
			lost = append(lost, g)
		}
		if len(lost) > 1 && 2*len(lost) > refs {
			return fmt.Errorf("the grant-key file %s holds no key for %d of the %d grants of %s: restore both from the same copy", path, len(lost), refs, s.opt.Path)
		}
		for _, g := range lost {
			if _, err := s.destroyTx(tx, g); err != nil {
				return err
			}
			if err := s.putGrantTx(tx, g); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if inline > 0 {
		s.log.Warn("share: grant keys moved to the grant-key file; earlier copies stay in share.db's free pages until they are reused", "keys", inline, "path", path)
	}
	for _, g := range lost {
		s.log.Warn("share: a grant's key is not in the grant-key file; its copies were deleted", "grant", g.ID)
	}
	// Slots no grant refers to.
	swept := 0
	for n := uint64(1); n < s.slots.file.Next(); n++ {
		if used[n] || s.slots.file.IsFree(n) {
			continue
		}
		if err := s.slots.wipe(n); err != nil {
			return err
		}
		swept++
	}
	if swept > 0 {
		s.log.Warn("share: grant-key slots that no grant refers to zeroed (a send or a destroy cut off)", "slots", swept)
	}
	return nil
}
