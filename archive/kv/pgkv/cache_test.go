package pgkv

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/callvault/callvault/archive/kv"
	"github.com/callvault/callvault/internal/servertest"
)

// countingTransport counts the GET requests for objects.
type countingTransport struct {
	gets atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/kv/") {
		c.gets.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

var cacheOpts = Options{BlobBuckets: [][]byte{[]byte("chunks"), []byte("keys")},
	ShredBuckets: [][]byte{[]byte("keys")}, CacheBuckets: [][]byte{[]byte("keys")}}

func getValue(t *testing.T, s *Store, bucket, key string) []byte {
	t.Helper()
	var v []byte
	if err := s.View(func(tx kv.Tx) error {
		v = tx.Bucket([]byte(bucket)).Get([]byte(key))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestObjectCache: an object of a cache bucket is fetched from S3 once
// and then read from memory, in later transactions too; one of another
// blob bucket is fetched every time. Deleting or overwriting the value
// drops the entry at once, also for a snapshot that began before (which
// reads the shredded value as absent, as without the cache); a second
// store on the same database, whose cache still holds the purged
// object, reads it as absent in every later snapshot, since no row
// names the object any more. The cache stays within its bound.
func TestObjectCache(t *testing.T) {
	pg := servertest.StartPostgres(t)
	url := pg.NewDatabase(t)
	s3o := newS3(t)
	var count countingTransport
	s3o.HTTPClient = &http.Client{Transport: &count}
	opt := cacheOpts
	opt.S3 = s3o
	s := open(t, url, opt)
	defer s.Close()
	other := open(t, url, opt) // another daemon on the same archive
	defer other.Close()

	mustUpdate(t, s, func(tx kv.Tx) error {
		k, _ := tx.CreateBucket([]byte("keys"))
		c, _ := tx.CreateBucket([]byte("chunks"))
		for _, key := range []string{"a", "b", "c"} {
			k.Put([]byte(key), []byte("key "+key))
		}
		return c.Put([]byte("a"), []byte("chunk a"))
	})

	before := count.gets.Load()
	for range 3 {
		if v := getValue(t, s, "keys", "a"); string(v) != "key a" {
			t.Fatalf("keys/a = %q", v)
		}
		if v := getValue(t, s, "chunks", "a"); string(v) != "chunk a" {
			t.Fatalf("chunks/a = %q", v)
		}
	}
	if got := count.gets.Load() - before; got != 1+3 {
		t.Fatalf("%d GETs for 3 reads of a cached key and 3 of a chunk, want 1+3", got)
	}
	// What Get returns is a copy: changing it changes no later read.
	v := getValue(t, s, "keys", "a")
	v[0] = 'X'
	if v := getValue(t, s, "keys", "a"); string(v) != "key a" {
		t.Fatalf("after changing a returned value: keys/a = %q", v)
	}
	// Warm the other store's cache with keys/b and keys/c.
	getValue(t, other, "keys", "b")
	getValue(t, other, "keys", "c")
	getValue(t, s, "keys", "b")

	// A snapshot older than the delete reads keys/a as absent, not from
	// the cache, once the shredding commit returned.
	oldA := refsOf(t, s, "a")
	if _, ok, _ := s.objects.cache.lookup(oldA); !ok {
		t.Fatal("keys/a not cached after reading it")
	}
	err := s.View(func(tx kv.Tx) error {
		mustUpdate(t, s, func(tx kv.Tx) error { return tx.Bucket([]byte("keys")).Delete([]byte("a")) })
		if v := tx.Bucket([]byte("keys")).Get([]byte("a")); v != nil {
			t.Errorf("shredded keys/a reads %q in an older snapshot", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.objects.cache.lookup(oldA); ok {
		t.Fatal("shredded keys/a still cached")
	}
	// An overwrite drops the old object's entry; the new value is read.
	oldB := refsOf(t, s, "b")
	mustUpdate(t, s, func(tx kv.Tx) error { return tx.Bucket([]byte("keys")).Put([]byte("b"), []byte("key b2")) })
	if _, ok, _ := s.objects.cache.lookup(oldB); ok {
		t.Fatal("overwritten keys/b's old object still cached")
	}
	if v := getValue(t, s, "keys", "b"); string(v) != "key b2" {
		t.Fatalf("keys/b = %q after the overwrite", v)
	}
	// The other store: keys/b reads the new value, keys/c purged by the
	// first store reads absent, though its old object is still in the
	// other store's memory, unreachable.
	oldC := refsOf(t, s, "c")
	mustUpdate(t, s, func(tx kv.Tx) error { return tx.Bucket([]byte("keys")).Delete([]byte("c")) })
	if v := getValue(t, other, "keys", "b"); string(v) != "key b2" {
		t.Fatalf("other store: keys/b = %q after the overwrite", v)
	}
	if v := getValue(t, other, "keys", "c"); v != nil {
		t.Fatalf("other store: purged keys/c reads %q", v)
	}
	// (Unreachable there, it stays in memory until newer entries evict it.)
	if _, ok, _ := other.objects.cache.lookup(oldC); !ok {
		t.Fatal("the other store's cache lost keys/c's entry: the read above did not show that the row decides")
	}

	// The bound: many keys through a small cache.
	small := opt
	small.CacheBytes = 20 * entryCost(oldC, []byte("value 000"))
	bounded := open(t, url, small)
	defer bounded.Close()
	mustUpdate(t, s, func(tx kv.Tx) error {
		k := tx.Bucket([]byte("keys"))
		for i := range 100 {
			k.Put(fmt.Appendf(nil, "n%03d", i), fmt.Appendf(nil, "value %03d", i))
		}
		return nil
	})
	for i := range 100 {
		if v := getValue(t, bounded, "keys", fmt.Sprintf("n%03d", i)); string(v) != fmt.Sprintf("value %03d", i) {
			t.Fatalf("n%03d = %q", i, v)
		}
	}
	st := bounded.objects.cache.stats()
	if st.Bytes > small.CacheBytes || st.Entries != 20 {
		t.Fatalf("cache of %d bytes: %+v", small.CacheBytes, st)
	}
	// The most recently read are kept, the first ones evicted.
	before = count.gets.Load()
	getValue(t, bounded, "keys", "n099")
	if count.gets.Load() != before {
		t.Fatal("the most recently read key was fetched again")
	}
	getValue(t, bounded, "keys", "n000")
	if count.gets.Load() != before+1 {
		t.Fatal("the least recently read key was not evicted")
	}
}

// refsOf returns the name of the object keys/key references.
func refsOf(t *testing.T, s *Store, key string) string {
	t.Helper()
	var name []byte
	err := s.pool.QueryRow(t.Context(), `SELECT r.value FROM kv_rows r JOIN kv_buckets b ON b.id = r.bucket
		WHERE b.parent = 0 AND b.name = 'keys' AND r.key = $1 AND r.kind = 2`, []byte(key)).Scan(&name)
	if err != nil {
		t.Fatal(err)
	}
	return string(name)
}

// TestCacheOptions: a cache bucket must be a blob bucket.
func TestCacheOptions(t *testing.T) {
	_, err := Open(t.Context(), "postgres://127.0.0.1:1/x", Options{BlobBuckets: [][]byte{[]byte("a")}, CacheBuckets: [][]byte{[]byte("b")}})
	if err == nil || !strings.Contains(err.Error(), "cache bucket") {
		t.Fatalf("cache bucket outside the blob buckets: %v", err)
	}
}
