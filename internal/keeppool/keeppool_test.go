package keeppool

import (
	"runtime"
	"testing"
)

// TestKeepsAcrossCollections: what was put back, up to keep, is handed
// out again after garbage collections, which empty a sync.Pool.
func TestKeepsAcrossCollections(t *testing.T) {
	made := 0
	p := New(2, func() *[64]byte { made++; return new([64]byte) })
	a, b, c := p.Get(), p.Get(), p.Get()
	if made != 3 {
		t.Fatalf("made %d buffers for three Gets, want 3", made)
	}
	p.Put(a)
	p.Put(b)
	p.Put(c) // beyond keep: to the sync.Pool
	runtime.GC()
	runtime.GC()
	got := map[*[64]byte]bool{p.Get(): true, p.Get(): true}
	if !got[a] || !got[b] {
		t.Fatal("the kept buffers were not handed out again after two collections")
	}
	if made != 3 {
		t.Fatalf("made %d buffers, want no new one while kept ones were free", made)
	}
}
