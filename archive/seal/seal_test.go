package seal

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
)

// vectors reads the chain vectors of ../FORMAT.md (written by the
// archive's vector test), so the seal is checked against the same bytes.
func vectors(t *testing.T) map[string][]byte {
	t.Helper()
	v := map[string][]byte{}
	for name, val := range hexVectors(t) {
		switch name {
		case "seal-public-key", "genesis", "seal-message", "seal-signature", "seal-hash":
			v[name] = val
		}
	}
	if len(v) != 5 {
		t.Fatalf("found %d of 5 chain vectors in FORMAT.md", len(v))
	}
	return v
}

// hexVectors reads every "name: hex" line of ../FORMAT.md.
func hexVectors(t *testing.T) map[string][]byte {
	t.Helper()
	doc, err := os.ReadFile("../FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	v := map[string][]byte{}
	for _, line := range strings.Split(string(doc), "\n") {
		name, val, ok := strings.Cut(line, ": ")
		if b, err := hex.DecodeString(val); ok && err == nil {
			v[name] = b
		}
	}
	return v
}

func TestVectors(t *testing.T) {
	v := vectors(t)
	pub := ed25519.PublicKey(v["seal-public-key"])
	if g := GenesisHash(pub); !bytes.Equal(g[:], v["genesis"]) {
		t.Fatalf("genesis %x", g)
	}
	raw := append(bytes.Clone(v["seal-message"]), v["seal-signature"]...)
	s, err := ParseSeal(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(pub); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.Message(), v["seal-message"]) || !bytes.Equal(s.Hash[:], v["seal-hash"]) {
		t.Fatalf("message or hash differ: %x", s.Hash)
	}
	if s.Seq != 1 || s.Prev != GenesisHash(pub) || s.ID.String() != "00112233445566778899aabbccddeeff" {
		t.Fatalf("seal %+v", s)
	}
	b, err := s.MarshalBinary()
	if err != nil || !bytes.Equal(b, raw) {
		t.Fatalf("MarshalBinary: %v", err)
	}
	e, err := ParseEntry(raw)
	if err != nil || !e.Follows(0, GenesisHash(pub)) || e.Follows(1, GenesisHash(pub)) || !e.SignatureValid(pub) {
		t.Fatalf("entry: %v", err)
	}
	// One flipped bit anywhere: the signature no longer verifies.
	for i := range raw {
		bad := bytes.Clone(raw)
		bad[i] ^= 0x80
		if p, err := ParseSeal(bad); err == nil && p.Verify(pub) == nil {
			t.Fatalf("bit flip at %d verified", i)
		}
	}
	if _, err := ParseSeal(raw[:len(raw)-1]); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short seal: %v", err)
	}
}

func TestChainAndHead(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	first := &Entry{Type: TypeSeal, Seq: 1, Time: 5, Prev: GenesisHash(pub), ID: ID{1}, Exports: [][32]byte{{7}}}
	first.Sign(priv)
	tomb := &Entry{Type: TypeTombstone, Seq: 2, Time: 6, Prev: first.Hash(), ID: ID{1}, SealSeq: 1, Note: []byte("n")}
	tomb.Sign(priv)
	for _, e := range []*Entry{first, tomb} {
		p, err := ParseEntry(e.Marshal())
		if err != nil || !bytes.Equal(p.Marshal(), e.Marshal()) || p.Hash() != e.Hash() || !p.SignatureValid(pub) {
			t.Fatalf("entry %d round trip: %v", e.Seq, err)
		}
	}
	if !tomb.Follows(first.Seq, first.Hash()) {
		t.Fatal("tombstone does not follow the seal")
	}
	head := SignHead(priv, tomb.Seq, tomb.Hash())
	if seq, h, err := ParseHead(pub, head); err != nil || seq != 2 || h != tomb.Hash() {
		t.Fatalf("head: %d %v", seq, err)
	}
	head[len(head)-1] ^= 1
	if _, _, err := ParseHead(pub, head); !errors.Is(err, ErrHeadSig) {
		t.Fatalf("tampered head: %v", err)
	}
	if _, _, err := ParseHead(pub, head[:LegacyHeadSize]); !errors.Is(err, ErrHeadUnsigned) {
		t.Fatalf("legacy head: %v", err)
	}
	if _, _, err := ParseHead(pub, head[:3]); !errors.Is(err, ErrHeadFormat) {
		t.Fatalf("short head: %v", err)
	}
}

// FuzzParseEntry: ParseEntry never panics and accepts only canonical
// bytes.
func FuzzParseEntry(f *testing.F) {
	_, priv, _ := ed25519.GenerateKey(nil)
	e := &Entry{Type: TypeSeal, Seq: 3, Time: 42, ID: ID{9}, Exports: [][32]byte{{1}}}
	e.Sign(priv)
	f.Add(e.Marshal())
	f.Add([]byte(Magic))
	d, x := deferredPair(ed25519.PublicKey(priv[32:]), priv) // a deferred seal and its exports entry
	f.Add(d.Marshal())
	f.Add(x.Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseEntry(b)
		if err != nil {
			return
		}
		if !bytes.Equal(p.Marshal(), b) {
			t.Fatalf("non-canonical entry accepted")
		}
	})
}
