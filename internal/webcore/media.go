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
