// Package boltkv is the kv seam on one bbolt file, the archive's embedded
// default. It adds nothing to bbolt: each method is bbolt's own, and the
// bbolt-only duties (backup by copying the file, page checks, compaction,
// salvage) reach the file through [Store.DB] and [BoltTx].
package boltkv

import (
	"github.com/callvault/callvault/archive/kv"

	bolt "go.etcd.io/bbolt"
)

// Store is a kv.Store on an open bbolt database.
type Store struct{ db *bolt.DB }

// New returns the store on db. Closing the store closes db.
func New(db *bolt.DB) *Store { return &Store{db: db} }

// DB returns the bbolt database, for the duties only bbolt has.
func (s *Store) DB() *bolt.DB { return s.db }

func (s *Store) View(fn func(kv.Tx) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return fn(Tx{tx}) })
}

func (s *Store) Update(fn func(kv.Tx) error) error {
	return s.db.Update(func(tx *bolt.Tx) error { return fn(Tx{tx}) })
}

func (s *Store) Close() error { return s.db.Close() }

// Tx is a kv.Tx on a bbolt transaction.
type Tx struct{ tx *bolt.Tx }

// WrapTx returns the kv view of a bbolt transaction.
func WrapTx(tx *bolt.Tx) kv.Tx { return Tx{tx} }

// BoltTx returns the bbolt transaction under tx, or nil when tx belongs
// to another backend.
func BoltTx(tx kv.Tx) *bolt.Tx {
	if t, ok := tx.(Tx); ok {
		return t.tx
	}
	return nil
}

func bucket(b *bolt.Bucket) kv.Bucket {
	if b == nil {
		return nil // a nil interface, not a typed nil
	}
	return Bucket{b}
}

func (t Tx) Bucket(name []byte) kv.Bucket { return bucket(t.tx.Bucket(name)) }

func (t Tx) CreateBucket(name []byte) (kv.Bucket, error) {
	b, err := t.tx.CreateBucket(name)
	if err != nil {
		return nil, err
	}
	return Bucket{b}, nil
}

func (t Tx) CreateBucketIfNotExists(name []byte) (kv.Bucket, error) {
	b, err := t.tx.CreateBucketIfNotExists(name)
	if err != nil {
		return nil, err
	}
	return Bucket{b}, nil
}

func (t Tx) DeleteBucket(name []byte) error { return t.tx.DeleteBucket(name) }

func (t Tx) ForEach(fn func(name []byte, b kv.Bucket) error) error {
	return t.tx.ForEach(func(name []byte, b *bolt.Bucket) error { return fn(name, Bucket{b}) })
}

func (t Tx) OnCommit(fn func()) { t.tx.OnCommit(fn) }
func (t Tx) Writable() bool     { return t.tx.Writable() }

// Bucket is a kv.Bucket on a bbolt bucket.
type Bucket struct{ b *bolt.Bucket }

// BoltBucket returns the bbolt bucket under b, or nil for another backend.
func BoltBucket(b kv.Bucket) *bolt.Bucket {
	if bb, ok := b.(Bucket); ok {
		return bb.b
	}
	return nil
}

func (b Bucket) Get(key []byte) []byte          { return b.b.Get(key) }
func (b Bucket) Put(key, value []byte) error    { return b.b.Put(key, value) }
func (b Bucket) Delete(key []byte) error        { return b.b.Delete(key) }
func (b Bucket) Cursor() kv.Cursor              { return b.b.Cursor() }
func (b Bucket) Sequence() uint64               { return b.b.Sequence() }
func (b Bucket) SetSequence(v uint64) error     { return b.b.SetSequence(v) }
func (b Bucket) NextSequence() (uint64, error)  { return b.b.NextSequence() }
func (b Bucket) Bucket(name []byte) kv.Bucket   { return bucket(b.b.Bucket(name)) }
func (b Bucket) DeleteBucket(name []byte) error { return b.b.DeleteBucket(name) }

func (b Bucket) ForEach(fn func(k, v []byte) error) error { return b.b.ForEach(fn) }

// KeyN counts the keys of b and of the buckets nested in it, as bbolt's
// Stats().KeyN does for a committed bucket; it walks the keys rather than
// reading Stats, whose counts leave out what the write transaction has
// not yet spilled to pages.
func (b Bucket) KeyN() int { return keyN(b.b) }

func keyN(b *bolt.Bucket) int {
	n := 0
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		n++
		if v == nil {
			if nb := b.Bucket(k); nb != nil {
				n += keyN(nb)
			}
		}
	}
	return n
}

func (b Bucket) CreateBucketIfNotExists(name []byte) (kv.Bucket, error) {
	nb, err := b.b.CreateBucketIfNotExists(name)
	if err != nil {
		return nil, err
	}
	return Bucket{nb}, nil
}

var (
	_ kv.Store  = (*Store)(nil)
	_ kv.Tx     = Tx{}
	_ kv.Bucket = Bucket{}
	_ kv.Cursor = (*bolt.Cursor)(nil)
)
