package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/webtest"
	"github.com/callvault/callvault/share"
)

// shareEnv serves the API with links over a fresh archive (users admin,
// alice, bob) and an external store in outbox mode.
type shareEnv struct {
	t   *testing.T
	arc *archive.Archive
	svc *share.Service
	srv *httptest.Server
}

func newShareEnv(t *testing.T, withShares bool) *shareEnv {
	t.Helper()
	clock := newTestClock(testNow)
	arc, _ := webtest.NewArchive(t, clock.Now)
	a := New(arc, webtest.SilentMedia{}, nil)
	e := &shareEnv{t: t, arc: arc}
	if withShares {
		svc, err := share.Open(arc, webtest.SilentMedia{}, share.Options{Path: filepath.Join(t.TempDir(), "share.db"),
			BaseURL: "https://play.example", UIBaseURL: "https://ui.example", Outbox: true, From: "archive@example.org"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { svc.Close() })
		a.SetShares(svc)
		e.svc = svc
	}
	e.srv = httptest.NewServer(a.Routes())
	t.Cleanup(e.srv.Close)
	return e
}

// do sends method path as who with a JSON body (nil for none) and returns
// the status and body.
func (e *shareEnv) do(method, who, path string, body any) (int, string) {
	e.t.Helper()
	var rd *bytes.Reader
	switch b := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequestWithContext(e.t.Context(), method, e.srv.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth(who, webtest.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.String()
}

func (e *shareEnv) want(method, who, path string, body any, code int, contains string) string {
	e.t.Helper()
	got, b := e.do(method, who, path, body)
	if got != code || !strings.Contains(b, contains) {
		e.t.Fatalf("%s %s as %s: %d %s; want %d with %q", method, path, who, got, b, code, contains)
	}
	return b
}

func (e *shareEnv) setUser(login string, change func(u *archive.User)) {
	e.t.Helper()
	u, err := e.arc.GetUser(e.t.Context(), login)
	if err != nil {
		e.t.Fatal(err)
	}
	change(u)
	if err := e.arc.PutUser(e.t.Context(), *u, ""); err != nil {
		e.t.Fatal(err)
	}
}

// TestSharesAPI sends, lists, cancels and sends internally through the
// JSON API: the rights, the defaults of omitted fields, the refusals of
// share as their statuses, and strict decoding.
func TestSharesAPI(t *testing.T) {
	e := newShareEnv(t, true)
	rec := webtest.AddRec(t, e.arc, testNow, "alice", 1000, 1, true)
	id := rec.ID.String()
	send := map[string]any{"recordings": []string{id}, "recipientName": "Carl Customer",
		"recipientEmail": "carl@example.org", "reason": "complaint 17"}

	// Sending needs "may send links".
	e.want("POST", "alice", "/api/v1/shares", send, http.StatusForbidden, "you may not send links")
	e.setUser("alice", func(u *archive.User) { u.MaySendLinks = true; u.Email = "alice@example.org" })

	// Strict decoding.
	e.want("POST", "alice", "/api/v1/shares", `{"recordings":[],"bogus":1}`, http.StatusBadRequest, `unknown field \"bogus\"`)
	e.want("POST", "alice", "/api/v1/shares", `{"days":"7"}`, http.StatusBadRequest, `field \"days\" must be a number`)
	e.want("POST", "alice", "/api/v1/shares", `{} {}`, http.StatusBadRequest, "exactly one JSON object")
	many := make([]string, share.MaxRecordings+1)
	for i := range many {
		many[i] = id
	}
	e.want("POST", "alice", "/api/v1/shares", map[string]any{"recordings": many}, http.StatusBadRequest, "at most 40 recordings")
	big := map[string]any{"recordings": []string{id}, "body": strings.Repeat("x", apiMaxBody)}
	e.want("POST", "alice", "/api/v1/shares", big, http.StatusRequestEntityTooLarge, "larger than")

	// share's refusals keep their status and message.
	noLink := map[string]any{"recordings": []string{id}, "recipientName": "Carl", "recipientEmail": "carl@example.org",
		"reason": "r", "body": "listen here"}
	e.want("POST", "alice", "/api/v1/shares", noLink, http.StatusBadRequest, "the body must contain {{link}}")
	e.want("POST", "alice", "/api/v1/shares", map[string]any{"recordings": []string{id}, "recipientName": "Carl",
		"recipientEmail": "Carl <carl@example.org>", "reason": "r"}, http.StatusBadRequest, "plain address")
	e.want("POST", "alice", "/api/v1/shares", map[string]any{"recordings": []string{strings.Repeat("0", 32)},
		"recipientName": "Carl", "recipientEmail": "carl@example.org", "reason": "r"}, http.StatusNotFound, "not found")
	e.want("POST", "bob", "/api/v1/shares", send, http.StatusForbidden, "you may not send links")

	// Omitted days, subject, body and language take the defaults: today
	// and seven more days, to 23:59:59 in the appliance's zone (UTC).
	var created struct {
		ID        string    `json:"id"`
		ExpiresAt time.Time `json:"expiresAt"`
		Status    string    `json:"status"`
	}
	json.Unmarshal([]byte(e.want("POST", "alice", "/api/v1/shares", send, http.StatusCreated, `"status": "valid"`)), &created)
	if want := time.Date(2026, 11, 28, 23, 59, 59, 0, time.UTC); !created.ExpiresAt.Equal(want) || len(created.ID) != 32 {
		t.Fatalf("created %+v; want expiry %v", created, want)
	}
	mails, err := e.svc.Outbox(t.Context())
	if err != nil || len(mails) != 1 {
		t.Fatalf("outbox: %v %+v", err, mails)
	}
	defSubject, _ := share.DefaultExternalMail("en")
	if m := mails[0]; m.To != "carl@example.org" || m.Subject != defSubject || !strings.Contains(m.Body, "https://play.example/p/") {
		t.Fatalf("link mail: %+v", m)
	}
	days := 0
	send2 := map[string]any{"recordings": []string{id}, "recipientName": "Dora", "recipientEmail": "dora@example.org",
		"reason": "audit", "days": days, "subject": "Calls", "body": "Here: {{link}}", "language": "fi", "showQueueName": true}
	json.Unmarshal([]byte(e.want("POST", "alice", "/api/v1/shares", send2, http.StatusCreated, `"id"`)), &created)
	if want := time.Date(2026, 11, 21, 23, 59, 59, 0, time.UTC); !created.ExpiresAt.Equal(want) {
		t.Fatalf("days 0: expires %v, want %v", created.ExpiresAt, want)
	}

	// The log: admins and users who may see the external access page.
	e.want("GET", "alice", "/api/v1/shares", nil, http.StatusForbidden, "external access")
	e.want("GET", "admin", "/api/v1/shares?status=bogus", nil, http.StatusBadRequest, "status must be")
	e.setUser("bob", func(u *archive.User) { u.MaySeeExternal = true })
	var list struct {
		Shares []map[string]any `json:"shares"`
	}
	json.Unmarshal([]byte(e.want("GET", "bob", "/api/v1/shares?q=DORA", nil, http.StatusOK, "dora@example.org")), &list)
	if len(list.Shares) != 1 || list.Shares[0]["id"] != created.ID || list.Shares[0]["sender"] != "alice" ||
		list.Shares[0]["reason"] != "audit" || list.Shares[0]["status"] != "valid" || list.Shares[0]["createdAt"] == nil {
		t.Fatalf("list q=DORA: %+v", list)
	}
	if _, ok := list.Shares[0]["cancelledAt"]; ok {
		t.Fatalf("a valid link has cancelledAt: %+v", list.Shares[0])
	}

	// Cancel: the same rights; once.
	e.want("POST", "alice", "/api/v1/shares/"+created.ID+"/cancel", nil, http.StatusForbidden, "")
	e.want("POST", "bob", "/api/v1/shares/"+created.ID+"/cancel", nil, http.StatusOK, `"cancelled"`)
	e.want("POST", "admin", "/api/v1/shares/"+created.ID+"/cancel", nil, http.StatusConflict, "cancelled already")
	e.want("POST", "admin", "/api/v1/shares/"+strings.Repeat("ab", 16)+"/cancel", nil, http.StatusNotFound, "")
	json.Unmarshal([]byte(e.want("GET", "admin", "/api/v1/shares?status=cancelled", nil, http.StatusOK, `"cancelledBy": "bob"`)), &list)
	if len(list.Shares) != 1 || list.Shares[0]["id"] != created.ID || list.Shares[0]["cancelledAt"] == nil {
		t.Fatalf("cancelled: %+v", list)
	}
	json.Unmarshal([]byte(e.want("GET", "admin", "/api/v1/shares?status=valid", nil, http.StatusOK, "carl@example.org")), &list)
	if len(list.Shares) != 1 {
		t.Fatalf("valid: %+v", list)
	}
	if evs := webtest.Audited(t, e.arc, "share.cancel"); len(evs) != 1 || evs[0].Actor != "bob" {
		t.Fatalf("share.cancel audit: %+v", evs)
	}

	// Internal links: to a user with an email address; defaults apply.
	e.want("POST", "alice", "/api/v1/internal-links", map[string]any{"recordings": []string{id}, "recipient": "bob"},
		http.StatusUnprocessableEntity, "no email address")
	e.setUser("bob", func(u *archive.User) { u.Email = "bob@example.org" })
	e.want("POST", "alice", "/api/v1/internal-links", map[string]any{"recordings": []string{id}, "recipient": "nobody"},
		http.StatusNotFound, "no such user")
	e.want("POST", "alice", "/api/v1/internal-links", map[string]any{"recordings": []string{id}, "recipient": "bob", "body": "no link"},
		http.StatusBadRequest, "{{link}}")
	e.want("POST", "alice", "/api/v1/internal-links", `{"recordings":[],"recipient":"bob","to":"x"}`, http.StatusBadRequest, "unknown field")
	e.want("POST", "bob", "/api/v1/internal-links", map[string]any{"recordings": []string{id}, "recipient": "alice"},
		http.StatusForbidden, "you may not send links")
	var il struct {
		ID string `json:"id"`
	}
	json.Unmarshal([]byte(e.want("POST", "alice", "/api/v1/internal-links", map[string]any{"recordings": []string{id}, "recipient": "bob"},
		http.StatusCreated, `"id"`)), &il)
	if l, err := e.svc.InternalLink(t.Context(), il.ID); err != nil || l.Recipient != "bob" || l.Sender != "alice" {
		t.Fatalf("internal link %q: %+v %v", il.ID, l, err)
	}
	if mails, _ = e.svc.Outbox(t.Context()); !containsMail(mails, "bob@example.org", "https://ui.example/links/"+il.ID) {
		t.Fatalf("no internal link mail to bob: %+v", mails)
	}
}

func containsMail(ms []share.OutboxMail, to, text string) bool {
	for _, m := range ms {
		if m.To == to && strings.Contains(m.Body, text) {
			return true
		}
	}
	return false
}

// TestSharesAPIUnavailable: without an external store the routes of links
// answer 503, after authentication.
func TestSharesAPIUnavailable(t *testing.T) {
	e := newShareEnv(t, false)
	e.want("GET", "admin", "/api/v1/shares", nil, http.StatusServiceUnavailable, "not available")
	e.want("POST", "admin", "/api/v1/shares", `{}`, http.StatusServiceUnavailable, "not available")
	e.want("POST", "admin", "/api/v1/internal-links", `{}`, http.StatusServiceUnavailable, "not available")
	e.want("POST", "admin", "/api/v1/shares/x/cancel", nil, http.StatusServiceUnavailable, "not available")
	got, _ := e.do("GET", "nobody", "/api/v1/shares", nil)
	if got != http.StatusUnauthorized {
		t.Fatalf("unauthenticated: %d", got)
	}
}

// FuzzShareRequest feeds the link bodies to their decoders: every input is
// a request or a 4xx, never a panic, and a request holds at most 40
// recordings and fills from the configuration without failing.
func FuzzShareRequest(f *testing.F) {
	f.Add(`{"recordings":["0123456789abcdef0123456789abcdef"],"recipientName":"A","recipientEmail":"a@example.org","reason":"r","days":3,"subject":"s","body":"{{link}}","language":"fi","showAccessNumber":true,"showQueueName":false}`)
	f.Add(`{"recordings":["x"],"recipient":"bob","subject":"s","body":"{{link}}"}`)
	f.Add(`{"days":null,"subject":null}`)
	f.Add(`{"days":1e400}`)
	f.Add(`[1,2]`)
	f.Add(`{"recordings":"x"}`)
	f.Add("")
	cfg := share.DefaultConfig()
	f.Fuzz(func(t *testing.T, body string) {
		for _, internal := range []bool{false, true} {
			w := httptest.NewRecorder()
			r := httptest.NewRequest("POST", "/api/v1/shares", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			var err error
			var n int
			if internal {
				var req *internalLinkRequest
				if req, err = decodeInternalLinkRequest(w, r); err == nil {
					n = len(req.Recordings)
				}
			} else {
				var req *shareRequest
				if req, err = decodeShareRequest(w, r); err == nil {
					n = len(req.Recordings)
					if sr := req.sendRequest(cfg); len(sr.Recordings) != n {
						t.Fatal("sendRequest lost recordings")
					}
				}
			}
			if err != nil {
				var he *httpError
				if !errors.As(err, &he) || he.code < 400 || he.code > 499 || he.msg == "" {
					t.Fatalf("%q: error %v is not a 4xx with a message", body, err)
				}
				continue
			}
			if n > share.MaxRecordings {
				t.Fatalf("%q: %d recordings accepted", body, n)
			}
		}
	})
}

// TestSharesAPINoPublicURL: with no public URL of the playback zone, a
// link cannot be sent (503, share's message), and nothing is queued.
func TestSharesAPINoPublicURL(t *testing.T) {
	clock := newTestClock(testNow)
	arc, _ := webtest.NewArchive(t, clock.Now)
	svc, err := share.Open(arc, webtest.SilentMedia{}, share.Options{Path: filepath.Join(t.TempDir(), "share.db"), Outbox: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	a := New(arc, webtest.SilentMedia{}, nil)
	a.SetShares(svc)
	e := &shareEnv{t: t, arc: arc, svc: svc, srv: httptest.NewServer(a.Routes())}
	t.Cleanup(e.srv.Close)
	rec := webtest.AddRec(t, arc, testNow, "admin", 1000, 1, true)
	e.want("POST", "admin", "/api/v1/shares", map[string]any{"recordings": []string{rec.ID.String()}, "recipientName": "Carl",
		"recipientEmail": "carl@example.org", "reason": "r"}, http.StatusServiceUnavailable, "share.public_url is not set")
	if ms, err := svc.Outbox(t.Context()); err != nil || len(ms) != 0 {
		t.Fatalf("outbox: %v %+v", err, ms)
	}
}
