package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// makeTestCapture is a small two-way call from the corpus.
func makeTestCapture(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpusDir(t), "generated", "pcmu_bidir", "capture.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// metricValue finds a sample line "name{labels} value" (labels as written
// by the exposition format, or none).
func metricValue(t *testing.T, text, series string) float64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("series %s not exposed", series)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestMetricsAfterUpload: /metrics exposes the ingest, archive, commit and
// HTTP series, with the values of an upload.
func TestMetricsAfterUpload(t *testing.T) {
	d := startDaemon(t, "")
	capture := makeTestCapture(t)
	resp, m := d.put(t, "0123456789abcdef0123456789abcdef-009033302ab1-11--alice.pcap", bytes.NewReader(capture), int64(len(capture)))
	if resp.StatusCode != 201 {
		t.Fatalf("PUT: %s %v", resp.Status, m)
	}
	resp, body := d.get(t, "/metrics")
	if resp.StatusCode != 200 {
		t.Fatalf("metrics: %s", resp.Status)
	}
	text := string(body)
	if v := metricValue(t, text, "callvault_ingest_bytes_total"); v != float64(len(capture)) {
		t.Errorf("bytes ingested %v, want %d", v, len(capture))
	}
	if v := metricValue(t, text, "callvault_ingest_packets_total"); v < 100 {
		t.Errorf("packets ingested %v", v)
	}
	metricValue(t, text, "callvault_ingest_lost_packets_total")
	if v := metricValue(t, text, "callvault_uploads_open"); v != 0 {
		t.Errorf("open uploads %v after the upload ended", v)
	}
	if v := metricValue(t, text, `callvault_recordings{state="sealed"}`); v != 1 {
		t.Errorf("sealed recordings %v", v)
	}
	if v := metricValue(t, text, `callvault_recordings_stored_total{state="complete"}`); v != 1 {
		t.Errorf("stored complete %v", v)
	}
	metricValue(t, text, `callvault_recordings{state="recording"}`)
	metricValue(t, text, "callvault_seal_queue")
	metricValue(t, text, "callvault_exports_queue")
	metricValue(t, text, "callvault_who_index_queue")
	if v := metricValue(t, text, "callvault_db_file_bytes") + metricValue(t, text, "callvault_chunk_file_bytes"); v < float64(len(capture)) {
		t.Errorf("archive and chunk file %v bytes", v)
	}
	metricValue(t, text, "callvault_db_free_pages")
	if v := metricValue(t, text, "callvault_commit_duration_seconds_count"); v < 1 {
		t.Errorf("commit histogram count %v", v)
	}
	metricValue(t, text, `callvault_commit_batch_ops_bucket{le="+Inf"}`)
	metricValue(t, text, `callvault_commit_batch_bytes_bucket{le="+Inf"}`)
	if v := metricValue(t, text, `callvault_http_requests_total{code="201",listener="main",route="/recordings/Files/"}`); v != 1 {
		t.Errorf("PUT counted %v times", v)
	}
	// Readiness and health.
	if resp, b := d.get(t, "/readyz"); resp.StatusCode != 200 || !strings.Contains(string(b), "ready") {
		t.Fatalf("readyz: %s %s", resp.Status, b)
	}
}

// TestHealthzDiskFull: /healthz fails when the free space is below the
// configured threshold.
func TestHealthzDiskFull(t *testing.T) {
	addr, stop := startConfigured(t, "[server]\nlisten = \"127.0.0.1:0\"\n[health]\nmin_free_mb = 1000000000\n", nopWriter{})
	d := &daemon{url: "http://" + addr}
	resp, b := d.get(t, "/healthz")
	if resp.StatusCode != 503 || !strings.Contains(string(b), "disk almost full") {
		t.Fatalf("healthz: %s %s", resp.Status, b)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

// TestLogLevels: subsystem levels change at runtime for loggers made
// before; trace is below debug and printed as TRACE.
func TestLogLevels(t *testing.T) {
	var buf syncBuffer
	l := newLogLevels(LogConfig{Level: "info", Format: "text", Levels: SubsystemLevels{Recording: "trace"}}, &buf)
	rec, gui := l.Logger(subsysRecording), l.Logger(subsysGUI)
	rec.Log(context.Background(), LevelTrace, "packet detail")
	gui.Debug("gui detail")
	if !strings.Contains(buf.String(), "level=TRACE") || !strings.Contains(buf.String(), "subsystem=recording") || strings.Contains(buf.String(), "gui detail") {
		t.Fatalf("log: %q", buf.String())
	}
	if err := l.SetLevel(subsysGUI, slog.LevelDebug); err != nil {
		t.Fatal(err)
	}
	gui.Debug("gui detail")
	if !strings.Contains(buf.String(), "gui detail") {
		t.Fatal("SetLevel did not reach an existing logger")
	}
	if err := l.SetLevel("nope", slog.LevelDebug); err == nil {
		t.Fatal("unknown subsystem accepted")
	}
	if lv, ok := l.Level(subsysRecording); !ok || lv != LevelTrace {
		t.Fatalf("level %v %v", lv, ok)
	}
	if len(l.Subsystems()) != 6 {
		t.Fatalf("subsystems %v", l.Subsystems())
	}
	l.apply(LogConfig{Level: "warn"})
	if lv, _ := l.Level(subsysGUI); lv != slog.LevelWarn {
		t.Fatalf("apply: gui at %v", lv)
	}
}

// TestSdNotify: the states reach the socket named by NOTIFY_SOCKET, and
// serve says READY=1 and STOPPING=1.
func TestSdNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	d := startDaemon(t, "")
	d.stop()
	var got []string
	buf := make([]byte, 1024)
	for {
		conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := conn.Read(buf)
		if err != nil {
			break
		}
		got = append(got, string(buf[:n]))
	}
	all := strings.Join(got, "|")
	if !strings.Contains(all, "READY=1") || !strings.Contains(all, "STOPPING=1") || strings.Index(all, "READY=1") > strings.Index(all, "STOPPING=1") {
		t.Fatalf("notifications %q", got)
	}
	t.Setenv("NOTIFY_SOCKET", "relative")
	if err := sdNotify("READY=1"); err == nil {
		t.Fatal("a relative NOTIFY_SOCKET was accepted")
	}
}
