package pgkv

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/callvault/callvault/archive/kv"
	"github.com/callvault/callvault/internal/servertest"
)

// TestPrefetch: Prefetch reads a blob bucket's objects ahead, so the Gets
// that follow in the transaction fetch nothing more; it reads rows' values
// and absent keys alike, and leaves what the transaction wrote alone.
func TestPrefetch(t *testing.T) {
	pg := servertest.StartPostgres(t)
	url := pg.NewDatabase(t)
	s3o := newS3(t)
	var count countingTransport
	s3o.HTTPClient = &http.Client{Transport: &count}
	opt := Options{BlobBuckets: [][]byte{[]byte("chunks")}, S3: s3o}
	s := open(t, url, opt)
	defer s.Close()

	const n = 40
	var keys [][]byte
	mustUpdate(t, s, func(tx kv.Tx) error {
		c, _ := tx.CreateBucket([]byte("chunks"))
		r, _ := tx.CreateBucket([]byte("rows"))
		for i := range n {
			k := fmt.Appendf(nil, "k%02d", i)
			keys = append(keys, k)
			if err := c.Put(k, fmt.Appendf(nil, "chunk %d", i)); err != nil {
				return err
			}
			if err := r.Put(k, fmt.Appendf(nil, "row %d", i)); err != nil {
				return err
			}
		}
		return nil
	})
	asked := append(keys[:n:n], []byte("absent"))

	before := count.gets.Load()
	err := s.View(func(tx kv.Tx) error {
		p, ok := tx.(kv.Prefetcher)
		if !ok {
			t.Fatal("a pgkv transaction is no kv.Prefetcher")
		}
		p.Prefetch([]byte("chunks"), asked)
		p.Prefetch([]byte("rows"), asked)
		p.Prefetch([]byte("no such bucket"), asked)
		fetched := count.gets.Load() - before
		if fetched != n {
			t.Errorf("Prefetch made %d GETs for %d objects", fetched, n)
		}
		for i, k := range keys {
			if v := tx.Bucket([]byte("chunks")).Get(k); string(v) != fmt.Sprintf("chunk %d", i) {
				t.Errorf("chunks/%s = %q", k, v)
			}
			if v := tx.Bucket([]byte("rows")).Get(k); string(v) != fmt.Sprintf("row %d", i) {
				t.Errorf("rows/%s = %q", k, v)
			}
		}
		if v := tx.Bucket([]byte("chunks")).Get([]byte("absent")); v != nil {
			t.Errorf("absent key reads %q", v)
		}
		if got := count.gets.Load() - before; got != fetched {
			t.Errorf("Gets after Prefetch made %d more GETs", got-fetched)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// In the write transaction, what it wrote wins over what is stored.
	mustUpdate(t, s, func(tx kv.Tx) error {
		c := tx.Bucket([]byte("chunks"))
		if err := c.Put(keys[0], []byte("new")); err != nil {
			return err
		}
		if err := c.Delete(keys[1]); err != nil {
			return err
		}
		tx.(kv.Prefetcher).Prefetch([]byte("chunks"), keys[:3])
		if v := c.Get(keys[0]); string(v) != "new" {
			t.Errorf("written key reads %q after Prefetch", v)
		}
		if v := c.Get(keys[1]); v != nil {
			t.Errorf("deleted key reads %q after Prefetch", v)
		}
		if v := c.Get(keys[2]); string(v) != "chunk 2" {
			t.Errorf("chunks/%s = %q", keys[2], v)
		}
		return nil
	})
}

// TestReadOnlyWalkKeepsNoObjects: a cursor walking a bucket of objects in
// a read-only transaction (a migration's copy, a comparison) reads every
// value and keeps none of them for the rest of the transaction, so memory
// stays that of one value whatever the bucket holds; what Prefetch read
// is still answered from memory.
func TestReadOnlyWalkKeepsNoObjects(t *testing.T) {
	pg := servertest.StartPostgres(t)
	s := open(t, pg.NewDatabase(t), Options{BlobBuckets: [][]byte{[]byte("chunks")}, S3: newS3(t)})
	defer s.Close()
	const n = 20
	mustUpdate(t, s, func(tx kv.Tx) error {
		c, _ := tx.CreateBucket([]byte("chunks"))
		for i := range n {
			if err := c.Put(fmt.Appendf(nil, "k%02d", i), fmt.Appendf(nil, "chunk %d", i)); err != nil {
				return err
			}
		}
		return nil
	})
	err := s.View(func(ktx kv.Tx) error {
		ktx.(kv.Prefetcher).Prefetch([]byte("chunks"), [][]byte{[]byte("k03")})
		i := 0
		c := ktx.Bucket([]byte("chunks")).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if string(v) != fmt.Sprintf("chunk %d", i) {
				t.Errorf("%s = %q", k, v)
			}
			i++
		}
		if i != n {
			t.Errorf("walked %d of %d", i, n)
		}
		kept := 0
		for _, m := range ktx.(*tx).values {
			kept += len(m)
		}
		if kept != 1 {
			t.Errorf("the transaction keeps %d values after the walk, want the one prefetched", kept)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
