package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBackupUnderUploadsRestores: a backup taken through the daemon while
// calls are being uploaded restores into an archive whose every seal and
// chain verify (the uploads open at the snapshot are finished as
// interrupted and sealed by the next start); compact works on the stopped
// archive and is refused on a running one.
func TestBackupUnderUploadsRestores(t *testing.T) {
	ctx := context.Background()
	d := startDaemon(t, "")
	capture := makeTestCapture(t)
	// Some finished recordings first.
	for i := range 3 {
		if resp, m := d.put(t, fmt.Sprintf("done-%d.pcap", i), bytes.NewReader(capture), int64(len(capture))); resp.StatusCode != 201 {
			t.Fatalf("PUT: %s %v", resp.Status, m)
		}
	}
	// Uploads in flight during the backup.
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			body := &slowReader{r: bytes.NewReader(capture), piece: 16 << 10, pause: 20 * time.Millisecond}
			if resp, m := d.put(t, fmt.Sprintf("live-%d.pcap", i), body, -1); resp.StatusCode != 201 {
				t.Errorf("PUT live-%d: %s %v", i, resp.Status, m)
			}
		})
	}
	// Back up once they are under way (each takes half a second at least).
	waitMetricAtLeast(t, d.url, "callvault_uploads_open", 1)
	out := filepath.Join(t.TempDir(), "backup.db")
	var stdout, stderr strings.Builder
	// Wrong role first.
	t.Setenv("CALLVAULT_PASSWORD", testIngestPassword)
	if err := run(ctx, []string{"backup", "--url", d.url, "--user", "ingest", "--out", out}, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("backup as ingest: %v", err)
	}
	t.Setenv("CALLVAULT_PASSWORD", testAdminPassword)
	if err := run(ctx, []string{"backup", "--url", d.url, "--out", out}, &stdout, &stderr); err != nil {
		t.Fatalf("backup: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "wrote "+out) {
		t.Fatalf("backup said %q", stdout.String())
	}
	if err := run(ctx, []string{"backup", "--url", d.url, "--out", out}, &stdout, &stderr); err == nil {
		t.Fatal("backup overwrote an existing file")
	}
	wg.Wait()

	// Compact is refused while the daemon runs.
	if err := run(ctx, []string{"compact", "--data", d.data}, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "stop the daemon") {
		t.Fatalf("compact of a running archive: %v", err)
	}
	// So is restore.
	if err := run(ctx, []string{"restore", "--in", out, "--data", d.data, "--key-file", d.key}, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "stop the daemon") {
		t.Fatalf("restore over a running archive: %v", err)
	}
	d.stop()

	// Restore into a fresh data directory with the same key.
	data2 := filepath.Join(t.TempDir(), "data")
	stdout.Reset()
	if err := run(ctx, []string{"restore", "--in", out, "--data", data2, "--key-file", d.key}, &stdout, &stderr); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if !strings.Contains(stdout.String(), "seal chain valid") {
		t.Fatalf("restore said %q", stdout.String())
	}
	// A wrong key is refused with a clear message.
	other := filepath.Join(t.TempDir(), "other.key")
	if err := writeKeyFile(other, &stdout); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"restore", "--in", out, "--data", filepath.Join(t.TempDir(), "d"), "--key-file", other}, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "needs the key the backup was made with") {
		t.Fatalf("restore with another key: %v", err)
	}
	// Restoring over an existing archive keeps the old file aside.
	stdout.Reset()
	if err := run(ctx, []string{"restore", "--in", out, "--data", data2, "--key-file", d.key}, &stdout, &stderr); err != nil || !strings.Contains(stdout.String(), "previous archive file is kept") {
		t.Fatalf("second restore: %v %q", err, stdout.String())
	}
	// Start on the restored archive (finishing the uploads caught in the
	// snapshot), stop, compact, verify everything offline.
	keyCopy := filepath.Join(filepath.Dir(data2), "callvault.key")
	if b, err := os.ReadFile(d.key); err != nil || os.WriteFile(keyCopy, b, 0o600) != nil {
		t.Fatal(err)
	}
	d2 := startDaemon(t, data2)
	var list struct{ Recordings []struct{ ID, State string } }
	d2.getJSON(t, "/api/v1/recordings?limit=100", &list)
	if len(list.Recordings) < 3 {
		t.Fatalf("restored %d recordings, want at least the 3 finished before the backup", len(list.Recordings))
	}
	d2.stop()
	stdout.Reset()
	if err := run(ctx, []string{"compact", "--data", data2, "--key-file", keyCopy}, &stdout, &stderr); err != nil || !strings.Contains(stdout.String(), "→") {
		t.Fatalf("compact: %v %q", err, stdout.String())
	}
	stdout.Reset()
	err := run(ctx, []string{"verify", "--data", data2, "--key-file", keyCopy}, &stdout, &stderr)
	var ee exitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	if err != nil || strings.Contains(stdout.String(), "INVALID") || strings.Count(stdout.String(), "\tok") != len(list.Recordings)+1 {
		t.Fatalf("verify of the restored archive: %v\n%s", err, stdout.String())
	}
}
