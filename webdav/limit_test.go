package webdav

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
)

// TestWebDAVGuessLimit: wrong passwords from one address meet 429 with
// Retry-After, the right password is refused from there too, and the
// user gets in from another address; the refusals leave one audit record.
func TestWebDAVGuessLimit(t *testing.T) {
	f := newFixture(t, Options{})
	from := func(src string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
		return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: time.Minute}
	}
	attacker, user := from("127.0.0.2"), from("127.0.0.1")
	get := func(c *http.Client, pw string) *http.Response {
		req, _ := http.NewRequest("PROPFIND", f.srv.URL+f.h.Prefix(), nil)
		req.Header.Set("Depth", "0")
		req.SetBasicAuth("alice", pw)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	checked := 0
	for ; ; checked++ {
		resp := get(attacker, fmt.Sprint("wrong", checked))
		if resp.StatusCode == http.StatusTooManyRequests {
			break
		}
		if resp.StatusCode != http.StatusUnauthorized || checked > 10 {
			t.Fatalf("guess %d: %s", checked, resp.Status)
		}
	}
	for range 5 {
		resp := get(attacker, testPassword)
		if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); resp.StatusCode != http.StatusTooManyRequests || err != nil || n < 1 {
			t.Fatalf("right password while waiting: %s, Retry-After %q", resp.Status, resp.Header.Get("Retry-After"))
		}
	}
	if resp := get(user, testPassword); resp.StatusCode != http.StatusMultiStatus {
		t.Fatalf("alice from another address: %s", resp.Status)
	}
	events, _, err := f.arc.AuditLog(context.Background(), archive.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	failed, limited := 0, 0
	for _, e := range events {
		if e.Action == "webdav.login" && !e.OK {
			if e.Detail == "rate limited" {
				limited++
			} else {
				failed++
			}
		}
	}
	if failed != checked || limited != 1 {
		t.Fatalf("audit: %d failed logins (want %d), %d refusals (want 1)", failed, checked, limited)
	}
}
