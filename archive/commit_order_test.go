package archive

import (
	"bytes"
	"context"
	"io"
	"testing"
	"testing/synctest"
)

// commitStepper stops a's committer before each commit (inside the
// transaction, before bbolt commits it) until the test lets it go on.
type commitStepper struct {
	at, gate, free chan struct{}
	released       bool
}

func stepCommits(t *testing.T, a *Archive) *commitStepper {
	t.Helper()
	s := &commitStepper{at: make(chan struct{}), gate: make(chan struct{}), free: make(chan struct{})}
	orig := a.c.beforeCommit
	a.c.beforeCommit = func() error {
		select {
		case s.at <- struct{}{}:
			select {
			case <-s.gate:
			case <-s.free:
			}
		case <-s.free:
		}
		return orig()
	}
	t.Cleanup(s.release)
	return s
}

// held waits until a commit is stopped.
func (s *commitStepper) held() { <-s.at }

// next lets the stopped commit finish and waits until the next one is
// stopped: everything the finished one answered has been answered.
func (s *commitStepper) next() {
	s.gate <- struct{}{}
	<-s.at
}

// release lets every commit through from now on.
func (s *commitStepper) release() {
	if !s.released {
		s.released = true
		close(s.free)
	}
}

// floodQueue has w write chunks in a goroutine, and returns once the
// commit queue is full; the goroutine ends when the writes are through.
func floodQueue(t *testing.T, a *Archive, w *Writer, chunks int) chan error {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		_, err := w.WriteOriginal(bytes.Repeat([]byte{7}, chunks*w.ChunkSize()))
		errc <- err
	}()
	synctest.Wait()
	if len(a.c.ops) != cap(a.c.ops) {
		t.Fatalf("%d of %d queued", len(a.c.ops), cap(a.c.ops))
	}
	return errc
}

// answeredWithinTwoCommits runs call in a goroutine while a commit is
// stopped and the queue is full of chunks, lets that commit and the next
// one through, and fails unless call has returned by then.
func answeredWithinTwoCommits(t *testing.T, a *Archive, steps *commitStepper, what string, call func() error) {
	t.Helper()
	answered := make(chan error, 1)
	go func() { answered <- call() }()
	synctest.Wait() // call is queued
	steps.next()    // the group in progress
	steps.next()    // the next group: call and the chunks that fit
	synctest.Wait()
	select {
	case err := <-answered:
		if err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("%s still waits after two commits; %d chunks queued ahead of it", what, len(a.c.ops))
	}
}

// A function someone waits for (here Create) is committed in the group
// after the one in progress, not behind the chunks that other uploads
// queued before it.
func TestCommitFunctionsGoAheadOfQueuedChunks(t *testing.T) {
	synctest.Test(t, testCommitFunctionsGoAhead)
}

func testCommitFunctionsGoAhead(t *testing.T) {
	a := OpenTestOptions(t, Options{CommitBytes: 2 * ChunkSize})
	ctx := context.Background()
	w, err := a.Create(ctx, NewRecording{})
	if err != nil {
		t.Fatal(err)
	}
	steps := stepCommits(t, a)
	wrote := floodQueue(t, a, w, 3*cap(a.c.ops))
	steps.held()

	answeredWithinTwoCommits(t, a, steps, "Create", func() error {
		_, err := a.Create(ctx, NewRecording{FileName: "second"})
		return err
	})
	if len(a.c.ops) == 0 {
		t.Fatal("the queue drained: the test shows nothing")
	}
	steps.release()
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if _, err := w.Finish(ctx, Final{State: StateComplete}); err != nil {
		t.Fatal(err)
	}
}

// An upload that ends while other uploads' chunks fill the queue is
// answered after the next commit when its own chunks are through; one
// whose chunks are still queued finishes behind them, and every byte of
// it reads back.
func TestCommitFinishGoesAheadOnlyWhenItsChunksAreIn(t *testing.T) {
	synctest.Test(t, testCommitFinishGoesAhead)
}

func testCommitFinishGoesAhead(t *testing.T) {
	a := OpenTestOptions(t, Options{CommitBytes: 2 * ChunkSize})
	ctx := context.Background()
	busy, err := a.Create(ctx, NewRecording{FileName: "busy"})
	if err != nil {
		t.Fatal(err)
	}
	quiet, err := a.Create(ctx, NewRecording{FileName: "quiet"})
	if err != nil {
		t.Fatal(err)
	}
	short := []byte("less than a chunk")
	if _, err := quiet.WriteOriginal(short); err != nil {
		t.Fatal(err)
	}
	steps := stepCommits(t, a)
	wrote := floodQueue(t, a, busy, 3*cap(a.c.ops))
	steps.held()

	answeredWithinTwoCommits(t, a, steps, "Finish", func() error {
		_, err := quiet.Finish(ctx, Final{State: StateComplete})
		return err
	})

	// busy's own Finish waits for its chunks, which are still queued:
	// when it returns, with the next commit still stopped, every byte
	// reads back.
	busyDone := make(chan error, 1)
	go func() {
		if err := <-wrote; err != nil {
			busyDone <- err
			return
		}
		_, err := busy.Finish(ctx, Final{State: StateComplete})
		busyDone <- err
	}()
	for returned := false; !returned; {
		steps.gate <- struct{}{}
		select {
		case <-steps.at:
		case err := <-busyDone:
			if err != nil {
				t.Fatal(err)
			}
			returned = true
		}
	}
	for _, c := range []struct {
		w    *Writer
		want int
	}{{quiet, len(short)}, {busy, 3 * cap(a.c.ops) * busy.ChunkSize()}} {
		rec, err := a.Get(ctx, c.w.ID())
		if err != nil {
			t.Fatal(err)
		}
		if rec.State != StateComplete || rec.OrigSize != int64(c.want) {
			t.Fatalf("%s: state %s, %d bytes, want %d", rec.FileName, rec.State, rec.OrigSize, c.want)
		}
		b, err := a.OpenBlob(ctx, c.w.ID(), BlobOriginal)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(b)
		if err != nil || len(got) != c.want {
			t.Fatalf("%s: read %d bytes (%v), want %d", rec.FileName, len(got), err, c.want)
		}
	}
	steps.release()
}
