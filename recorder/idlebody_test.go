package recorder

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/callvault/callvault/internal/readahead"
)

// socketConn is a connection that says whether its socket is drained;
// each body read counts as a system call.
type socketConn struct {
	drained bool
	reads   uint64
}

func (c *socketConn) Drained() bool { return c.drained }
func (c *socketConn) Reads() uint64 { c.reads++; return c.reads }
func (c *socketConn) Quiet()        {}

// TestIdleBodyPaces checks when a streamed upload's reads pause: after a
// read shorter than liveReadSize into a buffer that could take more (a
// live call's trickle), for coalesce, and never after a full read, into a
// small buffer, or at the end of the body. The connection here does not
// tell whether it is drained; TestIdleBodyPacesDrained covers one that does.
func TestIdleBodyPaces(t *testing.T) {
	for _, tc := range []struct {
		name   string
		body   string
		bufLen int
		pause  bool
	}{
		{"short read", strings.Repeat("x", 500), 64 << 10, true},
		{"long read", strings.Repeat("x", 5000), 64 << 10, false},
		{"small buffer", strings.Repeat("x", 500), 1000, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// A pipe: the first read takes what the writer sent so far,
				// not the end of the body.
				pr, pw := io.Pipe()
				go func() {
					pw.Write([]byte(tc.body))
					pw.Write([]byte("more"))
					pw.Close()
				}()
				b := &idleBody{body: pr, rc: http.NewResponseController(httptest.NewRecorder()),
					idle: time.Minute, coalesce: 200 * time.Millisecond}
				buf := make([]byte, tc.bufLen)
				if _, err := b.Read(buf); err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				if _, err := b.Read(buf); err != nil {
					t.Fatal(err)
				}
				waited := time.Since(start)
				if got := waited >= 200*time.Millisecond; got != tc.pause {
					t.Fatalf("waited %v before the second read; want a pause: %v", waited, tc.pause)
				}
			})
		})
	}
	t.Run("end of body", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := &idleBody{body: strings.NewReader("x"), rc: http.NewResponseController(httptest.NewRecorder()),
				idle: time.Minute, coalesce: time.Hour}
			buf := make([]byte, 64<<10)
			if _, err := b.Read(buf); err != nil || !b.short {
				t.Fatalf("first read: err %v, pause due %v; want nil, true", err, b.short)
			}
			if _, err := b.Read(buf); err != io.EOF {
				t.Fatalf("err %v, want EOF", err)
			}
			if b.short {
				t.Fatal("a pause is due after the end of the body")
			}
		})
	})
}

// TestIdleBodyPacesDrained checks the pauses of an upload on a connection
// that tells whether its socket is drained: a live trickle is due a pause
// after each read that drains the socket, whatever its length, once the
// first has started the measure; an upload that comes faster than liveRate
// is not, nor one whose socket still holds data; and a live upload that
// fell behind paces itself again once it has caught up.
func TestIdleBodyPacesDrained(t *testing.T) {
	type write struct {
		after time.Duration // the writer waits this long first
		n     int
	}
	trickle := []write{{0, 460}, {20 * time.Millisecond, 460}, {20 * time.Millisecond, 460}, {20 * time.Millisecond, 460}}
	for _, tc := range []struct {
		name    string
		writes  []write // one read takes each
		drained bool
		due     []bool // a pause due after each read
	}{
		{"live trickle", trickle, true, []bool{false, true, true, true}},
		{"long reads of a live upload", []write{{0, 5000}, {200 * time.Millisecond, 5000}, {200 * time.Millisecond, 5000}, {200 * time.Millisecond, 5000}},
			true, []bool{false, true, true, true}},
		{"socket not drained", trickle, false, []bool{false, false, false, false}},
		{"bulk", []write{{0, 32 << 10}, {time.Millisecond, 64 << 10}, {time.Millisecond, 64 << 10}, {time.Millisecond, 64 << 10}},
			true, []bool{false, false, false, false}},
		{"behind, then live again", []write{{0, 460}, {0, 200 << 10}, {20 * time.Millisecond, 460}, {20 * time.Millisecond, 460}, {20 * time.Millisecond, 460}},
			true, []bool{false, false, true, true, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// io.Pipe: each write waits for a read to take it whole.
				pr, pw := io.Pipe()
				done := make(chan struct{})
				go func() {
					defer close(done)
					for _, w := range tc.writes {
						time.Sleep(w.after)
						if _, err := pw.Write(make([]byte, w.n)); err != nil {
							return
						}
					}
					pw.Close()
				}()
				defer func() { pr.Close(); <-done }() // a failed check leaves no writer behind
				b := &idleBody{body: pr, rc: http.NewResponseController(httptest.NewRecorder()),
					idle: time.Minute, coalesce: 200 * time.Millisecond, conn: &socketConn{drained: tc.drained}}
				buf := make([]byte, 256<<10)
				for i, want := range tc.due {
					start := time.Now()
					n, err := b.Read(buf)
					if err != nil {
						t.Fatal(err)
					}
					if n != tc.writes[i].n {
						t.Fatalf("read %d took %d bytes, want %d", i+1, n, tc.writes[i].n)
					}
					if b.short != want {
						t.Fatalf("read %d (%d bytes, %v after the one before): pause due %v, want %v",
							i+1, n, time.Since(start), b.short, want)
					}
				}
			})
		})
	}
}

// arrivals is an upload as a handler's reads see it when its data arrive
// in pieces (send). With records, each read takes one piece from those
// that a system call took from the socket all at once, which leaves it
// drained (a tls.Conn); without, a read takes all that has arrived (an
// HTTP/2 stream's body).
type arrivals struct {
	records bool
	mu      sync.Mutex
	socket  []int // sizes of the pieces arrived and not yet taken from the socket
	held    []int // taken from the socket, not yet handed out
	eof     bool
	ready   chan struct{}
	reads   uint64
	quiets  int // Quiet calls
}

func newArrivals(records bool) *arrivals {
	return &arrivals{records: records, ready: make(chan struct{}, 1)}
}

func (c *arrivals) send(n int) {
	c.mu.Lock()
	c.socket = append(c.socket, n)
	c.mu.Unlock()
	c.wake()
}

func (c *arrivals) close() {
	c.mu.Lock()
	c.eof = true
	c.mu.Unlock()
	c.wake()
}

func (c *arrivals) wake() {
	select {
	case c.ready <- struct{}{}:
	default:
	}
}

func (c *arrivals) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.held) == 0 && len(c.socket) == 0 {
		if c.eof {
			return 0, io.EOF
		}
		c.mu.Unlock()
		<-c.ready
		c.mu.Lock()
	}
	if !c.records {
		n := 0
		for len(c.socket) > 0 && n < len(p) {
			k := min(c.socket[0], len(p)-n)
			n += k
			if c.socket[0] -= k; c.socket[0] == 0 {
				c.socket = c.socket[1:]
			}
		}
		return n, nil
	}
	if len(c.held) == 0 {
		c.held, c.socket = c.socket, nil
		c.reads++
	}
	n := min(c.held[0], len(p))
	c.held = c.held[1:]
	return n, nil
}

func (c *arrivals) Drained() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads > 0
}

func (c *arrivals) Reads() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads
}

func (c *arrivals) Quiet() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.quiets++
}

// readPaced reads b to its end and returns the bytes read and the pauses
// taken.
func readPaced(t *testing.T, b *idleBody) (got, pauses int) {
	t.Helper()
	buf := make([]byte, 64<<10)
	for {
		if b.short {
			pauses++
		}
		n, err := b.Read(buf)
		got += n
		if err == io.EOF {
			return got, pauses
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestIdleBodyTLSKeepsUp: over TLS a live upload's records arrive one per
// read from what crypto/tls read ahead, while the socket below says it is
// drained. Pausing after each of them would read five records a second
// while a call sends a hundred; the upload pauses only after reads that
// reached the socket, and so has read everything soon after the last
// record is sent.
func TestIdleBodyTLSKeepsUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newArrivals(true)
		const records, every = 300, 10 * time.Millisecond // 3 s of a call
		go func() {
			for range records {
				c.send(230)
				time.Sleep(every)
			}
			c.close()
		}()
		b := &idleBody{body: c, rc: http.NewResponseController(httptest.NewRecorder()),
			idle: time.Minute, coalesce: 200 * time.Millisecond, conn: c}
		start := time.Now()
		got, pauses := readPaced(t, b)
		took := time.Since(start)
		if got != records*230 {
			t.Fatalf("read %d bytes, sent %d", got, records*230)
		}
		// In the bubble's clock: the records took 3 s to send.
		if took > 3*time.Second+time.Second {
			t.Fatalf("read the last record %v after the first, %d pauses (the upload took 3 s): it fell behind", took, pauses)
		}
		if pauses == 0 {
			t.Fatal("a live upload over TLS was never paced")
		}
		if c.quiets != pauses {
			t.Fatalf("the connection was told of %d of %d pauses (Quiet)", c.quiets, pauses)
		}
		t.Logf("%d records in %v (bubble time), %d pauses", records, took, pauses)
	})
}

// TestIdleBodyPacesByRate: on a connection that does not tell whether
// its socket is drained (an HTTP/2 stream), short reads pause the upload
// only while it comes slower than liveRate: a bulk upload that arrives
// in short pieces is paused once at most, a live trickle after each.
func TestIdleBodyPacesByRate(t *testing.T) {
	for _, tc := range []struct {
		name      string
		writes    int
		every     time.Duration // between the writes of 1,000 bytes
		minPauses int
		maxPauses int
	}{
		{"bulk in short pieces", 2000, time.Millisecond, 0, 1}, // 1 MB/s
		{"live trickle", 100, 20 * time.Millisecond, 5, 20},    // 50 kB/s
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				pr := newArrivals(false)
				go func() {
					for range tc.writes {
						pr.send(1000)
						time.Sleep(tc.every)
					}
					pr.close()
				}()
				b := &idleBody{body: pr, rc: http.NewResponseController(httptest.NewRecorder()),
					idle: time.Minute, coalesce: 200 * time.Millisecond}
				got, pauses := readPaced(t, b)
				if got != tc.writes*1000 || pauses < tc.minPauses || pauses > tc.maxPauses {
					t.Fatalf("%d bytes, %d pauses; want %d bytes and %d..%d pauses", got, pauses, tc.writes*1000, tc.minPauses, tc.maxPauses)
				}
			})
		})
	}
}

// TestDrainerOnlyForHTTP1: an HTTP/1 request's pacing asks its connection
// whether the socket is drained; an HTTP/2 request's does not (the
// connection carries other streams too).
func TestDrainerOnlyForHTTP1(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ln = readahead.Listener(ln)
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := readahead.ConnContext(t.Context(), c)
	for major, want := range map[int]bool{1: true, 2: false} {
		req := httptest.NewRequestWithContext(ctx, http.MethodPut, "/recordings/x.pcap", nil)
		req.ProtoMajor = major
		if got := drainerOf(req) != nil; got != want {
			t.Errorf("HTTP/%d: drainer %v, want %v", major, got, want)
		}
	}
}
