package recorder

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/internal/testchild"
)

// heldRecorder is a recorder over arc whose export worker writes no
// exports entry until release is called.
func heldRecorder(t *testing.T, arc *archive.Archive) (r *Recorder, release func()) {
	t.Helper()
	r, err := New(arc, Config{Prefix: "/recordings/Files/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hold := make(chan struct{})
	r.exports.mu.Lock()
	r.exports.hold = hold
	r.exports.mu.Unlock()
	return r, func() { close(hold) }
}

// restart is the recorder of the next start over arc: Recover run, and
// the export hashes it queued sealed.
func restart(t *testing.T, arc *archive.Archive) *Recorder {
	t.Helper()
	r, err := New(arc, Config{Prefix: "/recordings/Files/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.Wait()
	return r
}

// checkExportsSealed checks that rec's seal is deferred and its exports
// entry holds the hash of each call's WAV as served, and that the
// recording verifies with both entries.
func checkExportsSealed(t *testing.T, r *Recorder, arc *archive.Archive, id archive.ID) {
	t.Helper()
	ctx := context.Background()
	rec, err := arc.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	s := rec.Seal
	if s == nil || !s.Deferred || s.Pending() || s.Later.SealSeq != s.Seq || len(s.Exports) == 0 {
		t.Fatalf("seal: %+v", s)
	}
	for i, want := range s.Exports {
		wav, err := r.WAV(ctx, []*archive.Recording{rec}, i, codec.WAVOptions{})
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		if _, err := io.Copy(h, wav); err != nil {
			t.Fatal(err)
		}
		if [32]byte(h.Sum(nil)) != want {
			t.Fatalf("call %d: the WAV served is not the sealed export", i)
		}
	}
	if err := s.Verify(arc.PublicKey()); err != nil {
		t.Fatal(err)
	}
	res, err := arc.Verify(ctx, id, func(rec *archive.Recording) ([][32]byte, error) { return r.Exports(ctx, rec) })
	if err != nil || !res.Valid || res.ExportsPending {
		t.Fatalf("verify: %+v %v", res, err)
	}
	if due, err := arc.ExportsDue(ctx); err != nil || len(due) != 0 {
		t.Fatalf("still due: %v %v", due, err)
	}
	if chain, err := arc.VerifyChain(ctx); err != nil || !chain.Valid {
		t.Fatalf("chain: %+v %v", chain, err)
	}
}

// The upload is answered with original, map and metadata sealed; the
// export hashes follow in a second chain entry.
func TestIngestSealsExportsAfterTheAnswer(t *testing.T) {
	arc := archivetest.OpenTest(t)
	r, release := heldRecorder(t, arc)
	ctx := context.Background()
	rec, err := r.Ingest(ctx, "a.pcap", bytes.NewReader(makeCallPcap(testCall{seconds: 3, pt: 0})))
	if err != nil {
		t.Fatal(err)
	}
	// Answered while the worker is held: sealed, export hashes pending.
	if rec.Seal == nil || !rec.Seal.Pending() {
		t.Fatalf("answered with seal %+v", rec.Seal)
	}
	if due, err := arc.ExportsDue(ctx); err != nil || !slices.Equal(due, []archive.ID{rec.ID}) {
		t.Fatalf("due: %v %v", due, err)
	}
	res, err := arc.Verify(ctx, rec.ID, func(rec *archive.Recording) ([][32]byte, error) { return r.Exports(ctx, rec) })
	if err != nil || !res.Valid || !res.Sealed || !res.ExportsPending {
		t.Fatalf("verify while pending: %+v %v", res, err)
	}
	release()
	r.Wait()
	checkExportsSealed(t, r, arc, rec.ID)
}

// A download writes the pending exports entry at once.
func TestSealExportsNow(t *testing.T) {
	arc := archivetest.OpenTest(t)
	r, release := heldRecorder(t, arc)
	defer r.Wait()
	defer release()
	ctx := context.Background()
	rec, err := r.Ingest(ctx, "a.pcap", bytes.NewReader(makeCallPcap(testCall{seconds: 2, pt: 8})))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SealExportsNow(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	checkExportsSealed(t, r, arc, rec.ID)
}

const exportsCrashEnv = "CALLVAULT_RECORDER_EXPORTS_CRASH_DIR"

// killChildAfter runs test child of this test binary with env set, reads
// its output until a line starting with prefix, and kills it with
// SIGKILL. It returns the rest of that line and whether one came.
func killChildAfter(t *testing.T, child, env, prefix string) (string, bool) {
	t.Helper()
	cmd := testchild.Command(child, env)
	rest, found := testchild.Until(testchild.Start(t, cmd), prefix)
	testchild.Kill(cmd)
	return rest, found
}

func openArchiveIn(t *testing.T, dir string) *archive.Archive {
	t.Helper()
	arc, err := archive.Open(filepath.Join(dir, "archive.db"), archivetest.Defaults(dir, archive.Options{CommitInterval: 5 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	return arc
}

// TestExportsCrashChild is the child process of
// TestExportsAfterKill9: it stores an upload, says it was answered, and
// waits to be killed with its export worker held.
func TestExportsCrashChild(t *testing.T) {
	dir := os.Getenv(exportsCrashEnv)
	if dir == "" {
		t.Skip("child process of TestExportsAfterKill9")
	}
	arc := openArchiveIn(t, dir)
	r, _ := heldRecorder(t, arc)
	rec, err := r.Ingest(context.Background(), "a.pcap", bytes.NewReader(makeCallPcap(testCall{seconds: 4, pt: 0})))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("answered", rec.ID)
	os.Stdout.Sync()
	select {} // wait for SIGKILL
}

// TestExportsAfterKill9: an upload answered, the process killed with
// SIGKILL before its exports entry was written: the next start writes it.
func TestExportsAfterKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	dir := t.TempDir()
	answered, _ := killChildAfter(t, "TestExportsCrashChild", exportsCrashEnv+"="+dir, "answered ")
	id, err := archive.ParseID(answered)
	if err != nil {
		t.Fatalf("the child did not answer: %q", answered)
	}

	arc := openArchiveIn(t, dir)
	defer arc.Close()
	ctx := context.Background()
	rec, err := arc.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Seal == nil || !rec.Seal.Pending() {
		t.Fatalf("after the kill: seal %+v", rec.Seal)
	}
	if due, err := arc.ExportsDue(ctx); err != nil || !slices.Equal(due, []archive.ID{id}) {
		t.Fatalf("due after the kill: %v %v", due, err)
	}
	checkExportsSealed(t, restart(t, arc), arc, id)
}

// Close does not wait for the export hashes still queued: they stay due
// in the archive, and the next start seals them. Nothing is lost.
func TestCloseLeavesExportsDue(t *testing.T) {
	arc := archivetest.OpenTest(t)
	r, release := heldRecorder(t, arc)
	ctx := context.Background()
	var ids []archive.ID
	for i := range 3 {
		rec, err := r.Ingest(ctx, fmt.Sprintf("c%d.pcap", i), bytes.NewReader(makeCallPcap(testCall{seconds: 2, pt: 0})))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.ID)
	}
	// The worker holds at most the first recording; Close drops the
	// rest from memory and waits for that one, let go once Close has
	// begun.
	closed := make(chan struct{})
	go func() { r.Close(); close(closed) }()
	for {
		r.exports.mu.Lock()
		c := r.exports.closed
		r.exports.mu.Unlock()
		if c {
			break
		}
		time.Sleep(time.Millisecond)
	}
	release()
	<-closed
	due, err := arc.ExportsDue(ctx)
	if err != nil || len(due) < 2 {
		t.Fatalf("due after Close: %v %v", due, err)
	}
	r.queueExports(ids...) // taken up no more
	r.Wait()
	if again, _ := arc.ExportsDue(ctx); !slices.Equal(again, due) {
		t.Fatalf("export hashes sealed after Close: due %v, then %v", due, again)
	}
	// The next start.
	r2 := restart(t, arc)
	for _, id := range ids {
		checkExportsSealed(t, r2, arc, id)
	}
}
