package archive

import (
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/internal/testclock"
)

func newClock() *testclock.Clock { return testclock.New(time.Date(2025, 5, 1, 8, 0, 0, 0, time.UTC)) }

func putUser(t *testing.T, a *Archive, u User) {
	t.Helper()
	if u.Role == "" {
		u.Role = RoleUser
	}
	if err := a.PutUser(t.Context(), u, "pw-"+u.Login); err != nil {
		t.Fatal(err)
	}
}

func TestTokens(t *testing.T) {
	clk := newClock()
	a := OpenTestOptions(t, Options{Now: clk.Now})
	ctx := t.Context()
	putUser(t, a, User{Login: "alice", Name: "Alice"})
	putUser(t, a, User{Login: "bob"})
	if _, _, err := a.CreateToken(ctx, "nobody", "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("token for unknown user: %v", err)
	}
	if _, _, err := a.CreateToken(ctx, "alice", strings.Repeat("x", 200)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("long label: %v", err)
	}
	if _, _, err := a.CreateToken(ctx, "alice", "a\nb"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("control characters in label: %v", err)
	}
	tok, info, err := a.CreateToken(ctx, "alice", "CRM integration")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "cvt_") || len(tok) != 30 || len(info.ID) != 16 || info.Label != "CRM integration" || !info.Created.Equal(clk.Now()) {
		t.Fatalf("token %q info %+v", tok, info)
	}
	clk.Add(time.Second)
	tok2, _, err := a.CreateToken(ctx, "alice", "second")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.CreateToken(ctx, "bob", "bob's"); err != nil {
		t.Fatal(err)
	}
	u, err := a.AuthenticateToken(ctx, netip.IPv6Loopback(), tok)
	if err != nil || u.Login != "alice" || u.Name != "Alice" {
		t.Fatalf("authenticate: %v %+v", err, u)
	}
	for _, bad := range []string{"", "cvt_", tok + "A", strings.ToLower(tok), "cvs_" + tok[4:], tok[:29] + "1", "Basic " + tok} {
		if _, err := a.AuthenticateToken(ctx, netip.IPv6Loopback(), bad); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("token %q: %v", bad, err)
		}
	}
	list, err := a.Tokens(ctx, "alice")
	if err != nil || len(list) != 2 || list[0].ID != info.ID || !list[0].LastUsed.Equal(clk.Now()) || !list[1].LastUsed.IsZero() {
		t.Fatalf("tokens: %v %+v", err, list)
	}
	// LastUsed moves at most once a minute.
	first := list[0].LastUsed
	clk.Add(30 * time.Second)
	if _, err := a.AuthenticateToken(ctx, netip.IPv6Loopback(), tok); err != nil {
		t.Fatal(err)
	}
	if list, _ = a.Tokens(ctx, "alice"); !list[0].LastUsed.Equal(first) {
		t.Fatal("last used written within a minute")
	}
	clk.Add(31 * time.Second)
	if _, err := a.AuthenticateToken(ctx, netip.IPv6Loopback(), tok); err != nil {
		t.Fatal(err)
	}
	if list, _ = a.Tokens(ctx, "alice"); !list[0].LastUsed.Equal(clk.Now()) {
		t.Fatal("last used not updated")
	}
	// Revoking needs the right owner.
	if err := a.RevokeToken(ctx, "bob", info.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoke someone else's token: %v", err)
	}
	if err := a.RevokeToken(ctx, "alice", info.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AuthenticateToken(ctx, netip.IPv6Loopback(), tok); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("revoked token: %v", err)
	}
	// A disabled user's tokens stop working; deleting the user deletes them.
	if err := a.PutUser(ctx, User{Login: "alice", Role: RoleUser, Disabled: true}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AuthenticateToken(ctx, netip.IPv6Loopback(), tok2); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("disabled user's token: %v", err)
	}
	if err := a.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	putUser(t, a, User{Login: "alice"}) // same login again: the old tokens are gone
	if _, err := a.AuthenticateToken(ctx, netip.IPv6Loopback(), tok2); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("deleted user's token: %v", err)
	}
	if list, _ := a.Tokens(ctx, "alice"); len(list) != 0 {
		t.Fatalf("tokens survived the user: %+v", list)
	}
	if list, _ := a.Tokens(ctx, "bob"); len(list) != 1 {
		t.Fatalf("bob's tokens: %+v", list)
	}
}

// TestSecretsNotInFile greps the database file for tokens, session tokens,
// labels and logins.
func TestSecretsNotInFile(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	putUser(t, a, User{Login: "zz-unique-login"})
	tok, _, err := a.CreateToken(ctx, "zz-unique-login", "zz-unique-label")
	if err != nil {
		t.Fatal(err)
	}
	stok, _, err := a.CreateSession(ctx, "zz-unique-login", time.Hour, "203.0.113.77", "zz-unique-agent")
	if err != nil {
		t.Fatal(err)
	}
	checkNotInClear(t, a, tok, tok[4:], stok, stok[4:], "zz-unique-login", "zz-unique-label", "203.0.113.77", "zz-unique-agent")
}

func TestTokenLimit(t *testing.T) {
	a := OpenTest(t)
	putUser(t, a, User{Login: "alice"})
	for range maxUserTokens {
		if _, _, err := a.CreateToken(t.Context(), "alice", ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := a.CreateToken(t.Context(), "alice", ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("token %d: %v", maxUserTokens+1, err)
	}
}

func TestSessions(t *testing.T) {
	clk := newClock()
	a := OpenTestOptions(t, Options{Now: clk.Now})
	ctx := t.Context()
	putUser(t, a, User{Login: "alice"})
	putUser(t, a, User{Login: "bob"})
	if _, _, err := a.CreateSession(ctx, "alice", time.Second, "", ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("ttl too short: %v", err)
	}
	if _, _, err := a.CreateSession(ctx, "nobody", time.Hour, "", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	tok, s, err := a.CreateSession(ctx, "alice", time.Hour, "192.0.2.1:5000", "Firefox")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "cvs_") || s.Login != "alice" || !s.Expires.Equal(clk.Now().Add(time.Hour)) || s.Remote != "192.0.2.1:5000" || s.UserAgent != "Firefox" {
		t.Fatalf("session %q %+v", tok, s)
	}
	got, u, err := a.SessionByToken(ctx, tok)
	if err != nil || got.ID != s.ID || u.Login != "alice" {
		t.Fatalf("lookup: %v %+v %+v", err, got, u)
	}
	if _, _, err := a.SessionByToken(ctx, "cvs_AAAAAAAAAAAAAAAAAAAAAAAAAA"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown session: %v", err)
	}
	if _, err := a.AuthenticateToken(ctx, netip.IPv6Loopback(), tok); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("a session token is not an API token: %v", err)
	}
	// Sessions survive a reopen.
	a2 := reopenWith(t, a, Options{Now: clk.Now})
	a = a2
	clk.Add(59 * time.Minute)
	got, _, err = a.SessionByToken(ctx, tok)
	if err != nil || !got.LastSeen.Equal(clk.Now()) {
		t.Fatalf("after reopen: %v %+v", err, got)
	}
	// Expiry.
	clk.Add(time.Minute)
	if _, _, err := a.SessionByToken(ctx, tok); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired session: %v", err)
	}
	if list, _ := a.Sessions(ctx, "alice"); len(list) != 0 {
		t.Fatalf("expired session listed: %+v", list)
	}
	// Logout, DeleteSessions with keep, purge, user deletion.
	t1, _, _ := a.CreateSession(ctx, "alice", time.Hour, "", "")
	t2, s2, _ := a.CreateSession(ctx, "alice", time.Hour, "", "")
	t3, _, _ := a.CreateSession(ctx, "alice", 2*time.Minute, "", "")
	tb, _, _ := a.CreateSession(ctx, "bob", time.Hour, "", "")
	if err := a.DeleteSession(ctx, t1); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteSession(ctx, t1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("double logout: %v", err)
	}
	if _, _, err := a.SessionByToken(ctx, t1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after logout: %v", err)
	}
	if n, err := a.DeleteSessions(ctx, "alice", s2.ID); err != nil || n != 1 {
		t.Fatalf("delete others: %d %v", n, err)
	}
	if _, _, err := a.SessionByToken(ctx, t3); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other session kept: %v", err)
	}
	if _, _, err := a.SessionByToken(ctx, t2); err != nil {
		t.Fatalf("kept session: %v", err)
	}
	t4, _, _ := a.CreateSession(ctx, "bob", 2*time.Minute, "", "")
	clk.Add(3 * time.Minute)
	if n, err := a.PurgeSessions(ctx); err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
	if _, _, err := a.SessionByToken(ctx, t4); !errors.Is(err, ErrNotFound) {
		t.Fatal("purged session alive")
	}
	// A disabled user's session ends.
	if err := a.PutUser(ctx, User{Login: "bob", Role: RoleUser, Disabled: true}, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.SessionByToken(ctx, tb); !errors.Is(err, ErrNotFound) {
		t.Fatalf("disabled user's session: %v", err)
	}
	if err := a.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.SessionByToken(ctx, t2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted user's session: %v", err)
	}
}

// reopenWith is reopen with extra options.
func reopenWith(t *testing.T, a *Archive, opt Options) *Archive {
	t.Helper()
	path := a.Path()
	a.Close()
	opt.KeyFile = keyFileOf(a)
	opt.KDF = FastKDF()
	b, err := reopenTestArchive(t, path, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func keyFileOf(a *Archive) string { return filepath.Join(filepath.Dir(a.Path()), "archive.key") }
