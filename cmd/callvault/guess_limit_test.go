package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/internal/testclock"
)

// clientFrom returns a client whose connections leave from the loopback
// address src, so one test can be an attacker (127.0.0.2) and the real
// user (127.0.0.1).
func clientFrom(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	return &http.Client{
		Transport:     &http.Transport{DialContext: d.DialContext},
		Timeout:       time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// door is one way in that takes a password (or token), as a request
// builder and the status its right credentials get.
type door struct {
	name    string
	secret  string // the right password or token
	request func(d *daemon, secret string) *http.Request
	ok      int
}

func doors(t *testing.T) []door {
	basic := func(method, path, login string, body func() io.Reader) func(*daemon, string) *http.Request {
		return func(d *daemon, pw string) *http.Request {
			var b io.Reader
			if body != nil {
				b = body()
			}
			req, err := http.NewRequest(method, d.url+path, b)
			if err != nil {
				t.Fatal(err)
			}
			req.SetBasicAuth(login, pw)
			if method == "PROPFIND" {
				req.Header.Set("Depth", "0")
			}
			return req
		}
	}
	capture := synthPcap(synthCall{seconds: 1})
	return []door{
		{"login form", testAdminPassword, func(d *daemon, pw string) *http.Request {
			req, _ := http.NewRequest("POST", d.url+"/login", strings.NewReader(url.Values{"login": {"admin"}, "password": {pw}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return req
		}, http.StatusSeeOther},
		{"API Basic", testAdminPassword, basic("GET", "/api/v1/users/me", "admin", nil), http.StatusOK},
		{"API Bearer", "", func(d *daemon, tok string) *http.Request {
			req, _ := http.NewRequest("GET", d.url+"/api/v1/users/me", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			return req
		}, http.StatusOK},
		{"WebDAV", testAdminPassword, basic("PROPFIND", "/webdav/", "admin", nil), http.StatusMultiStatus},
		{"ingest PUT", testIngestPassword, basic("PUT", "/recordings/Files/f9e5956e47d460010630009033302ab1-009033302ab1-11--alice.pcap", "ingest",
			func() io.Reader { return bytes.NewReader(capture) }), http.StatusCreated},
		{"ingest collection", testIngestPassword, basic("PROPFIND", "/recordings/Files/", "ingest", nil), http.StatusMultiStatus},
		{"originals", testIngestPassword, basic("GET", "/api/v1/originals/"+strings.Repeat("ab", 32), "ingest", nil), http.StatusNotFound},
		{"backup", testAdminPassword, basic("GET", "/api/v1/backup", "admin", nil), http.StatusOK},
	}
}

func adminToken(t *testing.T, d *daemon) string {
	t.Helper()
	req, _ := http.NewRequest("POST", d.url+"/api/v1/users/me/tokens", strings.NewReader(`{"label":"guess test"}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("admin", testAdminPassword)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 201 || out.Token == "" {
		t.Fatalf("create token: %s %v", resp.Status, err)
	}
	return out.Token
}

func wrongSecret(dr door, i int) string {
	if dr.name == "API Bearer" {
		return fmt.Sprintf("cvt_%026d", i)
	}
	return fmt.Sprint("wrong-", i)
}

// send sends one request and returns its status and Retry-After.
func send(t *testing.T, c *http.Client, req *http.Request) (int, time.Duration) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	var wait time.Duration
	if resp.StatusCode == http.StatusTooManyRequests {
		n, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		if err != nil || n < 1 {
			t.Fatalf("429 with Retry-After %q", resp.Header.Get("Retry-After"))
		}
		wait = time.Duration(n) * time.Second
	}
	return resp.StatusCode, wait
}

// TestGuessLimitEveryDoor: at every door of a running daemon, wrong
// passwords from one address meet 429 with Retry-After, and then the
// right password is refused from that address too; the real user gets in
// from another address; each further failure doubles the wait; once the
// wait has passed the right password works.
func TestGuessLimitEveryDoor(t *testing.T) {
	for _, dr := range doors(t) {
		t.Run(dr.name, func(t *testing.T) {
			clock := testclock.New(time.Now())
			d := startDaemonWith(t, "", func(o *serveOptions) { o.now = clock.Now })
			if dr.name == "API Bearer" { // a token of this daemon's archive
				dr.secret = adminToken(t, d)
			}
			attacker, user := clientFrom("127.0.0.2"), clientFrom("127.0.0.1")
			checked, code := 0, 0
			var wait time.Duration
			for ; checked < 60; checked++ {
				if code, wait = send(t, attacker, dr.request(d, wrongSecret(dr, checked))); code == http.StatusTooManyRequests {
					break
				}
				if code != http.StatusUnauthorized {
					t.Fatalf("guess %d: %d", checked, code)
				}
			}
			if code != http.StatusTooManyRequests || checked > 25 {
				t.Fatalf("%d guesses checked, last answer %d", checked, code)
			}
			if code, w := send(t, attacker, dr.request(d, dr.secret)); code != http.StatusTooManyRequests || w != wait {
				t.Fatalf("right secret while waiting: %d, Retry-After %v (want 429, %v)", code, w, wait)
			}
			if code, _ := send(t, user, dr.request(d, dr.secret)); code != dr.ok {
				t.Fatalf("the user from another address: %d, want %d", code, dr.ok)
			}
			clock.Add(wait)
			if code, _ := send(t, attacker, dr.request(d, wrongSecret(dr, 1000))); code != http.StatusUnauthorized {
				t.Fatalf("guess after the wait: %d", code)
			}
			code, next := send(t, attacker, dr.request(d, wrongSecret(dr, 1001)))
			if code != http.StatusTooManyRequests || next != 2*wait {
				t.Fatalf("after one more failure: %d, Retry-After %v (want 429, %v)", code, next, 2*wait)
			}
			clock.Add(next)
			if code, _ := send(t, attacker, dr.request(d, dr.secret)); code != dr.ok {
				t.Fatalf("right secret after the wait: %d, want %d", code, dr.ok)
			}
			if strings.Contains(d.out.String(), wrongSecret(dr, 0)) || strings.Contains(d.out.String(), dr.secret) {
				t.Fatal("a password or token is in the log")
			}
		})
	}
}

// TestGuessLimitBasic300: 300 wrong Basic passwords on /api/v1/users/me
// from one address get a handful of checks and then 429, never a 401
// stream; the right password works from elsewhere.
func TestGuessLimitBasic300(t *testing.T) {
	clock := testclock.New(time.Now())
	d := startDaemonWith(t, "", func(o *serveOptions) { o.now = clock.Now })
	attacker, user := clientFrom("127.0.0.2"), clientFrom("127.0.0.1")
	me := func(pw string) *http.Request {
		req, _ := http.NewRequest("GET", d.url+"/api/v1/users/me", nil)
		req.SetBasicAuth("admin", pw)
		return req
	}
	counts := map[int]int{}
	for i := range 300 {
		code, _ := send(t, attacker, me(fmt.Sprint("wrong", i)))
		counts[code]++
	}
	if counts[http.StatusUnauthorized] > 10 || counts[http.StatusTooManyRequests] != 300-counts[http.StatusUnauthorized] {
		t.Fatalf("answers to 300 guesses: %v", counts)
	}
	t.Logf("answers to 300 guesses: %v", counts)
	if code, _ := send(t, attacker, me(testAdminPassword)); code != http.StatusTooManyRequests {
		t.Fatalf("right password from the guessing address: %d", code)
	}
	if code, _ := send(t, user, me(testAdminPassword)); code != http.StatusOK {
		t.Fatalf("right password from another address: %d", code)
	}
	if !strings.Contains(d.out.String(), "too many failed attempts") {
		t.Fatal("the refusals are not logged")
	}
}
