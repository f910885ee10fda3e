package export

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive/seal"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/export/exporttest"
)

// callZip is the zip of a call in two parts: part 1 holds one call of 30
// frames, part 2 two calls of 20 and 10 frames; each part's seal signs
// the canonical WAV of each of its calls.
func callZip(t testing.TB, priv ed25519.PrivateKey) []byte {
	t.Helper()
	pub := priv.Public().(ed25519.PublicKey)
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	pieces := [][]int{{30}, {20, 10}}
	ids := []string{"0123456789abcdef0123456789abcd01", "0123456789abcdef0123456789abcd02"}
	var data []byte
	in := CallInput{CallID: "c0ffee", PublicKey: pub, Modified: start}
	prev := seal.GenesisHash(pub)
	for i, ps := range pieces {
		id, _ := seal.ParseID(ids[i])
		s := &seal.Seal{Seq: uint64(i + 1), Time: start.Add(time.Duration(i) * time.Minute), ID: id,
			OrigSHA256: sha256.Sum256([]byte{byte(i)}), Prev: prev}
		part := CallPart{ID: id, Seal: s}
		for k, frames := range ps {
			w := fakeWAV(frames + 7*i + k)
			s.Exports = append(s.Exports, sha256.Sum256(w))
			data = append(data, w[codec.WAVHeaderSize:]...)
			part.Pieces = append(part.Pieces, int64(len(w)-codec.WAVHeaderSize))
		}
		s.Signature = ed25519.Sign(priv, s.Message())
		prev = sha256.Sum256(s.Signature)
		in.Parts = append(in.Parts, part)
	}
	h := codec.WAVHeader(8000, 2, uint32(len(data)))
	in.WAV = bytes.NewReader(append(h[:], data...))
	var buf bytes.Buffer
	if err := WriteCall(context.Background(), &buf, in); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestCallZipVerify: a call's zip verifies offline, every piece of the
// whole call's WAV against its part's seal; any change to the audio, a
// part's seal or the pieces fails.
func TestCallZipVerify(t *testing.T) {
	pub, priv := testKey(1)
	otherPub, _ := testKey(2)
	good := callZip(t, priv)
	rep := verify(t, good, pub)
	if !rep.OK() {
		t.Fatalf("good call zip: %s", problems(rep))
	}
	if rep.Recording != "call c0ffee" || len(rep.Checked) != 2+3 {
		t.Fatalf("report %q checked %q", rep.Recording, rep.Checked)
	}
	editSeal := func(f func(*CallSealFile)) []byte {
		return exporttest.Rewrite(t, good, func(name string, b []byte) []byte {
			if name != SealName {
				return b
			}
			var cs CallSealFile
			if err := json.Unmarshal(b, &cs); err != nil {
				t.Fatal(err)
			}
			f(&cs)
			out, _ := json.Marshal(cs)
			return out
		})
	}
	flipWAV := func(off int) []byte {
		return exporttest.Rewrite(t, good, func(name string, b []byte) []byte {
			if name == CallWAVName {
				b = bytes.Clone(b)
				b[off] ^= 1
			}
			return b
		})
	}
	for _, c := range []struct {
		name string
		zip  []byte
		key  ed25519.PublicKey
		want string
	}{
		{"audio of part 1", flipWAV(codec.WAVHeaderSize + 5), pub, "call.wav: part 1 call 1: sha256"},
		{"audio of part 2's second call", flipWAV(codec.WAVHeaderSize + 4*30 + 4*27 + 3), pub, "call.wav: part 2 call 2: sha256"},
		{"the header", flipWAV(30), pub, "call.wav: is not the stereo WAV"},
		{"pieces moved", editSeal(func(cs *CallSealFile) { cs.Parts[1].Pieces[0] += 4; cs.Parts[1].Pieces[1] -= 4 }), pub, "part 2 call 1: sha256"},
		{"a part's seal field", editSeal(func(cs *CallSealFile) { cs.Parts[0].Seq = 9 }), pub, "seal.json part 1: seq does not match"},
		{"a part left out", editSeal(func(cs *CallSealFile) { cs.Parts = cs.Parts[:1] }), pub, "call.wav: is not the stereo WAV"},
		{"a part not sealed", editSeal(func(cs *CallSealFile) { cs.Parts[1].Sealed = false }), pub, "seal.json part 2: the recording is not sealed"},
		{"another key", good, otherPub, "seal.json part 1: signature does not verify"},
		{"extra audio", exporttest.Rewrite(t, good, func(name string, b []byte) []byte {
			if name == CallWAVName {
				return append(bytes.Clone(b), 0, 0, 0, 0)
			}
			return b
		}), pub, "call.wav"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := verify(t, c.zip, c.key)
			if rep.OK() || !strings.Contains(problems(rep), c.want) {
				t.Fatalf("problems %q, want %q", problems(rep), c.want)
			}
		})
	}
	// The single-recording format still verifies.
	if rep := verify(t, sealedZip(t, priv, fakeWAV(10), true), pub); !rep.OK() {
		t.Fatalf("recording zip: %s", problems(rep))
	}
}
