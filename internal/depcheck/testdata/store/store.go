// Package store opens a bbolt file outside archive, which the store rule
// refuses.
package store

import bolt "go.etcd.io/bbolt"

// Open opens path.
func Open(path string) (*bolt.DB, error) { return bolt.Open(path, 0o600, nil) }
