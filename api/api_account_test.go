package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
	"github.com/callvault/callvault/internal/webtest"
)

const apiTestPassword = "api-test-password-1"

// apiEnv is the JSON API over a fresh archive with users admin, alice,
// bob (access list: alice), carol (extension 301), sup (supervisor) and
// ingest.
type apiEnv struct {
	t    *testing.T
	arc  *archive.Archive
	srv  *httptest.Server
	recs map[string]*archive.Recording // by owner
}

func newAPIEnv(t *testing.T) *apiEnv {
	t.Helper()
	return newAPIEnvOn(t, archivetest.OpenTestOptions(t, archive.Options{Now: newTestClock(testNow).Now}))
}

// newAPIEnvOn is newAPIEnv over arc (for example on a test clock).
func newAPIEnvOn(t *testing.T, arc *archive.Archive) *apiEnv {
	t.Helper()
	ctx := context.Background()
	for _, u := range []archive.User{
		{Login: "admin", Name: "Ada", Role: archive.RoleAdmin},
		{Login: "alice", Name: "Åsa Øberg", Role: archive.RoleUser, Extensions: []string{"201"}},
		{Login: "bob", Name: "Jānis", Role: archive.RoleUser, AccessList: []string{"alice"}},
		{Login: "carol", Role: archive.RoleUser, Extensions: []string{"301"}},
		{Login: "sup", Role: archive.RoleSupervisor},
		{Login: "ingest", Role: archive.RoleIngest},
	} {
		if err := arc.PutUser(ctx, u, apiTestPassword); err != nil {
			t.Fatal(err)
		}
	}
	e := &apiEnv{t: t, arc: arc, recs: map[string]*archive.Recording{}}
	for i, owner := range []string{"alice", "carol", "zed"} {
		w, err := arc.Create(ctx, archive.NewRecording{User: owner, CallGUID: "guid-" + owner,
			Received: time.Date(2026, 1, 2, 3, i, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.WriteOriginal([]byte("capture of " + owner)); err != nil {
			t.Fatal(err)
		}
		parties := []string{"+4930" + owner}
		if owner == "zed" {
			parties = append(parties, "301") // carol's extension
		}
		rec, err := w.Finish(ctx, archive.Final{State: archive.StateComplete, Info: []byte(`{"version":1,"result":{"calls":[{"index":0}]}}`), Parties: parties})
		if err != nil {
			t.Fatal(err)
		}
		if err := arc.Seal(ctx, rec.ID, nil); err != nil {
			t.Fatal(err)
		}
		e.recs[owner] = rec
	}
	api := New(arc, webtest.SilentMedia{}, nil)
	api.SetKeyFile(filepath.Join(filepath.Dir(arc.Path()), "archive.key"))
	e.srv = httptest.NewServer(api.Routes())
	t.Cleanup(e.srv.Close)
	return e
}

// call makes a request as login (Basic; "" = anonymous; "Bearer X" = a
// token) with a JSON body (nil: none; a string: sent as is).
func (e *apiEnv) call(who, method, path string, body any) (*http.Response, string) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case strings.HasPrefix(who, "Bearer "):
		req.Header.Set("Authorization", who)
	case who != "":
		req.SetBasicAuth(who, apiTestPassword)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (e *apiEnv) want(who, method, path string, body any, code int, contains ...string) string {
	e.t.Helper()
	resp, got := e.call(who, method, path, body)
	if resp.StatusCode != code {
		e.t.Fatalf("%s %s %s: %d, want %d\n%.800s", who, method, path, resp.StatusCode, code, got)
	}
	for _, s := range contains {
		if !strings.Contains(got, s) {
			e.t.Fatalf("%s %s %s: body lacks %q\n%.1500s", who, method, path, s, got)
		}
	}
	return got
}

// audited returns the audit events with action, newest first.
func (e *apiEnv) audited(action string) []archive.AuditEvent {
	e.t.Helper()
	evs, _, err := e.arc.AuditLog(context.Background(), archive.AuditQuery{Action: action, Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

func TestAPIBearerTokens(t *testing.T) {
	e := newAPIEnv(t)
	var created struct {
		Token, ID, Label string
	}
	body := e.want("alice", "POST", "/api/v1/users/me/tokens", map[string]string{"label": "CRM"}, 201, `"token": "cvt_`)
	if err := json.Unmarshal([]byte(body), &created); err != nil || created.ID == "" || created.Label != "CRM" {
		t.Fatalf("created %+v %v", created, err)
	}
	bearer := "Bearer " + created.Token
	e.want(bearer, "GET", "/api/v1/recordings", nil, 200, e.recs["alice"].ID.String())
	e.want(bearer, "GET", "/api/v1/recordings/"+e.recs["carol"].ID.String(), nil, 404)
	// The token is never listed again.
	list := e.want("alice", "GET", "/api/v1/users/alice/tokens", nil, 200, created.ID, `"lastUsed"`)
	if strings.Contains(list, created.Token) || strings.Contains(list, created.Token[4:]) {
		t.Fatal("token listed")
	}
	// Others' tokens: admins only.
	e.want("bob", "GET", "/api/v1/users/alice/tokens", nil, 403)
	e.want("bob", "DELETE", "/api/v1/users/alice/tokens/"+created.ID, nil, 403)
	e.want("admin", "GET", "/api/v1/users/alice/tokens", nil, 200, created.ID)
	e.want("admin", "GET", "/api/v1/users/nobody/tokens", nil, 404)
	resp, _ := e.call("Bearer cvt_AAAAAAAAAAAAAAAAAAAAAAAAAA", "GET", "/api/v1/recordings", nil)
	if resp.StatusCode != 401 || !strings.Contains(strings.Join(resp.Header.Values("WWW-Authenticate"), ","), "Bearer") {
		t.Fatalf("bad token: %d %v", resp.StatusCode, resp.Header)
	}
	e.want("Bearer", "GET", "/api/v1/recordings", nil, 401)
	e.want("alice", "DELETE", "/api/v1/users/me/tokens/"+created.ID, nil, 204)
	e.want(bearer, "GET", "/api/v1/recordings", nil, 401)
	e.want("alice", "DELETE", "/api/v1/users/me/tokens/"+created.ID, nil, 404)
	if n := len(e.audited("token.create")); n != 1 {
		t.Fatalf("token.create audited %d times", n)
	}
	if evs := e.audited("token.revoke"); len(evs) != 1 || evs[0].Actor != "alice" || evs[0].Target != "alice" {
		t.Fatalf("token.revoke: %+v", evs)
	}
	// An ingest account's token does not read recordings.
	tok, _, err := e.arc.CreateToken(context.Background(), "ingest", "")
	if err != nil {
		t.Fatal(err)
	}
	e.want("Bearer "+tok, "GET", "/api/v1/recordings", nil, 403)
}

func TestAPIUsers(t *testing.T) {
	e := newAPIEnv(t)
	newUser := map[string]any{
		"login": "dave", "password": apiTestPassword, "name": "Dāvis Ąžuolas", "email": "dave@example.com",
		"role": "user", "extensions": []string{" 401 ", "", "401", "402"}, "accessList": []string{"alice"},
		"supervisor": "sup", "seat": true, "maySendLinks": true,
	}
	e.want("alice", "POST", "/api/v1/users", newUser, 403)
	e.want("", "POST", "/api/v1/users", newUser, 401)
	body := e.want("admin", "POST", "/api/v1/users", newUser, 201, `"login": "dave"`, `"extensions": [`, `"seat": true`, `"hasPassword": true`)
	if strings.Contains(body, "password\": \"") {
		t.Fatal("password echoed")
	}
	u, err := e.arc.GetUser(context.Background(), "dave")
	if err != nil || len(u.Extensions) != 2 || u.Supervisor != "sup" || !u.MaySendLinks || u.MaySeeExternal {
		t.Fatalf("stored %+v %v", u, err)
	}
	e.want("admin", "POST", "/api/v1/users", newUser, 409)
	newUser["login"] = "Dave" // logins match ignoring case: Dave would read dave's recordings
	e.want("admin", "POST", "/api/v1/users", newUser, 409, "exists")
	newUser["login"] = "dave"
	// Bodies are checked strictly, with clear messages.
	for _, tc := range []struct {
		body any
		code int
		msg  string
	}{
		{map[string]any{"login": "x", "colour": "red"}, 400, `unknown field \"colour\"`},
		{map[string]any{"login": "x", "seat": "yes"}, 400, `field \"seat\" must be true or false`},
		{map[string]any{"login": "x", "role": "king"}, 400, "role must be"},
		{map[string]any{"login": "x", "supervisor": "nobody"}, 400, "supervisor: no such user"},
		{map[string]any{"login": "x", "password": "short"}, 400, "at least 10 characters"},
		{map[string]any{"login": "x", "email": "not an address"}, 400, "email"},
		{map[string]any{"login": "a:b"}, 400, "not allowed characters"},
		{map[string]any{"login": "me"}, 400, "login is required"},
		{`{"login":"x"} {"login":"y"}`, 400, "exactly one JSON object"},
		{`{"login":`, 400, "not complete JSON"},
		{`[1]`, 400, "JSON object"},
		{``, 400, "empty"},
		{`{"login":"x","name":"` + strings.Repeat("a", apiMaxBody) + `"}`, 413, "larger than"},
	} {
		e.want("admin", "POST", "/api/v1/users", tc.body, tc.code, tc.msg)
	}
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/users", strings.NewReader("login=x"))
	req.SetBasicAuth("admin", apiTestPassword)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 415 {
		t.Fatalf("form body: %v %v", resp.StatusCode, err)
	}

	e.want("admin", "GET", "/api/v1/users", nil, 200, `"login": "dave"`, `"login": "alice"`)
	e.want("alice", "GET", "/api/v1/users", nil, 403)
	e.want("dave", "GET", "/api/v1/users/me", nil, 200, `"name": "Dāvis Ąžuolas"`)
	e.want("dave", "GET", "/api/v1/users/dave", nil, 200)
	e.want("dave", "GET", "/api/v1/users/alice", nil, 403)
	e.want("admin", "GET", "/api/v1/users/nobody", nil, 404)

	// A user changes only their own password, and needs the current one.
	e.want("dave", "PATCH", "/api/v1/users/me", map[string]any{"role": "admin"}, 403, "only admins")
	e.want("dave", "PATCH", "/api/v1/users/alice", map[string]any{"password": "x-new-password-1"}, 403)
	e.want("dave", "PATCH", "/api/v1/users/me", map[string]any{"password": "x-new-password-1"}, 400, "currentPassword is required")
	e.want("dave", "PATCH", "/api/v1/users/me", map[string]any{"password": "x-new-password-1", "currentPassword": "wrong"}, 403, "current password is wrong")
	e.want("dave", "PATCH", "/api/v1/users/me", map[string]any{"password": "x-new-password-1", "currentPassword": apiTestPassword}, 200)
	if _, err := e.arc.Authenticate(context.Background(), netip.IPv6Loopback(), "dave", "x-new-password-1"); err != nil {
		t.Fatal("password not changed:", err)
	}
	// Admins change any field of anyone, without the old password.
	e.want("admin", "PATCH", "/api/v1/users/dave", map[string]any{"role": "supervisor", "accessList": []string{}, "disabled": true}, 200,
		`"role": "supervisor"`, `"accessList": []`, `"disabled": true`)
	e.want("admin", "PATCH", "/api/v1/users/dave", map[string]any{"login": "david"}, 400, "login cannot be changed")
	e.want("admin", "PATCH", "/api/v1/users/dave", map[string]any{"supervisor": "dave"}, 400, "own supervisor")
	// The last admin stays.
	e.want("admin", "PATCH", "/api/v1/users/admin", map[string]any{"role": "user"}, 409, "last enabled admin")
	e.want("admin", "PATCH", "/api/v1/users/admin", map[string]any{"disabled": true}, 409, "last enabled admin")
	e.want("admin", "DELETE", "/api/v1/users/admin", nil, 409, "your own account")
	e.want("admin", "POST", "/api/v1/users", map[string]any{"login": "root", "role": "admin", "password": apiTestPassword}, 201)
	e.want("root", "DELETE", "/api/v1/users/admin", nil, 204)
	e.want("root", "DELETE", "/api/v1/users/admin", nil, 404)
	e.want("alice", "DELETE", "/api/v1/users/bob", nil, 403)

	// Every change is in the audit log, without secrets.
	for action, n := range map[string]int{"user.create": 2, "user.change": 1, "user.password": 2, "user.delete": 1} {
		evs := e.audited(action)
		if len(evs) != n {
			t.Fatalf("%s audited %d times, want %d: %+v", action, len(evs), n, evs)
		}
		for _, ev := range evs {
			if strings.Contains(ev.Detail, apiTestPassword) || strings.Contains(ev.Detail, "x-new-password") || ev.Remote == "" {
				t.Fatalf("audit event %+v", ev)
			}
		}
	}
	if evs := e.audited("user.password"); !evs[0].OK || evs[1].OK {
		t.Fatalf("password events: %+v", evs)
	}
}

func TestAPINotes(t *testing.T) {
	e := newAPIEnv(t)
	alice := "/api/v1/recordings/" + e.recs["alice"].ID.String() + "/notes"
	body := e.want("alice", "POST", alice, map[string]string{"text": "Rückruf morgen – Łódź"}, 201, `"author": "alice"`, "Łódź")
	var n apiNote
	if err := json.Unmarshal([]byte(body), &n); err != nil || n.ID == 0 {
		t.Fatal(body, err)
	}
	note := alice + "/" + strconv.FormatUint(n.ID, 10)
	// bob reads alice's recordings (access list); carol does not.
	e.want("bob", "GET", alice, nil, 200, "Łódź")
	e.want("carol", "GET", alice, nil, 404)
	e.want("carol", "POST", alice, map[string]string{"text": "x"}, 404)
	e.want("carol", "GET", note, nil, 404)
	e.want("carol", "DELETE", note, nil, 404)
	body = e.want("bob", "POST", alice, map[string]string{"text": "bob's note"}, 201)
	var bn apiNote
	_ = json.Unmarshal([]byte(body), &bn)
	bobNote := alice + "/" + strconv.FormatUint(bn.ID, 10)
	// Only the author or an admin edits or deletes.
	e.want("alice", "PATCH", bobNote, map[string]string{"text": "changed"}, 403, "author or an admin")
	e.want("alice", "DELETE", bobNote, nil, 403)
	e.want("bob", "PATCH", bobNote, map[string]string{"text": "  changed  "}, 200, `"text": "changed"`)
	e.want("admin", "PATCH", note, map[string]string{"text": "admin edit"}, 200, `"author": "alice"`)
	e.want("alice", "PATCH", note, map[string]string{"text": ""}, 400, "text: required")
	e.want("alice", "PATCH", note, map[string]string{"body": "x"}, 400, "unknown field")
	e.want("alice", "POST", alice, map[string]string{"text": strings.Repeat("x", archive.MaxNoteText+1)}, 400, "text")
	e.want("admin", "DELETE", bobNote, nil, 204)
	e.want("alice", "GET", bobNote, nil, 404)
	e.want("alice", "GET", alice+"/abc", nil, 404)
	e.want("alice", "GET", alice, nil, 200, "admin edit")
	for action, n := range map[string]int{"note.add": 2, "note.edit": 2, "note.delete": 1} {
		if got := len(e.audited(action)); got != n {
			t.Errorf("%s audited %d times, want %d", action, got, n)
		}
	}
}

func TestAPIAuditLog(t *testing.T) {
	e := newAPIEnv(t)
	for range 5 {
		e.want("alice", "GET", "/api/v1/recordings/"+e.recs["alice"].ID.String()+"/verify", nil, 200)
	}
	e.want("alice", "GET", "/api/v1/audit", nil, 403)
	e.want("sup", "GET", "/api/v1/audit/verify", nil, 403)
	body := e.want("admin", "GET", "/api/v1/audit?action=verify&limit=2", nil, 200, `"action": "verify"`, `"actor": "alice"`, `"next"`)
	var page struct {
		Events []apiAuditEvent
		Next   string
	}
	if err := json.Unmarshal([]byte(body), &page); err != nil || len(page.Events) != 2 || page.Events[0].Seq != 5 {
		t.Fatalf("%v %+v", err, page)
	}
	body = e.want("admin", "GET", "/api/v1/audit?action=verify&limit=10&cursor="+page.Next, nil, 200)
	page.Next = ""
	_ = json.Unmarshal([]byte(body), &page)
	if len(page.Events) != 3 || page.Next != "" {
		t.Fatalf("second page %+v", page)
	}
	e.want("admin", "GET", "/api/v1/audit?actor=bob", nil, 200, `"events": []`)
	e.want("admin", "GET", "/api/v1/audit?from=2000-01-01&q=ALICE", nil, 200, `"actor": "alice"`)
	e.want("admin", "GET", "/api/v1/audit?cursor=xyz", nil, 400, "bad cursor")
	e.want("admin", "GET", "/api/v1/audit?limit=0", nil, 400, "limit")
	e.want("admin", "GET", "/api/v1/audit?from=yesterday", nil, 400, "from")
	e.want("admin", "GET", "/api/v1/audit/verify", nil, 200, `"valid": true`, `"entries": 5`, `"problems": []`)
}

func TestAPIReadsAudited(t *testing.T) {
	e := newAPIEnv(t)
	id := e.recs["alice"].ID.String()
	e.want("alice", "GET", "/api/v1/recordings/"+id+"/audio.wav", nil, 200, "RIFF")
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/recordings/"+id+"/audio.wav", nil)
	req.SetBasicAuth("alice", apiTestPassword)
	req.Header.Set("Range", "bytes=100-")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusPartialContent {
		t.Fatalf("range: %v %v", resp.StatusCode, err)
	}
	e.want("bob", "GET", "/api/v1/calls/guid-alice/audio.wav", nil, 200)
	e.want("alice", "GET", "/api/v1/recordings/"+id+"/original.pcap", nil, 200, "capture of alice")
	e.want("alice", "GET", "/api/v1/recordings/"+id+"/verify", nil, 200, `"valid": true`)
	// Refused reads are not served and not logged as reads.
	e.want("carol", "GET", "/api/v1/recordings/"+id+"/audio.wav", nil, 404)
	plays := e.audited("play")
	if len(plays) != 2 || plays[1].Actor != "alice" || plays[1].Target != id || plays[0].Actor != "bob" || plays[0].Target != "guid-alice" {
		t.Fatalf("play events: %+v", plays)
	}
	if evs := e.audited("original.get"); len(evs) != 1 || evs[0].Target != id {
		t.Fatalf("original.get: %+v", evs)
	}
	if evs := e.audited("verify"); len(evs) != 1 || !evs[0].OK || evs[0].Detail != "valid" {
		t.Fatalf("verify: %+v", evs)
	}
}

// TestAPIMayRead checks archive.MayRead through the API: own recordings,
// the access list, and a party matching an extension.
func TestAPIMayRead(t *testing.T) {
	e := newAPIEnv(t)
	for _, tc := range []struct {
		who  string
		sees []string
	}{
		{"admin", []string{"alice", "carol", "zed"}},
		{"alice", []string{"alice"}},
		{"bob", []string{"alice"}},
		{"carol", []string{"carol", "zed"}},
		{"sup", nil},
	} {
		body := e.want(tc.who, "GET", "/api/v1/recordings", nil, 200)
		for owner, rec := range e.recs {
			want := false
			for _, s := range tc.sees {
				want = want || s == owner
			}
			if strings.Contains(body, rec.ID.String()) != want {
				t.Errorf("%s lists %s's recording: %v", tc.who, owner, !want)
			}
			code := 404
			if want {
				code = 200
			}
			e.want(tc.who, "GET", "/api/v1/recordings/"+rec.ID.String(), nil, code)
			e.want(tc.who, "GET", "/api/v1/recordings/"+rec.ID.String()+"/notes", nil, code)
		}
	}
}

func TestAPISettings(t *testing.T) {
	e := newAPIEnv(t)
	e.want("alice", "GET", "/api/v1/settings", nil, 403)
	e.want("admin", "GET", "/api/v1/settings", nil, 200, `"sealing": true`, `"timeZone": "UTC"`, `"gui": "info"`, `"sealBacklog": 0`)
	e.want("alice", "PATCH", "/api/v1/settings", map[string]any{"pbxName": "x"}, 403)
	e.want("admin", "PATCH", "/api/v1/settings", map[string]any{"pbxName": "Rīgas Centrāle", "timeZone": "Europe/Riga", "traceLevels": map[string]string{"gui": "debug"}}, 200,
		`"pbxName": "Rīgas Centrāle"`, `"timeZone": "Europe/Riga"`, `"gui": "debug"`, `"recording": "info"`)
	e.want("admin", "PATCH", "/api/v1/settings", map[string]any{"timeZone": "Mars/Base"}, 400, "IANA time zone")
	e.want("admin", "PATCH", "/api/v1/settings", map[string]any{"traceLevels": map[string]string{"kernel": "debug"}}, 400, "unknown subsystem")
	e.want("admin", "PATCH", "/api/v1/settings", map[string]any{"traceLevels": map[string]string{"gui": "loud"}}, 400, "debug, info, warn or error")
	e.want("admin", "PATCH", "/api/v1/settings", map[string]any{"pbxName": "a\u0007b"}, 400, "pbxName")
	e.want("admin", "PATCH", "/api/v1/settings", map[string]any{}, 400, "nothing to change")
	e.want("admin", "PATCH", "/api/v1/settings", map[string]any{"sealing": false}, 200, `"sealing": false`, `"gui": "debug"`)
	s, err := e.arc.Settings(context.Background())
	if err != nil || s.Sealing || s.PBXName != "Rīgas Centrāle" || s.TraceLevels["gui"] != "debug" {
		t.Fatalf("stored %+v %v", s, err)
	}
	if evs := e.audited("settings.change"); len(evs) != 2 || !strings.Contains(evs[0].Detail, "sealing=false") {
		t.Fatalf("settings.change: %+v", evs)
	}
}

func TestAPISettingsKey(t *testing.T) {
	e := newAPIEnv(t)
	keyFile := filepath.Join(filepath.Dir(e.arc.Path()), "archive.key")
	old, _ := os.ReadFile(keyFile)
	e.want("alice", "POST", "/api/v1/settings/key", map[string]any{"mode": "keyfile", "currentPassword": apiTestPassword}, 403)
	e.want("admin", "POST", "/api/v1/settings/key", map[string]any{"mode": "keyfile", "currentPassword": "wrong"}, 403, "current password is wrong")
	e.want("admin", "POST", "/api/v1/settings/key", map[string]any{"mode": "rotate", "currentPassword": apiTestPassword}, 400, "mode must be")
	e.want("admin", "POST", "/api/v1/settings/key", map[string]any{"mode": "passphrase", "passphrase": "short", "currentPassword": apiTestPassword}, 400, "12 characters")
	e.want("admin", "POST", "/api/v1/settings/key", map[string]any{"mode": "keyfile", "currentPassword": apiTestPassword}, 200)
	if now, _ := os.ReadFile(keyFile); bytes.Equal(now, old) || len(now) == 0 {
		t.Fatal("key file not rotated")
	}
	evs := e.audited("key.rotate")
	if len(evs) != 2 || !evs[0].OK || evs[1].OK {
		t.Fatalf("key.rotate: %+v", evs)
	}
	// The archive keeps working, and every recording still verifies.
	for _, rec := range e.recs {
		e.want("admin", "GET", "/api/v1/recordings/"+rec.ID.String()+"/verify", nil, 200, `"valid": true`)
	}
}

func TestAPIWebDAVPassword(t *testing.T) {
	e := newAPIEnv(t)
	ctx := context.Background()
	e.want("admin", "PATCH", "/api/v1/users/alice", `{"webdavPassword":"dav-password-123"}`, 200)
	if _, err := e.arc.AuthenticateWebDAV(ctx, netip.IPv6Loopback(), "alice", "dav-password-123"); err != nil {
		t.Fatalf("webdav password not set: %v", err)
	}
	e.want("alice", "PATCH", "/api/v1/users/me", `{"webdavPassword":"mine-mine-mine"}`, 403)
	e.want("admin", "PATCH", "/api/v1/users/alice", `{"webdavPassword":"short"}`, 400)
	e.want("admin", "PATCH", "/api/v1/users/alice", `{"webdavPassword":""}`, 200)
	if _, err := e.arc.AuthenticateWebDAV(ctx, netip.IPv6Loopback(), "alice", "dav-password-123"); err == nil {
		t.Fatal("removed webdav password still works")
	}
}

// TestUserOwnSupervisorAnyCase: the API refuses a supervisor that is the
// user's own login in another letter case (4-eyes access compares logins
// without case), on create and on change.
func TestUserOwnSupervisorAnyCase(t *testing.T) {
	e := newAPIEnv(t)
	ctx := context.Background()
	if err := e.arc.PutUser(ctx, archive.User{Login: "zed", Role: archive.RoleSupervisor}, apiTestPassword); err != nil {
		t.Fatal(err)
	}
	e.want("admin", "PATCH", "/api/v1/users/alice", map[string]any{"supervisor": "Alice"}, 400, "own supervisor")
	e.want("admin", "POST", "/api/v1/users", map[string]any{"login": "Zed", "password": "zed-password-1", "supervisor": "zed"}, 400, "own supervisor")
	if u, err := e.arc.GetUser(ctx, "alice"); err != nil || u.Supervisor != "" {
		t.Fatalf("alice: %+v %v", u, err)
	}
	e.want("admin", "PATCH", "/api/v1/users/alice", map[string]any{"supervisor": "zed"}, 200)
}
