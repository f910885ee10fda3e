//go:build unix

package archive

import (
	"os"
	"syscall"
)

// allocated returns the bytes the file of fi takes on disk (holes take
// none), or its size where the system does not tell.
func allocated(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}
