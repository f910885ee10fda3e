package seal

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"slices"
	"time"
)

// A seal made when an upload is answered signs the original, the map
// and the metadata, and says (Deferred) that the export hashes follow:
// an exports entry, appended to the chain after the answer, signs them
// and names the seal by its sequence number. Both are entries of the
// one chain, linked like any other.

// ExportSeal is an exports entry: the export hashes of the deferred seal
// SealSeq of recording ID.
type ExportSeal struct {
	Seq       uint64
	Time      time.Time
	Prev      [32]byte
	ID        ID
	SealSeq   uint64
	Exports   [][32]byte
	Signature []byte
	Hash      [32]byte // sha256(message ‖ Signature)
}

// ExportSeal returns the exports entry an entry of TypeExports holds.
func (e *Entry) ExportSeal() *ExportSeal {
	return &ExportSeal{
		Seq: e.Seq, Time: TimeOfUnixNano(e.Time), Prev: e.Prev, ID: e.ID, SealSeq: e.SealSeq,
		Exports: append([][32]byte(nil), e.Exports...), Signature: bytes.Clone(e.Sig), Hash: e.Hash(),
	}
}

func (x *ExportSeal) entry() *Entry {
	return &Entry{
		Type: TypeExports, Seq: x.Seq, Time: UnixNano(x.Time), Prev: x.Prev, ID: x.ID,
		SealSeq: x.SealSeq, Exports: x.Exports, Sig: x.Signature,
	}
}

// MarshalBinary returns the entry as stored (message ‖ signature), the
// form put into exports next to the seal; ParseExportSeal reads it back.
func (x *ExportSeal) MarshalBinary() ([]byte, error) {
	if len(x.Exports) > MaxExports || len(x.Signature) != ed25519.SignatureSize || x.SealSeq == 0 {
		return nil, fmt.Errorf("archive: marshal exports entry: %w", ErrInvalid)
	}
	return x.entry().Marshal(), nil
}

// ParseExportSeal decodes an exports entry written by MarshalBinary. It
// does not check the signature; Seal.VerifyLater does.
func ParseExportSeal(b []byte) (*ExportSeal, error) {
	e, err := ParseEntry(b)
	if err != nil || e.Type != TypeExports {
		return nil, fmt.Errorf("archive: parse exports entry: %w", ErrCorrupt)
	}
	return e.ExportSeal(), nil
}

// Pending reports a deferred seal whose exports entry is not attached:
// its original, map and metadata are sealed, its export hashes not yet.
func (s *Seal) Pending() bool { return s.Deferred && s.Later == nil }

// Attach sets x as the exports entry of the deferred seal s, and Exports
// to its hashes. It does not verify; Verify does.
func (s *Seal) Attach(x *ExportSeal) {
	s.Later = x
	if x != nil {
		s.Exports = append([][32]byte(nil), x.Exports...)
	}
}

// VerifyLater checks the exports entry attached to a deferred seal: its
// signature with pub, that it names this seal (recording and sequence
// number) and comes after it in the chain, and that Exports are its
// hashes.
func (s *Seal) VerifyLater(pub ed25519.PublicKey) error {
	x := s.Later
	switch {
	case !s.Deferred || x == nil:
		return fmt.Errorf("archive: seal %d: no exports entry to verify: %w", s.Seq, ErrCorrupt)
	case len(pub) != ed25519.PublicKeySize || len(x.Signature) != ed25519.SignatureSize || len(x.Exports) > MaxExports:
		return fmt.Errorf("archive: exports entry %d: %w", x.Seq, ErrCorrupt)
	case !ed25519.Verify(pub, x.entry().Message(), x.Signature):
		return fmt.Errorf("archive: exports entry %d: bad signature: %w", x.Seq, ErrCorrupt)
	case x.ID != s.ID || x.SealSeq != s.Seq || x.Seq <= s.Seq:
		return fmt.Errorf("archive: exports entry %d does not belong to seal %d: %w", x.Seq, s.Seq, ErrCorrupt)
	case !slices.Equal(x.Exports, s.Exports):
		return fmt.Errorf("archive: seal %d: export hashes differ from its exports entry %d: %w", s.Seq, x.Seq, ErrCorrupt)
	}
	return nil
}
