package archive

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/callvault/callvault/internal/testchild"
)

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// recoverAll does what the daemon does on start: Resume, Finish as
// interrupted, Seal.
func recoverAll(t *testing.T, a *Archive) map[ID]*Recording {
	t.Helper()
	ctx := t.Context()
	ids, err := a.Unfinished(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[ID]*Recording{}
	for _, id := range ids {
		// The committed original is readable before Resume.
		b, err := a.OpenBlob(ctx, id, BlobOriginal)
		if err != nil {
			t.Fatal(err)
		}
		before, err := io.ReadAll(b)
		if err != nil {
			t.Fatal(err)
		}
		w, err := a.Resume(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if w.OriginalSize() != int64(len(before)) {
			t.Fatalf("resumed size %d, readable %d", w.OriginalSize(), len(before))
		}
		if _, err := w.WriteMap([]byte("rebuilt map")); err != nil {
			t.Fatal(err)
		}
		r, err := w.Finish(ctx, Final{State: StateInterrupted})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Seal(ctx, id, nil); err != nil {
			t.Fatal(err)
		}
		if res, err := a.Verify(ctx, id, nil); err != nil || !res.Valid {
			t.Fatalf("verify recovered: %v %v", err, res.Problems)
		}
		out[id] = r
	}
	if ids, _ := a.Unfinished(ctx); len(ids) != 0 {
		t.Fatalf("still unfinished: %v", ids)
	}
	return out
}

// TestResumeAfterUncleanStop copies the file while the archive is open
// (what a power cut leaves) and recovers the copy.
func TestResumeAfterUncleanStop(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	orig := data(5*ChunkSize+777, 5)
	w, err := a.Create(ctx, NewRecording{FileName: "cut.pcap"})
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, w.WriteOriginal, orig[:3*ChunkSize+100], 1000)
	writeAll(t, w.WriteMap, data(5000, 1), 0)
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	done := record(t, a, NewRecording{}, data(ChunkSize+1, 6), nil, Final{})
	empty, err := a.Create(ctx, NewRecording{}) // nothing written
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	copyFile(t, a.Path(), filepath.Join(dir, "archive.db"))
	copyFile(t, SlotFile(a.Path()), SlotFile(filepath.Join(dir, "archive.db")))
	copyFile(t, ChunkFile(a.Path()), ChunkFile(filepath.Join(dir, "archive.db")))
	copyFile(t, filepath.Join(filepath.Dir(a.Path()), "archive.key"), filepath.Join(dir, "archive.key"))
	// The original goes on after the "crash".
	writeAll(t, w.WriteOriginal, orig[3*ChunkSize+100:], 0)

	b, err := Open(filepath.Join(dir, "archive.db"), Options{KeyFile: filepath.Join(dir, "archive.key"), KDF: FastKDF()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ids, err := b.Unfinished(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []ID{w.ID(), empty.ID()}
	slices.SortFunc(want, func(x, y ID) int { return bytes.Compare(x[:], y[:]) })
	if !slices.Equal(ids, want) {
		t.Fatalf("Unfinished = %v, want %v", ids, want)
	}
	got := recoverAll(t, b)
	r := got[w.ID()]
	if r.OrigSize != 3*ChunkSize || r.State != StateInterrupted || r.FileName != "cut.pcap" {
		t.Fatalf("recovered %+v", r)
	}
	if data := readBlob(t, b, w.ID(), BlobOriginal); !bytes.Equal(data, orig[:3*ChunkSize]) {
		t.Fatal("recovered original differs")
	}
	if m := readBlob(t, b, w.ID(), BlobMap); string(m) != "rebuilt map" {
		t.Fatalf("map not reset: %q", m)
	}
	if got[empty.ID()].OrigSize != 0 {
		t.Fatal("empty recording")
	}
	if res, err := b.Verify(ctx, done.ID, nil); err != nil || !hasProblem(res, "not sealed") || len(res.Problems) != 1 {
		t.Fatalf("finished recording after crash: %v %v", err, res.Problems)
	}
	if res, err := b.VerifyChain(ctx); err != nil || !res.Valid {
		t.Fatalf("chain: %v %v", err, res.Problems)
	}
}

const (
	crashEnv     = "CALLVAULT_ARCHIVE_CRASH_DIR"
	crashStepEnv = "CALLVAULT_ARCHIVE_CRASH_STEP" // bytes per write after the Sync
)

// TestCrashChild is the child process of TestKill9: it writes, syncs,
// reports, and keeps writing until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("child process of TestKill9")
	}
	a, err := Open(filepath.Join(dir, "archive.db"), Options{KeyFile: filepath.Join(dir, "archive.key"), KDF: FastKDF(), CommitInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	done := record(t, a, NewRecording{FileName: "done"}, data(2*ChunkSize+3, 1), data(99, 2), Final{})
	w, err := a.Create(ctx, NewRecording{FileName: "live"})
	if err != nil {
		t.Fatal(err)
	}
	orig := data(64*ChunkSize, 3)
	writeAll(t, w.WriteOriginal, orig[:5*ChunkSize+1234], 3000)
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("synced %s %s %d\n", done.ID, w.ID(), w.OriginalSize())
	os.Stdout.Sync()
	step := 4000
	if s, err := strconv.Atoi(os.Getenv(crashStepEnv)); err == nil && s > 0 {
		step = s
	}
	p := orig[5*ChunkSize+1234:]
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		n := min(len(p), step)
		if n == 0 {
			break
		}
		w.WriteOriginal(p[:n])
		p = p[n:]
	}
	select {} // wait for SIGKILL
}

// TestKill9 kills a writing process with SIGKILL and checks that what
// Sync and Finish returned for survived.
func TestKill9(t *testing.T) { kill9(t, 4000) }

// TestKill9Pipelined is TestKill9 with writes of several chunks at once,
// so the writer's pipeline holds full chunks not yet sealed and queued when
// the process dies: what was synced survives, and what was committed after
// it is a contiguous run of the original.
func TestKill9Pipelined(t *testing.T) { kill9(t, 5*ChunkSize/2) }

func kill9(t *testing.T, step int) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	dir := t.TempDir()
	cmd := testchild.Command("TestCrashChild", crashEnv+"="+dir, crashStepEnv+"="+strconv.Itoa(step))
	line, _ := testchild.Until(testchild.Start(t, cmd), "synced ")
	time.Sleep(50 * time.Millisecond) // let it write some more
	testchild.Kill(cmd)               // SIGKILL
	var doneS, liveS string
	var synced int64
	if _, err := fmt.Sscanf(line, "%s %s %d", &doneS, &liveS, &synced); err != nil {
		t.Fatalf("child said %q: %v", "synced "+line, err)
	}
	doneID, _ := ParseID(doneS)
	liveID, _ := ParseID(liveS)

	a, err := Open(filepath.Join(dir, "archive.db"), Options{KeyFile: filepath.Join(dir, "archive.key"), KDF: FastKDF()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Check(); err != nil {
		t.Fatal(err)
	}
	if got := readBlob(t, a, doneID, BlobOriginal); !bytes.Equal(got, data(2*ChunkSize+3, 1)) {
		t.Fatal("finished recording lost")
	}
	got := recoverAll(t, a)
	r, ok := got[liveID]
	if !ok {
		t.Fatal("live recording not in Unfinished")
	}
	if r.OrigSize < synced/ChunkSize*ChunkSize {
		t.Fatalf("recovered %d bytes, %d were synced", r.OrigSize, synced)
	}
	if b := readBlob(t, a, liveID, BlobOriginal); !bytes.Equal(b, data(64*ChunkSize, 3)[:len(b)]) {
		t.Fatal("recovered original differs")
	}
	t.Logf("synced %d bytes, recovered %d", synced, r.OrigSize)
}
