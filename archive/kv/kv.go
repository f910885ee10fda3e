// Package kv is the seam between the archive and the engine that stores
// its records: a transactional, ordered key-value store with bbolt's
// semantics, which every backend provides in full.
//
//   - One write transaction at a time across every process sharing the
//     store; read transactions see a consistent snapshot and never block
//     the writer.
//   - Named top-level buckets (and buckets nested in them) of byte keys
//     kept in byte order (bytes.Compare), each with a sequence counter.
//   - Update commits durably before it returns nil; when fn returns an
//     error or panics nothing it did is kept.
//   - Slices returned by Get and by cursors are valid only until the
//     transaction ends; the caller copies what it keeps.
//   - A value the engine fails to read (a disk's EIO, an object store's
//     error) is never reported as absent for good: Get and cursors, which
//     return no error, give nil, and View or Update returns the error
//     (Update then commits nothing).
//
// The archive's logic — encryption, indexes, seal chain, lifecycle — sits
// above this seam and is the same on every backend, as restic's repository
// sits above its backends. Two implementations exist: boltkv (one bbolt
// file, the embedded default) and pgkv (PostgreSQL, with the values of
// chosen buckets held as write-once objects in S3-compatible storage).
package kv

// Store is a backend. Implementations are safe for concurrent use.
type Store interface {
	// View runs fn in a read-only transaction.
	View(fn func(Tx) error) error
	// Update runs fn in the read-write transaction and commits it durably
	// when fn returns nil.
	Update(fn func(Tx) error) error
	// Close releases the store. Transactions begun after Close fail.
	Close() error
}

// Tx is a transaction. A Tx is used by one goroutine at a time.
type Tx interface {
	// Bucket returns the named top-level bucket, or nil when absent.
	Bucket(name []byte) Bucket
	// CreateBucket creates a top-level bucket; it fails when it exists.
	CreateBucket(name []byte) (Bucket, error)
	// CreateBucketIfNotExists returns the top-level bucket, creating it
	// when absent.
	CreateBucketIfNotExists(name []byte) (Bucket, error)
	// DeleteBucket removes a top-level bucket and all it holds.
	DeleteBucket(name []byte) error
	// ForEach calls fn for each top-level bucket in name order.
	ForEach(fn func(name []byte, b Bucket) error) error
	// OnCommit registers fn to run after the transaction commits.
	OnCommit(fn func())
	// Writable reports whether this is the write transaction.
	Writable() bool
}

// AppendGetter is a Bucket that can read a value into the caller's
// buffer: GetAppend returns dst with the value of key appended (nil when
// absent; pass a non-nil dst to tell an empty value from an absent one),
// and the result stays valid after the transaction. A backend
// whose values live outside its pages (boltkv's value file) reads them
// there directly, sparing Get's buffer and the caller's copy of it.
// GetAppend (in this package) falls back to Get for other buckets.
type AppendGetter interface {
	GetAppend(key, dst []byte) []byte
}

// GetAppend returns dst with the value of key in b appended, or nil when
// absent.
func GetAppend(b Bucket, key, dst []byte) []byte {
	if g, ok := b.(AppendGetter); ok {
		return g.GetAppend(key, dst)
	}
	v := b.Get(key)
	if v == nil {
		return nil
	}
	return append(dst, v...)
}

// Bucket is a set of key/value pairs in key order.
type Bucket interface {
	// Get returns the value of key, or nil when absent or when key names
	// a nested bucket.
	Get(key []byte) []byte
	// Put sets key to value. Neither may be nil; the key is 1..32768
	// bytes.
	Put(key, value []byte) error
	// Delete removes key; deleting an absent key is not an error.
	Delete(key []byte) error
	// Cursor iterates over the bucket.
	Cursor() Cursor
	// ForEach calls fn for each pair in key order; v is nil for a nested
	// bucket. fn must not change the bucket.
	ForEach(fn func(k, v []byte) error) error
	// KeyN counts the keys (nested buckets included).
	KeyN() int
	// Sequence returns the bucket's counter.
	Sequence() uint64
	// SetSequence sets the bucket's counter.
	SetSequence(v uint64) error
	// NextSequence increments the counter and returns its new value.
	NextSequence() (uint64, error)
	// Bucket returns a nested bucket, or nil when absent.
	Bucket(name []byte) Bucket
	// CreateBucketIfNotExists returns a nested bucket, creating it when
	// absent.
	CreateBucketIfNotExists(name []byte) (Bucket, error)
	// DeleteBucket removes a nested bucket and all it holds.
	DeleteBucket(name []byte) error
}

// Cursor walks a bucket in key order. Each method returns a nil key past
// either end. The value is nil for a nested bucket.
type Cursor interface {
	First() (k, v []byte)
	Last() (k, v []byte)
	// Seek moves to key, or to the first key after it when absent.
	Seek(key []byte) (k, v []byte)
	Next() (k, v []byte)
	Prev() (k, v []byte)
	// Delete removes the pair under the cursor (write transaction only).
	Delete() error
}
