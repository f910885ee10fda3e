//go:build !linux

package archive

// Other systems number SEEK_DATA and SEEK_HOLE their own way, or lack
// them: a backup takes the chunk file whole.
const (
	seekFindsData = false
	seekData      = 0
	seekHole      = 0
)
