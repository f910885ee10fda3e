package kv

// Prefetcher is implemented by a Tx whose reads are round trips (pgkv:
// a query per key, an object GET per value held in S3). Prefetch reads
// the values of keys in the top-level bucket name at once — one query,
// and the objects fetched concurrently — so that the Gets that follow in
// the same transaction are answered from memory. It is a hint: an object
// it could not fetch is fetched again by Get, which reports any error
// then; a failed query fails the transaction (the database aborts it),
// and the transaction's end reports that error. A
// Tx that reads from memory (boltkv) does not implement it.
type Prefetcher interface {
	Prefetch(name []byte, keys [][]byte)
}
