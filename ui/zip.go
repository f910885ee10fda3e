package ui

import (
	"archive/zip"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/seal"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/recinfo"
)

// Names of the files in a recording's zip.
const (
	ZipSealName   = "seal.json"
	ZipPubKeyName = "pubkey.pem"
	ZipPDFName    = "call-info.pdf"
	ZipFormat     = "callvault-download/1"
)

// ZipSeal is seal.json: the recording's seal as the appliance signed it
// (Seal, the binary form archive.ParseSeal reads) and, for people, the same
// fields spelled out, plus the sha256 of every file in the zip. Only the
// signed fields are evidence; Files catches accidental damage to the
// files the seal does not cover (the PDF).
type ZipSeal struct {
	Format         string            `json:"format"`
	Recording      string            `json:"recording"`
	Sealed         bool              `json:"sealed"`
	Seal           string            `json:"seal,omitempty"` // base64 of Seal.MarshalBinary
	Seq            uint64            `json:"seq,omitempty"`
	Time           string            `json:"time,omitempty"`
	Prev           string            `json:"prev,omitempty"`
	OrigSHA256     string            `json:"origSha256,omitempty"`
	MapSHA256      string            `json:"mapSha256,omitempty"`
	MetaSHA256     string            `json:"metaSha256,omitempty"`
	Exports        []string          `json:"exports,omitempty"`
	Signature      string            `json:"signature,omitempty"`
	PublicKey      string            `json:"publicKey"` // hex of the Ed25519 key
	KeyFingerprint string            `json:"keyFingerprint"`
	Files          map[string]string `json:"files"` // name → hex sha256
}

// wavName is the name of call i's WAV among n calls.
func wavName(i, n int) string {
	if n == 1 {
		return "recording.wav"
	}
	return "recording-" + strconv.Itoa(i+1) + ".wav"
}

// PublicKeyPEM encodes an Ed25519 public key as PKIX PEM.
func PublicKeyPEM(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// zipInput is what goes into a recording's zip.
type zipInput struct {
	rec      *archive.Recording
	wavs     []io.Reader // canonical stereo WAV of each call
	pdf      []byte
	pub      ed25519.PublicKey
	modified time.Time
}

// writeZip streams the zip to w: the WAVs (stored, hashed on the way), the
// PDF, seal.json and the public key.
func writeZip(ctx context.Context, w io.Writer, in zipInput) error {
	zw := zip.NewWriter(w)
	files := map[string]string{}
	create := func(name string, method uint16) (io.Writer, error) {
		return zw.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: in.modified})
	}
	for i, wav := range in.wavs {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := wavName(i, len(in.wavs))
		fw, err := create(name, zip.Store)
		if err != nil {
			return err
		}
		h := sha256.New()
		if _, err := io.Copy(io.MultiWriter(fw, h), wav); err != nil {
			return fmt.Errorf("ui: zip %s: %w", name, err)
		}
		files[name] = hexSum(h)
	}
	fw, err := create(ZipPDFName, zip.Deflate)
	if err != nil {
		return err
	}
	if _, err := fw.Write(in.pdf); err != nil {
		return err
	}
	sum := sha256.Sum256(in.pdf)
	files[ZipPDFName] = hex.EncodeToString(sum[:])

	pubPEM, err := PublicKeyPEM(in.pub)
	if err != nil {
		return err
	}
	sum = sha256.Sum256(pubPEM)
	files[ZipPubKeyName] = hex.EncodeToString(sum[:])
	zs := ZipSeal{
		Format: ZipFormat, Recording: in.rec.ID.String(), PublicKey: hex.EncodeToString(in.pub),
		KeyFingerprint: keyFingerprint(in.pub), Files: files,
	}
	if s := in.rec.Seal; s != nil {
		b, err := s.MarshalBinary()
		if err != nil {
			return err
		}
		zs.Sealed = true
		zs.Seal = base64.StdEncoding.EncodeToString(b)
		zs.Seq = s.Seq
		zs.Time = s.Time.UTC().Format(time.RFC3339Nano)
		zs.Prev = hex.EncodeToString(s.Prev[:])
		zs.OrigSHA256 = hex.EncodeToString(s.OrigSHA256[:])
		zs.MapSHA256 = hex.EncodeToString(s.MapSHA256[:])
		zs.MetaSHA256 = hex.EncodeToString(s.MetaSHA256[:])
		zs.Signature = hex.EncodeToString(s.Signature)
		for _, e := range s.Exports {
			zs.Exports = append(zs.Exports, hex.EncodeToString(e[:]))
		}
	}
	js, err := json.MarshalIndent(zs, "", "  ")
	if err != nil {
		return err
	}
	if fw, err = create(ZipSealName, zip.Deflate); err != nil {
		return err
	}
	if _, err := fw.Write(append(js, '\n')); err != nil {
		return err
	}
	if fw, err = create(ZipPubKeyName, zip.Deflate); err != nil {
		return err
	}
	if _, err := fw.Write(pubPEM); err != nil {
		return err
	}
	return zw.Close()
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// recordingDownload serves GET /api/v1/recordings/{id}/download.zip.
func (a *API) recordingDownload(w http.ResponseWriter, r *http.Request, u *archive.User) error {
	rec, err := a.recording(r, u)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if _, err := a.playCheck(r, u, rec, "download"); err != nil {
		return err
	}
	in, err := prepareZip(ctx, a.arc, a.media, rec, a.arc.Now())
	if err != nil {
		return err
	}
	if err := a.arc.Audit(ctx, archive.AuditEvent{
		Actor: u.Login, Action: "download", Target: rec.ID.String(), Remote: sourceIP(r), OK: true,
	}); err != nil {
		return err
	}
	name := "recording-" + recTime(rec).UTC().Format("20060102-150405") + "-" + rec.ID.String()[:8] + ".zip"
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if err := writeZip(ctx, w, in); err != nil {
		// The status is sent: abort, so the client sees a failed download
		// rather than a truncated file.
		switch {
		case errors.Is(err, archive.ErrCorrupt):
			a.integrityFailed(r, u, rec.ID.String(), "download", err)
		case !errors.Is(err, context.Canceled):
			a.log.ErrorContext(ctx, "zip download failed", "id", rec.ID.String(), "err", err)
		}
		panic(http.ErrAbortHandler)
	}
	return nil
}

// prepareZip renders everything but the audio bytes, so that errors come
// before the response starts.
func prepareZip(ctx context.Context, arc *archive.Archive, media Media, rec *archive.Recording, now time.Time) (zipInput, error) {
	settings, err := arc.Settings(ctx)
	if err != nil {
		return zipInput{}, err
	}
	loc := time.UTC
	if settings.TimeZone != "" {
		if l, err := time.LoadLocation(settings.TimeZone); err == nil {
			loc = l
		}
	}
	users, err := arc.Users(ctx)
	if err != nil {
		return zipInput{}, err
	}
	notes, err := arc.Notes(ctx, rec.ID)
	if err != nil {
		return zipInput{}, err
	}
	in := recinfo.ParseLenient(rec.Info)
	z := zipInput{rec: rec, pub: arc.PublicKey(), modified: recTime(rec)}
	var rows [][2]string
	for i := range in.Result.Calls {
		wav, err := media.WAV(ctx, []*archive.Recording{rec}, i, codec.WAVOptions{})
		if err != nil {
			return zipInput{}, err
		}
		z.wavs = append(z.wavs, wav)
		v := "not sealed"
		if rec.Seal != nil && i < len(rec.Seal.Exports) {
			v = "sha256 " + hex.EncodeToString(rec.Seal.Exports[i][:]) + " (sealed)"
		}
		rows = append(rows, [2]string{wavName(i, len(in.Result.Calls)), v})
	}
	doc := newCallDoc(rec, userIndex(users), notes, settings, loc, z.pub, rows, now)
	if z.pdf, err = renderPDF(doc); err != nil {
		return zipInput{}, err
	}
	return z, nil
}

// ZipProblem is one thing that does not match in a downloaded zip: the
// file it concerns and what is wrong.
type ZipProblem struct {
	File, Reason string
}

func (p ZipProblem) String() string { return p.File + ": " + p.Reason }

// ZipReport is what VerifyZip found.
type ZipReport struct {
	Recording      string
	KeyFingerprint string // of the key the seal was checked with
	KeyFromZip     bool   // no key was given; the zip's own key was used
	Checked        []string
	Problems       []ZipProblem
}

// OK reports whether nothing failed.
func (r *ZipReport) OK() bool { return len(r.Problems) == 0 }

func (r *ZipReport) fail(file, format string, args ...any) {
	r.Problems = append(r.Problems, ZipProblem{file, fmt.Sprintf(format, args...)})
}

// maxZipEntry bounds what VerifyZip reads of a non-audio file.
const maxZipEntry = 16 << 20

// VerifyZip checks a zip downloaded from the appliance, offline: the seal's
// Ed25519 signature (with pub, or when pub is nil with the key inside the
// zip, which proves only that the zip is consistent), that the fields of
// seal.json match the signed seal, that each WAV's sha256 is among the
// seal's exports, and that every file matches the hashes listed in
// seal.json. It returns an error only when r is not a zip at all.
func VerifyZip(r io.ReaderAt, size int64, pub ed25519.PublicKey) (*ZipReport, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("not a zip file: %w", err)
	}
	rep := &ZipReport{}
	byName := map[string]*zip.File{}
	for _, f := range zr.File {
		if _, dup := byName[f.Name]; dup {
			rep.fail(f.Name, "appears twice in the zip")
		}
		byName[f.Name] = f
	}
	read := func(name string) ([]byte, bool) {
		f := byName[name]
		if f == nil {
			rep.fail(name, "missing from the zip")
			return nil, false
		}
		rc, err := f.Open()
		if err != nil {
			rep.fail(name, "cannot be read: %v", err)
			return nil, false
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, maxZipEntry+1))
		if err != nil || len(b) > maxZipEntry {
			rep.fail(name, "cannot be read (damaged or too large)")
			return nil, false
		}
		return b, true
	}
	hashFile := func(f *zip.File) (string, error) {
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

	js, ok := read(ZipSealName)
	if !ok {
		return rep, nil
	}
	var zs ZipSeal
	if err := json.Unmarshal(js, &zs); err != nil {
		rep.fail(ZipSealName, "is not valid JSON")
		return rep, nil
	}
	rep.Recording = zs.Recording

	// The key: the one given, else the zip's own.
	zipKey, keyOK := parseZipKey(read)
	if keyOK && hex.EncodeToString(zipKey) != zs.PublicKey {
		rep.fail(ZipSealName, "publicKey differs from %s", ZipPubKeyName)
	}
	switch {
	case pub != nil:
		if keyOK && !zipKey.Equal(pub) {
			rep.fail(ZipPubKeyName, "is not the given public key (zip has %s, given %s)", keyFingerprint(zipKey), keyFingerprint(pub))
		}
	case keyOK:
		pub = zipKey
		rep.KeyFromZip = true
	default:
		return rep, nil
	}
	rep.KeyFingerprint = keyFingerprint(pub)

	if !zs.Sealed || zs.Seal == "" {
		rep.fail(ZipSealName, "the recording is not sealed")
		return rep, nil
	}
	raw, err := base64.StdEncoding.DecodeString(zs.Seal)
	if err != nil {
		rep.fail(ZipSealName, "seal is not base64")
		return rep, nil
	}
	sl, err := seal.ParseSeal(raw)
	if err != nil {
		rep.fail(ZipSealName, "seal does not parse")
		return rep, nil
	}
	if err := sl.Verify(pub); err != nil {
		rep.fail(ZipSealName, "signature does not verify with key %s", keyFingerprint(pub))
		return rep, nil
	}
	rep.Checked = append(rep.Checked, fmt.Sprintf("seal %d signature (key %s)", sl.Seq, keyFingerprint(pub)))

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
			rep.fail(ZipSealName, "%s does not match the signed seal", k)
		}
	}
	exports := map[string]bool{}
	var exportList []string
	for _, e := range sl.Exports {
		h := hex.EncodeToString(e[:])
		exports[h] = true
		exportList = append(exportList, h)
	}
	if strings.Join(exportList, ",") != strings.Join(zs.Exports, ",") {
		rep.fail(ZipSealName, "exports do not match the signed seal")
	}

	// Every WAV must be a sealed export.
	wavs := 0
	for _, f := range zr.File {
		if !strings.HasSuffix(strings.ToLower(f.Name), ".wav") {
			continue
		}
		wavs++
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
	if wavs == 0 && len(sl.Exports) > 0 {
		rep.fail("recording.wav", "missing from the zip")
	}

	// Files listed in seal.json: not evidence, but damage is reported.
	for name, sum := range zs.Files {
		f := byName[name]
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
	for _, f := range zr.File {
		if _, listed := zs.Files[f.Name]; !listed && f.Name != ZipSealName {
			rep.fail(f.Name, "is not listed in seal.json")
		}
	}
	return rep, nil
}

// parseZipKey reads pubkey.pem from the zip.
func parseZipKey(read func(string) ([]byte, bool)) (ed25519.PublicKey, bool) {
	b, ok := read(ZipPubKeyName)
	if !ok {
		return nil, false
	}
	k, err := ParsePublicKey(b)
	if err != nil {
		return nil, false
	}
	return k, true
}

// ParsePublicKey reads an Ed25519 public key as PKIX PEM, 64 hex digits or
// base64 of the 32 bytes.
func ParsePublicKey(b []byte) (ed25519.PublicKey, error) {
	s := strings.TrimSpace(string(b))
	if blk, _ := pem.Decode([]byte(s)); blk != nil {
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("public key: %w", err)
		}
		ek, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, errors.New("public key: not Ed25519")
		}
		return ek, nil
	}
	if raw, err := hex.DecodeString(s); err == nil && len(raw) == ed25519.PublicKeySize {
		return ed25519.PublicKey(raw), nil
	}
	if raw, err := base64.StdEncoding.DecodeString(s); err == nil && len(raw) == ed25519.PublicKeySize {
		return ed25519.PublicKey(raw), nil
	}
	return nil, errors.New("public key: expected PEM, 64 hex digits or base64 of 32 bytes")
}
