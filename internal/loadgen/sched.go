package loadgen

import (
	"context"
	"fmt"
	"time"
)

// scheduler paces the calls it owns on a 20 ms grid starting at phase0.
type scheduler struct {
	run     *run
	phase0  time.Time
	pending []*call // by startTick
	active  []*call

	ticks     int64
	late      int64
	maxLate   time.Duration
	backpress int64
	aborted   int
}

func (s *scheduler) loop(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var tick int64
	for len(s.pending) > 0 || len(s.active) > 0 {
		deadline := s.phase0.Add(time.Duration(tick) * ptime)
		if d := time.Until(deadline); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				s.stop()
				return
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			s.stop()
			return
		}
		now := time.Now()
		cur := max(tick, int64(now.Sub(s.phase0)/ptime))
		// Ticks tick..cur are handled now; count those more than lateAfter behind.
		lateness := now.Sub(deadline)
		s.maxLate = max(s.maxLate, lateness)
		for i := tick; i <= cur; i++ {
			s.ticks++
			if lateness-time.Duration(i-tick)*ptime > lateAfter {
				s.late++
			}
		}
		for len(s.pending) > 0 && s.pending[0].startTick <= cur {
			c := s.pending[0]
			s.pending = s.pending[1:]
			s.run.start(c)
			s.active = append(s.active, c)
		}
		for i := 0; i < len(s.active); {
			if s.advance(s.active[i], cur, now) {
				i++
				continue
			}
			last := len(s.active) - 1
			s.active[i] = s.active[last]
			s.active[last] = nil
			s.active = s.active[:last]
		}
		tick = cur + 1
	}
}

// advance writes the call's packets up to tick cur and reports whether the
// call stays active.
func (s *scheduler) advance(c *call, cur int64, now time.Time) bool {
	l := s.run
	if c.nextTick <= cur {
		if un := c.body.unread(); un > backpressureAt {
			c.backpress++
			s.backpress++
			if un > maxPending {
				s.aborted++
				c.body.abort(fmt.Errorf("loadgen: appliance read nothing for %v (%d bytes unread)", maxPendingTime, un))
				return false
			}
		}
	}
	for c.nextTick <= cur && c.sent < l.npk {
		c.fill(c.sent, now, l.pt, &l.pattern)
		if _, err := c.body.write(c.pair); err != nil {
			return false // the upload ended early; the upload goroutine has the reason
		}
		c.sent++
		c.nextTick++
	}
	if c.sent >= l.npk {
		c.body.finish(time.Now())
		return false
	}
	return true
}

// stop ends the open calls early (their uploads complete) and leaves the
// pending ones unstarted.
func (s *scheduler) stop() {
	now := time.Now()
	for _, c := range s.active {
		c.body.finish(now)
	}
	s.active, s.pending = nil, nil
}
