// Package testclock is a clock for tests that moves only when the test
// moves it: the one Now source of a test, handed to the archive
// (archive.Options.Now), the UI and the daemon alike, so that what a test
// checks never depends on the wall clock's date or on how busy the
// machine is. It is safe for concurrent use.
package testclock

import (
	"sync"
	"time"
)

// Clock is a settable clock. Its zero value stands at the zero time.
type Clock struct {
	mu   sync.Mutex
	t    time.Time
	tick time.Duration
}

// New returns a clock standing at t.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Ticking returns a clock at t that moves on by tick at each reading, so
// that what happens one after the other keeps its order (a note edited
// after it was written, recordings binned one by one).
func Ticking(t time.Time, tick time.Duration) *Clock { return &Clock{t: t, tick: tick} }

// Now returns the clock's time (after its tick, for a ticking clock).
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.tick)
	return c.t
}

// Add moves the clock by d (back, for a negative d).
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
