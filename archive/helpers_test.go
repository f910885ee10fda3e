package archive

import (
	"testing"

	"github.com/callvault/callvault/archive/kv/boltkv"
	bolt "go.etcd.io/bbolt"
)

// openBolt opens the bbolt file at path behind the storage seam, as a
// test that alters the file beneath a closed archive needs it.
func openBolt(t testing.TB, path string) *boltkv.Store {
	t.Helper()
	skipOnPostgres(t, "alters the bbolt file beneath the archive")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := boltkv.Open(db, ChunkFile(path), false, bucketChunks)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	return s
}
