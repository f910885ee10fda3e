package archive

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/callvault/callvault/archive/kv"
)

// The chain head is signed (seal.go), but bbolt keeps earlier versions of
// the page holding it in free pages until they are reused, so an earlier
// signed head may still be in the archive file: with it, someone without
// the key could cut the newest entries and recordings and the result
// would look like the archive at that earlier moment. The witness closes
// that: a second signature over the head's sequence number, under another
// label, kept in the header slot of the data-key file, which is
// overwritten in place and so holds no earlier version. It is written
// after each commit that moved the head, so it lags the head at most by
// the commits a crash cut off; a head behind the witness means entries
// were cut. Layout of header slot bytes 32..104: u8 1 ‖ u64 seq ‖
// Ed25519(seal key, "callvault chain witness\0" ‖ 0x01 ‖ u64 seq ‖ H(entry
// seq), or the genesis hash for seq 0).

const (
	witnessLabel = "callvault chain witness\x00"
	witnessOff   = 32
	witnessLen   = 1 + 8 + ed25519.SignatureSize
	witnessTag   = 0x01
)

var errNoWitness = errors.New("the data-key file holds no chain witness")

// errWitnessNotKept: the archive is on a backend other than bbolt and
// keeps no slot file, so no witness. The witness notices a bbolt file
// replaced by an older copy of itself under the daemon; PostgreSQL has
// no such file (FORMAT.md, "Data keys on PostgreSQL + S3").
var errWitnessNotKept = errors.New("no chain witness is kept on this backend")

func witnessMessage(seq uint64, h [32]byte) []byte {
	b := append([]byte(witnessLabel), curFormat)
	b = binary.BigEndian.AppendUint64(b, seq)
	return append(b, h[:]...)
}

// readWitness returns the witnessed sequence number and signature;
// errNoWitness when the header holds none.
func (s *keySlots) readWitness() (uint64, []byte, error) {
	if s == nil {
		return 0, nil, errWitnessNotKept
	}
	b := make([]byte, witnessLen)
	if _, err := s.f.ReadAt(b, witnessOff); err != nil {
		return 0, nil, fmt.Errorf("archive: data-key file: %w", err)
	}
	if isZero(b) {
		return 0, nil, errNoWitness
	}
	if b[0] != witnessTag {
		return 0, nil, fmt.Errorf("archive: chain witness of unknown version %d: %w", b[0], ErrCorrupt)
	}
	return binary.BigEndian.Uint64(b[1:]), b[9:], nil
}

func (s *keySlots) writeWitness(seq uint64, sig []byte) error {
	b := make([]byte, 0, witnessLen)
	b = append(b, witnessTag)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = append(b, sig...)
	if _, err := s.f.WriteAt(b, witnessOff); err != nil {
		return fmt.Errorf("archive: data-key file: %w", err)
	}
	return nil
}

// witnessState is the last sequence number witnessed by this process.
type witnessState struct {
	seq atomic.Uint64
	on  atomic.Bool // the witness is kept (not when Open found it missing)
}

// headTx returns the chain head's sequence number and hash in tx, when
// the head is signed and valid.
func (a *Archive) headTx(tx kv.Tx) (uint64, [32]byte, bool) {
	v := tx.Bucket(bucketMeta).Get(metaChainHead)
	if v == nil {
		return 0, GenesisHash(a.keys.sealPub), tx.Bucket(bucketChain).KeyN() == 0
	}
	seq, h, err := parseChainHead(a.keys.sealPub, v)
	return seq, h, err == nil
}

// openWitness runs at Open. It writes the witness of a new or just
// migrated archive (mayCreate) or of one with an empty chain; it never
// lowers a witness, and never writes one that is missing from a file
// whose chain has entries (that file's witness was removed: VerifyChain
// says so).
func (a *Archive) openWitness(mayCreate bool) error {
	if a.slots == nil {
		return nil // no slot file to keep it in: see errWitnessNotKept
	}
	var seq uint64
	var h [32]byte
	var ok bool
	if err := a.view(func(tx kv.Tx) error { seq, h, ok = a.headTx(tx); return nil }); err != nil {
		return err
	}
	w, _, err := a.slots.readWitness()
	switch {
	case errors.Is(err, errNoWitness) && (mayCreate || seq == 0):
		w = 0
	case errors.Is(err, errNoWitness):
		a.log.Error("archive chain witness missing from the data-key file: run callvault verify")
		return nil
	case err != nil:
		a.log.Error("archive chain witness unreadable: run callvault verify", "err", err)
		return nil
	case w > seq:
		a.log.Error("archive chain ends before the entry its witness names: entries were cut off; run callvault verify", "head", seq, "witness", w)
		return nil
	}
	a.witness.on.Store(true)
	a.witness.seq.Store(w)
	if !ok || (err == nil && w == seq) {
		return nil
	}
	if err := a.slots.writeWitness(seq, ed25519.Sign(a.keys.sealPriv, witnessMessage(seq, h))); err != nil {
		return err
	}
	a.witness.seq.Store(seq)
	return a.slots.f.Sync()
}

// updateWitness runs after each successful group commit: when the head
// moved past the witness, it writes a new one (no fsync: a witness that
// lags after a crash is fine; Close syncs).
func (a *Archive) updateWitness() {
	if !a.witness.on.Load() {
		return
	}
	var seq uint64
	var h [32]byte
	var ok bool
	if err := a.view(func(tx kv.Tx) error { seq, h, ok = a.headTx(tx); return nil }); err != nil || !ok {
		return
	}
	if seq <= a.witness.seq.Load() {
		return
	}
	if err := a.slots.writeWitness(seq, ed25519.Sign(a.keys.sealPriv, witnessMessage(seq, h))); err != nil {
		a.log.Error("archive chain witness not written", "err", err)
		return
	}
	a.witness.seq.Store(seq)
}

// witnessHeader returns the header slot of the data-key file with the
// witness of the head in tx: what a backup taken in tx holds, so that the
// restored pair agrees.
func (a *Archive) witnessHeader(tx kv.Tx) []byte {
	hdr := make([]byte, slotSize)
	copy(hdr, slotMagic)
	if seq, h, ok := a.headTx(tx); ok {
		b := hdr[witnessOff:witnessOff]
		b = append(b, witnessTag)
		b = binary.BigEndian.AppendUint64(b, seq)
		_ = append(b, ed25519.Sign(a.keys.sealPriv, witnessMessage(seq, h))...)
	}
	return hdr
}

// checkWitness reports, into res, a witness that is missing, does not
// verify, or names an entry after chainEnd. w and sig were read before the
// chain was walked (the witness only grows after commits).
func checkWitness(res *VerifyResult, pub ed25519.PublicKey, w uint64, sig []byte, werr error, chainEnd uint64, entryHash func(uint64) ([32]byte, bool)) {
	switch {
	case errors.Is(werr, errWitnessNotKept):
		return
	case errors.Is(werr, errNoWitness):
		res.problem("%v (removed: entries may have been cut off the end of the chain unnoticed)", errNoWitness)
		return
	case werr != nil:
		res.problem("chain witness: %v", werr)
		return
	case w > chainEnd:
		res.problem("the data-key file witnessed chain entry %d, but the chain ends at entry %d (entries cut off the end, the head replaced by an earlier one)", w, chainEnd)
		return
	}
	h, ok := GenesisHash(pub), true
	if w > 0 {
		h, ok = entryHash(w)
	}
	if !ok || !ed25519.Verify(pub, witnessMessage(w, h), sig) {
		res.problem("chain witness for entry %d does not verify", w)
	}
}
