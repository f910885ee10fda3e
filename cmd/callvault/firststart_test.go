package main

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callvault/callvault/archive"
)

// TestFirstStartPasswordMinimum: a first-start password from the
// environment or setup.*_password_file shorter than the UI's and the
// API's minimum stops the start with an error naming its source, never
// the password, and no login is made (the next start is a first start
// again); long enough ones, and generated ones, make both logins.
func TestFirstStartPasswordMinimum(t *testing.T) {
	dir := t.TempDir()
	arc, err := archive.Open(filepath.Join(dir, "data", "callvault.db"), archive.Options{KeyFile: filepath.Join(dir, "callvault.key"), KDF: archive.FastKDF()})
	if err != nil {
		t.Fatal(err)
	}
	defer arc.Close()
	const short = "nine-char" // 9 characters
	shortFile := filepath.Join(dir, "ingest-password")
	if err := os.WriteFile(shortFile, []byte(short+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		admin, ingest, ingestFile, source string
	}{
		{admin: short, ingest: testIngestPassword, source: "CALLVAULT_ADMIN_PASSWORD"},
		{admin: testAdminPassword, ingest: short, source: "CALLVAULT_INGEST_PASSWORD"},
		{admin: testAdminPassword, ingestFile: shortFile, source: shortFile},
	} {
		t.Setenv("CALLVAULT_ADMIN_PASSWORD", c.admin)
		t.Setenv("CALLVAULT_INGEST_PASSWORD", c.ingest)
		cfg := defaultConfig()
		cfg.Setup.IngestPasswordFile = c.ingestFile
		var out bytes.Buffer
		err := firstUsers(t.Context(), arc, &cfg, &out)
		if err == nil || !strings.Contains(err.Error(), c.source) || !strings.Contains(err.Error(), "10 characters") || strings.Contains(err.Error()+out.String(), short) {
			t.Fatalf("short password from %s: %v %q", c.source, err, out.String())
		}
		if users, err := arc.Users(t.Context()); err != nil || len(users) != 0 {
			t.Fatalf("after a refused first start: %d users, %v", len(users), err)
		}
	}
	t.Setenv("CALLVAULT_ADMIN_PASSWORD", "ten-chars!") // exactly the minimum
	t.Setenv("CALLVAULT_INGEST_PASSWORD", "")          // generated
	cfg := defaultConfig()
	var out bytes.Buffer
	if err := firstUsers(t.Context(), arc, &cfg, &out); err != nil {
		t.Fatal(err)
	}
	if users, err := arc.Users(t.Context()); err != nil || len(users) != 2 {
		t.Fatalf("first start: %d users, %v", len(users), err)
	}
	if _, err := arc.Authenticate(t.Context(), archive.ClientAddr("127.0.0.1:1"), "admin", "ten-chars!"); err != nil {
		t.Fatalf("admin login: %v", err)
	}
}

// TestFirstStartPassphraseMinimum: a new archive's passphrase from
// CALLVAULT_PASSPHRASE or archive.passphrase_file shorter than the UI's
// minimum stops the start, naming its source, never the passphrase.
func TestFirstStartPassphraseMinimum(t *testing.T) {
	const short = "eleven-char"
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	cfg := defaultConfig()
	cfg.Archive.Data = filepath.Join(dir, "data")
	t.Setenv("CALLVAULT_PASSPHRASE", short)
	_, err := openArchive(&cfg, log)
	if !errors.Is(err, archive.ErrShortPassphrase) || !strings.Contains(err.Error(), "CALLVAULT_PASSPHRASE") || strings.Contains(err.Error(), short) {
		t.Fatalf("short CALLVAULT_PASSPHRASE: %v", err)
	}
	t.Setenv("CALLVAULT_PASSPHRASE", "")
	file := filepath.Join(dir, "passphrase")
	if err := os.WriteFile(file, []byte(short+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Archive.PassphraseFile = file
	_, err = openArchive(&cfg, log)
	if !errors.Is(err, archive.ErrShortPassphrase) || !strings.Contains(err.Error(), "archive.passphrase_file "+file) || strings.Contains(err.Error(), short) {
		t.Fatalf("short archive.passphrase_file: %v", err)
	}
	if err := os.WriteFile(file, []byte("twelve-chars\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	arc, err := openArchive(&cfg, log)
	if err != nil {
		t.Fatalf("12-character passphrase: %v", err)
	}
	arc.Close()
}
