package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callvault/callvault/internal/loadgen"
)

// lgtDir is what the fake appliance saw of one direction of one upload.
type lgtDir struct {
	SSRC       uint32
	Packets    int
	Lost       int
	Duplicates int
	BadTS      int // timestamp not +160 on the previous packet
	BadSum     int // IP or UDP checksum wrong
	PT         byte
}

type lgtUpload struct {
	Name  string
	Bytes int64
	Dirs  map[uint16]*lgtDir // by UDP source port
	Err   error
}

// lgtAppliance is a fake appliance: ingest under /recordings/Files/ and the
// recording detail under /api/v1/recordings/{id}.
type lgtAppliance struct {
	refuse    bool // answer every PUT with 401
	underread int  // report this many packets fewer on the first stream

	mu      sync.Mutex
	uploads map[string]*lgtUpload // by id
}

func (a *lgtAppliance) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /recordings/Files/{name}", a.put)
	mux.HandleFunc("GET /api/v1/recordings/{id}", a.get)
	return mux
}

func (a *lgtAppliance) put(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if a.refuse || !ok || user != "ingest" || pass != "s3cret" {
		w.Header().Set("WWW-Authenticate", `Basic realm="callvault ingest"`)
		http.Error(w, "bad credentials", http.StatusUnauthorized)
		return
	}
	if len(r.TransferEncoding) == 0 || r.TransferEncoding[0] != "chunked" {
		http.Error(w, "want a chunked body", http.StatusBadRequest)
		return
	}
	cr := &lgtCounter{r: r.Body}
	up := &lgtUpload{Name: r.PathValue("name"), Dirs: map[uint16]*lgtDir{}}
	up.Err = lgtParsePcap(bufio.NewReader(cr), up.Dirs)
	up.Bytes = cr.n
	a.mu.Lock()
	id := fmt.Sprintf("rec%d", len(a.uploads)+1)
	a.uploads[id] = up
	a.mu.Unlock()
	if up.Err != nil {
		http.Error(w, up.Err.Error(), http.StatusUnsupportedMediaType)
		return
	}
	loc := "/api/v1/recordings/" + id
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "state": "complete", "bytes": up.Bytes, "location": loc})
}

func (a *lgtAppliance) get(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || user != "admin" || pass != "adm1n" {
		http.Error(w, `{"error":"authentication required"}`, http.StatusUnauthorized)
		return
	}
	a.mu.Lock()
	up := a.uploads[r.PathValue("id")]
	a.mu.Unlock()
	if up == nil {
		http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
		return
	}
	type stream struct {
		SSRC       string `json:"ssrc"`
		Packets    int    `json:"packets"`
		Lost       int    `json:"lost"`
		Duplicates int    `json:"duplicates"`
	}
	streams := []stream{}
	for _, port := range []uint16{loadgen.PortDevice, loadgen.PortRemote} {
		if d := up.Dirs[port]; d != nil {
			s := stream{SSRC: fmt.Sprintf("0x%08x", d.SSRC), Packets: d.Packets, Lost: d.Lost, Duplicates: d.Duplicates}
			if len(streams) == 0 {
				s.Packets -= a.underread
			}
			streams = append(streams, s)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"id": r.PathValue("id"), "streams": streams})
}

type lgtCounter struct {
	r io.Reader
	n int64
}

func (c *lgtCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// lgtParsePcap is a tiny pcap reader: Ethernet/IPv4/UDP/RTP only.
func lgtParsePcap(r io.Reader, dirs map[uint16]*lgtDir) error {
	var gh [24]byte
	if _, err := io.ReadFull(r, gh[:]); err != nil {
		return fmt.Errorf("pcap header: %w", err)
	}
	if binary.LittleEndian.Uint32(gh[0:]) != 0xa1b2c3d4 || binary.LittleEndian.Uint32(gh[20:]) != 1 {
		return errors.New("not a little-endian Ethernet pcap")
	}
	type last struct {
		seq uint16
		ts  uint32
	}
	prev := map[uint16]last{}
	var rh [16]byte
	for {
		if _, err := io.ReadFull(r, rh[:]); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("record header: %w", err)
		}
		n := binary.LittleEndian.Uint32(rh[8:])
		if n > 65535 || n != binary.LittleEndian.Uint32(rh[12:]) {
			return fmt.Errorf("bad record length %d", n)
		}
		pkt := make([]byte, n)
		if _, err := io.ReadFull(r, pkt); err != nil {
			return fmt.Errorf("record: %w", err)
		}
		if len(pkt) < 14+20+8+12 || binary.BigEndian.Uint16(pkt[12:]) != 0x0800 {
			return errors.New("not IPv4 over Ethernet")
		}
		ip := pkt[14:]
		if ip[0] != 0x45 || ip[9] != 17 || int(binary.BigEndian.Uint16(ip[2:])) != len(ip) {
			return errors.New("not a plain IPv4/UDP packet")
		}
		if ip[12] != 127 || ip[16] != 127 {
			return errors.New("address outside 127/8")
		}
		udp := ip[20:]
		sport := binary.BigEndian.Uint16(udp[0:])
		if sport != loadgen.PortDevice && sport != loadgen.PortRemote {
			return fmt.Errorf("unexpected source port %d", sport)
		}
		rtp := udp[8:]
		if rtp[0]>>6 != 2 || len(rtp) != 12+160 {
			return errors.New("not RTP with 160 bytes of payload")
		}
		d := dirs[sport]
		if d == nil {
			d = &lgtDir{SSRC: binary.BigEndian.Uint32(rtp[8:]), PT: rtp[1] & 0x7f}
			dirs[sport] = d
		}
		if binary.BigEndian.Uint32(rtp[8:]) != d.SSRC {
			return errors.New("SSRC changed within a direction")
		}
		if lgtSum(0, ip[:20]) != 0xffff {
			d.BadSum++
		}
		pseudo := lgtSum(0, ip[12:20]) + 17 + uint32(len(udp))
		if lgtSum(pseudo, udp) != 0xffff {
			d.BadSum++
		}
		seq, ts := binary.BigEndian.Uint16(rtp[2:]), binary.BigEndian.Uint32(rtp[4:])
		if p, ok := prev[sport]; ok {
			switch gap := seq - p.seq; {
			case gap == 0:
				d.Duplicates++
			case gap < 0x8000:
				d.Lost += int(gap) - 1
				if ts-p.ts != 160*uint32(gap) {
					d.BadTS++
				}
			}
		}
		prev[sport] = last{seq, ts}
		d.Packets++
	}
}

func lgtSum(s uint32, b []byte) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return s
}

func newLgtAppliance(t *testing.T) (*lgtAppliance, *httptest.Server) {
	a := &lgtAppliance{uploads: map[string]*lgtUpload{}}
	srv := httptest.NewServer(a.handler())
	t.Cleanup(srv.Close)
	return a, srv
}

var lgtNameRE = regexp.MustCompile(`^[0-9a-f]{32}-[0-9a-f]{12}-[0-9A-Za-z]+--loaduser[0-9]+\.pcap$`)

func TestLoadgen(t *testing.T) {
	a, srv := newLgtAppliance(t)
	report := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	start := time.Now()
	err := runLoadgen(context.Background(), []string{
		"--streams", "6", "--duration", "1s", "--ramp", "300ms", "--codec", "pcma",
		"--url", srv.URL + "/recordings/Files", "--password", "s3cret",
		"--verify", "--api-user", "admin", "--api-password", "adm1n",
		"--report", report, "--pid", fmt.Sprint(os.Getpid()),
	}, &stdout, &stderr)
	t.Logf("took %v\n%s%s", time.Since(start), stdout.String(), stderr.String())
	if err != nil {
		t.Fatalf("runLoadgen: %v", err)
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.uploads) != 3 {
		t.Fatalf("appliance saw %d uploads, want 3", len(a.uploads))
	}
	users := map[string]bool{}
	for id, up := range a.uploads {
		if up.Err != nil {
			t.Errorf("%s: %v", id, up.Err)
			continue
		}
		if !lgtNameRE.MatchString(up.Name) {
			t.Errorf("upload name %q is not innovaphone-style", up.Name)
		}
		users[up.Name[strings.Index(up.Name, "--")+2:]] = true
		if len(up.Dirs) != 2 {
			t.Errorf("%s: %d directions, want 2", up.Name, len(up.Dirs))
		}
		var ssrcs []uint32
		for port, d := range up.Dirs {
			ssrcs = append(ssrcs, d.SSRC)
			if d.Packets < 48 || d.Packets > 52 {
				t.Errorf("%s port %d: %d packets, want 50±2", up.Name, port, d.Packets)
			}
			if d.Lost != 0 || d.Duplicates != 0 || d.BadTS != 0 || d.BadSum != 0 {
				t.Errorf("%s port %d: %+v", up.Name, port, *d)
			}
			if d.PT != 8 {
				t.Errorf("%s port %d: payload type %d, want 8 (PCMA)", up.Name, port, d.PT)
			}
		}
		if len(ssrcs) == 2 && ssrcs[0] == ssrcs[1] {
			t.Errorf("%s: both directions use SSRC %#x", up.Name, ssrcs[0])
		}
	}
	if len(users) != 3 {
		t.Errorf("users %v, want 3 distinct", users)
	}

	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var rep loadgen.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Started != 3 || rep.OK != 3 || rep.Failed != 0 || rep.HTTPStatus["201"] != 3 {
		t.Errorf("report: started %d ok %d failed %d statuses %v", rep.Started, rep.OK, rep.Failed, rep.HTTPStatus)
	}
	if rep.PacketsSent != 300 {
		t.Errorf("report: %d packets sent, want 300", rep.PacketsSent)
	}
	if rep.BytesSent != 3*(24+100*230) {
		t.Errorf("report: %d bytes sent", rep.BytesSent)
	}
	if rep.LatencyMs == nil {
		t.Error("report: no latency")
	}
	if v := rep.Verify; v == nil || v.Checked != 3 || v.Errors != 0 || v.Lost != 0 || v.StreamsFound != 6 || v.PacketsReceived != 300 {
		t.Errorf("report: verify %+v", v)
	}
	if d := rep.Daemon; d == nil || d.Error != "" || d.Samples < 2 || d.RSSPeakKiB == 0 {
		t.Errorf("report: daemon %+v", d)
	}
	for _, want := range []string{"started 3, ok 3, failed 0", "201 x3", "lost 0", "p50"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("summary lacks %q", want)
		}
	}
}

func TestLoadgenUnauthorized(t *testing.T) {
	a, srv := newLgtAppliance(t)
	a.refuse = true
	var stdout, stderr bytes.Buffer
	err := runLoadgen(context.Background(), []string{
		"--streams", "2", "--duration", "500ms", "--ramp", "0s",
		"--url", srv.URL + "/recordings/Files/", "--password", "wrong",
	}, &stdout, &stderr)
	t.Logf("%s%s", stdout.String(), stderr.String())
	if err == nil {
		t.Fatal("runLoadgen succeeded against an appliance answering 401")
	}
	if !strings.Contains(stdout.String(), "401 x1") || !strings.Contains(stdout.String(), "failed 1") {
		t.Errorf("summary does not report the 401")
	}
}

func TestLoadgenVerifyLoss(t *testing.T) {
	a, srv := newLgtAppliance(t)
	a.underread = 3
	var stdout, stderr bytes.Buffer
	err := runLoadgen(context.Background(), []string{
		"--streams", "2", "--duration", "400ms", "--ramp", "0s",
		"--url", srv.URL + "/recordings/Files/", "--password", "s3cret",
		"--verify", "--api-user", "admin", "--api-password", "adm1n",
	}, &stdout, &stderr)
	t.Logf("%s%s", stdout.String(), stderr.String())
	if err == nil || !strings.Contains(err.Error(), "3 packets lost") {
		t.Fatalf("err = %v, want 3 packets lost", err)
	}
}

// Interrupting a run ends the open calls; their uploads still complete.
func TestLoadgenInterrupted(t *testing.T) {
	a, srv := newLgtAppliance(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(400*time.Millisecond, cancel)
	var stdout, stderr bytes.Buffer
	start := time.Now()
	err := runLoadgen(ctx, []string{
		"--streams", "4", "--duration", "30s", "--ramp", "0s",
		"--url", srv.URL + "/recordings/Files/", "--password", "s3cret",
	}, &stdout, &stderr)
	t.Logf("%s%s", stdout.String(), stderr.String())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v after the interrupt", d)
	}
	if !strings.Contains(stdout.String(), "ok 2, failed 0") {
		t.Errorf("summary: want both shortened uploads ok")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, up := range a.uploads {
		for port, d := range up.Dirs {
			if up.Err != nil || d.Packets < 10 || d.Packets > 30 {
				t.Errorf("%s port %d: %d packets, err %v", up.Name, port, d.Packets, up.Err)
			}
		}
	}
}

func TestLoadgenUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	start := time.Now()
	var stdout bytes.Buffer
	err := runLoadgen(context.Background(), []string{
		"--streams", "4", "--duration", "30s", "--ramp", "0s", "--url", addr + "/recordings/Files/", "--password", "p",
	}, &stdout, io.Discard)
	if err == nil || !strings.Contains(stdout.String(), "error x2") {
		t.Errorf("err = %v, summary:\n%s", err, stdout.String())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v to give up", d)
	}
}

func TestLoadgenFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--streams", "3", "--url", "http://127.0.0.1:1/x/", "--password", "p"},
		{"--streams", "2", "--password", "p"},
		{"--streams", "2", "--url", "ftp://h/", "--password", "p"},
		{"--streams", "2", "--url", "http://127.0.0.1:1/x/", "--password", "p", "--codec", "opus"},
		{"--streams", "2", "--url", "http://127.0.0.1:1/x/", "--password", "p", "--verify"},
	} {
		if err := runLoadgen(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}
