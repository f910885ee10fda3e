package archive

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Chain entry types.
const (
	entrySeal      = 1
	entryTombstone = 2
)

const (
	chainMagic   = "callvault chain\x00" // 16 bytes
	genesisLabel = "callvault chain genesis\x00"
	maxExports   = 1024
	entryHeadLen = len(chainMagic) + 1 + 1 + 8 + 8 + 32 + 16
	sealBodyMin  = 3*32 + 2
	tombBodyLen  = 8 + 32
	maxNoteLen   = 64 << 10
	maxWhoWhyLen = 4096
	// chainHeadSize is the stored head: u64 seq ‖ hash ‖ Ed25519
	// signature of chainHeadLabel ‖ format ‖ u64 seq ‖ hash.
	chainHeadSize = 8 + 32 + ed25519.SignatureSize
	// legacyHeadSize is the unsigned head of schema 3 and before.
	legacyHeadSize = 8 + 32
	chainHeadLabel = "callvault chain head\x00"
	// schemaSignedHead is the first schema whose chain head is signed.
	schemaSignedHead = 4
)

var (
	errHeadUnsigned = errors.New("chain head record is not signed")
	errHeadSig      = errors.New("chain head record's signature does not verify (rewritten without the seal key)")
	errHeadFormat   = errors.New("chain head record malformed")
)

// chainHeadMessage is what the head's signature covers.
func chainHeadMessage(seq uint64, h [32]byte) []byte {
	b := make([]byte, 0, len(chainHeadLabel)+1+8+32)
	b = append(b, chainHeadLabel...)
	b = append(b, curFormat)
	b = binary.BigEndian.AppendUint64(b, seq)
	return append(b, h[:]...)
}

// signedHead is the stored head record naming entry seq with hash h.
func (a *Archive) signedHead(seq uint64, h [32]byte) []byte {
	v := make([]byte, 0, chainHeadSize)
	v = binary.BigEndian.AppendUint64(v, seq)
	v = append(v, h[:]...)
	return append(v, ed25519.Sign(a.keys.sealPriv, chainHeadMessage(seq, h))...)
}

// parseChainHead reads a stored head record and checks its signature.
// A legacy (unsigned) record is returned with errHeadUnsigned.
func parseChainHead(pub ed25519.PublicKey, v []byte) (uint64, [32]byte, error) {
	switch len(v) {
	case chainHeadSize:
		seq, h := binary.BigEndian.Uint64(v), [32]byte(v[8:40])
		if !ed25519.Verify(pub, chainHeadMessage(seq, h), v[40:]) {
			return seq, h, errHeadSig
		}
		return seq, h, nil
	case legacyHeadSize:
		return binary.BigEndian.Uint64(v), [32]byte(v[8:40]), errHeadUnsigned
	}
	return 0, [32]byte{}, errHeadFormat
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
		return a.db.Update(func(tx *bolt.Tx) error {
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

// Seal is a signed entry of the seal chain for one recording. The
// signature covers Message(): format, sequence number, time, the previous
// entry's hash, the recording ID, the sha256 of the original, of the map and
// of the core metadata (Recording.CoreMetadata), and the sha256 of each
// canonical WAV export. Verify needs only the appliance's public key.
type Seal struct {
	Seq        uint64
	Time       time.Time
	Prev       [32]byte // Hash of the previous chain entry (GenesisHash for Seq 1)
	ID         ID
	OrigSHA256 [32]byte
	MapSHA256  [32]byte
	MetaSHA256 [32]byte
	Exports    [][32]byte
	Signature  []byte
	Hash       [32]byte // sha256(Message() ‖ Signature), the next entry's Prev
}

// chainEntry is a seal or a tombstone as stored: message ‖ signature ‖
// note (tombstones only: the encrypted who/why).
type chainEntry struct {
	typ  byte
	seq  uint64
	time int64
	prev [32]byte
	id   ID
	// seal
	orig, mp, meta [32]byte
	exports        [][32]byte
	// tombstone
	sealSeq  uint64
	noteHash [32]byte
	note     []byte

	sig []byte
}

func (e *chainEntry) message() []byte {
	b := make([]byte, 0, entryHeadLen+sealBodyMin+32*len(e.exports))
	b = append(b, chainMagic...)
	b = append(b, curFormat, e.typ)
	b = binary.BigEndian.AppendUint64(b, e.seq)
	b = binary.BigEndian.AppendUint64(b, uint64(e.time))
	b = append(b, e.prev[:]...)
	b = append(b, e.id[:]...)
	switch e.typ {
	case entrySeal:
		b = append(b, e.orig[:]...)
		b = append(b, e.mp[:]...)
		b = append(b, e.meta[:]...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(e.exports)))
		for _, x := range e.exports {
			b = append(b, x[:]...)
		}
	case entryTombstone:
		b = binary.BigEndian.AppendUint64(b, e.sealSeq)
		b = append(b, e.noteHash[:]...)
	}
	return b
}

func (e *chainEntry) marshal() []byte {
	b := e.message()
	b = append(b, e.sig...)
	return append(b, e.note...)
}

// hash is sha256(message ‖ signature): what the next entry's prev holds.
func (e *chainEntry) hash() [32]byte {
	h := sha256.New()
	h.Write(e.message())
	h.Write(e.sig)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

var errEntry = errors.New("malformed chain entry")

// parseEntry decodes a stored chain entry. It never panics and accepts
// only the canonical encoding (marshal of the result gives back b).
func parseEntry(b []byte) (*chainEntry, error) {
	if len(b) < entryHeadLen || string(b[:len(chainMagic)]) != chainMagic {
		return nil, errEntry
	}
	p := b[len(chainMagic):]
	if p[0] < minFormat || p[0] > curFormat {
		return nil, errEntry
	}
	e := &chainEntry{typ: p[1]}
	e.seq = binary.BigEndian.Uint64(p[2:])
	e.time = int64(binary.BigEndian.Uint64(p[10:]))
	copy(e.prev[:], p[18:50])
	copy(e.id[:], p[50:66])
	p = p[66:]
	switch e.typ {
	case entrySeal:
		if len(p) < sealBodyMin {
			return nil, errEntry
		}
		copy(e.orig[:], p[0:32])
		copy(e.mp[:], p[32:64])
		copy(e.meta[:], p[64:96])
		n := int(binary.BigEndian.Uint16(p[96:98]))
		p = p[98:]
		if n > maxExports || len(p) != 32*n+ed25519.SignatureSize {
			return nil, errEntry
		}
		e.exports = make([][32]byte, n)
		for i := range e.exports {
			copy(e.exports[i][:], p[32*i:])
		}
		p = p[32*n:]
	case entryTombstone:
		if len(p) < tombBodyLen+ed25519.SignatureSize || len(p) > tombBodyLen+ed25519.SignatureSize+maxNoteLen {
			return nil, errEntry
		}
		e.sealSeq = binary.BigEndian.Uint64(p)
		copy(e.noteHash[:], p[8:40])
		p = p[40:]
	default:
		return nil, errEntry
	}
	if e.seq == 0 {
		return nil, errEntry
	}
	e.sig = bytes.Clone(p[:ed25519.SignatureSize])
	if rest := p[ed25519.SignatureSize:]; len(rest) > 0 {
		e.note = bytes.Clone(rest)
	}
	return e, nil
}

func (e *chainEntry) seal() *Seal {
	return &Seal{
		Seq: e.seq, Time: timeOf(e.time), Prev: e.prev, ID: e.id,
		OrigSHA256: e.orig, MapSHA256: e.mp, MetaSHA256: e.meta,
		Exports: append([][32]byte(nil), e.exports...), Signature: bytes.Clone(e.sig),
		Hash: e.hash(),
	}
}

func (s *Seal) entry() *chainEntry {
	return &chainEntry{
		typ: entrySeal, seq: s.Seq, time: nsOf(s.Time), prev: s.Prev, id: s.ID,
		orig: s.OrigSHA256, mp: s.MapSHA256, meta: s.MetaSHA256, exports: s.Exports, sig: s.Signature,
	}
}

// Message returns the canonical signed bytes (layout in FORMAT.md).
func (s *Seal) Message() []byte { return s.entry().message() }

// MarshalBinary returns Message() ‖ Signature, the form stored in the chain
// and put into exports; ParseSeal reads it back.
func (s *Seal) MarshalBinary() ([]byte, error) {
	if len(s.Exports) > maxExports || len(s.Signature) != ed25519.SignatureSize {
		return nil, fmt.Errorf("archive: marshal seal: %w", ErrInvalid)
	}
	return s.entry().marshal(), nil
}

// ParseSeal decodes a seal written by MarshalBinary. It does not check the
// signature; call Verify.
func ParseSeal(b []byte) (*Seal, error) {
	e, err := parseEntry(b)
	if err != nil || e.typ != entrySeal {
		return nil, fmt.Errorf("archive: parse seal: %w", ErrCorrupt)
	}
	return e.seal(), nil
}

// Verify checks the seal's signature against an appliance public key.
func (s *Seal) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize || len(s.Signature) != ed25519.SignatureSize || len(s.Exports) > maxExports {
		return fmt.Errorf("archive: seal %d: %w", s.Seq, ErrCorrupt)
	}
	if !ed25519.Verify(pub, s.Message(), s.Signature) {
		return fmt.Errorf("archive: seal %d: bad signature: %w", s.Seq, ErrCorrupt)
	}
	return nil
}

// GenesisHash is the Prev of the first chain entry:
// sha256("callvault chain genesis\0" ‖ public key).
func GenesisHash(pub ed25519.PublicKey) [32]byte {
	return sha256.Sum256(append([]byte(genesisLabel), pub...))
}

// chainTail returns the sequence number and hash of the last entry.
func (a *Archive) chainTail(tx *bolt.Tx) (uint64, [32]byte, error) {
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
func (a *Archive) appendEntry(tx *bolt.Tx, e *chainEntry) error {
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
	exports = append([][32]byte(nil), exports...)
	err := a.update(ctx, func(tx *bolt.Tx) error {
		m, dk, err := a.loadTx(tx, id)
		if err != nil {
			return err
		}
		defer clear(dk)
		switch {
		case m.State == StateRecording:
			return fmt.Errorf("archive: seal %s: not finished: %w", id, ErrState)
		case m.SealSeq != 0:
			return fmt.Errorf("archive: seal %s: already sealed: %w", id, ErrState)
		}
		if !a.sealingTx(tx) {
			return nil // deferred: stays in bucketUnsealed
		}
		r := m.recording(id, nil)
		e := &chainEntry{
			typ: entrySeal, time: nsOf(a.now()), id: id,
			orig: r.OrigSHA256, mp: r.MapSHA256, meta: r.MetaSHA256(), exports: exports,
		}
		if err := a.appendEntry(tx, e); err != nil {
			return err
		}
		m.SealSeq = e.seq
		if err := a.putMetaTx(tx, id, dk, m); err != nil {
			return err
		}
		return tx.Bucket(bucketUnsealed).Delete(id[:])
	})
	if err != nil {
		return fmt.Errorf("archive: seal %s: %w", id, err)
	}
	return nil
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
	err = a.update(ctx, func(tx *bolt.Tx) error { return a.purgeTx(tx, id, note) })
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
func (a *Archive) purgeTx(tx *bolt.Tx, id ID, note []byte) error {
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
	for _, b := range [][]byte{bucketRecs, bucketUnfinished, bucketUnsealed} {
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
	e := &chainEntry{typ: entryTombstone, time: nsOf(a.now()), id: id}
	if lerr == nil {
		e.sealSeq = m.SealSeq
	}
	seq, _, err := a.chainTail(tx)
	if err != nil {
		return err
	}
	e.note = boxSeal(a.keys.state, boxAAD(aadNote, seqKey(seq+1)), note)
	e.noteHash = sha256.Sum256(e.note)
	return a.appendEntry(tx, e)
}

// deletePrefix deletes every key starting with prefix. Keys are collected
// first: deleting under a moving cursor skips keys.
func deletePrefix(b *bolt.Bucket, prefix []byte) error {
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
func deleteIndexSuffix(tx *bolt.Tx, id ID) error {
	for _, name := range [][]byte{bucketByTime, bucketByCall, bucketByOrig, bucketByWho, bucketBin, bucketProtected, bucketByRetention} {
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
	err = a.view(func(tx *bolt.Tx) error {
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
