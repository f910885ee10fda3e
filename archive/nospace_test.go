package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/callvault/callvault/internal/testdisk"
)

func writeRecording(t *testing.T, a *Archive, name string, body []byte) *Recording {
	t.Helper()
	return writeSizedRecording(t, a, ChunkSize, name, body, nil)
}

func readOriginal(t *testing.T, a *Archive, id ID) []byte {
	t.Helper()
	b, err := a.OpenBlob(context.Background(), id, BlobOriginal)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(b)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestNoSpace fills the disk under an archive while two recordings are
// being written: every write, commit or Create that cannot be stored fails
// with ErrNoSpace, none of them reports success, the committer keeps
// working, what was stored before reads and checks clean, the cut-off
// recordings can be finished at once (in the released reserve) while new
// ones are refused, and once space is freed new ones are written again,
// before and after reopening.
func TestNoSpace(t *testing.T) {
	ctx := context.Background()
	disk := testdisk.Small(t, 32)
	path := filepath.Join(disk, "archive.db")
	opt := Options{KeyFile: filepath.Join(t.TempDir(), "archive.key"), KDF: FastKDF(),
		CommitInterval: 10 * time.Millisecond, InitialMmapSize: 64 << 20, ReserveBytes: 4 << 20}
	a, err := Open(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Close() }()

	first := randomBytes(1 << 20)
	stored := writeRecording(t, a, "before.pcap", first)

	ballast := testdisk.Fill(t, disk, 0)
	var wg sync.WaitGroup
	var cut [2]*Writer
	var errs [2]error
	for i := range cut {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := a.Create(ctx, NewRecording{FileName: fmt.Sprintf("cut-%d.pcap", i)})
			if err != nil {
				errs[i] = err
				return
			}
			cut[i] = w
			block := randomBytes(256 << 10)
			for range 64 { // 16 MiB, more than the whole disk
				if _, err := w.WriteOriginal(block); err != nil {
					errs[i] = err
					return
				}
			}
			_, errs[i] = w.Finish(ctx, Final{State: StateComplete})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, ErrNoSpace) {
			t.Fatalf("writer %d on a full disk: %v, want ErrNoSpace", i, err)
		}
		if cut[i] != nil {
			if err := cut[i].Abort(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := readOriginal(t, a, stored.ID); !bytes.Equal(got, first) {
		t.Fatal("recording stored before the disk filled reads differently")
	}
	if res, err := a.Verify(ctx, stored.ID, nil); err != nil || !res.Valid {
		t.Fatalf("recording stored before the disk filled: %v %+v", err, res)
	}
	if err := a.Check(); err != nil {
		t.Fatalf("archive file after the disk filled: %v", err)
	}
	if res, err := a.VerifyChain(ctx); err != nil || !res.Valid {
		t.Fatalf("seal chain after the disk filled: %v %+v", err, res)
	}

	// Still full: new recordings are refused, the cut-off ones finish.
	if _, err := a.Create(ctx, NewRecording{FileName: "refused.pcap"}); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Create on a full disk: %v, want ErrNoSpace", err)
	}
	for _, w := range cut {
		if w == nil {
			continue
		}
		r, err := a.Resume(ctx, w.ID())
		if err != nil {
			t.Fatal(err)
		}
		rec, err := r.Finish(ctx, Final{State: StateInterrupted})
		if err != nil {
			t.Fatalf("finishing a cut-off recording on a full disk: %v", err)
		}
		if err := a.Seal(ctx, rec.ID, nil); err != nil {
			t.Fatal(err)
		}
		if res, err := a.Verify(ctx, rec.ID, nil); err != nil || !res.Valid {
			t.Fatalf("cut-off recording: %v %+v", err, res)
		}
	}

	// Space freed: the archive takes new recordings again.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	after := randomBytes(1 << 20)
	again := writeRecording(t, a, "after.pcap", after)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	a, err = Open(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Check(); err != nil {
		t.Fatal(err)
	}
	if res, err := a.VerifyChain(ctx); err != nil || !res.Valid {
		t.Fatalf("seal chain after reopening: %v %+v", err, res)
	}
	if ids, err := a.Unfinished(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("unfinished after reopening: %v %v", ids, err)
	}
	for id, want := range map[ID][]byte{stored.ID: first, again.ID: after} {
		if got := readOriginal(t, a, id); !bytes.Equal(got, want) {
			t.Fatalf("recording %s reads differently after reopening", id)
		}
	}
}
