package recorder

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/internal/connread"
)

// queued is a net.Conn standing for a socket holding n bytes.
type queued struct {
	net.Conn
	n int
}

func (q *queued) Read(p []byte) (int, error) {
	k := min(len(p), q.n)
	q.n -= k
	return k, nil
}

// TestIdleBodyPausesWhenDrained checks when a live upload's reads pause:
// on a batched connection after a read that took all the socket held, and
// elsewhere after a short read.
func TestIdleBodyPausesWhenDrained(t *testing.T) {
	conn := func(socketHolds int) *connread.Conn {
		c := connread.NewConn(&queued{n: socketHolds})
		c.Read(make([]byte, 1)) // one system call: Drained tells whether it emptied the socket
		return c
	}
	for _, tc := range []struct {
		name   string
		conn   *connread.Conn
		body   string
		bufLen int
		want   bool
	}{
		{"drained, a burst read", conn(5000), strings.Repeat("x", 5000), 64 << 10, true},
		{"drained, the buffer filled", conn(5000), strings.Repeat("x", 5000), 4096, false},
		{"drained, more than a burst", conn(5000), strings.Repeat("x", 40000), 64 << 10, false},
		{"socket not emptied", conn(1 << 20), strings.Repeat("x", 5000), 64 << 10, false},
		{"no batched connection, short read", nil, strings.Repeat("x", 500), 64 << 10, true},
		{"no batched connection, long read", nil, strings.Repeat("x", 5000), 64 << 10, false},
		{"no batched connection, small buffer", nil, strings.Repeat("x", 500), 1000, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &idleBody{body: strings.NewReader(tc.body), rc: http.NewResponseController(httptest.NewRecorder()),
				conn: tc.conn, idle: time.Minute, coalesce: time.Millisecond}
			if _, err := b.Read(make([]byte, tc.bufLen)); err != nil {
				t.Fatal(err)
			}
			if b.short != tc.want {
				t.Fatalf("pause before the next read: %v, want %v", b.short, tc.want)
			}
		})
	}
}
