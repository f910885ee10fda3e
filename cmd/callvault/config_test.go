package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
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

// TestConfigValueErrors: values the decoder accepts but serve cannot use
// are refused with the file, the line and the key.
func TestConfigValueErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"[log]\n\nformat = \"xml\"\n", ":3: log.format"},
		{"[server]\nlisten = \"nohostport\"\n", ":2: server.listen"},
		{"[server]\nzones = [\"ui\", \"bogus\"]\n", ":2: server.zones: unknown zone \"bogus\""},
		{"[[listeners]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\nzones = [\"ingest\"]\n\n[[listeners]]\nname = \"b\"\nlisten = \"127.0.0.1:2\"\nzones = []\n", ":9: listeners[2].zones"},
		{"[tls]\ncert_file = \"/x.pem\"\n", ":2: tls.cert_file"},
		{"[log.levels]\nrecording = \"loud\"\n", ":2: log.levels.recording"},
		{"[archive]\ndata = \"/srv/cv\"\nkey_file = \"/srv/cv/k\"\n", ":3: archive.key_file"},
		{"[server]\nzones = [\"ops\"]\n", "no listener serves the \"ui\" zone"},
		{"[mail]\nsmtp_host = \"smtp.example.com\"\nfrom = \"a@example.com\"\nsecurity = \"ssl\"\n", ":4: mail.security: \"ssl\": use none, starttls or tls"},
		{"[mail]\nsmtp_host = \"smtp.example.com\"\n", ": mail.from: is empty"},
		{"[mail]\nsmtp_host = \"smtp.example.com\"\nfrom = \"a@example.com\"\nusername = \"archive\"\n", ": mail.password_file: is empty but mail.username is set"},
	} {
		p := writeConfig(t, c.text)
		_, err := loadConfig(p)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), p) {
			t.Errorf("%q: error %v, want %s%s…", c.text, err, p, c.want)
		}
	}
	// Flags override the file.
	cfg, err := loadConfig(writeConfig(t, "[server]\nlisten = \"127.0.0.1:1\"\n"), func(c *Config) { c.Server.Listen = "127.0.0.1:2" })
	if err != nil || cfg.Server.Listen != "127.0.0.1:2" {
		t.Fatalf("override: %v %v", cfg.Server.Listen, err)
	}
}

// TestPackagedConfig: packaging/callvault.toml is valid, and with its
// commented defaults uncommented it sets every key the daemon knows, so it
// documents them all.
func TestPackagedConfig(t *testing.T) {
	path := filepath.Join("..", "..", "packaging", "callvault.toml")
	if _, err := loadConfig(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for line := range strings.Lines(string(b)) {
		if s, ok := strings.CutPrefix(line, "# "); ok && (strings.Contains(s, " = ") || strings.HasPrefix(s, "[")) {
			line = s
		}
		lines = append(lines, line)
	}
	full := writeConfig(t, strings.Join(lines, ""))
	if _, err := loadConfig(full); err != nil {
		t.Fatalf("packaged config with defaults uncommented: %v", err)
	}
	keys := keyLines([]byte(strings.Join(lines, "")))
	for _, k := range configKeys(reflect.TypeOf(Config{}), "") {
		if keys[k] == 0 && keys[strings.Replace(k, "listeners.", "listeners[1].", 1)] == 0 {
			t.Errorf("packaging/callvault.toml does not document %s", k)
		}
	}
	// Every commented default is the embedded default.
	def := defaultConfig()
	if def.Server.ReadHeaderTimeout.String() != "10s" || !strings.Contains(string(b), "# read_header_timeout = \"10s\"") {
		t.Error("read_header_timeout default out of step")
	}
	if !strings.Contains(string(b), fmt.Sprintf("# min_free_mb = %d", def.Health.MinFreeMB)) ||
		!strings.Contains(string(b), fmt.Sprintf("# prefix = %q", def.Ingest.Prefix)) {
		t.Error("documented defaults out of step with defaultConfig")
	}
}

// configKeys lists the dotted TOML keys of a config struct.
func configKeys(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Tag.Get("toml") == "-" {
			continue
		}
		name := prefix + f.Tag.Get("toml")
		ft := f.Type
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(Duration{}) {
			out = append(out, configKeys(ft, name+".")...)
			continue
		}
		out = append(out, name)
	}
	return out
}

// TestConfigCommand: config check accepts a good file and names the line
// of a bad one; keygen writes a key the archive opens and never replaces it.
func TestConfigCommand(t *testing.T) {
	ctx := context.Background()
	var out, errb strings.Builder
	good := writeConfig(t, "[server]\nlisten = \"127.0.0.1:0\"\n")
	if err := run(ctx, []string{"config", "check", good}, &out, &errb); err != nil || !strings.Contains(out.String(), "ok") {
		t.Fatalf("check good: %v %q", err, out.String())
	}
	bad := writeConfig(t, "[server]\n\nlisten = 5\n")
	if err := run(ctx, []string{"config", "check", bad}, &out, &errb); err == nil || !strings.Contains(err.Error(), bad+":3:") {
		t.Fatalf("check bad: %v", err)
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "k")
	if err := run(ctx, []string{"config", "keygen", key}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	before, _ := os.ReadFile(key)
	// One key-file format, the archive's: keygen writes what first start writes.
	if !strings.HasPrefix(string(before), "# callvault archive key (format 1): 32 random bytes as 64 hex digits.\n") {
		t.Fatalf("keygen wrote a key file not in the archive's format:\n%s", strings.SplitN(string(before), "\n", 2)[0])
	}
	if err := run(ctx, []string{"config", "keygen", key}, &out, &errb); err == nil || !strings.Contains(err.Error(), "not replacing an archive key") {
		t.Fatal("keygen replaced a key")
	}
	if after, _ := os.ReadFile(key); string(after) != string(before) {
		t.Fatal("key changed")
	}
	arc, err := archive.Open(filepath.Join(dir, "data", "callvault.db"), archive.Options{KeyFile: key, KDF: archive.FastKDF()})
	if err != nil {
		t.Fatalf("archive does not open with the generated key: %v", err)
	}
	arc.Close()
}
