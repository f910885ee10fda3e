package flex

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/foureyes"
	"github.com/callvault/callvault/internal/testclock"
	"github.com/callvault/callvault/internal/webtest"
)

var testNow = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

// patternMedia renders 3 s of stereo PCMU audio from bytes that depend on
// the recording's id.
type patternMedia struct{}

const patternSamples = 24000

func (patternMedia) WAV(_ context.Context, recs []*archive.Recording, _ int, opt codec.WAVOptions) (*codec.WAVReader, error) {
	segs := make([]codec.Segment, len(recs))
	for i, rec := range recs {
		r := rand.New(rand.NewPCG(uint64(rec.ID[0])<<8|uint64(rec.ID[1]), uint64(rec.ID[2])))
		orig := make([]byte, patternSamples)
		for i := range orig {
			orig[i] = byte(r.IntN(200))
		}
		var mp []byte
		for p := 0; p < patternSamples; p += 160 {
			mp = codec.AppendEntry(mp, codec.Entry{Off: int64(p % (patternSamples - 160)), Len: 160, Pos: uint32(p), Stream: 0})
			mp = codec.AppendEntry(mp, codec.Entry{Off: int64(p % (patternSamples - 160)), Len: 160, Pos: uint32(p), Stream: 1})
		}
		pcmu := codec.ParseCodec("PCMU")
		segs[i] = codec.Segment{Orig: bytes.NewReader(orig), Map: bytes.NewReader(mp), MapSize: int64(len(mp)),
			Layout: codec.Layout{Streams: []codec.StreamLayout{{Codec: pcmu, Channel: 0}, {Codec: pcmu, Channel: 1}}, End: patternSamples}}
	}
	return codec.NewWAVReader(segs, opt)
}

// twilio is a loopback server speaking Twilio's token validation API:
// POST /v1/Accounts/{AccountSid}/Tokens/validate, Basic
// AccountSid:AuthToken, body {"token": …}.
type twilio struct {
	srv    *httptest.Server
	calls  atomic.Int64
	mu     sync.Mutex
	tokens map[string]string // token → JSON answer
	status int               // non-zero: answer this status instead
	raw    string            // non-empty: answer this body instead
}

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	testAuth  = "auth-token-of-the-account"
	flexAlice = "eyJ.flex-jwe-of-alice.x"
)

func newTwilio(t *testing.T) *twilio {
	tw := &twilio{tokens: map[string]string{}}
	tw.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw.calls.Add(1)
		sid, secret, ok := r.BasicAuth()
		if r.Method != http.MethodPost || r.URL.Path != "/v1/Accounts/"+testSID+"/Tokens/validate" {
			http.Error(w, `{"code":20404,"message":"not found","status":404}`, http.StatusNotFound)
			return
		}
		if !ok || sid != testSID || secret != testAuth {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"code":20003,"message":"Authenticate","status":401}`)
			return
		}
		var body struct {
			Token string `json:"token"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, `{"code":20001,"message":"bad body","status":400}`, http.StatusBadRequest)
			return
		}
		tw.mu.Lock()
		ans, ok := tw.tokens[body.Token]
		status, raw := tw.status, tw.raw
		tw.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case status != 0:
			w.WriteHeader(status)
			io.WriteString(w, `{"code":20500,"message":"Internal Server Error","status":500}`)
		case raw != "":
			io.WriteString(w, raw)
		case !ok:
			io.WriteString(w, `{"valid":false,"code":20101,"message":"Invalid Access Token","expiration":null,"realm_user_id":null,"identity":null,"roles":null,"worker_sid":null}`)
		default:
			io.WriteString(w, ans)
		}
	}))
	t.Cleanup(tw.srv.Close)
	return tw
}

// valid registers a valid token of a Flex user.
func (tw *twilio) valid(token, realm, identity string, exp time.Time) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.tokens[token] = `{"valid":true,"code":0,"message":null,"expiration":"` + exp.Format("2006-01-02T15:04:05.000Z07:00") +
		`","realm_user_id":"` + realm + `","identity":"` + identity + `","roles":["agent"],"worker_sid":"WK0123"}`
}

func (tw *twilio) set(status int, raw string) {
	tw.mu.Lock()
	tw.status, tw.raw = status, raw
	tw.mu.Unlock()
}

type env struct {
	t     *testing.T
	clock *testclock.Clock
	arc   *archive.Archive
	tw    *twilio
	svc   *Service
	srv   *httptest.Server
	logs  *webtest.SyncBuffer
	rec   *archive.Recording // alice's
	recs2 []*archive.Recording
}

func newEnv(t *testing.T, tweak func(*Options)) *env {
	t.Helper()
	ctx := context.Background()
	clock := testclock.Ticking(testNow, time.Microsecond)
	arc := archivetest.OpenTestOptions(t, archive.Options{Now: clock.Now})
	e := &env{t: t, clock: clock, arc: arc, tw: newTwilio(t), logs: &webtest.SyncBuffer{}}
	for _, u := range []archive.User{
		{Login: "admin", Role: archive.RoleAdmin},
		{Login: "alice", Role: archive.RoleUser, Extensions: []string{"201"}},
		{Login: "bob", Role: archive.RoleUser, Extensions: []string{"202"}},
		{Login: "gone", Role: archive.RoleUser, Disabled: true},
		{Login: "phones", Role: archive.RoleIngest},
		{Login: "wendy", Role: archive.RoleUser, Extensions: []string{"201"}, Supervisor: "admin"},
	} {
		if err := arc.PutUser(ctx, u, "password-123456"); err != nil {
			t.Fatal(err)
		}
	}
	info := `{"version":1,"result":{"calls":[{"index":0,"from":{"number":"+4790000001"},"to":{"number":"201"},"start":"2026-03-09T08:00:00Z","durationMs":3000}]}}`
	for i, guid := range []string{"guid-a", "guid-b", "guid-b"} {
		w, err := arc.Create(ctx, archive.NewRecording{User: "alice", CallGUID: guid, Received: testNow.Add(-time.Duration(i+1) * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.WriteOriginal([]byte("capture")); err != nil {
			t.Fatal(err)
		}
		rec, err := w.Finish(ctx, archive.Final{State: archive.StateComplete, StartTime: time.Date(2026, 3, 9, 8, i, 0, 0, time.UTC),
			DurationMs: 3000, Info: []byte(info), Parties: []string{"+4790000001", "201"}})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			e.rec = rec
		} else {
			e.recs2 = append(e.recs2, rec)
		}
	}
	opt := Options{AccountSID: testSID, AuthToken: testAuth, ValidateURL: e.tw.srv.URL + "/v1/Accounts/{AccountSid}/Tokens/validate",
		UserMap: MapRealmPart, Users: map[string]string{"supervisor_40example_2Dcom": "admin"}}
	if tweak != nil {
		tweak(&opt)
	}
	svc, err := New(arc, patternMedia{}, nil, opt, slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	e.srv = httptest.NewServer(svc.Handler())
	t.Cleanup(e.srv.Close)
	svc.SetBaseURL(e.srv.URL)
	e.tw.valid(flexAlice, "alice@example.com", "alice_40example_2Dcom", testNow.Add(time.Hour))
	return e
}

func basic(token string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte("token:"+token))
}

// do sends a request with headers (name, value pairs).
func (e *env) do(method, u string, hdr ...string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

// url asks the url_provider for recording with an Authorization header.
func (e *env) url(recording, auth string) (*http.Response, string) {
	e.t.Helper()
	resp, b := e.do("GET", e.srv.URL+"/flex/url?recording="+recording, "Authorization", auth)
	if resp.StatusCode != 200 {
		return resp, string(b)
	}
	var out struct {
		MediaURL string `json:"media_url"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.MediaURL == "" {
		e.t.Fatalf("answer %s: %v", b, err)
	}
	return resp, out.MediaURL
}

func (e *env) wav(recs ...*archive.Recording) []byte {
	e.t.Helper()
	w, err := patternMedia{}.WAV(context.Background(), recs, -1, codec.WAVOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	b, err := io.ReadAll(w)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *env) audit(action string) []archive.AuditEvent {
	e.t.Helper()
	ev, _, err := e.arc.AuditLog(context.Background(), archive.AuditQuery{Action: action})
	if err != nil {
		e.t.Fatal(err)
	}
	return ev
}

// TestFlexExchange: a valid Flex token of a user who may read the
// recording gets a media URL; it streams the decrypted WAV with Range to
// the client that first used it, to no other, and for five minutes only.
// One url request and one play are audited; the token is never logged.
func TestFlexExchange(t *testing.T) {
	e := newEnv(t, nil)
	resp, media := e.url(e.rec.ID.String(), basic(flexAlice))
	if resp.StatusCode != 200 {
		t.Fatalf("url: %s %s", resp.Status, media)
	}
	if !strings.HasPrefix(media, e.srv.URL+"/flex/media/") || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("media_url %q, Cache-Control %q", media, resp.Header.Get("Cache-Control"))
	}
	want := e.wav(e.rec)
	const ua = "User-Agent"
	if r, _ := e.do("HEAD", media, ua, "player/1"); r.StatusCode != 200 || r.ContentLength != int64(len(want)) {
		t.Fatalf("HEAD: %s, length %d", r.Status, r.ContentLength)
	}
	r1, b := e.do("GET", media, ua, "player/1")
	if r1.StatusCode != 200 || r1.Header.Get("Content-Type") != "audio/wav" || !bytes.Equal(b, want) {
		t.Fatalf("media: %s %s, %d bytes (want %d)", r1.Status, r1.Header.Get("Content-Type"), len(b), len(want))
	}
	r2, b := e.do("GET", media, ua, "player/1", "Range", "bytes=1000-1999")
	if r2.StatusCode != http.StatusPartialContent || !bytes.Equal(b, want[1000:2000]) {
		t.Fatalf("range: %s, %d bytes", r2.Status, len(b))
	}
	r3, b := e.do("GET", media, ua, "player/1", "Range", "bytes=-100")
	if r3.StatusCode != http.StatusPartialContent || !bytes.Equal(b, want[len(want)-100:]) {
		t.Fatalf("suffix range: %s, %d bytes", r3.Status, len(b))
	}
	if r, _ := e.do("GET", media, ua, "player/1", "Range", "bytes=0-0"+strings.Repeat(",0-0", 16)); r.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("17 ranges: %s", r.Status)
	}
	// Another client (another player, someone who read the URL) gets nothing.
	if r, _ := e.do("GET", media, ua, "curl/8"); r.StatusCode != http.StatusNotFound {
		t.Fatalf("other client: %s", r.Status)
	}
	e.clock.Add(LinkLifetime - time.Second)
	if r, _ := e.do("GET", media, ua, "player/1", "Range", "bytes=0-9"); r.StatusCode != http.StatusPartialContent {
		t.Fatalf("before the five minutes end: %s", r.Status)
	}
	e.clock.Add(time.Second)
	if r, _ := e.do("GET", media, ua, "player/1", "Range", "bytes=0-9"); r.StatusCode != http.StatusNotFound {
		t.Fatalf("after five minutes: %s", r.Status)
	}
	// An unused link expires too.
	_, media2 := e.url(e.rec.ID.String(), basic(flexAlice))
	e.clock.Add(LinkLifetime)
	if r, _ := e.do("GET", media2, ua, "player/1"); r.StatusCode != http.StatusNotFound {
		t.Fatalf("unused link after five minutes: %s", r.Status)
	}
	if r, _ := e.do("GET", e.srv.URL+"/flex/media/not-a-link"); r.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown link: %s", r.Status)
	}
	urls, plays := e.audit(auditURL), e.audit(auditPlay)
	if len(urls) != 2 || urls[0].Actor != "alice" || urls[0].Target != e.rec.ID.String() || !strings.Contains(urls[0].Detail, "alice_40example_2Dcom") {
		t.Fatalf("flex.url audit: %+v", urls)
	}
	if len(plays) != 1 || plays[0].Actor != "alice" || plays[0].Target != e.rec.ID.String() {
		t.Fatalf("play audit: %+v", plays)
	}
	if strings.Contains(e.logs.String(), flexAlice) {
		t.Fatal("the Flex token is in the log")
	}

	// A call id names the call's segments, joined in order.
	_, media3 := e.url("guid-b", basic(flexAlice))
	if r, b := e.do("GET", media3, ua, "player/1"); r.StatusCode != 200 || !bytes.Equal(b, e.wav(e.recs2...)) {
		t.Fatalf("call: %s, %d bytes", r.Status, len(b))
	}
}

// TestFlexValidation: only a valid answer of the validation service with
// an expiration ahead lets a token in; a service that is down, failing or
// refusing the appliance's credentials is 503 or 502, never 200.
func TestFlexValidation(t *testing.T) {
	e := newEnv(t, nil)
	id := e.rec.ID.String()
	e.tw.valid("jwe-old", "alice@example.com", "alice_40example_2Dcom", testNow.Add(-time.Minute))
	e.tw.tokens["jwe-expired"] = `{"valid":false,"code":20104,"message":"Access Token expired or expiration date invalid","expiration":null}`
	for _, c := range []struct {
		name, auth string
		code       int
	}{
		{"no header", "", 401},
		{"unknown token", basic("jwe-unknown"), 401},
		{"expired per service", basic("jwe-expired"), 401},
		{"expiration passed", basic("jwe-old"), 401},
		{"user part not token", "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+flexAlice)), 401},
		{"bad base64", "Basic %%%", 401},
		{"valid", basic(flexAlice), 200},
	} {
		resp, body := e.url(id, c.auth)
		if resp.StatusCode != c.code {
			t.Errorf("%s: %s %s, want %d", c.name, resp.Status, body, c.code)
		}
		if c.code == 401 && resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: no WWW-Authenticate", c.name)
		}
	}
	for _, c := range []struct {
		name   string
		status int
		raw    string
		code   int
	}{
		{"service error", 500, "", 503},
		{"service unavailable", 503, "", 503},
		{"rate limited", 429, "", 503},
		{"not JSON", 0, "<html>maintenance</html>", 503},
		{"credentials refused", 401, "", 502},
		{"redirect", 307, "", 503},
	} {
		e.tw.set(c.status, c.raw)
		if resp, body := e.url(id, basic("jwe-fresh-"+strings.ReplaceAll(c.name, " ", "-"))); resp.StatusCode != c.code {
			t.Errorf("%s: %s %s, want %d", c.name, resp.Status, body, c.code)
		}
	}
	e.tw.set(0, "")
	// A wrong auth token in the configuration: the service says 401.
	bad := newEnv(t, func(o *Options) { o.AuthToken = "wrong" })
	if resp, body := bad.url(bad.rec.ID.String(), basic(flexAlice)); resp.StatusCode != http.StatusBadGateway {
		t.Errorf("wrong account credentials: %s %s", resp.Status, body)
	}
	// The service down altogether.
	e.tw.srv.Close()
	if resp, body := e.url(id, basic("jwe-while-down")); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("service down: %s %s", resp.Status, body)
	}
	for _, tok := range []string{flexAlice, "jwe-expired", "jwe-old", "jwe-while-down"} {
		if strings.Contains(e.logs.String(), tok) {
			t.Errorf("token %q is in the log", tok)
		}
	}
	// No Twilio account configured: Flex tokens are refused, not sent anywhere.
	none := newEnv(t, func(o *Options) { o.AccountSID = "" })
	if resp, _ := none.url(none.rec.ID.String(), basic(flexAlice)); resp.StatusCode != 401 || none.tw.calls.Load() != 0 {
		t.Errorf("without an account: %s, %d validations", resp.Status, none.tw.calls.Load())
	}
}

// TestFlexCache: a valid token is validated once and reused for a minute;
// then asked again. The service down during the minute changes nothing.
func TestFlexCache(t *testing.T) {
	e := newEnv(t, nil)
	id := e.rec.ID.String()
	for i := range 3 {
		if resp, body := e.url(id, basic(flexAlice)); resp.StatusCode != 200 {
			t.Fatalf("request %d: %s %s", i, resp.Status, body)
		}
	}
	if n := e.tw.calls.Load(); n != 1 {
		t.Fatalf("validated %d times, want 1", n)
	}
	e.clock.Add(cacheTTL)
	if resp, _ := e.url(id, basic(flexAlice)); resp.StatusCode != 200 || e.tw.calls.Load() != 2 {
		t.Fatalf("after a minute: %s, %d validations", resp.Status, e.tw.calls.Load())
	}
	// Refusals are not cached.
	for range 2 {
		e.url(id, basic("jwe-unknown"))
	}
	if n := e.tw.calls.Load(); n != 4 {
		t.Fatalf("validations after two refusals: %d, want 4", n)
	}
	// A cached token whose expiration passes is asked about again.
	e.tw.valid("jwe-short", "alice@example.com", "alice_40example_2Dcom", e.arc.Now().Add(10*time.Second))
	e.url(id, basic("jwe-short"))
	e.clock.Add(10 * time.Second)
	e.tw.mu.Lock()
	delete(e.tw.tokens, "jwe-short")
	e.tw.mu.Unlock()
	if resp, _ := e.url(id, basic("jwe-short")); resp.StatusCode != 401 {
		t.Fatalf("expired cached token: %s", resp.Status)
	}
	// The cache is bounded.
	for i := range cacheMax + 10 {
		e.svc.cache[[32]byte{byte(i), byte(i >> 8), 1}] = cached{until: e.arc.Now().Add(time.Hour)}
	}
	e.tw.valid("jwe-more", "alice@example.com", "alice_40example_2Dcom", testNow.Add(time.Hour))
	e.url(id, basic("jwe-more"))
	if n := len(e.svc.cache); n > cacheMax+10 {
		t.Fatalf("cache holds %d", n)
	}
}

// TestFlexAccess: the Flex user is mapped to an archive user by the
// configured rule, whose rights decide.
func TestFlexAccess(t *testing.T) {
	e := newEnv(t, nil)
	id := e.rec.ID.String()
	e.tw.valid("jwe-bob", "bob@example.com", "bob_40example_2Dcom", testNow.Add(time.Hour))
	e.tw.valid("jwe-nobody", "carl@example.com", "carl_40example_2Dcom", testNow.Add(time.Hour))
	e.tw.valid("jwe-gone", "gone@example.com", "gone", testNow.Add(time.Hour))
	e.tw.valid("jwe-phones", "phones@example.com", "phones", testNow.Add(time.Hour))
	e.tw.valid("jwe-sup", "sup@example.com", "supervisor_40example_2Dcom", testNow.Add(time.Hour))
	e.tw.valid("jwe-norealm", "", "alice", testNow.Add(time.Hour))
	for _, c := range []struct {
		token, rec string
		code       int
	}{
		{"jwe-bob", id, 404},           // bob may not read alice's call
		{"jwe-bob", "guid-b", 404},     // nor by call id
		{"jwe-nobody", id, 403},        // no login carl
		{"jwe-gone", id, 403},          // disabled
		{"jwe-phones", id, 403},        // an ingest account
		{"jwe-norealm", id, 403},       // the rule needs realm_user_id
		{"jwe-sup", id, 200},           // the explicit map names admin
		{flexAlice, "no-such-id", 404}, // nothing by that id
		{flexAlice, "", 400},
		{flexAlice, strings.Repeat("x", 129), 400},
		{flexAlice, "guid-%00", 400},
	} {
		if resp, body := e.url(c.rec, basic(c.token)); resp.StatusCode != c.code {
			t.Errorf("%s %q: %s %s, want %d", c.token, c.rec, resp.Status, body, c.code)
		}
	}
	s := &Service{opt: Options{Users: map[string]string{"x@y": "xy"}}}
	res := &tokenResult{Identity: "alice_40example_2Dcom", RealmUserID: "alice@example.com"}
	for rule, want := range map[string]string{MapExplicit: "", MapIdentity: "alice_40example_2Dcom", MapRealmUser: "alice@example.com", MapRealmPart: "alice"} {
		s.opt.UserMap = rule
		if got := s.loginOf(res); got != want {
			t.Errorf("rule %s: %q, want %q", rule, got, want)
		}
	}
	if got := s.loginOf(&tokenResult{RealmUserID: "x@y"}); got != "xy" {
		t.Errorf("explicit map: %q", got)
	}
	if _, err := New(e.arc, patternMedia{}, nil, Options{UserMap: "email"}, nil); err == nil {
		t.Error("an unknown user map rule was accepted")
	}
}

// TestFlexAPIToken: an archive API token is the alternative to a Flex
// token, as Basic token:<API token> or Bearer; the validation service is
// never asked.
func TestFlexAPIToken(t *testing.T) {
	e := newEnv(t, nil)
	tok, _, err := e.arc.CreateToken(context.Background(), "alice", "flex")
	if err != nil {
		t.Fatal(err)
	}
	id := e.rec.ID.String()
	for _, auth := range []string{basic(tok), "Bearer " + tok} {
		resp, media := e.url(id, auth)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %s %s", auth[:6], resp.Status, media)
		}
		if r, b := e.do("GET", media); r.StatusCode != 200 || !bytes.Equal(b, e.wav(e.rec)) {
			t.Fatalf("media: %s", r.Status)
		}
	}
	bobTok, _, _ := e.arc.CreateToken(context.Background(), "bob", "flex")
	if resp, _ := e.url(id, "Bearer "+bobTok); resp.StatusCode != 404 {
		t.Fatalf("bob's token: %s", resp.Status)
	}
	if resp, _ := e.url(id, basic("cvt_"+strings.Repeat("A", 26))); resp.StatusCode != 401 {
		t.Fatalf("unknown API token: %s", resp.Status)
	}
	if n := e.tw.calls.Load(); n != 0 {
		t.Fatalf("the validation service was asked %d times", n)
	}
	if urls := e.audit(auditURL); len(urls) != 2 || urls[0].Detail != "API token" {
		t.Fatalf("audit: %+v", urls)
	}
}

// TestFlexCORS: preflights are answered without authentication for the
// allowed origins only; responses name only an allowed origin.
func TestFlexCORS(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.AllowedOrigins = []string{"https://flex.twilio.com", "https://flex.example"} })
	pre := func(origin, path string) *http.Response {
		r, _ := e.do("OPTIONS", e.srv.URL+path, "Origin", origin, "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "authorization")
		return r
	}
	for _, path := range []string{"/flex/url?recording=x", "/flex/media/abc"} {
		r := pre("https://flex.example", path)
		if r.StatusCode != 204 || r.Header.Get("Access-Control-Allow-Origin") != "https://flex.example" ||
			!strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Authorization") || !strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), "GET") {
			t.Fatalf("preflight %s: %s %v", path, r.Status, r.Header)
		}
		r = pre("https://evil.example", path)
		if r.StatusCode != 403 || r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("preflight from another origin %s: %s %v", path, r.Status, r.Header)
		}
	}
	r, b := e.do("GET", e.srv.URL+"/flex/url?recording="+e.rec.ID.String(), "Origin", "https://flex.twilio.com", "Authorization", basic(flexAlice))
	if r.StatusCode != 200 || r.Header.Get("Access-Control-Allow-Origin") != "https://flex.twilio.com" {
		t.Fatalf("GET from Flex: %s %v %s", r.Status, r.Header, b)
	}
	r, _ = e.do("GET", e.srv.URL+"/flex/url?recording="+e.rec.ID.String(), "Origin", "https://evil.example", "Authorization", basic(flexAlice))
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("GET from another origin carries %q", r.Header.Get("Access-Control-Allow-Origin"))
	}
	// Errors carry the header too, so the player can read them.
	r, _ = e.do("GET", e.srv.URL+"/flex/url?recording=x", "Origin", "https://flex.twilio.com")
	if r.StatusCode != 401 || r.Header.Get("Access-Control-Allow-Origin") != "https://flex.twilio.com" {
		t.Fatalf("401 from Flex: %s %v", r.Status, r.Header)
	}
	// The default is Flex's origin.
	d := newEnv(t, nil)
	if r, _ := d.do("OPTIONS", d.srv.URL+"/flex/url", "Origin", DefaultOrigin); r.StatusCode != 204 {
		t.Fatalf("default origin: %s", r.Status)
	}
}

// TestFlexFourEyes: a user under 4-eyes access without a grant gets no
// media URL, though archive.MayRead alone would let them read.
func TestFlexFourEyes(t *testing.T) {
	e := newEnv(t, nil)
	fe := foureyes.New(e.arc, foureyes.Options{}, nil)
	t.Cleanup(fe.Close)
	e.svc.fe = fe
	e.tw.valid("jwe-wendy", "wendy@example.com", "wendy", testNow.Add(time.Hour))
	if resp, body := e.url(e.rec.ID.String(), basic("jwe-wendy")); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("wendy without a grant: %s %s", resp.Status, body)
	}
	if resp, body := e.url(e.rec.ID.String(), basic(flexAlice)); resp.StatusCode != 200 {
		t.Fatalf("alice: %s %s", resp.Status, body)
	}
}

// TestFlexRefusalLimit: one address gets 30 refused Flex tokens a minute;
// then 429 without the validation service being asked, even for a valid
// token not cached yet (a cached one still works); a minute later it may
// try again.
func TestFlexRefusalLimit(t *testing.T) {
	e := newEnv(t, nil)
	id := e.rec.ID.String()
	if resp, _ := e.url(id, basic(flexAlice)); resp.StatusCode != 200 {
		t.Fatalf("alice: %s", resp.Status)
	}
	for i := range refusalsMax {
		if resp, _ := e.url(id, basic(fmt.Sprintf("jwe-guess-%d", i))); resp.StatusCode != 401 {
			t.Fatalf("guess %d: %s", i, resp.Status)
		}
	}
	e.tw.valid("jwe-alice-2", "alice@example.com", "alice_40example_2Dcom", testNow.Add(time.Hour))
	n := e.tw.calls.Load()
	resp, _ := e.url(id, basic("jwe-alice-2"))
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || e.tw.calls.Load() != n {
		t.Fatalf("after %d refusals: %s, %d more validations", refusalsMax, resp.Status, e.tw.calls.Load()-n)
	}
	if resp, _ := e.url(id, basic(flexAlice)); resp.StatusCode != 200 {
		t.Fatalf("a cached token while limited: %s", resp.Status)
	}
	e.clock.Add(time.Minute)
	if resp, _ := e.url(id, basic("jwe-alice-2")); resp.StatusCode != 200 {
		t.Fatalf("a minute later: %s", resp.Status)
	}
}

// failMedia fails every rendering, as a damaged recording would.
type failMedia struct{}

func (failMedia) WAV(context.Context, []*archive.Recording, int, codec.WAVOptions) (*codec.WAVReader, error) {
	return nil, errors.New("rendering failed")
}

// TestFlexErrorLogKeepsToken: a media request that fails inside is
// logged with its route, not its path, which holds the link's token.
func TestFlexErrorLogKeepsToken(t *testing.T) {
	e := newEnv(t, nil)
	_, media := e.url(e.rec.ID.String(), basic(flexAlice))
	e.svc.media = failMedia{}
	if r, _ := e.do("GET", media, "User-Agent", "player/1"); r.StatusCode != http.StatusInternalServerError {
		t.Fatalf("failing media: %s", r.Status)
	}
	token := media[strings.LastIndex(media, "/")+1:]
	logs := e.logs.String()
	if !strings.Contains(logs, "flex request failed") || !strings.Contains(logs, "/flex/media/{token}") {
		t.Fatalf("the failure is not logged with its route: %s", logs)
	}
	if strings.Contains(logs, token) {
		t.Fatalf("the media link's token is in the log: %s", logs)
	}
}

// TestFlexRefusalLimitPerPrefix: refusals count for an IPv6 client's /64,
// whose addresses it picks at will, and not for its neighbours'.
func TestFlexRefusalLimitPerPrefix(t *testing.T) {
	e := newEnv(t, nil)
	for i := range refusalsMax {
		from := netip.MustParseAddr(fmt.Sprintf("2001:db8:1:2::%x", i+1))
		if _, err := e.svc.validate(t.Context(), from, fmt.Sprintf("jwe-guess-%d", i)); err == nil {
			t.Fatalf("guess %d accepted", i)
		}
	}
	now := e.arc.Now()
	if !e.svc.limited(netip.MustParseAddr("2001:db8:1:2::ffff"), now) {
		t.Error("a new address in the same /64 is not limited")
	}
	if e.svc.limited(netip.MustParseAddr("2001:db8:1:3::1"), now) {
		t.Error("the next /64 is limited")
	}
	if e.svc.limited(netip.MustParseAddr("192.0.2.1"), now) || e.svc.limited(netip.MustParseAddr("192.0.2.2"), now) {
		t.Error("IPv4 addresses are limited")
	}
}
