package archive

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/callvault/callvault/archive/kv"
)

// bucketFourEyes: HMAC-SHA256(index key, "foureyes\0" ‖ name) → the
// record (opaque to the archive) boxed by the state subkey, bound to its
// key. Written only on a backend that several daemons share (Shared):
// the 4-eyes state that every daemon follows (foureyes, FORMAT.md
// "4-eyes access across daemons").
var bucketFourEyes = []byte("foureyes")

const aadFourEyes = "callvault foureyes\x00"

// maxFourEyesRecord bounds a 4-eyes record.
const maxFourEyesRecord = 4 << 10

// Shared reports whether the archive's store is shared by several daemons
// (PostgreSQL): what one daemon keeps in memory must then be written to
// the store for the others to follow.
func (a *Archive) Shared() bool { return a.feed != nil }

// SwapFourEyes changes the 4-eyes record stored under name in one
// transaction: fn gets the record stored now (nil when there is none)
// and returns the one to store (nil: delete it) and whether to write at
// all; it may run more than once. ok reports whether fn asked to write and
// the write committed. When ctx ends first the outcome is unknown (an
// error).
func (a *Archive) SwapFourEyes(ctx context.Context, name string, fn func(old []byte) (next []byte, write bool)) (ok bool, err error) {
	h := keyedHash(a.keys.index, "foureyes", name)
	k := h[:]
	var wrote atomic.Bool // set by the committer's goroutine
	err = a.update(ctx, func(tx kv.Tx) error {
		wrote.Store(false)
		b := tx.Bucket(bucketFourEyes)
		var old []byte
		if box := b.Get(k); box != nil {
			plain, err := boxOpen(a.keys.state, boxAAD(aadFourEyes, k), box)
			if err != nil {
				return fmt.Errorf("archive: 4-eyes record: %w", ErrCorrupt)
			}
			old = plain
		}
		next, write := fn(old)
		if !write {
			return nil
		}
		wrote.Store(true)
		if next == nil {
			return b.Delete(k)
		}
		if len(next) > maxFourEyesRecord {
			return fmt.Errorf("archive: 4-eyes record of %d bytes: %w", len(next), ErrInvalid)
		}
		return b.Put(k, boxSeal(a.keys.state, boxAAD(aadFourEyes, k), next))
	})
	if err != nil {
		return false, fmt.Errorf("archive: 4-eyes state: %w", err)
	}
	return wrote.Load(), nil
}

// FourEyesRecords returns every stored 4-eyes record.
func (a *Archive) FourEyesRecords(ctx context.Context) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out [][]byte
	err := a.view(func(tx kv.Tx) error {
		return tx.Bucket(bucketFourEyes).ForEach(func(k, box []byte) error {
			plain, err := boxOpen(a.keys.state, boxAAD(aadFourEyes, k), box)
			if err != nil {
				return fmt.Errorf("archive: 4-eyes record: %w", ErrCorrupt)
			}
			out = append(out, plain)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("archive: 4-eyes state: %w", err)
	}
	return out, nil
}

// WatchFourEyes calls fn whenever another daemon changed the 4-eyes
// records (and when its changes were pruned before this daemon read
// them): the caller reads them again (FourEyesRecords). fn runs on the
// archive's feed loop and must not block. stop ends the calls. On a store
// that one process holds (bbolt) fn is never called.
func (a *Archive) WatchFourEyes(fn func()) (stop func()) {
	if a.feed == nil {
		return func() {}
	}
	return a.feed.fourEyes.add(func(struct{}) { fn() })
}

// fourEyesChanged runs the WatchFourEyes functions.
func (a *Archive) fourEyesChanged() { a.feed.fourEyes.notify(struct{}{}) }

// CatchUp applies what other daemons committed before the call, as a
// listing does before it answers: the WatchFourEyes functions have run
// for their changes when it returns. On bbolt it does nothing.
func (a *Archive) CatchUp(ctx context.Context) error { return a.syncFeed(ctx) }
