//go:build unix

package recorder

import (
	"os"
	"syscall"
)

// allocated returns the bytes the file of fi takes on disk: a hole (the
// archive file's growth step not yet written) takes none.
func allocated(fi os.FileInfo) (int64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Blocks * 512, true
}
