package archive

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callvault/callvault/archive/kv"
	"github.com/callvault/callvault/archive/kv/pgkv"
)

// countingTransport counts the GET requests it carries.
type countingTransport struct{ gets atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet {
		c.gets.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestOpenPostgresReadsNoDataKeys: opening an archive on PostgreSQL + S3
// does not fetch every recording's data-key object (one S3 GET each) to
// learn that none is in a slot file; an archive whose keys are slot
// references is still refused.
func TestOpenPostgresReadsNoDataKeys(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "archive.db")
	target := newPostgresTarget(t)
	opt := storeOptions(dir)
	a, err := target.openArchive(t, path, opt)
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	putSyntheticIndexed(t, a, 0, n, meta1M, func(int) {})
	if _, _, err := a.listSnapshot(t.Context()); err != nil { // the background build, done
		t.Fatal(err)
	}
	ct := &countingTransport{}
	s3 := target.s3
	s3.HTTPClient = &http.Client{Transport: ct, Timeout: time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store, err := pgkv.Open(ctx, target.url, pgkv.Options{BlobBuckets: BlobBuckets(), ShredBuckets: ShredBuckets(), S3: &s3})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	a.store = store  // the open archive, on a store that counts
	ct.gets.Store(0) // Open's checks of the bucket
	if err := a.openSlotsFor(); err != nil {
		t.Fatal(err)
	}
	if g := ct.gets.Load(); g > 1 {
		t.Errorf("opening read %d objects for %d recordings", g, n)
	}

	// A key in a slot file, as a build that kept one wrote it.
	if err := store.Update(func(tx kv.Tx) error {
		c := tx.Bucket(bucketDataKeys).Cursor()
		k, _ := c.First()
		return tx.Bucket(bucketDataKeys).Put(k, slotRef(1))
	}); err != nil {
		t.Fatal(err)
	}
	if err := a.openSlotsFor(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("slot references on PostgreSQL + S3: %v, want ErrCorrupt", err)
	}
}
