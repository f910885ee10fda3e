package archive

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/internal/testclock"
)

// guessRun drives one attacker against the archive's real entry points
// with a simulated clock: each checked guess takes step, and a refused one
// waits exactly the Retry-After the door sends (whole seconds). It returns
// the guesses checked in each simulated hour.
type guessRun struct {
	a     *Archive
	clock *testclock.Clock
	step  time.Duration
	hours int
}

// try makes one attempt; it reports the wait when refused.
type tryFunc func(ctx context.Context, src netip.Addr, i int) error

func (g *guessRun) run(t *testing.T, try tryFunc, fresh bool) []int {
	t.Helper()
	ctx := t.Context()
	start := g.clock.Now()
	end := start.Add(time.Duration(g.hours) * time.Hour)
	perHour := make([]int, g.hours)
	addr := 0
	src := func(n int) netip.Addr { return netip.AddrFrom4([4]byte{100, 64 + byte(n>>16), byte(n >> 8), byte(n)}) }
	for i := 0; g.clock.Now().Before(end); i++ {
		err := try(ctx, src(addr), i)
		var le *LimitedError
		switch {
		case errors.As(err, &le):
			if fresh { // many addresses: a new one, unless the login's own limit refuses it too
				addr++
				if err := try(ctx, src(addr), i); errors.As(err, &le) {
					g.clock.Add(time.Duration(le.RetrySeconds()) * time.Second)
				} else if errors.Is(err, ErrBadCredentials) {
					perHour[int(g.clock.Now().Sub(start)/time.Hour)]++
					g.clock.Add(g.step)
				} else {
					t.Fatal(err)
				}
				continue
			}
			g.clock.Add(time.Duration(le.RetrySeconds()) * time.Second)
		case errors.Is(err, ErrBadCredentials):
			perHour[int(g.clock.Now().Sub(start)/time.Hour)]++
			g.clock.Add(g.step)
		default:
			t.Fatal(err)
		}
	}
	return perHour
}

// TestGuessesPerHour computes, from the policy and the real entry points,
// how many guesses each door lets through per hour: for one attacker
// address and for an attacker with as many addresses as it likes, in the
// first hour and in the 24th (the steady rate). BENCHMARKS.md records the
// table it logs (go test -run TestGuessesPerHour -v ./archive/).
func TestGuessesPerHour(t *testing.T) {
	const hours = 24
	var rows []string
	for _, door := range []struct {
		name string
		try  func(a *Archive, login func(i int) string) tryFunc
	}{
		{"password: login form, API Basic, ingest, backup", func(a *Archive, login func(int) string) tryFunc {
			return func(ctx context.Context, src netip.Addr, i int) error {
				_, err := a.Authenticate(ctx, src, login(i), fmt.Sprint("guess", i))
				return err
			}
		}},
		{"WebDAV", func(a *Archive, login func(int) string) tryFunc {
			return func(ctx context.Context, src netip.Addr, i int) error {
				_, err := a.AuthenticateWebDAV(ctx, src, login(i), fmt.Sprint("guess", i))
				return err
			}
		}},
		{"all password doors in turn", func(a *Archive, login func(int) string) tryFunc {
			return func(ctx context.Context, src netip.Addr, i int) error {
				var err error
				if i%2 == 0 {
					_, err = a.Authenticate(ctx, src, login(i), fmt.Sprint("guess", i))
				} else {
					_, err = a.AuthenticateWebDAV(ctx, src, login(i), fmt.Sprint("guess", i))
				}
				return err
			}
		}},
		{"API Bearer (tokens, no login)", func(a *Archive, _ func(int) string) tryFunc {
			return func(ctx context.Context, src netip.Addr, i int) error {
				_, err := a.AuthenticateToken(ctx, src, fmt.Sprintf("cvt_%026d", i))
				return err
			}
		}},
	} {
		for _, sc := range []struct {
			name  string
			login func(i int) string
			fresh bool
		}{
			{"one address, one login", func(int) string { return "alice" }, false},
			{"one address, many logins", func(i int) string { return fmt.Sprint("user", i) }, false},
			{"many addresses, one login", func(int) string { return "alice" }, true},
		} {
			bearer := strings.HasPrefix(door.name, "API Bearer")
			if bearer && sc.name == "one address, many logins" {
				continue // a token names no login
			}
			if bearer && sc.fresh {
				// Only the source rule applies to a token, which names no
				// login: from many addresses the rate is the server's speed.
				// Tokens carry 128 random bits, so that is still no guessing.
				rows = append(rows, fmt.Sprintf("| %s | many addresses | no limit (128-bit tokens) | | |", door.name))
				continue
			}
			clock := testclock.New(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
			a := OpenTestOptions(t, Options{Now: clock.Now})
			if err := a.PutUser(t.Context(), User{Login: "alice", Role: RoleUser}, "correct horse battery staple"); err != nil {
				t.Fatal(err)
			}
			g := &guessRun{a: a, clock: clock, step: 10 * time.Millisecond, hours: hours}
			per := g.run(t, door.try(a, sc.login), sc.fresh)
			total := 0
			for _, n := range per {
				total += n
			}
			who := sc.name
			if bearer {
				who = strings.TrimSuffix(who, ", one login")
			}
			rows = append(rows, fmt.Sprintf("| %s | %s | %d | %d | %d |", door.name, who, per[0], per[hours-1], total))
			// The bounds the policy promises (README "Password guessing").
			first, steady := 45, 12
			if sc.name == "one address, one login" && !bearer {
				first, steady = 20, 4
			}
			if per[0] > first || per[hours-1] > steady {
				t.Errorf("%s, %s: %d guesses in the first hour, %d in the 24th; want at most %d and %d", door.name, sc.name, per[0], per[hours-1], first, steady)
			}
		}
	}
	t.Log("\n| door | attacker | guesses in hour 1 | guesses in hour 24 | guesses in 24 h |\n|---|---|---|---|---|\n" + strings.Join(rows, "\n"))
}
