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

// TestIdleBodyPaces checks when a streamed upload's reads pause: after a
// read shorter than liveReadSize into a buffer that could take more (a
// live call's trickle), for coalesce, and never after a full read, into a
// small buffer, or at the end of the body.
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
