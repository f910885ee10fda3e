package recorder

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/recinfo"
)

// TestMaskedReceivedHashKeyed: a masked recording's info document keeps a
// keyed hash of the upload as received (HMAC-SHA-256 under the archive's
// derived key of the upload's SHA-256), never its plain SHA-256: with the
// stored masked capture and a plain hash, anyone reading the info could
// try the 16 values of each masked digit offline. The appliance still
// tells the upload from any other capture, the stored (masked) one
// included, and still matches recordings that keep the earlier form
// (HMAC-SHA-256 of the upload itself).
func TestMaskedReceivedHashKeyed(t *testing.T) {
	c := makeDTMFCall(t)
	r, arc := openMaskingRecorder(t, nil)
	rec, err := r.Ingest(context.Background(), "masked.pcap", bytes.NewReader(c.pcap))
	if err != nil {
		t.Fatal(err)
	}
	plain := sha256.Sum256(c.pcap)
	if bytes.Contains(bytes.ToLower(rec.Info), []byte(hex.EncodeToString(plain[:]))) {
		t.Fatal("the info document holds the plain SHA-256 of the upload as received")
	}
	in, err := recinfo.Parse(rec.Info)
	if err != nil {
		t.Fatal(err)
	}
	if in.Masking == nil {
		t.Fatal("no masking record")
	}
	mac := hmac.New(sha256.New, arc.DerivedKey("masked upload"))
	mac.Write(plain[:])
	if want := hex.EncodeToString(mac.Sum(nil)); in.Masking.ReceivedHMAC != want {
		t.Fatalf("received hash %q, want the HMAC under the derived key %s", in.Masking.ReceivedHMAC, want)
	}
	if ok, err := r.MatchesReceived(rec, bytes.NewReader(c.pcap)); !ok || err != nil {
		t.Fatalf("the upload does not match: %v %v", ok, err)
	}
	stored := readBlob(t, arc, rec.ID, archive.BlobOriginal)
	if ok, _ := r.MatchesReceived(rec, bytes.NewReader(stored)); ok {
		t.Fatal("the stored masked capture matches the received hash")
	}
	old := hmac.New(sha256.New, arc.DerivedKey("masked upload"))
	old.Write(c.pcap)
	earlier := *rec
	earlier.Info = bytes.Replace(rec.Info, []byte(in.Masking.ReceivedHMAC), []byte(hex.EncodeToString(old.Sum(nil))), 1)
	if bytes.Equal(earlier.Info, rec.Info) {
		t.Fatal("no received hash to replace in the info document")
	}
	if ok, err := r.MatchesReceived(&earlier, bytes.NewReader(c.pcap)); !ok || err != nil {
		t.Fatalf("the upload does not match a recording with the earlier form: %v %v", ok, err)
	}
	if ok, _ := r.MatchesReceived(&earlier, bytes.NewReader(stored)); ok {
		t.Fatal("the stored masked capture matches the earlier form")
	}
}
