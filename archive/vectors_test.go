package archive

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the test vectors in FORMAT.md")

const (
	vectorsBegin = "<!-- BEGIN VECTORS -->"
	vectorsEnd   = "<!-- END VECTORS -->"
)

func seq(from byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = from + byte(i)
	}
	return b
}

// formatVectors computes every vector from the fixed inputs in FORMAT.md.
func formatVectors(t *testing.T) [][2]string {
	t.Helper()
	master, kek, dk, seed, nonce := seq(0x00, 32), seq(0x20, 32), seq(0x40, 32), seq(0x60, 32), seq(0xa0, 12)
	id, _ := ParseID("00112233445566778899aabbccddeeff")
	var v [][2]string
	add := func(name string, b []byte) { v = append(v, [2]string{name, hex.EncodeToString(b)}) }
	adds := func(name, s string) { v = append(v, [2]string{name, s}) }

	kr, err := newKeyring(master)
	if err != nil {
		t.Fatal(err)
	}
	add("subkey-wrap", subkey(master, infoWrap))
	add("subkey-state", subkey(master, infoState))
	add("subkey-index", subkey(master, infoIndex))
	add("subkey-seal", subkey(master, infoSeal))
	add("subkey-blob-orig", subkey(dk, infoBlobOrig))
	add("subkey-blob-map", subkey(dk, infoBlobMap))
	add("subkey-meta", subkey(dk, infoMeta))

	c, _ := newChunkCipher(dk, id, BlobOriginal)
	c.set(1, true)
	add("chunk-nonce", c.nonce[:])
	add("chunk-aad", c.aad[:])
	plain := []byte("callvault test vector chunk")
	buf := make([]byte, chunkBufCap)
	copy(buf[1:], plain)
	add("chunk-orig-1-final", c.seal(buf, len(plain), 1, true))
	cm, _ := newChunkCipher(dk, id, BlobMap)
	add("chunk-map-0-final-empty", cm.seal(make([]byte, chunkBufCap), 0, 0, true))
	ck := chunkKey(id, BlobOriginal, 1)
	add("chunk-index-key", ck[:])
	add("chunk-seq-key", seqKey(1))

	kekAEAD, _ := newAEAD(kek)
	add("box-master", boxSealNonce(kekAEAD, boxAAD(aadMaster), master, nonce))
	add("box-data-key", boxSealNonce(kr.wrap, boxAAD(aadDataKey, id[:]), dk, nonce))
	h := keyedHash(kr.index, "call", "f9e5956e47d460010630009033302ab1")
	add("bycall-hash", h[:callHashLen])
	h = keyedHash(kr.index, "user", "alice")
	add("users-key", h[:])
	tk := timeKey(1700000000000000000, id)
	add("bytime-key", tk[:])
	adds("cursor", encodeCursor(tk[:]))
	adds("key-file-key", hex.EncodeToString(kek))

	r := &Recording{
		ID: id, State: StateComplete,
		Received: time.Unix(0, 1700000000000000000), Finished: time.Unix(0, 1700000060000000000),
		StartTime: time.Unix(0, 1699999990000000000), DurationMs: 60000,
		FileName: "f9e5956e47d460010630009033302ab1-009033302ab1-11--username.pcap",
		CallGUID: "f9e5956e47d460010630009033302ab1", User: "username",
		OrigSize: 4, MapSize: 3, OrigSHA256: sha256.Sum256([]byte("orig")), MapSHA256: sha256.Sum256([]byte("map")),
		Info: []byte(`{"calls":[]}`),
	}
	add("core-meta", r.CoreMetadata())
	meta := r.MetaSHA256()
	add("core-meta-sha256", meta[:])

	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	add("seal-public-key", pub)
	g := GenesisHash(pub)
	add("genesis", g[:])
	e := &chainEntry{typ: entrySeal, seq: 1, time: 1700000000000000000, prev: g, id: id,
		orig: r.OrigSHA256, mp: r.MapSHA256, meta: meta, exports: [][32]byte{sha256.Sum256([]byte("wav"))}}
	e.sig = ed25519.Sign(priv, e.message())
	add("seal-message", e.message())
	add("seal-signature", e.sig)
	eh := e.hash()
	add("seal-hash", eh[:])
	// A deferred seal (entry 2) and its exports entry (entry 3).
	d := &chainEntry{typ: entrySeal, seq: 2, time: 1700000000000000000, prev: eh, id: id,
		orig: r.OrigSHA256, mp: r.MapSHA256, meta: meta, deferred: true}
	d.sig = ed25519.Sign(priv, d.message())
	add("deferred-seal-message", d.message())
	add("deferred-seal-signature", d.sig)
	x := &chainEntry{typ: entryExports, seq: 3, time: 1700000001000000000, prev: d.hash(), id: id,
		sealSeq: 2, exports: [][32]byte{sha256.Sum256([]byte("wav"))}}
	x.sig = ed25519.Sign(priv, x.message())
	add("exports-message", x.message())
	add("exports-signature", x.sig)
	return v
}

func readVectors(t *testing.T, doc string) map[string]string {
	t.Helper()
	i, j := strings.Index(doc, vectorsBegin), strings.Index(doc, vectorsEnd)
	if i < 0 || j < i {
		t.Fatal("FORMAT.md: vector markers missing")
	}
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(doc[i+len(vectorsBegin) : j]))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.HasPrefix(name, "```") {
			continue
		}
		out[strings.TrimSpace(name)] = strings.TrimSpace(val)
	}
	return out
}

// TestFormatVectors checks the known-answer vectors in FORMAT.md.
func TestFormatVectors(t *testing.T) {
	docb, err := os.ReadFile("FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(docb)
	vecs := formatVectors(t)
	if *update {
		var b strings.Builder
		b.WriteString(vectorsBegin + "\n```text\n")
		for _, v := range vecs {
			fmt.Fprintf(&b, "%s: %s\n", v[0], v[1])
		}
		b.WriteString("```\n" + vectorsEnd)
		i, j := strings.Index(doc, vectorsBegin), strings.Index(doc, vectorsEnd)
		doc = doc[:i] + b.String() + doc[j+len(vectorsEnd):]
		if err := os.WriteFile("FORMAT.md", []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got := readVectors(t, doc)
	var names []string
	for _, v := range vecs {
		names = append(names, v[0])
		if got[v[0]] != v[1] {
			t.Errorf("vector %s:\n FORMAT.md %s\n code      %s", v[0], got[v[0]], v[1])
		}
	}
	for name := range got {
		if !slices.Contains(names, name) {
			t.Errorf("FORMAT.md has unknown vector %s", name)
		}
	}
	checkVectorsIndependently(t, got)
}

// TestFormatSchemaVersions checks that the "Versions" table of FORMAT.md
// describes the schema this build writes first, and every schema down to
// the first, so that what the vectors and the prose say is the current
// layout is the code's.
func TestFormatSchemaVersions(t *testing.T) {
	doc, err := os.ReadFile("FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	var schemas []int
	for _, line := range strings.Split(string(doc), "\n") {
		var n int
		if _, err := fmt.Sscanf(line, "| schema %d |", &n); err == nil {
			schemas = append(schemas, n)
		}
	}
	want := []int{}
	for n := schemaVersion; n >= 1; n-- {
		want = append(want, n)
	}
	if !slices.Equal(schemas, want) {
		t.Errorf("FORMAT.md describes schemas %v, want %v (this build writes schema %d, reads from %d)", schemas, want, schemaVersion, minSchema)
	}
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkVectorsIndependently decodes vectors with the stdlib only, following
// the prose of FORMAT.md rather than the package's helpers.
func checkVectorsIndependently(t *testing.T, v map[string]string) {
	dk, master := seq(0x40, 32), seq(0x00, 32)
	id := unhex(t, "00112233445566778899aabbccddeeff")
	gcm := func(key []byte) cipher.AEAD {
		b, _ := aes.NewCipher(key)
		g, _ := cipher.NewGCM(b)
		return g
	}
	key, _ := hkdf.Key(sha256.New, dk, nil, "callvault archive v1 blob orig", 32)
	nonce := append([]byte{0, 0, 0}, binary.BigEndian.AppendUint64(nil, 1)...)
	nonce = append(nonce, 1)
	aad := append([]byte("callvault chunk\x00\x01"), id...)
	aad = append(aad, 1)
	aad = binary.BigEndian.AppendUint64(aad, 1)
	aad = append(aad, 1)
	stored := unhex(t, v["chunk-orig-1-final"])
	if stored[0] != 1 {
		t.Fatal("chunk version byte")
	}
	p, err := gcm(key).Open(nil, nonce, stored[1:], aad)
	if err != nil || string(p) != "callvault test vector chunk" {
		t.Fatalf("chunk vector does not open per FORMAT.md: %v", err)
	}
	// Chunk storage (the same from schema 2 on, so in the schema this build
	// writes too): chunkidx key id ‖ u8 kind ‖ u64 index, chunks key u64 seq.
	if want := binary.BigEndian.AppendUint64(append(bytes.Clone(id), 1), 1); !bytes.Equal(unhex(t, v["chunk-index-key"]), want) {
		t.Fatal("chunk index key")
	}
	if !bytes.Equal(unhex(t, v["chunk-seq-key"]), binary.BigEndian.AppendUint64(nil, 1)) {
		t.Fatal("chunk sequence key")
	}
	wrap, _ := hkdf.Key(sha256.New, master, nil, "callvault archive v1 data-key wrap", 32)
	box := unhex(t, v["box-data-key"])
	p, err = gcm(wrap).Open(nil, box[1:13], box[13:], append([]byte("callvault data-key\x00\x01"), id...))
	if err != nil || !bytes.Equal(p, dk) {
		t.Fatalf("data key box does not open per FORMAT.md: %v", err)
	}
	box = unhex(t, v["box-master"])
	p, err = gcm(seq(0x20, 32)).Open(nil, box[1:13], box[13:], []byte("callvault master-key\x00\x01"))
	if err != nil || !bytes.Equal(p, master) {
		t.Fatalf("master key box does not open per FORMAT.md: %v", err)
	}
	pub := ed25519.PublicKey(unhex(t, v["seal-public-key"]))
	msg, sig := unhex(t, v["seal-message"]), unhex(t, v["seal-signature"])
	if !ed25519.Verify(pub, msg, sig) {
		t.Fatal("seal vector signature")
	}
	g := sha256.Sum256(append([]byte("callvault chain genesis\x00"), pub...))
	if hex.EncodeToString(g[:]) != v["genesis"] || !bytes.Equal(msg[34:66], g[:]) {
		t.Fatal("genesis")
	}
	if h := sha256.Sum256(append(msg, sig...)); hex.EncodeToString(h[:]) != v["seal-hash"] {
		t.Fatal("seal hash")
	}
	s, err := ParseSeal(append(msg, sig...))
	if err != nil || s.Verify(pub) != nil || s.Seq != 1 || hex.EncodeToString(s.ID[:]) != hex.EncodeToString(id) {
		t.Fatalf("ParseSeal of the vector: %v", err)
	}
	if m := sha256.Sum256(unhex(t, v["core-meta"])); hex.EncodeToString(m[:]) != v["core-meta-sha256"] {
		t.Fatal("core metadata hash")
	}
	k, err := parseKeyFile([]byte("# comment\n\n" + strings.ToUpper(v["key-file-key"]) + "\r\n"))
	if err != nil || hex.EncodeToString(k) != v["key-file-key"] {
		t.Fatalf("key file: %v", err)
	}
}
