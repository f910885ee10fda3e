package recorder

import (
	"context"
	"errors"
	"sync"

	"github.com/callvault/callvault/archive"
)

// An upload is answered once its original, map and metadata are
// committed and sealed (archive.SealDeferred). The export hashes — every
// call's canonical WAV rendered from the stored blobs and hashed — are
// appended after the answer by one background worker
// (archive.SealExports). The queue in memory only orders the work: what
// is due is listed in the archive, written with the seal, and Recover
// queues it again after a restart.

// exportQueue holds the recordings whose exports entry is to be written.
type exportQueue struct {
	mu      sync.Mutex
	done    *sync.Cond // signalled when pending drops to zero
	ids     []archive.ID
	queued  map[archive.ID]bool
	pending int // queued or being worked on
	running bool
	closed  bool          // Close: nothing more is taken up
	hold    chan struct{} // tests: the worker waits for it before each recording
}

// queueExports schedules the exports entry of id, starting the worker
// when none runs. A recording already queued is not queued twice.
func (r *Recorder) queueExports(ids ...archive.ID) {
	q := &r.exports
	q.mu.Lock()
	defer q.mu.Unlock()
	q.init()
	if q.closed {
		return // listed as due in the archive: the next start takes them up
	}
	for _, id := range ids {
		if q.queued[id] {
			continue
		}
		q.queued[id] = true
		q.ids = append(q.ids, id)
		q.pending++
	}
	if !q.running && len(q.ids) > 0 {
		q.running = true
		go r.exportWorker()
	}
}

// exportWorker writes the queued exports entries, oldest first, and
// ends when the queue is empty.
func (r *Recorder) exportWorker() {
	q := &r.exports
	for {
		q.mu.Lock()
		if len(q.ids) == 0 || q.closed {
			q.running = false
			q.mu.Unlock()
			return
		}
		id := q.ids[0]
		q.ids = q.ids[1:]
		hold := q.hold
		q.mu.Unlock()
		if hold != nil {
			<-hold
		}

		if err := r.sealExports(context.Background(), id); err != nil {
			// Still listed as due in the archive: the next start
			// (Recover) tries again.
			r.log.Error("sealing the export hashes failed; retried at the next start", "recording", id.String(), "err", err)
		}

		q.mu.Lock()
		delete(q.queued, id)
		q.pending--
		if q.pending == 0 {
			q.done.Broadcast()
		}
		q.mu.Unlock()
	}
}

func (q *exportQueue) init() {
	if q.queued == nil {
		q.queued = map[archive.ID]bool{}
		q.done = sync.NewCond(&q.mu)
	}
}

// waitExports blocks until every queued exports entry is written (or
// failed and left for the next start).
func (r *Recorder) waitExports() {
	q := &r.exports
	q.mu.Lock()
	defer q.mu.Unlock()
	q.init()
	for q.pending > 0 {
		q.done.Wait()
	}
}

// Close waits for the uploads in progress to be finished and sealed, and
// for the exports entry being written now; the export hashes still queued
// are left listed as due in the archive, for Recover at the next start.
// The Recorder takes up no more export hashes after it.
func (r *Recorder) Close() {
	r.active.Wait()
	q := &r.exports
	q.mu.Lock()
	q.init()
	q.closed = true
	for _, id := range q.ids {
		delete(q.queued, id)
	}
	q.pending -= len(q.ids)
	q.ids = nil
	q.mu.Unlock()
	r.waitExports()
}

// sealExports renders and hashes the exports of recording id and
// appends its exports entry. A recording deleted meanwhile, or whose
// entry is written already, is no error.
func (r *Recorder) sealExports(ctx context.Context, id archive.ID) error {
	r.stats.sealing.Add(1)
	defer r.stats.sealing.Add(-1)
	rec, err := r.arc.Get(ctx, id)
	if errors.Is(err, archive.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if rec.Seal == nil || !rec.Seal.Pending() {
		return nil
	}
	rec.Seal = nil // the current rule: there are no sealed hashes to match
	ex, err := r.Exports(ctx, rec)
	if err != nil {
		return err
	}
	err = r.arc.SealExports(ctx, id, ex)
	if errors.Is(err, archive.ErrNotFound) || errors.Is(err, archive.ErrState) {
		return nil // deleted, or written, meanwhile
	}
	return err
}

// SealExportsNow seals the export hashes of recording id at once when
// they are due (a download that should carry them), rather than when the
// queue reaches it. Hashes sealed already are no error.
func (r *Recorder) SealExportsNow(ctx context.Context, id archive.ID) error {
	return r.sealExports(ctx, id)
}

// recoverExports queues every recording whose exports entry is due: those
// an unclean stop left behind.
func (r *Recorder) recoverExports(ctx context.Context) error {
	ids, err := r.arc.ExportsDue(ctx)
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		r.log.Info("sealing export hashes left by the last run", "recordings", len(ids))
		r.queueExports(ids...)
	}
	return nil
}
