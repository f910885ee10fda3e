package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
		Recordings []struct {
			ID, Name, User string
			Imported       bool
		}
	}
	d.getJSON(t, "/api/v1/recordings?limit=1000", &list)
	if len(list.Recordings) != first[0] {
		t.Fatalf("%d recordings after two imports of %d captures", len(list.Recordings), first[0])
	}
	for _, r := range list.Recordings {
		if !r.Imported {
			t.Fatalf("recording %s not marked imported", r.ID)
		}
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
	if !strings.Contains(string(body), `"imported": true`) {
		t.Fatalf("an import is not marked imported: %s", body)
	}
	var stdout, stderr strings.Builder
	if err := run(ctx, []string{"import", "--data", data, "--key-file", key, in}, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "daemon is running") {
		t.Fatalf("import into a running daemon's directory: %v", err)
	}
}

// TestImportTooLarge: import keeps to ingest.max_upload_mb as the daemon
// does, into a data directory as through a daemon: a capture larger than
// the limit is reported as too large (not as a failure to retry), only its
// first max_upload_mb is stored, as an interrupted recording, and the
// command ends in an error.
func TestImportTooLarge(t *testing.T) {
	in := t.TempDir()
	small := fmt.Sprintf("%032x-009033302ab1-11--alice.pcap", 0xa0)
	big := fmt.Sprintf("%032x-009033302ab1-11--bob.pcap", 0xb0)
	for name, c := range map[string]synthCall{small: {seconds: 5}, big: {seconds: 60, callID: "big@pbx.test"}} {
		if err := os.WriteFile(filepath.Join(in, name), synthPcap(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := writeTestConfig(t, "[ingest]\nmax_upload_mb = 1\n")
	ctx := context.Background()
	check := func(how string, args ...string) {
		t.Helper()
		var stdout, stderr strings.Builder
		err := run(ctx, append(append([]string{"import", "--config", cfg}, args...), in), &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), "1 files larger than ingest.max_upload_mb") {
			t.Fatalf("%s: %v, want the too-large file reported\n%s", how, err, stderr.String())
		}
		line := stdout.String()[strings.LastIndex(stdout.String(), "import: "):]
		var imp, skip, fail, nc, large int
		if _, err := fmt.Sscanf(line, "import: %d imported, %d already there, %d failed, %d not captures, %d too large", &imp, &skip, &fail, &nc, &large); err != nil {
			t.Fatalf("%s: summary %q: %v", how, line, err)
		}
		if [5]int{imp, skip, fail, nc, large} != [5]int{1, 0, 0, 0, 1} {
			t.Fatalf("%s: %q, want 1 imported and 1 too large", how, line)
		}
		if !strings.Contains(stderr.String(), big) || !strings.Contains(stderr.String(), "TOO LARGE: larger than ingest.max_upload_mb") {
			t.Fatalf("%s: progress does not name the too-large file:\n%s", how, stderr.String())
		}
	}
	checkStored := func(d *daemon) {
		t.Helper()
		var states []string
		for id, r := range d.recordings(t) {
			if r.State == "interrupted" {
				if _, orig := d.get(t, "/api/v1/recordings/"+id+"/original.pcap"); len(orig) != 1<<20 {
					t.Fatalf("too-large capture stored %d bytes, want the limit, 1 MiB", len(orig))
				}
			}
			states = append(states, r.State)
		}
		slices.Sort(states)
		if !slices.Equal(states, []string{"complete", "interrupted"}) {
			t.Fatalf("recordings %v, want one complete and the too-large one interrupted", states)
		}
	}

	// Into the data directory of a stopped daemon.
	dir := t.TempDir()
	data, key := filepath.Join(dir, "data"), filepath.Join(dir, "callvault.key")
	check("--data", "--data", data, "--key-file", key)
	d := startDaemon(t, data)
	checkStored(d)
	d.stop()

	// Through a daemon with the same limit.
	d = startDaemonWith(t, "", func(o *serveOptions) { o.config = cfg })
	t.Setenv("CALLVAULT_PASSWORD", testIngestPassword)
	check("--url", "--url", d.url, "--user", "ingest")
}
