package archive

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
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
	var churned atomic.Int64
	for g := range 2 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				if err := churn(ctx, a, fmt.Sprintf("%d-%d", g, i)); err != nil {
					if ctx.Err() == nil {
						select {
						case werr <- err:
						default:
						}
						cancel()
					}
					return
				}
				churned.Add(1)
			}
		})
	}
	// Check until the writers have committed enough beside the checks; a
	// cap bounds the loop should they stall.
	const wantChurns, maxChecks = 40, 200_000
	checks := 0
	for churned.Load() < wantChurns && ctx.Err() == nil {
		if checks++; checks > maxChecks {
			cancel()
			wg.Wait()
			t.Fatalf("the writers did %d rounds in %d checks", churned.Load(), maxChecks)
		}
		if err := a.Check(); err != nil {
			cancel()
			wg.Wait()
			t.Fatalf("check %d while writing (after %d rounds): %v", checks, churned.Load(), err)
		}
	}
	cancel()
	wg.Wait()
	select {
	case err := <-werr:
		t.Fatal(err)
	default:
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
