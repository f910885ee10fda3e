// Package connread makes each read of a server's connection one system
// call for all the socket holds.
//
// net/http reads a connection through a 4 KiB buffer, and a chunked
// request body is parsed a chunk at a time: a phone streaming a call, which
// sends a chunk or two every 20 ms, costs the server several reads per
// burst of data, one of which usually finds the socket empty (EAGAIN) and
// parks the goroutine until the next packet. A Conn reads up to 16 KiB in
// one system call into a buffer borrowed for that call, hands net/http what
// it asked for and keeps the rest (copied to a buffer sized to it), so the
// next reads cost no system call. It also reports whether its last system
// call emptied the socket (Drained), which tells an upload's reader that
// reading on now would only wait for the next packet.
//
// Use Listen to wrap a listener and Context as the server's ConnContext;
// FromContext then finds a request's connection.
package connread

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// readSize is the most one system call reads: a live call brings about
// 5 KB in 200 ms, and what net/http does not take at once waits here.
const readSize = 16 << 10

// keepCap is the largest leftover buffer a connection keeps once it is
// empty; a larger one (a bulk upload's) is dropped.
const keepCap = 8 << 10

var bufs = sync.Pool{New: func() any { return new([readSize]byte) }}

// Conn is a net.Conn whose reads are batched as the package doc says. Its
// Read must not be called concurrently (net/http never does).
type Conn struct {
	net.Conn
	own     []byte // backing of rest, reused
	rest    []byte // read from the socket, not yet returned
	err     error  // the error of the system call that read rest
	drained atomic.Bool
}

// NewConn wraps c.
func NewConn(c net.Conn) *Conn { return &Conn{Conn: c} }

// Read returns what an earlier system call left, or makes one.
func (c *Conn) Read(p []byte) (int, error) {
	if len(c.rest) > 0 {
		n := copy(p, c.rest)
		c.rest = c.rest[n:]
		if len(c.rest) > 0 {
			return n, nil
		}
		c.rest = nil
		if cap(c.own) > keepCap {
			c.own = nil
		}
		err := c.err
		c.err = nil
		return n, err
	}
	if err := c.err; err != nil {
		c.err = nil
		return 0, err
	}
	if len(p) >= readSize {
		n, err := c.Conn.Read(p)
		c.drained.Store(n < len(p))
		return n, err
	}
	b := bufs.Get().(*[readSize]byte)
	defer bufs.Put(b)
	n, err := c.Conn.Read(b[:])
	c.drained.Store(n < readSize)
	m := copy(p, b[:n])
	if m == n {
		return m, err
	}
	c.own = append(c.own[:0], b[m:n]...)
	c.rest, c.err = c.own, err
	return m, nil
}

// Drained reports whether the last system call read less than it could:
// the socket held nothing more then.
func (c *Conn) Drained() bool { return c.drained.Load() }

// Buffered returns how many bytes were read from the socket and not yet
// returned.
func (c *Conn) Buffered() int { return len(c.rest) }

// ReadFrom and CloseWrite keep what net/http looks for on a connection.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// CloseWrite shuts down the writing side where the connection can.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// NetConn returns the wrapped connection.
func (c *Conn) NetConn() net.Conn { return c.Conn }

type listener struct{ net.Listener }

// Listen wraps ln: every connection it accepts is a *Conn. Wrap before TLS,
// so that the TLS layer's reads are the ones batched.
func Listen(ln net.Listener) net.Listener { return listener{ln} }

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return NewConn(c), nil
}

type ctxKey struct{}

// Context puts c's *Conn, if it is one (or a TLS connection over one), in
// ctx: it has the signature of http.Server.ConnContext.
func Context(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if cc, ok := c.(*Conn); ok {
		return context.WithValue(ctx, ctxKey{}, cc)
	}
	return ctx
}

// FromContext returns the connection Context put in ctx, or nil.
func FromContext(ctx context.Context) *Conn {
	c, _ := ctx.Value(ctxKey{}).(*Conn)
	return c
}
