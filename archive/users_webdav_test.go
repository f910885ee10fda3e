package archive

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"
)

func TestWebDAVPassword(t *testing.T) {
	a := OpenTest(t)
	ctx := context.Background()
	if err := a.PutUser(ctx, User{Login: "ann", Role: RoleUser}, "account"); err != nil {
		t.Fatal(err)
	}
	ok := func(login, pw string) bool {
		t.Helper()
		u, err := a.AuthenticateWebDAV(ctx, netip.IPv6Loopback(), login, pw)
		if err != nil && !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("AuthenticateWebDAV: %v", err)
		}
		return err == nil && u.Login == login
	}
	if !ok("ann", "account") || ok("ann", "dav") || ok("nobody", "account") {
		t.Fatal("without a WebDAV password, WebDAV takes the account password only")
	}
	if set, err := a.WebDAVPasswordSet(ctx, "ann"); err != nil || !set.IsZero() {
		t.Fatalf("WebDAVPasswordSet: %v %v", set, err)
	}
	if err := a.SetWebDAVPassword(ctx, "ann", "dav"); err != nil {
		t.Fatal(err)
	}
	runs := a.auth.runs.Load()
	for range 2 { // the second check comes from the cache
		if !ok("ann", "dav") {
			t.Fatal("WebDAV password refused")
		}
	}
	if n := a.auth.runs.Load() - runs; n != 1 {
		t.Errorf("two checks ran argon2 %d times, want 1 (cached)", n)
	}
	if ok("ann", "account") {
		t.Error("account password accepted over WebDAV while a WebDAV password is set")
	}
	// The WebDAV password is not an account password, cached or not.
	if _, err := a.Authenticate(ctx, netip.IPv6Loopback(), "ann", "dav"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("Authenticate with the WebDAV password: %v", err)
	}
	if _, err := a.Authenticate(ctx, netip.IPv6Loopback(), "ann", "account"); err != nil {
		t.Errorf("account password stopped working for the UI: %v", err)
	}
	if set, err := a.WebDAVPasswordSet(ctx, "ann"); err != nil || set.IsZero() {
		t.Errorf("WebDAVPasswordSet after setting: %v %v", set, err)
	}

	// Disabling the user ends it at once (the cache is dropped).
	u, _ := a.GetUser(ctx, "ann")
	u.Disabled = true
	if err := a.PutUser(ctx, *u, ""); err != nil {
		t.Fatal(err)
	}
	if ok("ann", "dav") {
		t.Error("disabled user accepted")
	}
	u.Disabled = false
	if err := a.PutUser(ctx, *u, "account2"); err != nil {
		t.Fatal(err)
	}
	if !ok("ann", "dav") {
		t.Error("a changed account password dropped the WebDAV password")
	}

	// Removing it restores the account password.
	if err := a.SetWebDAVPassword(ctx, "ann", ""); err != nil {
		t.Fatal(err)
	}
	if ok("ann", "dav") || !ok("ann", "account2") {
		t.Error("after removal: WebDAV password still works or account password does not")
	}

	// A login deleted and created again does not inherit it.
	if err := a.SetWebDAVPassword(ctx, "ann", "dav"); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteUser(ctx, "ann"); err != nil {
		t.Fatal(err)
	}
	if ok("ann", "dav") {
		t.Error("deleted user accepted")
	}
	time.Sleep(time.Millisecond)
	if err := a.PutUser(ctx, User{Login: "ann", Role: RoleAdmin}, "new"); err != nil {
		t.Fatal(err)
	}
	if ok("ann", "dav") || !ok("ann", "new") {
		t.Error("recreated login inherited the old WebDAV password")
	}

	for _, tc := range []struct {
		login, pw string
		want      error
	}{
		{"missing", "x", ErrNotFound},
		{"", "x", ErrInvalid},
		{"ann", string(make([]byte, maxPasswordLen+1)), ErrInvalid},
	} {
		if err := a.SetWebDAVPassword(ctx, tc.login, tc.pw); !errors.Is(err, tc.want) {
			t.Errorf("SetWebDAVPassword(%q): %v, want %v", tc.login, err, tc.want)
		}
	}
}

func TestWebDAVCacheKeyDomain(t *testing.T) {
	a := OpenTest(t)
	au := a.auth
	seen := map[[32]byte]string{}
	for _, l := range []string{"a", "ab", string(make([]byte, maxLoginLen))} {
		for _, p := range []string{"", "x", "\xff\xff\xff\xffwebdav"} {
			for name, k := range map[string][32]byte{"account": au.cacheKey(l, p), "webdav": au.webdavCacheKey(l, p)} {
				if other, dup := seen[k]; dup {
					t.Fatalf("cache key of %s %q/%q equals %s", name, l, p, other)
				}
				seen[k] = name + " " + l + "/" + p
			}
		}
	}
}
