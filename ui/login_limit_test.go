package ui

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/testclock"
)

// clientFrom is a client whose connections come from the loopback
// address src (127.0.0.0/8 all reaches the test server on Linux).
func (tu *testUI) clientFrom(src string) *client {
	c := tu.client()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	c.c.Transport = &http.Transport{DialContext: d.DialContext}
	c.c.Jar, _ = cookiejar.New(nil)
	return c
}

func retryAfter(t *testing.T, resp *http.Response, body string) time.Duration {
	t.Helper()
	must(t, resp, body, http.StatusTooManyRequests)
	n, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || n < 1 {
		t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	return time.Duration(n) * time.Second
}

// TestLoginGuessLimit: the login form answers 429 with Retry-After once
// an address has guessed too often, refuses even the right password then,
// doubles the wait with each further failure, and lets the real user in
// from another address all along.
func TestLoginGuessLimit(t *testing.T) {
	clock := testclock.New(time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC))
	tu := newTestUIWith(t, archive.Options{Now: clock.Now})
	attacker, victim := tu.clientFrom("127.0.0.2"), tu.clientFrom("127.0.0.1")
	form := func(pw string) url.Values { return url.Values{"login": {"bob"}, "password": {pw}} }
	checked := 0
	for ; checked < 50; checked++ {
		resp, body := attacker.post("/login", form(fmt.Sprint("wrong", checked)))
		if resp.StatusCode == http.StatusTooManyRequests {
			break
		}
		must(t, resp, body, http.StatusUnauthorized, "Wrong login or password.")
	}
	if checked < 2 || checked > 10 {
		t.Fatalf("%d guesses checked before the limit", checked)
	}
	resp, body := attacker.post("/login", form(testPassword))
	first := retryAfter(t, resp, body)
	must(t, resp, body, http.StatusTooManyRequests, "Too many failed attempts")

	// The real user, from another address, gets in.
	resp, body = victim.post("/login", form(testPassword))
	must(t, resp, body, http.StatusSeeOther)

	// Each further failure doubles the wait.
	clock.Add(first)
	resp, body = attacker.post("/login", form("wrong-again"))
	must(t, resp, body, http.StatusUnauthorized)
	resp, body = attacker.post("/login", form("wrong-again-2"))
	if second := retryAfter(t, resp, body); second != 2*first {
		t.Fatalf("waits %v then %v", first, second)
	}

	// After the wait the right password works.
	clock.Add(2 * first)
	resp, body = attacker.post("/login", form(testPassword))
	must(t, resp, body, http.StatusSeeOther)

	// One record of the refusals, not one per refused request.
	events, _, err := tu.arc.AuditLog(context.Background(), archive.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	limited := 0
	for _, e := range events {
		if e.Action == "login" && e.Detail == "rate limited" {
			limited++
		}
	}
	if limited != 2 {
		t.Fatalf("%d audit records of refused logins, want 2 (one per waiting period)", limited)
	}
}

// TestAPIGuessLimit: the API's Basic and Bearer doors share the limit.
// 300 wrong Basic passwords on /api/v1/users/me get no more than the
// policy's few checks, then 429 with Retry-After; the right password is
// refused from that address too, and works from another.
func TestAPIGuessLimit(t *testing.T) {
	clock := testclock.New(time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC))
	tu := newTestUIWith(t, archive.Options{Now: clock.Now})
	attacker, victim := tu.clientFrom("127.0.0.2"), tu.clientFrom("127.0.0.1")
	me := func(c *client, user, pw string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", tu.srv.URL+"/api/v1/users/me", nil)
		req.SetBasicAuth(user, pw)
		return c.do(req)
	}
	unauthorized, refused := 0, 0
	for i := range 300 {
		resp, body := me(attacker, "alice", fmt.Sprint("wrong", i))
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			unauthorized++
		case http.StatusTooManyRequests:
			retryAfter(t, resp, body)
			refused++
		default:
			t.Fatalf("guess %d: %d %s", i, resp.StatusCode, body)
		}
	}
	if unauthorized > 10 || refused != 300-unauthorized {
		t.Fatalf("%d answered 401, %d answered 429", unauthorized, refused)
	}
	resp, body := me(attacker, "alice", testPassword)
	wait := retryAfter(t, resp, body)
	resp, body = me(victim, "alice", testPassword)
	must(t, resp, body, http.StatusOK, `"login": "alice"`)
	clock.Add(wait)
	resp, body = me(attacker, "alice", testPassword)
	must(t, resp, body, http.StatusOK, `"login": "alice"`)

	// Bearer: wrong tokens from one address meet the address's limit.
	tok, _, err := tu.arc.CreateToken(context.Background(), "bob", "script")
	if err != nil {
		t.Fatal(err)
	}
	bearer := func(c *client, token string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", tu.srv.URL+"/api/v1/users/me", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		return c.do(req)
	}
	sprayer := tu.clientFrom("127.0.0.3")
	for i := 0; ; i++ {
		resp, body := bearer(sprayer, fmt.Sprintf("cvt_%026d", i))
		if resp.StatusCode == http.StatusTooManyRequests {
			retryAfter(t, resp, body)
			break
		}
		must(t, resp, body, http.StatusUnauthorized)
		if i > 100 {
			t.Fatal("no limit on wrong tokens")
		}
	}
	resp, body = bearer(sprayer, tok)
	retryAfter(t, resp, body)
	resp, body = bearer(victim, tok)
	must(t, resp, body, http.StatusOK, `"login": "bob"`)
}

// TestAccountPasswordGuessLimit: confirming the current password (to
// change it) is a door too.
func TestAccountPasswordGuessLimit(t *testing.T) {
	// The clock starts now: the client's cookie jar drops a session
	// cookie whose expiry is already past on the wall clock.
	clock := testclock.New(time.Now())
	tu := newTestUIWith(t, archive.Options{Now: clock.Now})
	c := tu.login("alice")
	for i := 0; ; i++ {
		resp, body := c.post("/account/password", url.Values{"current": {fmt.Sprint("wrong", i)}, "new": {"new-password-456"}, "confirm": {"new-password-456"}})
		if resp.StatusCode == http.StatusTooManyRequests {
			retryAfter(t, resp, body)
			must(t, resp, body, http.StatusTooManyRequests, "Too many failed attempts")
			return
		}
		must(t, resp, body, http.StatusBadRequest, "current password is wrong")
		if i > 20 {
			t.Fatal("no limit on the current password")
		}
	}
}

// TestAPICurrentPasswordGuessLimit: a leaked token cannot guess its
// owner's password through the current-password check either.
func TestAPICurrentPasswordGuessLimit(t *testing.T) {
	clock := testclock.New(time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC))
	tu := newTestUIWith(t, archive.Options{Now: clock.Now})
	tok, _, err := tu.arc.CreateToken(context.Background(), "alice", "leaked")
	if err != nil {
		t.Fatal(err)
	}
	c := tu.clientFrom("127.0.0.2")
	for i := 0; ; i++ {
		body := fmt.Sprintf(`{"password":"new-password-456","currentPassword":"wrong%d"}`, i)
		req, _ := http.NewRequest("PATCH", tu.srv.URL+"/api/v1/users/me", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, rb := c.do(req)
		if resp.StatusCode == http.StatusTooManyRequests {
			retryAfter(t, resp, rb)
			return
		}
		must(t, resp, rb, http.StatusForbidden, "current password is wrong")
		if i > 20 {
			t.Fatal("no limit on the current password")
		}
	}
}
