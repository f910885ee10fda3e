package kvtest

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/callvault/callvault/archive/kv"
)

// ChunkBucket is the bucket Bench writes 64 KiB values to; a backend that
// keeps chosen buckets' values elsewhere (pgkv's objects) names it.
const ChunkBucket = "chunks"

// Bench measures a backend: commits of one small Put, transactions of 100
// small Puts, transactions of 100 point Gets, and 64 KiB values (the
// archive's sealed chunks) written 16 to a commit and read back. s must be
// empty; the figures are reported per operation, with MB/s where values
// are large.
func Bench(b *testing.B, s kv.Store) {
	small := make([]byte, 100)
	chunk := make([]byte, 64<<10)
	for i := range chunk {
		chunk[i] = byte(i * 31)
	}
	mustUpdate := func(fn func(kv.Tx) error) {
		if err := s.Update(fn); err != nil {
			b.Fatal(err)
		}
	}
	mustUpdate(func(tx kv.Tx) error {
		for _, n := range []string{"small", ChunkBucket} {
			if _, err := tx.CreateBucketIfNotExists([]byte(n)); err != nil {
				return err
			}
		}
		return nil
	})
	var keys uint64 // small keys written so far
	put := func(b kv.Bucket) error {
		keys++
		return b.Put(binary.BigEndian.AppendUint64(nil, keys), small)
	}
	b.Run("Commit1Put", func(b *testing.B) {
		for b.Loop() {
			mustUpdate(func(tx kv.Tx) error { return put(tx.Bucket([]byte("small"))) })
		}
	})
	b.Run("Commit100Puts", func(b *testing.B) {
		for b.Loop() {
			mustUpdate(func(tx kv.Tx) error {
				bk := tx.Bucket([]byte("small"))
				for range 100 {
					if err := put(bk); err != nil {
						return err
					}
				}
				return nil
			})
		}
		b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "puts/s")
	})
	b.Run("View100Gets", func(b *testing.B) {
		for b.Loop() {
			err := s.View(func(tx kv.Tx) error {
				bk := tx.Bucket([]byte("small"))
				for range 100 {
					if bk.Get(binary.BigEndian.AppendUint64(nil, 1+rand.Uint64N(keys))) == nil {
						b.Fatal("missing key")
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "gets/s")
	})
	var chunks uint64
	b.Run("Put64KiBx16", func(b *testing.B) {
		b.SetBytes(16 << 16)
		for b.Loop() {
			mustUpdate(func(tx kv.Tx) error {
				bk := tx.Bucket([]byte(ChunkBucket))
				for range 16 {
					seq, err := bk.NextSequence()
					if err != nil {
						return err
					}
					if err := bk.Put(binary.BigEndian.AppendUint64(nil, seq), chunk); err != nil {
						return err
					}
				}
				chunks += 16
				return nil
			})
		}
	})
	b.Run("Get64KiBx16", func(b *testing.B) {
		b.SetBytes(16 << 16)
		for b.Loop() {
			err := s.View(func(tx kv.Tx) error {
				bk := tx.Bucket([]byte(ChunkBucket))
				for range 16 {
					if len(bk.Get(binary.BigEndian.AppendUint64(nil, 1+rand.Uint64N(chunks)))) != len(chunk) {
						b.Fatal("missing chunk")
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
