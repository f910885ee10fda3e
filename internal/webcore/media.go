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
