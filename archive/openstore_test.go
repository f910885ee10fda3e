package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/callvault/callvault/archive/kv"
	"github.com/callvault/callvault/archive/kv/boltkv"
	bolt "go.etcd.io/bbolt"
)

// foreign hides that a kv.Store is bbolt underneath: neither its
// transactions nor its buckets unwrap to bbolt's, so the archive takes it
// for another backend and skips the duties only a bbolt file has.
type foreign struct{ s kv.Store }

func (f foreign) View(fn func(kv.Tx) error) error {
	return f.s.View(func(tx kv.Tx) error { return fn(foreignTx{tx}) })
}

func (f foreign) Update(fn func(kv.Tx) error) error {
	return f.s.Update(func(tx kv.Tx) error { return fn(foreignTx{tx}) })
}

func (f foreign) Close() error { return f.s.Close() }

type foreignTx struct{ kv.Tx }

func (t foreignTx) Bucket(name []byte) kv.Bucket { return hide(t.Tx.Bucket(name)) }

func (t foreignTx) CreateBucket(name []byte) (kv.Bucket, error) {
	b, err := t.Tx.CreateBucket(name)
	return hide(b), err
}

func (t foreignTx) CreateBucketIfNotExists(name []byte) (kv.Bucket, error) {
	b, err := t.Tx.CreateBucketIfNotExists(name)
	return hide(b), err
}

func (t foreignTx) ForEach(fn func([]byte, kv.Bucket) error) error {
	return t.Tx.ForEach(func(name []byte, b kv.Bucket) error { return fn(name, hide(b)) })
}

type foreignBucket struct{ b kv.Bucket }

func hide(b kv.Bucket) kv.Bucket {
	if b == nil {
		return nil
	}
	return foreignBucket{b}
}

func (b foreignBucket) Get(key []byte) []byte                    { return b.b.Get(key) }
func (b foreignBucket) Put(key, value []byte) error              { return b.b.Put(key, value) }
func (b foreignBucket) Delete(key []byte) error                  { return b.b.Delete(key) }
func (b foreignBucket) Cursor() kv.Cursor                        { return b.b.Cursor() }
func (b foreignBucket) ForEach(fn func(k, v []byte) error) error { return b.b.ForEach(fn) }
func (b foreignBucket) KeyN() int                                { return b.b.KeyN() }
func (b foreignBucket) Sequence() uint64                         { return b.b.Sequence() }
func (b foreignBucket) SetSequence(v uint64) error               { return b.b.SetSequence(v) }
func (b foreignBucket) NextSequence() (uint64, error)            { return b.b.NextSequence() }
func (b foreignBucket) DeleteBucket(name []byte) error           { return b.b.DeleteBucket(name) }
func (b foreignBucket) Bucket(name []byte) kv.Bucket             { return hide(b.b.Bucket(name)) }

func (b foreignBucket) CreateBucketIfNotExists(name []byte) (kv.Bucket, error) {
	nb, err := b.b.CreateBucketIfNotExists(name)
	return hide(nb), err
}

// storeRound records, seals, verifies and deletes on a, the round every
// backend must pass.
func storeRound(t *testing.T, a *Archive) (kept *Recording) {
	t.Helper()
	ctx := t.Context()
	var recs []*Recording
	for i := range 3 {
		r := record(t, a, NewRecording{CallGUID: "g"}, data(3*ChunkSize/2+1000*i, uint64(i)), data(100, 9), Final{Info: []byte(`{}`)})
		exp := [][32]byte{sha256.Sum256([]byte{byte(i)})}
		if err := a.Seal(ctx, r.ID, exp); err != nil {
			t.Fatal(err)
		}
		res, err := a.Verify(ctx, r.ID, func(*Recording) ([][32]byte, error) { return exp, nil })
		if err != nil || !res.Valid || !res.Sealed {
			t.Fatalf("verify %d: %v %v", i, err, res.Problems)
		}
		if got := readBlob(t, a, r.ID, BlobOriginal); !bytes.Equal(got, data(3*ChunkSize/2+1000*i, uint64(i))) {
			t.Fatalf("recording %d reads back %d bytes, not what was written", i, len(got))
		}
		recs = append(recs, r)
	}
	if err := a.Delete(ctx, recs[1].ID, "admin", "request of the data subject"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx, recs[1].ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted recording: %v", err)
	}
	res, err := a.VerifyChain(ctx)
	if err != nil || !res.Valid || res.Seals != 3 || res.Tombstones != 1 || res.Entries != 4 {
		t.Fatalf("chain: %v %+v", err, res)
	}
	u, err := a.Usage(ctx)
	if err != nil || u.Recordings != 2 {
		t.Fatalf("usage: %v %+v", err, u)
	}
	return recs[0]
}

func storeOptions(dir string) Options {
	return Options{KeyFile: filepath.Join(dir, "archive.key"), KDF: FastKDF(), CommitInterval: 10 * time.Millisecond}
}

func openBoltStore(t *testing.T, path string) *boltkv.Store {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return boltkv.New(db)
}

// TestOpenStore opens an archive on a kv.Store that the caller opened
// (bbolt here), runs the round on it, and opens the same file again with
// Open: OpenStore and Open keep one format.
func TestOpenStore(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "archive.db")
	a, err := OpenStore(openBoltStore(t, path), path, storeOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	kept := storeRound(t, a)
	if err := a.Check(); err != nil {
		t.Fatal(err)
	}
	if u, _ := a.Usage(t.Context()); u.FileSize == 0 || u.PageSize == 0 {
		t.Fatalf("usage of a bbolt store has no file figures: %+v", u)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := Open(path, storeOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.Get(t.Context(), kept.ID); err != nil {
		t.Fatal(err)
	}
	if res, err := b.VerifyChain(t.Context()); err != nil || !res.Valid || res.Entries != 4 {
		t.Fatalf("chain after reopening with Open: %v %+v", err, res)
	}
	if _, err := OpenStore(nil, path, storeOptions(dir)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("OpenStore without a store: %v", err)
	}
}

// TestOpenStoreForeign runs the archive on a store it cannot tell is
// bbolt, as it runs on any other backend: the round passes, the duties of
// a bbolt file are skipped (Check passes, Usage has no file figures) and
// a backup, which such a backend makes by its own means, is refused.
func TestOpenStoreForeign(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "archive.db")
	a, err := OpenStore(foreign{openBoltStore(t, path)}, path, storeOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	storeRound(t, a)
	if err := a.Check(); err != nil {
		t.Fatal(err)
	}
	if u, _ := a.Usage(t.Context()); u.FileSize != 0 || u.PageSize != 0 || u.FreePages != 0 {
		t.Fatalf("usage of another backend has file figures: %+v", u)
	}
	if _, err := a.WriteBackup(io.Discard); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("backup of another backend: %v", err)
	}
	if err := a.Probe(context.Background()); err != nil {
		t.Fatal(err)
	}
}
