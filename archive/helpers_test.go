package archive

import (
	"testing"

	bolt "go.etcd.io/bbolt"
)

func openBolt(t testing.TB, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	return db
}
