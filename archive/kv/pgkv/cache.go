package pgkv

import (
	"bytes"
	"container/list"
	"context"
	"sync"
)

// Objects of the cache buckets (Options.CacheBuckets) are kept in memory
// by name once read, least recently used first out when the cache holds
// more than Options.CacheBytes. An object is written once under a fresh
// random name and never overwritten, so the bytes cached under a name are
// the object's bytes for as long as the object exists: no other process
// can change them. A row that stops naming the object (deleted,
// overwritten, purged by any process) makes the entry unreachable to
// every later snapshot, since a read goes through the row to the name.
// This process also drops an entry at once when it removes the object
// (after a commit that shreds it, in Sweep, after a rollback), so that
// no entry outlives the object here; on another process an unreachable
// entry stays in memory until evicted by newer ones.

const (
	// cacheMaxObject is the largest object cached: the cache is for
	// small values read often (a recording's boxed data key is 61
	// bytes), not for chunks.
	cacheMaxObject = 4 << 10
	// defaultCacheBytes bounds the cache when Options.CacheBytes is 0.
	defaultCacheBytes = 16 << 20
	// cacheEntryOverhead is what an entry costs beyond its name and
	// value (list element, map entry, slice headers), counted so that
	// CacheBytes bounds the memory and not only the payload.
	cacheEntryOverhead = 160
)

// objectCache is a byte-bounded LRU of objects' values by name.
type objectCache struct {
	mu    sync.Mutex
	max   int64
	size  int64
	lru   *list.List // of *cacheEntry, most recently used first
	byKey map[string]*list.Element
	// epoch moves on with every drop. A value read from S3 is added
	// only when no drop happened since the read began, so that a read
	// racing with the object's removal cannot put back what was dropped.
	epoch uint64

	hits, misses uint64
}

type cacheEntry struct {
	name  string
	value []byte
}

func newObjectCache(max int64) *objectCache {
	if max <= 0 {
		max = defaultCacheBytes
	}
	return &objectCache{max: max, lru: list.New(), byKey: map[string]*list.Element{}}
}

func entryCost(name string, value []byte) int64 {
	return int64(len(name) + len(value) + cacheEntryOverhead)
}

// lookup returns a copy of the cached value of name, or the epoch to
// pass to add after reading it from S3.
func (c *objectCache) lookup(name string) (value []byte, ok bool, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, found := c.byKey[name]; found {
		c.lru.MoveToFront(e)
		c.hits++
		// A copy: callers may keep or change what Get returns.
		return bytes.Clone(e.Value.(*cacheEntry).value), true, c.epoch
	}
	c.misses++
	return nil, false, c.epoch
}

// add caches value under name unless an entry was dropped since epoch
// or the value is too large, and evicts the least recently used entries
// beyond the bound.
func (c *objectCache) add(name string, value []byte, epoch uint64) {
	cost := entryCost(name, value)
	if len(value) > cacheMaxObject || cost > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != epoch {
		return
	}
	if _, found := c.byKey[name]; found {
		return // same name, same bytes
	}
	c.byKey[name] = c.lru.PushFront(&cacheEntry{name: name, value: bytes.Clone(value)})
	c.size += cost
	for c.size > c.max {
		c.evict(c.lru.Back())
	}
}

func (c *objectCache) evict(e *list.Element) {
	ce := c.lru.Remove(e).(*cacheEntry)
	delete(c.byKey, ce.name)
	c.size -= entryCost(ce.name, ce.value)
}

// drop forgets name.
func (c *objectCache) drop(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	if e, found := c.byKey[name]; found {
		c.evict(e)
	}
}

// cacheStats are the object cache's figures.
type cacheStats struct {
	Entries      int
	Bytes        int64
	Hits, Misses uint64
}

func (c *objectCache) stats() cacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return cacheStats{Entries: c.lru.Len(), Bytes: c.size, Hits: c.hits, Misses: c.misses}
}

// getCached reads an object of a cache bucket: from memory when cached,
// else from S3, caching it.
func (o *objectStore) getCached(ctx context.Context, name string) ([]byte, error) {
	if o.cache == nil {
		return o.get(ctx, name)
	}
	v, ok, epoch := o.cache.lookup(name)
	if ok {
		return v, nil
	}
	v, err := o.get(ctx, name)
	if err == nil {
		o.cache.add(name, v, epoch)
	}
	return v, err
}

// uncache drops name from the cache; remove calls it before and after
// the DELETE, so that when remove returns no entry is left and none can
// come back from a read that began before.
func (o *objectStore) uncache(name string) {
	if o.cache != nil {
		o.cache.drop(name)
	}
}
