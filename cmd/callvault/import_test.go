package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpusUnique counts the corpus captures and their distinct contents (as
// stored: decompressed).
func corpusUnique(t *testing.T, dir string) (files, unique int) {
	t.Helper()
	fs, _, err := collectCaptures([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[[32]byte]bool{}
	for _, f := range fs {
		sum, err := storedHash(f.path)
		if err != nil {
			t.Fatal(err)
		}
		seen[sum] = true
	}
	return len(fs), len(seen)
}

func importSummary(t *testing.T, out string) (imported, skipped, failed, refused int) {
	t.Helper()
	line := out[strings.LastIndex(out, "import: "):]
	if _, err := fmt.Sscanf(line, "import: %d imported, %d already there, %d failed, %d not captures", &imported, &skipped, &failed, &refused); err != nil {
		t.Fatalf("summary %q: %v", line, err)
	}
	return
}

// TestImportCorpusTwiceThroughDaemon: importing the shared corpus twice into
// a running daemon stores each capture once; the second run skips them all.
func TestImportCorpusTwiceThroughDaemon(t *testing.T) {
	corpus := corpusDir(t)
	files, unique := corpusUnique(t, corpus)
	if files == 0 {
		t.Fatal("no captures in the corpus")
	}
	d := startDaemon(t, "")
	t.Setenv("CALLVAULT_PASSWORD", testIngestPassword)
	ctx := context.Background()
	var first [4]int
	for round := range 2 {
		var stdout, stderr strings.Builder
		err := run(ctx, []string{"import", "--url", d.url, "--user", "ingest", corpus}, &stdout, &stderr)
		if err != nil {
			t.Fatalf("round %d: %v\n%s", round+1, err, stderr.String())
		}
		imp, skip, fail, notCapture := importSummary(t, stdout.String())
		got := [4]int{imp, skip, fail, notCapture}
		if round == 0 {
			first = got
			// Every distinct capture once; the corpus's corrupt files that
			// are no capture at all are left out, not failed.
			if fail != 0 || imp+skip+notCapture != files || imp > unique || imp < unique-notCapture {
				t.Fatalf("round 1: %v of %d files (%d distinct)\n%s", got, files, unique, stderr.String())
			}
		} else if want := [4]int{0, first[0] + first[1], 0, first[3]}; got != want {
			t.Fatalf("round 2: %v, want %v\n%s", got, want, stderr.String())
		}
		// Not a terminal: one plain progress line per file, with rate and ETA.
		if n := strings.Count(stderr.String(), "\n"); n != files || !strings.Contains(stderr.String(), "ETA") || strings.Contains(stderr.String(), "\r") {
			t.Fatalf("round %d: progress output %d lines:\n%s", round+1, n, stderr.String())
		}
	}
	var list struct {
		Recordings []struct{ ID, Name, User string }
	}
	d.getJSON(t, "/api/v1/recordings?limit=1000", &list)
	if len(list.Recordings) != first[0] {
		t.Fatalf("%d recordings after two imports of %d captures", len(list.Recordings), first[0])
	}
}

// TestImportIntoStoppedDataDir: the same into a data directory directly;
// innovaphone names give the call id and user; refused while a daemon
// holds the directory.
func TestImportIntoStoppedDataDir(t *testing.T) {
	corpus := corpusDir(t)
	src, err := os.ReadFile(filepath.Join(corpus, "generated", "pcma_bidir", "capture.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	in := t.TempDir()
	name := "f9e5956e47d460010630009033302ab1-009033302ab1-11--alice.pcap"
	if err := os.WriteFile(filepath.Join(in, name), src, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "notes.txt"), []byte("not a capture"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	data, key := filepath.Join(dir, "data"), filepath.Join(dir, "callvault.key")
	ctx := context.Background()
	for round, want := range [][4]int{{1, 0, 0, 0}, {0, 1, 0, 0}} {
		var stdout, stderr strings.Builder
		if err := run(ctx, []string{"import", "--data", data, "--key-file", key, in}, &stdout, &stderr); err != nil {
			t.Fatalf("round %d: %v", round+1, err)
		}
		if imp, skip, fail, nc := importSummary(t, stdout.String()); [4]int{imp, skip, fail, nc} != want {
			t.Fatalf("round %d: %d %d %d %d, want %v", round+1, imp, skip, fail, nc, want)
		}
	}
	d := startDaemon(t, data)
	var list struct {
		Recordings []struct{ ID, CallID, User string }
	}
	d.getJSON(t, "/api/v1/recordings", &list)
	if len(list.Recordings) != 1 {
		t.Fatalf("recordings %+v", list.Recordings)
	}
	_, body := d.get(t, "/api/v1/recordings/"+list.Recordings[0].ID)
	if !strings.Contains(string(body), "f9e5956e47d460010630009033302ab1") || !strings.Contains(string(body), "alice") {
		t.Fatalf("name metadata not taken from the file name: %s", body)
	}
	var stdout, stderr strings.Builder
	if err := run(ctx, []string{"import", "--data", data, "--key-file", key, in}, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "daemon is running") {
		t.Fatalf("import into a running daemon's directory: %v", err)
	}
}
