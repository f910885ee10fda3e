package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/internal/smtptest"
	"github.com/callvault/callvault/internal/testclock"
)

// smtpUser and smtpPassword are the login the test SMTP server accepts.
const (
	smtpUser     = "callvault"
	smtpPassword = "smtp-secret-0123456789"
)

// shareDaemon is an appliance whose [mail] section points at a real SMTP
// server on loopback (STARTTLS with a CA of its own in mail.ca_file, AUTH
// with a password file), on a clock the test moves.
type shareDaemon struct {
	*daemon
	smtp   *smtptest.Server
	clock  *testclock.Clock
	config string // the configuration file
}

func startShareDaemon(t *testing.T) *shareDaemon {
	t.Helper()
	return startShareDaemonWith(t, "")
}

// startShareDaemonWith is startShareDaemon with extra appended to the
// configuration file.
func startShareDaemonWith(t *testing.T, extra string) *shareDaemon {
	t.Helper()
	srv := smtptest.Start(t, smtptest.Options{Username: smtpUser, Password: smtpPassword})
	dir := t.TempDir()
	ca, pw := filepath.Join(dir, "smtp-ca.pem"), filepath.Join(dir, "smtp.password")
	if err := os.WriteFile(ca, srv.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pw, []byte(smtpPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := writeTestConfig(t, fmt.Sprintf(`[mail]
smtp_host = %q
smtp_port = %d
security = "starttls"
username = %q
password_file = %q
from = "Call archive <archive@example.org>"
ca_file = %q
`, srv.Host(), srv.Port(), smtpUser, pw, ca)+extra)
	clock := testclock.Ticking(daemonEpoch, time.Microsecond)
	d := startDaemonWith(t, "", func(o *serveOptions) { o.config = cfg; o.now = clock.Now })
	return &shareDaemon{daemon: d, smtp: srv, clock: clock, config: cfg}
}

// setClock moves the daemon's clock to at.
func (s *shareDaemon) setClock(at time.Time) { s.clock.Add(at.Sub(s.clock.Now())) }

// apiCall sends method path with a JSON body ("" for none) as login
// (HTTP Basic; "" for nobody) and returns the status and body.
func (s *shareDaemon) apiCall(t *testing.T, login, pass, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if login != "" {
		req.SetBasicAuth(login, pass)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (s *shareDaemon) wantAPI(t *testing.T, login, method, path, body string, code int) []byte {
	t.Helper()
	pass := sharePass(login)
	if login == "admin" {
		pass = testAdminPassword
	}
	got, b := s.apiCall(t, login, pass, method, path, body)
	if got != code {
		t.Fatalf("%s %s as %s: %d %s; want %d", method, path, login, got, b, code)
	}
	return b
}

func sharePass(login string) string { return "pw-" + login + "-0123456789" }

// createShareUsers makes, through the API, alice (may send links),
// erin (may see the external access page) and bob (neither), each with
// an email address.
func (s *shareDaemon) createShareUsers(t *testing.T) {
	t.Helper()
	for _, u := range []struct {
		login, extra string
	}{
		{"alice", `"maySendLinks": true, "extensions": ["201"]`},
		{"erin", `"maySeeExternal": true`},
		{"bob", `"extensions": ["202"]`},
	} {
		body := fmt.Sprintf(`{"login": %q, "password": %q, "name": %q, "email": %q, "role": "user", %s}`,
			u.login, sharePass(u.login), strings.ToUpper(u.login[:1])+u.login[1:], u.login+"@example.org", u.extra)
		s.wantAPI(t, "admin", "POST", "/api/v1/users", body, http.StatusCreated)
	}
}

// shareBody is a POST /api/v1/shares body to email for the recordings.
func shareBody(email string, days int, ids ...string) string {
	b, _ := json.Marshal(map[string]any{"recordings": ids, "recipientName": "R " + email, "recipientEmail": email,
		"reason": "complaint about " + email, "days": days, "showAccessNumber": true})
	return string(b)
}

var (
	linkURL  = regexp.MustCompile(`https?://[^\s/]+/p/[A-Za-z0-9_-]{32}`)
	codeText = regexp.MustCompile(`\b(\d{6})\b`)
)

// waitMail returns the n-th mail (1-based) for to, waiting for it.
func (s *shareDaemon) waitMail(t *testing.T, to string, n int) smtptest.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	ms, err := s.smtp.WaitMessages(ctx, to, n)
	if err != nil {
		t.Fatalf("%v; the daemon said:\n%s", err, s.out)
	}
	return ms[n-1]
}

// linkOf returns the playback link the mail names.
func linkOf(t *testing.T, m smtptest.Message) string {
	t.Helper()
	u := linkURL.FindString(m.Body)
	if u == "" {
		t.Fatalf("no /p/ link in the mail to %v: %q", m.To, m.Body)
	}
	return u
}

// recipient is a browser of the playback zone: its own cookie jar.
type recipient struct {
	t    *testing.T
	link string
	c    *http.Client
}

func newRecipient(t *testing.T, link string) *recipient {
	jar, _ := cookiejar.New(nil)
	return &recipient{t: t, link: link, c: &http.Client{Jar: jar, Timeout: client.Timeout}}
}

func (r *recipient) do(method, path, body string, hdr ...string) (*http.Response, []byte) {
	r.t.Helper()
	url := r.link + path
	if strings.HasPrefix(path, "http") {
		url = path
	}
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := r.c.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func (r *recipient) want(method, path, body string, code int) []byte {
	r.t.Helper()
	resp, b := r.do(method, path, body)
	if resp.StatusCode != code {
		r.t.Fatalf("%s %s: %d %s; want %d", method, path, resp.StatusCode, b, code)
	}
	return b
}

type playRecording struct {
	ID           string `json:"id"`
	DurationMs   int64  `json:"durationMs"`
	AccessNumber string `json:"accessNumber"`
	QueueName    string `json:"queueName"`
	Audio        string `json:"audio"`
}

func (r *recipient) recordings() []playRecording {
	r.t.Helper()
	var out struct {
		Recordings []playRecording `json:"recordings"`
	}
	if err := json.Unmarshal(r.want("GET", "/api/recordings", "", http.StatusOK), &out); err != nil {
		r.t.Fatal(err)
	}
	return out.Recordings
}

// login asks for a code, reads it from the n-th mail to email, enters it
// and accepts the terms.
func (r *recipient) login(s *shareDaemon, email string, n int) {
	r.t.Helper()
	r.want("POST", "/api/code", "", http.StatusAccepted)
	code := codeOf(r.t, s.waitMail(r.t, email, n))
	r.want("POST", "/api/session", `{"code":"`+code+`"}`, http.StatusOK)
	r.want("POST", "/api/terms", `{"language":"en","accept":true}`, http.StatusOK)
}

func codeOf(t *testing.T, m smtptest.Message) string {
	t.Helper()
	c := codeText.FindStringSubmatch(m.Body)
	if c == nil {
		t.Fatalf("no code in the mail to %v: %q", m.To, m.Body)
	}
	return c[1]
}

type shareLog struct {
	Shares []struct {
		ID             string   `json:"id"`
		RecipientEmail string   `json:"recipientEmail"`
		Sender         string   `json:"sender"`
		Recordings     []string `json:"recordings"`
		Status         string   `json:"status"`
		CancelledBy    string   `json:"cancelledBy"`
		CancelledAt    string   `json:"cancelledAt"`
		MailStatus     string   `json:"mailStatus"`
		MailError      string   `json:"mailError"`
	} `json:"shares"`
}

func (s *shareDaemon) shareLog(t *testing.T, login, query string) shareLog {
	t.Helper()
	var l shareLog
	if err := json.Unmarshal(s.wantAPI(t, login, "GET", "/api/v1/shares"+query, "", http.StatusOK), &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// waitShareLog waits until the admin's view of the log for query
// satisfies ok: the mailer records a delivery after the server accepted
// the mail, and a failed attempt without a sign on the SMTP side. It asks
// again every few milliseconds, for two minutes at most.
func (s *shareDaemon) waitShareLog(t *testing.T, query string, ok func(shareLog) bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		l := s.shareLog(t, "admin", query)
		if ok(l) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("log %s: %+v", query, l)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// createShare sends a link as login and returns its id.
func (s *shareDaemon) createShare(t *testing.T, login, body string) string {
	t.Helper()
	var g struct{ ID string }
	if err := json.Unmarshal(s.wantAPI(t, login, "POST", "/api/v1/shares", body, http.StatusCreated), &g); err != nil || g.ID == "" {
		t.Fatalf("share created: %v %+v", err, g)
	}
	return g.ID
}

// zoneRequest sends method url through c, with the playback zone's cookie
// set by hand when cookie is not empty, whatever the path; a POST carries
// a terms acceptance.
func zoneRequest(t *testing.T, c *http.Client, method, url, cookie string) (*http.Response, []byte) {
	t.Helper()
	var body io.Reader
	if method == "POST" {
		body = strings.NewReader(`{"language":"en","accept":true}`)
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if cookie != "" {
		req.Header.Set("Cookie", "callvault_link="+cookie)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestShareFlowOverHTTP runs secure links through the daemon: a link sent
// through the API arrives at a real SMTP server (STARTTLS, AUTH, the CA
// from mail.ca_file); the recipient asks for a code, which is mailed to
// the link's address only, enters a wrong one and the right one, accepts
// the terms and plays with a Range request, audited; a forwarded link
// gets nobody else a mail or a session; cancel ends playback at once;
// the log filters by status; internal links reach the user's address.
func TestShareFlowOverHTTP(t *testing.T) {
	s := startShareDaemon(t)
	s.createShareUsers(t)
	ids := []string{
		s.ingestSynth(t, "5aaa0000000000000000000000000001", "alice", synthCall{seconds: 4, callID: "s1@pbx.test",
			from: synthParty{"Åse", "201"}, to: synthParty{"Customer", "+4712345678"}}),
		s.ingestSynth(t, "5aaa0000000000000000000000000002", "alice", synthCall{seconds: 3, callID: "s2@pbx.test",
			start: time.Date(2026, 11, 20, 11, 0, 0, 0, time.UTC)}),
	}
	const carl = "carl@example.org"

	// Sending needs "may send links"; alice has it.
	s.wantAPI(t, "bob", "POST", "/api/v1/shares", shareBody(carl, 7, ids...), http.StatusForbidden)
	var created struct {
		ID        string    `json:"id"`
		ExpiresAt time.Time `json:"expiresAt"`
		Status    string    `json:"status"`
	}
	json.Unmarshal(s.wantAPI(t, "alice", "POST", "/api/v1/shares", shareBody(carl, 7, ids...), http.StatusCreated), &created)
	if created.Status != "valid" || !created.ExpiresAt.Equal(time.Date(2026, 11, 28, 23, 59, 59, 0, time.UTC)) {
		t.Fatalf("created: %+v", created)
	}

	// The link mail went through STARTTLS and AUTH to carl only.
	m := s.waitMail(t, carl, 1)
	if !slices.Equal(m.To, []string{carl}) || m.From != "archive@example.org" {
		t.Fatalf("link mail envelope: from %q to %v", m.From, m.To)
	}
	link := linkOf(t, m)
	if !strings.HasPrefix(link, s.url+"/p/") {
		t.Fatalf("link %q is not on the daemon's playback zone %s", link, s.url)
	}

	// The recipient: the page, a code, a wrong code, the right one.
	a := newRecipient(t, link)
	if resp, body := a.do("GET", "", ""); resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") ||
		resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("page: %s %v %.200s", resp.Status, resp.Header, body)
	}
	a.want("GET", "/api/recordings", "", http.StatusUnauthorized)
	a.want("POST", "/api/code", "", http.StatusAccepted)
	cm := s.waitMail(t, carl, 2)
	if !slices.Equal(cm.To, []string{carl}) {
		t.Fatalf("code mail to %v", cm.To)
	}
	code := codeOf(t, cm)
	n, _ := strconv.Atoi(code)
	wrong := fmt.Sprintf("%06d", (n+1)%1000000)
	var left struct {
		AttemptsLeft *int `json:"attemptsLeft"`
	}
	json.Unmarshal(a.want("POST", "/api/session", `{"code":"`+wrong+`"}`, http.StatusUnauthorized), &left)
	if left.AttemptsLeft == nil || *left.AttemptsLeft != 4 {
		t.Fatalf("wrong code: attemptsLeft %v, want 4", left.AttemptsLeft)
	}
	resp, body := a.do("POST", "/api/session", `{"code":"`+code+`"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("right code: %s %s", resp.Status, body)
	}
	if sc := resp.Header.Get("Set-Cookie"); !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Strict") ||
		!strings.Contains(sc, "Path="+strings.TrimPrefix(link, s.url)) {
		t.Fatalf("session cookie: %q", sc)
	}
	a.want("GET", "/api/recordings", "", http.StatusForbidden) // terms first
	var terms struct{ Language, Text string }
	json.Unmarshal(a.want("GET", "/api/terms?language=en", "", http.StatusOK), &terms)
	if terms.Language != "en" || terms.Text == "" {
		t.Fatalf("terms: %+v", terms)
	}
	a.want("POST", "/api/terms", `{"language":"en","accept":true}`, http.StatusOK)
	recs := a.recordings()
	if len(recs) != 2 || recs[0].AccessNumber == "" && recs[1].AccessNumber == "" {
		t.Fatalf("recordings: %+v", recs)
	}

	// Play with a Range request: 206, audio/wav; the play is audited.
	resp, body = a.do("GET", s.url+recs[0].Audio, "", "Range", "bytes=0-99")
	if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Type") != "audio/wav" ||
		len(body) != 100 || string(body[:4]) != "RIFF" || !strings.HasPrefix(resp.Header.Get("Content-Range"), "bytes 0-99/") {
		t.Fatalf("audio range: %s %v %d bytes", resp.Status, resp.Header, len(body))
	}
	var audit struct {
		Events []struct{ Actor, Action, Target string } `json:"events"`
	}
	json.Unmarshal(s.wantAPI(t, "admin", "GET", "/api/v1/audit?action=play", "", http.StatusOK), &audit)
	if !slices.ContainsFunc(audit.Events, func(e struct{ Actor, Action, Target string }) bool {
		return e.Actor == "external:"+carl && e.Target == recs[0].ID
	}) {
		t.Fatalf("no audited external play: %+v", audit.Events)
	}

	// A forwarded link: the second browser's request is answered 202 and
	// mails the code to carl only; it gets no session without that code.
	b := newRecipient(t, link)
	b.want("GET", "/api/recordings", "", http.StatusUnauthorized)
	b.want("POST", "/api/code", "", http.StatusAccepted)
	if cm := s.waitMail(t, carl, 3); codeOf(t, cm) == "" {
		t.Fatal("no code")
	}
	b.want("POST", "/api/session", `{"code":"`+code+`"}`, http.StatusUnauthorized) // the old code is void
	b.want("GET", "/api/recordings", "", http.StatusUnauthorized)
	b.want("GET", recs[0].Audio[strings.LastIndex(recs[0].Audio, "/audio/"):], "", http.StatusUnauthorized)
	for _, m := range s.smtp.Messages() {
		if !slices.Equal(m.To, []string{carl}) {
			t.Fatalf("a mail went to %v", m.To)
		}
	}

	// The log: admins and users who may see the external access page.
	s.wantAPI(t, "alice", "GET", "/api/v1/shares", "", http.StatusForbidden)
	s.wantAPI(t, "bob", "GET", "/api/v1/shares", "", http.StatusForbidden)
	s.waitShareLog(t, "?q=carl", func(l shareLog) bool { return len(l.Shares) == 1 && l.Shares[0].MailStatus == "sent" })
	l := s.shareLog(t, "erin", "?status=valid&q=CARL")
	if len(l.Shares) != 1 || l.Shares[0].ID != created.ID || l.Shares[0].Sender != "alice" || l.Shares[0].MailStatus != "sent" ||
		!slices.Equal(l.Shares[0].Recordings, ids) {
		t.Fatalf("log: %+v", l)
	}
	if l := s.shareLog(t, "admin", "?status=cancelled"); len(l.Shares) != 0 {
		t.Fatalf("cancelled before any cancel: %+v", l)
	}

	// Cancel: playback stops at once for the open session.
	s.wantAPI(t, "bob", "POST", "/api/v1/shares/"+created.ID+"/cancel", "", http.StatusForbidden)
	s.wantAPI(t, "erin", "POST", "/api/v1/shares/"+created.ID+"/cancel", "", http.StatusOK)
	if recs := a.recordings(); len(recs) != 0 {
		t.Fatalf("recordings after cancel: %+v", recs)
	}
	if resp, _ := a.do("GET", s.url+recs[0].Audio, ""); resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusGone {
		t.Fatalf("audio after cancel: %s", resp.Status)
	}
	l = s.shareLog(t, "admin", "?status=cancelled")
	if len(l.Shares) != 1 || l.Shares[0].CancelledBy != "erin" || l.Shares[0].CancelledAt == "" {
		t.Fatalf("cancelled log: %+v", l)
	}
	if l := s.shareLog(t, "admin", "?status=valid"); len(l.Shares) != 0 {
		t.Fatalf("valid after cancel: %+v", l)
	}

	// Internal link: mailed to bob's address, naming the UI's /links/{id}.
	var il struct{ ID string }
	json.Unmarshal(s.wantAPI(t, "alice", "POST", "/api/v1/internal-links",
		`{"recordings":["`+ids[0]+`"],"recipient":"bob"}`, http.StatusCreated), &il)
	im := s.waitMail(t, "bob@example.org", 1)
	if il.ID == "" || !strings.Contains(im.Body, s.url+"/links/"+il.ID) || !slices.Equal(im.To, []string{"bob@example.org"}) {
		t.Fatalf("internal link %q mail: %v %q", il.ID, im.To, im.Body)
	}
	s.wantAPI(t, "alice", "POST", "/api/v1/internal-links", `{"recordings":["`+ids[0]+`"],"recipient":"bob","body":"no link"}`,
		http.StatusBadRequest)
}

// TestShareMailServerDownThenUp sends a link while the SMTP server is
// down: the attempt fails and is retried after the back-off, on the
// daemon's clock; once the server is up again the mail arrives.
func TestShareMailServerDownThenUp(t *testing.T) {
	s := startShareDaemon(t)
	s.createShareUsers(t)
	id := s.ingestSynth(t, "5bbb0000000000000000000000000001", "alice", synthCall{seconds: 2, callID: "d1@pbx.test"})
	const dora = "dora@example.org"

	s.smtp.Stop()
	s.wantAPI(t, "alice", "POST", "/api/v1/shares", shareBody(dora, 1, id), http.StatusCreated)
	// The failed attempt: the log shows the mail queued with the reason.
	s.waitShareLog(t, "?q=dora", func(l shareLog) bool {
		return len(l.Shares) == 1 && l.Shares[0].MailStatus == "queued" && strings.Contains(l.Shares[0].MailError, "connection refused")
	})
	if err := s.smtp.Restart(); err != nil {
		t.Fatal(err)
	}
	// Up again, but the retry is not due yet: a mail queued now (an
	// internal link, which wakes the mailer) goes out, the link does not.
	s.wantAPI(t, "alice", "POST", "/api/v1/internal-links", `{"recordings":["`+id+`"],"recipient":"bob"}`, http.StatusCreated)
	s.waitMail(t, "bob@example.org", 1)
	if ms := s.smtp.Messages(); slices.ContainsFunc(ms, func(m smtptest.Message) bool { return slices.Contains(m.To, dora) }) {
		t.Fatal("the link mail was retried before its back-off")
	}
	// Past the back-off (30 s for the first retry), the next wake-up sends it.
	s.clock.Add(31 * time.Second)
	s.wantAPI(t, "alice", "POST", "/api/v1/internal-links", `{"recordings":["`+id+`"],"recipient":"bob"}`, http.StatusCreated)
	m := s.waitMail(t, dora, 1)
	linkOf(t, m)
	s.waitShareLog(t, "?q=dora", func(l shareLog) bool { return len(l.Shares) == 1 && l.Shares[0].MailStatus == "sent" })
}

// TestShareExpiresAtEndOfDay: a link for today only plays until 23:59:59
// in the appliance's time zone (the daemon's injected clock); a second
// later its recordings are gone for the open session and the log says
// expired.
func TestShareExpiresAtEndOfDay(t *testing.T) {
	s := startShareDaemon(t)
	s.createShareUsers(t)
	id := s.ingestSynth(t, "5ccc0000000000000000000000000001", "alice", synthCall{seconds: 2, callID: "e1@pbx.test"})
	const frank = "frank@example.org"
	var created struct {
		ID        string    `json:"id"`
		ExpiresAt time.Time `json:"expiresAt"`
	}
	json.Unmarshal(s.wantAPI(t, "alice", "POST", "/api/v1/shares", shareBody(frank, 0, id), http.StatusCreated), &created)
	end := time.Date(2026, 11, 21, 23, 59, 59, 0, time.UTC)
	if !created.ExpiresAt.Equal(end) {
		t.Fatalf("expires %v, want %v", created.ExpiresAt, end)
	}
	r := newRecipient(t, linkOf(t, s.waitMail(t, frank, 1)))

	s.setClock(end.Add(-time.Minute))
	r.login(s, frank, 2)
	recs := r.recordings()
	if len(recs) != 1 || recs[0].ID != id {
		t.Fatalf("recordings at 23:58:59: %+v", recs)
	}
	s.setClock(end.Add(-time.Second))
	if resp, _ := r.do("GET", s.url+recs[0].Audio, "", "Range", "bytes=0-9"); resp.StatusCode != http.StatusPartialContent {
		t.Fatalf("audio at 23:59:58: %s", resp.Status)
	}
	s.setClock(end.Add(time.Second))
	if got := r.recordings(); len(got) != 0 {
		t.Fatalf("recordings at 00:00:00: %+v", got)
	}
	if resp, _ := r.do("GET", s.url+recs[0].Audio, ""); resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusGone {
		t.Fatalf("audio after expiry: %s", resp.Status)
	}
	l := s.shareLog(t, "admin", "?status=expired")
	if len(l.Shares) != 1 || l.Shares[0].ID != created.ID {
		t.Fatalf("expired log: %+v", l)
	}
	if l := s.shareLog(t, "admin", "?status=valid"); len(l.Shares) != 0 {
		t.Fatalf("valid after expiry: %+v", l)
	}
	// No code for a link with nothing left to play: the same answer, no mail.
	before := len(s.smtp.Messages())
	r.want("POST", "/api/code", "", http.StatusAccepted)
	s.wantAPI(t, "alice", "POST", "/api/v1/internal-links", `{"recordings":["`+id+`"],"recipient":"bob"}`, http.StatusCreated)
	s.waitMail(t, "bob@example.org", 1) // the mailer ran after the code request
	if ms := s.smtp.Messages(); len(ms) != before+1 {
		t.Fatalf("%d mails after the code request for an expired link, want only bob's", len(ms)-before)
	}
}

// BenchmarkShareDaemon measures secure links through a running daemon
// whose [mail] points at the loopback SMTP server (STARTTLS and AUTH):
// the recordings are 40 synthetic calls of 10 minutes each, ingested
// once, decoded by the daemon's own media (not a stand-in). Run with
// -benchtime=1x (or a few x): each send writes about 770 MB of sealed
// audio.
//
//   - SendToMailAccepted40x10min: from POST /api/v1/shares to the link
//     mail accepted by the SMTP server (the copies decoded, sealed and
//     committed, the mail delivered); the link is cancelled between runs.
//   - FirstAudioByte: a logged-in recipient's Range request in the middle
//     of a 10-minute recording, to its first byte.
func BenchmarkShareDaemon(b *testing.B) {
	s := startBenchShareDaemon(b)
	body := synthPcap(synthCall{seconds: 600, callID: "bench-0@pbx.test"})
	ids := make([]string, 40)
	for i := range ids {
		// The same call under 40 call ids: 40 recordings of 10 minutes.
		ids[i] = s.benchIngest(b, fmt.Sprintf("5eee%028x", i), body)
	}
	var rec struct{ DurationMs int64 }
	_, js := s.benchAPI(b, "GET", "/api/v1/recordings/"+ids[39], "")
	if json.Unmarshal(js, &rec); rec.DurationMs < 599000 {
		b.Fatalf("a recording lasts %d ms, not 10 minutes: %s", rec.DurationMs, js)
	}
	var sent int
	b.Run("SendToMailAccepted40x10min", func(b *testing.B) {
		var total time.Duration
		for b.Loop() {
			sent++
			to := fmt.Sprintf("bench%d@example.org", sent)
			start := time.Now()
			code, resp := s.benchAPI(b, "POST", "/api/v1/shares", shareBody(to, 7, ids...))
			if code != http.StatusCreated {
				b.Fatalf("send: %d %s", code, resp)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			_, err := s.smtp.WaitMessage(ctx, to)
			cancel()
			if err != nil {
				b.Fatal(err)
			}
			total += time.Since(start)
			b.StopTimer()
			var g struct{ ID string }
			json.Unmarshal(resp, &g)
			if code, resp := s.benchAPI(b, "POST", "/api/v1/shares/"+g.ID+"/cancel", ""); code != http.StatusOK {
				b.Fatalf("cancel: %d %s", code, resp)
			}
			b.StartTimer()
		}
		b.ReportMetric(total.Seconds()/float64(b.N), "s/send")
	})
	b.Run("FirstAudioByte", func(b *testing.B) {
		sent++ // the function runs once per round: a recipient each
		to := fmt.Sprintf("listener%d@example.org", sent)
		if code, resp := s.benchAPI(b, "POST", "/api/v1/shares", shareBody(to, 7, ids[0])); code != http.StatusCreated {
			b.Fatalf("send: %d %s", code, resp)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		ms, err := s.smtp.WaitMessages(ctx, to, 1)
		if err != nil {
			b.Fatal(err)
		}
		link := linkURL.FindString(ms[0].Body)
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, Timeout: time.Minute}
		post := func(path, body string) {
			resp, err := c.Post(link+path, "application/json", strings.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				b.Fatalf("%s: %s", path, resp.Status)
			}
		}
		post("/api/code", "")
		if ms, err = s.smtp.WaitMessages(ctx, to, 2); err != nil {
			b.Fatal(err)
		}
		post("/api/session", `{"code":"`+codeText.FindStringSubmatch(ms[1].Body)[1]+`"}`)
		post("/api/terms", `{"language":"en","accept":true}`)
		audio := link + "/audio/" + ids[0]
		b.ResetTimer()
		for b.Loop() {
			req, _ := http.NewRequest("GET", audio, nil)
			req.Header.Set("Range", "bytes=9600000-")
			resp, err := c.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var one [1]byte
			if _, err := io.ReadFull(resp.Body, one[:]); err != nil || resp.StatusCode != http.StatusPartialContent {
				b.Fatal(resp.Status, err)
			}
			resp.Body.Close()
		}
	})
}

// startBenchShareDaemon is startShareDaemon for a benchmark, on the
// daemon's usual clock.
func startBenchShareDaemon(b *testing.B) *shareDaemon {
	b.Helper()
	b.Setenv("CALLVAULT_ADMIN_PASSWORD", testAdminPassword)
	b.Setenv("CALLVAULT_INGEST_PASSWORD", testIngestPassword)
	srv := smtptest.Start(b, smtptest.Options{Username: smtpUser, Password: smtpPassword})
	dir := b.TempDir()
	ca, pw := filepath.Join(dir, "smtp-ca.pem"), filepath.Join(dir, "smtp.password")
	if err := os.WriteFile(ca, srv.CAPEM(), 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(pw, []byte(smtpPassword), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg := filepath.Join(dir, "callvault.toml")
	os.WriteFile(cfg, fmt.Appendf(nil, "[mail]\nsmtp_host = %q\nsmtp_port = %d\nusername = %q\npassword_file = %q\nca_file = %q\nfrom = \"archive@example.org\"\n",
		srv.Host(), srv.Port(), smtpUser, pw, ca), 0o600)
	data := filepath.Join(dir, "data")
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan error, 1)
	out := &syncBuffer{}
	o := serveOptions{config: cfg, data: data, listen: "127.0.0.1:0", keyFile: filepath.Join(dir, "callvault.key"),
		ready: func(a string) { ready <- a }, now: daemonClock(data)}
	go func() { done <- serve(ctx, o, out, out) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		b.Fatalf("daemon did not start: %v\n%s", err, out)
	}
	b.Cleanup(func() { cancel(); <-done })
	return &shareDaemon{daemon: &daemon{url: "http://" + addr, data: data, out: out}, smtp: srv}
}

func (s *shareDaemon) benchIngest(b *testing.B, guid string, body []byte) string {
	b.Helper()
	req, _ := http.NewRequest(http.MethodPut, s.url+"/recordings/Files/"+guid+"-009033302ab1-11--admin.pcap", bytes.NewReader(body))
	req.SetBasicAuth("ingest", testIngestPassword)
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != http.StatusCreated {
		b.Fatalf("ingest: %s %v", resp.Status, err)
	}
	return r.ID
}

// benchAPI sends an API request as the admin.
func (s *shareDaemon) benchAPI(b *testing.B, method, path, body string) (int, []byte) {
	b.Helper()
	req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth("admin", testAdminPassword)
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}
