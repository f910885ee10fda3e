// Package keeppool hands out buffers for reuse. A sync.Pool alone drops
// what it holds at every other garbage collection, and under a steady
// stream of work (thousands of live uploads) a collection comes every few
// hundred milliseconds, so most users would take a fresh zeroed buffer: a
// bounded free list keeps a working set across collections, and a
// sync.Pool takes what overflows it.
package keeppool

import "sync"

// Pool keeps up to a fixed number of buffers across garbage collections.
type Pool[T any] struct {
	free chan T
	pool sync.Pool
}

// New returns a pool that keeps up to keep buffers made by mk.
func New[T any](keep int, mk func() T) *Pool[T] {
	p := &Pool[T]{free: make(chan T, keep)}
	p.pool.New = func() any { return mk() }
	return p
}

// Get returns a buffer; its contents are undefined.
func (p *Pool[T]) Get() T {
	select {
	case b := <-p.free:
		return b
	default:
		return p.pool.Get().(T)
	}
}

// Put gives b back; the caller must not use it afterwards.
func (p *Pool[T]) Put(b T) {
	select {
	case p.free <- b:
	default:
		p.pool.Put(b)
	}
}
