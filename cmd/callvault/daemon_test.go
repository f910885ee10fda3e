package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/testcorpus"
	"github.com/callvault/callvault/internal/webtest"
)

const (
	testAdminPassword  = "admin-test-password"
	testIngestPassword = "ingest-test-password"
)

// TestMain lets the test binary act as the daemon, so a test can kill -9 a
// real process.
func TestMain(m *testing.M) {
	if os.Getenv("CALLVAULT_TEST_DAEMON") == "1" {
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "daemon:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// corpusDir returns ../shared/testdata/pcap: a loud skip when it is
// missing, a failure under CI=true.
func corpusDir(t testing.TB) string {
	t.Helper()
	return testcorpus.Dir(t)
}

// daemon is an appliance running in this process on 127.0.0.1:0.
type daemon struct {
	url  string
	data string
	key  string
	stop func()
	out  *syncBuffer
}

// syncBuffer is a daemon's output, written while the test reads it.
type syncBuffer = webtest.SyncBuffer

// daemonEpoch is the date a test daemon's clock starts at, whatever the
// wall clock says: the calls the tests record (of 2026-11-20) are a day
// old to the daemon, on any day the tests run.
var daemonEpoch = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// daemonClocks holds one clock per data directory, so that a restarted
// daemon goes on from where its clock stood.
var daemonClocks sync.Map // data directory → func() time.Time

// daemonClock is the clock of the daemon on data: daemonEpoch at its first
// start, then moving on with real time.
func daemonClock(data string) func() time.Time {
	t0 := time.Now()
	c, _ := daemonClocks.LoadOrStore(data, func() time.Time { return daemonEpoch.Add(time.Since(t0)) })
	return c.(func() time.Time)
}

func startDaemon(t *testing.T, data string) *daemon {
	t.Helper()
	return startDaemonWith(t, data, nil)
}

// startDaemonWith is startDaemon with serve's options changed by tweak
// (nil: none) before the daemon starts.
func startDaemonWith(t *testing.T, data string, tweak func(*serveOptions)) *daemon {
	t.Helper()
	return launchDaemon(t, data, tweak)(t)
}

// launchDaemon starts the daemon of startDaemonWith and returns the
// function that waits until it listens, so that daemons launched one
// after the other start at the same time.
func launchDaemon(t *testing.T, data string, tweak func(*serveOptions)) (wait func(*testing.T) *daemon) {
	t.Helper()
	t.Setenv("CALLVAULT_ADMIN_PASSWORD", testAdminPassword)
	t.Setenv("CALLVAULT_INGEST_PASSWORD", testIngestPassword)
	if data == "" {
		data = filepath.Join(t.TempDir(), "data")
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	out := &syncBuffer{}
	key := filepath.Join(filepath.Dir(data), "callvault.key")
	o := serveOptions{data: data, listen: "127.0.0.1:0", keyFile: key, ready: func(a string) { ready <- a }, now: daemonClock(data)}
	if tweak != nil {
		tweak(&o)
	}
	go func() { done <- serve(ctx, o, out, out) }()
	return func(t *testing.T) *daemon {
		t.Helper()
		return waitDaemon(t, data, key, out, cancel, ready, done)
	}
}

// waitDaemon waits until the daemon launchDaemon started listens.
func waitDaemon(t *testing.T, data, key string, out *syncBuffer, cancel func(), ready <-chan string, done <-chan error) *daemon {
	t.Helper()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("daemon did not start: %v\n%s", err, out)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("daemon did not start in 30 s")
	}
	d := &daemon{url: "http://" + addr, data: data, key: key, out: out}
	var once sync.Once
	d.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("daemon: %v", err)
				}
			case <-time.After(60 * time.Second):
				t.Error("daemon did not stop in 60 s")
			}
		})
	}
	t.Cleanup(d.stop)
	return d
}

var client = &http.Client{Timeout: 2 * time.Minute}

func (d *daemon) put(t *testing.T, name string, body io.Reader, size int64) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, d.url+"/recordings/Files/"+name, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	req.SetBasicAuth("ingest", testIngestPassword)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("PUT %s: %v", name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if m == nil {
		m = map[string]any{"body": string(b)}
	}
	return resp, m
}

func (d *daemon) get(t *testing.T, path string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, d.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("admin", testAdminPassword)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp, b
}

func (d *daemon) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	resp, b := d.get(t, path)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s: %s", path, resp.Status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// wavSamples splits a PCM16 WAV into channels.
func wavSamples(t testing.TB, b []byte) [][]int16 {
	t.Helper()
	if len(b) < 44 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		t.Fatalf("not a WAV file (%d bytes)", len(b))
	}
	// Walk chunks to "fmt " and "data".
	var ch int
	p := 12
	for p+8 <= len(b) {
		id, n := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:p+8]))
		body := b[p+8:]
		if n > len(body) {
			n = len(body)
		}
		switch id {
		case "fmt ":
			ch = int(binary.LittleEndian.Uint16(body[2:4]))
		case "data":
			if ch == 0 {
				t.Fatal("WAV without fmt chunk")
			}
			frames := n / 2 / ch
			out := make([][]int16, ch)
			for c := range out {
				out[c] = make([]int16, frames)
			}
			for i := 0; i < frames; i++ {
				for c := 0; c < ch; c++ {
					out[c][i] = int16(binary.LittleEndian.Uint16(body[(i*ch+c)*2:]))
				}
			}
			return out
		}
		p += 8 + n + n%2
	}
	t.Fatal("WAV without data chunk")
	return nil
}

// slowReader hands out its data in small pieces with pauses, like a phone
// streaming a live call.
type slowReader struct {
	r     io.Reader
	piece int
	pause time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.pause)
	if len(p) > s.piece {
		p = p[:s.piece]
	}
	return s.r.Read(p)
}

func TestServeStartsAndStops(t *testing.T) {
	d := startDaemon(t, "")
	resp, b := d.get(t, "/healthz")
	if resp.StatusCode != 200 || !strings.Contains(string(b), "ok") {
		t.Fatalf("healthz: %s %s", resp.Status, b)
	}
	if _, err := os.Stat(d.key); err != nil {
		t.Fatalf("key file not created beside the data directory: %v", err)
	}
	if strings.HasPrefix(d.key, d.data+string(filepath.Separator)) {
		t.Fatal("key file inside the data directory")
	}
	d.stop()
}

// TestKill9MidUpload: a daemon killed with SIGKILL in the middle of an upload
// keeps what it committed; the next start finishes it as interrupted, sealed.
func TestKill9MidUpload(t *testing.T) {
	corpus := corpusDir(t)
	capture, err := os.ReadFile(filepath.Join(corpus, "generated", "pcma_bidir", "capture.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cmd := exec.Command(exe, "serve", "--data", data, "--listen", "127.0.0.1:"+port, "--key-file", filepath.Join(dir, "callvault.key"))
	cmd.Env = append(os.Environ(), "CALLVAULT_TEST_DAEMON=1",
		"CALLVAULT_ADMIN_PASSWORD="+testAdminPassword, "CALLVAULT_INGEST_PASSWORD="+testIngestPassword)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	base := "http://127.0.0.1:" + port
	waitUp(t, base)

	// Send the first 300,000 bytes, then hold the connection open.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPut, base+"/recordings/Files/0123456789abcdef0123456789abcdef-009033302ab1-11--alice.pcap", pr)
	req.SetBasicAuth("ingest", testIngestPassword)
	go func() {
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
	}()
	const sent = 300_000
	if _, err := pw.Write(capture[:sent]); err != nil {
		t.Fatal(err)
	}
	// Kill once the whole chunks of what was sent are committed: 4 sealed
	// chunks of ChunkSize plaintext are at least 4×ChunkSize (3 are less).
	waitMetricAtLeast(t, base, "callvault_commit_bytes_total", sent/archive.ChunkSize*archive.ChunkSize)
	if err := cmd.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	pw.CloseWithError(io.ErrClosedPipe)

	d := startDaemon(t, data)
	var list struct {
		Recordings []struct {
			ID, State  string
			DurationMs int64
		}
	}
	d.getJSON(t, "/api/v1/recordings", &list)
	if len(list.Recordings) != 1 {
		t.Fatalf("want 1 recording after restart, got %+v\n%s", list, out.String())
	}
	r := list.Recordings[0]
	if r.State != "interrupted" {
		t.Fatalf("state %q, want interrupted", r.State)
	}
	_, orig := d.get(t, "/api/v1/recordings/"+r.ID+"/original.pcap")
	// Everything in whole chunks that was committed survives; the tail that
	// was still in memory (less than one 64 KiB chunk) may not.
	if len(orig) < sent-64<<10 || !bytes.Equal(orig, capture[:len(orig)]) {
		t.Fatalf("kept %d bytes of %d sent, or they differ", len(orig), sent)
	}
	if r.DurationMs < 3000 {
		t.Fatalf("interrupted recording plays %d ms, want the seconds that arrived", r.DurationMs)
	}
	var v struct{ Valid bool }
	d.getJSON(t, "/api/v1/recordings/"+r.ID+"/verify", &v)
	if !v.Valid {
		t.Fatal("interrupted recording does not verify")
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := strings.Cut(ln.Addr().String(), "127.0.0.1:")
	return port
}

// waitMetricAtLeast polls base's /metrics until series reaches min, for
// at most a minute.
func waitMetricAtLeast(t *testing.T, base, series string, min float64) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var v float64
	for {
		resp, err := http.Get(base + "/metrics")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				if v = metricValue(t, string(body), series); v >= min {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %v after a minute, want at least %v", series, v, min)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitUp(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("daemon did not come up")
}
