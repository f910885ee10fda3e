package archive

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestCheckWhileWriting runs the consistency check over and over while
// recordings are written and deleted: the check must never report a
// healthy archive as corrupt (bbolt's check reads the free list, which a
// concurrent write transaction changes).
func TestCheckWhileWriting(t *testing.T) {
	a := OpenTestOptions(t, Options{CommitInterval: time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	werr := make(chan error, 1)
	for g := range 2 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				if err := churn(ctx, a, fmt.Sprintf("%d-%d", g, i)); err != nil && ctx.Err() == nil {
					select {
					case werr <- err:
					default:
					}
					return
				}
			}
		})
	}
	const checks = 300
	for i := range checks {
		if err := a.Check(); err != nil {
			cancel()
			wg.Wait()
			t.Fatalf("check %d of %d while writing: %v", i+1, checks, err)
		}
	}
	cancel()
	wg.Wait()
	select {
	case err := <-werr:
		t.Fatal(err)
	default:
	}
	if s := a.Stats(); s.Commits < 10 {
		t.Fatalf("only %d commits ran beside the checks", s.Commits)
	}
}

// churn writes a small recording and deletes it again, which frees pages.
func churn(ctx context.Context, a *Archive, name string) error {
	w, err := a.Create(ctx, NewRecording{FileName: name, CallGUID: name})
	if err != nil {
		return err
	}
	if _, err := w.WriteOriginal(data(3*ChunkSize/2, uint64(len(name)))); err != nil {
		return err
	}
	r, err := w.Finish(ctx, Final{State: StateComplete, StartTime: time.Unix(1000, 0)})
	if err != nil {
		return err
	}
	return a.Delete(ctx, r.ID, "test", "churn")
}
