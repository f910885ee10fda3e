package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

func TestWindow(t *testing.T) {
	w := New(3, time.Hour)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for i := range 3 {
		if d := w.Wait("a", t0.Add(time.Duration(i)*time.Minute)); d != 0 {
			t.Fatalf("event %d waits %v", i, d)
		}
		w.Note("a", t0.Add(time.Duration(i)*time.Minute))
	}
	// The fourth waits until the first leaves the window.
	if d := w.Wait("a", t0.Add(10*time.Minute)); d != 50*time.Minute {
		t.Fatalf("wait %v, want 50m", d)
	}
	if d := w.Wait("b", t0.Add(10*time.Minute)); d != 0 {
		t.Fatalf("another key waits %v", d)
	}
	if d := w.Wait("a", t0.Add(time.Hour)); d != 0 {
		t.Fatalf("after the window: wait %v", d)
	}
	// A clock that went back does not count events "from the future".
	if d := w.Wait("a", t0.Add(-time.Hour)); d != 0 {
		t.Fatalf("clock back: wait %v", d)
	}
}

func TestWindowBounded(t *testing.T) {
	w := New(1, time.Hour)
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for i := range 3 * maxKeys {
		w.Note(fmt.Sprint(i), now)
	}
	if n := len(w.events); n > maxKeys {
		t.Fatalf("%d keys kept, want at most %d", n, maxKeys)
	}
}
