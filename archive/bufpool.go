package archive

import "github.com/callvault/callvault/internal/keeppool"

// newChunkBufs returns the pool of chunk buffers (chunkBufCap bytes). It
// keeps 16 MiB, about what a second of 5,000 live calls fills.
func newChunkBufs() *keeppool.Pool[*[]byte] {
	return keeppool.New(256, func() *[]byte { b := make([]byte, chunkBufCap); return &b })
}

// stageSegs pools the stage segments of all writers; it keeps 4 MiB.
var stageSegs = keeppool.New(256, func() *[stageMax]byte { return new([stageMax]byte) })
