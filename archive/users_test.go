package archive

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callvault/callvault/internal/testclock"
)

func TestUsers(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	u := User{Login: "alice", Name: "Alice Å", Email: "alice@example.com", Role: RoleSupervisor, Extensions: []string{"201", "202"}}
	if err := a.PutUser(ctx, u, "pw-1"); err != nil {
		t.Fatal(err)
	}
	if err := a.PutUser(ctx, User{Login: "bob", Role: RoleIngest}, ""); err != nil {
		t.Fatal(err)
	}
	g, err := a.GetUser(ctx, "alice")
	if err != nil || g.Name != u.Name || g.Email != u.Email || g.Role != u.Role || len(g.Extensions) != 2 || !g.HasPassword || g.Created.IsZero() {
		t.Fatalf("GetUser: %+v %v", g, err)
	}
	if _, err := a.GetUser(ctx, "Alice"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("logins are case-sensitive: %v", err)
	}
	// Yet owners and access lists match ignoring case (MayRead), so a
	// second login that differs only in case is refused: it would read
	// alice's recordings.
	if err := a.PutUser(ctx, User{Login: "ALICE", Role: RoleUser}, "pw-2"); !errors.Is(err, ErrExists) {
		t.Fatalf("PutUser(ALICE) beside alice: %v", err)
	}
	if same, err := a.UsersFold(ctx, "aLiCe"); err != nil || len(same) != 1 || same[0].Login != "alice" {
		t.Fatalf("UsersFold(aLiCe): %+v %v", same, err)
	}
	if same, err := a.UsersFold(ctx, "carol"); err != nil || len(same) != 0 {
		t.Fatalf("UsersFold(carol): %+v %v", same, err)
	}
	// UsersFold keeps what it read until a user changes.
	if err := a.PutUser(ctx, User{Login: "carol", Role: RoleUser, MaskDTMF: true}, ""); err != nil {
		t.Fatal(err)
	}
	if same, err := a.UsersFold(ctx, "CAROL"); err != nil || len(same) != 1 || !same[0].MaskDTMF {
		t.Fatalf("UsersFold(CAROL) after carol was added: %+v %v", same, err)
	}
	if err := a.DeleteUser(ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	if same, err := a.UsersFold(ctx, "CAROL"); err != nil || len(same) != 0 {
		t.Fatalf("UsersFold(CAROL) after carol was deleted: %+v %v", same, err)
	}
	if err := a.PutUser(ctx, u, ""); err != nil { // alice herself may change
		t.Fatal(err)
	}
	us, err := a.Users(ctx)
	if err != nil || len(us) != 2 || us[0].Login != "alice" || us[1].Login != "bob" || us[1].HasPassword {
		t.Fatalf("Users: %+v %v", us, err)
	}
	for _, bad := range []User{{Login: "", Role: RoleUser}, {Login: "a:b", Role: RoleUser}, {Login: "a\nb", Role: RoleUser}, {Login: "x", Role: "root"}, {Login: "y", Role: RoleUser, Name: strings.Repeat("n", maxUserField+1)}} {
		if err := a.PutUser(ctx, bad, ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("PutUser(%q, %q): %v", bad.Login, bad.Role, err)
		}
	}
	for _, c := range []struct{ login, pw string }{{"alice", "pw-2"}, {"alice", ""}, {"bob", ""}, {"bob", "x"}, {"carol", "pw-1"}, {"", ""}, {"a:b", "pw-1"}} {
		if _, err := a.Authenticate(ctx, netip.IPv6Loopback(), c.login, c.pw); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("Authenticate(%q, %q): %v", c.login, c.pw, err)
		} else if strings.Contains(err.Error(), c.pw) && c.pw != "" {
			t.Errorf("error %q contains the password", err)
		}
	}
	if got, err := a.Authenticate(ctx, netip.IPv6Loopback(), "alice", "pw-1"); err != nil || got.Login != "alice" || got.Role != RoleSupervisor {
		t.Fatalf("Authenticate: %+v %v", got, err)
	}
	// Updating without a password keeps it; changing it drops the old one.
	u.Name = "Alice B"
	if err := a.PutUser(ctx, u, ""); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Authenticate(ctx, netip.IPv6Loopback(), "alice", "pw-1"); err != nil || got.Name != "Alice B" {
		t.Fatalf("after rename: %+v %v", got, err)
	}
	if err := a.PutUser(ctx, u, "pw-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, netip.IPv6Loopback(), "alice", "pw-1"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("old password after change: %v", err)
	}
	if _, err := a.Authenticate(ctx, netip.IPv6Loopback(), "alice", "pw-2"); err != nil {
		t.Fatal(err)
	}
	u.Disabled = true
	if err := a.PutUser(ctx, u, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, netip.IPv6Loopback(), "alice", "pw-2"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("disabled: %v", err)
	}
	if err := a.DeleteUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteUser(ctx, "bob"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	// Users survive a reopen.
	a = reopen(t, a)
	if g, err := a.GetUser(ctx, "alice"); err != nil || g.Name != "Alice B" || !g.Disabled {
		t.Fatalf("after reopen: %+v %v", g, err)
	}
}

func TestAuthenticateCache(t *testing.T) {
	clock := testclock.New(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	a := OpenTestOptions(t, Options{Now: clock.Now})
	ctx := t.Context()
	if err := a.PutUser(ctx, User{Login: "phone", Role: RoleIngest}, "device-secret"); err != nil {
		t.Fatal(err)
	}
	runs := func() int64 { return a.auth.runs.Load() }
	start := runs()

	// A burst of the same credentials costs one argon2.
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			if _, err := a.Authenticate(ctx, netip.IPv6Loopback(), "phone", "device-secret"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := runs() - start; got != 1 {
		t.Fatalf("%d argon2 runs for one login burst", got)
	}
	// Wrong passwords are not cached.
	for range 3 {
		if _, err := a.Authenticate(ctx, netip.IPv6Loopback(), "phone", "guess"); !errors.Is(err, ErrBadCredentials) {
			t.Fatal(err)
		}
	}
	if got := runs() - start; got != 4 {
		t.Fatalf("%d runs, want 4", got)
	}
	// The TTL expires.
	clock.Add(authTTL + time.Second)
	if _, err := a.Authenticate(ctx, netip.IPv6Loopback(), "phone", "device-secret"); err != nil {
		t.Fatal(err)
	}
	if got := runs() - start; got != 5 {
		t.Fatalf("%d runs after TTL, want 5", got)
	}
	// A change of the user drops the cache.
	if err := a.PutUser(ctx, User{Login: "phone", Role: RoleIngest}, "new-secret"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, netip.IPv6Loopback(), "phone", "device-secret"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("old cached password accepted: %v", err)
	}
	// Concurrency of argon2 is bounded.
	for i := range 8 {
		if err := a.PutUser(ctx, User{Login: fmt.Sprint("u", i), Role: RoleUser}, "p"); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 8 {
		wg.Go(func() { a.Authenticate(ctx, netip.IPv6Loopback(), fmt.Sprint("u", i), "p") })
	}
	wg.Wait()
	if p := a.auth.peak.Load(); p > authConcurrent {
		t.Fatalf("%d concurrent argon2 runs", p)
	}
}

// TestUserLanguage: the language a user chooses is stored with the user,
// survives an admin's PutUser and a reopen, and "" returns to the
// browser's choice; nonsense and unknown users are refused.
func TestUserLanguage(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	if err := a.PutUser(ctx, User{Login: "alice", Role: RoleUser}, "password-1234"); err != nil {
		t.Fatal(err)
	}
	if err := a.SetUserLanguage(ctx, "alice", "de"); err != nil {
		t.Fatal(err)
	}
	u, err := a.GetUser(ctx, "alice")
	if err != nil || u.Language != "de" {
		t.Fatalf("after SetUserLanguage: %+v, %v", u, err)
	}
	u.Name = "Alice"
	u.Language = "en" // ignored: PutUser keeps the user's own choice
	if err := a.PutUser(ctx, *u, ""); err != nil {
		t.Fatal(err)
	}
	if u, _ := a.GetUser(ctx, "alice"); u.Language != "de" || u.Name != "Alice" {
		t.Fatalf("after PutUser: %+v", u)
	}
	if _, err := a.Authenticate(ctx, netip.MustParseAddr("127.0.0.1"), "alice", "password-1234"); err != nil {
		t.Fatalf("the password is gone: %v", err)
	}
	if err := a.SetUserLanguage(ctx, "alice", ""); err != nil {
		t.Fatal(err)
	}
	if u, _ := a.GetUser(ctx, "alice"); u.Language != "" {
		t.Fatalf("after clearing: %q", u.Language)
	}
	for _, bad := range []string{"de\x00", "de;DROP", strings.Repeat("a", 17), "dé"} {
		if err := a.SetUserLanguage(ctx, "alice", bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v, want ErrInvalid", bad, err)
		}
	}
	if err := a.SetUserLanguage(ctx, "nobody", "de"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown user: %v", err)
	}
}

// TestPutUserRefusesOwnSupervisor: a user cannot be their own supervisor,
// in any letter case (4-eyes access compares logins without case), on
// every door that saves users, since they all pass PutUser.
func TestPutUserRefusesOwnSupervisor(t *testing.T) {
	a := OpenTest(t)
	ctx := t.Context()
	if err := a.PutUser(ctx, User{Login: "alice", Role: RoleSupervisor}, ""); err != nil {
		t.Fatal(err)
	}
	for _, sup := range []string{"alice", "Alice", "ALICE", " alice "} {
		err := a.PutUser(ctx, User{Login: "alice", Role: RoleUser, Supervisor: sup}, "")
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("alice with supervisor %q: %v", sup, err)
		}
	}
	if g, err := a.GetUser(ctx, "alice"); err != nil || g.Supervisor != "" {
		t.Fatalf("stored %+v %v", g, err)
	}
	if err := a.PutUser(ctx, User{Login: "bob", Role: RoleUser, Supervisor: "ALICE"}, ""); err != nil {
		t.Errorf("another supervisor: %v", err)
	}
}

// FuzzFoldKey: foldKey tells two strings apart exactly when
// strings.EqualFold does.
func FuzzFoldKey(f *testing.F) {
	f.Add("alice", "ALICE")
	f.Add("Kelvin", "\u212aelvin") // the Kelvin sign folds to k
	f.Add("stra\u017fe", "STRASSE")
	f.Add("\xff", "\xfe")
	f.Fuzz(func(t *testing.T, a, b string) {
		if (foldKey(a) == foldKey(b)) != strings.EqualFold(a, b) {
			t.Fatalf("foldKey(%q) = %q, foldKey(%q) = %q; EqualFold %v", a, foldKey(a), b, foldKey(b), strings.EqualFold(a, b))
		}
	})
}
