package recorder

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"
)

// TestIdleBodyH2 runs an upload over HTTP/2, whose server closes a body
// whose read deadline ran out even while nobody read it. A pause of the
// server's own (a stalled disk) longer than the idle timeout does
// not cut off an upload whose client keeps sending; a client that stops
// sending is still cut off once a read has waited the idle timeout.
func TestIdleBodyH2(t *testing.T) {
	const idle = 3 * time.Second
	for _, tc := range []struct {
		name     string
		stall    time.Duration // the server's pause after the first 100 bytes
		sends    int           // 100-byte writes every 10 ms after the first
		hang     bool          // the client then keeps the body open, silent
		wantFail bool
	}{
		// The client sends through the pause and an idle time past it.
		{name: "server pause", stall: idle + time.Second, sends: int((2*idle + time.Second) / (10 * time.Millisecond))},
		{name: "client silent", hang: true, wantFail: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan error, 1)
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if req.ProtoMajor != 2 {
					got <- fmt.Errorf("HTTP/%d, want HTTP/2", req.ProtoMajor)
					return
				}
				b := &idleBody{body: req.Body, rc: http.NewResponseController(w), idle: idle, h2: true}
				if _, err := io.ReadFull(b, make([]byte, 100)); err != nil {
					got <- err
					return
				}
				time.Sleep(tc.stall) // the server's own pause, as a stalled disk makes it
				_, err := io.Copy(io.Discard, b)
				got <- err
			}))
			srv.EnableHTTP2 = true
			srv.StartTLS()
			defer srv.Close()
			pr, pw := io.Pipe()
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				chunk := make([]byte, 100)
				if _, err := pw.Write(chunk); err != nil {
					return
				}
				for range tc.sends {
					time.Sleep(10 * time.Millisecond)
					if _, err := pw.Write(chunk); err != nil {
						return
					}
				}
				if tc.hang {
					<-stop
				}
				pw.Close()
			}()
			req, _ := http.NewRequest(http.MethodPut, srv.URL, pr)
			go func() {
				if resp, err := srv.Client().Do(req); err == nil {
					resp.Body.Close()
				}
			}()
			select {
			case err := <-got:
				switch {
				case tc.wantFail && !errors.Is(err, os.ErrDeadlineExceeded):
					t.Fatalf("a silent client's upload: %v, want the read deadline's error", err)
				case !tc.wantFail && err != nil:
					t.Fatalf("the upload was cut off during the server's pause: %v", err)
				}
			case <-time.After(time.Minute):
				t.Fatal("the handler never finished")
			}
		})
	}
}
