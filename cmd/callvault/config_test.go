package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "callvault.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"[server]\nlisten = \"127.0.0.1:1\"\nlisten_typo = 1\n", ":3: unknown key server.listen_typo"},
		{"[ingest]\n\nidle_timeout = \"forever\"\n", ":3:"},
		{"[server]\nlisten = 8080\n", ":2:"},
		{"[log]\nlevel = \"chatty\"\n", "log.level"},
		{"[ingest]\nidle_timeout = \"-5s\"\n", "negative"},
	} {
		p := writeConfig(t, c.text)
		cfg, err := loadConfig(p)
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want it to contain %q", c.text, err, c.want)
		}
		if err != nil && strings.Contains(c.want, ":") && !strings.Contains(err.Error(), p) {
			t.Errorf("%q: error %v does not name the file", c.text, err)
		}
	}
	cfg, err := loadConfig(writeConfig(t, "[ingest]\nprefix = \"/example.com/recordings/Files/\"\nidle_timeout = \"90s\"\n"))
	if err != nil || cfg.Ingest.Prefix != "/example.com/recordings/Files/" || cfg.Ingest.IdleTimeout.Duration != 90*time.Second {
		t.Fatalf("good config: %+v %v", cfg.Ingest, err)
	}
	if cfg.Server.Listen != "localhost:8080" {
		t.Fatalf("defaults lost: %+v", cfg.Server)
	}
}

// TestIdleUpload: an upload that stops sending ends after the idle timeout
// and is kept as interrupted; a configured prefix is honoured.
func TestIdleUpload(t *testing.T) {
	corpus := corpusDir(t)
	capture, err := os.ReadFile(filepath.Join(corpus, "generated", "pcmu_bidir", "capture.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("CALLVAULT_ADMIN_PASSWORD", testAdminPassword)
	t.Setenv("CALLVAULT_INGEST_PASSWORD", testIngestPassword)
	dir := t.TempDir()
	conf := writeConfig(t, "[ingest]\nprefix = \"/example.com/recordings/Files/\"\nidle_timeout = \"1s\"\n")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, serveOptions{config: conf, data: filepath.Join(dir, "data"), keyFile: filepath.Join(dir, "k"),
			listen: "127.0.0.1:0", ready: func(a string) { ready <- a }}, io.Discard, io.Discard)
	}()
	base := "http://" + <-ready
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPut, base+"/example.com/recordings/Files/idle.pcap", pr)
	req.SetBasicAuth("ingest", testIngestPassword)
	go func() {
		pw.Write(capture[:200_000])
		// ...and then nothing, without closing.
	}()
	start := time.Now()
	resp, err := client.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	if time.Since(start) > 30*time.Second {
		t.Fatal("idle upload was not ended")
	}
	pw.Close()
	// The recording is there, interrupted, with what arrived.
	d := &daemon{url: base}
	var list struct{ Recordings []struct{ ID, State string } }
	deadline := time.Now().Add(10 * time.Second)
	for len(list.Recordings) == 0 && time.Now().Before(deadline) {
		d.getJSON(t, "/api/v1/recordings", &list)
		time.Sleep(50 * time.Millisecond)
	}
	if len(list.Recordings) != 1 || list.Recordings[0].State != "interrupted" {
		t.Fatalf("recordings %+v", list.Recordings)
	}
	var rec struct{ Size int64 }
	d.getJSON(t, "/api/v1/recordings/"+list.Recordings[0].ID, &rec)
	if rec.Size != 200_000 {
		t.Fatalf("kept %d bytes, 200000 arrived", rec.Size)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
