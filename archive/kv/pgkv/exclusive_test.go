package pgkv

import (
	"errors"
	"testing"

	"github.com/callvault/callvault/archive/kv"
	"github.com/callvault/callvault/internal/servertest"
)

// TestExclusive: a store sees another store's sessions on its database
// but not its own; the writer lock held for a session makes another
// holder fail at once and is free again after release; Size counts rows
// and objects.
func TestExclusive(t *testing.T) {
	pg := servertest.StartPostgres(t)
	url := pg.NewDatabase(t)
	opt := Options{BlobBuckets: [][]byte{[]byte("blobs")}, S3: newS3(t)}
	a := open(t, url, opt)
	defer a.Close()
	ctx := t.Context()
	mustUpdate(t, a, func(tx kv.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("blobs"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), make([]byte, 5000))
	})
	if others, err := a.OtherSessions(ctx); err != nil || len(others) != 0 {
		t.Fatalf("alone: %v %q", err, others)
	}
	b := open(t, url, Options{})
	if others, err := a.OtherSessions(ctx); err != nil || len(others) == 0 {
		t.Fatalf("with a second store: %v %q", err, others)
	}

	release, err := a.HoldWriterLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.HoldWriterLock(ctx); !errors.Is(err, ErrWriterBusy) {
		t.Fatalf("second holder: %v", err)
	}
	release()
	release2, err := b.HoldWriterLock(ctx)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	release2()
	b.Close()

	if n, err := a.Size(ctx); err != nil || n < 5000 {
		t.Fatalf("size %d, %v", n, err)
	}
}
