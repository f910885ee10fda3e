package api

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/export"
	"github.com/callvault/callvault/internal/webcore"
)

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

// TestCallInfoPDF prepares the call-information document from a sealed
// recording, its owner, a note and the settings (names in several
// European scripts), and checks that the rendered PDF is the golden file
// of the export package (fixed dates and key).
func TestCallInfoPDF(t *testing.T) {
	_, priv := testKey(1)
	wav := fakeWAV(100)
	id, _ := archive.ParseID("0123456789abcdef0123456789abcdef")
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	rec := &archive.Recording{ID: id, State: archive.StateComplete, StartTime: start, Received: start, Finished: start.Add(time.Minute),
		DurationMs: 61000, User: "asa", FileName: "f.pcap", CallGUID: "guid1",
		Info: []byte(`{"result":{"calls":[{"from":{"name":"Åsa Øberg","number":"201"},"to":{"name":"Jānis Bērziņš","number":"+37120000000"},"durationMs":61000,"dtmf":[{"digit":"7"}]}],` +
			`"streams":[{"call":0,"codec":"PCMA","packets":3000,"lost":12}]}}`)}
	pub := priv.Public().(ed25519.PublicKey)
	s := &archive.Seal{Seq: 42, Time: start.Add(2 * time.Minute), ID: id, OrigSHA256: sha256.Sum256([]byte("orig")),
		MapSHA256: sha256.Sum256([]byte("map")), MetaSHA256: rec.MetaSHA256(), Exports: [][32]byte{sha256.Sum256(wav)}}
	s.Prev = archive.GenesisHash(pub)
	s.Signature = ed25519.Sign(priv, s.Message())
	rec.Seal = s
	users := map[string]*archive.User{"asa": {Login: "asa", Name: "Åsa Øberg", Extensions: []string{"201"}}}
	notes := []archive.Note{{ID: 1, Author: "asa", Created: start, Updated: start, Text: "Šarūnas Žukauskas called back; Jānis Bērziņš agreed."}}
	wavSum := sha256.Sum256(wav)
	doc := webcore.NewCallDoc(rec, users, notes, archive.Settings{PBXName: "Rīga PBX"}, time.UTC, pub,
		[][2]string{{"recording.wav", "sha256 " + hex.EncodeToString(wavSum[:])}}, start.Add(time.Hour))
	pdf, err := export.CallInfoPDF(doc)
	if err != nil {
		t.Fatal(err)
	}
	const golden = "../export/testdata/call-info.pdf"
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pdf, want) {
		t.Fatalf("the PDF differs from %s (if intended, change the document in export's TestCallInfoPDF to match, run go test ./export -run TestCallInfoPDF -update and look at it)", golden)
	}
}
