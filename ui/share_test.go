package ui

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callvault/callvault/api"
	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/archive/archivetest"
	"github.com/callvault/callvault/internal/webtest"
	"github.com/callvault/callvault/share"
)

// shareUI is a UI with secure links over a real share.Service (outbox
// mode, silent audio) in the zone Europe/Oslo. alice may send links, erin
// may see the External access page, bob may do neither; dora is disabled
// and carl has no email address.
type shareUI struct {
	*testUI
	svc  *share.Service
	recA []*archive.Recording // alice's
	recB *archive.Recording   // bob's
}

func newShareUI(t *testing.T, now time.Time) *shareUI {
	t.Helper()
	clock := newTestClock(now)
	arc := archivetest.OpenTestOptions(t, archive.Options{Now: clock.Now})
	ctx := context.Background()
	for _, u := range []archive.User{
		{Login: "admin", Name: "Ada Admin", Role: archive.RoleAdmin, Email: "admin@example.org"},
		{Login: "alice", Name: "Åsa Øberg", Role: archive.RoleUser, Extensions: []string{"201"}, Email: "alice@example.org", MaySendLinks: true},
		{Login: "bob", Name: "Bob Builder", Role: archive.RoleUser, Extensions: []string{"202"}, Email: "bob@example.org"},
		{Login: "erin", Name: "Erin Eyes", Role: archive.RoleUser, Email: "erin@example.org", MaySeeExternal: true},
		{Login: "dora", Name: "Dora Gone", Role: archive.RoleUser, Email: "dora@example.org", Disabled: true},
		{Login: "carl", Name: "Carl Nomail", Role: archive.RoleUser},
	} {
		if err := arc.PutUser(ctx, u, testPassword); err != nil {
			t.Fatal(err)
		}
	}
	st, err := arc.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.TimeZone = "Europe/Oslo"
	if err := arc.PutSettings(ctx, st); err != nil {
		t.Fatal(err)
	}
	svc, err := share.Open(arc, webtest.SilentMedia{}, share.Options{Path: filepath.Join(t.TempDir(), "share.db"), Outbox: true,
		From: "vault@example.org"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	cfg := share.DefaultConfig()
	cfg.Terms = map[string]string{"en": "English terms of use.", "no": "Norske vilkår."}
	// No sender in the page's configuration: the form shows the daemon's
	// ([mail] from).
	cfg.From = ""
	if err := svc.SetConfig(ctx, &archive.User{Login: "admin", Role: archive.RoleAdmin}, "127.0.0.1", *cfg); err != nil {
		t.Fatal(err)
	}
	u, err := New(arc, noMedia{}, Options{Version: "test", Shares: svc}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	tu := &testUI{t: t, arc: arc, ui: u, clock: clock}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", api.New(arc, noMedia{}, nil).Routes())
	mux.Handle("/p/", svc.Handler())
	mux.Handle("/", u.Routes())
	tu.srv = httptest.NewServer(mux)
	t.Cleanup(tu.srv.Close)
	svc.SetURLs(tu.srv.URL, tu.srv.URL)
	s := &shareUI{testUI: tu, svc: svc}
	start := now.Add(-48 * time.Hour)
	for i := range 3 {
		s.recA = append(s.recA, tu.addRecording("alice", fmt.Sprintf("guid-a-%d", i), party{Name: "Åsa", Number: "201"},
			party{Name: "Support queue", Number: "+4722000000"}, start.Add(time.Duration(i)*time.Hour)))
	}
	s.recB = tu.addRecording("bob", "guid-b", party{Name: "Bob", Number: "202"}, party{Name: "Jānis", Number: "+37120000000"}, start)
	return s
}

// rq is the query of a selection.
func rq(recs ...*archive.Recording) string {
	v := url.Values{}
	for _, r := range recs {
		v.Add("r", r.ID.String())
	}
	return v.Encode()
}

func extForm(recs []*archive.Recording, kv ...string) url.Values {
	f := url.Values{"recipientName": {"Kari Kunde"}, "recipientEmail": {"kari@example.net"}, "reason": {"complaint 17"},
		"days": {"0"}, "subject": {"Recordings"}, "body": {"Listen: {{link}}"}, "language": {"no"}, "showAccessNumber": {"on"}}
	for _, r := range recs {
		f.Add("r", r.ID.String())
	}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

// TestShareSelection: the recordings list offers selection and the two
// send actions only to those who may send links; the send pages refuse
// the others.
func TestShareSelection(t *testing.T) {
	s := newShareUI(t, testNow)
	for _, who := range []string{"alice", "admin"} {
		resp, body := s.login(who).get("/")
		must(t, resp, body, 200, `<form method="get" action="/share/new" id="selection">`, "Send link to external recipient",
			"Send link to internal user", `formaction="/share/internal"`, `name="r" value="`+s.recA[0].ID.String()+`"`, `id="sel-all"`, `id="sel-count"`)
	}
	bob := s.login("bob")
	resp, body := bob.get("/")
	must(t, resp, body, 200, s.recB.ID.String())
	// The selection itself serves the list's bulk actions (list_bulk.go).
	for _, no := range []string{"Send link to", `formaction="/share/internal"`, `href="/external"`, `href="/admin/outbox"`} {
		if strings.Contains(body, no) {
			t.Errorf("bob's list shows %q", no)
		}
	}
	resp, body = bob.get("/share/new?" + rq(s.recB))
	must(t, resp, body, 403, "may not send links")
	resp, body = bob.post("/share/new", extForm([]*archive.Recording{s.recB}))
	must(t, resp, body, 403)
	resp, body = bob.get("/share/internal?" + rq(s.recB))
	must(t, resp, body, 403)
	resp, body = bob.post("/share/internal", url.Values{"r": {s.recB.ID.String()}, "recipient": {"alice"}, "body": {"{{link}}"}})
	must(t, resp, body, 403)
	if l, _ := s.svc.List(context.Background(), share.Query{}); len(l) != 0 {
		t.Errorf("links after refusals: %v", l)
	}
	// Without the share service there is no selection at all.
	plain := newTestUI(t)
	resp, body = plain.login("admin").get("/")
	must(t, resp, body, 200)
	if strings.Contains(body, "Send link to") {
		t.Errorf("selection offered without links")
	}
}

// TestShareSendExternal: the form is prefilled and shows the end in the
// appliance's zone; a refusal keeps the values; a send lands in the log.
func TestShareSendExternal(t *testing.T) {
	s := newShareUI(t, testNow) // 11:00 in Oslo
	alice := s.login("alice")
	resp, body := alice.get("/share/new?" + rq(s.recA[0], s.recA[1]))
	must(t, resp, body, 200, `name="days" type="number" min="0" max="365" value="7"`, "until 2026-11-28 23:59 (Europe/Oslo)",
		`data-today="2026-11-21"`, `data-zone="Europe/Oslo"`, `value="vault@example.org"`, "readonly",
		`<option value="en" selected>`, `<option value="no">`, "{{link}}", `id="share-selection"`,
		"/recordings/"+s.recA[0].ID.String(), "/recordings/"+s.recA[1].ID.String(), "2 recordings")
	if strings.Contains(body, `<option value="fi"`) {
		t.Errorf("a language without terms can be chosen:\n%s", body)
	}
	// Refusals keep what was typed.
	resp, body = alice.post("/share/new", extForm(s.recA[:2], "reason", " "))
	must(t, resp, body, 422, "The reason is required.", `value="Kari Kunde"`, `value="kari@example.net"`, `name="r" value="`+s.recA[1].ID.String())
	resp, body = alice.post("/share/new", extForm(s.recA[:2], "body", "No link here, Kari."))
	must(t, resp, body, 422, "The mail text must contain {{link}}.", "No link here, Kari.", `value="Kari Kunde"`)
	resp, body = alice.post("/share/new", extForm(s.recA[:2], "days", "many"))
	must(t, resp, body, 422, "Days must be a whole number")
	resp, body = alice.post("/share/new", extForm(s.recA[:2], "language", "fi"))
	must(t, resp, body, 422, "Choose a language that has terms of use.")
	// alice may not read bob's recording: not found, nothing sent.
	resp, body = alice.get("/share/new?" + rq(s.recB))
	must(t, resp, body, 400, "A chosen recording was not found.")
	resp, body = alice.post("/share/new", extForm([]*archive.Recording{s.recA[0], s.recB}))
	must(t, resp, body, 422, "A chosen recording was not found.")
	if l, _ := s.svc.List(context.Background(), share.Query{}); len(l) != 0 {
		t.Fatalf("links after refusals: %v", l)
	}
	// A row of several segments submits them comma-separated.
	f := extForm(nil)
	f.Set("r", s.recA[0].ID.String()+","+s.recA[1].ID.String())
	resp, body = alice.post("/share/new", f)
	must(t, resp, body, 200, "Link sent", "A link to 2 recordings was sent to Kari Kunde &lt;kari@example.net&gt;",
		"valid until 2026-11-21 23:59 (Europe/Oslo)")
	l, err := s.svc.List(context.Background(), share.Query{})
	if err != nil || len(l) != 1 {
		t.Fatalf("log: %v %v", l, err)
	}
	e := l[0]
	if e.Sender != "alice" || e.RecipientEmail != "kari@example.net" || e.Reason != "complaint 17" || e.Status != share.StatusValid ||
		!slices.Equal(e.Recordings, []string{s.recA[0].ID.String(), s.recA[1].ID.String()}) ||
		!e.ExpiresAt.Equal(time.Date(2026, 11, 21, 22, 59, 59, 0, time.UTC)) {
		t.Errorf("log entry: %+v", e)
	}
	// alice may not see the log: the confirmation does not link it.
	if strings.Contains(body, `href="/external`) {
		t.Errorf("confirmation links the log for alice")
	}
}

// TestShareSendTooMany: more than 40 recordings are refused with a clear
// message on the send pages.
func TestShareSendTooMany(t *testing.T) {
	s := newShareUI(t, testNow)
	alice := s.login("alice")
	v := url.Values{}
	for i := range 41 {
		v.Add("r", fmt.Sprintf("%032x", i+1))
	}
	for _, p := range []string{"/share/new", "/share/internal"} {
		resp, body := alice.get(p + "?" + v.Encode())
		must(t, resp, body, 400, "You chose 41 recordings; a link holds at most 40. Choose fewer.")
		if strings.Contains(body, `id="share-form"`) {
			t.Errorf("%s offers the form for 41 recordings", p)
		}
	}
	f := extForm(nil)
	f["r"] = v["r"]
	resp, body := alice.post("/share/new", f)
	must(t, resp, body, 422, "a link holds at most 40")
	resp, body = alice.get("/share/new")
	must(t, resp, body, 400, "Choose at least one recording")
}

// TestShareUntilZone: the form's end date is the zone's day, not UTC's.
func TestShareUntilZone(t *testing.T) {
	s := newShareUI(t, time.Date(2026, 11, 21, 23, 30, 0, 0, time.UTC)) // 00:30 on the 22nd in Oslo
	resp, body := s.login("alice").get("/share/new?" + rq(s.recA[0]))
	must(t, resp, body, 200, "until 2026-11-29 23:59 (Europe/Oslo)", `data-today="2026-11-22"`)
}

var linkID = regexp.MustCompile(`/links/([A-Za-z0-9_-]+)`)

// TestShareInternal: an internal link is sent to a user with an email;
// its page shows its recipient only the recordings they may read, and
// nobody else finds it.
func TestShareInternal(t *testing.T) {
	s := newShareUI(t, testNow)
	admin := s.login("admin")
	resp, body := admin.get("/share/internal?" + rq(s.recA[0], s.recB))
	must(t, resp, body, 200, `<option value="bob">Bob Builder (bob)</option>`, `<option value="alice">`, `<option value="erin">`,
		"{{link}}")
	for _, no := range []string{`value="dora"`, `value="carl"`} {
		if strings.Contains(body, no) {
			t.Errorf("internal recipients offer %s", no)
		}
	}
	f := url.Values{"r": {s.recA[0].ID.String(), s.recB.ID.String()}, "recipient": {"bob"}, "subject": {"For you"}, "body": {"Hi {{recipient}}"}}
	resp, body = admin.post("/share/internal", f)
	must(t, resp, body, 422, "The mail text must contain {{link}}.", "Hi {{recipient}}", `<option value="bob" selected>`)
	f.Set("recipient", "dora")
	f.Set("body", "Hi {{recipient}}, see {{link}} from {{myname}}")
	resp, body = admin.post("/share/internal", f)
	must(t, resp, body, 422, "no such user")
	f.Set("recipient", "bob")
	resp, body = admin.post("/share/internal", f)
	must(t, resp, body, 200, "Link sent", "A link to 2 recordings was sent to Bob Builder (bob)")
	mails, err := s.svc.Outbox(context.Background())
	if err != nil || len(mails) != 1 || mails[0].Kind != "internal" || mails[0].To != "bob@example.org" {
		t.Fatalf("outbox: %+v %v", mails, err)
	}
	m := linkID.FindStringSubmatch(mails[0].Body)
	if m == nil || !strings.Contains(mails[0].Body, "Hi Bob Builder") || !strings.Contains(mails[0].Body, "from Ada Admin") {
		t.Fatalf("internal mail: %q", mails[0].Body)
	}
	path := "/links/" + m[1]
	resp, body = s.login("bob").get(path)
	must(t, resp, body, 200, "Recordings sent to you", "Sent by Ada Admin", "/recordings/"+s.recB.ID.String(), "1 recording is not shown.")
	if strings.Contains(body, s.recA[0].ID.String()) {
		t.Errorf("bob's link page shows alice's recording")
	}
	for _, who := range []string{"alice", "admin"} {
		resp, body = s.login(who).get(path)
		must(t, resp, body, 404)
	}
	resp, body = s.login("bob").get("/links/" + strings.Repeat("A", 32))
	must(t, resp, body, 404)
	resp, _ = s.client().get(path)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("anonymous link page: %s %s", resp.Status, resp.Header.Get("Location"))
	}
	// No entry in the log of external links.
	if l, _ := s.svc.List(context.Background(), share.Query{}); len(l) != 0 {
		t.Errorf("internal link in the external log: %v", l)
	}
}

// sendAs sends an external link through the page.
func (s *shareUI) sendAs(t *testing.T, c *client, recs []*archive.Recording, kv ...string) {
	t.Helper()
	resp, body := c.post("/share/new", extForm(recs, kv...))
	must(t, resp, body, 200, "Link sent")
}

// TestShareExternalPage: the log is for admins and those who may see it;
// it searches and filters; cancel asks first, then takes effect.
func TestShareExternalPage(t *testing.T) {
	s := newShareUI(t, testNow)
	alice := s.login("alice")
	s.sendAs(t, alice, s.recA[:1], "recipientEmail", "kari@example.net", "reason", "complaint 17")
	s.sendAs(t, alice, s.recA[1:3], "recipientName", "Lars Lov", "recipientEmail", "lars@law.example", "reason", "lawyer's request")
	for _, who := range []string{"bob", "alice"} {
		c := s.login(who)
		resp, body := c.get("/external")
		must(t, resp, body, 403)
	}
	erin := s.login("erin")
	resp, body := erin.get("/external")
	must(t, resp, body, 200, `href="/external" aria-current="page">External access</a>`, "kari@example.net", "lars@law.example",
		"complaint 17", "lawyer&#39;s request", "Valid", "/recordings/"+s.recA[2].ID.String(), "2026-11-21 11:00", "2026-11-21 23:59")
	if strings.Contains(body, `href="/external/config"`) || strings.Contains(body, `href="/admin/outbox"`) {
		t.Errorf("erin is offered the config or the outbox")
	}
	resp, body = erin.get("/external?q=LAWYER")
	must(t, resp, body, 200, "lars@law.example")
	if strings.Contains(body, "kari@example.net") {
		t.Errorf("search for lawyer shows kari")
	}
	resp, body = erin.get("/external?q=" + s.recA[0].ID.String())
	must(t, resp, body, 200, "kari@example.net")
	if strings.Contains(body, "lars@law.example") {
		t.Errorf("search for a recording shows the other link")
	}
	resp, body = erin.get("/external?status=cancelled")
	must(t, resp, body, 200, "No links match the filter.")

	l, _ := s.svc.List(context.Background(), share.Query{Q: "lars"})
	if len(l) != 1 {
		t.Fatalf("log: %v", l)
	}
	cancel := "/external/" + l[0].ID + "/cancel"
	resp, body = erin.get(cancel)
	must(t, resp, body, 200, "Cancel this link?", "lars@law.example", `name="confirm" value="yes"`)
	resp, body = erin.post(cancel, url.Values{})
	must(t, resp, body, 200, "Cancel this link?")
	resp, body = s.login("bob").post(cancel, url.Values{"confirm": {"yes"}})
	must(t, resp, body, 403)
	resp, body = s.login("alice").post(cancel, url.Values{"confirm": {"yes"}})
	must(t, resp, body, 403)
	if l, _ := s.svc.List(context.Background(), share.Query{Status: share.StatusValid}); len(l) != 2 {
		t.Fatalf("a link was cancelled without confirmation: %v", l)
	}
	resp, body = erin.post(cancel, url.Values{"confirm": {"yes"}})
	must(t, resp, body, 303)
	resp, body = erin.get(resp.Header.Get("Location"))
	must(t, resp, body, 200, "The link was cancelled.", "Cancelled by erin on 2026-11-21 11:00")
	resp, body = erin.get("/external?status=cancelled")
	must(t, resp, body, 200, "lars@law.example", "Cancelled by erin")
	if strings.Contains(body, "kari@example.net") {
		t.Errorf("the cancelled filter shows a valid link")
	}
	resp, body = erin.post(cancel, url.Values{"confirm": {"yes"}})
	must(t, resp, body, 409, "The link has ended already.")
	resp, body = erin.get("/external/" + strings.Repeat("0", 32) + "/cancel")
	must(t, resp, body, 404)
	resp, body = erin.get("/external/config")
	must(t, resp, body, 403)
	resp, body = s.login("admin").get("/external?status=valid")
	must(t, resp, body, 200, "kari@example.net", `href="/external/config"`, `href="/admin/outbox"`)
}

// postMultipart posts fields and an optional logo as multipart/form-data.
func (c *client) postMultipart(path string, fields url.Values, logo []byte) (*http.Response, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range fields {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	if logo != nil {
		fw, _ := mw.CreateFormFile("logo", "logo.png")
		fw.Write(logo)
	}
	mw.Close()
	req, _ := http.NewRequest("POST", c.tu.srv.URL+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", c.tu.srv.URL)
	return c.do(req)
}

func testPNG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 4, 2))
	img.Set(1, 1, color.RGBA{200, 10, 10, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestShareConfig: admins save the configuration with a logo; a bad logo
// or too long a footer is refused with the form kept.
func TestShareConfig(t *testing.T) {
	s := newShareUI(t, testNow)
	admin := s.login("admin")
	resp, body := admin.get("/external/config")
	must(t, resp, body, 200, `enctype="multipart/form-data"`, `name="terms_en"`, `name="terms_ee"`, "English terms of use.",
		`name="sessionMinutes" type="number" min="5" max="1440" value="120"`)
	for _, who := range []string{"erin", "alice"} {
		resp, body = s.login(who).postMultipart("/external/config", url.Values{"days": {"3"}}, nil)
		must(t, resp, body, 403)
	}
	fields := url.Values{"footer": {"Example AS\r\nSupport 22 00 00 00"}, "sessionMinutes": {"90"}, "days": {"3"},
		"subjectExternal": {"Calls for {{recipient}}"}, "bodyExternal": {"Listen here: {{link}}"}, "subjectInternal": {"Calls"},
		"bodyInternal": {"See {{link}}"}, "from": {"calls@example.org"}, "language": {"fi"},
		"terms_en": {"English terms."}, "terms_fi": {"Suomalaiset ehdot."}, "terms_no": {""}}
	logo := testPNG(t)
	resp, body = admin.postMultipart("/external/config", fields, logo)
	must(t, resp, body, 303)
	c, err := s.svc.Config(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c.Logo, logo) || !slices.Equal(c.Footer, []string{"Example AS", "Support 22 00 00 00"}) ||
		c.SessionLifetime != 90*time.Minute || c.Days != 3 || c.From != "calls@example.org" || c.Language != "fi" ||
		c.Terms["fi"] != "Suomalaiset ehdot." || c.Terms["no"] != "" || c.BodyExternal != "Listen here: {{link}}" {
		t.Errorf("config: %+v", c)
	}
	resp, body = admin.get("/external/config?saved=1")
	must(t, resp, body, 200, "The configuration was saved.", `src="data:image/png;base64,`, "Suomalaiset ehdot.", `name="removeLogo"`)
	// The send form follows: the languages with terms, the new defaults.
	resp, body = s.login("alice").get("/share/new?" + rq(s.recA[0]))
	must(t, resp, body, 200, `<option value="fi" selected>`, `value="calls@example.org"`, "Listen here: {{link}}", `value="3"`)
	if strings.Contains(body, `<option value="no"`) {
		t.Errorf("norwegian without terms offered")
	}

	// A logo that is no image, a footer of four lines, a body without
	// the link: refused, the form kept, the stored config unchanged.
	resp, body = admin.postMultipart("/external/config", fields, []byte("GIF89a not a png at all"))
	must(t, resp, body, 422, "The logo must be a PNG or JPEG image.", "Suomalaiset ehdot.", "Example AS")
	f4 := url.Values{}
	for k, v := range fields {
		f4[k] = v
	}
	f4.Set("footer", "one\ntwo\nthree\nfour")
	resp, body = admin.postMultipart("/external/config", f4, nil)
	must(t, resp, body, 422, "The footer has at most 3 lines.", "four")
	f4.Set("footer", "one")
	f4.Set("bodyExternal", "no link")
	resp, body = admin.postMultipart("/external/config", f4, nil)
	must(t, resp, body, 422, "must contain {{link}}")
	resp, body = admin.postMultipart("/external/config", fields, bytes.Repeat([]byte{0x89}, share.MaxLogo+1))
	must(t, resp, body, 422, "The logo must be at most 256 KiB.")
	if c2, _ := s.svc.Config(context.Background()); !bytes.Equal(c2.Logo, logo) || len(c2.Footer) != 2 {
		t.Errorf("a refused config changed the stored one: %+v", c2)
	}
	// Removing the logo; a plain form works as well.
	fields.Set("removeLogo", "on")
	resp, body = admin.post("/external/config", fields)
	must(t, resp, body, 303)
	if c3, _ := s.svc.Config(context.Background()); c3.Logo != nil {
		t.Errorf("logo not removed")
	}
}

// TestShareOutbox: admins read the mail; one-time codes are masked.
func TestShareOutbox(t *testing.T) {
	s := newShareUI(t, testNow)
	s.sendAs(t, s.login("alice"), s.recA[:1])
	for _, who := range []string{"erin", "alice", "bob"} {
		resp, body := s.login(who).get("/admin/outbox")
		must(t, resp, body, 403)
	}
	mails, _ := s.svc.Outbox(context.Background())
	if len(mails) != 1 {
		t.Fatalf("outbox: %+v", mails)
	}
	tok := regexp.MustCompile(`/p/([A-Za-z0-9_-]+)`).FindStringSubmatch(mails[0].Body)
	if tok == nil {
		t.Fatalf("link mail: %q", mails[0].Body)
	}
	req, _ := http.NewRequest("POST", s.srv.URL+"/p/"+tok[1]+"/api/code", nil)
	resp, _ := s.client().do(req)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("code request: %s", resp.Status)
	}
	resp, body := s.login("admin").get("/admin/outbox")
	must(t, resp, body, 200, `href="/admin/outbox" aria-current="page">Outbox</a>`, "kari@example.net", "code", "link", "••••••")
	if regexp.MustCompile(`\b\d{6}\b`).MatchString(regexp.MustCompile(`(?s)<pre[^>]*>.*?</pre>`).FindAllString(body, -1)[0]) {
		t.Errorf("the newest mail (the code) shows six digits:\n%s", body)
	}
}

// sampleSharePages are the view models of the link pages for
// TestTemplatesRender.
func sampleSharePages(base Base) map[string][]any {
	evil := `<script>alert(1)</script>`
	sel := selection{IDs: []string{"abc", "def"}, Rows: []listRow{{URL: "/recordings/abc", When: "2026-11-21 09:00:00", With: "Jānis" + evil, Duration: "1:02", User: "Åsa"}}}
	ext := externalRow{ID: "g1", Recipient: "Kari" + evil, Email: "kari@example.net", Sender: "alice", Reason: "complaint" + evil,
		Recordings: []recLink{{"abc", "/recordings/abc"}}, Created: "21.11.2026 11:00", Expires: "28.11.2026 23:59", Status: "valid",
		StatusText: "Valid", MailFailed: true, MailStatus: "failed", MailError: "550 no such user" + evil, CancelURL: "/external/g1/cancel"}
	cf := configFormOf(share.DefaultConfig())
	cf.Footer = "Example AS" + evil
	return map[string][]any{
		"share_new.html": {shareNewPage{}, shareNewPage{Base: base, selection: sel, F: sendForm{RecipientName: "Kari" + evil, Days: "7",
			Body: "{{link}}" + evil, Language: "no"}, From: "vault@example.org", Languages: []langOption{{"en", "English"}, {"no", "Norsk"}},
			Until: "until 2026-11-28 23:59 (Europe/Oslo)", Today: "2026-11-21", Zone: "Europe/Oslo", MaxDays: 365, FormError: "The reason is required." + evil}},
		"share_internal.html": {shareInternalPage{}, shareInternalPage{Base: base, selection: sel, F: internalForm{Recipient: "bob", Body: evil},
			Recipients: []recipientOption{{"bob", "Bob (bob)" + evil}}, FormError: "no such user"}},
		"share_sent.html":     {shareSentPage{}, shareSentPage{Base: base, To: "Kari" + evil, Count: 2, Until: "until x", External: true, LogURL: "/external?q=g1"}},
		"links.html":          {linkPage{}, linkPage{Base: base, Sender: "Ada" + evil, Sent: "21.11.2026 11:00", Rows: sel.Rows, Hidden: 2}},
		"share_external.html": {externalPage{}, externalPage{Base: base, Tab: "log", Q: evil, Status: "valid", Rows: []externalRow{ext}, Filtered: true, Admin: true}},
		"share_cancel.html":   {cancelPage{}, cancelPage{Base: base, Row: ext}},
		"share_config.html": {configPage{}, configPage{Base: base, Tab: "config", Admin: true, F: cf, HasLogo: true,
			Logo: "data:image/png;base64,iVBORw0KGgo=", Languages: []langOption{{"en", "English"}}, MaxLogoKB: 256, FormError: "bad" + evil}},
		"share_outbox.html": {outboxPage{}, outboxPage{Base: base, Rows: []outboxRow{{Kind: "code", To: "kari@example.net", Subject: "Code",
			Body: "Your one-time code is ••••••." + evil, Status: "outbox", Attempts: 1, Queued: "21.11.2026 11:00", Error: evil}}}},
	}
}
