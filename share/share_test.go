package share

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
	"github.com/callvault/callvault/codec"
	"github.com/callvault/callvault/internal/testclock"
	"github.com/callvault/callvault/mail"
)

// patternMedia renders 3 s of stereo PCMU audio from bytes that depend on
// the recording's id, so every recording's WAV is distinct and far from
// silence.
type patternMedia struct{}

const patternSamples = 24000

func patternOrig(id archive.ID) []byte {
	r := rand.New(rand.NewPCG(uint64(id[0])<<8|uint64(id[1]), uint64(id[2])))
	b := make([]byte, patternSamples)
	for i := range b {
		b[i] = byte(r.IntN(200)) // never 0xff (PCMU silence)
	}
	return b
}

func (patternMedia) WAV(ctx context.Context, recs []*archive.Recording, call int, opt codec.WAVOptions) (*codec.WAVReader, error) {
	return sizedMedia{patternSamples}.WAV(ctx, recs, call, opt)
}

// sizedMedia is patternMedia of a given length in 8 kHz samples.
type sizedMedia struct{ samples int }

func (m sizedMedia) WAV(_ context.Context, recs []*archive.Recording, _ int, opt codec.WAVOptions) (*codec.WAVReader, error) {
	segs := make([]codec.Segment, len(recs))
	for i, rec := range recs {
		orig := patternOrig(rec.ID)
		var mp []byte
		for p := 0; p < m.samples; p += 160 {
			off := int64(p % (patternSamples - 160))
			mp = codec.AppendEntry(mp, codec.Entry{Off: off, Len: 160, Pos: uint32(p), Stream: 0})
			mp = codec.AppendEntry(mp, codec.Entry{Off: off, Len: 160, Pos: uint32(p), Stream: 1})
		}
		pcmu := codec.ParseCodec("PCMU")
		segs[i] = codec.Segment{Orig: bytes.NewReader(orig), Map: bytes.NewReader(mp), MapSize: int64(len(mp)),
			Layout: codec.Layout{Streams: []codec.StreamLayout{{Codec: pcmu, Channel: 0}, {Codec: pcmu, Channel: 1}}, End: uint32(m.samples)}}
	}
	return codec.NewWAVReader(segs, opt)
}

func renderWAV(t *testing.T, rec *archive.Recording) []byte {
	t.Helper()
	w, err := patternMedia{}.WAV(context.Background(), []*archive.Recording{rec}, -1, codec.WAVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(w)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type countKicks struct{ n atomic.Int32 }

func (k *countKicks) Kick() { k.n.Add(1) }

// Test data that must never appear in share.db in the clear.
const (
	recipName    = "Zacharias Quimby-Wolfe"
	recipEmail   = "zq.wolfe@customer.example"
	recipReason  = "complaint ticket NX-7788 about rudeness"
	accessNumber = "+4722334455"
	queueName    = "Premium Support Queue"
)

// testNow is 10:00 in Oslo.
var testNow = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

type env struct {
	t     testing.TB
	clock *testclock.Clock
	arc   *archive.Archive
	svc   *Service
	srv   *httptest.Server
	path  string
	kicks *countKicks
	users map[string]*archive.User
	recs  []*archive.Recording // alice's two, then zed's
}

func newEnv(t testing.TB, opt Options) *env {
	t.Helper()
	ctx := context.Background()
	clock := testclock.Ticking(testNow, time.Microsecond)
	arc := archivetest.OpenTestOptions(t, archive.Options{Now: clock.Now})
	st, _ := arc.Settings(ctx)
	st.TimeZone = "Europe/Oslo"
	if err := arc.PutSettings(ctx, st); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, clock: clock, arc: arc, kicks: &countKicks{}, users: map[string]*archive.User{}}
	for _, u := range []archive.User{
		{Login: "admin", Name: "Ada Admin", Email: "ada@vault.example", Role: archive.RoleAdmin},
		{Login: "alice", Name: "Alice", Email: "alice@vault.example", Role: archive.RoleUser, Extensions: []string{"201"}, MaySendLinks: true},
		{Login: "bob", Name: "Bob", Email: "bob@vault.example", Role: archive.RoleUser, Extensions: []string{"201"}},
		{Login: "carol", Name: "Carol", Role: archive.RoleUser},
		{Login: "eve", Name: "Eve", Role: archive.RoleUser, MaySeeExternal: true},
	} {
		if err := arc.PutUser(ctx, u, "password-123456"); err != nil {
			t.Fatal(err)
		}
		got, err := arc.GetUser(ctx, u.Login)
		if err != nil {
			t.Fatal(err)
		}
		e.users[u.Login] = got
	}
	info := `{"version":1,"result":{"calls":[{"index":0,"from":{"number":"+4790000001"},"to":{"name":"` + queueName +
		`","number":"` + accessNumber + `"},"start":"2026-03-09T08:00:00Z","durationMs":3000}]}}`
	for i, owner := range []string{"alice", "alice", "zed"} {
		w, err := arc.Create(ctx, archive.NewRecording{User: owner, CallGUID: "guid-" + owner, Received: testNow.Add(-time.Duration(i+1) * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.WriteOriginal([]byte("capture")); err != nil {
			t.Fatal(err)
		}
		rec, err := w.Finish(ctx, archive.Final{State: archive.StateComplete, StartTime: time.Date(2026, 3, 9, 8, i, 0, 0, time.UTC),
			DurationMs: 3000, Info: []byte(info), Parties: []string{"+4790000001"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := arc.Seal(ctx, rec.ID, nil); err != nil {
			t.Fatal(err)
		}
		e.recs = append(e.recs, rec)
	}
	e.path = filepath.Join(t.TempDir(), "share.db")
	opt.Path = e.path
	srv := httptest.NewUnstartedServer(nil)
	opt.BaseURL = "http://" + srv.Listener.Addr().String()
	opt.UIBaseURL = "https://vault.example"
	opt.From = "vault@vault.example"
	svc, err := Open(arc, patternMedia{}, opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc.SetMailer(e.kicks)
	e.svc = svc
	srv.Config.Handler = svc.Handler()
	srv.Start()
	e.srv = srv
	t.Cleanup(func() { srv.Close(); svc.Close() })
	cfg := DefaultConfig()
	cfg.Terms = map[string]string{"en": "English terms of use.", "no": "Norske vilkår."}
	if err := svc.SetConfig(ctx, e.users["admin"], "127.0.0.1", *cfg); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) request(email string, days int, recs ...*archive.Recording) SendRequest {
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID.String()
	}
	return SendRequest{Recordings: ids, RecipientName: recipName, RecipientEmail: email, Reason: recipReason, Days: days,
		Subject: "Recordings for {{recipient}}", Body: "Hello {{recipient}}, listen at {{link}} until {{expires}}.", Language: "en",
		ShowAccessNumber: true, ShowQueueName: true}
}

func (e *env) send(req SendRequest) *Grant {
	e.t.Helper()
	g, err := e.svc.Send(context.Background(), e.users["alice"], "192.0.2.7:4000", req)
	if err != nil {
		e.t.Fatal(err)
	}
	return g
}

// deliver takes every due mail as a mail server would and returns them.
func (e *env) deliver() []mail.Message {
	e.t.Helper()
	ps, err := e.svc.Due(context.Background(), e.clock.Now(), 100)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []mail.Message
	for _, p := range ps {
		out = append(out, p.Msg)
		if err := e.svc.Sent(context.Background(), p.ID, e.clock.Now()); err != nil {
			e.t.Fatal(err)
		}
	}
	return out
}

var linkRE = regexp.MustCompile(`/p/([A-Za-z0-9_-]{32})`)

func (e *env) linkOf(m mail.Message) string {
	e.t.Helper()
	sub := linkRE.FindStringSubmatch(m.Body)
	if sub == nil {
		e.t.Fatalf("no link in %q", m.Body)
	}
	return sub[1]
}

// visitor is one browser on a link.
type visitor struct {
	e    *env
	c    *http.Client
	base string
}

func (e *env) visitor(token string) *visitor {
	jar, _ := cookiejar.New(nil)
	return &visitor{e: e, c: &http.Client{Jar: jar, Timeout: 20 * time.Second}, base: e.srv.URL + "/p/" + token}
}

func (v *visitor) do(method, path, body string, hdr ...string) (*http.Response, []byte) {
	v.e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, v.base+path, rd)
	if err != nil {
		v.e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json") // as the page's script sends it
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := v.c.Do(req)
	if err != nil {
		v.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		v.e.t.Fatal(err)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		v.e.t.Errorf("%s %s: Cache-Control %q", method, path, cc)
	}
	return resp, b
}

func (v *visitor) want(status int, method, path, body string) []byte {
	v.e.t.Helper()
	resp, b := v.do(method, path, body)
	if resp.StatusCode != status {
		v.e.t.Fatalf("%s %s: %d %.200q, want %d", method, path, resp.StatusCode, b, status)
	}
	return b
}

// codeMail requests a code and returns it from the mail.
func (v *visitor) code() string {
	v.e.t.Helper()
	v.want(http.StatusAccepted, "POST", "/api/code", "")
	ms := v.e.deliver()
	if len(ms) != 1 || ms[0].Secret == "" || !strings.Contains(ms[0].Body, ms[0].Secret) {
		v.e.t.Fatalf("code mails: %+v", ms)
	}
	return ms[0].Secret
}

// login requests a code, enters it and accepts the terms.
func (v *visitor) login() {
	v.e.t.Helper()
	c := v.code()
	v.want(http.StatusOK, "POST", "/api/session", `{"code":"`+c+`"}`)
	v.want(http.StatusOK, "POST", "/api/terms", `{"language":"en","accept":true}`)
}

type listResp struct {
	TimeZone   string   `json:"timeZone"`
	Recordings []listed `json:"recordings"`
}

func (v *visitor) recordings() listResp {
	v.e.t.Helper()
	var r listResp
	if err := json.Unmarshal(v.want(http.StatusOK, "GET", "/api/recordings", ""), &r); err != nil {
		v.e.t.Fatal(err)
	}
	return r
}

func (e *env) audits(action string) []archive.AuditEvent {
	e.t.Helper()
	evs, _, err := e.arc.AuditLog(context.Background(), archive.AuditQuery{})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []archive.AuditEvent
	for _, ev := range evs {
		if ev.Action == action {
			out = append(out, ev)
		}
	}
	return out
}

func shareErr(t *testing.T, err error, status int) {
	t.Helper()
	var se *Error
	if !errors.As(err, &se) || se.Status != status {
		t.Fatalf("err %v, want a share.Error with status %d", err, status)
	}
}

type boltTx = bolt.Tx

func countChunks(t *testing.T, s *Service) int {
	t.Helper()
	n := 0
	s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bChunks).Stats().KeyN
		return nil
	})
	return n
}
