package recorder

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
)

// eofStats is a body that notes the archive's commit count when it ends.
type eofStats struct {
	r       io.Reader
	arc     *archive.Archive
	commits uint64
	ended   bool
}

func (b *eofStats) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF && !b.ended {
		b.ended, b.commits = true, b.arc.Stats().Commits
	}
	return n, err
}

// Between the end of an upload's body and its answer there is one
// commit: the final chunks, the metadata and the seal go into one
// transaction (a busy appliance answers after one wait for its committer,
// not two).
func TestIngestAnswersAfterOneCommit(t *testing.T) {
	arc := archivetest.OpenTest(t)
	r, release := heldRecorder(t, arc) // no exports entry written meanwhile
	defer r.Wait()
	defer release()
	body := &eofStats{r: bytes.NewReader(makeCallPcap(testCall{seconds: 1, pt: 0})), arc: arc}
	rec, err := r.Ingest(context.Background(), "a.pcap", body)
	if err != nil {
		t.Fatal(err)
	}
	if !body.ended {
		t.Fatal("the body was not read to its end")
	}
	if n := arc.Stats().Commits - body.commits; n != 1 {
		t.Fatalf("%d commits between the body's end and the answer, want 1", n)
	}
	if rec.Seal == nil || !rec.Seal.Deferred || !rec.Seal.Pending() {
		t.Fatalf("answered with seal %+v", rec.Seal)
	}
	if un, err := arc.Unsealed(context.Background()); err != nil || len(un) != 0 {
		t.Fatalf("unsealed: %v %v", un, err)
	}
	got, err := arc.Get(context.Background(), rec.ID)
	if err != nil || got.Seal == nil || got.Seal.Seq != rec.Seal.Seq {
		t.Fatalf("stored seal %+v, answered %+v (%v)", got.Seal, rec.Seal, err)
	}
}
