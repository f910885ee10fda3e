package export

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive/seal"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/export/exporttest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// testKey is a fixed Ed25519 key, so golden files are stable.
func testKey(seed byte) (ed25519.PublicKey, ed25519.PrivateKey) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	return priv.Public().(ed25519.PublicKey), priv
}

// fakeWAV is a small, valid PCM16 stereo WAV at 8 kHz: left i*37-3000
// (wrapping int16), right -i*11.
func fakeWAV(frames int) []byte {
	h := codec.WAVHeader(8000, 2, uint32(frames*4))
	b := h[:]
	for i := range frames {
		b = binary.LittleEndian.AppendUint16(b, uint16(int16(i*37)-3000))
		b = binary.LittleEndian.AppendUint16(b, uint16(int16(-i*11)))
	}
	return b
}

// testDoc is the call-information document of the recording sealedZip
// builds, as the pages word it: a caller from Latvia, an owner and a note
// in Nordic and Baltic scripts.
func testDoc(wavSum string, generated time.Time) *CallDoc {
	return &CallDoc{
		PBXName: "Rīga PBX", Title: "Jānis Bērziņš (+37120000000)",
		Facts: [][2]string{{"Recording", "0123456789abcdef0123456789abcdef"}, {"User", "Åsa Øberg (asa)"}, {"Direction", "Outgoing"},
			{"Start", "2026-11-20 09:00:00 (UTC)"}, {"Duration", "1:01"}, {"State", "complete"}, {"Received", "2026-11-20 09:00:00"},
			{"Finished", "2026-11-20 09:01:00"}, {"File", "f.pcap"}, {"Call id", "guid1"},
			{"Original SHA-256", "0000000000000000000000000000000000000000000000000000000000000000"}},
		Calls: []CallDocCall{{Heading: "Call 1", Facts: [][2]string{{"From", "Åsa Øberg (201)"}, {"To", "Jānis Bērziņš (+37120000000)"},
			{"Duration", "1:01"}, {"Codec", "PCMA"}, {"Packets", "3000 received, 12 lost (0.4 % lost)"}, {"DTMF", "7"}}}},
		Notes: []CallDocNote{{Author: "Åsa Øberg", When: "2026-11-20 09:00:00", Text: "Šarūnas Žukauskas called back; Jānis Bērziņš agreed."}},
		Seal: [][2]string{{"Chain entry", "42"}, {"Sealed", "2026-11-20 09:02:00"},
			{"Original", "14e0ffdc8215c81da0cde40f581237ee35177ddac4f1fc7613cad3004798d25f"},
			{"Map", "60be9861750facbfad8758254a2f76c0cfe78d54459a3bc187d49b1401fcd8e8"},
			{"Metadata", "c450670071aa5cf321220be2a2e89d0d787ae9c04c5285870a2ddae8dd22d454"},
			{"WAV 1", wavSum},
			{"Previous", "00f3eea3fe7f88f77223818f37dd5a374fd5a4589277abe25b71e064be4f22b8"},
			{"Signature", "f15bc497aabf49576086f1d830c48f4556de83dfaed1c2bb60f02f0d2cf3f9cfb688e98729d885628ceca9358a543a58e2b172b1860dda360a99cefdf05c2d03"}},
		WAVs:      [][2]string{{"recording.wav", "sha256 " + wavSum}},
		KeyFP:     "3475 0f98 bd59 fcfc 946d a45a aabe 933b",
		Generated: generated, Loc: time.UTC,
	}
}

// sealedZip builds a download zip for a recording sealed with priv.
func sealedZip(t testing.TB, priv ed25519.PrivateKey, wav []byte, sealed bool) []byte {
	t.Helper()
	id, _ := seal.ParseID("0123456789abcdef0123456789abcdef")
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	pub := priv.Public().(ed25519.PublicKey)
	wavSum := sha256.Sum256(wav)
	in := Input{ID: id, WAVs: []io.Reader{bytes.NewReader(wav)}, PublicKey: pub, Modified: start}
	if sealed {
		// The metadata hash is the one the archive computes for the
		// recording the document describes.
		meta, _ := hex.DecodeString("c450670071aa5cf321220be2a2e89d0d787ae9c04c5285870a2ddae8dd22d454")
		s := &seal.Seal{Seq: 42, Time: start.Add(2 * time.Minute), ID: id, OrigSHA256: sha256.Sum256([]byte("orig")),
			MapSHA256: sha256.Sum256([]byte("map")), MetaSHA256: [32]byte(meta), Exports: [][32]byte{wavSum}}
		s.Prev = seal.GenesisHash(pub)
		s.Signature = ed25519.Sign(priv, s.Message())
		in.Seal = s
	}
	pdf, err := CallInfoPDF(testDoc(hex.EncodeToString(wavSum[:]), start.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	in.PDF = pdf
	var buf bytes.Buffer
	if err := Write(context.Background(), &buf, in); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func verify(t *testing.T, z []byte, pub ed25519.PublicKey) *Report {
	t.Helper()
	rep, err := VerifyZip(bytes.NewReader(z), int64(len(z)), pub)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func problems(r *Report) string {
	var s []string
	for _, p := range r.Problems {
		s = append(s, p.String())
	}
	return strings.Join(s, "; ")
}

func TestZipVerify(t *testing.T) {
	pub, priv := testKey(1)
	otherPub, otherPriv := testKey(2)
	wav := fakeWAV(4000)
	good := sealedZip(t, priv, wav, true)

	rep := verify(t, good, pub)
	if !rep.OK() || rep.KeyFromZip || rep.Recording != "0123456789abcdef0123456789abcdef" {
		t.Fatalf("untouched zip: %s (%+v)", problems(rep), rep)
	}
	if rep := verify(t, good, nil); !rep.OK() || !rep.KeyFromZip {
		t.Fatalf("untouched zip, key from the zip: %s", problems(rep))
	}
	flip := func(name string, at func(n int) int) []byte {
		return exporttest.Rewrite(t, good, func(n string, b []byte) []byte {
			if n == name {
				b = bytes.Clone(b)
				b[at(len(b))] ^= 0x01
			}
			return b
		})
	}
	editSeal := func(f func(m map[string]any)) []byte {
		return exporttest.Rewrite(t, good, func(n string, b []byte) []byte {
			if n != SealName {
				return b
			}
			var m map[string]any
			json.Unmarshal(b, &m)
			f(m)
			out, _ := json.Marshal(m)
			return out
		})
	}
	resign := func(m map[string]any) { // a forger's seal, signed with another key
		raw, _ := base64.StdEncoding.DecodeString(m["seal"].(string))
		s, _ := seal.ParseSeal(raw)
		s.Signature = ed25519.Sign(otherPriv, s.Message())
		b, _ := s.MarshalBinary()
		m["seal"] = base64.StdEncoding.EncodeToString(b)
		m["signature"] = hex.EncodeToString(s.Signature)
	}
	otherPEM, _ := PublicKeyPEM(otherPub)

	cases := []struct {
		name string
		zip  []byte
		pub  ed25519.PublicKey
		want string // a fragment of the named problem
	}{
		{"one byte of the WAV's audio", flip("recording.wav", func(n int) int { return n - 100 }), pub, "recording.wav: sha256"},
		{"one byte of the WAV header", flip("recording.wav", func(int) int { return 30 }), pub, "recording.wav: sha256"},
		{"one byte of the PDF", flip(PDFName, func(n int) int { return n / 2 }), pub, "call-info.pdf: sha256 does not match"},
		{"one byte of the seal", editSeal(func(m map[string]any) {
			raw, _ := base64.StdEncoding.DecodeString(m["seal"].(string))
			raw[70] ^= 1
			m["seal"] = base64.StdEncoding.EncodeToString(raw)
		}), pub, "seal.json: signature does not verify"},
		{"the seal's export hash", editSeal(func(m map[string]any) {
			raw, _ := base64.StdEncoding.DecodeString(m["seal"].(string))
			s, _ := seal.ParseSeal(raw)
			s.Exports[0][0] ^= 1
			b, _ := s.MarshalBinary()
			m["seal"] = base64.StdEncoding.EncodeToString(b)
		}), pub, "seal.json: signature does not verify"},
		{"a spelled-out field", editSeal(func(m map[string]any) { m["recording"] = "ffffffffffffffffffffffffffffffff" }), pub, "seal.json: recording does not match the signed seal"},
		{"the spelled-out exports", editSeal(func(m map[string]any) { m["exports"] = []string{strings.Repeat("0", 64)} }), pub, "seal.json: exports do not match"},
		{"seal.json not JSON", flip(SealName, func(int) int { return 0 }), pub, "seal.json: is not valid JSON"},
		{"another key given", good, otherPub, "seal.json: signature does not verify"},
		{"re-signed with another key, given the right one", editSeal(resign), pub, "seal.json: signature does not verify"},
		{"another key in the zip", exporttest.Rewrite(t, good, func(n string, b []byte) []byte {
			if n == PubKeyName {
				return otherPEM
			}
			return b
		}), pub, "pubkey.pem: is not the given public key"},
		{"the WAV missing", exporttest.Rewrite(t, good, func(n string, b []byte) []byte {
			if strings.HasSuffix(n, ".wav") {
				return nil
			}
			return b
		}), pub, "recording.wav: missing"},
		{"an extra file", func() []byte {
			z := exporttest.Rewrite(t, good, func(n string, b []byte) []byte { return b })
			zr, _ := zip.NewReader(bytes.NewReader(z), int64(len(z)))
			var out bytes.Buffer
			zw := zip.NewWriter(&out)
			for _, f := range zr.File {
				zw.Copy(f)
			}
			w, _ := zw.Create("readme.txt")
			w.Write([]byte("hi"))
			zw.Close()
			return out.Bytes()
		}(), pub, "readme.txt: is not listed"},
		{"an unsealed recording", sealedZip(t, priv, wav, false), pub, "the recording is not sealed"},
	}
	for _, c := range cases {
		rep := verify(t, c.zip, c.pub)
		if rep.OK() {
			t.Errorf("%s: verified", c.name)
			continue
		}
		if !strings.Contains(problems(rep), c.want) {
			t.Errorf("%s: problems %q lack %q", c.name, problems(rep), c.want)
		}
	}
	if _, err := VerifyZip(bytes.NewReader([]byte("not a zip")), 9, pub); err == nil {
		t.Error("a non-zip verified without error")
	}
}

// TestCallInfoPDF checks the PDF against a golden file (fixed dates and
// key), and that it embeds the UTF-8 font rather than a core font.
func TestCallInfoPDF(t *testing.T) {
	_, priv := testKey(1)
	z := sealedZip(t, priv, fakeWAV(100), true)
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	var pdf []byte
	for _, f := range zr.File {
		if f.Name == PDFName {
			rc, _ := f.Open()
			pdf, _ = io.ReadAll(rc)
			rc.Close()
		}
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) || !bytes.Contains(pdf, []byte("/FontFile2")) || bytes.Contains(pdf, []byte("/Helvetica")) {
		t.Fatal("the PDF does not embed a TrueType font")
	}
	// The same input gives the same bytes.
	if z2 := sealedZip(t, priv, fakeWAV(100), true); !bytes.Equal(z, z2) {
		t.Fatal("the zip is not reproducible")
	}
	golden := filepath.Join("testdata", "call-info.pdf")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, pdf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./export -run TestCallInfoPDF -update)", err)
	}
	if !bytes.Equal(pdf, want) {
		t.Fatalf("the PDF differs from %s (if intended, run with -update and look at it)", golden)
	}
}

func TestZipPublicKeyParse(t *testing.T) {
	pub, _ := testKey(3)
	pem, err := PublicKeyPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{string(pem), "  " + string(pem), hex.EncodeToString(pub), base64.StdEncoding.EncodeToString(pub)} {
		k, err := ParsePublicKey([]byte(in))
		if err != nil || !k.Equal(pub) {
			t.Fatalf("ParsePublicKey(%q): %v", in, err)
		}
	}
	for _, in := range []string{"", "abcd", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"} {
		if _, err := ParsePublicKey([]byte(in)); err == nil {
			t.Fatalf("ParsePublicKey(%q) accepted", in)
		}
	}
}

func FuzzVerifyZip(f *testing.F) {
	_, priv := testKey(1)
	f.Add(sealedZip(f, priv, fakeWAV(10), true))
	f.Add(callZip(f, priv))
	f.Add([]byte("PK\x03\x04"))
	pub, _ := testKey(1)
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := VerifyZip(bytes.NewReader(b), int64(len(b)), pub)
		if err == nil && rep == nil {
			t.Fatal("nil report without error")
		}
	})
}
