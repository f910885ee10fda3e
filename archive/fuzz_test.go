package archive

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"testing"
)

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"00112233445566778899aabbccddeeff", "00112233445566778899AABBCCDDEEFF", "", "0011", NewID().String() + "0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		if err != nil {
			return
		}
		if id.String() != s {
			t.Fatalf("ParseID(%q) = %s: not canonical", s, id)
		}
	})
}

func FuzzParseCursor(f *testing.F) {
	id := ID{1, 2, 3}
	k := timeKey(1700000000000000000, id)
	f.Add(encodeCursor(k[:]))
	f.Add("")
	f.Add("AQ")
	f.Add("////")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := parseCursor(s)
		if err != nil {
			return
		}
		if len(k) != timeKeyLen || encodeCursor(k) != s {
			t.Fatalf("cursor %q not canonical", s)
		}
	})
}

// FuzzParseEntry decodes stored chain entries (seals, tombstones): never a
// panic, and whatever parses re-encodes to the same bytes.
func FuzzParseEntry(f *testing.F) {
	priv := ed25519.NewKeyFromSeed(make([]byte, 32))
	seal := &chainEntry{typ: entrySeal, seq: 3, time: 42, id: ID{9}, exports: [][32]byte{{1}, {2}}}
	seal.sig = ed25519.Sign(priv, seal.message())
	tomb := &chainEntry{typ: entryTombstone, seq: 4, time: 43, id: ID{9}, sealSeq: 3, note: []byte("note")}
	tomb.noteHash = sha256.Sum256(tomb.note)
	tomb.sig = ed25519.Sign(priv, tomb.message())
	f.Add(seal.marshal())
	f.Add(tomb.marshal())
	f.Add([]byte(chainMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := parseEntry(b)
		if err != nil {
			return
		}
		if !bytes.Equal(e.marshal(), b) {
			t.Fatal("entry does not re-encode to its input")
		}
		if e.typ == entrySeal {
			s, err := ParseSeal(b)
			if err != nil {
				t.Fatal(err)
			}
			if m, err := s.MarshalBinary(); err != nil || !bytes.Equal(m, b) {
				t.Fatal("seal does not re-encode")
			}
			s.Verify(priv.Public().(ed25519.PublicKey))
		}
	})
}

// FuzzDecodeMeta decodes decrypted metadata records.
func FuzzDecodeMeta(f *testing.F) {
	m := &metaRecord{V: 1, State: StateComplete, Received: 1, FileName: "x", OrigSHA256: make([]byte, 32), Info: []byte("{}")}
	b, _ := json.Marshal(m)
	f.Add(b)
	f.Add([]byte(`{"v":1,"state":"recording","origSize":-1}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"v":1,"state":"complete","origSize":0,"mapSize":0,"chunk":65472}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			return
		}
		r := m.recording(ID{}, nil)
		_ = r.CoreMetadata()
		if !m.State.valid() || m.OrigSize < 0 {
			t.Fatal("invalid record accepted")
		}
		if c := m.chunkSize(); c < minChunkSize || c > legacyChunkSize {
			t.Fatalf("chunk size %d accepted", c)
		}
	})
}

func FuzzParseKeyFile(f *testing.F) {
	f.Add(formatKeyFile(make([]byte, 32)))
	f.Add([]byte("# only a comment\n"))
	f.Add([]byte("zz" + string(make([]byte, 62))))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := parseKeyFile(b)
		if err == nil && len(k) != keyLen {
			t.Fatalf("key of %d bytes", len(k))
		}
	})
}

// FuzzParseKDFRecord: stored KDF parameters are bounded before use.
func FuzzParseKDFRecord(f *testing.F) {
	f.Add(kdfRecord{p: FastKDF(), salt: make([]byte, 16)}.marshal())
	f.Add(kdfRecord{p: KDFParams{Time: 1, MemoryKiB: 1 << 30, Threads: 1}, salt: make([]byte, 16)}.marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseKDFRecord(b)
		if err != nil {
			return
		}
		if r.p.validate() != nil || !bytes.Equal(r.marshal(), b) {
			t.Fatal("invalid or non-canonical record accepted")
		}
	})
}

// FuzzChunkOpen: arbitrary stored chunk bytes never open and never panic.
func FuzzChunkOpen(f *testing.F) {
	c, _ := newChunkCipher(make([]byte, 32), ID{}, BlobOriginal)
	buf := make([]byte, chunkBufCap)
	copy(buf[1:], "hello")
	f.Add(bytes.Clone(c.seal(buf, 5, 0, true)), uint64(0), true)
	f.Fuzz(func(t *testing.T, b []byte, idx uint64, last bool) {
		orig := bytes.Clone(b)
		p, err := c.open(b, idx, last)
		if err == nil {
			c2, _ := newChunkCipher(make([]byte, 32), ID{}, BlobOriginal)
			out := make([]byte, chunkBufCap)
			copy(out[1:], p)
			if !bytes.Equal(c2.seal(out, len(p), idx, last), orig) {
				t.Fatal("opened chunk does not reseal to the same bytes")
			}
		}
	})
}
