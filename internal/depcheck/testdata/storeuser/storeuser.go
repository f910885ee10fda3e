// Package storeuser reaches bbolt through package store, itself outside
// archive: the store rule refuses store, whatever storeuser may use.
package storeuser

import "github.com/callvault/callvault/internal/depcheck/testdata/store"

// Open opens path.
var Open = store.Open
