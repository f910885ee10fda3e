package archive

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/callvault/callvault/internal/testclock"
)

var (
	attacker = netip.MustParseAddr("198.51.100.7")
	victim   = netip.MustParseAddr("203.0.113.20")
)

func limitTest(t *testing.T) (*Archive, *testclock.Clock) {
	t.Helper()
	clock := testclock.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	a := OpenTestOptions(t, Options{Now: clock.Now})
	for _, login := range []string{"alice", "bob"} {
		if err := a.PutUser(t.Context(), User{Login: login, Role: RoleUser}, "right-"+login); err != nil {
			t.Fatal(err)
		}
	}
	return a, clock
}

// limited returns the wait of a refused attempt, or fails the test.
func limited(t *testing.T, err error) time.Duration {
	t.Helper()
	var le *LimitedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLimited) {
		t.Fatalf("want a refusal by the guessing limit, got %v", err)
	}
	return le.RetryAfter
}

func badCreds(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("want bad credentials, got %v", err)
	}
}

// TestGuessLimitBacksOff: wrong passwords from one address meet a wait
// that doubles; a waiting attempt is refused without argon2 even with the
// right password; the real user at another address gets in; after the
// wait the right password works and forgets the address's back-off.
func TestGuessLimitBacksOff(t *testing.T) {
	a, clock := limitTest(t)
	ctx := t.Context()
	p := defaultGuessPolicy().loginSource
	for i := range int(p.Free) + 1 {
		_, err := a.Authenticate(ctx, attacker, "alice", fmt.Sprint("wrong", i))
		badCreds(t, err)
	}
	var waits []time.Duration
	for i := range 8 {
		_, err := a.Authenticate(ctx, attacker, "alice", "still-wrong")
		w := limited(t, err)
		waits = append(waits, w)
		runs := a.auth.runs.Load()
		if i == 3 { // the right password is not checked while waiting
			_, err := a.Authenticate(ctx, attacker, "alice", "right-alice")
			limited(t, err)
		}
		if got := a.auth.runs.Load(); got != runs {
			t.Fatalf("a refused attempt ran argon2 (%d runs)", got-runs)
		}
		// The real user, from their own address, is not held up.
		if u, err := a.Authenticate(ctx, victim, "alice", "right-alice"); err != nil || u.Login != "alice" {
			t.Fatalf("alice from her own address: %v", err)
		}
		clock.Add(w)
		_, err = a.Authenticate(ctx, attacker, "alice", fmt.Sprint("wrong-again", i))
		badCreds(t, err)
	}
	for i, w := range waits {
		if want := p.Base << i; w != want {
			t.Fatalf("wait %d is %v, want %v (all: %v)", i, w, want, waits)
		}
	}
	w := limited(t, func() error { _, err := a.Authenticate(ctx, attacker, "alice", "right-alice"); return err }())
	clock.Add(w)
	if _, err := a.Authenticate(ctx, attacker, "alice", "right-alice"); err != nil {
		t.Fatalf("right password after the wait: %v", err)
	}
	// The success forgot that login's failures from that address.
	for i := range int(p.Free) {
		_, err := a.Authenticate(ctx, attacker, "alice", fmt.Sprint("typo", i))
		badCreds(t, err)
	}
}

// TestGuessLimitSpraying: one address trying many logins is slowed for
// every login, including ones that do not exist, and the answer does not
// tell which logins exist.
func TestGuessLimitSpraying(t *testing.T) {
	a, _ := limitTest(t)
	ctx := t.Context()
	p := defaultGuessPolicy().source
	for i := range int(p.Free) + 1 {
		_, err := a.Authenticate(ctx, attacker, fmt.Sprint("user", i), "Winter2026!")
		badCreds(t, err)
	}
	w1 := limited(t, func() error { _, err := a.Authenticate(ctx, attacker, "bob", "Winter2026!"); return err }())
	w2 := limited(t, func() error { _, err := a.Authenticate(ctx, attacker, "nobody", "Winter2026!"); return err }())
	if w1 != w2 || w1 != p.Base {
		t.Fatalf("waits %v (existing) and %v (unknown login), want both %v", w1, w2, p.Base)
	}
	if _, err := a.Authenticate(ctx, victim, "bob", "right-bob"); err != nil {
		t.Fatalf("bob from another address: %v", err)
	}
	// Malformed credentials count too.
	_, err := a.Authenticate(ctx, netip.MustParseAddr("192.0.2.99"), "bad:login", "x")
	badCreds(t, err)
}

// TestGuessLimitDistributed: guesses on one login from many addresses
// meet the login's own limit, which spares the addresses the login
// succeeded from.
func TestGuessLimitDistributed(t *testing.T) {
	a, clock := limitTest(t)
	ctx := t.Context()
	if _, err := a.Authenticate(ctx, victim, "alice", "right-alice"); err != nil {
		t.Fatal(err)
	}
	// Many devices share one account, each from its own address.
	device := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)}) }
	const devices = 300
	for i := range devices {
		if _, err := a.Authenticate(ctx, device(i), "bob", "right-bob"); err != nil {
			t.Fatal(err)
		}
	}
	p := defaultGuessPolicy()
	src := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}) }
	n := 0
	for ; n <= int(p.login.Free); n++ { // each address stays under its own limits
		_, err := a.Authenticate(ctx, src(n), "alice", fmt.Sprint("guess", n))
		badCreds(t, err)
	}
	_, err := a.Authenticate(ctx, src(n), "alice", "right-alice")
	if w := limited(t, err); w != p.login.Base {
		t.Fatalf("wait %v, want %v", w, p.login.Base)
	}
	// Alice from where she logged in before is not held up, and other
	// logins are not either.
	if _, err := a.Authenticate(ctx, victim, "alice", "right-alice"); err != nil {
		t.Fatalf("alice from a known address: %v", err)
	}
	if _, err := a.Authenticate(ctx, src(n), "bob", "right-bob"); err != nil {
		t.Fatalf("bob: %v", err)
	}
	// The same against the shared device account: every device that
	// logged in before still does.
	for i := 0; i <= int(p.login.Free); i++ {
		_, err := a.Authenticate(ctx, src(1000+i), "bob", "old-device-password")
		badCreds(t, err)
	}
	_, err = a.Authenticate(ctx, src(2000), "bob", "right-bob")
	limited(t, err)
	for i := range devices {
		if _, err := a.Authenticate(ctx, device(i), "bob", "right-bob"); err != nil {
			t.Fatalf("device %d: %v", i, err)
		}
	}
	// A new address gets in once the wait has passed.
	clock.Add(p.login.Base)
	if _, err := a.Authenticate(ctx, src(n+1), "alice", "right-alice"); err != nil {
		t.Fatalf("alice from a new address after the wait: %v", err)
	}
}

// TestGuessLimitParallel: guesses sent at once are counted before any of
// them is checked, so a burst gets no more through than a sequence.
func TestGuessLimitParallel(t *testing.T) {
	a, _ := limitTest(t)
	ctx := t.Context()
	p := defaultGuessPolicy().loginSource
	start := a.auth.runs.Load()
	var wg sync.WaitGroup
	var mu sync.Mutex
	refused := 0
	for i := range 60 {
		wg.Go(func() {
			_, err := a.Authenticate(ctx, attacker, "alice", fmt.Sprint("burst", i))
			if errors.Is(err, ErrLimited) {
				mu.Lock()
				refused++
				mu.Unlock()
			} else if !errors.Is(err, ErrBadCredentials) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	checked := int(a.auth.runs.Load() - start)
	if checked != int(p.Free)+1 || refused != 60-checked {
		t.Fatalf("%d checked, %d refused; want %d checked", checked, refused, int(p.Free)+1)
	}
	// The same right credentials in a burst share one check and are not
	// counted against the address.
	for range 40 {
		wg.Go(func() {
			if _, err := a.Authenticate(ctx, victim, "bob", "right-bob"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

// TestGuessLimitEveryEntryPoint: WebDAV passwords, account passwords and
// API tokens share one count per address.
func TestGuessLimitEveryEntryPoint(t *testing.T) {
	a, clock := limitTest(t)
	ctx := t.Context()
	if err := a.SetWebDAVPassword(ctx, "bob", "dav-bob"); err != nil {
		t.Fatal(err)
	}
	p := defaultGuessPolicy().loginSource
	for i := range int(p.Free) + 1 {
		_, err := a.AuthenticateWebDAV(ctx, attacker, "bob", fmt.Sprint("dav", i))
		badCreds(t, err)
	}
	_, err := a.Authenticate(ctx, attacker, "bob", "right-bob")
	limited(t, err)
	_, err = a.AuthenticateWebDAV(ctx, attacker, "bob", "dav-bob")
	w := limited(t, err)
	if _, err := a.AuthenticateWebDAV(ctx, victim, "bob", "dav-bob"); err != nil {
		t.Fatalf("webdav from another address: %v", err)
	}
	clock.Add(w)
	if _, err := a.AuthenticateWebDAV(ctx, attacker, "bob", "dav-bob"); err != nil {
		t.Fatalf("webdav after the wait: %v", err)
	}

	// Tokens: wrong ones count toward the address's limit.
	tok, _, err := a.CreateToken(ctx, "alice", "script")
	if err != nil {
		t.Fatal(err)
	}
	tokenSource := netip.MustParseAddr("2001:db8:5:6:1::1")
	q := defaultGuessPolicy().source
	for i := range int(q.Free) + 1 {
		_, err := a.AuthenticateToken(ctx, tokenSource, fmt.Sprintf("cvt_%026d", i))
		badCreds(t, err)
	}
	_, err = a.AuthenticateToken(ctx, tokenSource, tok)
	limited(t, err)
	// The same /64 is the same source; another /64 is not.
	_, err = a.AuthenticateToken(ctx, netip.MustParseAddr("2001:db8:5:6:ffff::2"), tok)
	limited(t, err)
	if u, err := a.AuthenticateToken(ctx, netip.MustParseAddr("2001:db8:5:7::1"), tok); err != nil || u.Login != "alice" {
		t.Fatalf("token from another network: %v", err)
	}
	// An IPv4-mapped address is the IPv4 address.
	if SourcePrefix(netip.MustParseAddr("::ffff:198.51.100.7")) != SourcePrefix(attacker) {
		t.Fatal("IPv4-mapped address counted apart")
	}
}

// TestGuessLimitBounded: the tables stay bounded under a flood of
// addresses and logins, and the flood does not free an address that is
// waiting.
func TestGuessLimitBounded(t *testing.T) {
	p := defaultGuessPolicy()
	p.entries = 1000
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	l := newGuessLimiter(p, slog.New(slog.DiscardHandler))
	for i := range int(p.loginSource.Free) + 1 {
		at := newAttempt(attacker, "alice")
		if le := l.begin(now, &at); le != nil {
			t.Fatalf("attempt %d refused", i)
		}
	}
	for i := range 3 * p.entries {
		src := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		at := newAttempt(src, fmt.Sprint("user", i))
		l.begin(now, &at)
		l.succeed(now, &at)
		at = newAttempt(src, fmt.Sprint("other", i))
		l.begin(now, &at)
	}
	if n := max(l.loginSource.Len(), l.source.Len(), l.login.Len(), len(l.known)); n > p.entries {
		t.Fatalf("a table grew to %d entries (bound %d)", n, p.entries)
	}
	at := newAttempt(attacker, "alice")
	if l.check(now, &at) == nil {
		t.Fatal("the flood freed a waiting address")
	}
}

func TestClientAddr(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1:4711":          "192.0.2.1",
		"[2001:db8::1]:443":       "2001:db8::1",
		"[fe80::1%eth0]:443":      "fe80::1%eth0",
		"192.0.2.1":               "192.0.2.1",
		"not an address":          "invalid IP",
		"":                        "invalid IP",
		"[::ffff:192.0.2.1]:8080": "::ffff:192.0.2.1",
	} {
		if got := ClientAddr(in).String(); got != want {
			t.Errorf("ClientAddr(%q) = %s, want %s", in, got, want)
		}
	}
	// Unparsable sources share one count rather than escaping it.
	if SourcePrefix(ClientAddr("x")) != SourcePrefix(ClientAddr("y")) {
		t.Fatal("unparsable sources counted apart")
	}
}

// FuzzClientAddr: any remote address string gives an address or the zero
// one, and its counted source contains it.
func FuzzClientAddr(f *testing.F) {
	for _, s := range []string{"192.0.2.1:1", "[2001:db8::1]:443", "[fe80::1%eth0]:1", "::ffff:1.2.3.4", "", "x:y:z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a := ClientAddr(s)
		p := SourcePrefix(a)
		if !a.IsValid() {
			if p != (netip.Prefix{}) {
				t.Fatalf("%q: no address but source %v", s, p)
			}
			return
		}
		if !p.Contains(a.Unmap().WithZone("")) {
			t.Fatalf("%q: source %v does not contain %v", s, p, a)
		}
	})
}
