package seal

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Errors, shared with the archive (archive.ErrCorrupt and
// archive.ErrInvalid are these values).
var (
	// ErrCorrupt reports stored bytes that fail authentication or do not
	// decode: tampering, a damaged disk, or a bug.
	ErrCorrupt = errors.New("archive: corrupt data")
	// ErrInvalid reports a malformed argument: an ID, a cursor, a login,
	// an oversized field.
	ErrInvalid = errors.New("archive: invalid argument")
)

// Format versions of the sealed values (chunks, boxes, chain entries).
// MinFormat is the oldest this build reads (raise only with a migration and
// a fixture); CurFormat is what it writes. Numbers are never reused.
const (
	MinFormat = 1
	CurFormat = 1
)

// Chain entry types.
const (
	TypeSeal      = 1
	TypeTombstone = 2
	// TypeExports holds the export hashes of a seal made with Deferred
	// set (exports.go).
	TypeExports = 3
)

const (
	// Magic starts every stored chain entry (16 bytes).
	Magic        = "callvault chain\x00"
	chainMagic   = Magic
	genesisLabel = "callvault chain genesis\x00"
	// MaxExports is the most WAV export hashes one seal names.
	MaxExports = 1024
	// MaxNoteLen is the largest tombstone note.
	MaxNoteLen   = 64 << 10
	entryHeadLen = len(chainMagic) + 1 + 1 + 8 + 8 + 32 + 16
	sealBodyMin  = 3*32 + 2
	tombBodyLen  = 8 + 32
	// exportsBodyMin is an exports entry's body before its hashes:
	// u64 sealSeq ‖ u16 n.
	exportsBodyMin = 8 + 2
	// DeferredExports in a seal's count field says that its export
	// hashes follow in an exports entry (TypeExports); no hashes follow
	// it in the seal. Builds that predate it reject such a seal as
	// malformed rather than read it as a seal without exports.
	DeferredExports = 0xFFFF
)

// Entry is a seal or a tombstone as stored in the chain: Message() ‖
// Sig ‖ Note (tombstones only: the encrypted who/why).
type Entry struct {
	Type byte
	Seq  uint64
	Time int64 // Unix nanoseconds, 0 for the zero time
	Prev [32]byte
	ID   ID
	// seal
	Orig, Map, Meta [32]byte
	Exports         [][32]byte // seal (unless Deferred) and exports entry
	// Deferred: a seal whose export hashes follow in an entry of
	// TypeExports (its count field holds DeferredExports).
	Deferred bool
	// tombstone, exports entry: the entry that sealed the recording
	SealSeq  uint64
	NoteHash [32]byte
	Note     []byte

	Sig []byte
}

// Message returns the canonical signed bytes (layout in FORMAT.md).
func (e *Entry) Message() []byte {
	b := make([]byte, 0, entryHeadLen+sealBodyMin+32*len(e.Exports))
	b = append(b, chainMagic...)
	b = append(b, CurFormat, e.Type)
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time))
	b = append(b, e.Prev[:]...)
	b = append(b, e.ID[:]...)
	switch e.Type {
	case TypeSeal:
		b = append(b, e.Orig[:]...)
		b = append(b, e.Map[:]...)
		b = append(b, e.Meta[:]...)
		if e.Deferred {
			b = binary.BigEndian.AppendUint16(b, DeferredExports)
			break
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(e.Exports)))
		for _, x := range e.Exports {
			b = append(b, x[:]...)
		}
	case TypeExports:
		b = binary.BigEndian.AppendUint64(b, e.SealSeq)
		b = binary.BigEndian.AppendUint16(b, uint16(len(e.Exports)))
		for _, x := range e.Exports {
			b = append(b, x[:]...)
		}
	case TypeTombstone:
		b = binary.BigEndian.AppendUint64(b, e.SealSeq)
		b = append(b, e.NoteHash[:]...)
	}
	return b
}

// Marshal returns the stored form: Message() ‖ Sig ‖ Note.
func (e *Entry) Marshal() []byte {
	b := e.Message()
	b = append(b, e.Sig...)
	return append(b, e.Note...)
}

// Hash is sha256(Message() ‖ Sig): what the next entry's Prev holds.
func (e *Entry) Hash() [32]byte {
	h := sha256.New()
	h.Write(e.Message())
	h.Write(e.Sig)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Sign sets Sig to the signature of Message() with priv.
func (e *Entry) Sign(priv ed25519.PrivateKey) { e.Sig = ed25519.Sign(priv, e.Message()) }

// SignatureValid reports whether Sig is pub's signature of Message().
func (e *Entry) SignatureValid(pub ed25519.PublicKey) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, e.Message(), e.Sig)
}

// Follows reports whether e is the entry right after the one numbered
// prevSeq with hash prevHash: the link the chain is made of.
func (e *Entry) Follows(prevSeq uint64, prevHash [32]byte) bool {
	return e.Seq == prevSeq+1 && e.Prev == prevHash
}

// ErrEntry is the error of ParseEntry.
var ErrEntry = errors.New("malformed chain entry")

// ParseEntry decodes a stored chain entry. It never panics and accepts
// only the canonical encoding (Marshal of the result gives back b).
func ParseEntry(b []byte) (*Entry, error) {
	if len(b) < entryHeadLen || string(b[:len(chainMagic)]) != chainMagic {
		return nil, ErrEntry
	}
	p := b[len(chainMagic):]
	if p[0] < MinFormat || p[0] > CurFormat {
		return nil, ErrEntry
	}
	e := &Entry{Type: p[1]}
	e.Seq = binary.BigEndian.Uint64(p[2:])
	e.Time = int64(binary.BigEndian.Uint64(p[10:]))
	copy(e.Prev[:], p[18:50])
	copy(e.ID[:], p[50:66])
	p = p[66:]
	switch e.Type {
	case TypeSeal:
		if len(p) < sealBodyMin {
			return nil, ErrEntry
		}
		copy(e.Orig[:], p[0:32])
		copy(e.Map[:], p[32:64])
		copy(e.Meta[:], p[64:96])
		n := int(binary.BigEndian.Uint16(p[96:98]))
		p = p[98:]
		if n == DeferredExports {
			e.Deferred, n = true, 0
		}
		if n > MaxExports || len(p) != 32*n+ed25519.SignatureSize {
			return nil, ErrEntry
		}
		if !e.Deferred {
			e.Exports = make([][32]byte, n)
			for i := range e.Exports {
				copy(e.Exports[i][:], p[32*i:])
			}
		}
		p = p[32*n:]
	case TypeExports:
		if len(p) < exportsBodyMin {
			return nil, ErrEntry
		}
		e.SealSeq = binary.BigEndian.Uint64(p)
		n := int(binary.BigEndian.Uint16(p[8:10]))
		p = p[exportsBodyMin:]
		if n > MaxExports || len(p) != 32*n+ed25519.SignatureSize || e.SealSeq == 0 {
			return nil, ErrEntry
		}
		e.Exports = make([][32]byte, n)
		for i := range e.Exports {
			copy(e.Exports[i][:], p[32*i:])
		}
		p = p[32*n:]
	case TypeTombstone:
		if len(p) < tombBodyLen+ed25519.SignatureSize || len(p) > tombBodyLen+ed25519.SignatureSize+MaxNoteLen {
			return nil, ErrEntry
		}
		e.SealSeq = binary.BigEndian.Uint64(p)
		copy(e.NoteHash[:], p[8:40])
		p = p[40:]
	default:
		return nil, ErrEntry
	}
	if e.Seq == 0 {
		return nil, ErrEntry
	}
	e.Sig = bytes.Clone(p[:ed25519.SignatureSize])
	if rest := p[ed25519.SignatureSize:]; len(rest) > 0 {
		e.Note = bytes.Clone(rest)
	}
	return e, nil
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
	// Exports are the export hashes: signed by this seal, or, when
	// Deferred, by the exports entry Later (nil while it is pending).
	Exports [][32]byte
	// Deferred: the seal signs that its export hashes follow in a later
	// chain entry (Later), appended after the upload was answered.
	Deferred  bool
	Later     *ExportSeal
	Signature []byte
	Hash      [32]byte // sha256(Message() ‖ Signature), the next entry's Prev
}

// Seal returns the seal an entry of TypeSeal holds.
func (e *Entry) Seal() *Seal {
	return &Seal{
		Seq: e.Seq, Time: TimeOfUnixNano(e.Time), Prev: e.Prev, ID: e.ID,
		OrigSHA256: e.Orig, MapSHA256: e.Map, MetaSHA256: e.Meta,
		Exports: append([][32]byte(nil), e.Exports...), Deferred: e.Deferred, Signature: bytes.Clone(e.Sig),
		Hash: e.Hash(),
	}
}

func (s *Seal) entry() *Entry {
	return &Entry{
		Type: TypeSeal, Seq: s.Seq, Time: UnixNano(s.Time), Prev: s.Prev, ID: s.ID,
		Orig: s.OrigSHA256, Map: s.MapSHA256, Meta: s.MetaSHA256, Exports: s.Exports, Deferred: s.Deferred, Sig: s.Signature,
	}
}

// Message returns the canonical signed bytes (layout in FORMAT.md).
func (s *Seal) Message() []byte { return s.entry().Message() }

// MarshalBinary returns Message() ‖ Signature, the form stored in the chain
// and put into exports; ParseSeal reads it back. A deferred seal's
// exports entry is marshalled on its own (ExportSeal.MarshalBinary).
func (s *Seal) MarshalBinary() ([]byte, error) {
	if len(s.Exports) > MaxExports || len(s.Signature) != ed25519.SignatureSize {
		return nil, fmt.Errorf("archive: marshal seal: %w", ErrInvalid)
	}
	return s.entry().Marshal(), nil
}

// ParseSeal decodes a seal written by MarshalBinary. It does not check the
// signature; call Verify.
func ParseSeal(b []byte) (*Seal, error) {
	e, err := ParseEntry(b)
	if err != nil || e.Type != TypeSeal {
		return nil, fmt.Errorf("archive: parse seal: %w", ErrCorrupt)
	}
	return e.Seal(), nil
}

// Verify checks the seal's signature against an appliance public key,
// and for a deferred seal whose exports entry is attached (Later) that
// entry too (VerifyLater). A deferred seal without it verifies: its
// export hashes are pending (Pending).
func (s *Seal) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize || len(s.Signature) != ed25519.SignatureSize || len(s.Exports) > MaxExports {
		return fmt.Errorf("archive: seal %d: %w", s.Seq, ErrCorrupt)
	}
	if !ed25519.Verify(pub, s.Message(), s.Signature) {
		return fmt.Errorf("archive: seal %d: bad signature: %w", s.Seq, ErrCorrupt)
	}
	if s.Deferred && s.Later != nil {
		return s.VerifyLater(pub)
	}
	return nil
}

// GenesisHash is the Prev of the first chain entry:
// sha256("callvault chain genesis\0" ‖ public key).
func GenesisHash(pub ed25519.PublicKey) [32]byte {
	return sha256.Sum256(append([]byte(genesisLabel), pub...))
}

// UnixNano is how sealed values store a time: nanoseconds since 1970,
// the zero time as 0.
func UnixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// TimeOfUnixNano reads a time UnixNano stored, in UTC; 0 is the zero time.
func TimeOfUnixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}
