package pgkv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callvault/callvault/archive/kv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// schemaVersion is the layout Open creates and expects.
const schemaVersion = 1

// writerLock is the key of the transaction-scoped advisory lock every
// write transaction takes first: one writer at a time across every
// process on the database.
const writerLock int64 = 0x63766b7677726974 // "cvkvwrit"

// batchRows is how many rows a cursor fetches at once.
const batchRows = 256

// maxKeySize is bbolt's limit, kept so that both backends refuse alike.
const maxKeySize = 32768

// Row kinds in kv_rows.
const (
	kindValue  = 0 // value holds the value
	kindBucket = 1 // the key names a nested bucket; value is NULL
	kindObject = 2 // value holds the name of the object that holds the value
)

var schema = []string{
	`CREATE TABLE IF NOT EXISTS kv_schema (version integer NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS kv_buckets (
		id     bigserial PRIMARY KEY,
		parent bigint NOT NULL,
		name   bytea NOT NULL,
		seq    bigint NOT NULL DEFAULT 0,
		UNIQUE (parent, name))`,
	`CREATE TABLE IF NOT EXISTS kv_rows (
		bucket bigint NOT NULL,
		key    bytea NOT NULL,
		kind   smallint NOT NULL,
		value  bytea,
		PRIMARY KEY (bucket, key))`,
	`CREATE INDEX IF NOT EXISTS kv_rows_objects ON kv_rows (value) WHERE kind = 2`,
	`CREATE INDEX IF NOT EXISTS kv_rows_buckets ON kv_rows (bucket, key) WHERE kind = 1`,
	// Objects no row references any more, with when (Options.Now, Unix
	// nanoseconds) they were released; Sweep removes them after its grace
	// period, when no read snapshot can still reference them.
	`CREATE TABLE IF NOT EXISTS kv_released (
		name     bytea PRIMARY KEY,
		released bigint NOT NULL)`,
}

// Errors, worded as bbolt's.
var (
	ErrClosed             = errors.New("pgkv: store is closed")
	ErrTxNotWritable      = errors.New("pgkv: tx not writable")
	ErrKeyRequired        = errors.New("pgkv: key required")
	ErrKeyTooLarge        = errors.New("pgkv: key too large")
	ErrBucketNameRequired = errors.New("pgkv: bucket name required")
	ErrBucketExists       = errors.New("pgkv: bucket already exists")
	ErrBucketNotFound     = errors.New("pgkv: bucket not found")
	ErrIncompatibleValue  = errors.New("pgkv: incompatible value")
)

// Options configure a Store.
type Options struct {
	// BlobBuckets names the top-level buckets whose values (and those of
	// the buckets nested in them) are kept as objects in S3; S3 must be
	// set when it is not empty.
	BlobBuckets [][]byte
	// ShredBuckets names blob buckets whose released objects (a value
	// deleted or overwritten, a bucket deleted) are removed right after
	// the commit that released them, not after Sweep's grace period: a
	// read transaction that began before the commit then reads such a
	// value as absent. A removal that fails leaves the object in kv_released for
	// Sweep and is reported to the function given to OnShredFailure.
	ShredBuckets [][]byte
	// CacheBuckets names blob buckets whose small objects are kept in
	// memory once read (cache.go), at most CacheBytes of them (default
	// 16 MiB), least recently used out first: for values read often, such
	// as data keys.
	CacheBuckets [][]byte
	CacheBytes   int64
	// S3 is the object store of the blob buckets.
	S3 *S3Options
	// MaxConns bounds the connection pool (default 8).
	MaxConns int32
	// Now is the clock Sweep measures object ages by (default time.Now).
	Now func() time.Time

	tracer      pgx.QueryTracer // tests count round trips
	feedKeep    int64           // tests: change rows kept (feedKeep)
	afterCommit func()          // tests: runs between COMMIT and the shredding
}

// Store is a kv.Store on a PostgreSQL database.
type Store struct {
	pool    *pgxpool.Pool
	objects *objectStore // nil without blob buckets
	blob    [][]byte
	shred   [][]byte
	cached  [][]byte // Options.CacheBuckets
	now     func() time.Time

	// orphans holds when this store's clock first saw each object no
	// row references (Sweep), so that an orphan's age never rests on
	// the S3 server's clock.
	orphansMu sync.Mutex
	orphans   map[string]time.Time

	claims      claims // claim.go
	afterCommit func()
	shredFailed atomic.Pointer[func(error)]
	writer      sync.Mutex // one local writer waits here, not on a connection
	closed      atomic.Bool
	feed        feedState // the change feed (changes.go)
}

// Open connects to the database at url (a PostgreSQL connection URL or
// key=value string), creates the schema when the database is empty and
// checks its version.
func Open(ctx context.Context, url string, opt Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pgkv: connection string: %w", err)
	}
	cfg.ConnConfig.Tracer = opt.tracer
	cfg.MaxConns = 8
	if opt.MaxConns > 0 {
		cfg.MaxConns = opt.MaxConns
	}
	s := &Store{blob: opt.BlobBuckets, shred: opt.ShredBuckets, cached: opt.CacheBuckets, now: opt.Now, afterCommit: opt.afterCommit}
	for _, name := range opt.ShredBuckets {
		if !slices.ContainsFunc(opt.BlobBuckets, func(b []byte) bool { return string(b) == string(name) }) {
			return nil, fmt.Errorf("pgkv: shred bucket %q is not a blob bucket", name)
		}
	}
	for _, name := range opt.CacheBuckets {
		if !slices.ContainsFunc(opt.BlobBuckets, func(b []byte) bool { return string(b) == string(name) }) {
			return nil, fmt.Errorf("pgkv: cache bucket %q is not a blob bucket", name)
		}
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.feed.init(opt.feedKeep)
	if len(opt.BlobBuckets) > 0 {
		if opt.S3 == nil {
			return nil, errors.New("pgkv: blob buckets without S3 options")
		}
		if s.objects, err = newObjectStore(*opt.S3); err != nil {
			return nil, err
		}
		if len(opt.CacheBuckets) > 0 {
			s.objects.cache = newObjectCache(opt.CacheBytes)
		}
		// A deleted object must be gone, not kept as a noncurrent version.
		if err := s.objects.checkUnversioned(ctx); err != nil {
			return nil, err
		}
	}
	if s.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("pgkv: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		s.pool.Close()
		return nil, err
	}
	return s, nil
}

// migrate creates the schema under the writer lock, so that daemons
// starting at once on an empty database do not race.
func (s *Store) migrate(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, writerLock); err != nil {
			return fmt.Errorf("pgkv: lock: %w", err)
		}
		for _, q := range slices.Concat(schema, changesSchema) {
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("pgkv: schema: %w", err)
			}
		}
		var versions []int
		rows, _ := tx.Query(ctx, `SELECT version FROM kv_schema`)
		versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			return fmt.Errorf("pgkv: schema version: %w", err)
		}
		switch {
		case len(versions) == 0:
			_, err = tx.Exec(ctx, `INSERT INTO kv_schema (version) VALUES ($1)`, schemaVersion)
			return err
		case len(versions) == 1 && versions[0] == schemaVersion:
			return nil
		default:
			return fmt.Errorf("pgkv: the database has schema version %v; this build knows %d", versions, schemaVersion)
		}
	})
}

// Close closes the connections. Transactions begun after Close fail.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.claims.mu.Lock()
	s.dropClaims(context.Background())
	s.claims.mu.Unlock()
	s.feed.close()
	s.pool.Close()
	return nil
}

// View runs fn in a read-only REPEATABLE READ transaction: a snapshot
// taken when View begins.
func (s *Store) View(fn func(kv.Tx) error) error {
	_, err := s.run(false, fn)
	return err
}

// Update runs fn in a transaction that first takes the writer lock, and
// commits it when fn returns nil.
func (s *Store) Update(fn func(kv.Tx) error) error {
	t, err := func() (*tx, error) {
		s.writer.Lock()
		defer s.writer.Unlock() // also when fn panics
		return s.run(true, fn)
	}()
	if err != nil {
		return err
	}
	if s.afterCommit != nil {
		s.afterCommit()
	}
	s.shredReleased(t.shredded)
	// After commit, with the connection and the writer released, as bbolt
	// runs its commit handlers: they may begin transactions of their own.
	for _, f := range t.onCommit {
		f()
	}
	return nil
}

// run runs fn in a transaction and commits it when writable; it returns
// the committed transaction, whose after-commit work is the caller's.
func (s *Store) run(writable bool, fn func(kv.Tx) error) (*tx, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	ctx := context.Background()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		if s.closed.Load() {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("pgkv: %w", err)
	}
	// BEGIN and the first statement go in one round trip; the statement
	// takes the lock (write) or the snapshot (read) at once.
	begin := `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT 1`
	if writable {
		begin = fmt.Sprintf(`BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock(%d)`, writerLock)
	}
	if _, err := conn.Exec(ctx, begin); err != nil {
		conn.Release()
		return nil, fmt.Errorf("pgkv: begin: %w", err)
	}
	t := &tx{s: s, ctx: ctx, conn: conn.Conn(), writable: writable,
		buckets: map[bucketKey]*bucket{}, values: map[int64]map[string]cached{},
		nested: map[int64]map[string]bool{}, dirtySeq: map[*bucket]struct{}{},
		pending: map[pendingKey]pendingOp{}, batch: &pgx.Batch{}, slots: make(chan struct{}, uploadsInFlight)}
	committed := false
	defer func() {
		if !committed {
			if _, rerr := conn.Exec(ctx, `ROLLBACK`); rerr != nil {
				conn.Hijack().Close(ctx)
			} else {
				conn.Release()
			}
			t.discardObjects()
			return
		}
		conn.Release()
	}()
	if err := fn(t); err != nil {
		return nil, err
	}
	if t.err != nil {
		return nil, t.err
	}
	if !writable {
		return t, nil // the deferred ROLLBACK ends the snapshot
	}
	// Every object is written before the rows that reference it commit.
	if err := t.waitUploads(); err != nil {
		return nil, err
	}
	if err := t.flush(true); err != nil {
		return nil, err
	}
	committed = true
	return t, nil
}

type bucketKey struct {
	parent int64
	name   string
}

// cached is a value the transaction has read or written: absent, or a
// value, or a nested bucket's name.
type cached struct {
	kind  int16 // kindValue or kindBucket (an object's value is cached as a value)
	value []byte
	ok    bool // present
}

// tx is a transaction on one connection.
type tx struct {
	s        *Store
	ctx      context.Context
	conn     *pgx.Conn
	writable bool
	err      error // the first database error; Update returns it
	gen      uint64

	buckets  map[bucketKey]*bucket // looked up; nil for absent
	values   map[int64]map[string]cached
	nested   map[int64]map[string]bool // the nested buckets' names, by bucket, once read
	onCommit []func()

	// Writes wait, sent in one round trip before the next statement that
	// reads rows, and with COMMIT: plain values as the last write to each
	// key (writes to distinct keys commute), object rows as statements in
	// batch.
	pending  map[pendingKey]pendingOp
	batch    *pgx.Batch
	dirtySeq map[*bucket]struct{} // sequences to write with the batch

	changes map[feedKey]struct{} // changed keys of fed buckets (changes.go)

	put      []string // objects written: removed on rollback
	shredded [][]byte // objects of shred buckets released: removed after commit

	// Object uploads run in the background, at most uploadsInFlight at
	// once; commit waits for them.
	uploads sync.WaitGroup
	slots   chan struct{}
	upMu    sync.Mutex
	upErr   error
}

type pendingKey struct {
	bucket int64
	key    string
}

type pendingOp struct {
	value []byte // nil: delete
}

// uploadsInFlight bounds a transaction's concurrent object PUTs.
const uploadsInFlight = 8

// flush sends the waiting writes and sequences, with COMMIT when commit
// is set, in one round trip.
func (t *tx) flush(commit bool) error {
	if t.err != nil {
		return t.err
	}
	for b := range t.dirtySeq {
		t.batch.Queue(`UPDATE kv_buckets SET seq = $2 WHERE id = $1`, b.id, int64(b.seq))
	}
	clear(t.dirtySeq)
	var putB, delB []int64
	var putK, putV, delK [][]byte
	for k, op := range t.pending {
		if op.value != nil {
			putB, putK, putV = append(putB, k.bucket), append(putK, []byte(k.key)), append(putV, op.value)
		} else {
			delB, delK = append(delB, k.bucket), append(delK, []byte(k.key))
		}
	}
	clear(t.pending)
	if len(putB) > 0 {
		t.batch.Queue(`INSERT INTO kv_rows (bucket, key, kind, value)
			SELECT b, k, 0, v FROM unnest($1::bigint[], $2::bytea[], $3::bytea[]) AS u(b, k, v)
			ON CONFLICT (bucket, key) DO UPDATE SET kind = 0, value = excluded.value`, putB, putK, putV)
	}
	if len(delB) > 0 {
		t.batch.Queue(`DELETE FROM kv_rows r USING unnest($1::bigint[], $2::bytea[]) AS u(b, k)
			WHERE r.bucket = u.b AND r.key = u.k AND r.kind = 0`, delB, delK)
	}
	var tag pgconn.CommandTag
	if commit {
		t.queueChanges()
		t.batch.Queue(`COMMIT`).Exec(func(ct pgconn.CommandTag) error { tag = ct; return nil })
	}
	if t.batch.Len() == 0 {
		return nil
	}
	b := t.batch
	t.batch = &pgx.Batch{}
	if err := t.conn.SendBatch(t.ctx, b).Close(); err != nil {
		t.fail(err)
		return t.err
	}
	if commit && tag.String() != "COMMIT" {
		t.fail(fmt.Errorf("commit ended in %q", tag))
		return t.err
	}
	return nil
}

// isNested reports whether key names a nested bucket of bucket, from the
// cache or from one query per bucket and transaction.
func (t *tx) isNested(bucket int64, key []byte) bool {
	if c, ok := t.values[bucket][string(key)]; ok {
		return c.ok && c.kind == kindBucket
	}
	names, ok := t.nested[bucket]
	if !ok {
		if t.err != nil {
			return false
		}
		rows, _ := t.conn.Query(t.ctx, `SELECT key FROM kv_rows WHERE bucket = $1 AND kind = 1`, bucket)
		keys, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
		if err != nil {
			t.fail(err)
			return false
		}
		names = map[string]bool{}
		for _, k := range keys {
			names[string(k)] = true
		}
		t.nested[bucket] = names
	}
	return names[string(key)]
}

// upload writes an object in the background.
func (t *tx) upload(name string, value []byte) {
	t.slots <- struct{}{}
	t.uploads.Go(func() {
		defer func() { <-t.slots }()
		if err := t.s.objects.putNew(t.ctx, name, value); err != nil {
			t.upMu.Lock()
			if t.upErr == nil {
				t.upErr = err
			}
			t.upMu.Unlock()
		}
	})
}

func (t *tx) waitUploads() error {
	t.uploads.Wait()
	t.upMu.Lock()
	defer t.upMu.Unlock()
	return t.upErr
}

func (t *tx) fail(err error) {
	if t.err == nil {
		t.err = fmt.Errorf("pgkv: %w", err)
	}
}

func (t *tx) Writable() bool     { return t.writable }
func (t *tx) OnCommit(fn func()) { t.onCommit = append(t.onCommit, fn) }
func (t *tx) Bucket(name []byte) kv.Bucket {
	if b := t.lookup(nil, name); b != nil {
		return b
	}
	return nil
}

// wrote invalidates cursors' batches and notes a value in the cache.
func (t *tx) wrote(bucket int64, key []byte, c cached) {
	t.gen++
	m := t.values[bucket]
	if m == nil {
		m = map[string]cached{}
		t.values[bucket] = m
	}
	m[string(key)] = c
}

func (t *tx) isBlob(top []byte) bool {
	return slices.ContainsFunc(t.s.blob, func(b []byte) bool { return string(b) == string(top) })
}

// newBucket returns the handle of bucket id named name in the bucket in
// (nil: a top-level bucket), which it takes its kind from.
func (t *tx) newBucket(in *bucket, id int64, name []byte, seq uint64) *bucket {
	b := &bucket{t: t, id: id, seq: seq, feed: newBucketFeed(t.s, in, name)}
	if in != nil {
		b.blob, b.shred, b.cache = in.blob, in.shred, in.cache
	} else {
		b.blob = t.isBlob(name)
		b.shred = slices.ContainsFunc(t.s.shred, func(s []byte) bool { return string(s) == string(name) })
		b.cache = slices.ContainsFunc(t.s.cached, func(s []byte) bool { return string(s) == string(name) })
	}
	return b
}

func parentID(in *bucket) int64 {
	if in == nil {
		return 0
	}
	return in.id
}

// lookup returns the bucket name in the bucket in (nil: top level), or
// nil.
func (t *tx) lookup(in *bucket, name []byte) *bucket {
	parent := parentID(in)
	k := bucketKey{parent, string(name)}
	if b, ok := t.buckets[k]; ok {
		return b
	}
	if t.err != nil {
		return nil
	}
	var id, seq int64
	err := t.conn.QueryRow(t.ctx, `SELECT id, seq FROM kv_buckets WHERE parent = $1 AND name = $2`, parent, name).Scan(&id, &seq)
	if errors.Is(err, pgx.ErrNoRows) {
		t.buckets[k] = nil
		return nil
	}
	if err != nil {
		t.fail(err)
		return nil
	}
	b := t.newBucket(in, id, name, uint64(seq))
	t.buckets[k] = b
	return b
}

// create makes the bucket name in parent; when exists is false it fails
// on an existing bucket.
func (t *tx) create(in *bucket, name []byte, exists bool) (*bucket, error) {
	parent := parentID(in)
	if !t.writable {
		return nil, ErrTxNotWritable
	}
	if len(name) == 0 {
		return nil, ErrBucketNameRequired
	}
	if b := t.lookup(in, name); b != nil {
		if !exists {
			return nil, ErrBucketExists
		}
		return b, nil
	}
	if t.err != nil {
		return nil, t.err
	}
	if parent != 0 {
		if err := t.flush(false); err != nil {
			return nil, err
		}
		tag, err := t.conn.Exec(t.ctx, `INSERT INTO kv_rows (bucket, key, kind) VALUES ($1, $2, 1) ON CONFLICT DO NOTHING`, parent, name)
		if err != nil {
			t.fail(err)
			return nil, t.err
		}
		if tag.RowsAffected() == 0 {
			return nil, ErrIncompatibleValue
		}
		t.wrote(parent, name, cached{kind: kindBucket, ok: true})
		t.changed(in, name)
		if names := t.nested[parent]; names != nil {
			names[string(name)] = true
		}
	}
	var id int64
	if err := t.conn.QueryRow(t.ctx, `INSERT INTO kv_buckets (parent, name) VALUES ($1, $2) RETURNING id`, parent, name).Scan(&id); err != nil {
		t.fail(err)
		return nil, t.err
	}
	b := t.newBucket(in, id, name, 0)
	t.buckets[bucketKey{parent, string(name)}] = b
	if in == nil {
		t.changedTop(name)
	}
	return b, nil
}

func (t *tx) CreateBucket(name []byte) (kv.Bucket, error) {
	b, err := t.create(nil, name, false)
	if err != nil {
		return nil, err
	}
	return b, nil
}

func (t *tx) CreateBucketIfNotExists(name []byte) (kv.Bucket, error) {
	b, err := t.create(nil, name, true)
	if err != nil {
		return nil, err
	}
	return b, nil
}

func (t *tx) DeleteBucket(name []byte) error { return t.deleteBucket(nil, name) }

// deleteBucket removes a bucket, the buckets nested in it and their rows
// in one statement, and notes their objects for removal after commit.
func (t *tx) deleteBucket(in *bucket, name []byte) error {
	if !t.writable {
		return ErrTxNotWritable
	}
	parent := parentID(in)
	b := t.lookup(in, name)
	if b == nil {
		if t.err != nil {
			return t.err
		}
		if parent != 0 {
			if c := t.get(parent, name, false, false); c.ok {
				return ErrIncompatibleValue
			}
		}
		return ErrBucketNotFound
	}
	if err := t.flush(false); err != nil {
		return err
	}
	rows, _ := t.conn.Query(t.ctx, `
		WITH RECURSIVE sub(id) AS (
			SELECT $1::bigint
			UNION ALL SELECT b.id FROM kv_buckets b JOIN sub ON b.parent = sub.id),
		dr AS (DELETE FROM kv_rows WHERE bucket IN (SELECT id FROM sub) RETURNING kind, value),
		db AS (DELETE FROM kv_buckets WHERE id IN (SELECT id FROM sub)),
		dp AS (DELETE FROM kv_rows WHERE bucket = $2 AND key = $3 AND kind = 1 AND $2 <> 0)
		INSERT INTO kv_released (name, released) SELECT value, $4 FROM dr WHERE kind = 2
		ON CONFLICT DO NOTHING RETURNING name`, b.id, parent, name, t.s.now().UnixNano())
	released, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err == nil && b.shred {
		t.shredded = append(t.shredded, released...)
	}
	if err != nil {
		t.fail(err)
		return t.err
	}
	if in == nil {
		t.changedTop(name)
	} else {
		t.changed(in, name)
	}
	// Forget every bucket and value cached: nested handles are gone too.
	clear(t.buckets)
	clear(t.values)
	clear(t.nested)
	t.gen++
	return nil
}

func (t *tx) ForEach(fn func(name []byte, b kv.Bucket) error) error {
	if t.err != nil {
		return t.err
	}
	rows, _ := t.conn.Query(t.ctx, `SELECT id, name, seq FROM kv_buckets WHERE parent = 0 ORDER BY name`)
	type top struct {
		id, seq int64
		name    []byte
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (top, error) {
		var x top
		err := r.Scan(&x.id, &x.name, &x.seq)
		return x, err
	})
	if err != nil {
		t.fail(err)
		return t.err
	}
	for _, x := range all {
		b := t.buckets[bucketKey{0, string(x.name)}]
		if b == nil {
			b = t.newBucket(nil, x.id, x.name, uint64(x.seq))
			t.buckets[bucketKey{0, string(x.name)}] = b
		}
		if err := fn(x.name, b); err != nil {
			return err
		}
	}
	return nil
}

// get reads one key of a bucket, from the cache or the database; an
// object's value is fetched from S3. shred, cache: the bucket is a shred
// bucket, a cache bucket.
func (t *tx) get(bucket int64, key []byte, shred, cache bool) cached {
	if c, ok := t.values[bucket][string(key)]; ok {
		return c
	}
	if t.err != nil {
		return cached{}
	}
	var kind int16
	var value []byte
	err := t.conn.QueryRow(t.ctx, `SELECT kind, value FROM kv_rows WHERE bucket = $1 AND key = $2`, bucket, key).Scan(&kind, &value)
	var c cached
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		t.fail(err)
		return cached{}
	default:
		c = t.resolve(kind, value, shred, cache)
	}
	m := t.values[bucket]
	if m == nil {
		m = map[string]cached{}
		t.values[bucket] = m
	}
	m[string(key)] = c
	return c
}

// resolve turns a row into a cached value, fetching an object's value.
// In a read transaction, a shred bucket's row whose object is gone reads
// as absent: a commit after the snapshot deleted the value and destroyed
// its object at once (Options.ShredBuckets).
func (t *tx) resolve(kind int16, value []byte, shred, cache bool) cached {
	switch kind {
	case kindBucket:
		return cached{kind: kindBucket, ok: true}
	case kindObject:
		get := t.s.objects.get
		if cache {
			get = t.s.objects.getCached
		}
		v, err := get(t.ctx, string(value))
		if err != nil && shred && !t.writable && isCode(err, "NoSuchKey") {
			return cached{}
		}
		if err != nil {
			t.fail(err)
			return cached{}
		}
		return cached{kind: kindValue, value: v, ok: true}
	}
	if value == nil {
		value = []byte{}
	}
	return cached{kind: kindValue, value: value, ok: true}
}

// bucket is a bucket of a transaction.
type bucket struct {
	t     *tx
	id    int64
	seq   uint64
	blob  bool
	shred bool        // a shred bucket's (Options.ShredBuckets)
	cache bool        // a cache bucket's (Options.CacheBuckets)
	feed  *bucketFeed // nil when not in a fed bucket (changes.go)
}

func (b *bucket) Get(key []byte) []byte {
	c := b.t.get(b.id, key, b.shred, b.cache)
	if !c.ok || c.kind == kindBucket {
		return nil
	}
	return c.value
}

func (b *bucket) Put(key, value []byte) error {
	t := b.t
	switch {
	case !t.writable:
		return ErrTxNotWritable
	case len(key) == 0:
		return ErrKeyRequired
	case len(key) > maxKeySize:
		return ErrKeyTooLarge
	case t.err != nil:
		return t.err
	}
	if t.isNested(b.id, key) {
		return ErrIncompatibleValue
	}
	if t.err != nil {
		return t.err
	}
	// Copies: the write waits for the batch, the object for its upload.
	key, value = bytes.Clone(key), bytes.Clone(value)
	if value == nil {
		value = []byte{}
	}
	if !b.blob {
		t.pending[pendingKey{b.id, string(key)}] = pendingOp{value}
	} else {
		name := t.s.objects.newName()
		t.put = append(t.put, name)
		t.upload(name, value)
		b.noteShredded(key)
		// The row takes the place of any earlier one, whose object is
		// then released.
		t.batch.Queue(`
			WITH old AS (SELECT value FROM kv_rows WHERE bucket = $1 AND key = $2 AND kind = 2),
			rel AS (INSERT INTO kv_released (name, released) SELECT value, $4 FROM old ON CONFLICT DO NOTHING)
			INSERT INTO kv_rows (bucket, key, kind, value) VALUES ($1, $2, 2, $3)
			ON CONFLICT (bucket, key) DO UPDATE SET kind = 2, value = excluded.value`,
			b.id, key, []byte(name), t.s.now().UnixNano())
	}
	t.wrote(b.id, key, cached{kind: kindValue, value: value, ok: true})
	t.changed(b, key)
	return nil
}

func (b *bucket) Delete(key []byte) error {
	t := b.t
	if !t.writable {
		return ErrTxNotWritable
	}
	if t.isNested(b.id, key) {
		return ErrIncompatibleValue
	}
	if t.err != nil {
		return t.err
	}
	if c, ok := t.values[b.id][string(key)]; ok && !c.ok {
		return nil // known absent
	}
	key = bytes.Clone(key)
	if !b.blob {
		t.pending[pendingKey{b.id, string(key)}] = pendingOp{}
	} else {
		b.noteShredded(key)
		t.batch.Queue(`
			WITH d AS (DELETE FROM kv_rows WHERE bucket = $1 AND key = $2 AND kind = 2 RETURNING value)
			INSERT INTO kv_released (name, released) SELECT value, $3 FROM d ON CONFLICT DO NOTHING`,
			b.id, key, t.s.now().UnixNano())
	}
	t.wrote(b.id, key, cached{})
	t.changed(b, key)
	return nil
}

func (b *bucket) Cursor() kv.Cursor { return &cursor{b: b} }

func (b *bucket) ForEach(fn func(k, v []byte) error) error {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return b.t.err
}

// KeyN counts the keys of b and of the buckets nested in it, names of
// nested buckets included, as bbolt's Stats().KeyN does.
func (b *bucket) KeyN() int {
	t := b.t
	if t.flush(false) != nil {
		return 0
	}
	var n int
	err := t.conn.QueryRow(t.ctx, `
		WITH RECURSIVE sub(id) AS (
			SELECT $1::bigint
			UNION ALL SELECT k.id FROM kv_buckets k JOIN sub ON k.parent = sub.id)
		SELECT count(*) FROM kv_rows WHERE bucket IN (SELECT id FROM sub)`, b.id).Scan(&n)
	if err != nil {
		t.fail(err)
		return 0
	}
	return n
}

func (b *bucket) Sequence() uint64 { return b.seq }

func (b *bucket) SetSequence(v uint64) error {
	t := b.t
	if !t.writable {
		return ErrTxNotWritable
	}
	if t.err != nil {
		return t.err
	}
	b.seq = v
	t.dirtySeq[b] = struct{}{} // written with the next batch
	return nil
}

// NextSequence counts on from the sequence read in this transaction:
// the writer lock makes it the latest.
func (b *bucket) NextSequence() (uint64, error) {
	if err := b.SetSequence(b.seq + 1); err != nil {
		return 0, err
	}
	return b.seq, nil
}

func (b *bucket) Bucket(name []byte) kv.Bucket {
	if nb := b.t.lookup(b, name); nb != nil {
		return nb
	}
	return nil
}

func (b *bucket) CreateBucketIfNotExists(name []byte) (kv.Bucket, error) {
	nb, err := b.t.create(b, name, true)
	if err != nil {
		return nil, err
	}
	return nb, nil
}

func (b *bucket) DeleteBucket(name []byte) error { return b.t.deleteBucket(b, name) }

// cursor walks a bucket in batches of rows. A batch holds what the
// transaction's writes had made of the bucket when it was fetched; after
// a write (gen moves on) the next step fetches afresh from the current
// key, so a repositioned cursor, and Next after Cursor.Delete, see the
// transaction's own writes.
type cursor struct {
	b    *bucket
	rows []row // the batch, in the direction it was fetched
	i    int   // position in rows; -1 when off either end
	dir  int   // +1: rows ascend; -1: rows descend
	end  bool  // the batch reaches the end of the bucket in dir
	gen  uint64
}

type row struct {
	key   []byte
	kind  int16
	value []byte
}

func (c *cursor) fetch(query string, args ...any) {
	t := c.b.t
	c.rows, c.i = nil, -1
	if t.flush(false) != nil {
		return
	}
	rows, _ := t.conn.Query(t.ctx, query, append([]any{c.b.id}, args...)...)
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.key, &x.kind, &x.value)
		return x, err
	})
	if err != nil {
		t.fail(err)
		return
	}
	c.rows, c.gen, c.end = got, t.gen, len(got) < batchRows
	if len(got) > 0 {
		c.i = 0
	}
}

var (
	qFirst = fmt.Sprintf(`SELECT key, kind, value FROM kv_rows WHERE bucket = $1 ORDER BY key LIMIT %d`, batchRows)
	qLast  = fmt.Sprintf(`SELECT key, kind, value FROM kv_rows WHERE bucket = $1 ORDER BY key DESC LIMIT %d`, batchRows)
	qSeek  = fmt.Sprintf(`SELECT key, kind, value FROM kv_rows WHERE bucket = $1 AND key >= $2 ORDER BY key LIMIT %d`, batchRows)
	qAfter = fmt.Sprintf(`SELECT key, kind, value FROM kv_rows WHERE bucket = $1 AND key > $2 ORDER BY key LIMIT %d`, batchRows)
	qBelow = fmt.Sprintf(`SELECT key, kind, value FROM kv_rows WHERE bucket = $1 AND key < $2 ORDER BY key DESC LIMIT %d`, batchRows)
)

// current returns the pair under the cursor, caching its value.
func (c *cursor) current() ([]byte, []byte) {
	if c.i < 0 || c.i >= len(c.rows) {
		return nil, nil
	}
	r := c.rows[c.i]
	t := c.b.t
	var v cached
	_, seen := t.values[c.b.id][string(r.key)]
	switch {
	case r.kind == kindObject && (t.writable || seen):
		v = t.get(c.b.id, r.key, c.b.shred, c.b.cache)
	case r.kind == kindObject:
		// A read-only transaction keeps no object it walks past: a walk
		// over a whole bucket (a migration, a comparison) would hold
		// every chunk of the archive in memory until it ends.
		v = t.resolve(r.kind, r.value, c.b.shred, c.b.cache)
	default:
		v = t.resolve(r.kind, r.value, false, false)
	}
	if !v.ok || v.kind == kindBucket {
		return r.key, nil
	}
	return r.key, v.value
}

func (c *cursor) First() ([]byte, []byte) {
	c.dir = 1
	c.fetch(qFirst)
	return c.current()
}

func (c *cursor) Last() ([]byte, []byte) {
	c.dir = -1
	c.fetch(qLast)
	return c.current()
}

func (c *cursor) Seek(key []byte) ([]byte, []byte) {
	c.dir = 1
	c.fetch(qSeek, key)
	return c.current()
}

func (c *cursor) step(dir int) ([]byte, []byte) {
	if c.i < 0 {
		return nil, nil
	}
	cur := c.rows[c.i].key
	if dir == c.dir && c.gen == c.b.t.gen && c.i+1 < len(c.rows) {
		c.i++
		return c.current()
	}
	if dir == c.dir && c.gen == c.b.t.gen && c.end {
		c.rows, c.i = nil, -1
		return nil, nil
	}
	c.dir = dir
	if dir > 0 {
		c.fetch(qAfter, cur)
	} else {
		c.fetch(qBelow, cur)
	}
	return c.current()
}

func (c *cursor) Next() ([]byte, []byte) { return c.step(1) }
func (c *cursor) Prev() ([]byte, []byte) { return c.step(-1) }

func (c *cursor) Delete() error {
	if c.i < 0 {
		return errors.New("pgkv: cursor is not on a key")
	}
	r := c.rows[c.i]
	if r.kind == kindBucket {
		return ErrIncompatibleValue
	}
	return c.b.Delete(r.key)
}

var (
	_ kv.Store  = (*Store)(nil)
	_ kv.Tx     = (*tx)(nil)
	_ kv.Bucket = (*bucket)(nil)
	_ kv.Cursor = (*cursor)(nil)
)
