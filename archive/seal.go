package archive

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/callvault/callvault/archive/kv"

	"github.com/callvault/callvault/archive/seal"
)

// Chain entry types.
const (
	entrySeal      = seal.TypeSeal
	entryTombstone = seal.TypeTombstone
	entryExports   = seal.TypeExports
)

const (
	chainMagic   = seal.Magic
	maxExports   = seal.MaxExports
	maxWhoWhyLen = 4096
	// chainHeadSize is the stored head: u64 seq ‖ hash ‖ Ed25519
	// signature of seal.HeadMessage.
	chainHeadSize = seal.HeadSize
	// legacyHeadSize is the unsigned head of schema 3 and before.
	legacyHeadSize = seal.LegacyHeadSize
	// schemaSignedHead is the first schema whose chain head is signed.
	schemaSignedHead = 4
)

var (
	errEntry      = seal.ErrEntry
	errHeadFormat = seal.ErrHeadFormat
)

// signedHead is the stored head record naming entry seq with hash h.
func (a *Archive) signedHead(seq uint64, h [32]byte) []byte {
	return seal.SignHead(a.keys.sealPriv, seq, h)
}

// parseChainHead reads a stored head record and checks its signature.
// A legacy (unsigned) record is returned with seal.ErrHeadUnsigned.
func parseChainHead(pub ed25519.PublicKey, v []byte) (uint64, [32]byte, error) {
	return seal.ParseHead(pub, v)
}

// bindChainHead signs the head record of a file written before heads
// were signed (schema 3 and before), at Open, when the key is at hand. It
// signs only a head that names the chain's last entry; any other is left
// for VerifyChain to report (and appending to the chain fails until the
// damage is dealt with). On a file of schema 4 or later an unsigned head
// is never signed: it is a rewritten one. It returns the entry it signed
// (0 when none), which Open records in the audit log.
func (a *Archive) bindChainHead() (uint64, error) {
	var signed uint64
	err := guard("open", func() error {
		return a.store.Update(func(tx kv.Tx) error {
			meta := tx.Bucket(bucketMeta)
			v := meta.Get(metaChainHead)
			if len(v) != legacyHeadSize {
				return nil
			}
			if s := meta.Get(metaSchema); len(s) != 8 || binary.BigEndian.Uint64(s) >= schemaSignedHead {
				a.log.Error("archive chain head is not signed although the file's schema signs it: the head was rewritten; run callvault verify")
				return nil
			}
			seq, h := binary.BigEndian.Uint64(v), [32]byte(v[8:40])
			k, raw := tx.Bucket(bucketChain).Cursor().Last()
			e, err := parseEntry(raw)
			if k == nil || err != nil || e.seq != seq || e.hash() != h || !bytes.Equal(k, seqKey(seq)) {
				a.log.Error("archive chain head does not name the last chain entry; left unsigned: run callvault verify", "head", seq)
				return nil
			}
			a.log.Info("archive chain head signed", "seq", seq)
			signed = seq
			return meta.Put(metaChainHead, a.signedHead(seq, h))
		})
	})
	return signed, err
}

// Seal is a signed entry of the seal chain for one recording (see
// package seal, which verifies it without the archive).
type Seal = seal.Seal

// chainEntry is a seal or a tombstone as stored: message ‖ signature ‖
// note (tombstones only: the encrypted who/why). Its bytes are those of
// seal.Entry.
type chainEntry struct {
	typ  byte
	seq  uint64
	time int64
	prev [32]byte
	id   ID
	// seal
	orig, mp, meta [32]byte
	exports        [][32]byte
	deferred       bool // seal: exports follow in an exports entry
	// tombstone, exports entry
	sealSeq  uint64
	noteHash [32]byte
	note     []byte

	sig []byte
}

func (e *chainEntry) entry() *seal.Entry {
	return &seal.Entry{
		Type: e.typ, Seq: e.seq, Time: e.time, Prev: e.prev, ID: e.id,
		Orig: e.orig, Map: e.mp, Meta: e.meta, Exports: e.exports, Deferred: e.deferred,
		SealSeq: e.sealSeq, NoteHash: e.noteHash, Note: e.note, Sig: e.sig,
	}
}

func (e *chainEntry) message() []byte { return e.entry().Message() }

func (e *chainEntry) marshal() []byte { return e.entry().Marshal() }

// hash is sha256(message ‖ signature): what the next entry's prev holds.
func (e *chainEntry) hash() [32]byte { return e.entry().Hash() }

// parseEntry decodes a stored chain entry (seal.ParseEntry).
func parseEntry(b []byte) (*chainEntry, error) {
	p, err := seal.ParseEntry(b)
	if err != nil {
		return nil, err
	}
	return &chainEntry{
		typ: p.Type, seq: p.Seq, time: p.Time, prev: p.Prev, id: p.ID,
		orig: p.Orig, mp: p.Map, meta: p.Meta, exports: p.Exports, deferred: p.Deferred,
		sealSeq: p.SealSeq, noteHash: p.NoteHash, note: p.Note, sig: p.Sig,
	}, nil
}

func (e *chainEntry) seal() *Seal { return e.entry().Seal() }

// ParseSeal decodes a seal written by Seal.MarshalBinary (seal.ParseSeal).
func ParseSeal(b []byte) (*Seal, error) { return seal.ParseSeal(b) }

// GenesisHash is the Prev of the first chain entry (seal.GenesisHash).
func GenesisHash(pub ed25519.PublicKey) [32]byte { return seal.GenesisHash(pub) }

// chainTail returns the sequence number and hash of the last entry.
func (a *Archive) chainTail(tx kv.Tx) (uint64, [32]byte, error) {
	v := tx.Bucket(bucketMeta).Get(metaChainHead)
	if v == nil {
		if k, _ := tx.Bucket(bucketChain).Cursor().First(); k != nil {
			return 0, [32]byte{}, fmt.Errorf("archive: chain head record missing: %w", ErrCorrupt)
		}
		return 0, GenesisHash(a.keys.sealPub), nil
	}
	seq, h, err := parseChainHead(a.keys.sealPub, v)
	if err != nil {
		return 0, [32]byte{}, fmt.Errorf("archive: %w: %w", err, ErrCorrupt)
	}
	return seq, h, nil
}

// appendEntry signs e (seq and prev filled in here) and stores it as the
// new chain head.
func (a *Archive) appendEntry(tx kv.Tx, e *chainEntry) error {
	seq, prev, err := a.chainTail(tx)
	if err != nil {
		return err
	}
	// Entries cut off behind a signed head: do not build on the gap.
	if last, _ := tx.Bucket(bucketChain).Cursor().Last(); seq != 0 && !bytes.Equal(last, seqKey(seq)) {
		return fmt.Errorf("archive: chain head names entry %d, which is not the chain's last entry: %w", seq, ErrCorrupt)
	}
	e.seq, e.prev = seq+1, prev
	e.sig = ed25519.Sign(a.keys.sealPriv, e.message())
	if err := tx.Bucket(bucketChain).Put(seqKey(e.seq), e.marshal()); err != nil {
		return err
	}
	return tx.Bucket(bucketMeta).Put(metaChainHead, a.signedHead(e.seq, e.hash()))
}

// Seal appends a signed seal of a finished recording to the chain.
// exports are the sha256 of each canonical WAV export (one per call),
// computed by the caller from the stored blobs. Sealing twice or sealing an
// unfinished recording is ErrState. While sealing is off (Settings.Sealing)
// Seal defers: it returns nil and the recording stays listed by Unsealed.
func (a *Archive) Seal(ctx context.Context, id ID, exports [][32]byte) error {
	if len(exports) > maxExports {
		return fmt.Errorf("archive: seal %s: %d exports, at most %d: %w", id, len(exports), maxExports, ErrInvalid)
	}
	return a.seal(ctx, id, append([][32]byte(nil), exports...), false)
}

// seal appends the seal of recording id: with its export hashes, or
// deferred (SealDeferred).
func (a *Archive) seal(ctx context.Context, id ID, exports [][32]byte, deferred bool) error {
	err := a.update(ctx, func(tx kv.Tx) error {
		_, err := a.sealTx(tx, id, exports, deferred)
		return err
	})
	if err != nil {
		return fmt.Errorf("archive: seal %s: %w", id, err)
	}
	return nil
}

// sealTx is seal inside tx. It returns the recording's sealed metadata, or
// nil when sealing is off (the recording stays listed by Unsealed).
func (a *Archive) sealTx(tx kv.Tx, id ID, exports [][32]byte, deferred bool) (*metaRecord, error) {
	m, dk, err := a.loadTx(tx, id)
	if err != nil {
		return nil, err
	}
	defer clear(dk)
	switch {
	case m.State == StateRecording:
		return nil, fmt.Errorf("archive: seal %s: not finished: %w", id, ErrState)
	case m.SealSeq != 0:
		return nil, fmt.Errorf("archive: seal %s: already sealed: %w", id, ErrState)
	}
	if !a.sealingTx(tx) {
		return nil, nil // deferred: stays in bucketUnsealed
	}
	r := m.recording(id, nil)
	e := &chainEntry{
		typ: entrySeal, time: nsOf(a.now()), id: id,
		orig: r.OrigSHA256, mp: r.MapSHA256, meta: r.MetaSHA256(), exports: exports, deferred: deferred,
	}
	if err := a.appendEntry(tx, e); err != nil {
		return nil, err
	}
	m.SealSeq, m.ExportsDue = e.seq, deferred
	if err := a.putMetaTx(tx, id, dk, m); err != nil {
		return nil, err
	}
	if deferred {
		if err := tx.Bucket(bucketExportsDue).Put(id[:], []byte{}); err != nil {
			return nil, err
		}
	}
	return m, tx.Bucket(bucketUnsealed).Delete(id[:])
}

type tombstoneNote struct {
	Who string `json:"who"`
	Why string `json:"why"`
}

// Delete crypto-shreds a recording: in one transaction it destroys the
// data key, removes the metadata, index entries, chunk index entries and
// chunk values, and appends a signed tombstone to the chain (who and why
// are stored encrypted under the state key). A protected recording is
// ErrProtected. A Writer still writing the recording fails with
// ErrNotFound. Copies of the file made before the deletion (backups) still
// hold the data key; see the threat model in FORMAT.md.
func (a *Archive) Delete(ctx context.Context, id ID, who, why string) error {
	if len(who) > maxWhoWhyLen || len(why) > maxWhoWhyLen {
		return fmt.Errorf("archive: delete %s: who/why too long: %w", id, ErrInvalid)
	}
	note, err := json.Marshal(tombstoneNote{Who: who, Why: why})
	if err != nil {
		return fmt.Errorf("archive: delete %s: %w", id, err)
	}
	err = a.update(ctx, func(tx kv.Tx) error { return a.purgeTx(tx, id, note) })
	if err != nil {
		return fmt.Errorf("archive: delete %s: %w", id, err)
	}
	a.log.Info("archive recording deleted", "id", id.String())
	return nil
}

// purgeTx is Delete inside tx, with the tombstone note (JSON of
// tombstoneNote). It writes nothing when it returns ErrNotFound or
// ErrProtected, so a caller purging several recordings in one transaction
// may go on after those.
func (a *Archive) purgeTx(tx kv.Tx, id ID, note []byte) error {
	if tx.Bucket(bucketRecs).Get(id[:]) == nil && tx.Bucket(bucketDataKeys).Get(id[:]) == nil {
		return fmt.Errorf("archive: recording %s: %w", id, ErrNotFound)
	}
	if tx.Bucket(bucketProtected).Get(id[:]) != nil {
		return fmt.Errorf("archive: recording %s: %w", id, ErrProtected)
	}
	m, dk, lerr := a.loadTx(tx, id)
	clear(dk)
	if lerr == nil && m.Protected {
		return fmt.Errorf("archive: recording %s: %w", id, ErrProtected)
	}
	// The data key goes first; everything else follows in this
	// transaction.
	if err := a.destroyDataKeyTx(tx, id); err != nil {
		return err
	}
	a.listTouchTx(tx, id)
	for _, b := range [][]byte{bucketRecs, bucketUnfinished, bucketUnsealed, bucketExportsDue} {
		if err := tx.Bucket(b).Delete(id[:]); err != nil {
			return err
		}
	}
	if lerr == nil {
		if m.Binned != 0 {
			bk := timeKey(m.Binned, id)
			if err := tx.Bucket(bucketBin).Delete(bk[:]); err != nil {
				return err
			}
		} else if err := a.indexTx(tx, id, m, false); err != nil {
			return err
		}
		if len(m.OrigSHA256) > 0 {
			if err := tx.Bucket(bucketByOrig).Delete(a.origKey(m.OrigSHA256, id)); err != nil {
				return err
			}
		}
		if err := a.dropCDRsTx(tx, m); err != nil {
			return err
		}
	} else if err := deleteIndexSuffix(tx, id); err != nil { // metadata unreadable: scan
		return err
	}
	chunks := openChunkStore(tx)
	if err := chunks.deleteRecording(id); err != nil { // index entries and values
		return err
	}
	if err := deletePrefix(tx.Bucket(bucketNotes), id[:]); err != nil {
		return err
	}
	var sealSeq uint64
	if lerr == nil {
		sealSeq = m.SealSeq
	}
	return a.appendTombstoneTx(tx, id, sealSeq, note)
}

// appendTombstoneTx appends a tombstone for recording id (sealed as entry
// sealSeq, 0 when never sealed) with the who/why note, encrypted and bound
// to the entry's sequence number.
func (a *Archive) appendTombstoneTx(tx kv.Tx, id ID, sealSeq uint64, note []byte) error {
	seq, _, err := a.chainTail(tx)
	if err != nil {
		return err
	}
	e := &chainEntry{typ: entryTombstone, time: nsOf(a.now()), id: id, sealSeq: sealSeq}
	e.note = boxSeal(a.keys.state, boxAAD(aadNote, seqKey(seq+1)), note)
	e.noteHash = sha256.Sum256(e.note)
	return a.appendEntry(tx, e)
}

// deletePrefix deletes every key starting with prefix. Keys are collected
// first: deleting under a moving cursor skips keys.
func deletePrefix(b kv.Bucket, prefix []byte) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// deleteIndexSuffix removes the time, call, who, bin and hold entries of id by
// scanning, for a recording whose metadata cannot be read.
func deleteIndexSuffix(tx kv.Tx, id ID) error {
	for _, name := range [][]byte{bucketByTime, bucketByCall, bucketByOrig, bucketByWho, bucketWhoPending, bucketBin, bucketProtected, bucketByRetention} {
		b := tx.Bucket(name)
		var keys [][]byte
		err := b.ForEach(func(k, _ []byte) error {
			if len(k) >= 16 && bytes.Equal(k[len(k)-16:], id[:]) {
				keys = append(keys, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// TombstoneNote decrypts who deleted a recording and why, from the
// tombstone at seq.
func (a *Archive) TombstoneNote(ctx context.Context, seq uint64) (who, why string, err error) {
	if err := ctx.Err(); err != nil {
		return "", "", err
	}
	var raw []byte
	err = a.view(func(tx kv.Tx) error {
		raw = bytes.Clone(tx.Bucket(bucketChain).Get(seqKey(seq)))
		return nil
	})
	if err != nil {
		return "", "", err
	}
	if raw == nil {
		return "", "", fmt.Errorf("archive: chain entry %d: %w", seq, ErrNotFound)
	}
	e, err := parseEntry(raw)
	if err != nil || e.typ != entryTombstone || sha256.Sum256(e.note) != e.noteHash {
		return "", "", fmt.Errorf("archive: tombstone %d: %w", seq, ErrCorrupt)
	}
	plain, err := boxOpen(a.keys.state, boxAAD(aadNote, seqKey(seq)), e.note)
	if err != nil {
		return "", "", fmt.Errorf("archive: tombstone %d: %w", seq, ErrCorrupt)
	}
	var n tombstoneNote
	if err := json.Unmarshal(plain, &n); err != nil {
		return "", "", fmt.Errorf("archive: tombstone %d: %w", seq, ErrCorrupt)
	}
	return n.Who, n.Why, nil
}
