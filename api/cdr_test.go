package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/callvault/callvault/archive"
)

// integrationToken adds a user of role integration and returns a bearer
// token of it.
func (e *apiEnv) integrationToken() string {
	e.t.Helper()
	ctx := context.Background()
	if err := e.arc.PutUser(ctx, archive.User{Login: "pbx", Role: archive.RoleIntegration}, apiTestPassword); err != nil {
		e.t.Fatal(err)
	}
	tok, _, err := e.arc.CreateToken(ctx, "pbx", "cdr push")
	if err != nil {
		e.t.Fatal(err)
	}
	return "Bearer " + tok
}

// TestAPICDR: an integration token stores CDRs (201, then 200 for a
// repeat); the recordings list and view show them merged and search
// finds their names; every other caller but an admin is refused, and the
// integration token is refused everywhere else.
func TestAPICDR(t *testing.T) {
	e := newAPIEnv(t)
	pbx := e.integrationToken()
	cdr := map[string]any{
		"callId": "guid-alice", "direction": "inbound", "callerNumber": "+4940555123", "callerName": "Quirin Sonnleitner",
		"calleeNumber": "201", "queueName": "Support", "agentId": "a7", "agentName": "Åsa",
		"startTime": "2026-01-02T03:00:00Z", "endTime": 1767322860000, "waitTimeMs": 3000, "talkTimeMs": 57000,
		"someVendorField": map[string]any{"ignored": true},
	}
	e.want(pbx, "POST", "/api/v1/cdr", cdr, 201, `"created": true`)
	e.want(pbx, "POST", "/api/v1/cdr", cdr, 200, `"created": false`)
	leg2 := map[string]any{"callId": "guid-alice", "direction": "inbound", "callerNumber": "+4940555123",
		"calleeNumber": "202", "referredBy": "201", "agentName": "Berit"}
	e.want("admin", "POST", "/api/v1/cdr", leg2, 201)
	for _, who := range []string{"alice", "sup", "ingest"} {
		e.want(who, "POST", "/api/v1/cdr", leg2, 403)
	}
	e.want("", "POST", "/api/v1/cdr", leg2, 401)

	id := e.recs["alice"].ID.String()
	body := e.want("alice", "GET", "/api/v1/recordings/"+id, nil, 200, `"direction": "in"`, "Quirin Sonnleitner", `"queueName": "Support"`,
		`"talkTimeMs": 57000`, `"referredBy": "201"`, `"endTime": "2026-01-02T03:01:00Z"`)
	var view struct {
		CDRs []apiCDR `json:"cdrs"`
	}
	if err := json.Unmarshal([]byte(body), &view); err != nil || len(view.CDRs) != 2 {
		t.Fatalf("%v %+v", err, view)
	}
	e.want("alice", "GET", "/api/v1/recordings", nil, 200, "Quirin Sonnleitner")
	list := e.want("alice", "GET", "/api/v1/recordings?q=sonnleit", nil, 200, id)
	if strings.Count(list, `"id": "`) != 1 {
		t.Fatalf("search: %s", list)
	}
	e.want("admin", "GET", "/api/v1/recordings?q=40555123", nil, 200, id)

	// The integration token reaches nothing else.
	for _, p := range []string{"/api/v1/recordings", "/api/v1/recordings/" + id, "/api/v1/recordings/" + id + "/audio.wav",
		"/api/v1/users", "/api/v1/users/pbx/tokens", "/api/v1/audit", "/api/v1/settings", "/api/v1/calls/guid-alice"} {
		e.want(pbx, "GET", p, nil, 403, "integration accounts")
	}
	e.want(pbx, "POST", "/api/v1/users/pbx/tokens", map[string]string{"label": "x"}, 403)
	// Basic auth with the integration account's password: the same.
	e.want("pbx", "GET", "/api/v1/recordings", nil, 403)
	e.want("pbx", "POST", "/api/v1/cdr", map[string]string{"callId": "other"}, 201)
}

func TestAPICDRBadInput(t *testing.T) {
	e := newAPIEnv(t)
	pbx := e.integrationToken()
	for _, tc := range []struct {
		body string
		code int
		want string
	}{
		{``, 400, "empty"},
		{`[]`, 400, "JSON object"},
		{`null`, 400, "JSON object"},
		{`{"callId":"x"} {}`, 400, "exactly one"},
		{`{"callId":`, 400, "not valid JSON"},
		{`{}`, 400, `"callId": required`},
		{`{"callId":42}`, 400, `"callId" must be a string`},
		{`{"callId":"x","direction":"up"}`, 400, `"direction"`},
		{`{"callId":"x","callerName":["a"]}`, 400, `"callerName" must be a string`},
		{`{"callId":"x","callerName":"` + strings.Repeat("a", 257) + `"}`, 400, `"callerName": at most 256 bytes`},
		{`{"callId":"x","startTime":"yesterday"}`, 400, `"startTime"`},
		{`{"callId":"x","startTime":true}`, 400, `"startTime"`},
		{`{"callId":"x","endTime":-5}`, 400, `"endTime"`},
		{`{"callId":"x","waitTimeMs":"5"}`, 400, `"waitTimeMs"`},
		{`{"callId":"x","talkTimeMs":1.5}`, 400, `"talkTimeMs"`},
		{`{"callId":"x","talkTimeMs":-1}`, 400, `"talkTimeMs"`},
		{`{"callId":"x","startTime":2000,"endTime":1000}`, 400, `"endTime"`},
		{`{"callId":"x","agentName":null,"waitTimeMs":null}`, 201, "created"},
		{`{"callId":"x","talkTimeMs":1e3}`, 201, "created"},
		{`{"callId":"x","queueName":"` + strings.Repeat("q", 70<<10) + `"}`, 413, "larger than"},
	} {
		// The message names the field (quoted, so escaped in JSON).
		e.want(pbx, "POST", "/api/v1/cdr", tc.body, tc.code, strings.ReplaceAll(tc.want, `"`, `\"`))
	}
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/cdr", strings.NewReader(`{"callId":"x"}`))
	req.Header.Set("Authorization", pbx)
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 415 {
		t.Fatalf("text/plain: %d", resp.StatusCode)
	}
}

// FuzzParseCDR: any body gives a CDR that Validate accepts, or a 400 that
// names the problem; never a panic.
func FuzzParseCDR(f *testing.F) {
	for _, s := range []string{
		`{"callId":"guid","direction":"inbound","callerNumber":"+49 30 1","startTime":"2026-01-02T03:00:00Z","endTime":1767322860000,"waitTimeMs":3000}`,
		`{"callId":"x","talkTimeMs":1e3,"extra":[1,{"a":null}]}`,
		`{"callId":null}`, `[]`, `"x"`, `{"callId":"x","startTime":253402300799999}`, `{"callId":"x","waitTimeMs":9007199254740993}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := parseCDR(body)
		if err != nil {
			var he *httpError
			if !errors.As(err, &he) || he.code != 400 || he.msg == "" {
				t.Fatalf("error %v", err)
			}
			return
		}
		if c.CallID == "" {
			t.Fatal("accepted without a call id")
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted but invalid: %v", err)
		}
	})
}

// callCT sends body with a content type of one's choice; it returns the
// status and the body.
func (e *apiEnv) callCT(auth, method, path, ct, body string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
