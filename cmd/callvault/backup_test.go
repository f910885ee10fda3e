package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/webhook"
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

// TestBackupCarriesLinksAndWebhooks: a backup through the daemon carries
// the external links (share.db with its grant keys) and the webhooks:
// restored into a fresh data directory, the daemon started on it lists
// the link and the webhook, and the link's recipient gets a code and
// plays (the grant's key came along). A backup of the archive alone (as
// made before) still restores and says what it lacks; one holding
// share.db without its grant-key file is refused before anything is put
// in place.
func TestBackupCarriesLinksAndWebhooks(t *testing.T) {
	ctx := context.Background()
	s := startShareDaemonWith(t, "[webhooks]\nallow_http_hosts = [\"127.0.0.1\"]\nallow_private = true\n")
	s.createShareUsers(t)
	rec := s.ingestSynth(t, "bacc0000000000000000000000000001", "alice", synthCall{seconds: 2, callID: "b1@pbx.test",
		from: synthParty{"Alice", "201"}, to: synthParty{"Customer", "+4712345678"}})
	const carl = "carl@example.org"
	shareID := s.createShare(t, "alice", shareBody(carl, 7, rec))
	link := linkOf(t, s.waitMail(t, carl, 1))
	admin := "admin:" + testAdminPassword
	hookURL := "http://127.0.0.1:9/calls" // never called: no call ends after it is added
	hook, _ := s.apiWant(t, admin, "POST", "/api/v1/webhooks", map[string]any{"url": hookURL, "secret": "whsec_" + strings.Repeat("A", 44)}, 201)["id"].(string)

	out := filepath.Join(t.TempDir(), "backup.tar")
	var stdout, stderr strings.Builder
	t.Setenv("CALLVAULT_PASSWORD", testAdminPassword)
	if err := run(ctx, []string{"backup", "--url", s.url, "--out", out}, &stdout, &stderr); err != nil {
		t.Fatalf("backup: %v\n%s", err, stderr.String())
	}
	s.stop()

	// Restore into a fresh data directory with the same key.
	fresh := func() (data, key string) {
		data = filepath.Join(t.TempDir(), "data")
		key = filepath.Join(filepath.Dir(data), "callvault.key")
		if b, err := os.ReadFile(s.key); err != nil || os.WriteFile(key, b, 0o600) != nil {
			t.Fatal(err)
		}
		return data, key
	}
	data2, key2 := fresh()
	stdout.Reset()
	if err := run(ctx, []string{"restore", "--in", out, "--data", data2, "--key-file", key2}, &stdout, &stderr); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if !strings.Contains(stdout.String(), "external links (share.db) and webhooks (webhooks.db) restored") {
		t.Fatalf("restore said %q", stdout.String())
	}
	for _, f := range []string{"share.db", "share.db.gkeys", "webhooks.db"} {
		if _, err := os.Stat(filepath.Join(data2, f)); err != nil {
			t.Errorf("restored %s: %v", f, err)
		}
	}
	d2 := startDaemonWith(t, data2, func(o *serveOptions) { o.config, o.now = s.config, s.clock.Now })
	s2 := &shareDaemon{daemon: d2, smtp: s.smtp, clock: s.clock, config: s.config}
	if l := s2.shareLog(t, "admin", ""); len(l.Shares) != 1 || l.Shares[0].ID != shareID || l.Shares[0].Status != "valid" {
		t.Fatalf("restored links: %+v", l)
	}
	var hooks struct {
		Webhooks []struct{ ID, URL string }
	}
	d2.getJSON(t, "/api/v1/webhooks", &hooks)
	if len(hooks.Webhooks) != 1 || hooks.Webhooks[0].ID != hook || hooks.Webhooks[0].URL != hookURL {
		t.Fatalf("restored webhooks: %+v", hooks)
	}
	r := newRecipient(t, d2.url+strings.TrimPrefix(link, s.url))
	r.login(s2, carl, 2)
	recs := r.recordings()
	if len(recs) != 1 {
		t.Fatalf("recordings of the restored link: %+v", recs)
	}
	if resp, body := r.do("GET", d2.url+recs[0].Audio, ""); resp.StatusCode != http.StatusOK || string(body[:4]) != "RIFF" {
		t.Fatalf("audio of the restored link: %s %.40q", resp.Status, body)
	}
	d2.stop()
	// Restoring over them keeps the files replaced aside, each with its
	// key file.
	stdout.Reset()
	if err := run(ctx, []string{"restore", "--in", out, "--data", data2, "--key-file", key2}, &stdout, &stderr); err != nil {
		t.Fatalf("second restore: %v", err)
	}
	for _, f := range []string{"archive file", "share.db", "webhooks.db"} {
		if !strings.Contains(stdout.String(), "previous "+f) {
			t.Errorf("second restore said nothing of the previous %s: %q", f, stdout.String())
		}
	}
	if kept, _ := filepath.Glob(filepath.Join(data2, "share.db.before-restore-*.gkeys")); len(kept) != 1 {
		t.Errorf("previous grant-key file kept as %v", kept)
	}

	// A backup of the archive alone, as made before backups carried the
	// other stores.
	arc, err := archive.Open(filepath.Join(s.data, "callvault.db"), archive.Options{KeyFile: s.key})
	if err != nil {
		t.Fatal(err)
	}
	defer arc.Close()
	writeBackupFile := func(name string, parts ...archive.BackupPart) string {
		p := filepath.Join(t.TempDir(), name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := arc.WriteBackup(f, parts...); err != nil {
			t.Fatal(err)
		}
		return p
	}
	old := writeBackupFile("old.tar")
	data3, key3 := fresh()
	stdout.Reset()
	if err := run(ctx, []string{"restore", "--in", old, "--data", data3, "--key-file", key3}, &stdout, &stderr); err != nil {
		t.Fatalf("restore of an archive-only backup: %v", err)
	}
	if !strings.Contains(stdout.String(), "seal chain valid") || !strings.Contains(stdout.String(), "holds no external links (share.db) or webhooks (webhooks.db): it was made before") {
		t.Fatalf("restore of an archive-only backup said %q", stdout.String())
	}
	d3 := startDaemon(t, data3)
	d3.getJSON(t, "/api/v1/webhooks", &hooks)
	if len(hooks.Webhooks) != 0 {
		t.Fatalf("webhooks after an archive-only restore: %+v", hooks)
	}
	d3.stop()

	// share.db without share.db.gkeys: a store without a key file written
	// under share.db's name.
	hooksStore, err := webhook.Open(arc, nil, webhook.Options{Path: filepath.Join(t.TempDir(), "w.db")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer hooksStore.Close()
	lone := writeBackupFile("lone.tar", archive.BackupPart{Name: shareFile, Store: hooksStore})
	data4, key4 := fresh()
	err = run(ctx, []string{"restore", "--in", lone, "--data", data4, "--key-file", key4}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "share.db.gkeys") {
		t.Fatalf("restore of share.db without its key file: %v", err)
	}
	if ents, _ := os.ReadDir(data4); len(ents) != 0 {
		t.Fatalf("a refused restore left %v", ents)
	}
}
