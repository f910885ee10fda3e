package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

// the archive's rule for one login from one source
var testRule = Backoff{Free: 5, Base: time.Second, Max: 15 * time.Minute, Leak: 15 * time.Minute}

// TestBackoffWait: no wait up to Free, then Base doubled per further
// failure (a part of one counts as one), never past Max.
func TestBackoffWait(t *testing.T) {
	r := testRule
	for s, want := range map[float64]time.Duration{
		0: 0, r.Free: 0, r.Free + 0.5: r.Base, r.Free + 1: r.Base, r.Free + 1.5: 2 * r.Base,
		r.Free + 2: 2 * r.Base, r.Free + 4: 8 * r.Base,
		r.Free + 20: r.Max, r.Free + 63: r.Max, r.Free + 64: r.Max, r.Free + 1e6: r.Max,
	} {
		if got := r.Wait(s); got != want {
			t.Errorf("score %v: wait %v, want %v", s, got, want)
		}
	}
}

// TestBackoffTable: failures past the free ones make a key wait, other
// keys do not; Undo takes a failure back; failures leak away and a
// forgotten key is dropped.
func TestBackoffTable(t *testing.T) {
	r := testRule
	tb := NewBackoffTable[string](r, 100)
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for i := range int(r.Free) {
		if w, _ := tb.Wait("a", now); w != 0 {
			t.Fatalf("failure %d: wait %v", i, w)
		}
		tb.Fail("a", now)
	}
	prev := tb.Fail("a", now)
	w, e := tb.Wait("a", now)
	if w != r.Base || e == nil {
		t.Fatalf("wait %v, want %v", w, r.Base)
	}
	if w, _ := tb.Wait("b", now); w != 0 {
		t.Fatalf("another key waits %v", w)
	}
	tb.Undo("a", now, prev) // that one was right
	if w, _ := tb.Wait("a", now); w != 0 {
		t.Fatalf("after Undo: wait %v", w)
	}
	tb.Fail("a", now)
	tb.Fail("a", now.Add(r.Base))
	if w, _ := tb.Wait("a", now.Add(r.Base)); w != 2*r.Base {
		t.Fatalf("second failure past free: wait %v, want %v", w, 2*r.Base)
	}
	later := now.Add(time.Duration(r.Free+3) * r.Leak)
	if w, e := tb.Wait("a", later); w != 0 || e != nil || tb.Len() != 0 {
		t.Fatalf("failures not forgotten: wait %v, %d keys", w, tb.Len())
	}
	tb.Fail("a", later)
	tb.Forget("a")
	if tb.Len() != 0 {
		t.Fatal("Forget kept the key")
	}
}

// TestBackoffUndoKeepsEarlierWait: taking back a failure never shortens
// the wait below the one the failure replaced.
func TestBackoffUndoKeepsEarlierWait(t *testing.T) {
	r := Backoff{Free: 0, Base: time.Second, Max: time.Hour, Leak: time.Hour}
	tb := NewBackoffTable[string](r, 100)
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	tb.Fail("a", now)
	tb.Fail("a", now)
	tb.Fail("a", now) // waits 4 s
	prev := now.Add(3 * time.Second)
	tb.Undo("a", now, prev)
	if w, _ := tb.Wait("a", now); w != 3*time.Second {
		t.Fatalf("wait %v, want 3s (the replaced wait)", w)
	}
}

// TestBackoffFirstRefusal: one refusal is reported per wait.
func TestBackoffFirstRefusal(t *testing.T) {
	r := Backoff{Free: 0, Base: time.Second, Max: time.Hour, Leak: time.Hour}
	tb := NewBackoffTable[string](r, 100)
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	tb.Fail("a", now)
	_, e := tb.Wait("a", now)
	if !e.FirstRefusal() || e.FirstRefusal() {
		t.Fatal("want the first refusal reported, the second not")
	}
	now = now.Add(time.Second)
	tb.Fail("a", now)
	if _, e := tb.Wait("a", now); !e.FirstRefusal() {
		t.Fatal("a new wait's first refusal not reported")
	}
}

// TestBackoffTableBounded: a flood of keys keeps the table bounded and
// does not free a key that is waiting.
func TestBackoffTableBounded(t *testing.T) {
	r := testRule
	const bound = 1000
	tb := NewBackoffTable[string](r, bound)
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for range int(r.Free) + 1 {
		tb.Fail("attacker", now)
	}
	for i := range 3 * bound {
		tb.Fail(fmt.Sprint(i), now)
	}
	if n := tb.Len(); n > bound {
		t.Fatalf("%d keys kept, want at most %d", n, bound)
	}
	if w, _ := tb.Wait("attacker", now); w == 0 {
		t.Fatal("the flood freed a waiting key")
	}
}
