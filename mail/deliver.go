package mail

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// GiveUp is how long a mail that keeps failing for temporary reasons is
// tried before it is Failed.
const GiveUp = 72 * time.Hour

// batch is the most mails one pass sends.
const batch = 100

// maxWait is the longest Run waits between passes.
const maxWait = time.Minute

// Pending is a queued mail.
type Pending struct {
	ID       uint64
	Msg      Message
	Attempts int       // failed tries so far
	Queued   time.Time // when it was queued
	Expires  time.Time // after this it is dropped unsent; zero: never
}

// Queue is the persistent store of mails waiting to go out. share keeps it
// in its own store so a mail is queued in the same transaction as the
// grant or code that causes it.
type Queue interface {
	// Due returns at most max mails whose next try is at or before now,
	// oldest first.
	Due(ctx context.Context, now time.Time, max int) ([]Pending, error)
	// Sent records that the server accepted the mail.
	Sent(ctx context.Context, id uint64, at time.Time) error
	// Retry records one more failed attempt and the time of the next.
	Retry(ctx context.Context, id uint64, next time.Time, reason string) error
	// Failed records a permanent failure.
	Failed(ctx context.Context, id uint64, reason string) error
	// Dropped records a mail that expired (a code mail whose code expired)
	// before it went out.
	Dropped(ctx context.Context, id uint64, reason string) error
}

// Deliverer sends the due mails of a Queue through a Sender.
type Deliverer struct {
	q    Queue
	s    Sender
	now  func() time.Time
	log  *slog.Logger
	kick chan struct{}

	mu   sync.Mutex
	next time.Time // earliest retry this Deliverer scheduled; zero: none
	full bool      // the last pass hit the batch limit
}

// NewDeliverer returns a Deliverer; now is its clock and log (nil: none)
// gets one line per mail sent, retried, failed or dropped.
func NewDeliverer(q Queue, s Sender, now func() time.Time, log *slog.Logger) *Deliverer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Deliverer{q: q, s: s, now: now, log: log, kick: make(chan struct{}, 1)}
}

// Once sends the mails due now, one after the other, and records each
// outcome in the queue. It returns how many the server accepted, and the
// first error of the queue itself (a failed delivery is no error of Once).
func (d *Deliverer) Once(ctx context.Context) (sent int, err error) {
	defer func() {
		if err != nil {
			// Run waits before trying a failing queue again.
			d.mu.Lock()
			d.full = false
			d.mu.Unlock()
		}
	}()
	now := d.now()
	due, err := d.q.Due(ctx, now, batch)
	if err != nil {
		return 0, fmt.Errorf("mail: queue: %w", err)
	}
	d.mu.Lock()
	d.full = len(due) >= batch
	if !d.next.After(now) {
		d.next = time.Time{}
	}
	d.mu.Unlock()
	for _, p := range due {
		if ctx.Err() != nil {
			return sent, ctx.Err()
		}
		ok, err := d.deliver(ctx, p)
		if err != nil {
			return sent, fmt.Errorf("mail: queue: %w", err)
		}
		if ok {
			sent++
		}
	}
	return sent, nil
}

func (d *Deliverer) deliver(ctx context.Context, p Pending) (bool, error) {
	log := d.log.With("id", p.ID, "to", p.Msg.To)
	if !p.Expires.IsZero() && !d.now().Before(p.Expires) {
		log.Info("mail dropped: expired before it could be sent", "attempts", p.Attempts)
		return false, d.q.Dropped(ctx, p.ID, "expired before it could be sent")
	}
	err := d.s.Send(ctx, p.Msg)
	now := d.now()
	switch {
	case err == nil:
		log.Info("mail sent", "attempts", p.Attempts+1)
		return true, d.q.Sent(ctx, p.ID, now)
	case ctx.Err() != nil:
		// Stopping: the mail stays due and goes out on the next start.
		return false, nil
	case Permanent(err):
		log.Warn("mail failed: refused", "err", err)
		return false, d.q.Failed(ctx, p.ID, err.Error())
	case !p.Queued.IsZero() && now.Sub(p.Queued) >= GiveUp:
		log.Warn("mail failed: gave up after three days", "attempts", p.Attempts+1, "err", err)
		return false, d.q.Failed(ctx, p.ID, "gave up after three days: "+err.Error())
	}
	next := now.Add(Backoff(p.Attempts + 1))
	if !p.Expires.IsZero() && !next.Before(p.Expires) {
		log.Info("mail dropped: expires before the next try", "attempts", p.Attempts+1, "err", err)
		return false, d.q.Dropped(ctx, p.ID, "expires before the next try: "+err.Error())
	}
	log.Info("mail deferred", "attempts", p.Attempts+1, "next", next, "err", err)
	d.mu.Lock()
	if d.next.IsZero() || next.Before(d.next) {
		d.next = next
	}
	d.mu.Unlock()
	return false, d.q.Retry(ctx, p.ID, next, err.Error())
}

// Kick makes Run look for due mails now (a mail was just queued).
func (d *Deliverer) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run calls Once, then waits for Kick, the next retry it scheduled or a
// minute at most, and again, until ctx ends.
func (d *Deliverer) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		if _, err := d.Once(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("mail queue", "err", err)
		}
		wait := d.wait()
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-d.kick:
		case <-t.C:
		}
	}
}

func (d *Deliverer) wait() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.full {
		return 0
	}
	if d.next.IsZero() {
		return maxWait
	}
	return min(max(d.next.Sub(d.now()), 0), maxWait)
}
