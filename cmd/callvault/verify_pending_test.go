package main

import (
	"bytes"
	"context"
	"io"
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
