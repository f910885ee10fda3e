package loadgen

import (
	"errors"
	"io"
	"sync"
	"time"
)

// pipe is a call's request body: an unbounded pipe whose writes never
// block. The scheduler appends, the transport reads.
type pipe struct {
	mu      sync.Mutex
	buf     []byte
	off     int
	written int64
	eof     bool
	endAt   time.Time // when eof was set
	err     error     // abort: Read fails with it
	closed  bool      // the transport is done with the body
	ready   chan struct{}
}

var errBodyClosed = errors.New("loadgen: request body closed")

func newPipe() *pipe { return &pipe{ready: make(chan struct{}, 1)} }

func (b *pipe) signal() {
	select {
	case b.ready <- struct{}{}:
	default:
	}
}

// write appends p and returns how much is unread before p.
func (b *pipe) write(p []byte) (pending int, err error) {
	b.mu.Lock()
	if b.closed || b.err != nil || b.eof {
		b.mu.Unlock()
		return 0, errBodyClosed
	}
	pending = len(b.buf) - b.off
	b.buf = append(b.buf, p...)
	b.written += int64(len(p))
	b.mu.Unlock()
	b.signal()
	return pending, nil
}

func (b *pipe) unread() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.buf) - b.off
}

func (b *pipe) finish(now time.Time) {
	b.mu.Lock()
	if !b.eof {
		b.eof, b.endAt = true, now
	}
	b.mu.Unlock()
	b.signal()
}

func (b *pipe) abort(err error) {
	b.mu.Lock()
	if b.err == nil {
		b.err = err
	}
	b.buf, b.off = nil, 0
	b.mu.Unlock()
	b.signal()
}

func (b *pipe) state() (written int64, endAt time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.written, b.endAt
}

func (b *pipe) Read(p []byte) (int, error) {
	for {
		b.mu.Lock()
		switch {
		case b.err != nil:
			b.mu.Unlock()
			return 0, b.err
		case b.closed:
			b.mu.Unlock()
			return 0, errBodyClosed
		case b.off < len(b.buf):
			n := copy(p, b.buf[b.off:])
			b.off += n
			if b.off == len(b.buf) {
				b.buf, b.off = b.buf[:0], 0
				if cap(b.buf) > 64<<10 {
					b.buf = nil // drop what a backlog grew
				}
			}
			b.mu.Unlock()
			return n, nil
		case b.eof:
			b.mu.Unlock()
			return 0, io.EOF
		}
		b.mu.Unlock()
		<-b.ready
	}
}

func (b *pipe) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.signal()
	return nil
}
