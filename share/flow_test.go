package share

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/callvault/callvault/internal/listening"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/codec"
)

// TestRecipientFlow: the link mail, the code, a wrong code, the terms
// (with English fallback), the list and the audio with Range, one play
// audited per listening.
func TestRecipientFlow(t *testing.T) {
	e := newEnv(t, Options{})
	g := e.send(e.request("ZQ.Wolfe@Customer.example", 7, e.recs[0], e.recs[1]))
	if e.kicks.n.Load() == 0 {
		t.Error("the mailer was not kicked")
	}
	ms := e.deliver()
	if len(ms) != 1 {
		t.Fatalf("mails %d", len(ms))
	}
	m := ms[0]
	if m.To != recipEmail || m.Subject != "Recordings for "+recipName || !strings.Contains(m.Body, "Hello "+recipName) ||
		!strings.Contains(m.Body, "17.03.2026 23:59 (Europe/Oslo)") || m.From != "vault@vault.example" {
		t.Fatalf("mail %+v", m)
	}
	if !g.ExpiresAt.Equal(time.Date(2026, 3, 17, 22, 59, 59, 0, time.UTC)) {
		t.Errorf("expires %v", g.ExpiresAt)
	}
	tok := e.linkOf(m)
	v := e.visitor(tok)
	if b := v.want(http.StatusOK, "GET", "", ""); len(b) == 0 {
		t.Error("empty page")
	}
	v.want(http.StatusUnauthorized, "GET", "/api/recordings", "")
	code := v.code()
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	var bad struct {
		Error        string `json:"error"`
		AttemptsLeft int    `json:"attemptsLeft"`
	}
	json.Unmarshal(v.want(http.StatusUnauthorized, "POST", "/api/session", `{"code":"`+wrong+`"}`), &bad)
	if bad.AttemptsLeft != 4 || bad.Error != "wrong code" {
		t.Errorf("wrong code: %+v", bad)
	}
	resp, b := v.do("POST", "/api/session", `{"code":"`+code+`"}`)
	if resp.StatusCode != http.StatusOK || string(bytes.TrimSpace(b)) != `{"termsAccepted":false}` {
		t.Fatalf("session: %d %s", resp.StatusCode, b)
	}
	ck := resp.Header.Get("Set-Cookie")
	if !strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Strict") || !strings.Contains(ck, "Path=/p/"+tok) {
		t.Errorf("cookie %q", ck)
	}
	v.want(http.StatusForbidden, "GET", "/api/recordings", "")
	var terms struct{ Language, Text string }
	json.Unmarshal(v.want(http.StatusOK, "GET", "/api/terms?language=lv", ""), &terms)
	if terms.Language != "en" || terms.Text != "English terms of use." {
		t.Errorf("lv terms: %+v", terms)
	}
	json.Unmarshal(v.want(http.StatusOK, "GET", "/api/terms?language=no", ""), &terms)
	if terms.Language != "no" || terms.Text != "Norske vilkår." {
		t.Errorf("no terms: %+v", terms)
	}
	v.want(http.StatusBadRequest, "POST", "/api/terms", `{"language":"en","accept":false}`)
	v.want(http.StatusOK, "POST", "/api/terms", `{"language":"no","accept":true}`)
	list := v.recordings()
	if list.TimeZone != "Europe/Oslo" || len(list.Recordings) != 2 {
		t.Fatalf("list %+v", list)
	}
	r0 := list.Recordings[0]
	if r0.AccessNumber != accessNumber || r0.QueueName != queueName || r0.DurationMs != 3000 || !r0.ExpiresAt.Equal(g.ExpiresAt) {
		t.Errorf("listed %+v", r0)
	}
	for _, rec := range e.recs[:2] {
		want := renderWAV(t, rec)
		got := v.want(http.StatusOK, "GET", "/audio/"+rec.ID.String(), "")
		if !bytes.Equal(got, want) {
			t.Fatalf("audio of %s: %d bytes, want %d", rec.ID, len(got), len(want))
		}
		resp, part := v.do("GET", "/audio/"+rec.ID.String(), "", "Range", "bytes=70000-70099")
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, want[70000:70100]) || resp.Header.Get("Content-Type") != "audio/wav" {
			t.Fatalf("range: %d, %d bytes", resp.StatusCode, len(part))
		}
	}
	v.want(http.StatusNotFound, "GET", "/audio/"+e.recs[2].ID.String(), "")
	plays := e.audits("play")
	if len(plays) != 2 {
		t.Fatalf("plays %d, want one per recording", len(plays))
	}
	for _, p := range plays {
		if p.Actor != "external:"+recipEmail {
			t.Errorf("play actor %q", p.Actor)
		}
	}
	// A later listening (past the window) is a new play.
	e.clock.Add(listening.Window + time.Second)
	v.want(http.StatusOK, "GET", "/audio/"+e.recs[0].ID.String(), "")
	if n := len(e.audits("play")); n != 3 {
		t.Errorf("plays after a pause: %d", n)
	}
	sends := e.audits("share.send")
	if len(sends) != 1 || sends[0].Actor != "alice" || !strings.Contains(sends[0].Target, e.recs[0].ID.String()) ||
		!strings.Contains(sends[0].Detail, recipEmail) || !strings.Contains(sends[0].Detail, recipReason) || strings.Contains(sends[0].Detail, tok) {
		t.Errorf("send audit %+v", sends)
	}
	// The session ends after its lifetime.
	e.clock.Add(2 * time.Hour)
	v.want(http.StatusUnauthorized, "GET", "/api/recordings", "")
	// A forwarded link: another browser gets nothing without the code,
	// and a code goes to the link's address only.
	other := e.visitor(tok)
	other.want(http.StatusUnauthorized, "GET", "/api/recordings", "")
	other.want(http.StatusAccepted, "POST", "/api/code", `{"email":"attacker@evil.example"}`)
	for _, m := range e.deliver() {
		if m.To != recipEmail {
			t.Errorf("code mailed to %q", m.To)
		}
	}
	e.visitor("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").want(http.StatusNotFound, "POST", "/api/code", "")
	e.visitor("short").want(http.StatusNotFound, "GET", "", "")
}

// TestExpiryAtEndOfDay: a grant of N days ends at 23:59:59 of today+N in
// the appliance's time zone, on the archive's clock; Expire destroys its
// copies then, not a second earlier.
func TestExpiryAtEndOfDay(t *testing.T) {
	e := newEnv(t, Options{})
	g := e.send(e.request(recipEmail, 1, e.recs[0]))
	want := time.Date(2026, 3, 11, 23, 59, 59, 0, mustLoc(t, "Europe/Oslo"))
	if !g.ExpiresAt.Equal(want) {
		t.Fatalf("expires %v, want %v", g.ExpiresAt, want)
	}
	v := e.visitor(e.linkOf(e.deliver()[0]))
	e.clock.Add(want.Sub(e.clock.Now()) - time.Second - time.Hour) // 22:59:58
	v.login()
	e.clock.Add(time.Hour) // 23:59:58
	if n, err := e.svc.Expire(context.Background()); err != nil || n != 0 {
		t.Fatalf("expire before the end: %d %v", n, err)
	}
	if l := v.recordings(); len(l.Recordings) != 1 {
		t.Fatalf("before the end: %+v", l)
	}
	e.clock.Add(2 * time.Second)
	if n, err := e.svc.Expire(context.Background()); err != nil || n != 1 {
		t.Fatalf("expire after the end: %d %v", n, err)
	}
	if l := v.recordings(); len(l.Recordings) != 0 {
		t.Fatalf("after the end: %+v", l)
	}
	v.want(http.StatusNotFound, "GET", "/audio/"+e.recs[0].ID.String(), "")
	ents, _ := e.svc.List(context.Background(), Query{Status: StatusExpired})
	if len(ents) != 1 || ents[0].RecipientEmail != recipEmail || ents[0].Reason != recipReason {
		t.Fatalf("log %+v", ents)
	}
	if n := countChunks(t, e.svc); n != 0 {
		t.Errorf("%d chunks left", n)
	}
	if len(e.audits("share.expire")) != 1 {
		t.Error("no share.expire audit")
	}
}

func mustLoc(t *testing.T, name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestCancel: cancel destroys the copies at once, even mid-listening, and
// the log says who cancelled when.
func TestCancel(t *testing.T) {
	e := newEnv(t, Options{})
	g := e.send(e.request(recipEmail, 7, e.recs[0]))
	v := e.visitor(e.linkOf(e.deliver()[0]))
	v.login()
	v.want(http.StatusOK, "GET", "/audio/"+e.recs[0].ID.String(), "")
	ctx := context.Background()
	shareErr(t, e.svc.Cancel(ctx, e.users["bob"], "", g.ID), http.StatusForbidden)
	if err := e.svc.Cancel(ctx, e.users["eve"], "198.51.100.1", g.ID); err != nil {
		t.Fatal(err)
	}
	shareErr(t, e.svc.Cancel(ctx, e.users["admin"], "", g.ID), http.StatusConflict)
	v.want(http.StatusNotFound, "GET", "/audio/"+e.recs[0].ID.String(), "")
	if l := v.recordings(); len(l.Recordings) != 0 {
		t.Fatalf("after cancel: %+v", l)
	}
	ents, _ := e.svc.List(ctx, Query{Status: StatusCancelled})
	if len(ents) != 1 || ents[0].CancelledBy != "eve" || ents[0].CancelledAt.IsZero() {
		t.Fatalf("log %+v", ents)
	}
	if n := countChunks(t, e.svc); n != 0 {
		t.Errorf("%d chunks left", n)
	}
	if a := e.audits("share.cancel"); len(a) != 1 || a[0].Actor != "eve" {
		t.Errorf("cancel audit %+v", a)
	}
	shareErr(t, e.svc.Cancel(ctx, e.users["admin"], "", "nope"), http.StatusNotFound)
}

// TestCancelMidStream: a reader opened before the cancel fails rather
// than serving the rest.
func TestCancelMidStream(t *testing.T) {
	e := newEnv(t, Options{})
	g := e.send(e.request(recipEmail, 7, e.recs[0]))
	e.deliver()
	var l *linkRecord
	var p *playable
	e.svc.db.View(func(tx *boltTx) error {
		c := tx.Bucket(bLinks).Cursor()
		_, v := c.First()
		l = new(linkRecord)
		k, _ := c.First()
		openJSON(e.svc.logKey, "link", k, v, l)
		ps, err := e.svc.playables(tx, l, e.clock.Now())
		if len(ps) == 1 {
			p = ps[0]
		}
		return err
	})
	if p == nil {
		t.Fatal("no playable")
	}
	rd := &chunkReader{s: e.svc, p: p}
	buf := make([]byte, 1000)
	if _, err := rd.Read(buf); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Cancel(context.Background(), e.users["admin"], "", g.ID); err != nil {
		t.Fatal(err)
	}
	rd.Seek(chunkSize+10, 0)
	if _, err := rd.Read(buf); err == nil {
		t.Fatal("read a chunk of a cancelled grant")
	}
}

// TestTwoGrantsOneLink: a second grant to the same address (any case)
// joins the first's link and each expires on its own.
func TestTwoGrantsOneLink(t *testing.T) {
	e := newEnv(t, Options{})
	e.send(e.request(recipEmail, 0, e.recs[0]))
	tok1 := e.linkOf(e.deliver()[0])
	g2, err := e.svc.Send(context.Background(), e.users["admin"], "", e.request(strings.ToUpper(recipEmail), 3, e.recs[1], e.recs[2]))
	if err != nil {
		t.Fatal(err)
	}
	tok2 := e.linkOf(e.deliver()[0])
	v := e.visitor(tok1)
	v.login()
	if l := v.recordings(); len(l.Recordings) != 3 {
		t.Fatalf("merged: %+v", l)
	}
	// The second mail's link is the same page: a code from it counts for
	// the link, and its session sees the same recordings.
	v2 := e.visitor(tok2)
	v2.login()
	if l := v2.recordings(); len(l.Recordings) != 3 {
		t.Fatalf("second link: %+v", l)
	}
	e.clock.Add(15 * time.Hour) // past 23:59:59 today in Oslo
	if n, _ := e.svc.Expire(context.Background()); n != 1 {
		t.Fatalf("expired %d", n)
	}
	v.login() // the session of 2 hours has ended
	l := v.recordings()
	if len(l.Recordings) != 2 || !l.Recordings[0].ExpiresAt.Equal(g2.ExpiresAt) {
		t.Fatalf("after the first ended: %+v", l)
	}
	all, _ := e.svc.List(context.Background(), Query{})
	if len(all) != 2 || all[0].Status != StatusValid || all[1].Status != StatusExpired {
		t.Fatalf("log %+v", all)
	}
}

// TestDeletedRecordingStaysPlayable: the copy outlives the archive's
// recording.
func TestDeletedRecordingStaysPlayable(t *testing.T) {
	e := newEnv(t, Options{})
	e.send(e.request(recipEmail, 2, e.recs[0]))
	v := e.visitor(e.linkOf(e.deliver()[0]))
	want := renderWAV(t, e.recs[0])
	if err := e.arc.Delete(context.Background(), e.recs[0].ID, "admin", "retention"); err != nil {
		t.Fatal(err)
	}
	v.login()
	if got := v.want(http.StatusOK, "GET", "/audio/"+e.recs[0].ID.String(), ""); !bytes.Equal(got, want) {
		t.Fatal("audio differs after the archive's recording was deleted")
	}
}

// TestCodeLimits: five wrong entries void a code; a new code voids the
// old one of the same address; three codes an hour and ten a day per link
// and address.
func TestCodeLimits(t *testing.T) {
	e := newEnv(t, Options{})
	e.send(e.request(recipEmail, 30, e.recs[0]))
	tok := e.linkOf(e.deliver()[0])
	v := e.visitor(tok)
	code := v.code()
	wrong := "000000"
	if code == wrong {
		wrong = "999999"
	}
	for i := 4; i >= 0; i-- {
		var r struct{ AttemptsLeft int }
		json.Unmarshal(v.want(http.StatusUnauthorized, "POST", "/api/session", `{"code":"`+wrong+`"}`), &r)
		if r.AttemptsLeft != i {
			t.Fatalf("attempts left %d, want %d", r.AttemptsLeft, i)
		}
	}
	v.want(http.StatusUnauthorized, "POST", "/api/session", `{"code":"`+code+`"}`) // voided
	// A new code voids the old one.
	old := v.code()
	fresh := v.code()
	if old != fresh {
		v.want(http.StatusUnauthorized, "POST", "/api/session", `{"code":"`+old+`"}`)
	}
	// That was the third code this hour: the fourth is refused.
	resp, _ := v.do("POST", "/api/code", "")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("fourth code: %d", resp.StatusCode)
	}
	if len(e.deliver()) != 0 {
		t.Fatal("a refused request mailed a code")
	}
	v.want(http.StatusOK, "POST", "/api/session", `{"code":"`+fresh+`"}`)
	// Ten a day: three more in each of the next hours until ten.
	n := 3
	for hour := 1; n < 10; hour++ {
		e.clock.Add(time.Hour)
		for i := 0; i < 3 && n < 10; i++ {
			v.code()
			n++
		}
	}
	e.clock.Add(time.Hour)
	resp, _ = v.do("POST", "/api/code", "")
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("eleventh code in a day: %d", resp.StatusCode)
	}
	e.clock.Add(24 * time.Hour)
	v.code()
	// Codes expire after ten minutes.
	c := v.code()
	e.clock.Add(codeLifetime + time.Second)
	v.want(http.StatusUnauthorized, "POST", "/api/session", `{"code":"`+c+`"}`)
}

// TestAddressLimiter: one address that guesses across links is stopped
// with a doubling wait, another address is not, a right entry takes its
// count back, and failures are forgotten over time.
func TestAddressLimiter(t *testing.T) {
	l := newAddrLimiter()
	now := testNow
	for i := range wrongFree {
		if _, w := l.beginEntry("192.0.2.1", now); w != 0 {
			t.Fatalf("refused after %d", i)
		}
	}
	if _, w := l.beginEntry("192.0.2.2", now); w != 0 {
		t.Fatal("another address refused")
	}
	en, w := l.beginEntry("192.0.2.1", now)
	if w != 0 {
		t.Fatal("the first failure past the free ones refused")
	}
	if _, w := l.beginEntry("192.0.2.1", now); w != wrongBase {
		t.Fatalf("wait %v, want %v", w, wrongBase)
	}
	l.undo(en, now) // that one was right
	if _, w := l.beginEntry("192.0.2.1", now); w != 0 {
		t.Fatalf("after a right entry: wait %v", w)
	}
	for range 3 {
		now = now.Add(time.Hour)
		l.beginEntry("192.0.2.1", now)
	}
	if _, w := l.beginEntry("192.0.2.1", now); w != 0 {
		t.Fatalf("failures spread over hours: wait %v", w)
	}
	for i := range addrCodesPerHour {
		if w := l.takeCode("192.0.2.1", now); w != 0 {
			t.Fatalf("code request %d refused", i)
		}
	}
	if l.takeCode("192.0.2.1", now) == 0 {
		t.Fatal("code requests not limited")
	}
}

// TestBackoffWait: the waits past the free failures double up to the
// longest.
func TestBackoffWait(t *testing.T) {
	for s, want := range map[float64]time.Duration{0: 0, wrongFree: 0, wrongFree + 0.5: wrongBase, wrongFree + 1: wrongBase,
		wrongFree + 2: 2 * wrongBase, wrongFree + 4: 8 * wrongBase, wrongFree + 100: wrongMaxWait} {
		if got := wrongRule.Wait(s); got != want {
			t.Errorf("score %v: wait %v, want %v", s, got, want)
		}
	}
}

// TestCodeMailDropped: a code mail still queued when its code expires is
// dropped, not sent.
func TestCodeMailDropped(t *testing.T) {
	e := newEnv(t, Options{})
	e.send(e.request(recipEmail, 3, e.recs[0]))
	v := e.visitor(e.linkOf(e.deliver()[0]))
	v.want(http.StatusAccepted, "POST", "/api/code", "")
	e.clock.Add(codeLifetime)
	if ms := e.deliver(); len(ms) != 0 {
		t.Fatalf("sent an expired code: %+v", ms)
	}
	box, _ := e.svc.Outbox(context.Background())
	if box[0].Kind != "code" || box[0].Status != MailDropped || sixDigits.MatchString(box[0].Body) {
		t.Fatalf("%+v", box[0])
	}
}

// TestStoreHoldsNoPlaintext greps share.db for the recipient, reason,
// call details, a code and the audio: none is there in the clear.
func TestStoreHoldsNoPlaintext(t *testing.T) {
	e := newEnv(t, Options{})
	e.send(e.request(recipEmail, 7, e.recs[0], e.recs[1]))
	v := e.visitor(e.linkOf(e.deliver()[0]))
	v.want(http.StatusAccepted, "POST", "/api/code", "")
	ps, _ := e.svc.Due(context.Background(), e.clock.Now(), 10)
	code := ps[0].Msg.Secret
	v.want(http.StatusOK, "POST", "/api/session", `{"code":"`+code+`"}`)
	wav := renderWAV(t, e.recs[0])
	e.svc.Close()
	db, err := os.ReadFile(e.path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{recipName, recipEmail, strings.ToLower(recipEmail), recipReason, "NX-7788", accessNumber, "22334455", queueName, "Your one-time code", code} {
		if bytes.Contains(db, []byte(s)) {
			t.Errorf("share.db holds %q", s)
		}
	}
	for _, off := range []int{44, 1000, 70000, len(wav) - 64} {
		if bytes.Contains(db, wav[off:off+32]) {
			t.Errorf("share.db holds WAV bytes at %d", off)
		}
	}
	if bytes.Contains(db, []byte("RIFF")) {
		t.Error("share.db holds a WAV header")
	}
	// The search is not blind: the same file, opened, finds them.
	svc, err := Open(e.arc, patternMedia{}, Options{Path: e.path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	ents, _ := svc.List(context.Background(), Query{Q: "nx-7788"})
	if len(ents) != 1 || ents[0].RecipientName != recipName {
		t.Fatalf("%+v", ents)
	}
}

// TestSendValidation: each refusal is a share.Error with a status.
func TestSendValidation(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	many := make([]string, MaxRecordings+1)
	for i := range many {
		many[i] = e.recs[0].ID.String()
	}
	for name, tc := range map[string]struct {
		who    string
		mod    func(*SendRequest)
		status int
	}{
		"no right":      {"bob", func(*SendRequest) {}, http.StatusForbidden},
		"too many":      {"alice", func(r *SendRequest) { r.Recordings = many }, http.StatusBadRequest},
		"none":          {"alice", func(r *SendRequest) { r.Recordings = nil }, http.StatusBadRequest},
		"no name":       {"alice", func(r *SendRequest) { r.RecipientName = " " }, http.StatusBadRequest},
		"bad email":     {"alice", func(r *SendRequest) { r.RecipientEmail = "Zed <zed@example.org>" }, http.StatusBadRequest},
		"no reason":     {"alice", func(r *SendRequest) { r.Reason = "" }, http.StatusBadRequest},
		"no link":       {"alice", func(r *SendRequest) { r.Body = "hello" }, http.StatusBadRequest},
		"no terms":      {"alice", func(r *SendRequest) { r.Language = "fi" }, http.StatusBadRequest},
		"bad language":  {"alice", func(r *SendRequest) { r.Language = "xx" }, http.StatusBadRequest},
		"days":          {"alice", func(r *SendRequest) { r.Days = 366 }, http.StatusBadRequest},
		"negative days": {"alice", func(r *SendRequest) { r.Days = -1 }, http.StatusBadRequest},
		"unreadable":    {"alice", func(r *SendRequest) { r.Recordings = []string{e.recs[2].ID.String()} }, http.StatusNotFound},
		"bad id":        {"alice", func(r *SendRequest) { r.Recordings = []string{"../x"} }, http.StatusNotFound},
		"newline":       {"alice", func(r *SendRequest) { r.Subject = "a\r\nBcc: x@y" }, http.StatusBadRequest},
	} {
		t.Run(name, func(t *testing.T) {
			req := e.request(recipEmail, 7, e.recs[0])
			tc.mod(&req)
			_, err := e.svc.Send(ctx, e.users[tc.who], "", req)
			shareErr(t, err, tc.status)
		})
	}
	if _, err := e.svc.Send(ctx, e.users["admin"], "", e.request(recipEmail, MaxDays, e.recs[2])); err != nil {
		t.Errorf("admin sending any recording: %v", err)
	}
	if ents, _ := e.svc.List(ctx, Query{}); len(ents) != 1 {
		t.Errorf("refused sends logged: %d", len(ents))
	}
	if n := countChunks(t, e.svc); n == 0 {
		t.Error("no chunks stored")
	}
}

// TestListQuery searches the log by recipient, sender, reason and
// recording.
func TestListQuery(t *testing.T) {
	e := newEnv(t, Options{})
	e.send(e.request(recipEmail, 7, e.recs[0]))
	req := e.request("other@example.org", 7, e.recs[1])
	req.RecipientName, req.Reason = "Olga Other", "audit by legal"
	if _, err := e.svc.Send(context.Background(), e.users["admin"], "", req); err != nil {
		t.Fatal(err)
	}
	e.deliver()
	for q, want := range map[string]int{"": 2, "olga": 1, "ZQ.WOLFE": 1, "admin": 1, "alice": 1, "legal": 1,
		e.recs[0].ID.String(): 1, "nobody": 0} {
		ents, err := e.svc.List(context.Background(), Query{Q: q})
		if err != nil || len(ents) != want {
			t.Errorf("q %q: %d entries, %v", q, len(ents), err)
		}
		for _, en := range ents {
			if en.MailStatus != MailSent {
				t.Errorf("mail status %q", en.MailStatus)
			}
		}
	}
	if _, err := e.svc.List(context.Background(), Query{Status: "bogus"}); err == nil {
		t.Error("bad status accepted")
	}
}

// TestInternalLink: a link mail to an archive user; none to a user
// without an address; no external-log entry.
func TestInternalLink(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	req := InternalRequest{Recordings: []string{e.recs[0].ID.String()}, Recipient: "bob", Subject: "For {{recipient}}",
		Body: "{{recipient}}: {{link}} from {{myname}}"}
	id, err := e.svc.SendInternal(ctx, e.users["alice"], "", req)
	if err != nil {
		t.Fatal(err)
	}
	ms := e.deliver()
	if len(ms) != 1 || ms[0].To != "bob@vault.example" || ms[0].Body != "Bob: https://vault.example/links/"+id+" from Alice" {
		t.Fatalf("%+v", ms)
	}
	l, err := e.svc.InternalLink(ctx, id)
	if err != nil || l.Recipient != "bob" || len(l.Recordings) != 1 || l.Recordings[0] != e.recs[0].ID.String() {
		t.Fatalf("%+v %v", l, err)
	}
	if _, err := e.svc.InternalLink(ctx, strings.Repeat("A", 32)); err == nil {
		t.Error("unknown link found")
	}
	req.Recipient = "carol"
	_, err = e.svc.SendInternal(ctx, e.users["alice"], "", req)
	shareErr(t, err, http.StatusUnprocessableEntity)
	req.Recipient, req.Body = "bob", "no link"
	_, err = e.svc.SendInternal(ctx, e.users["alice"], "", req)
	shareErr(t, err, http.StatusBadRequest)
	if ents, _ := e.svc.List(ctx, Query{}); len(ents) != 0 {
		t.Error("internal link in the external log")
	}
	if a := e.audits("share.internal"); len(a) != 1 || a[0].Actor != "alice" || a[0].Detail != "to bob" {
		t.Errorf("audit %+v", a)
	}
}

// TestOutbox: without SMTP, mail is kept for admins with codes masked and
// never offered for sending.
func TestOutbox(t *testing.T) {
	e := newEnv(t, Options{Outbox: true})
	e.send(e.request(recipEmail, 7, e.recs[0]))
	box, err := e.svc.Outbox(context.Background())
	if err != nil || len(box) != 1 || box[0].Status != MailOutbox || !strings.Contains(box[0].Body, "/p/") {
		t.Fatalf("%+v %v", box, err)
	}
	tok := linkRE.FindStringSubmatch(box[0].Body)[1]
	v := e.visitor(tok)
	v.want(http.StatusAccepted, "POST", "/api/code", "")
	if ps, _ := e.svc.Due(context.Background(), e.clock.Now(), 10); len(ps) != 0 {
		t.Fatal("outbox mail offered for sending")
	}
	box, _ = e.svc.Outbox(context.Background())
	if box[0].Kind != "code" || !strings.Contains(box[0].Body, mask) || sixDigits.MatchString(box[0].Body) {
		t.Fatalf("code not masked: %q", box[0].Body)
	}
}

// TestMailRetry: Retry keeps a mail queued until its time, Failed shows
// on the log.
func TestMailRetry(t *testing.T) {
	e := newEnv(t, Options{})
	e.send(e.request(recipEmail, 7, e.recs[0]))
	ctx := context.Background()
	ps, _ := e.svc.Due(ctx, e.clock.Now(), 10)
	if len(ps) != 1 {
		t.Fatal(len(ps))
	}
	if err := e.svc.Retry(ctx, ps[0].ID, e.clock.Now().Add(time.Minute), "421 busy"); err != nil {
		t.Fatal(err)
	}
	if again, _ := e.svc.Due(ctx, e.clock.Now(), 10); len(again) != 0 {
		t.Fatal("due before its retry time")
	}
	again, _ := e.svc.Due(ctx, e.clock.Now().Add(time.Minute), 10)
	if len(again) != 1 || again[0].Attempts != 1 {
		t.Fatalf("%+v", again)
	}
	if err := e.svc.Failed(ctx, ps[0].ID, "550 no such user"); err != nil {
		t.Fatal(err)
	}
	ents, _ := e.svc.List(ctx, Query{})
	if ents[0].MailStatus != MailFailed || ents[0].MailError != "550 no such user" {
		t.Fatalf("%+v", ents[0])
	}
}

// TestConfig: validation, defaults and the audit.
func TestConfig(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	admin := e.users["admin"]
	base, _ := e.svc.Config(ctx)
	if base.SessionLifetime != DefaultSession || base.Days != DefaultDays {
		t.Fatalf("%+v", base)
	}
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 100)...)
	for name, mod := range map[string]func(*Config){
		"big logo":     func(c *Config) { c.Logo = append(bytes.Clone(png), make([]byte, MaxLogo)...) },
		"gif logo":     func(c *Config) { c.Logo = []byte("GIF89a......") },
		"footer":       func(c *Config) { c.Footer = []string{"a", "b", "c", "d"} },
		"short":        func(c *Config) { c.SessionLifetime = time.Minute },
		"long":         func(c *Config) { c.SessionLifetime = 25 * time.Hour },
		"body":         func(c *Config) { c.BodyExternal = "no link" },
		"internal":     func(c *Config) { c.BodyInternal = "no link" },
		"no english":   func(c *Config) { delete(c.Terms, "en") },
		"bad language": func(c *Config) { c.Terms["xx"] = "t" },
	} {
		c := *base
		c.Terms = map[string]string{"en": "E", "no": "N"}
		mod(&c)
		shareErr(t, e.svc.SetConfig(ctx, admin, "", c), http.StatusBadRequest)
		_ = name
	}
	c := *base
	c.Logo, c.Footer, c.SessionLifetime = png, []string{"Vault AS", "Oslo"}, 30*time.Minute
	shareErr(t, e.svc.SetConfig(ctx, e.users["eve"], "", c), http.StatusForbidden)
	if err := e.svc.SetConfig(ctx, admin, "", c); err != nil {
		t.Fatal(err)
	}
	got, _ := e.svc.Config(ctx)
	if !bytes.Equal(got.Logo, png) || got.SessionLifetime != 30*time.Minute || len(got.Footer) != 2 {
		t.Fatalf("%+v", got)
	}
	if a := e.audits("share.config"); len(a) != 2 || !strings.Contains(a[1].Detail+a[0].Detail, "logo") {
		t.Errorf("config audits %+v", a)
	}
	e.send(e.request(recipEmail, 7, e.recs[0]))
	v := e.visitor(e.linkOf(e.deliver()[0]))
	resp, b := v.do("GET", "/logo", "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || !bytes.Equal(b, png) {
		t.Fatalf("logo %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// The session lifetime applies.
	v.login()
	e.clock.Add(31 * time.Minute)
	v.want(http.StatusUnauthorized, "GET", "/api/recordings", "")
	_ = strconv.Itoa
}

// TestRunExpires: Run expires a grant when it ends.
func TestRunExpires(t *testing.T) {
	e := newEnv(t, Options{})
	e.send(e.request(recipEmail, 0, e.recs[0]))
	e.clock.Add(15 * time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.svc.Run(ctx); close(done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ents, _ := e.svc.List(ctx, Query{Status: StatusExpired})
		if len(ents) == 1 && countChunks(t, e.svc) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not expire the grant")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}

var sixDigits = regexp.MustCompile(`[0-9]{6}`)

// failingMedia renders the first recording and fails on the second.
type failingMedia struct{ n int }

func (f *failingMedia) WAV(ctx context.Context, recs []*archive.Recording, call int, opt codec.WAVOptions) (*codec.WAVReader, error) {
	f.n++
	if f.n > 1 {
		return nil, errors.New("render failed")
	}
	return patternMedia{}.WAV(ctx, recs, call, opt)
}

// TestSendFailureLeavesNothing: a Send that fails part way leaves no
// copies, no log entry and no mail; copies left by a crash go at Open.
func TestSendFailureLeavesNothing(t *testing.T) {
	e := newEnv(t, Options{})
	e.svc.media = &failingMedia{}
	if _, err := e.svc.Send(context.Background(), e.users["alice"], "", e.request(recipEmail, 7, e.recs[0], e.recs[1])); err == nil {
		t.Fatal("send succeeded")
	}
	if n := countChunks(t, e.svc); n != 0 {
		t.Errorf("%d chunks left", n)
	}
	if ents, _ := e.svc.List(context.Background(), Query{}); len(ents) != 0 {
		t.Error("logged")
	}
	if ms := e.deliver(); len(ms) != 0 {
		t.Error("mailed")
	}
	e.svc.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bChunks).Put(chunkKey(randomBytes(idLen), 0, 0), []byte("left by a crash"))
	})
	e.svc.Close()
	svc, err := Open(e.arc, patternMedia{}, Options{Path: e.path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	if n := countChunks(t, svc); n != 0 {
		t.Errorf("%d orphan chunks after Open", n)
	}
}

// TestConcurrentSends: two grants to one new address at once make one
// link.
func TestConcurrentSends(t *testing.T) {
	e := newEnv(t, Options{})
	errs := make(chan error, 2)
	for _, rec := range e.recs[:2] {
		go func() {
			_, err := e.svc.Send(context.Background(), e.users["alice"], "", e.request(recipEmail, 7, rec))
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	ms := e.deliver()
	if len(ms) != 2 {
		t.Fatalf("%d mails", len(ms))
	}
	v := e.visitor(e.linkOf(ms[0]))
	v.login()
	if l := v.recordings(); len(l.Recordings) != 2 {
		t.Fatalf("%+v", l)
	}
	if n := countChunks(t, e.svc); n != 4 {
		t.Errorf("%d chunks, want 2 per recording", n)
	}
}

// TestNoCodeAfterExpiry: a link whose grants all ended answers a code
// request as always, but mails nothing.
func TestNoCodeAfterExpiry(t *testing.T) {
	e := newEnv(t, Options{})
	e.send(e.request(recipEmail, 0, e.recs[0]))
	v := e.visitor(e.linkOf(e.deliver()[0]))
	e.clock.Add(15 * time.Hour)
	v.want(http.StatusAccepted, "POST", "/api/code", "")
	if ms := e.deliver(); len(ms) != 0 {
		t.Fatalf("mailed %+v", ms)
	}
}

// TestSecureCookieUnderTLS: served over TLS, the session cookie is Secure.
func TestSecureCookieUnderTLS(t *testing.T) {
	e := newEnv(t, Options{})
	e.send(e.request(recipEmail, 7, e.recs[0]))
	tok := e.linkOf(e.deliver()[0])
	srv := httptest.NewTLSServer(e.svc.Handler())
	defer srv.Close()
	v := e.visitor(tok)
	v.c = srv.Client()
	v.c.Timeout = 20 * time.Second
	v.base = srv.URL + "/p/" + tok
	c := v.code()
	resp, _ := v.do("POST", "/api/session", `{"code":"`+c+`"}`)
	ck := resp.Header.Get("Set-Cookie")
	if resp.StatusCode != http.StatusOK || !strings.Contains(ck, "; Secure") {
		t.Fatalf("%d %q", resp.StatusCode, ck)
	}
}
