//go:build linux

package readahead

import (
	"bytes"
	"io"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// lowWater returns the socket's receive low-water mark (SO_RCVLOWAT).
func lowWater(t *testing.T, c *Conn) int {
	t.Helper()
	var v int
	var err error
	if cerr := c.raw.Control(func(fd uintptr) { v, err = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT) }); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// queued returns the bytes waiting in the socket (SIOCINQ).
func queued(t *testing.T, c *Conn) int {
	t.Helper()
	var n int32
	var errno syscall.Errno
	if err := c.raw.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
	}); err != nil {
		t.Fatal(err)
	}
	if errno != 0 {
		t.Fatal(errno)
	}
	return int(n)
}

// readable reports whether the kernel reports the socket readable now, as
// the runtime's poller would learn it.
func readable(t *testing.T, c *Conn) bool {
	t.Helper()
	var ready bool
	var err error
	if cerr := c.raw.Control(func(fd uintptr) {
		var set syscall.FdSet
		set.Bits[fd/64] |= 1 << (fd % 64)
		var n int
		n, err = syscall.Select(int(fd)+1, &set, nil, nil, &syscall.Timeval{})
		ready = n > 0
	}); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	return ready
}

// waitUntil waits, a millisecond at a time, until cond holds, and fails
// the test after 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
	}
}

// TestQuiet: a quiet Conn's socket is not reported readable for what a
// pause gathers, and is once it holds quietBytes; a read takes what is
// there at once; a read that finds the socket empty sets the mark back to
// one byte before it waits, so a few bytes still end the wait — through
// the read-ahead and through a large read alike.
func TestQuiet(t *testing.T) {
	c, client := pair(t)
	if lowWater(t, c) > 1 {
		t.Fatalf("a new connection's low-water mark is %d", lowWater(t, c))
	}
	c.Quiet()
	if got := lowWater(t, c); got != quietBytes {
		t.Fatalf("low-water mark %d after Quiet, want %d", got, quietBytes)
	}
	pause := bytes.Repeat([]byte("p"), 5000) // ≈ 200 ms of a G.711 call
	if _, err := client.Write(pause); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the pause's bytes in the socket", func() bool { return queued(t, c) == len(pause) })
	if readable(t, c) {
		t.Fatal("a quiet socket holding less than quietBytes is reported readable")
	}
	if _, err := client.Write(make([]byte, quietBytes)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "quietBytes more in the socket", func() bool { return queued(t, c) == len(pause)+quietBytes })
	if !readable(t, c) {
		t.Fatal("a quiet socket holding quietBytes is not reported readable")
	}
	got, err := io.ReadAll(io.LimitReader(c, int64(len(pause)+quietBytes)))
	if err != nil || len(got) != len(pause)+quietBytes {
		t.Fatalf("read %d bytes (%v), want %d", len(got), err, len(pause)+quietBytes)
	}

	for _, size := range []int{512, gulpSize} { // through the read-ahead, and past it
		c.Quiet()
		if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		type result struct {
			n   int
			err error
		}
		done := make(chan result, 1)
		go func() {
			n, err := c.Read(make([]byte, size))
			done <- result{n, err}
		}()
		if size < gulpSize {
			waitUntil(t, "the waiting read's mark back at one byte", func() bool { return lowWater(t, c) <= 1 })
		}
		if _, err := client.Write([]byte("0\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		if r := <-done; r.err != nil || r.n != 5 {
			t.Fatalf("a %d-byte read on a quiet Conn: %d bytes, %v; want the 5 sent", size, r.n, r.err)
		}
		if lowWater(t, c) > 1 {
			t.Fatalf("low-water mark %d after a read waited", lowWater(t, c))
		}
	}
}
