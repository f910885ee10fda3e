package connread

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// socket is a net.Conn standing for a socket that holds data: each Read
// returns what it asks for of it, up to all of it, then err.
type socket struct {
	net.Conn
	data  []byte
	err   error
	reads int
}

func (s *socket) Read(p []byte) (int, error) {
	s.reads++
	n := copy(p, s.data)
	s.data = s.data[n:]
	if len(s.data) == 0 && s.err != nil {
		return n, s.err
	}
	return n, nil
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

// readAll reads c with p of size k until an error.
func readAll(t *testing.T, c net.Conn, k int) ([]byte, error) {
	t.Helper()
	var out []byte
	p := make([]byte, k)
	for range 1000 {
		n, err := c.Read(p)
		out = append(out, p[:n]...)
		if err != nil {
			return out, err
		}
	}
	t.Fatal("no error after 1000 reads")
	return nil, nil
}

func TestOneSystemCallPerBurst(t *testing.T) {
	want := pattern(10_000)
	s := &socket{data: bytes.Clone(want)}
	c := NewConn(s)
	p := make([]byte, 4096)
	var got []byte
	for len(got) < len(want) {
		n, err := c.Read(p)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p[:n]...)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("bytes differ")
	}
	if s.reads != 1 {
		t.Fatalf("%d system calls for 10,000 bytes read 4 KiB at a time; want 1", s.reads)
	}
	if !c.Drained() || c.Buffered() != 0 {
		t.Fatalf("Drained %v, Buffered %d after the socket was emptied", c.Drained(), c.Buffered())
	}
}

func TestFullReadIsNotDrained(t *testing.T) {
	want := pattern(3*readSize + 100)
	s := &socket{data: bytes.Clone(want), err: io.EOF}
	c := NewConn(s)
	p := make([]byte, 1000)
	if _, err := c.Read(p); err != nil {
		t.Fatal(err)
	}
	if c.Drained() {
		t.Fatal("Drained after a system call that filled its buffer")
	}
	if c.Buffered() != readSize-1000 {
		t.Fatalf("Buffered %d, want %d", c.Buffered(), readSize-1000)
	}
	rest, err := readAll(t, c, 3000)
	if err != io.EOF {
		t.Fatalf("err %v, want EOF", err)
	}
	if got := append(want[:1000:1000], rest...); !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, want %d, or they differ", len(got), len(want))
	}
	if s.reads != 4 {
		t.Fatalf("%d system calls, want 4", s.reads)
	}
	if cap(c.own) > keepCap {
		t.Fatalf("an emptied connection keeps a %d-byte buffer", cap(c.own))
	}
}

func TestErrorAfterLeftover(t *testing.T) {
	boom := errors.New("connection reset")
	s := &socket{data: pattern(5000), err: boom}
	c := NewConn(s)
	got, err := readAll(t, c, 512)
	if err != boom {
		t.Fatalf("err %v, want %v", err, boom)
	}
	if !bytes.Equal(got, pattern(5000)) {
		t.Fatal("bytes before the error were lost")
	}
	if s.reads != 1 {
		t.Fatalf("%d system calls, want 1", s.reads)
	}
}

func TestLargeReadGoesStraight(t *testing.T) {
	s := &socket{data: pattern(100)}
	c := NewConn(s)
	p := make([]byte, readSize)
	if n, err := c.Read(p); n != 100 || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	if c.Buffered() != 0 || !c.Drained() {
		t.Fatal("a read into a large buffer was buffered, or not seen as draining")
	}
}

// TestServer checks a server's requests find their connection, over plain
// TCP and over TLS, and that bodies arrive whole.
func TestServer(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "tcp", true: "tls"}[useTLS], func(t *testing.T) {
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if FromContext(r.Context()) == nil {
					http.Error(w, "no connection in the context", http.StatusInternalServerError)
					return
				}
				b, err := io.ReadAll(r.Body)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				w.Write(b)
			}))
			srv.Listener = Listen(srv.Listener)
			srv.Config.ConnContext = Context
			if useTLS {
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()
			client := srv.Client()
			client.Timeout = 30 * time.Second
			want := strings.Repeat("callvault ", 20_000)
			for _, body := range []io.Reader{strings.NewReader(want), io.MultiReader(strings.NewReader(want))} {
				resp, err := client.Post(srv.URL, "application/octet-stream", body)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || string(got) != want {
					t.Fatalf("status %d, %d bytes back of %d: %.80s", resp.StatusCode, len(got), len(want), got)
				}
			}
		})
	}
}

func TestContextWithoutConn(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if FromContext(Context(context.Background(), a)) != nil {
		t.Fatal("a plain connection was taken for a batched one")
	}
	if FromContext(Context(context.Background(), tls.Client(a, &tls.Config{}))) != nil {
		t.Fatal("TLS over a plain connection was taken for a batched one")
	}
	c := NewConn(a)
	if FromContext(Context(context.Background(), tls.Server(c, &tls.Config{}))) != c {
		t.Fatal("TLS over a batched connection not found")
	}
}
