package archive

import (
	"fmt"

	"github.com/callvault/callvault/archive/seal"
)

// ID identifies a recording: 16 random bytes, written as 32 lowercase hex
// digits (defined in package seal, which names recordings in the chain).
type ID = seal.ID

// NewID returns a new random ID.
func NewID() ID { return seal.NewID() }

// ParseID parses the 32 lowercase hex digits written by ID.String. Any
// other spelling (upper case, other lengths) is refused so that one
// recording has exactly one name.
func ParseID(s string) (ID, error) { return seal.ParseID(s) }

// BlobKind names one of the two blobs of a recording.
type BlobKind uint8

const (
	// BlobOriginal is the capture exactly as uploaded (decompressed when
	// the upload was gzip).
	BlobOriginal BlobKind = 1
	// BlobMap is the placement map: 16-byte entries pointing into the
	// original.
	BlobMap BlobKind = 2
)

func (k BlobKind) String() string {
	switch k {
	case BlobOriginal:
		return "orig"
	case BlobMap:
		return "map"
	}
	return fmt.Sprintf("kind%d", uint8(k))
}

func (k BlobKind) valid() bool { return k == BlobOriginal || k == BlobMap }

// State is the life-cycle state of a recording.
type State string

const (
	// StateRecording: upload in progress, or cut off by a crash.
	StateRecording State = "recording"
	// StateComplete: the upload ended normally.
	StateComplete State = "complete"
	// StateInterrupted: the upload was cut off and finalized afterwards
	// with what had been committed.
	StateInterrupted State = "interrupted"
)

func (s State) valid() bool {
	return s == StateRecording || s == StateComplete || s == StateInterrupted
}
