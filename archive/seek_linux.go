package archive

// The whence values of lseek that find data and holes.
const (
	seekFindsData = true
	seekData      = 3 // SEEK_DATA
	seekHole      = 4 // SEEK_HOLE
)
