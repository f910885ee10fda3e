package ui

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/api"
	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
	"github.com/callvault/callvault/foureyes"
	"github.com/callvault/callvault/internal/webcore"
	"github.com/callvault/callvault/internal/webtest"
)

// longMedia renders 30 minutes of stereo silence (about 58 MB of WAV),
// more than a connection buffers.
var longMedia = webtest.SilentMedia{Frames: 8000 * 1800}

// newFourEyesTest serves UI and API with 4-eyes access over an archive
// with alice (supervised by sam), bob (unsupervised), sam and an admin,
// and one recording of alice's, which it returns.
func newFourEyesTest(t *testing.T, opts foureyes.Options, media webcore.Media) (*testUI, *foureyes.Access, *archive.Recording) {
	t.Helper()
	clock := newTestClock(testNow)
	arc := archivetest.OpenTestOptions(t, archive.Options{Now: clock.Now})
	ctx := context.Background()
	for _, u := range []archive.User{
		{Login: "admin", Name: "Ada Admin", Role: archive.RoleAdmin, Supervisor: "sam"},
		{Login: "alice", Name: "Åsa Øberg", Role: archive.RoleUser, Extensions: []string{"201"}, Supervisor: "sam"},
		{Login: "bob", Name: "Bob Builder", Role: archive.RoleUser, Extensions: []string{"202"}},
		{Login: "sam", Name: "Sam Supervisor", Role: archive.RoleSupervisor},
	} {
		if err := arc.PutUser(ctx, u, testPassword); err != nil {
			t.Fatal(err)
		}
	}
	fe := foureyes.New(arc, opts, nil)
	tu := &testUI{t: t, arc: arc, clock: clock}
	u, err := New(arc, media, Options{Version: "test", FourEyes: fe}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	tu.ui = u
	api := api.New(arc, media, nil)
	api.SetFourEyes(fe)
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", api.Routes())
	mux.Handle("/", u.Routes())
	tu.srv = httptest.NewServer(mux)
	t.Cleanup(tu.srv.Close)
	t.Cleanup(fe.Close) // runs first: ends the event streams the server waits for
	rec := tu.addRecording("alice", "4e4e0000000000000000000000000001",
		party{Name: "Åsa Øberg", Number: "201"}, party{Name: "Jānis Bērziņš", Number: "+37120000000"}, time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC))
	return tu, fe, rec
}

// sseEvent is one server-sent event.
type sseEvent struct{ name, data string }

// sseStream reads an event stream in the background.
type sseStream struct {
	t      *testing.T
	events chan sseEvent
	cancel context.CancelFunc
	done   chan struct{}
}

func (c *client) stream(t *testing.T, path string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", c.tu.srv.URL+path, nil)
	resp, err := c.c.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("GET %s: %s %s\n%.300s", path, resp.Status, resp.Header.Get("Content-Type"), b)
	}
	s := &sseStream{t: t, events: make(chan sseEvent, 256), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer close(s.events)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" {
					s.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	t.Cleanup(s.close)
	return s
}

// close ends the stream as a closing page does.
func (s *sseStream) close() {
	s.cancel()
	<-s.done
}

// next returns the next event named name, skipping others.
func (s *sseStream) next(name string) string {
	s.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				s.t.Fatalf("event stream ended while waiting for %q", name)
			}
			if ev.name == name {
				return ev.data
			}
		case <-timeout:
			s.t.Fatalf("no %q event in 10 s", name)
		}
	}
}

// wardState waits for a user's stream to report state.
func (s *sseStream) wardState(state string) foureyes.Status {
	s.t.Helper()
	for {
		var st foureyes.Status
		if err := json.Unmarshal([]byte(s.next("state")), &st); err != nil {
			s.t.Fatal(err)
		}
		if st.State == state {
			return st
		}
	}
}

// supState waits for a supervisor's stream to show a state that ok accepts.
func (s *sseStream) supState(what string, ok func(v superviseView) bool) superviseView {
	s.t.Helper()
	for {
		var v superviseView
		data := s.next("state")
		if err := json.Unmarshal([]byte(data), &v); err != nil {
			s.t.Fatal(err)
		}
		if ok(v) {
			return v
		}
	}
}

func logins(rows []wardRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.Login)
	}
	return out
}

// supervisorPage is sam's page: the stream and its heartbeat.
type supervisorPage struct {
	c      *client
	s      *sseStream
	id     string
	stopHB chan struct{}
	hbDone chan struct{}
}

// openSupervision opens the supervisor's stream; answer says whether the
// page answers its pings.
func openSupervision(t *testing.T, c *client, answer bool) *supervisorPage {
	t.Helper()
	p := &supervisorPage{c: c, s: c.stream(t, "/supervise/events"), stopHB: make(chan struct{}), hbDone: make(chan struct{})}
	var hello struct{ Stream string }
	if err := json.Unmarshal([]byte(p.s.next("hello")), &hello); err != nil || hello.Stream == "" {
		t.Fatalf("hello: %v %q", err, hello.Stream)
	}
	p.id = hello.Stream
	if !answer {
		close(p.hbDone)
		return p
	}
	go func() {
		defer close(p.hbDone)
		for {
			select {
			case <-p.stopHB:
				return
			case <-p.s.done:
				return
			case <-time.After(50 * time.Millisecond):
				req, _ := http.NewRequest("POST", c.tu.srv.URL+"/supervise/heartbeat", strings.NewReader(url.Values{"stream": {p.id}}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Origin", c.tu.srv.URL)
				if resp, err := c.c.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}
	}()
	t.Cleanup(p.silence)
	return p
}

// silence stops answering pings.
func (p *supervisorPage) silence() {
	select {
	case <-p.stopHB:
	default:
		close(p.stopHB)
	}
	<-p.hbDone
}

func (p *supervisorPage) close() {
	p.silence()
	p.s.close()
}

// auditActions returns the 4-eyes audit entries as "actor action target
// detail", oldest first, once the last is want (revocations are written
// just after they take effect).
func auditActions(t *testing.T, arc *archive.Archive, want string) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs, _, err := arc.AuditLog(context.Background(), archive.AuditQuery{Action: "foureyes"})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range slices.Backward(evs) {
			out = append(out, strings.TrimSpace(e.Actor+" "+e.Action+" "+e.Target+" "+e.Detail))
		}
		if (len(out) > 0 && out[len(out)-1] == want) || time.Now().After(deadline) {
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wantEnded waits for the ward stream as to report the grant ended for
// reason.
func wantEnded(t *testing.T, as *sseStream, reason string) {
	t.Helper()
	if st := as.wardState(foureyes.Ended); st.Reason != reason {
		t.Fatalf("ended for %q", st.Reason)
	}
}

// wantRevokeAudited waits for sam's revocation of alice's grant for reason
// to be the last 4-eyes entry of the audit log.
func wantRevokeAudited(t *testing.T, arc *archive.Archive, reason string) {
	t.Helper()
	want := "sam foureyes.revoke alice reason=" + reason
	if got := auditActions(t, arc, want); got[len(got)-1] != want {
		t.Fatalf("audit: %v", got)
	}
}

// grantAlice: alice asks for access and her supervisor sam grants it.
func grantAlice(t *testing.T, alice, sam *client) {
	t.Helper()
	resp, body := alice.post("/foureyes/request", nil)
	must(t, resp, body, 303)
	resp, body = sam.post("/supervise/alice/grant", nil)
	must(t, resp, body, 303)
}

func TestFourEyesRequestGrantRefuseEnd(t *testing.T) {
	tu, fe, rec := newFourEyesTest(t, foureyes.Options{}, webtest.SilentMedia{})
	id := rec.ID.String()
	alice, sam, bob, admin := tu.login("alice"), tu.login("sam"), tu.login("bob"), tu.login("admin")

	// Without a grant: the waiting page, no recording, API 403.
	resp, body := alice.get("/")
	must(t, resp, body, 200, "Access needs your supervisor", "Sam Supervisor", `data-foureyes-events="/foureyes/events"`, `action="/foureyes/request"`)
	if ids := recordingIDs(body); len(ids) != 0 {
		t.Fatalf("alice's waiting page links recordings %v", ids)
	}
	resp, body = alice.get("/recordings/" + id)
	must(t, resp, body, 403, "Access needs your supervisor")
	for _, p := range []string{"/api/v1/recordings", "/api/v1/recordings/" + id, "/api/v1/recordings/" + id + "/audio.wav",
		"/api/v1/recordings/" + id + "/download.zip", "/api/v1/calls/" + rec.CallGUID + "/audio.wav", "/api/v1/recordings/" + id + "/notes"} {
		resp, body = alice.get(p)
		must(t, resp, body, 403, "4-eyes access")
	}
	// Admins are not under 4-eyes access, even when an account names a
	// supervisor; unsupervised users are not either.
	resp, body = admin.get("/api/v1/recordings/" + id)
	must(t, resp, body, 200)
	resp, body = bob.get("/")
	must(t, resp, body, 200, "Recordings")
	if strings.Contains(body, "foureyes") || strings.Contains(body, "/supervise") {
		t.Fatal("bob's page links to 4-eyes access")
	}
	resp, body = alice.get("/supervise/events")
	must(t, resp, body, 403)

	// The supervisor's page: navigation link, page, stream.
	resp, body = sam.get("/supervise")
	must(t, resp, body, 200, `href="/supervise"`, "Waiting requests", "No requests are waiting.", `data-events="/supervise/events"`)
	sp := openSupervision(t, sam, true)
	sp.s.supState("empty", func(v superviseView) bool { return len(v.Pending) == 0 && len(v.Grants) == 0 })

	as := alice.stream(t, "/foureyes/events")
	as.wardState(foureyes.None)
	resp, body = alice.post("/foureyes/request", url.Values{"next": {"/"}})
	must(t, resp, body, 303)
	st := as.wardState(foureyes.Pending)
	if st.Supervisor != "sam" || st.SupervisorName != "Sam Supervisor" {
		t.Fatalf("alice's state: %+v", st)
	}
	v := sp.s.supState("alice waiting", func(v superviseView) bool { return len(v.Pending) == 1 })
	if v.Pending[0].Login != "alice" || v.Pending[0].Name != "Åsa Øberg" || v.Pending[0].GrantURL != "/supervise/alice/grant" {
		t.Fatalf("pending: %+v", v.Pending)
	}
	// Asking again while waiting changes nothing.
	resp, body = alice.post("/foureyes/request", nil)
	must(t, resp, body, 303)

	// Nobody else answers alice's request.
	resp, body = bob.post("/supervise/alice/grant", nil)
	must(t, resp, body, 404)
	resp, body = admin.post("/supervise/alice/grant", nil)
	must(t, resp, body, 404)

	resp, body = sam.post("/supervise/alice/refuse", nil)
	must(t, resp, body, 303)
	as.wardState(foureyes.Refused)
	resp, body = alice.get("/api/v1/recordings/" + id)
	must(t, resp, body, 403)

	// The API asks too, and tells the state.
	resp, body = alice.do(apiPost(tu, "/api/v1/foureyes/request"))
	must(t, resp, body, 202, `"state": "pending"`)
	as.wardState(foureyes.Pending)
	resp, body = sam.post("/supervise/alice/grant", nil)
	must(t, resp, body, 303)
	as.wardState(foureyes.Granted)
	sp.s.supState("alice granted", func(v superviseView) bool {
		return slices.Equal(logins(v.Grants), []string{"alice"}) && len(v.Pending) == 0
	})

	resp, body = alice.get("/")
	must(t, resp, body, 200, id, `data-foureyes-state="granted"`)
	resp, body = alice.get("/recordings/" + id)
	must(t, resp, body, 200)
	resp, body = alice.get("/api/v1/recordings/" + id + "/audio.wav")
	must(t, resp, body, 200)
	resp, body = alice.get("/api/v1/foureyes")
	must(t, resp, body, 200, `"state": "granted"`, `"supervision": null`)
	resp, body = sam.get("/api/v1/foureyes")
	must(t, resp, body, 200, `"subject": null`, `"login": "alice"`, `"connected": true`)
	resp, body = bob.do(apiPost(tu, "/api/v1/foureyes/request"))
	must(t, resp, body, 409)
	// bob still reads nothing of alice's.
	resp, body = bob.get("/api/v1/recordings/" + id)
	must(t, resp, body, 404)

	resp, body = sam.post("/supervise/alice/end", nil)
	must(t, resp, body, 303)
	wantEnded(t, as, foureyes.ReasonEnded)
	resp, body = alice.get("/api/v1/recordings/" + id)
	must(t, resp, body, 403)

	want := []string{
		"alice foureyes.request sam", "sam foureyes.refuse alice", "alice foureyes.request sam",
		"sam foureyes.grant alice", "sam foureyes.revoke alice reason=ended",
	}
	if got := auditActions(t, tu.arc, want[len(want)-1]); !slices.Equal(got, want) {
		t.Fatalf("audit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	_ = fe
}

func apiPost(tu *testUI, path string) *http.Request {
	req, _ := http.NewRequest("POST", tu.srv.URL+path, nil)
	req.Header.Set("Origin", tu.srv.URL)
	return req
}

func TestFourEyesGrantNeedsConnectedPage(t *testing.T) {
	tu, _, _ := newFourEyesTest(t, foureyes.Options{}, webtest.SilentMedia{})
	alice, sam := tu.login("alice"), tu.login("sam")
	resp, body := alice.post("/foureyes/request", nil)
	must(t, resp, body, 303)
	resp, body = sam.post("/supervise/alice/grant", nil)
	must(t, resp, body, 409, "Keep the supervision page open")
	resp, body = sam.post("/supervise/heartbeat", url.Values{"stream": {"nonsense"}})
	must(t, resp, body, 404)
}

func TestFourEyesRevokedWhenPageCloses(t *testing.T) {
	// The grace outlasts any reload on a busy machine; the test shortens
	// it before the page closes for good.
	tu, fe, rec := newFourEyesTest(t, foureyes.Options{Grace: time.Hour}, webtest.SilentMedia{})
	alice, sam := tu.login("alice"), tu.login("sam")
	sp := openSupervision(t, sam, true)
	as := alice.stream(t, "/foureyes/events")
	resp, body := alice.post("/foureyes/request", nil)
	must(t, resp, body, 303)
	sp.s.supState("alice waiting", func(v superviseView) bool { return len(v.Pending) == 1 })
	resp, body = sam.post("/supervise/alice/grant", nil)
	must(t, resp, body, 303)
	as.wardState(foureyes.Granted)

	// A reload: the page closes and comes back within the grace, which
	// stops the grace's timer: the grant holds.
	sp.close()
	sp = openSupervision(t, sam, true)
	if fe.GraceRuns("sam") {
		t.Fatal("the grace still runs after the page came back")
	}
	resp, body = alice.get("/api/v1/recordings/" + rec.ID.String())
	must(t, resp, body, 200)

	// The page closes for good: the grant ends once the grace is over.
	fe.SetGrace(50 * time.Millisecond)
	sp.close()
	wantEnded(t, as, foureyes.ReasonClosed)
	resp, body = alice.get("/api/v1/recordings/" + rec.ID.String())
	must(t, resp, body, 403)
	wantRevokeAudited(t, tu.arc, foureyes.ReasonClosed)
}

func TestFourEyesRevokedWhenPageFallsSilent(t *testing.T) {
	// Heartbeats every 50 ms; a silence of 2 s leaves room for a busy
	// machine before the page counts as gone.
	tu, _, _ := newFourEyesTest(t, foureyes.Options{Ping: 100 * time.Millisecond, Silence: 2 * time.Second, Grace: time.Hour}, webtest.SilentMedia{})
	alice, sam := tu.login("alice"), tu.login("sam")
	sp := openSupervision(t, sam, true)
	as := alice.stream(t, "/foureyes/events")
	grantAlice(t, alice, sam)
	as.wardState(foureyes.Granted)
	// The connection stays open but the page stops answering, as when
	// the network between goes away without a word.
	sp.silence()
	wantEnded(t, as, foureyes.ReasonTimeout)
	sp.s.next("closed")
	wantRevokeAudited(t, tu.arc, foureyes.ReasonTimeout)
}

func TestFourEyesRevokedOnLogout(t *testing.T) {
	tu, _, _ := newFourEyesTest(t, foureyes.Options{Grace: time.Hour}, webtest.SilentMedia{})
	alice, sam := tu.login("alice"), tu.login("sam")
	sp := openSupervision(t, sam, true)
	as := alice.stream(t, "/foureyes/events")
	grantAlice(t, alice, sam)
	as.wardState(foureyes.Granted)
	resp, body := sam.post("/logout", nil)
	must(t, resp, body, 303)
	wantEnded(t, as, foureyes.ReasonLogout)
	sp.s.next("closed")
	wantRevokeAudited(t, tu.arc, foureyes.ReasonLogout)
}

func TestFourEyesAudioStopsWhenGrantEnds(t *testing.T) {
	tu, _, rec := newFourEyesTest(t, foureyes.Options{}, longMedia)
	alice, sam := tu.login("alice"), tu.login("sam")
	openSupervision(t, sam, true)
	grantAlice(t, alice, sam)

	req, _ := http.NewRequest("GET", tu.srv.URL+"/api/v1/recordings/"+rec.ID.String()+"/audio.wav", nil)
	aresp, err := alice.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer aresp.Body.Close()
	if aresp.StatusCode != 200 || aresp.ContentLength < 50<<20 {
		t.Fatalf("audio: %s, %d bytes", aresp.Status, aresp.ContentLength)
	}
	// A slow listener: read a little, then stop reading, so the server
	// blocks writing, and end the grant meanwhile.
	first, err := io.ReadFull(aresp.Body, make([]byte, 64<<10))
	if err != nil {
		t.Fatal(err)
	}
	resp, body := sam.post("/supervise/alice/end", nil)
	must(t, resp, body, 303)
	done := make(chan struct{})
	var rest int64
	go func() {
		defer close(done)
		rest, err = io.Copy(io.Discard, aresp.Body)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the audio response went on for 30 s after the grant ended")
	}
	total := int64(first) + rest
	if err == nil || total >= aresp.ContentLength {
		t.Fatalf("audio response after the grant ended: %d of %d bytes, err %v; want it cut", total, aresp.ContentLength, err)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Logf("read ended with %v", err)
	}
	t.Logf("audio cut after %d of %d bytes", total, aresp.ContentLength)
	resp, body = alice.get("/api/v1/recordings/" + rec.ID.String() + "/audio.wav")
	must(t, resp, body, 403)
}

func TestFourEyesLimits(t *testing.T) {
	tu, _, _ := newFourEyesTest(t, foureyes.Options{MaxStreams: 2}, webtest.SilentMedia{})
	alice, sam := tu.login("alice"), tu.login("sam")
	alice.stream(t, "/foureyes/events")
	alice.stream(t, "/foureyes/events")
	resp, body := alice.get("/foureyes/events")
	must(t, resp, body, 429)
	openSupervision(t, sam, false)
	openSupervision(t, sam, false)
	resp, body = sam.get("/supervise/events")
	must(t, resp, body, 429)
	// Forms from elsewhere are refused, like every state change.
	req, _ := http.NewRequest("POST", tu.srv.URL+"/foureyes/request", nil)
	req.Header.Set("Origin", "http://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, body = alice.do(req)
	must(t, resp, body, 403)
	// No state change on GET.
	if resp, _ = alice.get("/foureyes/request"); resp.StatusCode == 200 || resp.StatusCode == 303 {
		t.Fatalf("GET /foureyes/request: %d", resp.StatusCode)
	}
}

func sampleWaitingPages(base Base) []any {
	evil := `<script>alert(1)</script>`
	st := foureyes.Status{State: foureyes.Pending, Supervisor: "sam", SupervisorName: "Sam" + evil}
	return []any{waitingPage{}, waitingPage{Base: base, Status: st, Heading: waitingHeading(nil, st), Message: waitingMessage(nil, st), RequestURL: "/foureyes/request", Next: "/?q=" + evil}}
}

func sampleSupervisePages(base Base) []any {
	evil := `<script>alert(1)</script>`
	rows := superviseRows(&reqCtx{loc: time.UTC}, []foureyes.WardItem{{Login: "alice", Name: "Åsa Øberg" + evil, Since: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)}})
	return []any{supervisePage{}, supervisePage{Base: base, Supervises: true, Pending: rows, Grants: rows,
		Events: "/supervise/events", Heartbeat: "/supervise/heartbeat"}}
}

// TestFourEyesBulkZipStopsWhenGrantEnds: the list's bulk zip is bound to
// the grant as the API's audio is: a zip in flight is cut when the grant
// ends, even to a client that has stopped reading.
func TestFourEyesBulkZipStopsWhenGrantEnds(t *testing.T) {
	tu, _, rec := newFourEyesTest(t, foureyes.Options{}, longMedia)
	ids := []string{rec.ID.String()}
	for i := 2; i <= 3; i++ {
		r := tu.addRecording("alice", fmt.Sprintf("4e4e%028d", i),
			party{Name: "Åsa Øberg", Number: "201"}, party{Name: "Jānis Bērziņš", Number: "+37120000000"}, time.Date(2026, 11, 20, 9, i, 0, 0, time.UTC))
		ids = append(ids, r.ID.String())
	}
	alice, sam := tu.login("alice"), tu.login("sam")
	openSupervision(t, sam, true)
	grantAlice(t, alice, sam)

	form := url.Values{"action": {"zip"}, "r": {strings.Join(ids, ",")}}
	req, _ := http.NewRequest("POST", tu.srv.URL+"/recordings/bulk", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", tu.srv.URL)
	zresp, err := alice.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer zresp.Body.Close()
	if zresp.StatusCode != 200 || zresp.Header.Get("Content-Type") != "application/zip" {
		b, _ := io.ReadAll(zresp.Body)
		t.Fatalf("zip: %s %s\n%.600s", zresp.Status, zresp.Header.Get("Content-Type"), b)
	}
	// A slow reader: one byte, then nothing while the grant ends.
	if _, err := io.ReadFull(zresp.Body, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	resp, body := sam.post("/supervise/alice/end", nil)
	must(t, resp, body, 303)
	done := make(chan struct{})
	var n int64
	tail := &tailBuffer{max: 64 << 10}
	go func() {
		defer close(done)
		n, err = io.Copy(tail, zresp.Body)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the zip went on for 30 s after the grant ended")
	}
	// A complete zip ends with its end-of-central-directory record.
	if err == nil && bytes.Contains(tail.b, []byte("PK\x05\x06")) {
		t.Fatalf("alice read a complete zip (%d bytes) after the grant ended; want it cut", n+1)
	}
	t.Logf("zip cut after %d bytes: %v", n+1, err)
	resp, body = alice.post("/recordings/bulk", form)
	must(t, resp, body, 403)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	b   []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

// TestFourEyesVerifyHeld: verifying a recording (which renders its page
// after the check) is held like the page itself: without a grant the
// waiting page, with one a response bound to it.
func TestFourEyesVerifyHeld(t *testing.T) {
	tu, _, rec := newFourEyesTest(t, foureyes.Options{}, webtest.SilentMedia{})
	alice, sam := tu.login("alice"), tu.login("sam")
	resp, body := alice.post("/recordings/"+rec.ID.String()+"/verify", nil)
	must(t, resp, body, 403, "Access needs your supervisor")
	openSupervision(t, sam, true)
	grantAlice(t, alice, sam)
	resp, body = alice.post("/recordings/"+rec.ID.String()+"/verify", nil)
	must(t, resp, body, 200)
}
