package recorder

import (
	"context"
	"errors"
	"fmt"

	"github.com/callvault/callvault/archive"
)

// SealBacklog seals every finished recording that is not sealed yet (the
// recordings stored while sealing was off), oldest ID first, one at a time,
// and returns how many it sealed. It stops when ctx ends or sealing is
// turned off again. Recordings sealed meanwhile by their own upload are
// skipped. Progress shows in archive.Stats().SealBacklog. It is safe to run
// while uploads arrive.
func (r *Recorder) SealBacklog(ctx context.Context) (int, error) {
	ids, err := r.arc.Unsealed(ctx)
	if err != nil {
		return 0, fmt.Errorf("recorder: seal backlog: %w", err)
	}
	n := 0
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if !r.arc.Sealing(ctx) {
			return n, nil
		}
		rec, err := r.arc.Get(ctx, id)
		switch {
		case errors.Is(err, archive.ErrNotFound): // deleted meanwhile
			continue
		case err != nil:
			return n, fmt.Errorf("recorder: seal backlog: %w", err)
		case rec.Seal != nil || rec.State == archive.StateRecording:
			continue
		}
		err = r.seal(ctx, rec)
		switch {
		case errors.Is(err, archive.ErrState), errors.Is(err, archive.ErrNotFound):
			continue // sealed by its upload, or deleted, meanwhile
		case err != nil:
			return n, err
		}
		n++
	}
	if n > 0 {
		r.log.Info("sealed the backlog", "recordings", n)
	}
	return n, nil
}
