package ui

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
)

var update = flag.Bool("update", false, "rewrite golden files")

func hexString(b []byte) string { return hex.EncodeToString(b) }
func b64String(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// testKey is a fixed Ed25519 key, so golden files are stable.
func testKey(seed byte) (ed25519.PublicKey, ed25519.PrivateKey) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	return priv.Public().(ed25519.PublicKey), priv
}

// fakeWAV is a small, valid PCM16 stereo WAV.
func fakeWAV(frames int) []byte {
	var b bytes.Buffer
	b.WriteString("RIFF")
	le32 := func(v uint32) { b.Write([]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}) }
	le16 := func(v uint16) { b.Write([]byte{byte(v), byte(v >> 8)}) }
	le32(uint32(36 + frames*4))
	b.WriteString("WAVEfmt ")
	le32(16)
	le16(1)
	le16(2)
	le32(8000)
	le32(32000)
	le16(4)
	le16(16)
	b.WriteString("data")
	le32(uint32(frames * 4))
	for i := range frames {
		le16(uint16(int16(i*37) - 3000))
		le16(uint16(int16(-i * 11)))
	}
	return b.Bytes()
}

// sealedZip builds a download zip for a recording sealed with priv.
func sealedZip(t testing.TB, priv ed25519.PrivateKey, wav []byte, sealed bool) []byte {
	t.Helper()
	id, _ := archive.ParseID("0123456789abcdef0123456789abcdef")
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	rec := &archive.Recording{ID: id, State: archive.StateComplete, StartTime: start, Received: start, Finished: start.Add(time.Minute),
		DurationMs: 61000, User: "asa", FileName: "f.pcap", CallGUID: "guid1",
		Info: []byte(`{"result":{"calls":[{"from":{"name":"Åsa Øberg","number":"201"},"to":{"name":"Jānis Bērziņš","number":"+37120000000"},"durationMs":61000,"dtmf":[{"digit":"7"}]}],` +
			`"streams":[{"call":0,"codec":"PCMA","packets":3000,"lost":12}]}}`)}
	pub := priv.Public().(ed25519.PublicKey)
	if sealed {
		s := &archive.Seal{Seq: 42, Time: start.Add(2 * time.Minute), ID: id, OrigSHA256: sha256.Sum256([]byte("orig")),
			MapSHA256: sha256.Sum256([]byte("map")), MetaSHA256: rec.MetaSHA256(), Exports: [][32]byte{sha256.Sum256(wav)}}
		s.Prev = archive.GenesisHash(pub)
		s.Signature = ed25519.Sign(priv, s.Message())
		rec.Seal = s
	}
	users := map[string]*archive.User{"asa": {Login: "asa", Name: "Åsa Øberg", Extensions: []string{"201"}}}
	notes := []archive.Note{{ID: 1, Author: "asa", Created: start, Updated: start, Text: "Šarūnas Žukauskas called back; Jānis Bērziņš agreed."}}
	doc := newCallDoc(rec, users, notes, archive.Settings{PBXName: "Rīga PBX"}, time.UTC, pub,
		[][2]string{{"recording.wav", "sha256 " + hex.EncodeToString(func() []byte { h := sha256.Sum256(wav); return h[:] }())}}, start.Add(time.Hour))
	pdf, err := renderPDF(doc)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeZip(context.Background(), &buf, zipInput{rec: rec, wavs: []io.Reader{bytes.NewReader(wav)}, pdf: pdf, pub: pub, modified: start}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rewriteZip copies a zip, passing each file's content through edit.
func rewriteZip(t *testing.T, in []byte, edit func(name string, b []byte) []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		b = edit(f.Name, b)
		if b == nil {
			continue
		}
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: f.Method, Modified: f.Modified})
		w.Write(b)
	}
	zw.Close()
	return out.Bytes()
}

func verify(t *testing.T, z []byte, pub ed25519.PublicKey) *ZipReport {
	t.Helper()
	rep, err := VerifyZip(bytes.NewReader(z), int64(len(z)), pub)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func problems(r *ZipReport) string {
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
		return rewriteZip(t, good, func(n string, b []byte) []byte {
			if n == name {
				b = bytes.Clone(b)
				b[at(len(b))] ^= 0x01
			}
			return b
		})
	}
	editSeal := func(f func(m map[string]any)) []byte {
		return rewriteZip(t, good, func(n string, b []byte) []byte {
			if n != ZipSealName {
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
		s, _ := archive.ParseSeal(raw)
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
		{"one byte of the PDF", flip(ZipPDFName, func(n int) int { return n / 2 }), pub, "call-info.pdf: sha256 does not match"},
		{"one byte of the seal", editSeal(func(m map[string]any) {
			raw, _ := base64.StdEncoding.DecodeString(m["seal"].(string))
			raw[70] ^= 1
			m["seal"] = base64.StdEncoding.EncodeToString(raw)
		}), pub, "seal.json: signature does not verify"},
		{"the seal's export hash", editSeal(func(m map[string]any) {
			raw, _ := base64.StdEncoding.DecodeString(m["seal"].(string))
			s, _ := archive.ParseSeal(raw)
			s.Exports[0][0] ^= 1
			b, _ := s.MarshalBinary()
			m["seal"] = base64.StdEncoding.EncodeToString(b)
		}), pub, "seal.json: signature does not verify"},
		{"a spelled-out field", editSeal(func(m map[string]any) { m["recording"] = "ffffffffffffffffffffffffffffffff" }), pub, "seal.json: recording does not match the signed seal"},
		{"the spelled-out exports", editSeal(func(m map[string]any) { m["exports"] = []string{strings.Repeat("0", 64)} }), pub, "seal.json: exports do not match"},
		{"seal.json not JSON", flip(ZipSealName, func(int) int { return 0 }), pub, "seal.json: is not valid JSON"},
		{"another key given", good, otherPub, "seal.json: signature does not verify"},
		{"re-signed with another key, given the right one", editSeal(resign), pub, "seal.json: signature does not verify"},
		{"another key in the zip", rewriteZip(t, good, func(n string, b []byte) []byte {
			if n == ZipPubKeyName {
				return otherPEM
			}
			return b
		}), pub, "pubkey.pem: is not the given public key"},
		{"the WAV missing", rewriteZip(t, good, func(n string, b []byte) []byte {
			if strings.HasSuffix(n, ".wav") {
				return nil
			}
			return b
		}), pub, "recording.wav: missing"},
		{"an extra file", func() []byte {
			z := rewriteZip(t, good, func(n string, b []byte) []byte { return b })
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
		if f.Name == ZipPDFName {
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
		t.Fatalf("%v (run go test ./ui -run TestCallInfoPDF -update)", err)
	}
	if !bytes.Equal(pdf, want) {
		t.Fatalf("the PDF differs from %s (if intended, run with -update and look at it)", golden)
	}
}
