package seal

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
)

// deferredPair is a deferred seal (entry 1) and its exports entry
// (entry 2) signed by priv.
func deferredPair(pub ed25519.PublicKey, priv ed25519.PrivateKey) (*Entry, *Entry) {
	s := &Entry{Type: TypeSeal, Seq: 1, Time: 5, Prev: GenesisHash(pub), ID: ID{1}, Orig: [32]byte{2}, Map: [32]byte{3}, Meta: [32]byte{4}, Deferred: true}
	s.Sign(priv)
	x := &Entry{Type: TypeExports, Seq: 2, Time: 6, Prev: s.Hash(), ID: ID{1}, SealSeq: 1, Exports: [][32]byte{{7}, {8}}}
	x.Sign(priv)
	return s, x
}

func TestDeferredSealAndExportsEntry(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	se, xe := deferredPair(pub, priv)
	for _, e := range []*Entry{se, xe} {
		p, err := ParseEntry(e.Marshal())
		if err != nil || !bytes.Equal(p.Marshal(), e.Marshal()) || !p.SignatureValid(pub) {
			t.Fatalf("entry %d round trip: %v", e.Seq, err)
		}
	}
	if !xe.Follows(se.Seq, se.Hash()) {
		t.Fatal("exports entry does not follow its seal")
	}
	raw := se.Marshal()
	s, err := ParseSeal(raw)
	if err != nil || !s.Deferred || !s.Pending() || len(s.Exports) != 0 {
		t.Fatalf("deferred seal: %+v %v", s, err)
	}
	// Pending: the seal alone verifies.
	if err := s.Verify(pub); err != nil {
		t.Fatalf("pending seal: %v", err)
	}
	x, err := ParseExportSeal(xe.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	s.Attach(x)
	if s.Pending() || len(s.Exports) != 2 || s.Exports[1] != [32]byte{8} {
		t.Fatalf("attached: %+v", s)
	}
	if err := s.Verify(pub); err != nil {
		t.Fatalf("seal with its exports entry: %v", err)
	}
	// The seal's own bytes do not change when the exports are attached.
	if b, err := s.MarshalBinary(); err != nil || !bytes.Equal(b, raw) {
		t.Fatalf("marshal of an attached seal: %v", err)
	}
	if b, err := x.MarshalBinary(); err != nil || !bytes.Equal(b, xe.Marshal()) {
		t.Fatalf("marshal of the exports entry: %v", err)
	}
}

func TestForgedExportsEntryFails(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	_, other, _ := ed25519.GenerateKey(nil)
	se, _ := deferredPair(pub, priv)
	forge := map[string]func() *ExportSeal{
		"signed by another key": func() *ExportSeal {
			x := &Entry{Type: TypeExports, Seq: 2, Prev: se.Hash(), ID: ID{1}, SealSeq: 1, Exports: [][32]byte{{9}}}
			x.Sign(other)
			return x.ExportSeal()
		},
		"hash replaced after signing": func() *ExportSeal {
			_, x := deferredPair(pub, priv)
			p := x.ExportSeal()
			p.Exports[0] = [32]byte{9}
			return p
		},
		"names another seal": func() *ExportSeal {
			x := &Entry{Type: TypeExports, Seq: 2, Prev: se.Hash(), ID: ID{1}, SealSeq: 7, Exports: [][32]byte{{9}}}
			x.Sign(priv)
			return x.ExportSeal()
		},
		"another recording": func() *ExportSeal {
			x := &Entry{Type: TypeExports, Seq: 2, Prev: se.Hash(), ID: ID{2}, SealSeq: 1, Exports: [][32]byte{{9}}}
			x.Sign(priv)
			return x.ExportSeal()
		},
		"before its seal": func() *ExportSeal {
			x := &Entry{Type: TypeExports, Seq: 1, ID: ID{1}, SealSeq: 1, Exports: [][32]byte{{9}}}
			x.Sign(priv)
			return x.ExportSeal()
		},
	}
	for name, f := range forge {
		s := se.Seal()
		s.Attach(f())
		if err := s.Verify(pub); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Hashes swapped on the seal after a genuine entry was attached.
	_, xe := deferredPair(pub, priv)
	s := se.Seal()
	s.Attach(xe.ExportSeal())
	s.Exports[0] = [32]byte{9}
	if err := s.Verify(pub); !errors.Is(err, ErrCorrupt) {
		t.Errorf("exports swapped on the seal: %v", err)
	}
	// A deferred seal cannot pass for a seal with no exports: the count
	// field is signed.
	plain := *se
	plain.Deferred = false
	if plain.SignatureValid(pub) {
		t.Error("deferred flag not covered by the signature")
	}
}

// TestDeferredVectors checks the deferred seal and exports entry vectors
// of ../FORMAT.md with this package alone: both verify with the vector
// key, and the exports entry belongs to the seal.
func TestDeferredVectors(t *testing.T) {
	v := hexVectors(t)
	pub := ed25519.PublicKey(v["seal-public-key"])
	s, err := ParseSeal(append(v["deferred-seal-message"], v["deferred-seal-signature"]...))
	if err != nil || !s.Deferred {
		t.Fatalf("deferred seal: %+v %v", s, err)
	}
	x, err := ParseExportSeal(append(v["exports-message"], v["exports-signature"]...))
	if err != nil {
		t.Fatal(err)
	}
	if s.Prev != [32]byte(v["seal-hash"]) || x.Prev != s.Hash {
		t.Fatal("the vectors do not chain")
	}
	s.Attach(x)
	if err := s.Verify(pub); err != nil || len(s.Exports) != 1 {
		t.Fatalf("verify: %v", err)
	}
}
