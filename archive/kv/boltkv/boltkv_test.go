package boltkv_test

import (
	"path/filepath"
	"testing"

	"github.com/callvault/callvault/archive/kv"
	"github.com/callvault/callvault/archive/kv/boltkv"
	"github.com/callvault/callvault/archive/kv/kvtest"

	bolt "go.etcd.io/bbolt"
)

// TestContract runs the kv contract against bbolt. bbolt's file lock
// admits one Store per file, so the second instance is the first again.
// The memory map is sized as the archive sizes it: a writer that must
// grow the map waits for open readers, which the snapshot test holds.
func TestContract(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) (kv.Store, func() kv.Store) {
		db, err := bolt.Open(filepath.Join(t.TempDir(), "kv.db"), 0o600, &bolt.Options{InitialMmapSize: 1 << 30})
		if err != nil {
			t.Fatal(err)
		}
		s := boltkv.New(db)
		return s, func() kv.Store { return s }
	})
}

// BenchmarkKV measures bbolt through the seam, side by side with pgkv's
// BenchmarkKV.
func BenchmarkKV(b *testing.B) {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "kv.db"), 0o600, &bolt.Options{InitialMmapSize: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	s := boltkv.New(db)
	defer s.Close()
	kvtest.Bench(b, s)
}
