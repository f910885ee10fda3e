package pgkv

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callvault/callvault/archive/kv"

	"github.com/jackc/pgx/v5"
)

// The change feed (kv.Feed). kv_feed holds one row, the sequence number
// of the latest change; kv_changes one row per changed key of a fed
// bucket, numbered on from it by the commit that made the change, in
// that commit. Writers are serialized by the writer lock, and a commit is
// visible before its lock is released, so readers see the numbers
// without gaps, in commit order.
var changesSchema = []string{
	`CREATE TABLE IF NOT EXISTS kv_feed (last bigint NOT NULL)`,
	`INSERT INTO kv_feed (last) SELECT 0 WHERE NOT EXISTS (SELECT FROM kv_feed)`,
	`CREATE TABLE IF NOT EXISTS kv_changes (
		seq    bigint PRIMARY KEY,
		origin bigint NOT NULL,
		bucket bytea NOT NULL,
		key    bytea NOT NULL)`,
}

const (
	// feedChannel is the LISTEN/NOTIFY channel a commit with changes
	// notifies.
	feedChannel = "kv_changes"
	// feedKeep is how many change rows are kept; each commit with
	// changes removes those older. A reader that falls further behind
	// gets Reset.
	feedKeep = 100_000
	// feedBatch bounds the changes one ChangesSince returns.
	feedBatch = 10_000
	// feedPoll is the longest WaitChanges waits without a notification
	// (which a lost listening connection would not deliver).
	feedPoll = 2 * time.Second
)

// feedState is a Store's side of the feed.
type feedState struct {
	origin  int64                           // this Store's commits, left out of ChangesSince
	buckets atomic.Pointer[map[string]bool] // FeedBuckets
	keep    int64                           // rows kept (feedKeep; tests less)

	listenMu sync.Mutex
	listen   *pgx.Conn // LISTENs on feedChannel; nil until needed or after a failure

	locksMu sync.Mutex
	locks   map[*pgx.Conn]struct{} // the connections of the named locks held (TryLock)
}

func (f *feedState) init(keep int64) {
	var b [8]byte
	rand.Read(b[:])
	f.origin = int64(binary.BigEndian.Uint64(b[:]) >> 1)
	f.keep = feedKeep
	if keep > 0 {
		f.keep = keep
	}
}

// FeedBuckets names the top-level buckets whose changes this Store's
// commits record.
func (s *Store) FeedBuckets(names [][]byte) {
	m := map[string]bool{}
	for _, n := range names {
		m[string(n)] = true
	}
	s.feed.buckets.Store(&m)
}

func (s *Store) fed(top []byte) bool {
	m := s.feed.buckets.Load()
	return m != nil && (*m)[string(top)]
}

// bucketFeed is where a fed bucket's changes go: its top-level bucket,
// and the first-level key it is nested under (nil for the top-level
// bucket itself).
type bucketFeed struct {
	top   []byte
	first []byte
}

func newBucketFeed(s *Store, in *bucket, name []byte) *bucketFeed {
	switch {
	case in == nil && s.fed(name):
		return &bucketFeed{top: name}
	case in == nil || in.feed == nil:
		return nil
	case in.feed.first == nil:
		return &bucketFeed{top: in.feed.top, first: name}
	default:
		return in.feed
	}
}

type feedKey struct{ bucket, key string }

// changed notes that the transaction changed key of b (or the whole of
// b when key is empty and b is top-level).
func (t *tx) changed(b *bucket, key []byte) {
	if b == nil || b.feed == nil {
		return
	}
	if b.feed.first != nil {
		key = b.feed.first
	}
	if t.changes == nil {
		t.changes = map[feedKey]struct{}{}
	}
	t.changes[feedKey{string(b.feed.top), string(key)}] = struct{}{}
}

// changedTop notes a top-level bucket created or deleted, when fed.
func (t *tx) changedTop(name []byte) {
	if t.s.fed(name) {
		t.changed(&bucket{feed: &bucketFeed{top: name}}, nil)
	}
}

// queueChanges adds the transaction's changes to the commit's batch:
// numbered on from kv_feed, older rows pruned, listeners notified (at
// commit).
func (t *tx) queueChanges() {
	if len(t.changes) == 0 {
		return
	}
	bs, ks := make([][]byte, 0, len(t.changes)), make([][]byte, 0, len(t.changes))
	for c := range t.changes {
		bs, ks = append(bs, []byte(c.bucket)), append(ks, []byte(c.key))
	}
	clear(t.changes)
	t.batch.Queue(`
		WITH c AS (UPDATE kv_feed SET last = last + $1 RETURNING last),
		ins AS (INSERT INTO kv_changes (seq, origin, bucket, key)
			SELECT c.last - $1 + u.n, $2, u.b, u.k
			FROM c, unnest($3::bytea[], $4::bytea[]) WITH ORDINALITY AS u(b, k, n))
		DELETE FROM kv_changes WHERE seq <= (SELECT last FROM c) - $5`,
		int64(len(bs)), t.s.feed.origin, bs, ks, t.s.feed.keep)
	// The payload names the origin, so that a Store's listener is not
	// woken by its own commits.
	t.batch.Queue(`SELECT pg_notify($1, $2)`, feedChannel, strconv.FormatInt(t.s.feed.origin, 10))
}

// FeedEnd returns the sequence number of the latest change.
func (s *Store) FeedEnd(ctx context.Context) (uint64, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	var last int64
	if err := s.pool.QueryRow(ctx, `SELECT last FROM kv_feed`).Scan(&last); err != nil {
		return 0, fmt.Errorf("pgkv: feed: %w", err)
	}
	return uint64(last), nil
}

// ChangesSince returns the changes other Stores committed after cursor,
// in one round trip: the feed's end, the rows up to it, and the oldest
// row kept, read last, so that rows pruned while they were read are
// noticed (Reset).
func (s *Store) ChangesSince(ctx context.Context, cursor uint64) (kv.Changes, error) {
	if s.closed.Load() {
		return kv.Changes{}, ErrClosed
	}
	var (
		last, oldest int64
		out          kv.Changes
		n            int
		lastSeq      int64
	)
	b := &pgx.Batch{}
	b.Queue(`SELECT last FROM kv_feed`).QueryRow(func(r pgx.Row) error { return r.Scan(&last) })
	b.Queue(`SELECT seq, origin, bucket, key FROM kv_changes
		WHERE seq > $1 AND seq <= (SELECT last FROM kv_feed) ORDER BY seq LIMIT $2`, int64(cursor), feedBatch).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var origin int64
				var c kv.Change
				if err := rows.Scan(&lastSeq, &origin, &c.Bucket, &c.Key); err != nil {
					return err
				}
				n++
				if origin != s.feed.origin {
					out.Changes = append(out.Changes, c)
				}
			}
			return rows.Err()
		})
	b.Queue(`SELECT coalesce(min(seq), (SELECT last + 1 FROM kv_feed)) FROM kv_changes`).QueryRow(func(r pgx.Row) error { return r.Scan(&oldest) })
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		if s.closed.Load() {
			return kv.Changes{}, ErrClosed
		}
		return kv.Changes{}, fmt.Errorf("pgkv: feed: %w", err)
	}
	out.Next = uint64(last)
	if n == feedBatch {
		out.Next, out.More = uint64(lastSeq), true
	}
	// Rows after cursor were pruned (the oldest kept is further on), or
	// the cursor is from elsewhere (past the end).
	if int64(cursor) < last && oldest > int64(cursor)+1 || int64(cursor) > last {
		out = kv.Changes{Next: uint64(last), Reset: true}
	}
	return out, nil
}

// WaitChanges returns when a commit with changes notified the feed's
// channel, when the feed's end is past cursor, after feedPoll, or when
// ctx ends. Without a listening connection (it failed and is opened
// again on the next call) it waits feedPoll: polling.
func (s *Store) WaitChanges(ctx context.Context, cursor uint64) error {
	f := &s.feed
	f.listenMu.Lock()
	defer f.listenMu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	fresh := f.listen == nil
	if fresh {
		cfg := s.pool.Config().ConnConfig.Copy()
		cfg.Tracer = nil
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			if _, err = c.Exec(ctx, `LISTEN `+feedChannel); err != nil {
				c.Close(context.Background())
			}
		}
		if err != nil {
			return sleepCtx(ctx, feedPoll)
		}
		f.listen = c
	}
	// A commit notified before LISTEN took effect is found by its end;
	// later ones wait on the connection, also while nobody waits.
	if fresh {
		var last int64
		if err := f.listen.QueryRow(ctx, `SELECT last FROM kv_feed`).Scan(&last); err != nil {
			f.dropListen()
			return ctx.Err()
		}
		if uint64(last) != cursor {
			return nil
		}
	}
	wctx, cancel := context.WithTimeout(ctx, feedPoll)
	defer cancel()
	own := strconv.FormatInt(f.origin, 10)
	for {
		n, err := f.listen.WaitForNotification(wctx)
		if err != nil {
			if f.listen.IsClosed() {
				f.dropListen() // the connection failed: poll until it is back
			}
			return ctx.Err()
		}
		if n.Payload != own {
			return nil
		}
	}
}

// dropListen closes the listening connection (listenMu held).
func (f *feedState) dropListen() {
	if f.listen != nil {
		f.listen.Close(context.Background())
		f.listen = nil
	}
}

func (f *feedState) close() {
	f.listenMu.Lock()
	f.dropListen()
	f.listenMu.Unlock()
	f.locksMu.Lock()
	locks := f.locks
	f.locks = nil
	f.locksMu.Unlock()
	for c := range locks {
		c.Close(context.Background())
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lockKey is the advisory lock key of a named lock: not writerLock, and
// not another name's but by a 2^-64 chance.
func lockKey(name string) int64 {
	h := sha256.Sum256([]byte("callvault pgkv lock\x00" + name))
	k := int64(binary.BigEndian.Uint64(h[:8]))
	if k == writerLock {
		k++
	}
	return k
}

// TryLock takes the named lock with pg_try_advisory_lock on a connection
// of its own, outside the pool, which it keeps until unlock; PostgreSQL
// releases the lock when that connection ends: at unlock, at Close, or
// when the process dies.
func (s *Store) TryLock(ctx context.Context, name string) (unlock func(), ok bool, err error) {
	if s.closed.Load() {
		return nil, false, ErrClosed
	}
	cfg := s.pool.Config().ConnConfig.Copy()
	cfg.Tracer = nil
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, false, fmt.Errorf("pgkv: lock %s: %w", name, err)
	}
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, lockKey(name)).Scan(&ok); err != nil || !ok {
		conn.Close(context.Background())
		if err != nil {
			return nil, false, fmt.Errorf("pgkv: lock %s: %w", name, err)
		}
		return nil, false, nil
	}
	f := &s.feed
	f.locksMu.Lock()
	if f.locks == nil {
		f.locks = map[*pgx.Conn]struct{}{}
	}
	f.locks[conn] = struct{}{}
	f.locksMu.Unlock()
	if s.closed.Load() { // Close ran meanwhile and did not see it
		f.closeLock(conn, lockKey(name))
		return nil, false, ErrClosed
	}
	return func() { f.closeLock(conn, lockKey(name)) }, true, nil
}

// closeLock releases a lock and ends its connection. The release is a
// statement of its own: the server ends a closed connection's session,
// and releases its locks, only some time after the client closed it.
func (f *feedState) closeLock(c *pgx.Conn, key int64) {
	f.locksMu.Lock()
	_, held := f.locks[c]
	delete(f.locks, c)
	f.locksMu.Unlock()
	if held {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = c.Exec(ctx, `SELECT pg_advisory_unlock($1)`, key) // on failure, the close releases it
		c.Close(ctx)
	}
}

var (
	_ kv.Feed   = (*Store)(nil)
	_ kv.Locker = (*Store)(nil)
)
