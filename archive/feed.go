package archive

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callvault/callvault/archive/kv"
)

// Several daemons on one archive. A backend that several processes share
// (kv.Feed: PostgreSQL) tells each archive which keys the others changed
// in the buckets below, and the archive brings up to date what it keeps
// in memory: the list index re-reads the recordings (recs, and the
// recordings of a call whose CDRs changed), the authenticator drops its
// cached successes (users, webdav), the WatchSettings functions run
// (settings), and a changed keyring is logged (keys.go keeps the master
// key it opened, which a rotation elsewhere does not change). The feed is
// read before every answer that rests on that state (a list, a count, a
// password check), so a change committed on one daemon is seen by the
// next request to any other; a background loop reads it too, woken by
// the backend, so that settings watchers fire without a request. On
// bbolt (one process) nothing of this runs.
var feedBuckets = [][]byte{bucketRecs, bucketCDRs, bucketUsers, bucketWebDAV, bucketSettings, bucketKeyring, bucketFourEyes}

// archiveFeed is the archive's place in the feed.
type archiveFeed struct {
	f     kv.Feed
	asked atomic.Uint64 // numbers each syncFeed call

	fourEyes watchers[struct{}] // WatchFourEyes (foureyes_store.go)

	mu     sync.Mutex
	done   uint64 // calls numbered up to done are answered by the syncs so far
	cursor uint64
}

// openFeed starts following other daemons' commits when the store has a
// feed. It runs before the list index is built and before any password
// is checked, so nothing cached predates its cursor.
func (a *Archive) openFeed() error {
	f, ok := a.store.(kv.Feed)
	if !ok {
		return nil
	}
	f.FeedBuckets(feedBuckets)
	end, err := f.FeedEnd(context.Background())
	if err != nil {
		return fmt.Errorf("archive: open: change feed: %w", err)
	}
	a.feed = &archiveFeed{f: f, cursor: end}
	a.goBackground(a.followFeed)
	return nil
}

// followFeed applies other daemons' changes as the backend reports them,
// until ctx ends.
func (a *Archive) followFeed(ctx context.Context) {
	for ctx.Err() == nil {
		a.feed.mu.Lock()
		cursor := a.feed.cursor
		a.feed.mu.Unlock()
		if err := a.feed.f.WaitChanges(ctx, cursor); err != nil {
			if ctx.Err() == nil {
				a.log.Warn("archive: waiting for other daemons' changes", "err", err)
				sleepCtx(ctx, time.Second)
			}
			continue
		}
		if err := a.syncFeed(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("archive: reading other daemons' changes", "err", err)
			sleepCtx(ctx, time.Second)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// syncFeed applies what other daemons committed before the call. Calls
// made while a read of the feed is under way wait for the next one, which
// begins after them; one read answers all of them.
func (a *Archive) syncFeed(ctx context.Context) error {
	fd := a.feed
	if fd == nil {
		return nil
	}
	my := fd.asked.Add(1)
	fd.mu.Lock()
	if fd.done >= my {
		fd.mu.Unlock()
		return nil
	}
	start := fd.asked.Load()
	settings := false
	for {
		cs, err := fd.f.ChangesSince(ctx, fd.cursor)
		if err != nil {
			fd.mu.Unlock()
			return fmt.Errorf("archive: other daemons' changes: %w", err)
		}
		if a.applyChanges(cs) {
			settings = true
		}
		fd.cursor = cs.Next
		if !cs.More {
			break
		}
	}
	fd.done = start
	fd.mu.Unlock()
	if settings {
		s, err := a.Settings(ctx)
		if err != nil {
			return err
		}
		a.settingsW.notify(s)
	}
	return nil
}

// applyChanges brings the in-memory state up to date with cs (fd.mu
// held) and reports whether the settings changed.
func (a *Archive) applyChanges(cs kv.Changes) (settings bool) {
	if cs.Reset {
		a.log.Info("archive: other daemons' changes were pruned before this one read them; rebuilding what it keeps in memory")
		a.listReset()
		a.auth.invalidate()
		a.fourEyesChanged()
		return true
	}
	var ids []ID
	var calls [][]byte
	users, keyring, fourEyes := false, false, false
	for _, c := range cs.Changes {
		switch {
		case bytes.Equal(c.Bucket, bucketRecs) && len(c.Key) == len(ID{}):
			ids = append(ids, ID(c.Key))
		case bytes.Equal(c.Bucket, bucketRecs):
			a.listReset()
		case bytes.Equal(c.Bucket, bucketCDRs) && len(c.Key) >= callHashLen:
			calls = append(calls, c.Key[:callHashLen])
		case bytes.Equal(c.Bucket, bucketUsers), bytes.Equal(c.Bucket, bucketWebDAV):
			users = true
		case bytes.Equal(c.Bucket, bucketSettings):
			settings = true
		case bytes.Equal(c.Bucket, bucketKeyring):
			keyring = true
		case bytes.Equal(c.Bucket, bucketFourEyes):
			fourEyes = true
		}
	}
	if len(calls) > 0 {
		// The recordings of a call whose CDRs changed (their list
		// entries' versions change, as on the daemon that stored them).
		err := a.view(func(tx kv.Tx) error {
			c := tx.Bucket(bucketByCall).Cursor()
			for _, ch := range calls {
				for k, _ := c.Seek(ch); k != nil && bytes.HasPrefix(k, ch); k, _ = c.Next() {
					if len(k) == callKeyLen {
						ids = append(ids, ID(k[callHashLen:]))
					}
				}
			}
			return nil
		})
		if err != nil {
			a.log.Warn("archive: the recordings of changed CDRs not found; rebuilding the list index", "err", err)
			a.listReset()
		}
	}
	if len(ids) > 0 {
		a.listTouch(ids...)
	}
	if users {
		a.auth.invalidate()
	}
	if fourEyes {
		a.fourEyesChanged()
	}
	if keyring {
		a.log.Warn("archive: the archive key was changed on another daemon; this daemon keeps working with the master key it holds, and needs the new key file (or passphrase) before its next start")
	}
	return settings
}
