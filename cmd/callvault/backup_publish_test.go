package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fakeBackupServer answers GET /api/v1/backup with body and its length
// in the trailer; during, when set, runs after the first half is sent.
func fakeBackupServer(t *testing.T, body []byte, trailer string, during func()) *daemonClient {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", backupBytesTrailer)
		half := len(body) / 2
		w.Write(body[:half])
		w.(http.Flusher).Flush()
		if during != nil {
			during()
		}
		w.Write(body[half:])
		if trailer == "" {
			trailer = strconv.Itoa(len(body))
		}
		w.Header().Set(backupBytesTrailer, trailer)
	}))
	t.Cleanup(srv.Close)
	return &daemonClient{base: srv.URL, user: "admin", pass: "unused", hc: srv.Client()}
}

// dirNames lists dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestBackupIgnoresPlantedPartial: a symlink planted at the name the
// backup used to write through (OUT.partial) is neither followed nor
// touched; the backup lands in OUT and leaves no temporary file.
func TestBackupIgnoresPlantedPartial(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "backup.tar")
	if err := os.Symlink(victim, out+".partial"); err != nil {
		t.Fatal(err)
	}
	body := []byte(strings.Repeat("backup bytes ", 1000))
	n, err := backup(t.Context(), fakeBackupServer(t, body, "", nil), out)
	if err != nil || n != int64(len(body)) {
		t.Fatalf("backup: %d %v", n, err)
	}
	if b, err := os.ReadFile(victim); err != nil || string(b) != "precious" {
		t.Fatalf("the symlink's target was written: %d bytes, %v", len(b), err)
	}
	if target, err := os.Readlink(out + ".partial"); err != nil || target != victim {
		t.Fatalf("planted symlink changed: %q %v", target, err)
	}
	if fi, err := os.Lstat(out); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Fatalf("out: %v %v", fi, err)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != string(body) {
		t.Fatalf("out holds %d bytes, %v", len(b), err)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"backup.tar", "backup.tar.partial"}) {
		t.Fatalf("left in the directory: %q", names)
	}
}

// TestBackupNeverReplacesOut: a file created at OUT while the backup
// downloads (after its check that OUT does not exist) is kept, the backup
// fails saying so, and its temporary file is gone; so after an
// incomplete download.
func TestBackupNeverReplacesOut(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "backup.tar")
	body := []byte(strings.Repeat("backup bytes ", 1000))
	c := fakeBackupServer(t, body, "", func() {
		if err := os.WriteFile(out, []byte("someone else's"), 0o600); err != nil {
			t.Error(err)
		}
	})
	if _, err := backup(t.Context(), c, out); err == nil || !strings.Contains(err.Error(), "not replacing") {
		t.Fatalf("backup over a file created meanwhile: %v", err)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "someone else's" {
		t.Fatalf("out replaced: %d bytes, %v", len(b), err)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"backup.tar"}) {
		t.Fatalf("left in the directory: %q", names)
	}

	// An incomplete download leaves nothing behind either.
	out2 := filepath.Join(dir, "short.tar")
	if _, err := backup(t.Context(), fakeBackupServer(t, body, "999999", nil), out2); err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Fatalf("incomplete backup: %v", err)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"backup.tar"}) {
		t.Fatalf("left in the directory: %q", names)
	}
	// A dangling symlink at OUT counts as existing.
	if err := os.Symlink(filepath.Join(dir, "nowhere"), out2); err != nil {
		t.Fatal(err)
	}
	if _, err := backup(t.Context(), fakeBackupServer(t, body, "", nil), out2); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("backup onto a dangling symlink: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nowhere")); !os.IsNotExist(err) {
		t.Fatalf("symlink followed: %v", err)
	}
}
