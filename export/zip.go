package export

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
	"strconv"
	"strings"
	"time"

	"github.com/callvault/callvault/archive/seal"
)

// Names of the files in a recording's zip.
const (
	SealName   = "seal.json"
	PubKeyName = "pubkey.pem"
	PDFName    = "call-info.pdf"
	Format     = "callvault-download/1"
)

// SealFile is seal.json: the recording's seal as the appliance signed it
// (Seal, the binary form seal.ParseSeal reads) and, for people, the same
// fields spelled out, plus the sha256 of every file in the zip. Only the
// signed fields are evidence; Files catches accidental damage to the
// files the seal does not cover (the PDF).
type SealFile struct {
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

	// ExportsEntry is, for a seal made with its export hashes deferred,
	// the chain entry that signs them (base64 of
	// seal.ExportSeal.MarshalBinary); ExportsPending says it was not
	// written yet when the zip was made.
	ExportsEntry   string `json:"exportsEntry,omitempty"`
	ExportsPending bool   `json:"exportsPending,omitempty"`
}

// WAVName is the name of call i's WAV among n calls.
func WAVName(i, n int) string {
	if n == 1 {
		return "recording.wav"
	}
	return "recording-" + strconv.Itoa(i+1) + ".wav"
}

// Input is what goes into a recording's zip.
type Input struct {
	ID        seal.ID
	Seal      *seal.Seal  // nil when the recording is not sealed
	WAVs      []io.Reader // canonical stereo WAV of each call
	PDF       []byte      // call-info.pdf, from CallInfoPDF
	PublicKey ed25519.PublicKey
	Modified  time.Time // the time stamp of every file in the zip
}

// Write streams the zip to w: the WAVs (stored, hashed on the way), the
// PDF, seal.json and the public key. Errors reading a WAV are returned
// wrapped. It stops between WAVs when ctx is done.
func Write(ctx context.Context, w io.Writer, in Input) error {
	zw := zip.NewWriter(w)
	if err := WriteInto(ctx, zw, "", in); err != nil {
		return err
	}
	return zw.Close()
}

// WriteInto streams the files Write would write into zw, each named dir
// (empty, or a folder ending in "/") followed by its name, and leaves zw
// open: several recordings in one zip, a folder each, as seal.json names
// the files of its own folder.
func WriteInto(ctx context.Context, zw *zip.Writer, dir string, in Input) error {
	files := map[string]string{}
	create := func(name string, method uint16) (io.Writer, error) {
		return zw.CreateHeader(&zip.FileHeader{Name: dir + name, Method: method, Modified: in.Modified})
	}
	for i, wav := range in.WAVs {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := WAVName(i, len(in.WAVs))
		fw, err := create(name, zip.Store)
		if err != nil {
			return err
		}
		h := sha256.New()
		if _, err := io.Copy(io.MultiWriter(fw, h), wav); err != nil {
			return fmt.Errorf("export: zip %s: %w", name, err)
		}
		files[name] = hexSum(h)
	}
	fw, err := create(PDFName, zip.Deflate)
	if err != nil {
		return err
	}
	if _, err := fw.Write(in.PDF); err != nil {
		return err
	}
	sum := sha256.Sum256(in.PDF)
	files[PDFName] = hex.EncodeToString(sum[:])

	pubPEM, err := PublicKeyPEM(in.PublicKey)
	if err != nil {
		return err
	}
	sum = sha256.Sum256(pubPEM)
	files[PubKeyName] = hex.EncodeToString(sum[:])
	zs := SealFile{
		Format: Format, Recording: in.ID.String(), PublicKey: hex.EncodeToString(in.PublicKey),
		KeyFingerprint: KeyFingerprint(in.PublicKey), Files: files,
	}
	if err := zs.fillSeal(in.Seal); err != nil {
		return err
	}
	return writeSealFiles(zw, dir, in.Modified, zs, pubPEM)
}

// fillSeal spells out s (nil: not sealed) in zs.
func (zs *SealFile) fillSeal(s *seal.Seal) error {
	if s == nil {
		return nil
	}
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
	return zs.fillLater(s)
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// PublicKeyPEM encodes an Ed25519 public key as PKIX PEM.
func PublicKeyPEM(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
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

// KeyFingerprint is the first 16 bytes of sha256(public key), in groups
// of four hex digits; "" for no key.
func KeyFingerprint(pub []byte) string {
	if len(pub) == 0 {
		return ""
	}
	sum := sha256.Sum256(pub)
	h := hex.EncodeToString(sum[:16])
	var b strings.Builder
	for i := 0; i < len(h); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(h[i : i+4])
	}
	return b.String()
}

// writeSealFiles writes the last files of either format's zip into dir:
// seal.json (sealFile marshalled) and the public key.
func writeSealFiles(zw *zip.Writer, dir string, modified time.Time, sealFile any, pubPEM []byte) error {
	js, err := json.MarshalIndent(sealFile, "", "  ")
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{SealName, append(js, '\n')}, {PubKeyName, pubPEM}} {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: dir + f.name, Method: zip.Deflate, Modified: modified})
		if err != nil {
			return err
		}
		if _, err := fw.Write(f.data); err != nil {
			return err
		}
	}
	return nil
}
