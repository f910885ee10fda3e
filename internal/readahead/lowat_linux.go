package readahead

import "syscall"

// setLowWater sets the socket's receive low-water mark (SO_RCVLOWAT): it
// is reported readable once it holds n bytes, or at its end or an error.
// Setting it reports at once a socket that holds n already.
func setLowWater(fd uintptr, n int) {
	_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, n)
}
