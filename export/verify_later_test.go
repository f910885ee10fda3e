package export

import (
	"archive/zip"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive/seal"
)

// deferredZip builds a zip of a recording whose seal defers its export
// hashes; later edits the exports entry (nil: pending).
func deferredZip(t *testing.T, priv ed25519.PrivateKey, wav []byte, later func(pub ed25519.PublicKey, s *seal.Seal) *seal.ExportSeal) []byte {
	t.Helper()
	pub := priv.Public().(ed25519.PublicKey)
	id, _ := seal.ParseID("0123456789abcdef0123456789abcdef")
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	s := &seal.Seal{Seq: 42, Time: start, Prev: seal.GenesisHash(pub), ID: id, OrigSHA256: sha256.Sum256([]byte("orig")),
		MapSHA256: sha256.Sum256([]byte("map")), MetaSHA256: sha256.Sum256([]byte("meta")), Deferred: true}
	s.Signature = ed25519.Sign(priv, s.Message())
	s.Hash = sha256.Sum256(append(s.Message(), s.Signature...))
	if later != nil {
		s.Attach(later(pub, s))
	}
	var buf bytes.Buffer
	in := Input{ID: id, Seal: s, WAVs: []io.Reader{bytes.NewReader(wav)}, PublicKey: pub, Modified: start, PDF: []byte("%PDF-1.4\n")}
	if err := Write(t.Context(), &buf, in); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// exportsEntry is the genuine exports entry of s, signed by priv, for wav.
func exportsEntry(priv ed25519.PrivateKey, s *seal.Seal, wav []byte) *seal.ExportSeal {
	e := &seal.Entry{Type: seal.TypeExports, Seq: s.Seq + 1, Time: 1, Prev: s.Hash, ID: s.ID, SealSeq: s.Seq,
		Exports: [][32]byte{sha256.Sum256(wav)}}
	e.Sign(priv)
	return e.ExportSeal()
}

func TestVerifyZipDeferredSeal(t *testing.T) {
	_, priv := testKey(7)
	_, other := testKey(8)
	wav := fakeWAV(800)
	verify := func(z []byte) *Report {
		rep, err := VerifyZip(bytes.NewReader(z), int64(len(z)), priv.Public().(ed25519.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	// Both entries: the WAV is covered.
	z := deferredZip(t, priv, wav, func(_ ed25519.PublicKey, s *seal.Seal) *seal.ExportSeal { return exportsEntry(priv, s, wav) })
	if rep := verify(z); !rep.OK() || !strings.Contains(strings.Join(rep.Checked, "\n"), "exports entry 43 signature") {
		t.Fatalf("both entries: %+v", rep)
	}
	var zs SealFile
	if err := json.Unmarshal(readZipFile(t, z, SealName), &zs); err != nil || zs.ExportsEntry == "" || zs.ExportsPending {
		t.Fatalf("seal.json: %+v %v", zs, err)
	}

	fails := map[string][]byte{
		"pending": deferredZip(t, priv, wav, nil),
		"entry signed by another key": deferredZip(t, priv, wav, func(_ ed25519.PublicKey, s *seal.Seal) *seal.ExportSeal {
			return exportsEntry(other, s, wav)
		}),
		"entry for other audio": deferredZip(t, priv, wav, func(_ ed25519.PublicKey, s *seal.Seal) *seal.ExportSeal {
			return exportsEntry(priv, s, fakeWAV(10))
		}),
		"entry of another seal": deferredZip(t, priv, wav, func(_ ed25519.PublicKey, s *seal.Seal) *seal.ExportSeal {
			o := *s
			o.Seq = 7
			return exportsEntry(priv, &o, wav)
		}),
	}
	for name, z := range fails {
		rep := verify(z)
		if rep.OK() {
			t.Errorf("%s: verifies", name)
			continue
		}
		wavFailed := false
		for _, p := range rep.Problems {
			wavFailed = wavFailed || p.File == "recording.wav"
		}
		if !wavFailed {
			t.Errorf("%s: the WAV is not reported: %v", name, rep.Problems)
		}
	}
}

func readZipFile(t *testing.T, z []byte, name string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := zr.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
