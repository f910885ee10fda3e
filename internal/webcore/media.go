package webcore

import (
	"context"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/codec"
)

// Media renders stored recordings as audio. The recorder implements it;
// cmd passes it in.
type Media interface {
	// WAV renders call (0-based; < 0 for all) of each recording, joined in order.
	WAV(ctx context.Context, recs []*archive.Recording, call int, opt codec.WAVOptions) (*codec.WAVReader, error)
	// Exports returns the hashes of the canonical WAVs the seal covers.
	Exports(ctx context.Context, rec *archive.Recording) ([][32]byte, error)
}

// Segmenter is Media that also hands out one call of a recording as a
// codec segment, so a caller can join calls of several recordings with
// silence between them (codec.NewWAVReader). The recorder is one.
type Segmenter interface {
	Segment(ctx context.Context, rec *archive.Recording, call int) (codec.Segment, error)
}

// ExportSealer is Media that seals a recording's pending export hashes
// at once, rather than when its background queue reaches them. The
// recorder is one.
type ExportSealer interface {
	SealExportsNow(ctx context.Context, id archive.ID) error
}

// WithExports returns rec with its export hashes sealed: for a seal whose
// exports entry is still pending, media (when an ExportSealer) writes it
// now and rec is read again, so a download carries both chain entries.
// When that fails rec is returned as it was (its zip says the hashes are
// pending).
func WithExports(ctx context.Context, arc *archive.Archive, media Media, rec *archive.Recording) *archive.Recording {
	es, ok := media.(ExportSealer)
	if !ok || rec.Seal == nil || !rec.Seal.Pending() {
		return rec
	}
	if err := es.SealExportsNow(ctx, rec.ID); err != nil {
		return rec
	}
	if got, err := arc.Get(ctx, rec.ID); err == nil {
		return got
	}
	return rec
}
