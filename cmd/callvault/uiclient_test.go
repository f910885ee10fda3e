package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// uiClient is a browser-like client of the web UI: it keeps the session
// cookie, does not follow redirects, and sends the Origin header a
// same-origin form post carries.
type uiClient struct {
	d     *daemon
	c     *http.Client
	login string
	pass  string
}

func (d *daemon) newUIClient(t *testing.T) *uiClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &uiClient{d: d, c: &http.Client{
		Jar: jar, Timeout: client.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// uiLogin logs in through the login form and fails the test otherwise.
func (d *daemon) uiLogin(t *testing.T, login, password string) *uiClient {
	t.Helper()
	c := d.newUIClient(t)
	c.login, c.pass = login, password
	resp, body := c.post(t, "/login", url.Values{"login": {login}, "password": {password}, "next": {"/"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login %s: %s\n%s", login, resp.Status, body)
	}
	return c
}

func (c *uiClient) do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", req.Method, req.URL.Path, err)
	}
	return resp, b
}

func (c *uiClient) get(t *testing.T, path string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.d.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.do(t, req)
}

// post sends a form as the browser does from a page of the appliance.
func (c *uiClient) post(t *testing.T, path string, form url.Values) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.d.url+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.d.url)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return c.do(t, req)
}

// createUser creates a user through the admin form.
func (c *uiClient) createUser(t *testing.T, login, password, role string, extra url.Values) {
	t.Helper()
	f := url.Values{"login": {login}, "password": {password}, "confirm": {password}, "role": {role}, "name": {login}}
	for k, v := range extra {
		f[k] = v
	}
	resp, body := c.post(t, "/admin/users", f)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create user %s: %s\n%s", login, resp.Status, body)
	}
}

var recordingLink = regexp.MustCompile(`href="/recordings/([0-9a-f]{32})"`)

// listedRecordings returns the recording ids the list page links to, once each.
func listedRecordings(body []byte) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range recordingLink.FindAllSubmatch(body, -1) {
		if id := string(m[1]); !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
