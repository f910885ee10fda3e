package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/internal/testclock"
	bolt "go.etcd.io/bbolt"
)

var testStart = time.Date(2026, 3, 9, 9, 0, 0, 0, time.UTC)

// toneMedia renders one second of stereo PCMU per recording.
type toneMedia struct{}

func (toneMedia) WAV(_ context.Context, recs []*archive.Recording, _ int, opt codec.WAVOptions) (*codec.WAVReader, error) {
	const samples = 8000
	segs := make([]codec.Segment, len(recs))
	orig := bytes.Repeat([]byte{0x10, 0x90, 0x33, 0x55}, samples/4)
	for i := range recs {
		var mp []byte
		for p := 0; p < samples; p += 160 {
			mp = codec.AppendEntry(mp, codec.Entry{Off: int64(p), Len: 160, Pos: uint32(p), Stream: 0})
			mp = codec.AppendEntry(mp, codec.Entry{Off: int64(p), Len: 160, Pos: uint32(p), Stream: 1})
		}
		pcmu := codec.ParseCodec("PCMU")
		segs[i] = codec.Segment{Orig: bytes.NewReader(orig), Map: bytes.NewReader(mp), MapSize: int64(len(mp)),
			Layout: codec.Layout{Streams: []codec.StreamLayout{{Codec: pcmu, Channel: 0}, {Codec: pcmu, Channel: 1}}, End: samples}}
	}
	return codec.NewWAVReader(segs, opt)
}

// received is one request the receiver saw.
type received struct {
	header http.Header
	body   []byte
}

// receiver is an endpoint on loopback whose answers the test scripts:
// each request takes the next answer (the last one repeats).
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	answers []func(w http.ResponseWriter, r *http.Request)
	got     []received
	arrived chan struct{}
}

func newReceiver(t *testing.T, answers ...func(w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{answers: answers, arrived: make(chan struct{}, 100)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{r.Header.Clone(), b})
		a := rc.answers[0]
		if len(rc.answers) > 1 {
			rc.answers = rc.answers[1:]
		}
		rc.mu.Unlock()
		a(w, r)
		rc.arrived <- struct{}{}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

func status(code int, hdr ...string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.WriteHeader(code)
	}
}

// hang answers nothing until the client gives up.
func hang(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

type env struct {
	t     *testing.T
	clock *testclock.Clock
	arc   *archive.Archive
	path  string
	cfg   Config
	svc   *Service
	files *httptest.Server
	stop  func()
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	clock := testclock.New(testStart)
	arc := archivetest.OpenTestOptions(t, archive.Options{Now: clock.Now})
	if err := arc.PutUser(t.Context(), archive.User{Login: "alice", Name: "Alice Agent", Role: archive.RoleUser, Extensions: []string{"201"}}, "password-123456"); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, clock: clock, arc: arc, path: filepath.Join(t.TempDir(), "webhooks.db"), cfg: cfg}
	e.files = httptest.NewServer(nil)
	t.Cleanup(e.files.Close)
	e.start()
	t.Cleanup(func() { e.stop() })
	return e
}

// start opens the service and runs its outbox, as a daemon start does.
func (e *env) start() {
	e.t.Helper()
	svc, err := Open(e.arc, toneMedia{}, Options{Path: e.path, Config: e.cfg, Poll: 5 * time.Millisecond}, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	svc.SetBaseURL(e.files.URL)
	e.files.Config.Handler = svc.FileHandler()
	e.svc = svc
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	e.stop = func() {
		cancel()
		<-done
		svc.Close()
		e.stop = func() {}
	}
}

func loopbackConfig() Config {
	return Config{AllowHTTPHosts: []string{"127.0.0.1", "localhost"}, AllowPrivate: true, Timeout: 500 * time.Millisecond}
}

const info = `{"version":1,"result":{"calls":[{"index":0,"from":{"number":"+4790000001"},"to":{"name":"Support","number":"201"},"start":"2026-03-09T08:59:00Z","durationMs":4000}]}}`

// record stores a recording of guid for user; a Writer is returned open
// when state is recording.
func (e *env) record(user, guid string, state archive.State) (*archive.Recording, *archive.Writer) {
	e.t.Helper()
	ctx := e.t.Context()
	w, err := e.arc.Create(ctx, archive.NewRecording{User: user, CallGUID: guid, FileName: guid + ".pcap", Received: e.clock.Now()})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := w.WriteOriginal([]byte("capture")); err != nil {
		e.t.Fatal(err)
	}
	if state == archive.StateRecording {
		rec, err := e.arc.Get(ctx, w.ID())
		if err != nil {
			e.t.Fatal(err)
		}
		return rec, w
	}
	return e.finish(w, state), nil
}

func (e *env) finish(w *archive.Writer, state archive.State) *archive.Recording {
	e.t.Helper()
	rec, err := w.Finish(e.t.Context(), archive.Final{State: state, StartTime: e.clock.Now().Add(-time.Minute),
		DurationMs: 4000, Info: []byte(info), Parties: []string{"+4790000001", "201"}})
	if err != nil {
		e.t.Fatal(err)
	}
	return rec
}

// complete records a finished recording and tells the service.
func (e *env) complete(user, guid string) *archive.Recording {
	e.t.Helper()
	rec, _ := e.record(user, guid, archive.StateComplete)
	if err := e.svc.Completed(e.t.Context(), rec); err != nil {
		e.t.Fatal(err)
	}
	return rec
}

func (e *env) hook(url, secret string, mod func(*Input)) *Webhook {
	e.t.Helper()
	in := &Input{URL: &url, Secret: &secret}
	if mod != nil {
		mod(in)
	}
	h, err := e.svc.Create(e.t.Context(), in)
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

// waitAttempts waits until hook has n attempts and returns them, newest
// first.
func (e *env) waitAttempts(id string, n int) []Attempt {
	e.t.Helper()
	for range 2000 {
		as, err := e.svc.Attempts(e.t.Context(), id, 0)
		if err != nil {
			e.t.Fatal(err)
		}
		if len(as) >= n {
			return as
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.t.Fatalf("webhook %s: fewer than %d attempts", id, n)
	return nil
}

// advance moves the clock past the next retry and wakes the outbox.
func (e *env) advance(d time.Duration) {
	e.clock.Add(d)
	e.svc.Kick()
}

const testKey = "0123456789abcdef0123456789abcdef"

var testSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte(testKey))

// verify checks a delivery's signature as a receiver following the
// Standard Webhooks specification would, written apart from Sign.
func verify(t *testing.T, secret string, r received) {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	id, ts := r.header.Get("webhook-id"), r.header.Get("webhook-timestamp")
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(r.body)))
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	found := false
	for _, sig := range strings.Fields(r.header.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			found = true
		}
	}
	if !found || id == "" || ts == "" {
		t.Errorf("signature %q does not verify (id %q, timestamp %q, want %q)", r.header.Get("webhook-signature"), id, ts, want)
	}
}

func TestDeliverySignedWithFileLinks(t *testing.T) {
	e := newEnv(t, loopbackConfig())
	rc := newReceiver(t, status(http.StatusNoContent))
	h := e.hook(rc.srv.URL+"/hook", testSecret, nil)
	rec := e.complete("alice", "guid-1")
	<-rc.arrived
	as := e.waitAttempts(h.ID, 1)
	if as[0].Status != "delivered" || as[0].Code != http.StatusNoContent || !as[0].Time.Equal(testStart) {
		t.Fatalf("attempt %+v", as[0])
	}
	r := rc.requests()[0]
	if got := r.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type %q", got)
	}
	if got := r.header.Get("Authorization"); got != "Bearer "+testSecret {
		t.Errorf("Authorization %q", got)
	}
	if got := r.header.Get("webhook-timestamp"); got != strconv.FormatInt(testStart.Unix(), 10) {
		t.Errorf("webhook-timestamp %q", got)
	}
	verify(t, testSecret, r)
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "fileUrls", "callerNumber", "calleeNumber", "startTime", "endTime", "waitTime", "talkTime",
		"agentId", "agentName", "answerGroupName", "answerGroupId", "referredTo", "referredBy", "direction", "recorderId",
		"summary", "userId", "recordingIds", "callId"} {
		if _, ok := body[k]; !ok {
			t.Errorf("body lacks %s", k)
		}
	}
	if body["callerNumber"] != "+4790000001" || body["calleeNumber"] != "201" || body["agentId"] != "alice" ||
		body["agentName"] != "Alice Agent" || body["direction"] != "inbound" || body["callId"] != "guid-1" ||
		body["summary"] != nil || body["waitTime"] != nil || body["talkTime"] != float64(4000) || body["userId"] != "alice" {
		t.Errorf("body %s", r.body)
	}
	if id, _ := body["id"].(float64); id <= 0 || int64(id) != e.svc.CallNumber("guid-1") {
		t.Errorf("id %v", body["id"])
	}
	if st, _ := body["startTime"].(float64); int64(st) != rec.StartTime.UnixMilli() {
		t.Errorf("startTime %v, want %d", body["startTime"], rec.StartTime.UnixMilli())
	}
	urls, _ := body["fileUrls"].([]any)
	if len(urls) != 1 {
		t.Fatalf("fileUrls %v", body["fileUrls"])
	}
	link := urls[0].(string)
	if !strings.HasPrefix(link, e.files.URL+FilePrefix) {
		t.Fatalf("file link %s", link)
	}
	// The link works without a login, with Range.
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	wav, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(wav[:4]) != "RIFF" || string(wav[8:12]) != "WAVE" || resp.Header.Get("Content-Type") != "audio/wav" {
		t.Fatalf("file link: %d %q", resp.StatusCode, wav[:min(12, len(wav))])
	}
	req, _ := http.NewRequest("GET", link, nil)
	req.Header.Set("Range", "bytes=44-99")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, wav[44:100]) {
		t.Fatalf("range: %d, %d bytes", resp.StatusCode, len(part))
	}
	// A tampered token is refused; after 30 minutes the link is dead.
	bad := strings.Replace(link, FilePrefix+"A", FilePrefix+"B", 1)
	if bad == link {
		bad = strings.Replace(link, ".wav", "x.wav", 1)
	}
	for _, u := range []string{bad} {
		if resp, err := http.Get(u); err != nil || resp.StatusCode != http.StatusNotFound {
			t.Fatalf("tampered link: %v %v", resp.StatusCode, err)
		}
	}
	e.clock.Add(FileLinkTTL - time.Second)
	if resp, err := http.Get(link); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("link before expiry: %v %v", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}
	e.clock.Add(time.Second)
	if resp, err := http.Get(link); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("link at expiry: %v %v", resp.StatusCode, err)
	}
	// The fetches were audited.
	ev, _, err := e.arc.AuditLog(t.Context(), archive.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	plays := 0
	for _, x := range ev {
		if x.Action == "play" && x.Target == rec.ID.String() && x.Actor == "webhook link" {
			plays++
		}
	}
	if plays < 2 {
		t.Errorf("%d audited fetches", plays)
	}
	// The secret is never shown.
	b, _ := json.Marshal(h)
	if bytes.Contains(b, []byte(testSecret)) || bytes.Contains(b, []byte(testKey)) {
		t.Errorf("webhook JSON shows the secret: %s", b)
	}
}

func TestRetry500Then200KeepsID(t *testing.T) {
	e := newEnv(t, loopbackConfig())
	rc := newReceiver(t, status(http.StatusInternalServerError, "Retry-After", "600"), status(http.StatusOK))
	h := e.hook(rc.srv.URL, "plain-secret-of-some-length", nil)
	e.complete("alice", "guid-2")
	as := e.waitAttempts(h.ID, 1)
	if as[0].Status != "failed" || as[0].Code != 500 || as[0].Next.Before(testStart.Add(600*time.Second)) {
		t.Fatalf("first attempt %+v", as[0])
	}
	e.advance(599 * time.Second)
	time.Sleep(20 * time.Millisecond) // several polls: nothing is due yet
	if n := len(rc.requests()); n != 1 {
		t.Fatalf("%d requests before Retry-After passed", n)
	}
	e.advance(as[0].Next.Sub(e.clock.Now()))
	as = e.waitAttempts(h.ID, 2)
	if as[0].Status != "delivered" || as[0].Code != 200 {
		t.Fatalf("second attempt %+v", as[0])
	}
	rs := rc.requests()
	if rs[0].header.Get("webhook-id") != rs[1].header.Get("webhook-id") || !strings.HasPrefix(rs[0].header.Get("webhook-id"), "msg_") {
		t.Errorf("webhook-id changed across retries: %q, %q", rs[0].header.Get("webhook-id"), rs[1].header.Get("webhook-id"))
	}
	if rs[0].header.Get("webhook-timestamp") == rs[1].header.Get("webhook-timestamp") {
		t.Errorf("timestamp not fresh")
	}
	// Plain secrets sign with their bytes.
	want := Sign("plain-secret-of-some-length", rs[1].header.Get("webhook-id"), e.clock.Now().Unix(), rs[1].body)
	mac := hmac.New(sha256.New, []byte("plain-secret-of-some-length"))
	fmt.Fprintf(mac, "%s.%s.%s", rs[1].header.Get("webhook-id"), rs[1].header.Get("webhook-timestamp"), rs[1].body)
	if got := rs[1].header.Get("webhook-signature"); got != "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)) || got != want {
		t.Errorf("signature %q", got)
	}
	// Links are minted fresh on every attempt.
	var b1, b2 Body
	json.Unmarshal(rs[0].body, &b1)
	json.Unmarshal(rs[1].body, &b2)
	if b1.FileURLs[0] == b2.FileURLs[0] || b1.ID != b2.ID {
		t.Errorf("links %v, %v; ids %d, %d", b1.FileURLs, b2.FileURLs, b1.ID, b2.ID)
	}
	if w, _ := e.svc.Get(t.Context(), h.ID); w.Pending != 0 || !w.Enabled {
		t.Errorf("after delivery: %+v", w)
	}
}

func TestTimeoutThenRedirectThenDelivered(t *testing.T) {
	e := newEnv(t, loopbackConfig())
	target := newReceiver(t, status(http.StatusOK))
	rc := newReceiver(t, hang, status(http.StatusFound, "Location", target.srv.URL), status(http.StatusAccepted))
	h := e.hook(rc.srv.URL, testSecret, nil)
	e.complete("alice", "guid-3")
	as := e.waitAttempts(h.ID, 1)
	if as[0].Status != "failed" || as[0].Code != 0 || as[0].Error != "timed out" {
		t.Fatalf("timed-out attempt %+v", as[0])
	}
	e.advance(time.Hour)
	as = e.waitAttempts(h.ID, 2)
	if as[0].Status != "failed" || as[0].Code != http.StatusFound {
		t.Fatalf("redirect attempt %+v", as[0])
	}
	if len(target.requests()) != 0 {
		t.Fatal("the redirect was followed")
	}
	e.advance(time.Hour)
	as = e.waitAttempts(h.ID, 3)
	if as[0].Status != "delivered" || as[0].Code != http.StatusAccepted {
		t.Fatalf("third attempt %+v", as[0])
	}
}

func TestGoneDisablesAndReenableKeepsSecret(t *testing.T) {
	e := newEnv(t, loopbackConfig())
	rc := newReceiver(t, status(http.StatusGone), status(http.StatusOK))
	h := e.hook(rc.srv.URL, testSecret, nil)
	e.complete("alice", "guid-4")
	as := e.waitAttempts(h.ID, 1)
	if as[0].Status != "dropped" || as[0].Code != http.StatusGone {
		t.Fatalf("attempt %+v", as[0])
	}
	w, err := e.svc.Get(t.Context(), h.ID)
	if err != nil {
		t.Fatal(err)
	}
	if w.Enabled || !strings.Contains(w.DisabledReason, "410") || w.Pending != 0 {
		t.Fatalf("after 410: %+v", w)
	}
	// Disabled: a new call queues nothing.
	e.complete("alice", "guid-5")
	if w, _ := e.svc.Get(t.Context(), h.ID); w.Pending != 0 {
		t.Fatalf("disabled webhook queued %d", w.Pending)
	}
	w, err = e.svc.Enable(t.Context(), h.ID)
	if err != nil || !w.Enabled || w.DisabledReason != "" {
		t.Fatalf("enable: %+v %v", w, err)
	}
	e.complete("alice", "guid-6")
	e.waitAttempts(h.ID, 2)
	rs := rc.requests()
	if len(rs) != 2 || rs[1].header.Get("Authorization") != "Bearer "+testSecret {
		t.Fatalf("after re-enable: %d requests", len(rs))
	}
	verify(t, testSecret, rs[1])
}

func TestGiveUpAfterTwoDays(t *testing.T) {
	e := newEnv(t, loopbackConfig())
	rc := newReceiver(t, status(http.StatusServiceUnavailable))
	h := e.hook(rc.srv.URL, testSecret, nil)
	e.complete("alice", "guid-7")
	var as []Attempt
	for n := 1; ; n++ {
		as = e.waitAttempts(h.ID, n)
		if as[0].Status != "failed" {
			break
		}
		if n > 40 {
			t.Fatal("still retrying after 40 attempts")
		}
		if n > 1 {
			if gap, prev := as[0].Time.Sub(as[1].Time), retryBase<<(n-2); gap < prev*8/10 && prev < retryMax {
				t.Errorf("attempt %d came %v after the one before", n, gap)
			}
		}
		e.advance(as[0].Next.Sub(e.clock.Now()))
	}
	if as[0].Status != "dropped" {
		t.Fatalf("last attempt %+v", as[0])
	}
	span := as[0].Time.Sub(as[len(as)-1].Time)
	if span < 40*time.Hour || span > retryWindow {
		t.Errorf("retries spanned %v", span)
	}
	w, _ := e.svc.Get(t.Context(), h.ID)
	if w.Enabled || !strings.Contains(w.DisabledReason, "two days") || w.Pending != 0 {
		t.Fatalf("after giving up: %+v", w)
	}
	t.Logf("%d attempts over %v", len(as), span)
}

// TestRestartLosesNothing stops the service with a delivery queued and a
// recording finished while it was down; after a new start both arrive.
func TestRestartLosesNothing(t *testing.T) {
	e := newEnv(t, loopbackConfig())
	rc := newReceiver(t, status(http.StatusInternalServerError), status(http.StatusOK))
	h := e.hook(rc.srv.URL, testSecret, nil)
	e.complete("alice", "guid-8")
	as := e.waitAttempts(h.ID, 1)
	if as[0].Status != "failed" {
		t.Fatalf("attempt %+v", as[0])
	}
	e.stop()
	// Finished while the service was down: nobody told it.
	missed, _ := e.record("alice", "guid-9", archive.StateComplete)
	e.clock.Add(time.Hour)
	e.start()
	as = e.waitAttempts(h.ID, 3)
	for _, a := range as[:2] {
		if a.Status != "delivered" {
			t.Errorf("after restart: %+v", a)
		}
	}
	rs := rc.requests()
	if rs[0].header.Get("webhook-id") != rs[1].header.Get("webhook-id") && rs[0].header.Get("webhook-id") != rs[2].header.Get("webhook-id") {
		t.Error("the queued delivery came back under another id")
	}
	found := false
	for _, r := range rs {
		verify(t, testSecret, r)
		var b Body
		json.Unmarshal(r.body, &b)
		if len(b.RecordingIDs) == 1 && b.RecordingIDs[0] == missed.ID.String() {
			found = true
		}
	}
	if !found {
		t.Error("the recording finished while the service was down was not delivered")
	}
	// A second start queues nothing twice.
	e.stop()
	e.start()
	time.Sleep(20 * time.Millisecond)
	if w, _ := e.svc.Get(t.Context(), h.ID); w.Pending != 0 {
		t.Errorf("%d queued after a second start", w.Pending)
	}
}

func TestCallCompleteWhenNoSegmentRecording(t *testing.T) {
	e := newEnv(t, loopbackConfig())
	rc := newReceiver(t, status(http.StatusOK))
	h := e.hook(rc.srv.URL, testSecret, nil)
	_, open := e.record("alice", "guid-10", archive.StateRecording)
	first, _ := e.record("alice", "guid-10", archive.StateComplete)
	if err := e.svc.Completed(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	if w, _ := e.svc.Get(t.Context(), h.ID); w.Pending != 0 {
		t.Fatal("queued while a segment is still recording")
	}
	last := e.finish(open, archive.StateInterrupted)
	if err := e.svc.Completed(t.Context(), last); err != nil {
		t.Fatal(err)
	}
	e.waitAttempts(h.ID, 1)
	var b Body
	json.Unmarshal(rc.requests()[0].body, &b)
	if len(b.RecordingIDs) != 2 || len(b.FileURLs) != 2 || b.CallID != "guid-10" {
		t.Fatalf("body %+v", b)
	}
	// Told twice, queued once.
	if err := e.svc.Completed(t.Context(), last); err != nil {
		t.Fatal(err)
	}
	if w, _ := e.svc.Get(t.Context(), h.ID); w.Pending != 0 {
		t.Fatal("queued twice")
	}
}

func TestFilters(t *testing.T) {
	e := newEnv(t, loopbackConfig())
	e.stop()
	groups := map[string]string{"guid-a": "7", "guid-b": "8"} // guid-c: no answer group known
	svc, err := Open(e.arc, toneMedia{}, Options{Path: e.path, Config: e.cfg, Details: func(ctx context.Context, recs []*archive.Recording) Details {
		d := e.svc.RecordingDetails(ctx, recs)
		d.AnswerGroupID = groups[recs[0].CallGUID]
		return d
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	e.svc = svc
	users := []string{"BOB"}
	byUser := e.hook("http://127.0.0.1:1/u", testSecret, func(in *Input) { in.Users = &users })
	ag := []string{"7"}
	byGroup := e.hook("http://127.0.0.1:1/g", testSecret, func(in *Input) { in.AnswerGroups = &ag })
	all := e.hook("http://127.0.0.1:1/a", testSecret, nil)
	if err := e.arc.PutUser(t.Context(), archive.User{Login: "bob", Role: archive.RoleUser}, "password-123456"); err != nil {
		t.Fatal(err)
	}
	e.complete("alice", "guid-a")
	e.complete("bob", "guid-b")
	e.complete("alice", "guid-c")
	want := map[string]int{byUser.ID: 1, byGroup.ID: 2, all.ID: 3}
	for id, n := range want {
		if w, _ := svc.Get(t.Context(), id); w.Pending != n {
			t.Errorf("webhook %s: %d queued, want %d", w.URL, w.Pending, n)
		}
	}
}

func TestAddressGuard(t *testing.T) {
	for _, c := range []struct {
		addr string
		ok   bool
	}{
		{"10.1.2.3:443", false}, {"172.16.0.1:443", false}, {"192.168.1.1:443", false},
		{"169.254.169.254:80", false}, {"127.0.0.1:80", false}, {"[::1]:443", false},
		{"[fe80::1]:443", false}, {"[fd00::1]:443", false}, {"[::ffff:10.0.0.1]:443", false},
		{"0.0.0.0:80", false}, {"100.64.0.1:80", false}, {"224.0.0.1:80", false}, {"[64:ff9b::a00:1]:443", false},
		{"[64:ff9b::5db8:d822]:443", true},
		{"[64:ff9b:1::5db8:d822]:443", false}, {"[64:ff9b:1:abcd::a00:1]:443", false}, // local-use NAT64
		{"[::a00:1]:443", false}, {"[::5db8:d822]:443", false}, // IPv4-compatible
		{"93.184.216.34:443", true}, {"[2606:4700::1111]:443", true},
	} {
		err := checkDial(false, c.addr)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v", c.addr, err)
		}
		if err := checkDial(true, c.addr); err != nil {
			t.Errorf("%s with private allowed: %v", c.addr, err)
		}
	}
	// Endpoints: https required, addresses checked when written.
	e := newEnv(t, Config{AllowHTTPHosts: []string{"localhost"}, Timeout: time.Second})
	for _, u := range []string{"http://example.com/h", "https://10.0.0.1/h", "https://169.254.169.254/", "https://[::1]/h",
		"ftp://example.com", "https://user:pw@example.com/", "/relative", "http://127.0.0.1/h"} {
		if err := e.svc.CheckURL(u); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
	if err := e.svc.CheckURL("https://hooks.example.com/x"); err != nil {
		t.Error(err)
	}
	// A name that resolves to loopback is refused when connecting: the
	// receiver hears nothing.
	rc := newReceiver(t, status(http.StatusOK))
	_, port, _ := strings.Cut(strings.TrimPrefix(rc.srv.URL, "http://"), ":")
	h := e.hook("http://localhost:"+port+"/h", testSecret, nil)
	e.complete("alice", "guid-11")
	as := e.waitAttempts(h.ID, 1)
	if as[0].Status != "failed" || !strings.Contains(as[0].Error, "not allowed") {
		t.Fatalf("attempt %+v", as[0])
	}
	if len(rc.requests()) != 0 {
		t.Fatal("a request reached loopback")
	}
}

func TestInputChecks(t *testing.T) {
	e := newEnv(t, loopbackConfig())
	for _, body := range []string{
		`{"url":"https://x.example/h"}`,                                // no secret
		`{"url":"https://x.example/h","secret":"short"}`,               // too short
		`{"url":"https://x.example/h","secret":"whsec_!!!!!!!!!!!!!"}`, // not base64
		`{"url":"https://x.example/h","secret":"0123456789abcdefg","extra":1}`,
		`{"url":"https://x.example/h","secret":"0123456789abcdefg","users":[""]}`,
		`{"url":5}`, `[]`, `{}{}`,
	} {
		in, err := ParseInput([]byte(body))
		if err == nil {
			_, err = e.svc.Create(t.Context(), in)
		}
		if err == nil {
			t.Errorf("%s accepted", body)
		}
	}
	if _, err := e.svc.Get(t.Context(), "nope"); err != ErrNotFound {
		t.Errorf("get unknown: %v", err)
	}
}

func FuzzParseInput(f *testing.F) {
	f.Add([]byte(`{"url":"https://x.example/h","secret":"whsec_MDEyMzQ1Njc4OWFiY2RlZg==","users":["a"],"answerGroups":["7"],"enabled":false}`))
	f.Add([]byte(`{"url":"http://127.0.0.1:8080/","secret":"0123456789abcdef"}`))
	f.Add([]byte(`{"users":null}`))
	s := &Service{opt: Options{Config: loopbackConfig()}}
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := ParseInput(b)
		if err != nil {
			return
		}
		h := &stored{}
		if err := s.apply(h, in); err != nil {
			return
		}
		if h.URL == "" || len(h.Secret) < minSecretLen || s.CheckURL(h.URL) != nil || len(h.Users) > maxFilter {
			t.Fatalf("accepted %q as %+v", b, h)
		}
	})
}

func FuzzFileToken(f *testing.F) {
	s := &Service{fkey: []byte("k")}
	f.Add(s.fileToken(archive.NewID(), testStart.Add(time.Minute)))
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := s.parseFileToken(tok, testStart)
		if err == nil && s.fileToken(id, time.Unix(0, 0)) == tok {
			t.Fatal("an expired token was accepted")
		}
	})
}

// TestSlowEndpointHoldsUpOnlyItself: while one endpoint keeps its
// request open, another webhook's delivery goes out.
func TestSlowEndpointHoldsUpOnlyItself(t *testing.T) {
	cfg := loopbackConfig()
	cfg.Timeout = time.Minute
	e := newEnv(t, cfg)
	release := make(chan struct{})
	slow := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	fast := newReceiver(t, status(http.StatusOK))
	hs := e.hook(slow.srv.URL, testSecret, nil)
	hf := e.hook(fast.srv.URL, testSecret, nil)
	e.complete("alice", "guid-12")
	as := e.waitAttempts(hf.ID, 1)
	if as[0].Status != "delivered" {
		t.Fatalf("fast endpoint: %+v", as[0])
	}
	if got, _ := e.svc.Attempts(t.Context(), hs.ID, 0); len(got) != 0 {
		t.Fatalf("slow endpoint answered already: %+v", got)
	}
	close(release)
	if as := e.waitAttempts(hs.ID, 1); as[0].Status != "delivered" {
		t.Fatalf("slow endpoint: %+v", as[0])
	}
}

// recordAt stores a finished recording of guid for alice, received now by
// the appliance's clock, whose capture says the call started at start.
func (e *env) recordAt(guid string, start time.Time) *archive.Recording {
	return e.storeAt(guid, start, false)
}

// storeAt is recordAt for a capture callvault import stored when imported.
func (e *env) storeAt(guid string, start time.Time, imported bool) *archive.Recording {
	e.t.Helper()
	ctx := e.t.Context()
	w, err := e.arc.Create(ctx, archive.NewRecording{User: "alice", CallGUID: guid, FileName: guid + ".pcap", Received: e.clock.Now(), Imported: imported})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := w.WriteOriginal([]byte("capture")); err != nil {
		e.t.Fatal(err)
	}
	rec, err := w.Finish(ctx, archive.Final{State: archive.StateComplete, StartTime: start, DurationMs: 4000, Info: []byte(info)})
	if err != nil {
		e.t.Fatal(err)
	}
	return rec
}

// TestWrongPhoneClockAnnounced: whether a call just ended is decided by
// the appliance's clock. Calls received and finished now whose captures
// say 1970, three days ago or three days ahead (a phone whose clock is
// wrong) are announced, when the recorder reports them and when the
// start-up scan finds them.
func TestWrongPhoneClockAnnounced(t *testing.T) {
	e := newEnv(t, loopbackConfig())
	rc := newReceiver(t, status(http.StatusOK))
	h := e.hook(rc.srv.URL, testSecret, nil)
	now := e.clock.Now()
	starts := []time.Time{time.Unix(300, 0), now.Add(-72 * time.Hour), now.Add(72 * time.Hour)}
	want := map[string]bool{}
	for i, start := range starts {
		rec := e.recordAt(fmt.Sprintf("clock-%d", i), start)
		if err := e.svc.Completed(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
		want[rec.ID.String()] = true
	}
	// Finished while the service was down: the scan finds them.
	e.stop()
	for i, start := range starts[:2] {
		want[e.recordAt(fmt.Sprintf("missed-%d", i), start).ID.String()] = true
	}
	e.clock.Add(time.Hour)
	e.start()
	e.waitAttempts(h.ID, len(want))
	for _, r := range rc.requests() {
		var b Body
		if err := json.Unmarshal(r.body, &b); err != nil {
			t.Fatal(err)
		}
		for _, id := range b.RecordingIDs {
			delete(want, id)
		}
	}
	if len(want) != 0 {
		t.Errorf("not announced: %v", want)
	}
}

// TestOldImportNotAnnounced: an import that keeps its calls' own time
// (callvault import --keep-call-time) of a call days before it was stored
// is no completed call, whether the recorder reports it or the start-up
// scan finds it.
func TestOldImportNotAnnounced(t *testing.T) {
	e := newEnv(t, loopbackConfig())
	h := e.hook("http://127.0.0.1:1/", testSecret, nil)
	imported := func(guid string) *archive.Recording {
		rec := e.recordAt(guid, e.clock.Now().Add(-72*time.Hour))
		if err := e.arc.SetRetentionBase(t.Context(), rec.ID, rec.StartTime); err != nil {
			t.Fatal(err)
		}
		rec, err := e.arc.Get(t.Context(), rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	if err := e.svc.Completed(t.Context(), imported("old")); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.svc.Get(t.Context(), h.ID); got.Pending != 0 {
		t.Fatalf("%d queued for an old import", got.Pending)
	}
	// An import marked as such (callvault import, with or without
	// --keep-call-time) of a call three days old is not announced; one of
	// a call that just ended is.
	if err := e.svc.Completed(t.Context(), e.storeAt("old-marked", e.clock.Now().Add(-72*time.Hour), true)); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.svc.Get(t.Context(), h.ID); got.Pending != 0 {
		t.Fatalf("%d queued for an old import marked as such", got.Pending)
	}
	if err := e.svc.Completed(t.Context(), e.storeAt("new-marked", e.clock.Now().Add(-time.Minute), true)); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.svc.Get(t.Context(), h.ID); got.Pending != 1 {
		t.Fatalf("%d queued for an import of a call that just ended, want 1", got.Pending)
	}
	// An import with the daemon stopped (--data) is found by the scan.
	e.stop()
	imported("old-offline")
	e.clock.Add(time.Hour)
	e.start()
	if err := e.svc.Scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.svc.Get(t.Context(), h.ID); got.Pending != 1 {
		t.Fatalf("%d queued after the scan, want the 1 from before", got.Pending)
	}
}

// TestEndpointDown: nothing listens; the attempt fails without an answer
// code and is tried again later.
func TestEndpointDown(t *testing.T) {
	e := newEnv(t, loopbackConfig())
	rc := newReceiver(t, status(http.StatusOK))
	url := rc.srv.URL
	rc.srv.Close()
	h := e.hook(url, testSecret, nil)
	e.complete("alice", "guid-13")
	as := e.waitAttempts(h.ID, 1)
	if as[0].Status != "failed" || as[0].Code != 0 || as[0].Error == "" || as[0].Next.IsZero() {
		t.Fatalf("attempt %+v", as[0])
	}
	if strings.Contains(as[0].Error, testSecret) {
		t.Fatal("the error shows the secret")
	}
	if w, _ := e.svc.Get(t.Context(), h.ID); !w.Enabled || w.Pending != 1 {
		t.Fatalf("after one failure: %+v", w)
	}
}

// TestCDRDetails: a call's CDR fills the body and decides the answer
// group filter.
func TestCDRDetails(t *testing.T) {
	e := newEnv(t, loopbackConfig())
	rc := newReceiver(t, status(http.StatusOK))
	wait, talk := int64(5000), int64(61000)
	start := e.clock.Now().Add(-2 * time.Minute)
	if _, err := e.arc.PutCDR(t.Context(), archive.CDR{CallID: "guid-cdr", Direction: archive.CDRInbound,
		CallerNumber: "+4711111111", CalleeNumber: "+4722222222", AnswerGroupID: "7", AnswerGroupName: "Support",
		AgentID: "a-1", AgentName: "Agent One", WaitTimeMs: &wait, TalkTimeMs: &talk, ReferredBy: "+4733333333",
		StartTime: start, EndTime: start.Add(66 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	seven, eight := []string{"7"}, []string{"8"}
	h7 := e.hook(rc.srv.URL+"/7", testSecret, func(in *Input) { in.AnswerGroups = &seven })
	h8 := e.hook(rc.srv.URL+"/8", testSecret, func(in *Input) { in.AnswerGroups = &eight })
	e.complete("alice", "guid-cdr")
	e.waitAttempts(h7.ID, 1)
	if w, _ := e.svc.Get(t.Context(), h8.ID); w.Pending != 0 {
		t.Fatal("the answer group 8 webhook got a call of group 7")
	}
	if as, _ := e.svc.Attempts(t.Context(), h8.ID, 0); len(as) != 0 {
		t.Fatal("the answer group 8 webhook got a call of group 7")
	}
	var b map[string]any
	if err := json.Unmarshal(rc.requests()[0].body, &b); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"callerNumber": "+4711111111", "calleeNumber": "+4722222222", "answerGroupId": "7",
		"answerGroupName": "Support", "agentId": "a-1", "agentName": "Agent One", "waitTime": float64(5000),
		"talkTime": float64(61000), "referredBy": "+4733333333", "referredTo": nil, "direction": "inbound",
		"startTime": float64(start.UnixMilli()), "endTime": float64(start.Add(66 * time.Second).UnixMilli()), "userId": "alice"}
	for k, v := range want {
		if b[k] != v {
			t.Errorf("%s: %v, want %v", k, b[k], v)
		}
	}
}

// TestStaleQueueReadDeliversOnce: a pass over the queue may read a
// delivery just before another worker for the same webhook delivers it;
// the attempt made from that stale copy must not post it again.
func TestStaleQueueReadDeliversOnce(t *testing.T) {
	e := newEnv(t, loopbackConfig())
	release := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		<-release // the delivery stays queued until the test has read it
		w.WriteHeader(http.StatusOK)
	})
	h := e.hook(rc.srv.URL, testSecret, nil)
	var stale []*delivery
	e.complete("alice", "guid-stale")
	err := e.svc.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketQueue).ForEach(func(k, v []byte) error {
			d := new(delivery)
			if err := e.svc.open(bucketQueue, k, v, d); err != nil {
				return err
			}
			stale = append(stale, d)
			return nil
		})
	})
	close(release)
	if err != nil || len(stale) != 1 {
		t.Fatalf("queue: %d deliveries, %v", len(stale), err)
	}
	if as := e.waitAttempts(h.ID, 1); as[0].Status != "delivered" {
		t.Fatalf("first attempt %+v", as[0])
	}
	e.svc.attempt(t.Context(), stale[0])
	if n := len(rc.requests()); n != 1 {
		t.Fatalf("the delivery was posted %d times", n)
	}
	if as, _ := e.svc.Attempts(t.Context(), h.ID, 0); len(as) != 1 {
		t.Fatalf("%d attempts recorded", len(as))
	}
}
