// Package boltkv is the kv seam on one bbolt file, the archive's embedded
// default. It adds to bbolt two corrections the contract suite (kvtest)
// found — KeyN counts what a write transaction has not yet spilled, and a
// cursor's step after Delete does not skip a pair — and, for a store
// opened with [Open], a value file: the values of chosen buckets kept in
// a file of their own beside the bbolt file (values.go). Every other
// method is bbolt's own, and the bbolt-only duties (backup by copying the
// file, page checks, compaction, salvage) reach the file through
// [Store.DB], [Store.ValueFile] and [BoltTx].
package boltkv

import (
	"github.com/callvault/callvault/archive/kv"

	bolt "go.etcd.io/bbolt"
)

// Store is a kv.Store on an open bbolt database.
type Store struct {
	db *bolt.DB
	v  *values // nil without a value file (values.go)
}

// New returns the store on db, every value in bbolt. Closing the store
// closes db.
func New(db *bolt.DB) *Store { return &Store{db: db} }

// DB returns the bbolt database, for the duties only bbolt has.
func (s *Store) DB() *bolt.DB { return s.db }

func (s *Store) View(fn func(kv.Tx) error) error {
	if s.v != nil {
		e := s.v.enter()
		defer s.v.leave(e)
	}
	return s.db.View(func(tx *bolt.Tx) error {
		t := Tx{tx: tx, v: s.v}
		if s.v != nil {
			t.r = new(txReads)
		}
		return t.r.check(fn(t))
	})
}

func (s *Store) Update(fn func(kv.Tx) error) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		var t *txValues
		var r *txReads
		if s.v != nil {
			r = new(txReads)
			if !s.v.ro {
				t = s.v.begin()
			}
		}
		// A value that could not be read was seen as absent: nothing
		// decided on it is committed.
		if err := r.check(fn(Tx{tx: tx, v: s.v, t: t, r: r})); err != nil {
			return err
		}
		if t != nil {
			return t.flush(tx)
		}
		return nil
	})
}

func (s *Store) Close() error {
	err := s.db.Close()
	if s.v != nil {
		s.v.close()
	}
	return err
}

// Tx is a kv.Tx on a bbolt transaction.
type Tx struct {
	tx *bolt.Tx
	v  *values   // the store's value file, or nil
	t  *txValues // this write transaction's part of it, or nil
	r  *txReads  // the value file's read errors, or nil without one
}

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

// top returns the kv view of the top-level bucket name.
func (t Tx) top(name []byte, b *bolt.Bucket) kv.Bucket {
	if b == nil {
		return nil
	}
	if t.v != nil && t.v.buckets[string(name)] {
		return fileBucket{b, t.v, t.t, t.r}
	}
	return Bucket{b}
}

func (t Tx) Bucket(name []byte) kv.Bucket { return t.top(name, t.tx.Bucket(name)) }

func (t Tx) CreateBucket(name []byte) (kv.Bucket, error) {
	b, err := t.tx.CreateBucket(name)
	if err != nil {
		return nil, err
	}
	return t.top(name, b), nil
}

func (t Tx) CreateBucketIfNotExists(name []byte) (kv.Bucket, error) {
	b, err := t.tx.CreateBucketIfNotExists(name)
	if err != nil {
		return nil, err
	}
	return t.top(name, b), nil
}

func (t Tx) DeleteBucket(name []byte) error {
	if t.t != nil && t.v.buckets[string(name)] {
		if b := t.tx.Bucket(name); b != nil {
			_ = b.ForEach(func(_, v []byte) error { t.t.release(v); return nil })
		}
	}
	return t.tx.DeleteBucket(name)
}

func (t Tx) ForEach(fn func(name []byte, b kv.Bucket) error) error {
	return t.tx.ForEach(func(name []byte, b *bolt.Bucket) error { return fn(name, t.top(name, b)) })
}

func (t Tx) OnCommit(fn func()) { t.tx.OnCommit(fn) }
func (t Tx) Writable() bool     { return t.tx.Writable() }

// Bucket is a kv.Bucket on a bbolt bucket.
type Bucket struct{ b *bolt.Bucket }

// BoltBucket returns the bbolt bucket under b, or nil for another backend.
func BoltBucket(b kv.Bucket) *bolt.Bucket {
	switch bb := b.(type) {
	case Bucket:
		return bb.b
	case fileBucket:
		return bb.b
	}
	return nil
}

func (b Bucket) Get(key []byte) []byte          { return b.b.Get(key) }
func (b Bucket) Put(key, value []byte) error    { return b.b.Put(key, value) }
func (b Bucket) Delete(key []byte) error        { return b.b.Delete(key) }
func (b Bucket) Cursor() kv.Cursor              { return &cursor{c: b.b.Cursor()} }
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

// cursor is bbolt's cursor, except that the step after Delete is taken
// by seeking to the deleted key: bbolt's own Next after Delete skips a
// pair when the transaction has already written to that leaf (its node is
// in memory), a long-standing bbolt bug.
type cursor struct {
	c       *bolt.Cursor
	key     []byte // the key under the cursor
	deleted []byte // the key Delete removed; the next step starts from it
}

func (c *cursor) at(k, v []byte) ([]byte, []byte) {
	c.key, c.deleted = k, nil
	return k, v
}

func (c *cursor) First() ([]byte, []byte)        { return c.at(c.c.First()) }
func (c *cursor) Last() ([]byte, []byte)         { return c.at(c.c.Last()) }
func (c *cursor) Seek(k []byte) ([]byte, []byte) { return c.at(c.c.Seek(k)) }

func (c *cursor) Next() ([]byte, []byte) {
	if c.deleted != nil {
		return c.at(c.c.Seek(c.deleted)) // the first key after the deleted one
	}
	return c.at(c.c.Next())
}

func (c *cursor) Prev() ([]byte, []byte) {
	if c.deleted != nil {
		if k, _ := c.c.Seek(c.deleted); k == nil {
			return c.at(c.c.Last())
		}
	}
	return c.at(c.c.Prev())
}

func (c *cursor) Delete() error {
	if err := c.c.Delete(); err != nil {
		return err
	}
	if c.key != nil {
		c.deleted = append([]byte(nil), c.key...)
	}
	return nil
}

var (
	_ kv.Store  = (*Store)(nil)
	_ kv.Tx     = Tx{}
	_ kv.Bucket = Bucket{}
	_ kv.Cursor = (*cursor)(nil)
)
