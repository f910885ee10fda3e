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
// from: the keyed hash of the capture under the appliance's key is the one
// the recording's masking record keeps (receivedMAC, or for recordings
// stored before it, HMAC-SHA-256 of the capture itself). A recording that
// was not masked is never matched this way (its original is the upload:
// compare the bytes).
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
	key := r.receivedKey()
	sum, old := sha256.New(), hmac.New(sha256.New, key)
	if _, err := io.Copy(io.MultiWriter(sum, old), capture); err != nil {
		return false, err
	}
	return hmac.Equal(receivedMAC(key, sum.Sum(nil)), want) || hmac.Equal(old.Sum(nil), want), nil
}

// receivedMAC is the keyed hash a masked recording keeps of its upload as
// received: HMAC-SHA-256 under key of the upload's SHA-256 (sum). Keyed,
// so that whoever reads the recording's info cannot try the few possible
// digits of a masked tone against it; over the SHA-256, so that a live
// upload's bytes are hashed once, for the seal, until a secure pause
// needs the hash as received.
func receivedMAC(key, sum []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(sum)
	return m.Sum(nil)
}
