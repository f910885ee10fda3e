package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
)

// TestStorageConfig: [storage] is bbolt by default, postgres+s3 needs its
// database and S3 keys, every mistake is named by its key, and neither
// the errors nor the description of the storage show the database
// password.
func TestStorageConfig(t *testing.T) {
	dir := t.TempDir()
	access, secret := filepath.Join(dir, "access"), filepath.Join(dir, "secret")
	os.WriteFile(access, []byte("AKID\n"), 0o600)
	os.WriteFile(secret, []byte("s3-secret-value\n"), 0o600)
	const pw = "pg-pass-word"
	good := fmt.Sprintf(`[storage]
backend = "postgres+s3"
postgres_url = "postgres://callvault:%s@db.example.net:5432/callvault"
s3_endpoint = "https://s3.example.net"
s3_bucket = "callvault-chunks"
s3_access_key_file = %q
s3_secret_key_file = %q
`, pw, access, secret)

	cfg, err := loadConfig(writeConfig(t, "[archive]\ndata = \"d\"\n"))
	if err != nil || cfg.Storage.Backend != "bbolt" {
		t.Fatalf("default storage: %q %v", cfg.Storage.Backend, err)
	}
	cfg, err = loadConfig(writeConfig(t, good))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.checkFiles(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"config", "check", writeConfig(t, good)}, &out, &out); err != nil || !strings.Contains(out.String(), "storage postgres+s3") || strings.Contains(out.String(), pw) {
		t.Fatalf("config check: %v %s", err, out.String())
	}
	opt, err := cfg.Storage.pgkvOptions()
	if err != nil || opt.S3.AccessKey != "AKID" || opt.S3.SecretKey != "s3-secret-value" || len(opt.BlobBuckets) == 0 || len(opt.ShredBuckets) == 0 || len(opt.CacheBuckets) == 0 {
		t.Fatalf("store options: %v %+v", err, opt.S3)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("started", "storage", cfg.Storage)
	for _, shown := range []string{cfg.Storage.String(), fmt.Sprint(cfg.Storage), fmt.Sprintf("%v", cfg.Storage), logged.String()} {
		if strings.Contains(shown, pw) || strings.Contains(shown, "s3-secret-value") || !strings.Contains(shown, "db.example.net") {
			t.Errorf("storage shown as %q", shown)
		}
	}
	for _, dsn := range []string{"host=db password=" + pw + " dbname=x", "postgres://db/x?sslmode=disable&password=" + pw, "host=db password='" + pw + "' dbname=x"} {
		if got := redactURL(dsn); strings.Contains(got, pw) {
			t.Errorf("redactURL(%q) = %q", dsn, got)
		}
	}

	files := fmt.Sprintf("s3_access_key_file = %q\ns3_secret_key_file = %q\n", access, secret)
	for _, c := range []struct{ text, want string }{
		{"[storage]\nbackend = \"postgres\"\n", "storage.backend"},
		{"[storage]\npostgres_url = \"postgres://h/db\"\n", "storage.postgres_url: is set, but storage.backend is \"bbolt\""},
		{"[storage]\ns3_bucket = \"b\"\n", "storage.s3_bucket: is set"},
		{"[storage]\nbackend = \"postgres+s3\"\ns3_endpoint = \"https://s3\"\ns3_bucket = \"bkt\"\n" + files, "storage.postgres_url: is empty"},
		{"[storage]\nbackend = \"postgres+s3\"\npostgres_url = \"postgres://u:" + pw + "@h/db\"\npostgres_url_file = \"/x\"\ns3_endpoint = \"https://s3\"\ns3_bucket = \"bkt\"\n" + files, "not both"},
		{"[storage]\nbackend = \"postgres+s3\"\npostgres_url = \"nonsense-" + pw + "\"\ns3_endpoint = \"https://s3\"\ns3_bucket = \"bkt\"\n" + files, "storage.postgres_url: not a postgres:// URL"},
		{"[storage]\nbackend = \"postgres+s3\"\npostgres_url = \"postgres://h/db\"\ns3_bucket = \"bkt\"\n" + files, "storage.s3_endpoint"},
		{"[storage]\nbackend = \"postgres+s3\"\npostgres_url = \"postgres://h/db\"\ns3_endpoint = \"ftp://s3\"\ns3_bucket = \"bkt\"\n" + files, "storage.s3_endpoint"},
		{"[storage]\nbackend = \"postgres+s3\"\npostgres_url = \"postgres://h/db\"\ns3_endpoint = \"https://s3\"\ns3_bucket = \"Bad_Bucket\"\n" + files, "storage.s3_bucket"},
		{"[storage]\nbackend = \"postgres+s3\"\npostgres_url = \"postgres://h/db\"\ns3_endpoint = \"https://s3\"\ns3_bucket = \"bkt\"\n", "storage.s3_access_key_file: is empty"},
		{"[storage]\nbackend = \"postgres+s3\"\npostgres_url = \"postgres://h/db\"\ns3_endpoint = \"https://s3\"\ns3_bucket = \"bkt\"\ns3_access_key_file = \"/a\"\n", "storage.s3_secret_key_file: is empty"},
	} {
		_, err := loadConfig(writeConfig(t, c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error with %q", c.text, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("error shows the password: %v", err)
		}
		if !strings.Contains(err.Error(), ".toml:") {
			t.Errorf("error names no line: %v", err)
		}
	}
	// A secret file that cannot be read fails config check, named by key.
	missing := strings.Replace(good, secret, filepath.Join(dir, "absent"), 1)
	cfg, err = loadConfig(writeConfig(t, missing))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.checkFiles(); err == nil || !strings.Contains(err.Error(), "storage.s3_secret_key_file") {
		t.Fatalf("missing secret file: %v", err)
	}
}

// TestDaemonPostgres runs the daemon on PostgreSQL + S3: a call uploaded
// is listed, plays as WAV and verifies, the chunks are objects in S3 and
// no bbolt file is made; the password in the database URL is not logged;
// a restarted daemon finds everything again.
func TestDaemonPostgres(t *testing.T) {
	const pw = "pw-never-logged" // trust authentication ignores it
	dir := t.TempDir()
	st := startPostgresStorage(t, dir, pw)
	data := filepath.Join(dir, "data")
	withConfig := st.withConfig

	d := startDaemonWith(t, data, withConfig)
	id := d.ingestSynth(t, "dddddddddddddddddddddddddddd0001", "alice", synthCall{seconds: 3, callID: "pg-1@pbx",
		from: synthParty{"Alice", "alice"}, to: synthParty{"Bob", "bob"}})
	if id == "" {
		t.Fatal("upload answered no id")
	}
	deadline := time.Now().Add(time.Minute)
	for !d.recordings(t)[id].Sealed {
		if time.Now().After(deadline) {
			t.Fatalf("recording %s not listed sealed: %+v", id, d.recordings(t))
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, wav := d.get(t, "/api/v1/recordings/"+id+"/audio.wav")
	if resp.StatusCode != 200 {
		t.Fatalf("WAV: %s", resp.Status)
	}
	ch := wavSamples(t, wav)
	if len(ch) != 2 || len(ch[0]) < 2*8000 {
		t.Fatalf("WAV of a 3 s call: %d channels, %d samples", len(ch), len(ch[0]))
	}
	d.mustVerify(t, id)
	d.mustVerifyChain(t)

	if len(st.objectFiles(t)) == 0 {
		t.Fatal("no chunk objects in S3")
	}
	// Neither a bbolt file nor a data-key file: the keys are objects.
	for _, f := range []string{"callvault.db", archive.SlotFile("callvault.db")} {
		if _, err := os.Stat(filepath.Join(data, f)); !os.IsNotExist(err) {
			t.Fatalf("%s in the data directory: %v", f, err)
		}
	}
	if resp, body := d.get(t, "/api/v1/backup"); resp.StatusCode != http.StatusNotImplemented || !strings.Contains(string(body), "not a bbolt file") {
		t.Fatalf("backup: %s %s", resp.Status, body)
	}
	d.stop()
	if out := d.out.String(); strings.Contains(out, pw) || !strings.Contains(out, "postgres+s3") {
		t.Fatalf("daemon output shows the password or not the storage:\n%s", out)
	}

	d = startDaemonWith(t, data, withConfig)
	defer d.stop()
	if !d.recordings(t)[id].Sealed {
		t.Fatalf("after restart: %+v", d.recordings(t))
	}
	d.mustVerify(t, id)
	d.mustVerifyChain(t)
}

// TestStorageBoltOnlyCommands: compact, salvage, restore and import
// --data work on the bbolt file; with the archive on PostgreSQL + S3 they
// refuse, saying why, and leave no bbolt file behind.
func TestStorageBoltOnlyCommands(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	conf := writeConfig(t, fmt.Sprintf(`[archive]
data = %q
key_file = %q
[storage]
backend = "postgres+s3"
postgres_url = "postgres://callvault@127.0.0.1:1/callvault"
s3_endpoint = "http://127.0.0.1:1"
s3_bucket = "callvault"
s3_access_key_file = "/nonexistent/a"
s3_secret_key_file = "/nonexistent/s"
`, data, filepath.Join(dir, "callvault.key")))
	for _, args := range [][]string{
		{"compact", "--config", conf},
		{"salvage", "--config", conf, "--out", filepath.Join(dir, "out")},
		{"restore", "--config", conf, "--in", filepath.Join(dir, "backup.tar")},
		{"import", "--config", conf, "--data", data, dir},
	} {
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), "works on the bbolt file") || !strings.Contains(err.Error(), "postgres+s3") {
			t.Errorf("%s: %v", args[0], err)
		}
		if _, err := os.Stat(filepath.Join(data, "callvault.db")); !os.IsNotExist(err) {
			t.Fatalf("%s made a bbolt file: %v", args[0], err)
		}
	}
}
