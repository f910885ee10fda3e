package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/webtest"
)

// TestVerifyCommandExportsPending: `callvault verify` of a recording
// whose seal's export hashes were not written yet (the daemon stopped
// between the answer and the exports entry) reports it verified with the
// export hashes pending; the uploads sealed in full say nothing of it.
func TestVerifyCommandExportsPending(t *testing.T) {
	d := startDaemon(t, "")
	d.stop()
	arc, err := archive.Open(filepath.Join(d.data, "callvault.db"), archive.Options{KeyFile: d.key})
	if err != nil {
		t.Fatal(err)
	}
	rec := webtest.AddRec(t, arc, arc.Now(), "alice", 1000, 0, false)
	if err := arc.SealDeferred(context.Background(), rec.ID); err != nil {
		t.Fatal(err)
	}
	if err := arc.Close(); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"verify", "--data", d.data, "--key-file", d.key}, &stdout, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if !strings.Contains(stdout.String(), rec.ID.String()+"\tok\texport hashes pending") || !strings.Contains(stdout.String(), "chain\tok") {
		t.Fatalf("output:\n%s", stdout.String())
	}
}

// TestImportSealsExportHashes: `callvault import` into a data directory
// waits for the export hashes of what it imported before it closes the
// archive, so nothing is left due.
func TestImportSealsExportHashes(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(corpusDir(t), "generated", "pcma_bidir", "capture.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	in := t.TempDir()
	if err := os.WriteFile(filepath.Join(in, "f9e5956e47d460010630009033302ab1-009033302ab1-11--alice.pcap"), src, 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	data, key := filepath.Join(dir, "data"), filepath.Join(dir, "callvault.key")
	var stdout, stderr strings.Builder
	if err := run(context.Background(), []string{"import", "--data", data, "--key-file", key, in}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	arc, err := archive.Open(filepath.Join(data, "callvault.db"), archive.Options{KeyFile: key})
	if err != nil {
		t.Fatal(err)
	}
	defer arc.Close()
	ctx := context.Background()
	if due, err := arc.ExportsDue(ctx); err != nil || len(due) != 0 {
		t.Fatalf("export hashes left due: %v %v", due, err)
	}
	ids, err := arc.Stored(ctx)
	if err != nil || len(ids) != 1 {
		t.Fatalf("stored %v %v", ids, err)
	}
	rec, err := arc.Get(ctx, ids[0])
	if err != nil || rec.Seal == nil || !rec.Seal.Deferred || rec.Seal.Later == nil {
		t.Fatalf("seal %+v %v", rec.Seal, err)
	}
}
