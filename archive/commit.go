package archive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callvault/callvault/archive/kv"
	"github.com/callvault/callvault/internal/keeppool"
)

// op is one unit of work for the committer: a sealed chunk to put (val
// set), a function to run in the transaction (fn set), or a barrier (both
// nil) that only waits for the next commit.
type op struct {
	w    *Writer           // owner of a chunk, told about failures
	key  [chunkKeyLen]byte // the chunk's index key
	seq  [seqKeyLen]byte   // its value's key, set in the transaction
	val  *[]byte           // pooled buffer holding the stored value
	n    int               // length of the stored value in *val
	note []byte            // a chunk note, put with the chunk (Writer.NoteOriginal)
	fn   func(kv.Tx) error
	bufs []*[]byte // returned to the pool after the commit
	done chan error
	// ordered keeps an fn operation behind the chunks queued before it
	// (a Finish whose chunks are not committed yet); other fn operations
	// go ahead of queued chunks.
	ordered bool

	err  error // per-operation result
	skip bool  // fn failed; left out of the transaction
}

func (o *op) size() int {
	if o.val != nil {
		return o.n
	}
	return 256
}

// errRetry aborts a group transaction so it can run again without the
// operation that failed.
var errRetry = errors.New("archive: retry group commit")

// committer is the single writer goroutine. It gathers operations from a
// bounded queue and commits them in one write transaction when CommitBytes
// are pending, when CommitInterval has passed since the first, or at once
// when someone waits and the queue is momentarily empty.
//
// Chunks and barriers queue first in, first out (ops). A function someone
// waits for (Create, Finish, a seal, a setting) has a queue of its own
// (urgent) that each group takes first: it waits for the commit in
// progress and the next, not for the chunks of every open upload queued
// before it, which under load are seconds of writing.
type committer struct {
	db       kv.Store
	log      *slog.Logger
	pool     *keeppool.Pool[*[]byte]
	interval time.Duration
	maxBytes int

	ops    chan op
	urgent chan op
	quit   chan struct{}
	exited chan struct{}

	mu     sync.RWMutex // held shared while sending; exclusively to close
	closed bool

	commits, chunks, bytes, nanos atomic.Uint64
	onCommit                      func(ops int, bytes int64, d time.Duration)
	// beforeCommit runs at the end of every transaction, before bbolt
	// commits it (the data-key file's fsync); afterCommit after, with
	// whether the commit succeeded.
	beforeCommit func() error
	afterCommit  func(ok bool)
	// space refuses chunks while the disk is full and is told when a
	// commit fails for want of space.
	space *spaceGuard
}

func newCommitter(db kv.Store, log *slog.Logger, pool *keeppool.Pool[*[]byte], interval time.Duration, maxBytes, queue int) *committer {
	return &committer{
		db: db, log: log, pool: pool, interval: interval, maxBytes: maxBytes,
		ops:    make(chan op, queue),
		urgent: make(chan op, urgentQueue),
		quit:   make(chan struct{}),
		exited: make(chan struct{}),
	}
}

// urgentQueue is the capacity of the committer's queue of functions.
const urgentQueue = 256

// queueOf returns the queue o goes to.
func (c *committer) queueOf(o *op) chan op {
	if o.fn != nil && !o.ordered {
		return c.urgent
	}
	return c.ops
}

// sendWait queues o, blocking while the queue is full (backpressure).
func (c *committer) sendWait(o op) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return ErrClosed
	}
	c.queueOf(&o) <- o
	return nil
}

// quiet reports whether nothing waits in the queues.
func (c *committer) quiet() bool { return len(c.urgent) == 0 && len(c.ops) == 0 }

// isClosed reports whether close was called.
func (c *committer) isClosed() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.closed
}

// send is sendWait that gives up when ctx ends.
func (c *committer) send(ctx context.Context, o op) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return ErrClosed
	}
	select {
	case c.queueOf(&o) <- o:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close stops accepting operations, commits what is queued and waits for
// the goroutine to end. It reports false when already closed.
func (c *committer) close() bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	c.closed = true
	c.mu.Unlock()
	close(c.quit)
	<-c.exited
	return true
}

func (c *committer) stats() Stats {
	return Stats{Commits: c.commits.Load(), Chunks: c.chunks.Load(), Bytes: c.bytes.Load(), CommitTime: time.Duration(c.nanos.Load())}
}

func (c *committer) run() {
	defer close(c.exited)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	batch := make([]op, 0, 128)
	for {
		var first op
		select {
		case first = <-c.urgent:
		case first = <-c.ops:
		case <-c.quit:
			c.drain(batch[:0])
			return
		}
		batch = append(batch[:0], first)
		size, waiting := first.size(), first.done != nil
		// Every function waiting now joins this group, whatever its size.
		for more := true; more; {
			select {
			case o := <-c.urgent:
				batch = append(batch, o)
				size += o.size()
				waiting = true
			default:
				more = false
			}
		}
		quitting := false
		timer.Reset(c.interval)
	fill:
		for size < c.maxBytes {
			select {
			case o := <-c.urgent:
				batch = append(batch, o)
				size += o.size()
				waiting = true
				continue
			case o := <-c.ops:
				batch = append(batch, o)
				size += o.size()
				waiting = waiting || o.done != nil
				continue
			default:
			}
			if waiting {
				break // someone waits and nothing else is queued: commit now
			}
			select {
			case o := <-c.urgent:
				batch = append(batch, o)
				size += o.size()
				waiting = true
			case o := <-c.ops:
				batch = append(batch, o)
				size += o.size()
				waiting = o.done != nil
			case <-timer.C:
				break fill
			case <-c.quit:
				quitting = true
				break fill
			}
		}
		timer.Stop()
		c.commit(batch)
		clear(batch)
		if quitting {
			c.drain(batch[:0])
			return
		}
	}
}

// drain commits everything still queued; no sender can add more.
func (c *committer) drain(batch []op) {
	for {
		select {
		case o := <-c.urgent:
			batch = append(batch, o)
		case o := <-c.ops:
			batch = append(batch, o)
		default:
			if len(batch) > 0 {
				c.commit(batch)
				clear(batch)
			}
			return
		}
	}
}

// commit writes a group in one transaction. When an fn operation fails,
// the transaction is rolled back and retried without it, so one failed
// operation never takes the others with it.
func (c *committer) commit(batch []op) {
	var err error
	start := time.Now()
	var written uint64
	defer func() {
		d := time.Since(start)
		c.nanos.Add(uint64(d))
		if c.onCommit != nil {
			c.onCommit(len(batch), int64(written), d)
		}
	}()
	for {
		failed := -1
		var chunks, nbytes uint64
		err = c.db.Update(func(tx kv.Tx) error {
			// o.seq lives in batch, which stays put until the
			// transaction has ended, as bbolt requires of values.
			store := openChunkStore(tx)
			keys := tx.Bucket(bucketDataKeys)
			var lastID ID
			haveLast, lastLive := false, false
			for i := range batch {
				o := &batch[i]
				if o.skip {
					continue
				}
				o.err = nil
				switch {
				case o.fn != nil:
					if err := o.fn(tx); err != nil {
						failed = i
						o.err = err
						return errRetry
					}
				case o.val != nil:
					id := ID(o.key[:16])
					if !haveLast || id != lastID {
						lastID, haveLast = id, true
						lastLive = keys.Get(id[:]) != nil
					}
					if !lastLive { // deleted while being written
						o.err = fmt.Errorf("archive: recording %s was deleted: %w", id, ErrNotFound)
						continue
					}
					if c.space.refuses(o.w) {
						o.err = errFull
						continue
					}
					if err := store.put(o.key[:], (*o.val)[:o.n], &o.seq); err != nil {
						return err
					}
					if o.note != nil {
						if err := tx.Bucket(bucketUnfinished).Put(id[:], o.note); err != nil {
							return err
						}
					}
					chunks++
					nbytes += uint64(o.n)
				}
			}
			if c.beforeCommit != nil {
				return c.beforeCommit()
			}
			return nil
		})
		if c.afterCommit != nil && err != errRetry {
			c.afterCommit(err == nil)
		}
		if err == errRetry {
			batch[failed].skip = true
			continue
		}
		if err == nil {
			c.commits.Add(1)
			c.chunks.Add(chunks)
			c.bytes.Add(nbytes)
			written = nbytes
		}
		break
	}
	if err != nil {
		c.log.Error("archive group commit failed", "ops", len(batch), "err", err)
		err = fmt.Errorf("archive: commit: %w", noSpace(err))
	}
	for i := range batch {
		o := &batch[i]
		res := noSpace(o.err)
		if err != nil {
			res = err
		}
		if o.val != nil {
			c.pool.Put(o.val)
		}
		for _, b := range o.bufs {
			c.pool.Put(b)
		}
		if res != nil && o.w != nil {
			o.w.fail(res)
		}
		if o.val != nil && o.w != nil {
			// After fail: a Finish that sees none of its chunks queued
			// sees their failures too.
			o.w.queued.Add(-1)
		}
		if errors.Is(res, ErrNoSpace) && res != errFull {
			c.space.release()
		}
		if o.done != nil {
			o.done <- res
		}
	}
}
