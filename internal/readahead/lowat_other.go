//go:build !linux

package readahead

// setLowWater does nothing where the low-water mark's effect on polling
// is not the one Quiet relies on.
func setLowWater(fd uintptr, n int) {}
