package testclock

import (
	"sync"
	"testing"
	"time"
)

var start = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func TestStandsStill(t *testing.T) {
	c := New(start)
	if a, b := c.Now(), c.Now(); !a.Equal(start) || !b.Equal(start) {
		t.Fatalf("readings %s, %s; want %s twice", a, b, start)
	}
	c.Add(90 * time.Minute)
	c.Add(-30 * time.Minute)
	if got := c.Now(); !got.Equal(start.Add(time.Hour)) {
		t.Fatalf("after moving on 1 h: %s", got)
	}
}

func TestTicking(t *testing.T) {
	c := Ticking(start, time.Microsecond)
	c.Add(time.Hour)
	if a, b := c.Now(), c.Now(); !a.Equal(start.Add(time.Hour+time.Microsecond)) || !b.Equal(a.Add(time.Microsecond)) {
		t.Fatalf("readings %s, %s", a, b)
	}
}

// TestConcurrent: readings and moves from many goroutines all count (run
// with -race).
func TestConcurrent(t *testing.T) {
	c := Ticking(start, time.Microsecond)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				c.Now()
				c.Add(time.Second)
			}
		})
	}
	wg.Wait()
	if got, want := c.Now(), start.Add(800*time.Second+801*time.Microsecond); !got.Equal(want) {
		t.Fatalf("after 800 readings and moves: %s, want %s", got, want)
	}
}
