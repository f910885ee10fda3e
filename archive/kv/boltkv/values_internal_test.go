package boltkv

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"github.com/callvault/callvault/archive/kv"
	bolt "go.etcd.io/bbolt"
)

func openInternal(t *testing.T, path string) *Store {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(db, path+".values", false, []byte("chunks"))
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestValueFileReadError: a value the file cannot give back (here EBADF;
// on a failing disk EIO) is not taken for an absent one. The transaction
// that met it fails with the error, in a read and in a write transaction
// (which commits nothing), through Get, ForEach and cursors; a reference
// past the end of the file still reads as absent.
func TestValueFileReadError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	s := openInternal(t, path)
	val := bytes.Repeat([]byte("v"), 10000)
	if err := s.Update(func(tx kv.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("chunks"))
		if err != nil {
			return err
		}
		return b.Put([]byte("a"), val)
	}); err != nil {
		t.Fatal(err)
	}

	// Reads from a descriptor open for writing only fail with EBADF.
	wo, err := os.OpenFile(path+".values", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	good := s.v.r
	s.v.r = wo
	defer func() { s.v.r = good; wo.Close() }()

	reads := map[string]func(kv.Bucket) []byte{
		"Get": func(b kv.Bucket) []byte { return b.Get([]byte("a")) },
		"ForEach": func(b kv.Bucket) []byte {
			var got []byte
			_ = b.ForEach(func(_, v []byte) error { got = v; return nil })
			return got
		},
		"Cursor":    func(b kv.Bucket) []byte { _, v := b.Cursor().First(); return v },
		"GetAppend": func(b kv.Bucket) []byte { return kv.GetAppend(b, []byte("a"), []byte{}) },
	}
	for name, read := range reads {
		var seen []byte
		err := s.View(func(tx kv.Tx) error {
			seen = read(tx.Bucket([]byte("chunks")))
			return nil
		})
		if !errors.Is(err, syscall.EBADF) || seen != nil {
			t.Errorf("View, %s: error %v, %d bytes read; want EBADF and nothing", name, err, len(seen))
		}
		err = s.Update(func(tx kv.Tx) error {
			b := tx.Bucket([]byte("chunks"))
			if read(b) == nil {
				// What a caller might do with a value it takes for absent.
				return b.Delete([]byte("a"))
			}
			return nil
		})
		if !errors.Is(err, syscall.EBADF) {
			t.Errorf("Update, %s: error %v, want EBADF", name, err)
		}
	}

	s.v.r = good
	if err := s.View(func(tx kv.Tx) error {
		if got := tx.Bucket([]byte("chunks")).Get([]byte("a")); !bytes.Equal(got, val) {
			t.Errorf("after the failed reads: %d bytes, want the value put", len(got))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// A reference past the end of the file: absent, no error.
	if err := s.db.Update(func(tx *bolt.Tx) error {
		ref := []byte{refTag, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0x10, 0}
		return tx.Bucket([]byte("chunks")).Put([]byte("past"), ref)
	}); err != nil {
		t.Fatal(err)
	}
	err = s.View(func(tx kv.Tx) error {
		if got := tx.Bucket([]byte("chunks")).Get([]byte("past")); got != nil {
			t.Errorf("a reference past the end read %d bytes", len(got))
		}
		return nil
	})
	if err != nil {
		t.Errorf("a reference past the end: %v", err)
	}

	// A damaged reference naming 4 GiB: absent, and no buffer sized for
	// it.
	if err := s.db.Update(func(tx *bolt.Tx) error {
		ref := []byte{refTag, 0, 0, 0, 0, 0, 0, 0x10, 0, 0xff, 0xff, 0xff, 0xff}
		return tx.Bucket([]byte("chunks")).Put([]byte("huge"), ref)
	}); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err = s.View(func(tx kv.Tx) error {
		b := tx.Bucket([]byte("chunks"))
		if got := b.Get([]byte("huge")); got != nil {
			t.Errorf("a reference of 4 GiB read %d bytes", len(got))
		}
		if got := kv.GetAppend(b, []byte("huge"), []byte{}); got != nil {
			t.Errorf("a reference of 4 GiB appended %d bytes", len(got))
		}
		return nil
	})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Errorf("a reference of 4 GiB: %v", err)
	}
	// (Other goroutines' allocations count too: the bound is far from
	// both them and the 4 GiB.)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
		t.Errorf("reading a reference of 4 GiB allocated %d bytes", grew)
	}
}
