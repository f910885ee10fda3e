package export

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"

	"github.com/callvault/callvault/archive/seal"
)

// A seal made when the upload was answered signs the original, the map
// and the metadata; the export hashes (the WAVs) follow in a second chain
// entry, which the zip carries as exportsEntry next to the seal.

// fillLater adds the exports entry of a deferred seal s to zs, or says it
// is pending.
func (zs *SealFile) fillLater(s *seal.Seal) error {
	if !s.Deferred {
		return nil
	}
	if s.Later == nil {
		zs.ExportsPending = true
		return nil
	}
	b, err := s.Later.MarshalBinary()
	if err != nil {
		return err
	}
	zs.ExportsEntry = base64.StdEncoding.EncodeToString(b)
	return nil
}

// checkLater verifies the exports entry of the deferred seal sl (signature
// with pub, that it names sl) and attaches it. It reports whether sl's
// export hashes are there to check the WAVs with: not for a deferred seal
// without its entry, which is reported.
func (v *zipVerifier) checkLater(file string, zs *SealFile, sl *seal.Seal, pub ed25519.PublicKey) bool {
	rep := v.rep
	if !sl.Deferred {
		if zs.ExportsEntry != "" {
			rep.fail(file, "exportsEntry given for a seal that holds its export hashes itself")
		}
		return true
	}
	if zs.ExportsEntry == "" {
		rep.fail(file, "the export hashes were still pending when the zip was made: the WAVs are not covered by the seal")
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(zs.ExportsEntry)
	if err != nil {
		rep.fail(file, "exportsEntry is not base64")
		return false
	}
	x, err := seal.ParseExportSeal(raw)
	if err != nil {
		rep.fail(file, "exportsEntry does not parse")
		return false
	}
	sl.Attach(x)
	if err := sl.VerifyLater(pub); err != nil {
		rep.fail(file, "exportsEntry does not verify with key %s: %v", KeyFingerprint(pub), err)
		return false
	}
	rep.Checked = append(rep.Checked, fmt.Sprintf("exports entry %d signature (key %s)", x.Seq, KeyFingerprint(pub)))
	return true
}
