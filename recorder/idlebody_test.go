package recorder

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// drainer is a connection that says whether its socket is drained.
type drainer bool

func (d drainer) Drained() bool { return bool(d) }

// TestIdleBodyPaces checks when a streamed upload's reads pause, for
// coalesce: after a read shorter than liveReadSize into a buffer that could
// take more (a live call's trickle), or, on a connection that tells, after
// a read that drained the socket while the upload brought less than
// liveBurst since its last pause; never after a full read, into a small
// buffer, or at the end of the body.
func TestIdleBodyPaces(t *testing.T) {
	for _, tc := range []struct {
		name   string
		body   string
		bufLen int
		conn   *drainer // nil: the connection does not tell
		pause  bool
	}{
		{"short read", strings.Repeat("x", 500), 64 << 10, nil, true},
		{"long read", strings.Repeat("x", 5000), 64 << 10, nil, false},
		{"small buffer", strings.Repeat("x", 500), 1000, nil, false},
		{"long read, socket drained", strings.Repeat("x", 5000), 64 << 10, new(drainer(true)), true},
		{"long read, more in the socket", strings.Repeat("x", 5000), 64 << 10, new(drainer(false)), false},
		{"socket drained after a burst", strings.Repeat("x", liveBurst), 128 << 10, new(drainer(true)), false},
		{"short read, more in the socket", strings.Repeat("x", 500), 64 << 10, new(drainer(false)), false},
		{"short read, socket drained", strings.Repeat("x", 500), 64 << 10, new(drainer(true)), true},
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
				if tc.conn != nil {
					b.conn = *tc.conn
				}
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
	t.Run("paces again after catching up", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			pr, pw := io.Pipe()
			go func() {
				pw.Write(make([]byte, liveBurst)) // a backlog
				pw.Write([]byte("one packet"))
				pw.Write([]byte("the next"))
				pw.Close()
			}()
			b := &idleBody{body: pr, rc: http.NewResponseController(httptest.NewRecorder()),
				idle: time.Minute, coalesce: 200 * time.Millisecond, conn: drainer(true)}
			buf := make([]byte, 128<<10)
			for i, wantPause := range []bool{false, false, true} {
				start := time.Now()
				if _, err := b.Read(buf); err != nil {
					t.Fatal(err)
				}
				if waited := time.Since(start); (waited >= 200*time.Millisecond) != wantPause {
					t.Fatalf("read %d waited %v; want a pause: %v", i, waited, wantPause)
				}
			}
		})
	})
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
