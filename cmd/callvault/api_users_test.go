package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// apiCall sends a JSON request to the daemon: auth is "login:password"
// (Basic) or "Bearer TOKEN"; it returns the status and the decoded body.
func (d *daemon) apiCall(t *testing.T, auth, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, d.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok, ok := strings.CutPrefix(auth, "Bearer "); ok {
		req.Header.Set("Authorization", "Bearer "+tok)
	} else if login, pass, ok := strings.Cut(auth, ":"); ok {
		req.SetBasicAuth(login, pass)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m
}

func (d *daemon) apiWant(t *testing.T, auth, method, path string, body any, code int) map[string]any {
	t.Helper()
	got, m := d.apiCall(t, auth, method, path, body)
	if got != code {
		t.Fatalf("%s %s: %d, want %d: %v", method, path, got, code, m)
	}
	return m
}

// TestAPIAccountsEndToEnd runs the account side of the JSON API against
// the daemon: an admin creates a user, the user makes an API token and
// reads, through it, a recording whose party is the user's extension (the
// parties come from the capture's SIP), adds a note; sealing is turned off
// and on again (the backlog is sealed in the background); the archive key
// is rotated and the daemon restarts on the new key with every recording
// intact; the audit log holds all of it and verifies.
func TestAPIAccountsEndToEnd(t *testing.T) {
	data := t.TempDir() + "/data"
	d := startDaemon(t, data)
	admin := "admin:" + testAdminPassword
	d.apiWant(t, admin, "POST", "/api/v1/users", map[string]any{
		"login": "carol", "password": "carol-password-1", "name": "Carola Ķirse", "role": "user", "extensions": []string{"201"},
	}, 201)
	tok := d.apiWant(t, "carol:carol-password-1", "POST", "/api/v1/users/me/tokens", map[string]any{"label": "script"}, 201)["token"].(string)
	bearer := "Bearer " + tok

	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	id := d.ingestSynth(t, "cccccccccccccccccccccccccccc0001", "alice", synthCall{seconds: 2, start: start, callID: "c1@pbx",
		from: synthParty{"Åsa Øberg", "201"}, to: synthParty{"Jānis Bērziņš", "+4712345678"}})
	other := d.ingestSynth(t, "cccccccccccccccccccccccccccc0002", "alice", synthCall{seconds: 2, start: start.Add(time.Hour), callID: "c2@pbx",
		from: synthParty{"Åsa Øberg", "299"}, to: synthParty{"Bob", "+4712345679"}})

	// carol reads the call with her extension, not the other one.
	d.apiWant(t, bearer, "GET", "/api/v1/recordings/"+id, nil, 200)
	d.apiWant(t, bearer, "GET", "/api/v1/recordings/"+other, nil, 404)
	list := d.apiWant(t, bearer, "GET", "/api/v1/recordings", nil, 200)["recordings"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["id"] != id {
		t.Fatalf("carol's list: %v", list)
	}
	d.apiWant(t, bearer, "POST", "/api/v1/recordings/"+id+"/notes", map[string]any{"text": "Rückruf – Ļoti svarīgi"}, 201)
	notes := d.apiWant(t, admin, "GET", "/api/v1/recordings/"+id+"/notes", nil, 200)["notes"].([]any)
	if len(notes) != 1 || notes[0].(map[string]any)["author"] != "carol" {
		t.Fatalf("notes: %v", notes)
	}
	d.apiWant(t, bearer, "GET", "/api/v1/users", nil, 403)

	// Sealing off: new recordings wait; on: the backlog is sealed.
	d.apiWant(t, admin, "PATCH", "/api/v1/settings", map[string]any{"sealing": false, "traceLevels": map[string]string{"gui": "debug"}}, 200)
	late := d.ingestSynth(t, "cccccccccccccccccccccccccccc0003", "alice", synthCall{seconds: 1, start: start.Add(2 * time.Hour)})
	if rec := d.apiWant(t, admin, "GET", "/api/v1/recordings/"+late, nil, 200); rec["seal"] != nil {
		t.Fatal("sealed while sealing is off")
	}
	if s := d.apiWant(t, admin, "GET", "/api/v1/settings", nil, 200); s["sealBacklog"] != 1.0 || s["sealing"] != false {
		t.Fatalf("settings: %v", s)
	}
	d.apiWant(t, admin, "PATCH", "/api/v1/settings", map[string]any{"sealing": true}, 200)
	deadline := time.Now().Add(20 * time.Second)
	for d.apiWant(t, admin, "GET", "/api/v1/recordings/"+late, nil, 200)["seal"] == nil {
		if time.Now().After(deadline) {
			t.Fatal("backlog not sealed in 20 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v := d.apiWant(t, admin, "GET", "/api/v1/recordings/"+late+"/verify", nil, 200); v["valid"] != true {
		t.Fatalf("verify: %v", v)
	}

	// Rotate the key file, restart on it.
	oldKey, err := os.ReadFile(d.key)
	if err != nil {
		t.Fatal(err)
	}
	d.apiWant(t, admin, "POST", "/api/v1/settings/key", map[string]any{"mode": "keyfile", "currentPassword": testAdminPassword}, 200)
	if newKey, _ := os.ReadFile(d.key); bytes.Equal(newKey, oldKey) {
		t.Fatal("key file unchanged")
	}
	d.stop()
	d = startDaemon(t, data)
	for _, rid := range []string{id, other, late} {
		if v := d.apiWant(t, admin, "GET", "/api/v1/recordings/"+rid+"/verify", nil, 200); v["valid"] != true {
			t.Fatalf("%s after rotation: %v", rid, v)
		}
	}
	d.apiWant(t, bearer, "GET", "/api/v1/recordings/"+id+"/notes", nil, 200)
	if s := d.apiWant(t, admin, "GET", "/api/v1/settings", nil, 200); s["traceLevels"].(map[string]any)["gui"] != "debug" {
		t.Fatalf("settings after restart: %v", s)
	}

	// The audit log has it all and verifies.
	for _, action := range []string{"user.create", "token.create", "note.add", "settings.change", "key.rotate", "verify"} {
		evs := d.apiWant(t, admin, "GET", "/api/v1/audit?action="+action, nil, 200)["events"].([]any)
		if len(evs) == 0 {
			t.Errorf("no %s in the audit log", action)
		}
	}
	if v := d.apiWant(t, admin, "GET", "/api/v1/audit/verify", nil, 200); v["valid"] != true || v["entries"].(float64) < 8 {
		t.Fatalf("audit verify: %v", v)
	}
}
