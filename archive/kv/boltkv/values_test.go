package boltkv_test

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/callvault/callvault/archive/kv"
	"github.com/callvault/callvault/archive/kv/boltkv"
	"github.com/callvault/callvault/archive/kv/kvtest"

	bolt "go.etcd.io/bbolt"
)

func openValues(t testing.TB, path string, buckets ...string) *boltkv.Store {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{InitialMmapSize: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	var names [][]byte
	for _, b := range buckets {
		names = append(names, []byte(b))
	}
	s, err := boltkv.Open(db, path+".values", false, names...)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	return s
}

// TestContractValueFile runs the kv contract with the values of every
// bucket it uses in the value file.
func TestContractValueFile(t *testing.T) {
	buckets := []string{"order", "m", "a", "z", "top", "seq", "c", "w", "d", "o", "r", "oc", "s", "n", "big", "e", "empty", "many", "rand", "later", "deep", "x", "written", "b"}
	kvtest.Run(t, func(t *testing.T) (kv.Store, func() kv.Store) {
		s := openValues(t, filepath.Join(t.TempDir(), "kv.db"), buckets...)
		t.Cleanup(func() { s.Close() })
		return s, func() kv.Store { return s }
	})
}

func put(t *testing.T, s kv.Store, bucket string, kvs ...string) {
	t.Helper()
	err := s.Update(func(tx kv.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		for i := 0; i < len(kvs); i += 2 {
			if err := b.Put([]byte(kvs[i]), []byte(kvs[i+1])); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, s kv.Store, bucket, key string) string {
	t.Helper()
	var v []byte
	err := s.View(func(tx kv.Tx) error {
		if b := tx.Bucket([]byte(bucket)); b != nil {
			v = bytes.Clone(b.Get([]byte(key)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(v)
}

// allocated is the file's size on disk.
func allocated(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Blocks * 512
}

// TestValueFileLayout checks that values go to the file and not into
// bbolt, are read back after reopening, and that a bucket's values put
// before it became a file bucket still read.
func TestValueFileLayout(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kv.db")
	// An older file: values inline.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	old := boltkv.New(db)
	put(t, old, "chunks", "old", "inline value")
	old.Close()

	s := openValues(t, path, "chunks")
	big := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	put(t, s, "chunks", "k1", string(big), "k2", "small")
	put(t, s, "plain", "p", "in bbolt")
	if got := get(t, s, "chunks", "k1"); got != string(big) {
		t.Fatalf("k1 reads %d bytes, want %d", len(got), len(big))
	}
	s.Close()

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, big[:4096]) {
		t.Fatal("the value is in the bbolt file")
	}
	vals, err := os.ReadFile(path + ".values")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(vals, big) || len(vals)%4096 != 0 {
		t.Fatalf("value file of %d bytes does not hold the value in blocks", len(vals))
	}

	s = openValues(t, path, "chunks")
	defer s.Close()
	for k, want := range map[string]string{"old": "inline value", "k1": string(big), "k2": "small"} {
		if got := get(t, s, "chunks", k); got != want {
			t.Errorf("%s after reopening: %d bytes, want %d", k, len(got), len(want))
		}
	}
	if got := get(t, s, "plain", "p"); got != "in bbolt" {
		t.Errorf("plain bucket: %q", got)
	}
	// Rolled back: nothing referenced, and the next commit's values land
	// where it wrote.
	errNo := fmt.Errorf("no")
	err = s.Update(func(tx kv.Tx) error {
		if err := tx.Bucket([]byte("chunks")).Put([]byte("gone"), big); err != nil {
			return err
		}
		return errNo
	})
	if err != errNo {
		t.Fatal(err)
	}
	if got := get(t, s, "chunks", "gone"); got != "" {
		t.Fatal("a rolled-back value reads")
	}
	put(t, s, "chunks", "k3", "after rollback")
	if got := get(t, s, "chunks", "k3"); got != "after rollback" {
		t.Fatalf("k3: %q", got)
	}
}

// TestValueFileTail: bytes written past the last reference (a crash
// between the value file's sync and bbolt's commit) are cut off by Open,
// and what is referenced stays.
func TestValueFileTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	s := openValues(t, path, "chunks")
	put(t, s, "chunks", "a", "alpha")
	s.Close()
	vf := path + ".values"
	f, err := os.OpenFile(vf, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(bytes.Repeat([]byte{7}, 3*4096)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s = openValues(t, path, "chunks")
	defer s.Close()
	fi, err := os.Stat(vf)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != 2*4096 {
		t.Fatalf("value file is %d bytes after reopening, want header and one block", fi.Size())
	}
	if got := get(t, s, "chunks", "a"); got != "alpha" {
		t.Fatalf("a: %q", got)
	}
	put(t, s, "chunks", "b", "beta")
	if get(t, s, "chunks", "a") != "alpha" || get(t, s, "chunks", "b") != "beta" {
		t.Fatal("values after the cut")
	}
}

// TestValueFileRelease: a deleted value's blocks go back to the file
// system only once no read transaction that began before the delete is
// open; an open one still reads it.
func TestValueFileRelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	s := openValues(t, path, "chunks")
	defer s.Close()
	big := bytes.Repeat([]byte{0x5a}, 1<<20)
	put(t, s, "chunks", "a", string(big), "b", string(big))
	vf := path + ".values"
	full := allocated(t, vf)
	if full < 2<<20 {
		t.Skipf("the file system allocates %d bytes for 2 MiB written", full)
	}

	inView, release, done, left := make(chan struct{}), make(chan struct{}), make(chan []byte), make(chan struct{})
	go func() {
		defer close(left)
		_ = s.View(func(tx kv.Tx) error {
			b := tx.Bucket([]byte("chunks"))
			close(inView)
			<-release
			done <- bytes.Clone(b.Get([]byte("a")))
			return nil
		})
	}()
	<-inView
	err := s.Update(func(tx kv.Tx) error { return tx.Bucket([]byte("chunks")).Delete([]byte("a")) })
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "chunks", "c", "a later commit")
	if got := allocated(t, vf); got < full {
		t.Fatalf("released while a reader is open: %d bytes allocated, %d before", got, full)
	}
	close(release)
	if got := <-done; !bytes.Equal(got, big) {
		t.Fatalf("the open reader read %d bytes of the deleted value", len(got))
	}
	<-left // the release happens as the reader leaves
	if got := allocated(t, vf); got > full-(1<<20)+8192 {
		t.Fatalf("%d bytes allocated after the delete, %d before", got, full)
	}
	if get(t, s, "chunks", "a") != "" || get(t, s, "chunks", "b") != string(big) {
		t.Fatal("values after the release")
	}
}

// TestValueFileOpenReleases: a release lost with the process (no reader
// left, punch not done) is done by the next Open.
func TestValueFileOpenReleases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	s := openValues(t, path, "chunks")
	big := bytes.Repeat([]byte{0x5a}, 1<<20)
	put(t, s, "chunks", "a", string(big), "b", "tail")
	s.Close()
	// Drop the reference behind the value file's back, as a commit whose
	// release the process did not live to do.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("chunks")).Delete([]byte("a")) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	vf := path + ".values"
	before := allocated(t, vf)
	if before < 1<<20 {
		t.Skipf("the file system allocates %d bytes for 1 MiB written", before)
	}
	s = openValues(t, path, "chunks")
	defer s.Close()
	if got := allocated(t, vf); got > before-(1<<20)+8192 {
		t.Fatalf("%d bytes allocated after Open, %d before", got, before)
	}
	if get(t, s, "chunks", "b") != "tail" {
		t.Fatal("b after Open")
	}
}

// TestValueFileReuse: the blocks of deleted values are written again
// rather than the file growing, and every live value reads back, also
// after reopening; a reader's snapshot keeps its values while others are
// written into freed space.
func TestValueFileReuse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	s := openValues(t, path, "chunks")
	rng := rand.New(rand.NewPCG(1, 2))
	want := map[string][]byte{}
	var putBytes int64 // in the current round
	putBatch := func(from, n int) {
		t.Helper()
		err := s.Update(func(tx kv.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("chunks"))
			if err != nil {
				return err
			}
			for i := from; i < from+n; i++ {
				v := make([]byte, 1000+rng.IntN(70000))
				for j := range v {
					v[j] = byte(rng.Uint32())
				}
				k := fmt.Sprintf("k%05d", i)
				want[k] = v
				putBytes += int64(len(v))
				if err := b.Put([]byte(k), v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	check := func(s kv.Store) {
		t.Helper()
		err := s.View(func(tx kv.Tx) error {
			b := tx.Bucket([]byte("chunks"))
			n := 0
			err := b.ForEach(func(k, v []byte) error {
				n++
				if !bytes.Equal(v, want[string(k)]) {
					return fmt.Errorf("%s: %d bytes read, %d put", k, len(v), len(want[string(k)]))
				}
				return nil
			})
			if err == nil && n != len(want) {
				err = fmt.Errorf("%d values, want %d", n, len(want))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 200; i += 5 {
		putBatch(i, 5)
	}
	check(s)
	vf := path + ".values"
	size := func() int64 {
		fi, err := os.Stat(vf)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	first := size()

	// A reader opened before the deletes keeps reading what it saw.
	inView, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
	snapshot := maps.Clone(want)
	go func() {
		done <- s.View(func(tx kv.Tx) error {
			close(inView)
			<-release
			return tx.Bucket([]byte("chunks")).ForEach(func(k, v []byte) error {
				if !bytes.Equal(v, snapshot[string(k)]) {
					return fmt.Errorf("old reader: %s changed under it", k)
				}
				return nil
			})
		})
	}()
	<-inView
	var afterFirst, putLater int64
	for round := range 3 {
		putBytes = 0
		err := s.Update(func(tx kv.Tx) error {
			b := tx.Bucket([]byte("chunks"))
			for k := range want {
				if rng.IntN(2) == 0 {
					delete(want, k)
					if err := b.Delete([]byte(k)); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 100; i += 5 {
			putBatch(1000*(round+1)+i, 5)
		}
		check(s)
		if round == 0 {
			close(release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			afterFirst = size()
		} else {
			putLater += putBytes
		}
	}
	// The first round's puts went past the end (the reader held the
	// deleted values); the next two rounds' should fit in freed blocks.
	if grown := size() - afterFirst; grown > putLater/10 {
		t.Errorf("value file grew %d bytes after the first round (from %d; first puts %d bytes) for %d bytes put: freed blocks not reused", grown, afterFirst, first, putLater)
	}
	s.Close()
	s = openValues(t, path, "chunks")
	defer s.Close()
	check(s)
	putBatch(9000, 5)
	check(s)
}

// TestValueFileReleaseStaged: a value replaced or deleted in the
// transaction that put it keeps no blocks once that transaction commits.
func TestValueFileReleaseStaged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	s := openValues(t, path, "chunks")
	defer s.Close()
	big := func(c byte) []byte { return bytes.Repeat([]byte{c}, 1<<20) }
	err := s.Update(func(tx kv.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("chunks"))
		if err != nil {
			return err
		}
		for _, step := range []struct {
			key string
			val []byte
		}{{"a", big(1)}, {"b", big(2)}, {"a", big(3)}, {"c", big(4)}, {"a", big(5)}} {
			if err := b.Put([]byte(step.key), step.val); err != nil {
				return err
			}
		}
		return b.Delete([]byte("b"))
	})
	if err != nil {
		t.Fatal(err)
	}
	vf := path + ".values"
	if got := allocated(t, vf); got > 2<<20+3*4096 {
		t.Errorf("%d bytes allocated for two live values of 1 MiB", got)
	}
	if get(t, s, "chunks", "a") != string(big(5)) || get(t, s, "chunks", "c") != string(big(4)) || get(t, s, "chunks", "b") != "" {
		t.Fatal("values after the commit")
	}
	// The released blocks are written again rather than the file growing.
	fi, err := os.Stat(vf)
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "chunks", "d", string(big(6)), "e", string(big(7)))
	if fi2, err := os.Stat(vf); err != nil || fi2.Size() != fi.Size() {
		t.Errorf("value file grew from %d to %d bytes for values that fit in released blocks (%v)", fi.Size(), fi2.Size(), err)
	}
	if get(t, s, "chunks", "a") != string(big(5)) || get(t, s, "chunks", "d") != string(big(6)) || get(t, s, "chunks", "e") != string(big(7)) {
		t.Fatal("values after writing into released blocks")
	}
}
