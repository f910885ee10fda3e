package export

import (
	"archive/zip"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/callvault/callvault/archive/seal"
	"github.com/callvault/callvault/codec"
)

// A call recorded in several parts downloads as one zip: call.wav, the
// whole call as one WAV, and seal.json in CallFormat holding the seal of
// every part and where each part's calls lie in call.wav, so that each
// piece is checked against the export hashes its part's seal signs.
const (
	CallFormat  = "callvault-call-download/1"
	CallWAVName = "call.wav"
)

// CallPart is one recording of a call in CallInput.
type CallPart struct {
	ID   seal.ID
	Seal *seal.Seal // nil when the part is not sealed
	// Pieces are the data bytes (no header) of each of the part's calls in
	// call.wav, in order; each is the canonical stereo WAV's data.
	Pieces []int64
}

// CallInput is what goes into a call's zip.
type CallInput struct {
	CallID    string
	Parts     []CallPart
	WAV       io.Reader // canonical stereo WAV of the whole call: the parts' pieces in order
	PublicKey ed25519.PublicKey
	Modified  time.Time
}

// CallSealFile is a call zip's seal.json.
type CallSealFile struct {
	Format         string            `json:"format"`
	Call           string            `json:"call"`
	Audio          string            `json:"audio"`
	Parts          []CallSealPart    `json:"parts"`
	PublicKey      string            `json:"publicKey"`
	KeyFingerprint string            `json:"keyFingerprint"`
	Files          map[string]string `json:"files"`
}

// CallSealPart is one part's seal, as in a recording's seal.json, and its
// pieces of call.wav.
type CallSealPart struct {
	SealFile
	Pieces []int64 `json:"pieces"`
}

// WriteCall streams a call's zip to w: call.wav (stored, hashed on the
// way), seal.json and the public key.
func WriteCall(ctx context.Context, w io.Writer, in CallInput) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	zw := zip.NewWriter(w)
	files := map[string]string{}
	create := func(name string, method uint16) (io.Writer, error) {
		return zw.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: in.Modified})
	}
	fw, err := create(CallWAVName, zip.Store)
	if err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(fw, h), in.WAV); err != nil {
		return fmt.Errorf("export: zip %s: %w", CallWAVName, err)
	}
	files[CallWAVName] = hexSum(h)
	pubPEM, err := PublicKeyPEM(in.PublicKey)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(pubPEM)
	files[PubKeyName] = hex.EncodeToString(sum[:])
	cs := CallSealFile{
		Format: CallFormat, Call: in.CallID, Audio: CallWAVName,
		PublicKey: hex.EncodeToString(in.PublicKey), KeyFingerprint: KeyFingerprint(in.PublicKey), Files: files,
	}
	for _, p := range in.Parts {
		sp := CallSealPart{SealFile: SealFile{Format: Format, Recording: p.ID.String(),
			PublicKey: cs.PublicKey, KeyFingerprint: cs.KeyFingerprint}, Pieces: p.Pieces}
		if err := sp.fillSeal(p.Seal); err != nil {
			return err
		}
		cs.Parts = append(cs.Parts, sp)
	}
	if err := writeSealFiles(zw, "", in.Modified, cs, pubPEM); err != nil {
		return err
	}
	return zw.Close()
}

// verifyCall is VerifyZip for a zip in CallFormat.
func (v *zipVerifier) verifyCall(js []byte, pub ed25519.PublicKey) {
	rep := v.rep
	var cs CallSealFile
	if err := json.Unmarshal(js, &cs); err != nil {
		rep.fail(SealName, "is not valid JSON")
		return
	}
	rep.Recording = "call " + cs.Call
	pub, ok := v.key(cs.PublicKey, pub)
	if !ok {
		return
	}
	if len(cs.Parts) == 0 {
		rep.fail(SealName, "lists no parts")
		return
	}
	exports := make([]map[string]bool, len(cs.Parts))
	var total int64
	for i := range cs.Parts {
		p := &cs.Parts[i]
		label := fmt.Sprintf("%s part %d", SealName, i+1)
		ex, ok := v.checkSeal(label, &p.SealFile, pub)
		if !ok {
			return
		}
		exports[i] = ex
		for _, n := range p.Pieces {
			if n < 0 || n%4 != 0 || n > 1<<32 {
				rep.fail(label, "pieces are not whole stereo frames")
				return
			}
			total += n
		}
	}
	name := cs.Audio
	if name == "" {
		name = CallWAVName
	}
	f := v.byName[name]
	if f == nil {
		rep.fail(name, "missing from the zip")
	} else {
		v.checkCallWAV(f, &cs, exports, total)
	}
	v.checkFiles(cs.Files)
}

// checkCallWAV cuts the whole call's WAV into the parts' pieces and checks
// each, with a canonical header, against its part's sealed exports. In a
// 16 kHz call WAV (a part has G.722), a piece of a part sealed at 8 kHz
// checks by its 8 kHz frames and their interpolation (codec.UpsampleCheck).
func (v *zipVerifier) checkCallWAV(f *zip.File, cs *CallSealFile, exports []map[string]bool, total int64) {
	rep := v.rep
	rc, err := f.Open()
	if err != nil {
		rep.fail(f.Name, "cannot be read: %v", err)
		return
	}
	defer rc.Close()
	var hdr [codec.WAVHeaderSize]byte
	if _, err := io.ReadFull(rc, hdr[:]); err != nil {
		rep.fail(f.Name, "cannot be read: %v", err)
		return
	}
	rate := int(binary.LittleEndian.Uint32(hdr[24:28]))
	if total > 1<<32-1 || (rate != 8000 && rate != 16000) || hdr != codec.WAVHeader(rate, 2, uint32(total)) {
		rep.fail(f.Name, "is not the stereo WAV of the parts' pieces (the audio was altered)")
		return
	}
	for i, p := range cs.Parts {
		for k, n := range p.Pieces {
			h := sha256.New()
			ph := codec.WAVHeader(rate, 2, uint32(n))
			h.Write(ph[:])
			// At 16 kHz, a part sealed at 8 kHz (G.711 only) is upsampled
			// in the call's WAV: its 8 kHz frames hash to its export and
			// the frames between them are their interpolation.
			var w io.Writer = h
			var h8 hash.Hash
			var up *codec.UpsampleCheck
			if rate == 16000 && n%8 == 0 {
				h8 = sha256.New()
				ph8 := codec.WAVHeader(8000, 2, uint32(n/2))
				h8.Write(ph8[:])
				up = codec.NewUpsampleCheck(h8)
				w = io.MultiWriter(h, up)
			}
			if _, err := io.CopyN(w, rc, n); err != nil {
				rep.fail(f.Name, "cannot be read: %v", err)
				return
			}
			sum := hexSum(h)
			if exports[i][sum] {
				rep.Checked = append(rep.Checked, fmt.Sprintf("%s part %d call %d sha256 sealed", f.Name, i+1, k+1))
				continue
			}
			if up != nil {
				if ok, _ := up.Close(); ok && exports[i][hexSum(h8)] {
					rep.Checked = append(rep.Checked, fmt.Sprintf("%s part %d call %d sha256 sealed (8 kHz, upsampled)", f.Name, i+1, k+1))
					continue
				}
			}
			rep.fail(f.Name, "part %d call %d: sha256 %s is not among the part's sealed exports (the audio was altered)", i+1, k+1, sum)
		}
	}
	if n, _ := io.CopyN(io.Discard, rc, 1); n > 0 {
		rep.fail(f.Name, "has more audio than its parts (the audio was altered)")
	}
}
