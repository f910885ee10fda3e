package recorder

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/recinfo"
)

// receivedKeyPurpose names the key (archive.DerivedKey) of the keyed hash
// a masked recording keeps of its upload as received.
const receivedKeyPurpose = "masked upload"

// receivedKey returns the key of the keyed hash of masked uploads.
func (r *Recorder) receivedKey() []byte { return r.arc.DerivedKey(receivedKeyPurpose) }

// MatchesReceived reports whether capture (an upload's capture bytes,
// after gzip decompression) is what the masked recording rec was stored
// from: its HMAC-SHA-256 under the appliance's key is the one the
// recording's masking record keeps. A recording that was not masked is
// never matched this way (its original is the upload: compare the bytes).
func (r *Recorder) MatchesReceived(rec *archive.Recording, capture io.Reader) (bool, error) {
	in, err := recinfo.Parse(rec.Info)
	if err != nil {
		return false, err
	}
	if in.Masking == nil {
		return false, nil
	}
	want, err := hex.DecodeString(in.Masking.ReceivedHMAC)
	if err != nil || len(want) != sha256.Size {
		return false, nil
	}
	mac := hmac.New(sha256.New, r.receivedKey())
	if _, err := io.Copy(mac, capture); err != nil {
		return false, err
	}
	return hmac.Equal(mac.Sum(nil), want), nil
}
