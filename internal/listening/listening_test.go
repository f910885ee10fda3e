package listening

import (
	"fmt"
	"testing"
	"time"
)

func TestSessions(t *testing.T) {
	var s Sessions
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	steps := []struct {
		key  string
		at   time.Duration
		want bool
	}{
		{"alice/1", 0, true},
		{"alice/1", time.Minute, false},             // a Range request of the same play
		{"alice/1", time.Minute + Window, false},    // a pause of exactly Window
		{"alice/1", 2*time.Minute + 2*Window, true}, // a longer pause: a new play
		{"bob/1", 2*time.Minute + 2*Window, true},   // another listener
		{"alice/2", 2*time.Minute + 2*Window, true}, // another recording
		{"alice/1", time.Minute, true},              // the clock went back
	}
	for i, st := range steps {
		if got := s.Start(st.key, t0.Add(st.at)); got != st.want {
			t.Errorf("step %d: Start(%s, +%v) = %v, want %v", i, st.key, st.at, got, st.want)
		}
	}
	s.Forget("bob/1")
	if !s.Start("bob/1", t0.Add(2*time.Minute+2*Window)) {
		t.Error("after Forget the next request is a new play")
	}
}

func TestSessionsBounded(t *testing.T) {
	var s Sessions
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for i := range 3 * maxSessions {
		s.Start(fmt.Sprint(i), t0)
	}
	if n := len(s.last); n > maxSessions+1 {
		t.Fatalf("%d sessions kept, want at most %d", n, maxSessions+1)
	}
}
