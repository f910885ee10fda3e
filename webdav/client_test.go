package webdav

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	dav "github.com/emersion/go-webdav"
)

// TestGoWebDAVClient reads the tree with go-webdav's own client.
func TestGoWebDAVClient(t *testing.T) {
	f := newFixture(t, Options{})
	a := f.add(t, "Ærlig-call.pcap", "alice", day, 2*65536+17)
	b := f.add(t, "bob.pcap", "bob", day.Add(time.Minute), 99)
	ctx := context.Background()

	httpc := &http.Client{Timeout: 30 * time.Second}
	c, err := dav.NewClient(dav.HTTPClientWithBasicAuth(httpc, "alice", testPassword), f.srv.URL+"/webdav/")
	if err != nil {
		t.Fatal(err)
	}
	root, err := c.ReadDir(ctx, "/webdav/", false)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, fi := range root {
		paths = append(paths, fi.Path)
		if !fi.IsDir {
			t.Errorf("%s is not a collection", fi.Path)
		}
	}
	if !slices.Equal(paths, []string{"/webdav/", "/webdav/2026/", "/webdav/users/"}) {
		t.Errorf("root %v", paths)
	}
	files, err := c.ReadDir(ctx, "/webdav/2026/11/21/", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 { // the day itself and alice's recording, not bob's
		t.Fatalf("day: %+v", files)
	}
	fi := files[1]
	want := "/webdav/2026/11/21/" + fileName(a, false)
	if fi.Path != want || fi.IsDir || fi.Size != a.OrigSize || fi.ETag != hex.EncodeToString(a.OrigSHA256[:]) ||
		!fi.ModTime.Equal(a.Finished.Truncate(time.Second)) || fi.MIMEType != typePcap {
		t.Errorf("file info %+v, want path %s size %d", fi, want, a.OrigSize)
	}
	st, err := c.Stat(ctx, want)
	if err != nil || st.Size != a.OrigSize {
		t.Errorf("Stat: %+v %v", st, err)
	}
	rc, err := c.Open(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, f.orig[a.ID]) {
		t.Errorf("Open: %d bytes, %v", len(got), err)
	}
	if _, err := c.Stat(ctx, "/webdav/2026/11/21/"+fileName(b, false)); err == nil {
		t.Error("alice can stat bob's recording")
	}
	if _, err := c.ReadDir(ctx, "/webdav/", true); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("recursive ReadDir: %v", err)
	}
	if err := c.Mkdir(ctx, "/webdav/new/"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("Mkdir: %v", err)
	}
	if err := c.RemoveAll(ctx, want); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("RemoveAll: %v", err)
	}
	if err := c.Copy(ctx, want, "/webdav/copy.pcap", nil); err == nil {
		t.Error("Copy succeeded")
	}
	if err := c.Move(ctx, want, "/webdav/moved.pcap", nil); err == nil {
		t.Error("Move succeeded")
	}
	w, err := c.Create(ctx, "/webdav/2026/11/21/new.pcap")
	if err == nil {
		_, _ = w.Write([]byte("x"))
		if err := w.Close(); err == nil || !strings.Contains(err.Error(), "403") {
			t.Errorf("Create: %v", err)
		}
	}
	if _, err := c.Stat(ctx, want); err != nil {
		t.Errorf("after refused writes: %v", err)
	}
}
