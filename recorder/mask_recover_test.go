package recorder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
	"github.com/callvault/callvault/internal/testdisk"
	"github.com/callvault/callvault/recinfo"
)

const maskCrashEnv = "CALLVAULT_RECORDER_MASK_CRASH_DIR"

// maskCrashCommitted is how many chunks the child commits before it is
// killed: three chunks of the original reach past the first in-band tones.
const maskCrashCommitted = 3

// openMaskingArchiveIn opens (or creates) an archive in dir with DTMF
// masking on, and a recorder over it.
func openMaskingArchiveIn(t *testing.T, dir string) (*Recorder, *archive.Archive) {
	t.Helper()
	arc, err := archive.Open(filepath.Join(dir, "archive.db"), archivetest.Defaults(dir, archive.Options{CommitInterval: 5 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	return enableMasking(t, arc), arc
}

// TestMaskedCrashChild is the child process of TestMaskedRecoverAfterKill9:
// it streams a masked upload until chunks are committed, says so, and
// waits to be killed.
func TestMaskedCrashChild(t *testing.T) {
	dir := os.Getenv(maskCrashEnv)
	if dir == "" {
		t.Skip("child process of TestMaskedRecoverAfterKill9")
	}
	c := makeDTMFCall(t)
	r, arc := openMaskingArchiveIn(t, dir)
	pr, pw := io.Pipe()
	go func() {
		_, _ = r.Ingest(context.Background(), "0000000000000000000000000000abcd-009033302ab1-1--erin.pcap", pr)
	}()
	go func() { _, _ = pw.Write(c.pcap[:len(c.pcap)*3/4]) }() // the rest never comes
	for deadline := time.Now().Add(time.Minute); arc.Stats().Chunks < maskCrashCommitted; {
		if time.Now().After(deadline) {
			t.Fatal("chunks not committed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Println("committed")
	os.Stdout.Sync()
	select {} // wait for SIGKILL
}

// TestMaskedRecoverAfterKill9: a masked upload cut off by a SIGKILL is
// recovered at the next start with its masking record: the stored bytes
// are masked, and the record says so, with the spans masked and the keyed
// hash of the upload as received up to the bytes kept.
func TestMaskedRecoverAfterKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	c := makeDTMFCall(t)
	dir := t.TempDir()
	if _, ready := killChildAfter(t, "TestMaskedCrashChild", maskCrashEnv+"="+dir, "committed"); !ready {
		t.Fatal("the child did not commit")
	}

	r, arc := openMaskingArchiveIn(t, dir)
	defer arc.Close()
	ctx := context.Background()
	ids, err := arc.Unfinished(ctx)
	if err != nil || len(ids) != 1 {
		t.Fatalf("unfinished %v %v", ids, err)
	}
	if err := r.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	rec, err := arc.Get(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != archive.StateInterrupted || rec.OrigSize < maskCrashCommitted*archive.ChunkSize-archive.ChunkSize {
		t.Fatalf("recovered %s, %d bytes", rec.State, rec.OrigSize)
	}
	checkCutMasking(t, r, arc, rec, c)
}

// checkCutMasking checks the masking record of a masked upload of c that
// was cut off and finished from its committed bytes: there is one, with
// DTMF spans, its keyed hash is that of the upload up to the bytes kept,
// the bytes kept hold no tone, and the recording verifies.
func checkCutMasking(t *testing.T, r *Recorder, arc *archive.Archive, rec *archive.Recording, c *dtmfCall) {
	t.Helper()
	ctx := context.Background()
	in, err := recinfo.Parse(rec.Info)
	if err != nil {
		t.Fatal(err)
	}
	m := in.Masking
	if m == nil {
		t.Fatal("the finished recording lost its masking record")
	}
	dtmf := 0
	for _, sp := range m.Spans {
		if sp.Reason == recinfo.MaskDTMF {
			dtmf++
		}
	}
	if dtmf == 0 {
		t.Fatalf("no DTMF span in %+v", m)
	}
	if ok, err := r.MatchesReceived(rec, bytes.NewReader(c.pcap[:rec.OrigSize])); !ok || err != nil {
		t.Fatalf("the upload's first %d bytes do not match the received hash: %v", rec.OrigSize, err)
	}
	stored := readBlob(t, arc, rec.ID, archive.BlobOriginal)
	if bytes.Equal(stored, c.pcap[:len(stored)]) {
		t.Fatal("the stored bytes are not masked")
	}
	audio, _ := storedPayloads(t, stored, len(c.sent[0]))
	for d := range 2 {
		if got := detect(decodeULaw(audio[d])); len(got) != 0 {
			t.Errorf("direction %d: %d tones in the stored capture", d, len(got))
		}
	}
	res, err := arc.Verify(ctx, rec.ID, func(rec *archive.Recording) ([][32]byte, error) { return r.Exports(ctx, rec) })
	if err != nil || !res.Valid || !res.Sealed {
		t.Fatalf("verify: %+v, %v", res, err)
	}
}

// TestMaskedSalvageAfterFullDisk: a masked upload whose storage fails (the
// disk fills up mid-upload) is finished at once from its committed bytes,
// with the same masking record recovery gives it.
func TestMaskedSalvageAfterFullDisk(t *testing.T) {
	c := makeDTMFCall(t)
	disk := testdisk.Small(t, 32)
	opt := archive.Options{CommitInterval: 5 * time.Millisecond, InitialMmapSize: 64 << 20, ReserveBytes: 4 << 20}
	arc, err := archive.Open(filepath.Join(disk, "archive.db"), archivetest.Defaults(t.TempDir(), opt))
	if err != nil {
		t.Fatal(err)
	}
	defer arc.Close()
	ctx := context.Background()
	r := enableMasking(t, arc)
	pr, pw := io.Pipe()
	type result struct {
		rec *archive.Recording
		err error
	}
	done := make(chan result, 1)
	go func() {
		rec, err := r.Ingest(ctx, "0000000000000000000000000000abce-009033302ab1-1--erin.pcap", pr)
		done <- result{rec, err}
	}()
	cut := len(c.pcap) * 3 / 4
	if _, err := pw.Write(c.pcap[:cut]); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); arc.Stats().Chunks < maskCrashCommitted; {
		if time.Now().After(deadline) {
			t.Fatal("chunks not committed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	testdisk.Fill(t, disk, 0)
	go func() {
		_, _ = pw.Write(c.pcap[cut:])
		pw.Close()
	}()
	res := <-done
	if !errors.Is(res.err, archive.ErrNoSpace) || res.rec == nil {
		t.Fatalf("ingest on a full disk: %v, recording %v", res.err, res.rec)
	}
	rec, err := arc.Get(ctx, res.rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != archive.StateInterrupted || rec.OrigSize < (maskCrashCommitted-1)*archive.ChunkSize {
		t.Fatalf("kept %s, %d bytes", rec.State, rec.OrigSize)
	}
	checkCutMasking(t, r, arc, rec, c)
}
