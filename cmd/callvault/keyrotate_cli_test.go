package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callvault/callvault/archive"
)

// TestKeyRotateCLI: `callvault key rotate` rotates the key of a stopped
// daemon's archive through the configured link into a key directory (the
// package's layout): the new key at the link's target, the old one kept
// beside it; the archive opens with the link and not with the old key.
// With the archive open (a running daemon) it refuses.
func TestKeyRotateCLI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	link, real := filepath.Join(dir, "callvault.key"), filepath.Join(dir, "key", "callvault.key")
	if err := archive.CreateKeyFile(real); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("key", "callvault.key"), link); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "callvault.toml")
	if err := os.WriteFile(conf, []byte("[archive]\ndata = \""+data+"\"\nkey_file = \""+link+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(data, "callvault.db")
	a, err := archive.Open(db, archive.Options{KeyFile: link})
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	args := []string{"key", "rotate", "--config", conf}
	if err := run(t.Context(), args, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "stop the daemon") {
		t.Fatalf("key rotate with the archive open: %v", err)
	}
	a.Close()
	oldKey, _ := os.ReadFile(real)
	if err := run(t.Context(), args, &stdout, &stderr); err != nil {
		t.Fatalf("key rotate: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if target, err := os.Readlink(link); err != nil || target != filepath.Join("key", "callvault.key") {
		t.Fatalf("link replaced: %q %v", target, err)
	}
	ents, _ := os.ReadDir(filepath.Dir(real))
	if len(ents) != 2 || ents[0].Name() != "callvault.key" || !strings.HasPrefix(ents[1].Name(), "callvault.key.old-") {
		t.Fatalf("key directory holds %v", ents)
	}
	old := filepath.Join(filepath.Dir(real), ents[1].Name())
	if b, _ := os.ReadFile(old); !bytes.Equal(b, oldKey) {
		t.Fatal("the old key was not kept")
	}
	if !strings.Contains(stdout.String(), old) {
		t.Errorf("output does not name the old key %s:\n%s", old, stdout.String())
	}
	if _, err := archive.Open(db, archive.Options{KeyFile: old}); !errors.Is(err, archive.ErrWrongKey) {
		t.Fatalf("old key: %v", err)
	}
	b, err := archive.Open(db, archive.Options{KeyFile: link})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if err := run(t.Context(), []string{"key"}, &stdout, &stderr); err == nil {
		t.Fatal("key without rotate")
	}
}
