// Package pgkv is the kv seam on PostgreSQL, with the values of chosen
// buckets held as write-once objects in S3-compatible storage: the
// backend for several daemons sharing one archive.
//
// # Layout
//
// Three tables (schema version 1, created by Open under the writer lock
// and checked on every open): kv_buckets (id, parent, name, seq) names every
// bucket, nested ones by their parent's id, with its sequence; kv_rows
// (bucket, key, kind, value) holds every key, a nested bucket's name as a
// row of kind 1 among the keys, so that cursors see both in one order.
// Keys and names are bytea, which PostgreSQL compares bytewise, the order
// of bytes.Compare. A row of a blob bucket (Options.BlobBuckets: top-level
// buckets and everything nested in them) holds the name of the object that
// holds its value; kv_released lists released objects until Sweep
// removes them.
//
// # Guarantees
//
//   - One writer at a time across every process on the database: Update
//     takes pg_advisory_xact_lock in the same round trip as BEGIN (READ
//     COMMITTED, so each statement sees every commit made before the lock
//     was granted), and the lock ends with the transaction, also when the
//     connection dies. Within a process writers queue on a mutex, not on
//     pooled connections.
//   - View is REPEATABLE READ READ ONLY, its snapshot taken by a statement
//     sent with BEGIN: it sees the store as it was when View began and
//     never blocks the writer.
//   - Update returns nil only after COMMIT succeeded (synchronous_commit
//     as the server has it; on by default, so the commit is on disk).
//     When fn returns an error or panics, or a statement fails, the
//     transaction is rolled back; a failed statement's error is kept and
//     returned by Update or View even where the kv method that met it
//     (Get, Bucket, a cursor step) has no error to return.
//   - OnCommit's functions run after commit, with the writer lock and the
//     connection released, as bbolt runs its commit handlers.
//   - Cursors fetch 256 rows at a time. A fetched batch is used only while
//     the transaction has not written since; after a write, the next step
//     fetches afresh from the cursor's key, so Next after Cursor.Delete,
//     and any repositioned cursor, see the transaction's own writes.
//   - Round trips (TestRoundTrips): Put, Delete, SetSequence and
//     NextSequence send nothing at once; the writes wait in the
//     transaction and go in one round trip with COMMIT, or before the next
//     statement that reads rows (a cursor's fetch, KeyN, a bucket's
//     creation or deletion). A Get is one query, answered from the
//     transaction's cache when the key was read, written or walked over
//     before. A bucket is looked up once per transaction, with its
//     sequence; its nested buckets' names are read once, on its first
//     write, so that a Put over a nested bucket fails at once as in bbolt.
//
// # Objects
//
// A Put into a blob bucket writes the value as a new object under a fresh
// random name with If-None-Match: *, so an object is never overwritten
// (the Versity gateway v1.8.0 honours it: TestConditionalPut). Uploads run
// in the background, eight at a time per transaction; commit waits for
// all of them and commits the rows that reference them only when every
// one succeeded (TestUploadFailure). The objects a transaction releases
// (overwritten, deleted, or in a deleted bucket) are listed in
// kv_released by the same commit, and removed by Sweep once released
// longer ago than its grace period, so that a read transaction that began
// before the release still reads them; those a rolled back transaction
// wrote are removed at once. A process killed between an object's PUT and
// the commit leaves objects that no row references: Sweep also lists the
// objects under the prefix and removes those that neither a row nor
// kv_released names once this store's sweeps have seen them so for longer
// than the grace period, measured by the store's clock and not by the S3
// server's stamps (TestSweep); the period must be longer than the longest
// transaction (TestKilledWriter). Sweep is to
// run periodically (its caller chooses when); several may run it at once.
//
// Small objects of the cache buckets (Options.CacheBuckets) are kept in
// memory by name once read, at most Options.CacheBytes, least recently
// used out first (cache.go): a name is written once and never reused, so
// an entry cannot go stale; removing an object drops its entry.
//
// A transaction is a kv.Prefetcher (prefetch.go): Prefetch reads many
// keys of a bucket with one query and their objects prefetchObjects at a
// time, so that the archive's List reads a batch of recordings in a few
// round trips instead of a query and a GET per recording.
//
// # Claims
//
// TryClaim and Release (claim.go) mark, for the other processes on the
// database, what this one is working on: session-level advisory locks,
// all on one connection outside the pool, so that they end with the
// process or its connection.
//
// The S3 client is github.com/aws/aws-sdk-go-v2/service/s3, configured
// without the SDK's config loader: static keys, path-style addressing,
// SigV4 with the payload's SHA-256 in x-amz-content-sha256, and no
// chunked trailing checksums (which some S3-compatible servers refuse).
// It was chosen over minio-go for its smaller tree of one publisher's
// modules (no third-party code) and its typed IfNoneMatch field.
//
// # Change feed and named locks
//
// Store implements kv.Feed (changes.go): for the top-level buckets named
// to FeedBuckets, each commit appends one row per changed first-level key
// (bucket name and key, never a value; the empty key for a bucket created
// or deleted) to kv_changes, in the same transaction and the same round
// trip as COMMIT, numbered on from the single row of kv_feed. The writer
// lock serializes the numbering and a commit is visible before its lock
// is released, so readers see gapless numbers in commit order. Each row
// carries the committing Store's random origin; ChangesSince leaves a
// Store's own rows out (its OnCommit functions ran for them). The same
// statement deletes the rows older than the newest 100,000; a reader
// whose cursor is older than the oldest row kept gets Reset. The commit
// notifies the channel kv_changes with its origin as payload;
// WaitChanges LISTENs on a connection of its own (outside the pool) and
// returns on another Store's notification (when it has just connected:
// when the feed's end is not the cursor), or after 2 s (a poll, also
// while the listening connection is down). Buckets not fed cost nothing. Open
// creates the two tables beside the others without a schema version
// change; an older build ignores them and feeds nothing, so the daemons
// sharing a database must all run a build that feeds.
//
// Store implements kv.Locker: TryLock takes pg_try_advisory_lock on a
// connection of its own, held until unlock or Close; PostgreSQL releases
// the lock when that connection ends, also when the process dies.
//
// # What differs from bbolt
//
//   - Old versions of rows stay in the table's files until VACUUM (and in
//     the write-ahead log, its archives and base backups until they are
//     recycled); an S3 bucket with versioning keeps deleted objects as
//     noncurrent versions. A delete does not destroy bytes, so
//     crypto-shredding must not rest on deleting a wrapped key's row.
//     It rests on objects instead: a value of a shred bucket
//     (Options.ShredBuckets, a subset of the blob buckets) is never in a
//     row, only in its object, and the object a commit releases is
//     removed right after that commit (TestShredBuckets); a removal that
//     fails, or a process killed before it, leaves the name in
//     kv_released for Sweep (TestShredKilled). Open refuses a bucket
//     with versioning Enabled or Suspended, or with Object Lock, where a
//     removed object would survive as a noncurrent version.
//   - A released object stays in S3 for Sweep's grace period after the
//     commit that released it (bbolt frees the pages at once, though it
//     does not overwrite them either).
//   - A transaction holds a pooled connection (Options.MaxConns, default
//     8) for its whole life; nesting a View inside a transaction, as bbolt
//     allows, needs a second one.
//   - KeyN is one counting query over the bucket and those nested in it.
//   - PostgreSQL stores a bytea of up to 1 GiB; bbolt's key limit (32768
//     bytes) is kept so that both refuse alike.
package pgkv
