package readahead

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// pair returns a Conn accepted on a loopback listener and the client's end.
func pair(t *testing.T) (*Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ln = Listener(ln)
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rc, ok := c.(*Conn)
	if !ok {
		t.Fatalf("accepted a %T, want *Conn", c)
	}
	return rc, client
}

// checkDrained checks Drained against the Conn's state after a read.
func checkDrained(t *testing.T, c *Conn) {
	t.Helper()
	if want := c.ahead == nil && c.short; c.Drained() != want {
		t.Fatalf("Drained() = %v with %d bytes read ahead, last system call short: %v", c.Drained(), c.w-c.r, c.short)
	}
}

// TestReadsWhatWasSent: reads of every size, small and large, hand out the
// bytes in order and whole, then EOF; Drained follows the state.
func TestReadsWhatWasSent(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))   // what is sent, in what writes
	sizes := rand.New(rand.NewPCG(seed, 1)) // the reads' sizes
	c, client := pair(t)
	want := make([]byte, 3<<20)
	for i := range want {
		want[i] = byte(rng.Uint32())
	}
	go func() {
		rest := want
		for len(rest) > 0 {
			n := min(len(rest), 1+rng.IntN(100<<10))
			if _, err := client.Write(rest[:n]); err != nil {
				return
			}
			rest = rest[n:]
		}
		client.Close()
	}()
	var got bytes.Buffer
	sawAhead := false
	for i := 0; ; i++ {
		size := 1 + sizes.IntN(6000)
		if i%7 == 0 {
			size = gulpSize + sizes.IntN(gulpSize) // straight into p
		}
		p := make([]byte, size)
		n, err := c.Read(p)
		got.Write(p[:n])
		sawAhead = sawAhead || c.ahead != nil
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		checkDrained(t, c)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("read %d bytes that differ from the %d sent", got.Len(), len(want))
	}
	if !sawAhead {
		t.Fatal("no read was served from a gulp: the test did not cover reading ahead")
	}
	if n, err := c.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Fatalf("after EOF: %d, %v", n, err)
	}
}

// TestDrainedAfterTakingAll: after the reads that hand out everything the
// socket held, Drained is true; while bytes are read ahead it is false.
// Reads counts the reads that made a system call, not those served from
// what was read ahead.
func TestDrainedAfterTakingAll(t *testing.T) {
	c, client := pair(t)
	const sent = 10000 // less than a gulp
	if _, err := client.Write(bytes.Repeat([]byte{'x'}, sent)); err != nil {
		t.Fatal(err)
	}
	total := 0
	for total < sent {
		reads, ahead := c.Reads(), c.ahead != nil
		n, err := c.Read(make([]byte, 4096))
		if err != nil {
			t.Fatal(err)
		}
		total += n
		if want := reads + map[bool]uint64{true: 0, false: 1}[ahead]; c.Reads() != want {
			t.Fatalf("Reads %d after a read (read ahead before it: %v), want %d", c.Reads(), ahead, want)
		}
		checkDrained(t, c)
		if c.ahead != nil && c.Drained() {
			t.Fatal("Drained with bytes read ahead")
		}
	}
	if !c.Drained() {
		t.Fatal("not Drained after taking all the socket held")
	}
}

// TestDeadline: a read waiting on an empty socket ends at the read
// deadline with the error net's own reads give, and holds no buffer.
func TestDeadline(t *testing.T) {
	c, _ := pair(t)
	if err := c.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Read(make([]byte, 100))
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err %v, want a timeout", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" {
		t.Fatalf("err %#v, want a *net.OpError of op read", err)
	}
	if c.ahead != nil {
		t.Fatal("a buffer is held after a failed read")
	}
}

// TestClosedByPeer: a reset connection reads as an error, not as data or a
// hang.
func TestClosedByPeer(t *testing.T) {
	c, client := pair(t)
	client.(*net.TCPConn).SetLinger(0) // RST, not FIN
	client.Write([]byte("last"))
	client.Close()
	got := 0
	for {
		n, err := c.Read(make([]byte, 100))
		got += n
		if err != nil {
			if err != io.EOF && !strings.Contains(err.Error(), "reset") {
				t.Fatalf("err %v, want EOF or connection reset", err)
			}
			break
		}
		if got > 4 {
			t.Fatalf("read %d bytes, 4 were sent", got)
		}
	}
}

// TestHTTPServer: a server on a Listener with ConnContext serves chunked
// uploads read in small pieces, on a kept-alive connection, with its
// handlers finding the Conn; files are sent as usual.
func TestHTTPServer(t *testing.T) {
	t.Run("plain", func(t *testing.T) { testHTTPServer(t, false) })
	t.Run("tls", func(t *testing.T) { testHTTPServer(t, true) })
}

func testHTTPServer(t *testing.T, overTLS bool) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	file := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /up", func(w http.ResponseWriter, r *http.Request) {
		if FromContext(r.Context()) == nil {
			http.Error(w, "no Conn in the context", http.StatusInternalServerError)
			return
		}
		h := sha256.New()
		buf := make([]byte, 1000)
		for {
			n, err := r.Body.Read(buf)
			h.Write(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		fmt.Fprintf(w, "%x", h.Sum(nil))
	})
	mux.HandleFunc("GET /file", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "f", time.Time{}, bytes.NewReader(file))
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ConnContext = ConnContext
	srv.Listener.Close()
	if overTLS {
		srv.Listener = TLSListener(ln)
		srv.StartTLS()
	} else {
		srv.Listener = Listener(ln)
		srv.Start()
	}
	t.Cleanup(srv.Close)
	client := srv.Client()
	client.Timeout = 30 * time.Second
	url := srv.URL
	for round := range 3 { // one connection, kept alive
		pr, pw := io.Pipe()
		h := sha256.New()
		go func() {
			for i := range 300 {
				b := bytes.Repeat([]byte{byte(round), byte(i)}, 1+i*7)
				h.Write(b)
				pw.Write(b)
			}
			pw.Close()
		}()
		req, _ := http.NewRequest(http.MethodPut, url+"/up", pr)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != fmt.Sprintf("%x", h.Sum(nil)) {
			t.Fatalf("round %d: %s %q", round, resp.Status, body)
		}
	}
	resp, err := client.Get(url + "/file")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(got, file) {
		t.Fatalf("file: %d bytes, err %v", len(got), err)
	}
}

// TestNotAConn: FromContext gives nil for connections that are not Conns
// and for contexts without one.
func TestNotAConn(t *testing.T) {
	if FromContext(context.Background()) != nil {
		t.Fatal("a Conn in an empty context")
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if wrap(a, false) != a {
		t.Fatal("a pipe was wrapped")
	}
	if FromContext(ConnContext(context.Background(), a)) != nil {
		t.Fatal("a pipe's context holds a Conn")
	}
}

// TestRecordCut: under TLS a Conn hands out at most the rest of one record
// per read, wherever the reads start and however the records' headers fall
// across them, and every byte once.
func TestRecordCut(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	var stream []byte
	var ends []int // offsets where records end
	for range 500 {
		n := rng.IntN(300)
		if rng.IntN(10) == 0 {
			n = rng.IntN(16<<10 + 256)
		}
		stream = append(stream, 23, 3, 3, byte(n>>8), byte(n))
		for range n {
			stream = append(stream, byte(rng.Uint32()))
		}
		ends = append(ends, len(stream))
	}
	var rc recordCut
	at, next := 0, 0 // next: index in ends of the first end not passed
	for at < len(stream) {
		b := stream[at:min(len(stream), at+1+rng.IntN(40<<10))]
		n := rc.take(b)
		if n == 0 {
			t.Fatalf("nothing handed out at %d of %d", at, len(stream))
		}
		at += n
		for next < len(ends) && ends[next] < at {
			t.Fatalf("a read handed out %d..%d, across the end of a record at %d", at-n, at, ends[next])
		}
		if next < len(ends) && ends[next] == at {
			next++
		} else if n < len(b) {
			t.Fatalf("a read stopped at %d, not at the end of a record (next at %d)", at, ends[next])
		}
	}
	if next != len(ends) {
		t.Fatalf("%d of %d record ends seen", next, len(ends))
	}
}
