package archive

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/callvault/callvault/archive/kv"
)

// The who index off the answer path. A recording's who and search keys
// (about 90 of them, each at a random place in bucketByWho) used to be
// written in the transaction that created it and rewritten whole in the
// one that finished it, since its time key changes from Received to the
// call's start. Each of those keys dirties its own page, and the final
// commit of every upload waited for them.
//
// Now a recording enters bucketWhoPending under its time key instead,
// and the keys are written by the who indexer in a transaction of its
// own once the recording is finished, many recordings at a time and
// sorted. Every reader of the who index also walks bucketWhoPending
// (whoMerge, textQuery.walk): a pending recording is a candidate for
// every text, and for every user once finished (unfinished, for its
// owner's terms: otherOwner); the page's final check (MayRead, the text
// match on the decrypted metadata) decides, as it does for every
// candidate. So a listing shows a recording the moment its transaction
// commits, as before; only the work of finding it moves.
//
//	bucketWhoPending: time key (as bucketByTime) → unfinishedWho while
//	                  recording, whoPendingReady once finished

// whoPendingReady marks a pending recording that is finished: the indexer
// takes it.
var whoPendingReady = []byte{1}

const (
	// whoIndexBatch is the most recordings one indexer transaction takes.
	whoIndexBatch = 256
	// whoIndexPatience is the longest the indexer waits for a quiet
	// committer before it writes a batch anyway.
	whoIndexPatience = time.Second
	// whoIndexPoll is how often it looks.
	whoIndexPoll = 10 * time.Millisecond
	// whoDrainTimeout bounds Close's indexing of what is still pending.
	whoDrainTimeout = 10 * time.Second
)

// pendingEntry is an entry of bucketWhoPending.
type pendingEntry struct {
	tk [timeKeyLen]byte
	v  []byte
}

// pendWho puts the recording with time key tk in bucketWhoPending with
// value v: whoPendingReady once it is finished, else unfinishedWho.
func pendWho(tx kv.Tx, tk, v []byte) error {
	return tx.Bucket(bucketWhoPending).Put(tk, v)
}

// unfinishedWho returns the bucketWhoPending value of an unfinished
// recording owned by user: 0x00 ‖ the prefix of its owner key (0x00
// alone without an owner). Until Finish the owner is the only term
// MayRead can match on (the parties come from the analysis), so a user's
// listing passes over the unfinished recordings of other owners without
// decrypting them (otherOwner).
func (a *Archive) unfinishedWho(user string) []byte {
	if user == "" {
		return []byte{0}
	}
	h := a.whoHash(whoKindOwner, foldCase(user))
	return append([]byte{0}, h[:]...)
}

// otherOwner reports whether the bucketWhoPending value v is an
// unfinished recording none of whose owner terms is in owners.
func otherOwner(v []byte, owners map[[whoHashLen]byte]bool) bool {
	switch {
	case len(v) == 1 && v[0] == 0:
		return true // no owner: only an admin reads it
	case len(v) == 1+whoHashLen && v[0] == 0:
		return !owners[[whoHashLen]byte(v[1:])]
	}
	return false // finished (any user may be a party), or another form
}

// whoPending reports whether the recording with time key tk waits for its
// who keys.
func whoPending(tx kv.Tx, tk []byte) bool {
	return tx.Bucket(bucketWhoPending).Get(tk) != nil
}

// wakeWhoIndexer tells the indexer a recording is ready.
func (a *Archive) wakeWhoIndexer() {
	select {
	case a.whoWake <- struct{}{}:
	default:
	}
}

// whoIndexer writes the who keys of finished pending recordings until
// ctx ends. Its first pass also takes every pending recording that is no
// longer unfinished: one that a build without bucketWhoPending finished.
func (a *Archive) whoIndexer(ctx context.Context) {
	reconcile := true
	for {
		for more := true; more; {
			a.waitQuiet(ctx, whoIndexPatience)
			var err error
			if more, err = a.indexPendingWho(ctx, whoIndexBatch, reconcile); err != nil {
				if ctx.Err() == nil && !errors.Is(err, ErrClosed) {
					a.log.Error("archive who index: pending recordings not indexed yet (they stay listed; retried at the next finish)", "err", err)
				}
				break
			}
		}
		reconcile = false
		select {
		case <-ctx.Done():
			return
		case <-a.whoWake:
		}
	}
}

// waitQuiet waits until the committer's queues are empty, at most
// patience: the indexer's batch then delays no upload's commit.
func (a *Archive) waitQuiet(ctx context.Context, patience time.Duration) {
	if a.c.quiet() {
		return
	}
	t := time.NewTicker(whoIndexPoll)
	defer t.Stop()
	give := time.NewTimer(patience)
	defer give.Stop()
	for !a.c.quiet() {
		select {
		case <-ctx.Done():
			return
		case <-give.C:
			return
		case <-t.C:
		}
	}
}

// indexPendingWho writes the who keys of up to max finished pending
// recordings and takes them out of bucketWhoPending, in one transaction.
// With reconcile, a pending recording not in bucketUnfinished counts as
// finished. It reports whether more are ready. It looks in a read
// transaction first, so that it writes nothing when nothing is ready.
func (a *Archive) indexPendingWho(ctx context.Context, max int, reconcile bool) (bool, error) {
	var take [][]byte
	var more bool
	if err := a.view(func(tx kv.Tx) error {
		take, more = readyWho(tx, max, reconcile)
		return nil
	}); err != nil || len(take) == 0 {
		return false, err
	}
	err := a.update(ctx, func(tx kv.Tx) error {
		pending := tx.Bucket(bucketWhoPending)
		var keys, gone [][]byte
		for _, k := range take {
			v := pending.Get(k)
			if v == nil || !isReadyWho(tx, k, v, reconcile) {
				continue // taken meanwhile, or binned
			}
			gone = append(gone, k)
			if len(k) != timeKeyLen {
				continue // not a time key: dropped
			}
			id := ID(k[8:])
			m, err := a.listedMetaTx(tx, id[:])
			if err != nil { // lists skip it too
				a.log.Error("archive who index: unreadable pending recording dropped from the index", "id", id.String(), "err", err)
				continue
			}
			if m == nil { // deleted or in the recycle bin: no keys
				continue
			}
			if tk := timeKey(m.indexNS(), id); !bytes.Equal(tk[:], k) {
				continue // a stale entry: its recording is listed under another time
			}
			keys = append(keys, a.whoKeys(m, id, a.cdrsTx(tx, m))...)
		}
		slices.SortFunc(keys, bytes.Compare)
		if err := putWho(tx, keys); err != nil {
			return err
		}
		for _, k := range gone {
			if err := pending.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	return more, nil
}

// readyWho returns up to max keys of bucketWhoPending that the indexer
// takes, and whether there are more.
func readyWho(tx kv.Tx, max int, reconcile bool) ([][]byte, bool) {
	var take [][]byte
	c := tx.Bucket(bucketWhoPending).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if !isReadyWho(tx, k, v, reconcile) {
			continue
		}
		if len(take) == max {
			return take, true
		}
		take = append(take, bytes.Clone(k))
	}
	return take, false
}

// isReadyWho reports whether the pending entry k, v is the indexer's: a
// finished recording's (with reconcile, any not in bucketUnfinished), or
// a key that is no time key.
func isReadyWho(tx kv.Tx, k, v []byte, reconcile bool) bool {
	switch {
	case len(k) != timeKeyLen || bytes.Equal(v, whoPendingReady):
		return true
	case reconcile:
		return tx.Bucket(bucketUnfinished).Get(k[8:]) == nil
	}
	return false
}

// indexWhoNow indexes every finished pending recording now (Close, and
// tests; the indexer does it in the background).
func (a *Archive) indexWhoNow(ctx context.Context) error {
	for {
		more, err := a.indexPendingWho(ctx, whoIndexBatch, true)
		if err != nil || !more {
			return err
		}
	}
}
