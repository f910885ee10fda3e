package archive

import (
	"context"
	"time"
)

// A backend that keeps values outside its transactions (pgkv's objects in
// S3) leaves objects no record references: those released by deletes and
// overwrites, kept for the read transactions that began before, and the
// orphans of a process killed between writing an object and committing.
// Such a backend implements sweeper, and the archive removes them in the
// background.
type sweeper interface {
	Sweep(ctx context.Context, olderThan time.Duration) (int, error)
}

const (
	// sweepEvery is how often the archive sweeps.
	sweepEvery = 15 * time.Minute
	// sweepGrace is how old an unreferenced object must be: longer than
	// any transaction (a chunk's read or a group commit lasts seconds).
	sweepGrace = 15 * time.Minute
)

// sweepLoop sweeps the store every sweepEvery until ctx ends. Several
// daemons may sweep one store at once.
func (a *Archive) sweepLoop(ctx context.Context, s sweeper) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := s.Sweep(ctx, sweepGrace)
		if err != nil && ctx.Err() == nil {
			a.log.Warn("sweeping unreferenced objects", "err", err)
			continue
		}
		if n > 0 {
			a.log.Info("swept unreferenced objects", "removed", n)
		}
	}
}
