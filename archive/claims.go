package archive

import (
	"context"
	"fmt"
	"slices"
)

// A backend shared by several processes (pgkv) lets each claim the
// recordings it is writing, so that a daemon starting next to a running
// one does not take the other's uploads in progress for ones cut off by
// a crash: Create claims the new recording before its record is
// committed, Finish releases it once the record is finished, and
// Unfinished reports only the recordings it could claim, those that no
// live process is writing. A claim ends with the process that holds it,
// also when it is killed, so its uploads become recoverable at once.
type claimer interface {
	TryClaim(ctx context.Context, key []byte) (bool, error)
	Release(ctx context.Context, key []byte) error
}

func claimKey(id ID) []byte { return append([]byte("callvault writer\x00"), id[:]...) }

// claim claims id for this process; a backend without claims has one
// process only.
func (a *Archive) claim(ctx context.Context, id ID) (bool, error) {
	c, ok := a.store.(claimer)
	if !ok {
		return true, nil
	}
	got, err := c.TryClaim(ctx, claimKey(id))
	if err != nil {
		return false, fmt.Errorf("archive: claim %s: %w", id, err)
	}
	return got, nil
}

// release ends this process's claim of id. A release that fails leaves
// the claim until the process ends, which only delays a recovery.
func (a *Archive) release(id ID) {
	if c, ok := a.store.(claimer); ok {
		if err := c.Release(context.Background(), claimKey(id)); err != nil {
			a.log.Warn("releasing a finished recording's claim", "recording", id.String(), "err", err)
		}
	}
}

// claimUnfinished keeps of ids, the recordings found unfinished, those
// this process could claim and that are still unfinished once claimed
// (another daemon may have finished one in between).
func (a *Archive) claimUnfinished(ctx context.Context, ids []ID) ([]ID, error) {
	if _, ok := a.store.(claimer); !ok {
		return ids, nil
	}
	var mine []ID
	fail := func(err error) ([]ID, error) {
		for _, id := range mine {
			a.release(id)
		}
		return nil, err
	}
	for _, id := range ids {
		got, err := a.claim(ctx, id)
		if err != nil {
			return fail(err)
		}
		if got {
			mine = append(mine, id)
		}
	}
	still, err := a.idsIn(ctx, bucketUnfinished)
	if err != nil {
		return fail(err)
	}
	out := mine[:0]
	for _, id := range mine {
		if slices.Contains(still, id) {
			out = append(out, id)
		} else {
			a.release(id)
		}
	}
	return out, nil
}
