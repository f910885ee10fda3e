package pgkv

import (
	"context"
	"testing"

	"github.com/callvault/callvault/internal/servertest"
)

// TestClaims: a claim one store holds, another cannot take, until the
// holder released it as often as it claimed it, or closed.
func TestClaims(t *testing.T) {
	pg := servertest.StartPostgres(t)
	url := pg.NewDatabase(t)
	a, b := open(t, url, Options{}), open(t, url, Options{})
	defer b.Close()
	try := func(s *Store, key string) bool {
		t.Helper()
		got, err := s.TryClaim(t.Context(), []byte(key))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	release := func(s *Store, key string) {
		t.Helper()
		if err := s.Release(t.Context(), []byte(key)); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"x", "x", "y"} { // x twice: counted
		if !try(a, k) {
			t.Fatalf("a cannot claim %s", k)
		}
	}
	if try(b, "x") || try(b, "y") {
		t.Fatal("b claims what a holds")
	}
	release(a, "x")
	if try(b, "x") {
		t.Fatal("b claims x that a claimed twice and released once")
	}
	release(a, "x")
	if !try(b, "x") {
		t.Fatal("b cannot claim x after a released it")
	}
	// A request that went away does not take the process's claims with
	// it: the claim statements run apart from the caller's context.
	gone, cancel := context.WithCancel(t.Context())
	cancel()
	if got, err := a.TryClaim(gone, []byte("z")); err != nil || !got {
		t.Fatalf("claim with a cancelled context: %v, %v", got, err)
	}
	if try(b, "y") {
		t.Fatal("b claims y after a claimed with a cancelled context")
	}
	// Close releases a's claims at once, before the server ends its
	// session.
	a.Close()
	if !try(b, "y") {
		t.Fatal("b cannot claim y once a closed")
	}
}
