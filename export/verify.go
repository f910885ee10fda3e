package export

import (
	"archive/zip"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/callvault/callvault/archive/seal"
)

// Problem is one thing that does not match in a downloaded zip: the
// file it concerns and what is wrong.
type Problem struct {
	File, Reason string
}

func (p Problem) String() string { return p.File + ": " + p.Reason }

// Report is what VerifyZip found.
type Report struct {
	Recording      string
	KeyFingerprint string // of the key the seal was checked with
	KeyFromZip     bool   // no key was given; the zip's own key was used
	Checked        []string
	Problems       []Problem
}

// OK reports whether nothing failed.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

func (r *Report) fail(file, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{file, fmt.Sprintf(format, args...)})
}

// maxZipEntry bounds what VerifyZip reads of a non-audio file.
const maxZipEntry = 16 << 20

// VerifyZip checks a zip downloaded from the appliance, offline: the seal's
// Ed25519 signature (with pub, or when pub is nil with the key inside the
// zip, which proves only that the zip is consistent), that the fields of
// seal.json match the signed seal, that each WAV's sha256 is among the
// seal's exports, and that every file matches the hashes listed in
// seal.json. It returns an error only when r is not a zip at all.
func VerifyZip(r io.ReaderAt, size int64, pub ed25519.PublicKey) (*Report, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("not a zip file: %w", err)
	}
	v := &zipVerifier{zr: zr, rep: &Report{}, byName: map[string]*zip.File{}}
	rep := v.rep
	for _, f := range zr.File {
		if _, dup := v.byName[f.Name]; dup {
			rep.fail(f.Name, "appears twice in the zip")
		}
		v.byName[f.Name] = f
	}

	js, ok := v.read(SealName)
	if !ok {
		return rep, nil
	}
	var zs SealFile
	if err := json.Unmarshal(js, &zs); err != nil {
		rep.fail(SealName, "is not valid JSON")
		return rep, nil
	}
	if zs.Format == CallFormat {
		v.verifyCall(js, pub)
		return rep, nil
	}
	rep.Recording = zs.Recording
	pub, ok = v.key(zs.PublicKey, pub)
	if !ok {
		return rep, nil
	}
	exports, ok := v.checkSeal(SealName, &zs, pub)
	if !ok {
		return rep, nil
	}

	// Every WAV must be a sealed export.
	wavs := 0
	for _, f := range zr.File {
		if !strings.HasSuffix(strings.ToLower(f.Name), ".wav") {
			continue
		}
		wavs++
		if exports == nil {
			rep.fail(f.Name, "not covered by the seal: no verified export hashes (see "+SealName+")")
			continue
		}
		sum, err := hashFile(f)
		if err != nil {
			rep.fail(f.Name, "cannot be read: %v", err)
			continue
		}
		if !exports[sum] {
			rep.fail(f.Name, "sha256 %s is not among the seal's exports (the audio was altered)", sum)
			continue
		}
		rep.Checked = append(rep.Checked, f.Name+" sha256 sealed")
	}
	if wavs == 0 && len(exports) > 0 {
		rep.fail("recording.wav", "missing from the zip")
	}
	v.checkFiles(zs.Files)
	return rep, nil
}

// zipVerifier holds what VerifyZip has read of a zip.
type zipVerifier struct {
	zr     *zip.Reader
	rep    *Report
	byName map[string]*zip.File
}

// read returns the bytes of a non-audio file, or reports why not.
func (v *zipVerifier) read(name string) ([]byte, bool) {
	f := v.byName[name]
	if f == nil {
		v.rep.fail(name, "missing from the zip")
		return nil, false
	}
	rc, err := f.Open()
	if err != nil {
		v.rep.fail(name, "cannot be read: %v", err)
		return nil, false
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxZipEntry+1))
	if err != nil || len(b) > maxZipEntry {
		v.rep.fail(name, "cannot be read (damaged or too large)")
		return nil, false
	}
	return b, true
}

func hashFile(f *zip.File) (string, error) {
	rc, err := f.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", err
	}
	return hexSum(h), nil
}

// key returns the key to check seals with: the one given, else the zip's
// own (sealKey is the hex key seal.json names).
func (v *zipVerifier) key(sealKey string, pub ed25519.PublicKey) (ed25519.PublicKey, bool) {
	rep := v.rep
	zipKey, keyOK := parseZipKey(v.read)
	if keyOK && hex.EncodeToString(zipKey) != sealKey {
		rep.fail(SealName, "publicKey differs from %s", PubKeyName)
	}
	switch {
	case pub != nil:
		if keyOK && !zipKey.Equal(pub) {
			rep.fail(PubKeyName, "is not the given public key (zip has %s, given %s)", KeyFingerprint(zipKey), KeyFingerprint(pub))
		}
	case keyOK:
		pub = zipKey
		rep.KeyFromZip = true
	default:
		return nil, false
	}
	rep.KeyFingerprint = KeyFingerprint(pub)
	return pub, true
}

// checkSeal verifies the signed seal in zs (reported as file) with pub
// and that its spelled-out fields match it; it returns the seal's export
// hashes, and false when the seal itself cannot be trusted.
func (v *zipVerifier) checkSeal(file string, zs *SealFile, pub ed25519.PublicKey) (map[string]bool, bool) {
	rep := v.rep
	if !zs.Sealed || zs.Seal == "" {
		rep.fail(file, "the recording is not sealed")
		return nil, false
	}
	raw, err := base64.StdEncoding.DecodeString(zs.Seal)
	if err != nil {
		rep.fail(file, "seal is not base64")
		return nil, false
	}
	sl, err := seal.ParseSeal(raw)
	if err != nil {
		rep.fail(file, "seal does not parse")
		return nil, false
	}
	if err := sl.Verify(pub); err != nil {
		rep.fail(file, "signature does not verify with key %s", KeyFingerprint(pub))
		return nil, false
	}
	rep.Checked = append(rep.Checked, fmt.Sprintf("seal %d signature (key %s)", sl.Seq, KeyFingerprint(pub)))

	// The spelled-out fields must say what the signed seal says.
	want := map[string]string{
		"recording": sl.ID.String(), "seq": strconv.FormatUint(sl.Seq, 10),
		"time":       sl.Time.UTC().Format(time.RFC3339Nano),
		"prev":       hex.EncodeToString(sl.Prev[:]),
		"origSha256": hex.EncodeToString(sl.OrigSHA256[:]), "mapSha256": hex.EncodeToString(sl.MapSHA256[:]),
		"metaSha256": hex.EncodeToString(sl.MetaSHA256[:]), "signature": hex.EncodeToString(sl.Signature),
	}
	got := map[string]string{
		"recording": zs.Recording, "seq": strconv.FormatUint(zs.Seq, 10), "time": zs.Time, "prev": zs.Prev,
		"origSha256": zs.OrigSHA256, "mapSha256": zs.MapSHA256, "metaSha256": zs.MetaSHA256, "signature": zs.Signature,
	}
	for _, k := range []string{"recording", "seq", "time", "prev", "origSha256", "mapSha256", "metaSha256", "signature"} {
		if !strings.EqualFold(got[k], want[k]) {
			rep.fail(file, "%s does not match the signed seal", k)
		}
	}
	if !v.checkLater(file, zs, sl, pub) {
		return nil, true
	}
	exports := map[string]bool{}
	var exportList []string
	for _, e := range sl.Exports {
		h := hex.EncodeToString(e[:])
		exports[h] = true
		exportList = append(exportList, h)
	}
	if strings.Join(exportList, ",") != strings.Join(zs.Exports, ",") {
		rep.fail(file, "exports do not match the signed seal")
	}
	return exports, true
}

// checkFiles compares every file with the hashes seal.json lists: not
// evidence, but damage is reported; and no file may be unlisted.
func (v *zipVerifier) checkFiles(files map[string]string) {
	rep := v.rep
	for name, sum := range files {
		f := v.byName[name]
		if f == nil {
			rep.fail(name, "listed in seal.json but missing from the zip")
			continue
		}
		got, err := hashFile(f)
		if err != nil {
			rep.fail(name, "cannot be read: %v", err)
			continue
		}
		if !strings.EqualFold(got, sum) {
			rep.fail(name, "sha256 does not match seal.json (the file was altered; it is not covered by the signature)")
		}
	}
	for _, f := range v.zr.File {
		if _, listed := files[f.Name]; !listed && f.Name != SealName {
			rep.fail(f.Name, "is not listed in seal.json")
		}
	}
}

// parseZipKey reads pubkey.pem from the zip.
func parseZipKey(read func(string) ([]byte, bool)) (ed25519.PublicKey, bool) {
	b, ok := read(PubKeyName)
	if !ok {
		return nil, false
	}
	k, err := ParsePublicKey(b)
	if err != nil {
		return nil, false
	}
	return k, true
}
