package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hookRequest is one POST a test receiver got.
type hookRequest struct {
	header http.Header
	body   []byte
}

// TestWebhookAcrossRestart: a webhook on loopback fails the first
// delivery (500, Retry-After an hour); the daemon stops; after the start
// the same delivery (same webhook-id) arrives and succeeds, signed as
// Standard Webhooks say (checked here from the specification), with a
// file link that plays without a login and expires after 30 minutes.
func TestWebhookAcrossRestart(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	var offset atomic.Int64
	base := daemonClock(data)
	now := func() time.Time { return base().Add(time.Duration(offset.Load())) }
	cfg := writeConfig(t, "[webhooks]\nallow_http_hosts = [\"127.0.0.1\"]\nallow_private = true\ntimeout = \"5s\"\n")
	tweak := func(o *serveOptions) { o.config, o.now = cfg, now }

	var mu sync.Mutex
	var got []hookRequest
	arrived := make(chan struct{}, 10)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, hookRequest{r.Header.Clone(), b})
		n := len(got)
		mu.Unlock()
		if n == 1 {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusInternalServerError)
		} else {
			w.WriteHeader(http.StatusOK)
		}
		arrived <- struct{}{}
	}))
	defer rcv.Close()
	wait := func(n int) []hookRequest {
		t.Helper()
		for {
			mu.Lock()
			c := len(got)
			out := append([]hookRequest(nil), got...)
			mu.Unlock()
			if c >= n {
				return out
			}
			select {
			case <-arrived:
			case <-time.After(60 * time.Second):
				t.Fatalf("%d of %d deliveries arrived", c, n)
			}
		}
	}

	key := make([]byte, 32)
	rand.Read(key)
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	admin := "admin:" + testAdminPassword
	d := startDaemonWith(t, data, tweak)
	// https is required of other hosts.
	d.apiWant(t, admin, "POST", "/api/v1/webhooks", map[string]any{"url": "http://hooks.invalid/x", "secret": secret}, 400)
	m := d.apiWant(t, admin, "POST", "/api/v1/webhooks", map[string]any{"url": rcv.URL + "/calls", "secret": secret}, 201)
	id, _ := m["id"].(string)
	if b, _ := json.Marshal(m); m["hasSecret"] != true || strings.Contains(string(b), secret) {
		t.Fatalf("created: %s", b)
	}
	guid := "cccccccccccccccccccccccccccc0003"
	rec := d.ingestSynth(t, guid, "admin", synthCall{seconds: 2, callID: "hook@pbx",
		from: synthParty{"Åsa Øberg", "201"}, to: synthParty{"Jānis Bērziņš", "+37120000000"}})
	first := wait(1)[0]
	for range 600 { // the failure is recorded before the stop
		var as struct{ Attempts []struct{ Status string } }
		d.getJSON(t, "/api/v1/webhooks/"+id+"/attempts", &as)
		if len(as.Attempts) == 1 && as.Attempts[0].Status == "failed" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.stop()
	mu.Lock()
	if len(got) != 1 {
		t.Fatalf("%d deliveries before the restart", len(got))
	}
	mu.Unlock()

	offset.Add(int64(2 * time.Hour))
	d = startDaemonWith(t, data, tweak)
	rs := wait(2)
	second := rs[1]
	if first.header.Get("webhook-id") == "" || second.header.Get("webhook-id") != first.header.Get("webhook-id") {
		t.Errorf("webhook-id %q, then %q", first.header.Get("webhook-id"), second.header.Get("webhook-id"))
	}
	for _, r := range rs {
		if r.header.Get("Authorization") != "Bearer "+secret || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("headers %v", r.header)
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(r.header.Get("webhook-id") + "." + r.header.Get("webhook-timestamp") + "." + string(r.body)))
		if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); r.header.Get("webhook-signature") != want {
			t.Errorf("signature %q, want %q", r.header.Get("webhook-signature"), want)
		}
	}
	var body struct {
		ID           int64    `json:"id"`
		FileURLs     []string `json:"fileUrls"`
		RecordingIDs []string `json:"recordingIds"`
		CallID       string   `json:"callId"`
		CallerNumber *string  `json:"callerNumber"`
		StartTime    *int64   `json:"startTime"`
		UserID       *string  `json:"userId"`
	}
	if err := json.Unmarshal(second.body, &body); err != nil {
		t.Fatal(err)
	}
	if body.ID <= 0 || body.CallID != guid || len(body.RecordingIDs) != 1 || body.RecordingIDs[0] != rec || len(body.FileURLs) != 1 ||
		body.CallerNumber == nil || *body.CallerNumber != "201" || body.StartTime == nil || body.UserID == nil || *body.UserID != "admin" {
		t.Fatalf("body %s", second.body)
	}
	link := body.FileURLs[0]
	if !strings.HasPrefix(link, d.url+"/hooks/files/") {
		t.Fatalf("file link %s (daemon %s)", link, d.url)
	}
	resp, err := http.Get(link) // no login
	if err != nil {
		t.Fatal(err)
	}
	wav, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(wav) < 44 || string(wav[:4]) != "RIFF" {
		t.Fatalf("file link: %s, %d bytes", resp.Status, len(wav))
	}
	offset.Add(int64(31 * time.Minute))
	if resp, err := http.Get(link); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("file link after 31 minutes: %v %v", resp.Status, err)
	}
	// The attempts, newest first, as admins see them.
	var as struct {
		Attempts []struct {
			Status, Delivery string
			Code             int
		}
	}
	d.getJSON(t, "/api/v1/webhooks/"+id+"/attempts", &as)
	if len(as.Attempts) != 2 || as.Attempts[0].Status != "delivered" || as.Attempts[0].Code != 200 ||
		as.Attempts[1].Status != "failed" || as.Attempts[1].Code != 500 {
		t.Fatalf("attempts %+v", as.Attempts)
	}
	admin2 := d.uiLogin(t, "admin", testAdminPassword)
	if _, page := admin2.get(t, "/admin/webhooks/"+id); !strings.Contains(string(page), "delivered") || !strings.Contains(string(page), rcv.URL) {
		t.Errorf("the webhook's page does not show its attempts")
	}

	// An endpoint that answers 410 Gone: its webhook is disabled at once,
	// the pages say why, and an admin enables it again there.
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) }))
	defer gone.Close()
	cr, _ := admin2.post(t, "/admin/webhooks", url.Values{"url": {gone.URL + "/old"}, "secret": {"0123456789abcdef-gone"}, "enabled": {"1"}})
	if cr.StatusCode != http.StatusSeeOther {
		t.Fatalf("create by page: %s", cr.Status)
	}
	goneID := strings.TrimPrefix(strings.TrimSuffix(cr.Header.Get("Location"), "?saved=1"), "/admin/webhooks/")
	d.ingestSynth(t, "cccccccccccccccccccccccccccc0004", "admin", synthCall{seconds: 1, callID: "gone@pbx",
		from: synthParty{"A", "201"}, to: synthParty{"B", "202"}})
	var page []byte
	for range 600 {
		_, page = admin2.get(t, "/admin/webhooks")
		if strings.Contains(string(page), "410 Gone") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(string(page), "disabled") || !strings.Contains(string(page), "the endpoint answered 410 Gone") {
		t.Fatalf("the list does not show the disabled webhook and why:\n%s", page)
	}
	if resp, _ := admin2.post(t, "/admin/webhooks/"+goneID+"/enable", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("enable by page: %s", resp.Status)
	}
	var g struct {
		Enabled        bool
		DisabledReason string
		HasSecret      bool
	}
	d.getJSON(t, "/api/v1/webhooks/"+goneID, &g)
	if !g.Enabled || g.DisabledReason != "" || !g.HasSecret {
		t.Fatalf("after enabling: %+v", g)
	}
}

// TestWebhooksConfig: bad [webhooks] values are refused with their key.
func TestWebhooksConfig(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"[webhooks]\ntimeout = \"0s\"\n", "webhooks.timeout"},
		{"[webhooks]\ntimeout = \"1h\"\n", "webhooks.timeout"},
		{"[webhooks]\nallow_http_hosts = [\"crm.lan/x\"]\n", "webhooks.allow_http_hosts"},
		{"[webhooks]\nallow_private = \"yes\"\n", "AllowPrivate"},
	} {
		_, err := loadConfig(writeConfig(t, c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error naming %s", c.text, err, c.want)
		}
	}
	cfg, err := loadConfig(writeConfig(t, "[webhooks]\nallow_http_hosts = [\"crm.lan\", \"::1\"]\nallow_private = true\n"))
	if err != nil || cfg.Webhooks.Timeout.Duration != 30*time.Second || !cfg.Webhooks.AllowPrivate || len(cfg.Webhooks.AllowHTTPHosts) != 2 {
		t.Fatalf("%+v %v", cfg.Webhooks, err)
	}
}
