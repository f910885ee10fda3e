package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callvault/callvault/internal/testclock"
	"github.com/callvault/callvault/internal/webtest"
	"github.com/chromedp/chromedp"
)

// flexTwilio is a loopback server speaking Twilio's token validation API
// (POST /v1/Accounts/{AccountSid}/Tokens/validate, Basic
// AccountSid:AuthToken, JSON {"token": …}) for the daemon's tests.
type flexTwilio struct {
	srv   *httptest.Server
	calls atomic.Int64
	down  atomic.Bool
	mu    sync.Mutex
	users map[string]string // token → realm_user_id of a valid token
}

const (
	flexSID  = "AC00000000000000000000000000000001"
	flexAuth = "twilio-auth-token-for-tests"
)

func newFlexTwilio(t *testing.T) *flexTwilio {
	t.Helper()
	tw := &flexTwilio{users: map[string]string{}}
	tw.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw.calls.Add(1)
		if tw.down.Load() {
			http.Error(w, "upstream down", http.StatusServiceUnavailable)
			return
		}
		sid, secret, _ := r.BasicAuth()
		if r.Method != http.MethodPost || r.URL.Path != "/v1/Accounts/"+flexSID+"/Tokens/validate" || sid != flexSID || secret != flexAuth {
			http.Error(w, `{"code":20003,"status":401}`, http.StatusUnauthorized)
			return
		}
		var body struct{ Token string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		tw.mu.Lock()
		realm, ok := tw.users[body.Token]
		tw.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			io.WriteString(w, `{"valid":false,"code":20101,"message":"Invalid Access Token"}`)
			return
		}
		local, _, _ := strings.Cut(realm, "@")
		fmt.Fprintf(w, `{"valid":true,"code":0,"message":null,"expiration":"2099-01-01T00:00:00.000Z","realm_user_id":%q,"identity":%q,"roles":["agent"],"worker_sid":"WK1"}`, realm, local+"_flex")
	}))
	t.Cleanup(tw.srv.Close)
	return tw
}

func (tw *flexTwilio) token(realm string) string {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tok := "eyJ.flex-" + realm + fmt.Sprintf(".%d", len(tw.users))
	tw.users[tok] = realm
	return tok
}

// flexConfig writes a config whose [flex] section trusts tw, maps Flex
// users by realm_user_id up to the @, and allows origins.
func flexConfig(t *testing.T, tw *flexTwilio, origins ...string) string {
	t.Helper()
	tokFile := filepath.Join(t.TempDir(), "twilio.token")
	if err := os.WriteFile(tokFile, []byte(flexAuth+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o, _ := json.Marshal(origins)
	return writeConfig(t, fmt.Sprintf(`[flex]
account_sid = %q
auth_token_file = %q
validate_url = %q
allowed_origins = %s
user_map = "realm_user_id_local"
`, flexSID, tokFile, tw.srv.URL+"/v1/Accounts/{AccountSid}/Tokens/validate", o))
}

func flexBasic(tok string) string { return basicHeader("token", tok) }

func basicHeader(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// apiToken creates an API token of login as the admin.
func (d *daemon) apiToken(t *testing.T, login string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, d.url+"/api/v1/users/"+login+"/tokens", strings.NewReader(`{"label":"flex"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("admin", testAdminPassword)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.Token == "" {
		t.Fatalf("API token of %s: %s %v", login, resp.Status, err)
	}
	return tok.Token
}

// flexGet sends GET url with headers (name, value pairs) and no login.
func flexGet(t *testing.T, u string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	return webtest.Do(t, client, http.MethodGet, u, "", "", nil, hdr...)
}

// flexMediaURL asks the daemon's url_provider; "" when not 200.
func flexMediaURL(t *testing.T, d *daemon, recording, auth string) (int, string) {
	t.Helper()
	resp, b := flexGet(t, d.url+"/flex/url?recording="+recording, "Authorization", auth)
	if resp.StatusCode != 200 {
		return resp.StatusCode, ""
	}
	var out struct {
		MediaURL string `json:"media_url"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return 200, out.MediaURL
}

// TestFlexDaemon: the appliance's url_provider with a Flex token validated
// by a loopback Twilio: the media URL streams the same stereo WAV the API
// serves, with Range, to one client, for five minutes of the daemon's
// clock; a recording the mapped user may not read is 404; Twilio down is
// 503; an API token works instead of a Flex token; the token stays out of
// the log.
func TestFlexDaemon(t *testing.T) {
	tw := newFlexTwilio(t)
	cfg := flexConfig(t, tw, "https://flex.twilio.com")
	clock := testclock.Ticking(daemonEpoch, time.Microsecond)
	d := startDaemonWith(t, "", func(o *serveOptions) { o.config = cfg; o.now = clock.Now })
	admin := d.uiLogin(t, "admin", testAdminPassword)
	admin.createUser(t, "alice", "pw-alice-0123456789", "user", nil)
	admin.createUser(t, "bob", "pw-bob-0123456789", "user", nil)
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	recA := d.ingestSynth(t, "f1e00000000000000000000000000001", "alice", synthCall{seconds: 4, start: start, callID: "fa@pbx",
		from: synthParty{"Alice", "201"}, to: synthParty{"Customer", "+4712345678"}})
	recB := d.ingestSynth(t, "f1e00000000000000000000000000002", "bob", synthCall{seconds: 2, start: start.Add(time.Hour), callID: "fb@pbx",
		from: synthParty{"Bob", "202"}, to: synthParty{"Customer", "+4712345679"}})
	alice := tw.token("alice@example.com")

	code, media := flexMediaURL(t, d, recA, flexBasic(alice))
	if code != 200 || !strings.HasPrefix(media, d.url+"/flex/media/") {
		t.Fatalf("url: %d %q", code, media)
	}
	_, want := d.get(t, "/api/v1/recordings/"+recA+"/audio.wav")
	resp, got := flexGet(t, media, "User-Agent", "flex-player")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/wav" || !bytes.Equal(got, want) || len(wavSamples(t, got)) != 2 {
		t.Fatalf("media: %s, %d bytes, want the API's %d", resp.Status, len(got), len(want))
	}
	resp, got = flexGet(t, media, "User-Agent", "flex-player", "Range", "bytes=44-1043")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(got, want[44:1044]) {
		t.Fatalf("range: %s, %d bytes", resp.Status, len(got))
	}
	if resp, _ := flexGet(t, media, "User-Agent", "someone-else"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("another client: %s", resp.Status)
	}
	clock.Add(5 * time.Minute)
	if resp, _ := flexGet(t, media, "User-Agent", "flex-player", "Range", "bytes=44-1043"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("after five minutes: %s", resp.Status)
	}
	if code, _ := flexMediaURL(t, d, recB, flexBasic(alice)); code != http.StatusNotFound {
		t.Fatalf("bob's recording for alice: %d", code)
	}
	if code, _ := flexMediaURL(t, d, recA, flexBasic("eyJ.unknown")); code != http.StatusUnauthorized {
		t.Fatalf("unknown token: %d", code)
	}
	// Cached: the same token again asks Twilio no more.
	n := tw.calls.Load()
	if code, _ := flexMediaURL(t, d, "f1e00000000000000000000000000001", flexBasic(alice)); code != 200 || tw.calls.Load() != n {
		t.Fatalf("by call id, cached: %d, %d more validations", code, tw.calls.Load()-n)
	}
	tw.down.Store(true)
	if code, _ := flexMediaURL(t, d, recA, flexBasic(tw.token("bob@example.com"))); code != http.StatusServiceUnavailable {
		t.Fatalf("Twilio down: %d", code)
	}
	// An API token instead of a Flex token (Twilio is still down).
	bobToken := d.apiToken(t, "bob")
	if code, media := flexMediaURL(t, d, recB, "Bearer "+bobToken); code != 200 {
		t.Fatalf("API token: %d", code)
	} else if resp, _ := flexGet(t, media); resp.StatusCode != 200 {
		t.Fatalf("API token's media: %s", resp.Status)
	}
	if code, _ := flexMediaURL(t, d, recA, flexBasic(bobToken)); code != http.StatusNotFound {
		t.Fatalf("bob's API token for alice's recording: %d", code)
	}
	var audit struct{ Events []map[string]any }
	d.getJSON(t, "/api/v1/audit?action=flex.url", &audit)
	if len(audit.Events) != 3 {
		t.Fatalf("flex.url audited %d times: %v", len(audit.Events), audit.Events)
	}
	if strings.Contains(d.out.String(), alice) {
		t.Fatal("the Flex token is in the daemon's log")
	}
}

// flexPage is the page of a Flex-like application on another origin: it
// asks the url_provider with the Authorization header (a CORS request
// with a preflight) and plays the media URL in an <audio> element.
const flexPage = `<!doctype html><meta charset="utf-8"><title>Flex</title>
<audio id="a" controls></audio>
<script>
window.flex = {status: 0, error: ""};
async function play(base, rec, tok) {
  try {
    const r = await fetch(base + "/flex/url?recording=" + encodeURIComponent(rec), {headers: {Authorization: "Basic " + btoa("token:" + tok)}});
    window.flex.status = r.status;
    const j = await r.json();
    const a = document.getElementById("a");
    a.src = j.media_url;
    await a.play();
  } catch (e) {
    window.flex.error = String(e) || "failed";
  }
}
</script>`

// TestBrowserFlex: the whole Flex exchange from a Chromium page on
// another origin: the preflighted fetch of /flex/url with the
// Authorization header succeeds from the allowed origin, the media URL
// plays in an <audio> element (currentTime advances, seeking works); the
// same page on an origin not allowed cannot read the answer.
func TestBrowserFlex(t *testing.T) {
	ctx := newBrowser(t)
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, flexPage)
	})
	allowed, other := httptest.NewServer(page), httptest.NewServer(page)
	t.Cleanup(allowed.Close)
	t.Cleanup(other.Close)
	tw := newFlexTwilio(t)
	d := startDaemonWith(t, "", func(o *serveOptions) { o.config = flexConfig(t, tw, allowed.URL) })
	d.uiLogin(t, "admin", testAdminPassword).createUser(t, "alice", "pw-alice-0123456789", "user", nil)
	id := d.ingestSynth(t, "f1e00000000000000000000000000003", "alice", synthCall{seconds: 20, start: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC),
		callID: "fc@pbx", from: synthParty{"Alice", "201"}, to: synthParty{"Customer", "+4712345678"}})
	tok := tw.token("alice@example.com")
	call := fmt.Sprintf(`(play(%q, %q, %q), true)`, d.url, id, tok)

	step(t, ctx, "open the page on the other origin", chromedp.Navigate(other.URL+"/"))
	eval[bool](t, ctx, call)
	poll(t, ctx, "the fetch fails", `window.flex.error !== ""`)
	if got := eval[int](t, ctx, `window.flex.status`); got != 0 {
		t.Fatalf("a page on an origin not allowed read a status %d", got)
	}

	step(t, ctx, "open the Flex page", chromedp.Navigate(allowed.URL+"/"))
	eval[bool](t, ctx, call)
	poll(t, ctx, "playing", `(() => { const a = document.getElementById("a"); return window.flex.error === "" && !a.paused && a.currentTime > 0.5; })()`)
	if got := eval[int](t, ctx, `window.flex.status`); got != 200 {
		t.Fatalf("status %d, error %s", got, eval[string](t, ctx, `window.flex.error`))
	}
	step(t, ctx, "seek", chromedp.Evaluate[chromedp.Void](`document.getElementById("a").currentTime = 15`))
	poll(t, ctx, "played on after the seek", `document.getElementById("a").currentTime > 15.3`)
	if got := eval[string](t, ctx, `document.getElementById("a").src`); !strings.HasPrefix(got, d.url+"/flex/media/") {
		t.Fatalf("audio src %q", got)
	}
}

// TestFlexConfigErrors: bad values of the [flex] section name their key;
// the defaults are Twilio's endpoint, Flex's origin and the explicit map.
func TestFlexConfigErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"[flex]\naccount_sid = \"AC1\"\n", "flex.account_sid: give account_sid and auth_token_file together"},
		{"[flex]\nvalidate_url = \"iam.twilio.com/v1\"\n", "flex.validate_url"},
		{"[flex]\nallowed_origins = [\"https://flex.twilio.com/path\"]\n", "flex.allowed_origins"},
		{"[flex]\nallowed_origins = [\"*\"]\n", "flex.allowed_origins"},
		{"[flex]\nuser_map = \"email\"\n", "flex.user_map: \"email\""},
		{"[flex]\nusers = {\"a@example.com\" = \"\"}\n", "flex.users"},
		{"[flex]\npublic_url = \"ftp://x\"\n", "flex.public_url"},
	} {
		p := writeConfig(t, c.text)
		if _, err := loadConfig(p); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want …%s…", c.text, err, c.want)
		}
	}
	// config check reads the token file.
	cfg, err := loadConfig(writeConfig(t, "[flex]\naccount_sid = \"AC1\"\nauth_token_file = \"/no/such/file\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.checkFiles(); err == nil || !strings.Contains(err.Error(), "flex.auth_token_file") {
		t.Errorf("missing token file: %v", err)
	}
	cfg, err = loadConfig(writeConfig(t, "[flex]\nusers = {\"sup@example.com\" = \"sam\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f := cfg.Flex; f.ValidateURL != "https://iam.twilio.com/v1/Accounts/{AccountSid}/Tokens/validate" ||
		len(f.AllowedOrigins) != 1 || f.AllowedOrigins[0] != "https://flex.twilio.com" || f.UserMap != "map" || f.Users["sup@example.com"] != "sam" {
		t.Fatalf("defaults: %+v", f)
	}
}
