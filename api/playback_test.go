package api

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/callvault/callvault/internal/listening"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
	"github.com/callvault/callvault/internal/byterange"
	"github.com/callvault/callvault/internal/testclock"
	"github.com/callvault/callvault/internal/websession"
	"github.com/callvault/callvault/internal/webtest"
)

// playEnv serves the API over one archive with webtest.SilentMedia, a clock the
// test moves, and users admin, alice and bob; reopen lets a test change
// the closed archive file in between.
type playEnv struct {
	t       *testing.T
	arc     *archive.Archive
	srv     *httptest.Server
	clock   *testclock.Clock
	api     *API
	keyFile string
}

func newPlayEnv(t *testing.T) *playEnv {
	t.Helper()
	clock := newTestClock(time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC))
	arc, keyFile := webtest.NewArchive(t, clock.Now)
	e := &playEnv{t: t, arc: arc, clock: clock, keyFile: keyFile}
	e.start()
	return e
}

func (e *playEnv) start() {
	e.t.Helper()
	e.api = New(e.arc, webtest.SilentMedia{}, nil)
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", e.api.Routes())
	e.srv = httptest.NewServer(mux)
	e.t.Cleanup(e.srv.Close)
}

// session is a browser session of login, as the login page makes it: a
// client whose session cookie the API accepts.
func (e *playEnv) session(login string) *http.Client {
	e.t.Helper()
	token, _, err := e.arc.CreateSession(e.t.Context(), login, time.Hour, "127.0.0.1", "test")
	if err != nil {
		e.t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(e.srv.URL)
	jar.SetCookies(u, []*http.Cookie{{Name: websession.CookieName(&http.Request{}), Value: token}})
	return &http.Client{Jar: jar, Timeout: time.Minute}
}

// reopen stops serving, closes the archive, runs change on its file (as
// someone holding the file without any key could) and serves it again.
func (e *playEnv) reopen(change func(path string) error) {
	e.t.Helper()
	e.srv.Close()
	e.arc = webtest.Reopen(e.t, e.arc, e.keyFile, e.clock.Now, change)
	e.start()
}

// addRec stores a finished recording of owner (webtest.AddRec).
func (e *playEnv) addRec(owner string, size, calls int, seal bool) *archive.Recording {
	e.t.Helper()
	return webtest.AddRec(e.t, e.arc, e.clock.Now(), owner, size, calls, seal)
}

// get makes an API request as who (webtest.Get).
func (e *playEnv) get(who, path string, hdr ...string) (resp *http.Response, body []byte, readErr error) {
	e.t.Helper()
	return webtest.Get(e.t, e.srv.URL, who, webtest.Password, path, hdr...)
}

func (e *playEnv) wantStatus(who, path string, code int, contains string) {
	e.t.Helper()
	webtest.WantStatus(e.t, e.srv.URL, who, path, code, contains)
}

func (e *playEnv) audited(action string) []archive.AuditEvent {
	e.t.Helper()
	return webtest.Audited(e.t, e.arc, action)
}

// TestPlaybackRefusesBrokenSeal changes one bit of a recording's seal in
// the file: audio, peaks, the zip and the original are refused with a
// clear error and an audit entry each, and the page no longer says
// "Sealed".
func TestPlaybackRefusesBrokenSeal(t *testing.T) {
	e := newPlayEnv(t)
	rec := e.addRec("alice", 1000, 1, true)
	other := e.addRec("alice", 1000, 1, true)
	id := rec.ID.String()
	e.reopen(func(path string) error { return archivetest.TamperSeal(path, rec.ID) })

	for _, p := range []string{"/audio.wav", "/audio.wav?channels=mono", "/peaks", "/download.zip", "/original.pcap"} {
		e.wantStatus("alice", "/api/v1/recordings/"+id+p, http.StatusInternalServerError, "failed its integrity check")
	}
	e.wantStatus("alice", "/api/v1/recordings/"+other.ID.String()+"/audio.wav", http.StatusOK, "RIFF")
	// One entry per thing refused: stereo and mono audio are one.
	fails := e.audited(actionIntegrityFail)
	if len(fails) != 4 {
		t.Fatalf("integrity.fail entries: %d, want 4: %+v", len(fails), fails)
	}
	for _, f := range fails {
		if f.Target != id || f.OK || f.Actor != "alice" || !strings.Contains(f.Detail, "seal: the signature does not verify") {
			t.Fatalf("integrity.fail entry: %+v", f)
		}
	}
	if plays := e.audited(actionPlay); len(plays) != 1 || plays[0].Target != other.ID.String() {
		t.Fatalf("plays: %+v", plays)
	}
	if evs := e.audited("download"); len(evs) != 0 {
		t.Fatalf("a refused download was audited as one: %+v", evs)
	}

	e.wantStatus("alice", "/api/v1/recordings/"+id, http.StatusOK, `"sealCheck": "failed"`)
	e.wantStatus("alice", "/api/v1/recordings/"+other.ID.String(), http.StatusOK, `"sealCheck": "sealed"`)
}

// TestPlaybackChunkFailsMidStream flips a bit of a stored chunk in the
// middle of a recording's original: the response starts (its status and
// length are sent before the chunk is read) and is then aborted, so the
// client sees a failed transfer, and an audit entry names the chunk.
func TestPlaybackChunkFailsMidStream(t *testing.T) {
	e := newPlayEnv(t)
	size := 3*archive.ChunkSize + 100
	rec := e.addRec("alice", size, 1, true)
	id := rec.ID.String()
	resp, clean, err := e.get("alice", "/api/v1/recordings/"+id+"/original.pcap")
	if err != nil || resp.StatusCode != 200 || len(clean) != size {
		t.Fatalf("before: %d, %d bytes, %v", resp.StatusCode, len(clean), err)
	}
	e.reopen(func(path string) error { return archivetest.TamperChunk(path, rec.ID, archive.BlobOriginal, 1) })

	resp, body, err := e.get("alice", "/api/v1/recordings/"+id+"/original.pcap")
	if err == nil || len(body) >= size {
		t.Fatalf("original with a damaged chunk: %d, %d of %d bytes, read error %v; want an aborted transfer", resp.StatusCode, len(body), size, err)
	}
	if !bytes.Equal(body, clean[:len(body)]) || len(body) > archive.ChunkSize {
		t.Fatalf("%d bytes served before the damaged chunk 1", len(body))
	}
	// A range that starts in the damaged chunk is refused before the
	// status is sent, with a clear error (a player that retries the
	// broken connection gets it at once).
	resp, body, err = e.get("alice", "/api/v1/recordings/"+id+"/original.pcap", "Range", fmt.Sprintf("bytes=%d-", archive.ChunkSize+10))
	if err != nil || resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "failed its integrity check") ||
		resp.Header.Get("Content-Disposition") != "" {
		t.Fatalf("range in the damaged chunk: %d %v %q %v", resp.StatusCode, err, body, resp.Header)
	}
	// The same failure seen again by the same login within the window
	// is one entry; after the window, another.
	fails := e.audited(actionIntegrityFail)
	if len(fails) != 1 || fails[0].Target != id || fails[0].OK || fails[0].Detail != "original: original chunk 1: authentication failed" {
		t.Fatalf("integrity.fail entries: %+v", fails)
	}
	e.clock.Add(listening.Window + time.Second)
	e.get("alice", "/api/v1/recordings/"+id+"/original.pcap", "Range", fmt.Sprintf("bytes=%d-", archive.ChunkSize))
	if fails := e.audited(actionIntegrityFail); len(fails) != 2 {
		t.Fatalf("integrity.fail entries after the window: %+v", fails)
	}
	if gets := e.audited("original.get"); len(gets) != 2 {
		t.Fatalf("original.get entries: %d, want 2 (the refused range is none)", len(gets))
	}
}

// TestPlaybackUnsealed serves a finished recording that is not sealed yet
// (sealing catches up, or is off) and says so in a header.
func TestPlaybackUnsealed(t *testing.T) {
	e := newPlayEnv(t)
	sealed := e.addRec("alice", 100, 1, true)
	unsealed := e.addRec("alice", 100, 1, false)
	for rec, want := range map[*archive.Recording]string{sealed: "sealed", unsealed: "unsealed"} {
		for _, p := range []string{"/audio.wav", "/original.pcap"} {
			resp, _, err := e.get("alice", "/api/v1/recordings/"+rec.ID.String()+p)
			if err != nil || resp.StatusCode != 200 || resp.Header.Get(sealHeader) != want {
				t.Fatalf("%s: %d %v, %s %q; want %q", p, resp.StatusCode, err, sealHeader, resp.Header.Get(sealHeader), want)
			}
		}
	}
	e.wantStatus("alice", "/api/v1/recordings/"+unsealed.ID.String(), http.StatusOK, `"sealCheck": "unsealed"`)
}

// TestAudioStatusCodes: audio and peaks of a recording still being
// recorded are 409, of one without a decodable call 422.
func TestAudioStatusCodes(t *testing.T) {
	e := newPlayEnv(t)
	none := e.addRec("alice", 100, 0, true)
	w, err := e.arc.Create(t.Context(), archive.NewRecording{User: "alice", FileName: "live.pcap", Received: e.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteOriginal([]byte("so far")); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/audio.wav", "/peaks", "/audio.wav?channels=mono&call=1"} {
		e.wantStatus("alice", "/api/v1/recordings/"+w.ID().String()+p, http.StatusConflict, "still being recorded")
		e.wantStatus("alice", "/api/v1/recordings/"+none.ID.String()+p, http.StatusUnprocessableEntity, "no call the appliance can decode")
	}
	if plays := e.audited(actionPlay); len(plays) != 0 {
		t.Fatalf("refused audio audited as played: %+v", plays)
	}
}

// TestVerifyJSON: the verify endpoints answer in lowerCamelCase with
// hashes as hex.
func TestVerifyJSON(t *testing.T) {
	e := newPlayEnv(t)
	rec := e.addRec("alice", 2*archive.ChunkSize, 1, true)
	_, body, _ := e.get("alice", "/api/v1/recordings/"+rec.ID.String()+"/verify")
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"bytes", "chunks", "exportsPending", "id", "problems", "sealed", "valid"}; !slices.Equal(keys, want) {
		t.Fatalf("verify keys %v, want %v\n%s", keys, want, body)
	}
	if got["valid"] != true || got["sealed"] != true || got["id"] != rec.ID.String() || got["chunks"].(float64) < 3 {
		t.Fatalf("verify: %s", body)
	}
	if p, ok := got["problems"].([]any); !ok || len(p) != 0 {
		t.Fatalf("problems: %s", body)
	}
	_, body, _ = e.get("admin", "/api/v1/seal/verify")
	var chain map[string]any
	if err := json.Unmarshal(body, &chain); err != nil {
		t.Fatal(err)
	}
	for k, v := range chain {
		if k != strings.ToLower(k[:1])+k[1:] {
			t.Fatalf("seal/verify key %q is not lowerCamelCase", k)
		}
		if k == "head" {
			if h, ok := v.(string); !ok || len(h) != 64 {
				t.Fatalf("head %v is not 64 hex digits", v)
			} else if _, err := hex.DecodeString(h); err != nil {
				t.Fatalf("head %q: %v", h, err)
			}
		}
	}
}

// TestListeningSessions: a HEAD request is no play (nor is opening the
// recording's page: ui's TestPlaybackPages); a player
// fetching audio in 20 Range requests is one; listening again after the
// window is another, and each listener has their own.
func TestListeningSessions(t *testing.T) {
	e := newPlayEnv(t)
	rec := e.addRec("alice", 100, 1, true)
	id := rec.ID.String()

	// A HEAD request sends no audio.
	req, _ := http.NewRequest(http.MethodHead, e.srv.URL+"/api/v1/recordings/"+id+"/audio.wav", nil)
	req.SetBasicAuth("alice", testPassword)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("HEAD: %v %v", resp, err)
	}
	if plays := e.audited(actionPlay); len(plays) != 0 {
		t.Fatalf("a HEAD request logged a play: %+v", plays)
	}

	resp, wav, _ := e.get("alice", "/api/v1/recordings/"+id+"/audio.wav")
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	for i := range 20 {
		from := i * len(wav) / 20
		e.clock.Add(20 * time.Second) // a paused player resumes later
		resp, part, err := e.get("alice", "/api/v1/recordings/"+id+"/audio.wav", "Range", fmt.Sprintf("bytes=%d-", from))
		if err != nil || resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, wav[from:]) {
			t.Fatalf("range %d: %d %v", from, resp.StatusCode, err)
		}
	}
	if plays := e.audited(actionPlay); len(plays) != 1 || plays[0].Actor != "alice" || plays[0].Target != id {
		t.Fatalf("one listening session, plays: %+v", plays)
	}
	// Seconds later, through the page's session cookie: the same session.
	e.clock.Add(time.Minute)
	resp, err := e.session("alice").Get(e.srv.URL + "/api/v1/recordings/" + id + "/audio.wav")
	if err != nil || resp.StatusCode != 200 {
		t.Fatal(resp, err)
	}
	resp.Body.Close()
	if plays := e.audited(actionPlay); len(plays) != 1 {
		t.Fatalf("plays: %+v", plays)
	}
	// After the window, a new play; the admin listening meanwhile is a
	// play of their own.
	e.clock.Add(listening.Window + time.Second)
	e.get("alice", "/api/v1/recordings/"+id+"/audio.wav", "Range", "bytes=1000-")
	e.get("admin", "/api/v1/recordings/"+id+"/audio.wav")
	plays := e.audited(actionPlay)
	if len(plays) != 3 || plays[0].Actor != "admin" || plays[1].Actor != "alice" {
		t.Fatalf("plays: %+v", plays)
	}
	// More than 16 ranges are refused before any audio is read or a play
	// audited.
	resp, _, err = e.get("alice", "/api/v1/recordings/"+id+"/audio.wav", "Range", "bytes=0-0"+strings.Repeat(",0-0", byterange.MaxRanges))
	if err != nil || resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || !strings.HasPrefix(resp.Header.Get("Content-Range"), "bytes */") {
		t.Fatalf("17 ranges: %v %v", resp, err)
	}
	if n := len(e.audited(actionPlay)); n != 3 {
		t.Fatalf("plays after a refused request: %d", n)
	}
	// The source is the address without the port.
	if plays[0].Remote != "127.0.0.1" {
		t.Fatalf("source %q", plays[0].Remote)
	}
}
