package archive

import "sync"

// keepPool hands out buffers for reuse. A sync.Pool alone drops what it
// holds at every other garbage collection, and under a steady stream of
// chunks a collection comes every few hundred milliseconds, so most
// chunks took a fresh zeroed buffer: a bounded free list keeps a working
// set across collections, and the sync.Pool takes what overflows it.
type keepPool[T any] struct {
	free chan T
	pool sync.Pool
}

// newKeepPool returns a pool that keeps up to keep buffers made by mk.
func newKeepPool[T any](keep int, mk func() T) *keepPool[T] {
	p := &keepPool[T]{free: make(chan T, keep)}
	p.pool.New = func() any { return mk() }
	return p
}

// Get returns a buffer; its contents are undefined.
func (p *keepPool[T]) Get() T {
	select {
	case b := <-p.free:
		return b
	default:
		return p.pool.Get().(T)
	}
}

// Put gives b back; the caller must not use it afterwards.
func (p *keepPool[T]) Put(b T) {
	select {
	case p.free <- b:
	default:
		p.pool.Put(b)
	}
}

// newChunkBufs returns the pool of chunk buffers (chunkBufCap bytes). It
// keeps 16 MiB, about what a second of 5,000 live calls fills.
func newChunkBufs() *keepPool[*[]byte] {
	return newKeepPool(256, func() *[]byte { b := make([]byte, chunkBufCap); return &b })
}

// stageSegs pools the stage segments of all writers; it keeps 4 MiB.
var stageSegs = newKeepPool(256, func() *[stageMax]byte { return new([stageMax]byte) })
