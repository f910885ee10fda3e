package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callvault/callvault/internal/testdisk"
)

// writeTestConfig writes a config file outside the small disk.
func writeTestConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "callvault.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// rawPut sends a PUT with body on its own connection and reads the answer
// while the body is still being sent: the daemon may answer before it has
// read all of it (and then closes the connection), which an http.Client
// can report as a write error instead of the answer.
func rawPut(t *testing.T, base, name string, body []byte) (int, string) {
	t.Helper()
	return rawPutStream(t, base, name, bytes.NewReader(body), int64(len(body)))
}

// rawPutStream is rawPut of a reader; size -1 sends it chunked.
func rawPutStream(t *testing.T, base, name string, body io.Reader, size int64) (int, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Minute))
	req, err := http.NewRequest(http.MethodPut, base+"/recordings/Files/"+name, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("ingest", testIngestPassword)
	length := fmt.Sprintf("Content-Length: %d", size)
	if size < 0 {
		length = "Transfer-Encoding: chunked"
	}
	fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\n%s\r\n\r\n",
		req.URL.RequestURI(), req.Host, req.Header.Get("Authorization"), length)
	go func() { // ends with the connection
		if size >= 0 {
			_, _ = io.Copy(conn, body)
			return
		}
		cw := httputil.NewChunkedWriter(conn)
		if _, err := io.Copy(cw, body); err == nil {
			_ = cw.Close()
			_, _ = io.WriteString(conn, "\r\n")
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatalf("PUT %s: reading the answer: %v", name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// putHeadersOnly sends a PUT's headers asking "Expect: 100-continue" and
// returns the first answer: a daemon that refuses without reading the body
// answers with the refusal, one that reads it with 100 Continue.
func putHeadersOnly(t *testing.T, base, name string, size int) (int, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	req, _ := http.NewRequest(http.MethodPut, base+"/recordings/Files/"+name, nil)
	req.SetBasicAuth("ingest", testIngestPassword)
	fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n",
		req.URL.RequestURI(), req.Host, req.Header.Get("Authorization"), size)
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(msg)
}

type listedRecording struct {
	ID, State string
	Sealed    bool
}

func (d *daemon) recordings(t *testing.T) map[string]listedRecording {
	t.Helper()
	var list struct{ Recordings []listedRecording }
	d.getJSON(t, "/api/v1/recordings?limit=1000", &list)
	out := map[string]listedRecording{}
	for _, r := range list.Recordings {
		out[r.ID] = r
	}
	return out
}

func (d *daemon) mustVerify(t *testing.T, id string) {
	t.Helper()
	var v struct{ Valid bool }
	d.getJSON(t, "/api/v1/recordings/"+id+"/verify", &v)
	if !v.Valid {
		t.Fatalf("recording %s does not verify", id)
	}
}

func (d *daemon) mustVerifyChain(t *testing.T) {
	t.Helper()
	var v struct {
		Valid    bool
		Problems []string
	}
	d.getJSON(t, "/api/v1/seal/verify", &v)
	if !v.Valid {
		t.Fatalf("seal chain does not verify: %v", v.Problems)
	}
}

// TestDiskFullMidUpload fills a real filesystem under the daemon while two
// uploads are running: both answer 507 and are kept at once as
// interrupted, sealed recordings holding what was committed; new uploads
// get 507 while the disk is full; the recordings stored before still read
// and verify, the seal chain verifies, and once space is freed uploads
// work again without a restart; after a restart the archive checks clean.
func TestDiskFullMidUpload(t *testing.T) { testDiskFull(t, 6<<20) }

// TestDiskCompletelyFull is TestDiskFullMidUpload on a disk without a byte
// left when the uploads start.
func TestDiskCompletelyFull(t *testing.T) { testDiskFull(t, 0) }

func testDiskFull(t *testing.T, leave uint64) {
	disk := testdisk.Small(t, 64)
	data := filepath.Join(disk, "data")
	cfg := writeTestConfig(t, "[health]\nmin_free_mb = 0\n")
	d := startDaemonWith(t, data, func(o *serveOptions) { o.config = cfg })

	before := map[string][]byte{}
	for i, user := range []string{"alice", "bob"} {
		guid := fmt.Sprintf("%032x", 0xa0+i)
		id := d.ingestSynth(t, guid, user, synthCall{seconds: 20, callID: fmt.Sprintf("before-%d@pbx.test", i)})
		_, orig := d.get(t, "/api/v1/recordings/"+id+"/original.pcap")
		before[id] = orig
	}
	d.mustVerifyChain(t)

	// About 12 MiB each, on a disk with leave bytes free.
	big := [2][]byte{
		synthPcap(synthCall{seconds: 540, callID: "big-0@pbx.test"}),
		synthPcap(synthCall{seconds: 540, callID: "big-1@pbx.test"}),
	}
	ballast := testdisk.Fill(t, disk, leave)
	var wg sync.WaitGroup
	codes, bodies := [2]int{}, [2]string{}
	for i := range big {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("%032x-009033302ab1-11--carol.pcap", 0xb0+i)
			codes[i], bodies[i] = rawPut(t, d.url, name, big[i])
		}()
	}
	wg.Wait()
	for i := range codes {
		if codes[i] != http.StatusInsufficientStorage {
			t.Fatalf("upload %d on a full disk: %d %s, want 507\n%s", i, codes[i], bodies[i], d.out)
		}
		t.Logf("upload %d of %d bytes: %d %s", i, len(big[i]), codes[i], strings.TrimSpace(bodies[i]))
	}
	// cutOff checks the recordings of the two uploads: interrupted and
	// sealed, holding the start of what was sent, verifying.
	keptBytes := 0
	cutOff := func(list map[string]listedRecording) (kept []string) {
		t.Helper()
		for i := range bodies {
			if _, id, ok := strings.Cut(strings.TrimSpace(bodies[i]), "interrupted recording "); ok {
				if _, ok := list[id]; !ok {
					t.Fatalf("the 507 names recording %s, which is not listed", id)
				}
			}
		}
		for id, r := range list {
			if before[id] != nil {
				continue
			}
			if r.State != "interrupted" || !r.Sealed {
				t.Fatalf("cut-off upload %+v, want it interrupted and sealed", r)
			}
			_, orig := d.get(t, "/api/v1/recordings/"+id+"/original.pcap")
			if !bytes.HasPrefix(big[0], orig) && !bytes.HasPrefix(big[1], orig) {
				t.Fatalf("cut-off upload %s keeps %d bytes that are not the start of what was sent", id, len(orig))
			}
			d.mustVerify(t, id)
			t.Logf("kept %s: %d bytes", id, len(orig))
			keptBytes += len(orig)
			kept = append(kept, id)
		}
		return kept
	}
	kept := cutOff(d.recordings(t)) // at once: no restart, no wait
	if leave >= 4<<20 && keptBytes == 0 {
		t.Fatalf("with %d MiB left, the cut-off uploads kept nothing of what was committed", leave>>20)
	}
	// While the disk is full, new uploads are refused before anything is
	// stored.
	if code, msg := rawPut(t, d.url, fmt.Sprintf("%032x-009033302ab1-11--erin.pcap", 0xd0), synthPcap(synthCall{seconds: 5})); code != http.StatusInsufficientStorage {
		t.Fatalf("upload while the disk is full: %d %s, want 507", code, msg)
	}
	if n := len(d.recordings(t)); n != len(before)+len(kept) {
		t.Fatalf("%d recordings after an upload refused on a full disk, want %d", n, len(before)+len(kept))
	}
	for id, orig := range before {
		if r := d.recordings(t)[id]; r.State != "complete" {
			t.Fatalf("recording stored before the disk filled: %+v", r)
		}
		_, got := d.get(t, "/api/v1/recordings/"+id+"/original.pcap")
		if !bytes.Equal(got, orig) {
			t.Fatalf("recording %s changed after the disk filled", id)
		}
		d.mustVerify(t, id)
	}
	d.mustVerifyChain(t)

	// Space freed: uploads work again, without a restart.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	again := d.ingestSynth(t, fmt.Sprintf("%032x", 0xc0), "dave", synthCall{seconds: 20, callID: "after@pbx.test"})
	d.mustVerify(t, again)
	d.mustVerifyChain(t)
	d.stop()

	// The archive file is sound: a clean start and the offline check.
	var out bytes.Buffer
	if err := run(context.Background(), []string{"verify", "--data", data, "--key-file", d.key}, &out, &out); err != nil {
		t.Fatalf("callvault verify after the disk was full: %v\n%s", err, out.String())
	}
	d2 := startDaemon(t, data)
	all := d2.recordings(t)
	if len(all) != len(before)+len(kept)+1 {
		t.Fatalf("after restart: %d recordings, want %d: %+v", len(all), len(before)+len(kept)+1, all)
	}
	for _, id := range kept {
		if all[id].State != "interrupted" {
			t.Fatalf("after restart %s is %s", id, all[id].State)
		}
	}
	d2.mustVerifyChain(t)
}

// TestDiskLowRefusesBeforeBody: while the data directory's disk is below
// health.min_free_mb (the condition /healthz reports), a PUT is answered
// 507 before its body is read: a client that asks "Expect: 100-continue"
// is never told to send it. Once space is freed, uploads are taken again
// without a restart.
func TestDiskLowRefusesBeforeBody(t *testing.T) {
	disk := testdisk.Small(t, 64)
	data := filepath.Join(disk, "data")
	cfg := writeTestConfig(t, "[health]\nmin_free_mb = 32\n")
	d := startDaemonWith(t, data, func(o *serveOptions) { o.config = cfg })
	d.ingestSynth(t, fmt.Sprintf("%032x", 0xa0), "alice", synthCall{seconds: 5})

	ballast := testdisk.Fill(t, disk, 16<<20)
	if resp, b := d.get(t, "/healthz"); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "min_free_mb") {
		t.Fatalf("healthz with 16 MiB free of a 32 MiB minimum: %s %s", resp.Status, b)
	}
	body := synthPcap(synthCall{seconds: 5})
	name := fmt.Sprintf("%032x-009033302ab1-11--bob.pcap", 0xb0)

	// Headers only: the body is not sent unless the daemon asks for it.
	if code, msg := putHeadersOnly(t, d.url, name, len(body)); code != http.StatusInsufficientStorage || !strings.Contains(msg, "min_free_mb") {
		t.Fatalf("PUT on a disk below its minimum: %d %s, want 507 before the body", code, msg)
	}
	// A client that sends the body at once gets the same answer.
	if code, msg := rawPut(t, d.url, name, body); code != http.StatusInsufficientStorage {
		t.Fatalf("PUT with its body on a disk below its minimum: %d %s", code, msg)
	}
	if n := len(d.recordings(t)); n != 1 {
		t.Fatalf("%d recordings after refused uploads, want 1", n)
	}

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	d.ingestSynth(t, fmt.Sprintf("%032x", 0xb0), "bob", synthCall{seconds: 5})
	if n := len(d.recordings(t)); n != 2 {
		t.Fatalf("%d recordings after space was freed, want 2", n)
	}
}

// TestUploadSizeLimit: ingest.max_upload_mb bounds what one upload stores.
// A streamed gzip bomb (a pcap header and 10 GiB of zeros) gets 413 and
// leaves its first max_upload_mb as an interrupted, sealed recording that
// verifies; a plain body declared larger than the limit is refused before
// it is read.
func TestUploadSizeLimit(t *testing.T) {
	cfg := writeTestConfig(t, "[ingest]\nmax_upload_mb = 1\n")
	d := startDaemonWith(t, "", func(o *serveOptions) { o.config = cfg })

	pr, pw := io.Pipe()
	go func() {
		zw, _ := gzip.NewWriterLevel(pw, gzip.BestCompression)
		_, err := zw.Write(synthPcap(synthCall{})[:24])
		zeros := make([]byte, 1<<20)
		for i := 0; err == nil && i < 10<<10; i++ {
			_, err = zw.Write(zeros)
		}
		if err == nil {
			err = zw.Close()
		}
		pw.CloseWithError(err)
	}()
	code, msg := rawPutStream(t, d.url, fmt.Sprintf("%032x-009033302ab1-11--alice.pcap.gz", 0xa0), pr, -1)
	pr.Close()
	if code != http.StatusRequestEntityTooLarge {
		t.Fatalf("gzip bomb: %d %s, want 413", code, msg)
	}
	_, id, ok := strings.Cut(strings.TrimSpace(msg), "interrupted recording ")
	if !ok {
		t.Fatalf("413 without the recording kept: %s", msg)
	}
	r := d.recordings(t)[id]
	if r.State != "interrupted" || !r.Sealed {
		t.Fatalf("gzip bomb kept as %+v, want interrupted and sealed", r)
	}
	if _, orig := d.get(t, "/api/v1/recordings/"+id+"/original.pcap"); len(orig) != 1<<20 {
		t.Fatalf("gzip bomb stored %d bytes, want the limit, 1 MiB", len(orig))
	}
	d.mustVerify(t, id)

	big := synthPcap(synthCall{seconds: 60}) // about 1.4 MB
	name := fmt.Sprintf("%032x-009033302ab1-11--bob.pcap", 0xb0)
	if code, msg := putHeadersOnly(t, d.url, name, len(big)); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("PUT of %d bytes declared: %d %s, want 413 before the body", len(big), code, msg)
	}
	if n := len(d.recordings(t)); n != 1 {
		t.Fatalf("%d recordings, want only the bomb's", n)
	}
	d.ingestSynth(t, fmt.Sprintf("%032x", 0xc0), "carol", synthCall{seconds: 20})
}

// TestMaxUploadConfig: ingest.max_upload_mb defaults to a 24-hour call's
// size with room to spare, as packaging documents, and must be positive.
func TestMaxUploadConfig(t *testing.T) {
	def := defaultConfig()
	const dayOfG711 = 24 * 3600 * 100 * (160 + 54 + 16) // bytes
	if def.Ingest.MaxUploadMB<<20 < dayOfG711 {
		t.Fatalf("default max_upload_mb %d is below a 24-hour G.711 call (%d MiB)", def.Ingest.MaxUploadMB, dayOfG711>>20)
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "packaging", "callvault.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), fmt.Sprintf("# max_upload_mb = %d\n", def.Ingest.MaxUploadMB)) {
		t.Error("packaging/callvault.toml does not document the default max_upload_mb")
	}
	for _, v := range []string{"0", "-1"} {
		_, err := loadConfig(writeTestConfig(t, "[ingest]\nmax_upload_mb = "+v+"\n"))
		if err == nil || !strings.Contains(err.Error(), "ingest.max_upload_mb") {
			t.Errorf("max_upload_mb = %s: %v, want refused", v, err)
		}
	}
}
