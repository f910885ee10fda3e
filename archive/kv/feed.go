package kv

import "context"

// Feed is implemented by a backend that several processes share: it
// tells each process what the others committed, so that what a process
// keeps in memory (indexes, caches) follows their writes. A backend that
// one process holds alone (boltkv: the file is locked) does not implement
// it; every commit there is the process's own and runs its OnCommit
// functions.
//
// Changes are keys, never values: for each top-level bucket named to
// FeedBuckets, the first-level key a commit put, deleted, or under which
// it changed a nested bucket. A change with an empty Key stands for the
// whole bucket (created or deleted). Sequence counters are not fed.
type Feed interface {
	// FeedBuckets names the top-level buckets whose changes this Store's
	// commits record from now on. Every process sharing the store names
	// the same ones.
	FeedBuckets(names [][]byte)
	// FeedEnd returns the cursor after the latest committed change.
	FeedEnd(ctx context.Context) (uint64, error)
	// ChangesSince returns, oldest first, the changes other processes
	// (other Store values) committed after cursor, and the cursor to ask
	// with next. Reset reports that changes after cursor are no longer
	// kept (they are pruned): anything may have changed.
	ChangesSince(ctx context.Context, cursor uint64) (Changes, error)
	// WaitChanges returns when changes after cursor may have been
	// committed, after a while in any case (the caller asks
	// ChangesSince and waits again), or when ctx ends.
	WaitChanges(ctx context.Context, cursor uint64) error
}

// Changes is an answer of Feed.ChangesSince.
type Changes struct {
	Changes []Change
	Next    uint64
	Reset   bool
	More    bool // more changes follow Next: ask again
}

// Change is one changed key of a fed top-level bucket.
type Change struct {
	Bucket []byte
	Key    []byte // empty: the whole bucket
}

// Locker is implemented by a backend that several processes share: a
// named lock held by one process at a time, for work that must run on
// one of them only (the lifecycle's expiry). A backend one process holds
// alone does not implement it.
type Locker interface {
	// TryLock takes the lock name without waiting. ok is false when
	// another holder has it. unlock releases it; the lock is also
	// released when the process or its connection dies.
	TryLock(ctx context.Context, name string) (unlock func(), ok bool, err error)
}
