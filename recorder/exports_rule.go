package recorder

import (
	"context"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/recinfo"
)

// Exports are rendered by the current rule: every codec the codec package
// decodes, at 16 kHz for a call with G.722. Seals made before G.722 was
// decoded hold the hashes of the first rule: G.711 decoded at 8 kHz, every
// other codec silence. Both renderings are functions of the sealed
// original and map alone, so accepting either proves the same bytes; see
// "Export rendering rules" in archive/FORMAT.md.

// sealedRule returns cur, the exports of rec by the current rule, unless
// rec carries a seal (as Verify hands it) that cur does not match, rec has
// audio the first rule rendered as silence, and the first rule's exports
// match the seal: then those.
func (r *Recorder) sealedRule(ctx context.Context, rec *archive.Recording, in *recinfo.Info, cur [][32]byte) ([][32]byte, error) {
	if rec.Seal == nil || sameExports(cur, rec.Seal.Exports) || !decodedSinceRule1(in) {
		return cur, nil
	}
	old, err := r.rule1Exports(ctx, rec, in)
	if err != nil {
		return nil, err
	}
	if sameExports(old, rec.Seal.Exports) {
		return old, nil
	}
	return cur, nil
}

func sameExports(a, b [][32]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// rule1Codec is how the first rule rendered c: G.711 decoded, the rest
// silence.
func rule1Codec(c codec.Codec) codec.Codec {
	if c == codec.PCMU || c == codec.PCMA {
		return c
	}
	return codec.Unknown
}

// decodedSinceRule1 reports whether in has a stream the current rule
// renders and the first did not.
func decodedSinceRule1(in *recinfo.Info) bool {
	for _, s := range in.Result.Streams {
		if c := codec.ParseCodec(s.Codec); c.Supported() && rule1Codec(c) == codec.Unknown {
			return true
		}
	}
	return false
}

// rule1Exports renders each call of rec by the first rule and returns the
// SHA-256 of each WAV.
func (r *Recorder) rule1Exports(ctx context.Context, rec *archive.Recording, in *recinfo.Info) ([][32]byte, error) {
	out := make([][32]byte, 0, len(in.Result.Calls))
	for i := range in.Result.Calls {
		seg, err := r.Segment(ctx, rec, i)
		if err != nil {
			return nil, err
		}
		for k := range seg.Layout.Streams {
			seg.Layout.Streams[k].Codec = rule1Codec(seg.Layout.Streams[k].Codec)
		}
		wav, err := codec.NewWAVReader([]codec.Segment{seg}, codec.WAVOptions{})
		if err != nil {
			return nil, err
		}
		sum, err := hashConcurrently(wav)
		if err != nil {
			return nil, err
		}
		out = append(out, sum)
	}
	return out, nil
}
