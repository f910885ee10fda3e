// Package readahead gives a server's connections reads that take what the
// socket holds in one system call, and tells a handler whether its
// connection's socket is drained.
//
// net/http reads a request body through a 4 KiB buffer, so a chunked
// upload that has gathered more than that in the socket costs a read per
// 4 KiB, and one more that finds the socket empty and parks until the next
// packet. A live upload (a phone streaming a call) sends a few hundred
// bytes every 20 ms; the recorder lets a few hundred milliseconds gather
// before it reads again, and then wants them in one read, and wants to
// know when to wait again: when the socket is drained. A Conn reads up to
// gulpSize bytes into a shared buffer whenever it is asked for less, hands
// out the rest on the next reads without a system call, and records
// whether its last system call took all the socket held.
//
// The shared buffer is taken only once the socket has data: a Conn waits
// for readiness through syscall.RawConn, so an idle connection holds no
// buffer.
//
// Under TLS the handler reads plaintext that crypto/tls holds above the
// Conn: a tls.Conn hands out one record per read and keeps whatever else
// it was given. A TLSListener's Conns give it one record per read, so the
// rest stays read ahead here, where Drained sees it; TLS keeps at most the
// record it works on. Reads counts the system calls, so a handler can
// also tell whether its read reached the socket at all since it last saw
// the socket drained (reads served from a buffer above it do not).
// ConnContext finds the Conn under a tls.Conn.
//
// A reader that pauses between reads (the recorder's live uploads) does
// not wait on the socket meanwhile, yet every packet that arrives wakes
// the runtime's poller, which then finds no one waiting: at thousands of
// live uploads, hundreds of thousands of wake-ups a second. Quiet asks the
// kernel not to report the socket readable until it holds quietBytes
// (SO_RCVLOWAT); the next read that finds the socket empty, and would
// wait, first sets the mark back to one byte, so that no read waits for
// data that may never come (the end of a body, a request line).
package readahead

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"

	"github.com/callvault/callvault/internal/keeppool"
)

// gulpSize is the most one system call reads for a small read.
const gulpSize = 32 << 10

// gulps are the buffers of system calls; 64 of them (2 MiB) are kept
// across garbage collections.
var gulps = keeppool.New(64, func() *[gulpSize]byte { return new([gulpSize]byte) })

// Listener returns a listener whose TCP connections are Conns. Other
// connections are passed on as they are.
func Listener(ln net.Listener) net.Listener { return listener{ln, false} }

// TLSListener is Listener for a listener that tls.NewListener wraps: its
// Conns hand out at most one TLS record per read, so that crypto/tls,
// which takes all it is given, holds no more than the record it works on
// and the rest stays here, where Drained sees it.
func TLSListener(ln net.Listener) net.Listener { return listener{ln, true} }

type listener struct {
	net.Listener
	records bool
}

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return wrap(c, l.records), nil
}

// wrap returns c as a Conn when c can be read through a syscall.RawConn,
// and c itself otherwise.
func wrap(c net.Conn, records bool) net.Conn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	rc := &Conn{Conn: c, raw: raw}
	if records {
		rc.cut = new(recordCut)
	}
	return rc
}

// recordCut follows the TLS record boundaries in the bytes a Conn hands
// out: a record is a 5-byte header whose last two bytes are the length of
// the body that follows.
type recordCut struct {
	left int // body bytes of the current record not handed out yet
	hdr  [5]byte
	hdrN int // bytes of the next record's header handed out
}

// take returns how many of the first bytes of b to hand out: up to the
// end of the current record, and marks them handed out.
func (rc *recordCut) take(b []byte) int {
	n := 0
	for n < len(b) {
		if rc.left > 0 {
			k := min(rc.left, len(b)-n)
			rc.left -= k
			if n += k; rc.left == 0 {
				return n
			}
			continue
		}
		rc.hdr[rc.hdrN] = b[n]
		rc.hdrN++
		n++
		if rc.hdrN == len(rc.hdr) {
			rc.hdrN = 0
			if rc.left = int(rc.hdr[3])<<8 | int(rc.hdr[4]); rc.left == 0 {
				return n
			}
		}
	}
	return n
}

// Conn is a net.Conn whose small reads take up to gulpSize bytes from the
// socket at once. Reads must not run concurrently (net/http's never do).
type Conn struct {
	net.Conn
	raw syscall.RawConn

	ahead *[gulpSize]byte // bytes read but not handed out: ahead[r:w]
	r, w  int
	short bool // the last system call took less than it asked for
	// drained is short with nothing read ahead: a read now would wait.
	drained atomic.Bool
	reads   atomic.Uint64 // system calls that read
	quiet   atomic.Bool   // the socket's low-water mark is quietBytes (Quiet)
	cut     *recordCut    // under TLS: where records end
}

// give returns how many of b, which Read may hand out, it hands out.
func (c *Conn) give(b []byte) int {
	if c.cut == nil {
		return len(b)
	}
	return c.cut.take(b)
}

// Read reads into p: from what was read ahead, or from the socket.
func (c *Conn) Read(p []byte) (int, error) {
	if c.ahead != nil {
		n := copy(p, c.ahead[c.r:c.r+c.give(c.ahead[c.r:min(c.w, c.r+len(p))])])
		c.r += n
		if c.r == c.w {
			gulps.Put(c.ahead)
			c.ahead = nil
			c.drained.Store(c.short)
		}
		return n, nil
	}
	if len(p) == 0 || len(p) >= gulpSize && c.cut == nil {
		if c.quiet.Swap(false) {
			_ = c.raw.Control(func(fd uintptr) { setLowWater(fd, 1) })
		}
		n, err := c.Conn.Read(p)
		c.reads.Add(1)
		c.short = err == nil && n < len(p)
		c.drained.Store(c.short)
		return n, err
	}
	var (
		buf  *[gulpSize]byte
		n    int
		serr error
	)
	err := c.raw.Read(func(fd uintptr) bool {
		buf = gulps.Get()
		n, serr = readFD(fd, buf[:])
		if serr == syscall.EAGAIN && c.quiet.Swap(false) {
			// Readable from one byte on before waiting; setting the
			// mark reports what came meanwhile, and the read is tried
			// again.
			setLowWater(fd, 1)
			n, serr = readFD(fd, buf[:])
		}
		if serr == syscall.EAGAIN {
			gulps.Put(buf)
			buf = nil
			return false // wait until the socket is readable
		}
		return true
	})
	if buf != nil {
		c.reads.Add(1)
	}
	switch {
	case err != nil: // deadline, closed connection
		if buf != nil {
			gulps.Put(buf)
		}
		return 0, c.opError(err)
	case serr != nil:
		gulps.Put(buf)
		return 0, c.opError(os.NewSyscallError("read", serr))
	case n <= 0:
		gulps.Put(buf)
		return 0, io.EOF
	}
	c.short = n < gulpSize
	k := copy(p, buf[:c.give(buf[:min(n, len(p))])])
	if k < n {
		c.ahead, c.r, c.w = buf, k, n
		c.drained.Store(false)
	} else {
		gulps.Put(buf)
		c.drained.Store(c.short)
	}
	return k, nil
}

// readFD reads from fd into b, again when interrupted.
func readFD(fd uintptr, b []byte) (int, error) {
	for {
		n, err := syscall.Read(int(fd), b)
		if err != syscall.EINTR {
			return n, err
		}
	}
}

// opError is err as net's own reads report it: a *net.OpError of op
// "read" (RawConn's say "raw-read").
func (c *Conn) opError(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		e := *oe
		e.Op = "read"
		return &e
	}
	return &net.OpError{Op: "read", Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// Drained reports whether a read now would wait on the network: nothing
// is read ahead, and the last system call took less than it asked for.
func (c *Conn) Drained() bool { return c.drained.Load() }

// Quiet tells the Conn that its reader will not read for a while (a
// pause between a live upload's reads): until a read finds the socket
// empty, the kernel reports it readable only once it holds quietBytes.
// It may be called from any goroutine.
func (c *Conn) Quiet() {
	if !c.quiet.Swap(true) {
		_ = c.raw.Control(func(fd uintptr) { setLowWater(fd, quietBytes) })
	}
}

// quietBytes is the low-water mark of a quiet Conn: more than a live
// call gathers in a pause (≈ 5 KiB of G.711 in 200 ms), and an eighth of
// a TCP socket's default receive buffer (tcp_rmem, 128 KiB): Linux would
// raise the buffer, and clamp the window to the mark, for a mark above
// half of it.
const quietBytes = 16 << 10

// Reads returns the number of system calls that have read from the
// socket.
func (c *Conn) Reads() uint64 { return c.reads.Load() }

// ReadFrom passes on to the connection's own ReadFrom (sendfile, splice),
// which net/http uses to send files.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(c.Conn, r)
}

// CloseWrite passes on to the connection's CloseWrite, which net/http
// uses to close a connection gracefully.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

type connKey struct{}

// ConnContext is for http.Server's ConnContext: it keeps the Conn c is,
// or that a tls.Conn c reads from, in the context of c's requests, for
// Drained and Reads.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if rc, ok := c.(*Conn); ok {
		return context.WithValue(ctx, connKey{}, rc)
	}
	return ctx
}

// FromContext returns the Conn a request of ctx arrived on (under TLS, the
// one the tls.Conn reads from), or nil: the server was not set up with
// ConnContext, or the connection is not a Conn.
func FromContext(ctx context.Context) *Conn {
	c, _ := ctx.Value(connKey{}).(*Conn)
	return c
}
