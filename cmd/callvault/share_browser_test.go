package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callvault/callvault/archive"
	"github.com/callvault/callvault/internal/smtptest"
	"github.com/callvault/callvault/share"
	"github.com/chromedp/chromedp"
)

// The recipient's page in a real browser, against the daemon: link and
// code mails go through a real SMTP server on loopback (STARTTLS, AUTH),
// grants are made and cancelled through the JSON API, expiry follows the
// daemon's clock.

// Page texts the tests expect, per language, as a recipient reads them.
var recipientTexts = map[string]struct{ codeSent, wrongCode, codeUsedUp, expired, codeMail, termsFallback string }{
	"en": {codeSent: "If this link is yours, a code is on its way to your mailbox.", wrongCode: "Wrong code. Attempts left: %d.",
		codeUsedUp: "Wrong code. Request a new code.", expired: "This link has expired.", codeMail: "Your one-time code is "},
	"no": {codeSent: "Hvis denne lenken er din, er en kode på vei til innboksen din.", wrongCode: "Feil kode. Gjenstående forsøk: %d.",
		expired: "Denne lenken er utløpt.", codeMail: "Engangskoden din er "},
	"lv": {codeMail: "Jūsu vienreizējais kods ir ",
		termsFallback: "Lietošanas noteikumi jūsu valodā nav pieejami, tāpēc tie ir parādīti angļu valodā."},
}

// shareClock is the daemon's clock (daemonClock) moved forward by the test.
type shareClock struct {
	base func() time.Time
	off  atomic.Int64
}

func (c *shareClock) now() time.Time { return c.base().Add(time.Duration(c.off.Load())) }

// moveTo moves the clock forward to t.
func (c *shareClock) moveTo(t time.Time) {
	if d := t.Sub(c.now()); d > 0 {
		c.off.Add(int64(d))
	}
}

// shareEnv is a daemon that mails through a local SMTP server.
type shareEnv struct {
	d     *daemon
	smtp  *smtptest.Server
	clock *shareClock
	tweak func(*serveOptions)

	mu    sync.Mutex
	taken map[string]int // address → mails to it the test has read
}

func newShareEnv(t *testing.T) *shareEnv {
	t.Helper()
	const smtpUser, smtpPassword = "callvault", "smtp-test-password"
	srv := smtptest.Start(t, smtptest.Options{Username: smtpUser, Password: smtpPassword})
	dir := t.TempDir()
	ca, pw := filepath.Join(dir, "smtp-ca.pem"), filepath.Join(dir, "smtp-password")
	if err := os.WriteFile(ca, srv.CAPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pw, []byte(smtpPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := writeConfig(t, fmt.Sprintf(`[mail]
smtp_host = "127.0.0.1"
smtp_port = %d
security = "starttls"
ca_file = %q
username = %q
password_file = %q
from = "Call archive <archive@example.org>"
`, srv.Port(), ca, smtpUser, pw))
	data := filepath.Join(dir, "data")
	clock := &shareClock{base: daemonClock(data)}
	e := &shareEnv{smtp: srv, clock: clock, taken: map[string]int{}}
	e.tweak = func(o *serveOptions) { o.config = conf; o.now = clock.now }
	e.d = startDaemonWith(t, data, e.tweak)
	return e
}

// configure changes the external access configuration as an admin, with
// the daemon stopped, and starts it again (on a new port).
func (e *shareEnv) configure(t *testing.T, change func(*share.Config)) {
	t.Helper()
	data := e.d.data
	e.d.stop()
	ctx := context.Background()
	arc, err := archive.Open(filepath.Join(data, "callvault.db"), archive.Options{KeyFile: e.d.key, KDF: archive.FastKDF(), Now: e.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := share.Open(arc, nil, share.Options{Path: filepath.Join(data, "share.db")}, nil)
	if err != nil {
		arc.Close()
		t.Fatal(err)
	}
	admin, err := arc.GetUser(ctx, "admin")
	if err == nil {
		var c *share.Config
		if c, err = svc.Config(ctx); err == nil {
			change(c)
			err = svc.SetConfig(ctx, admin, "127.0.0.1", *c)
		}
	}
	svc.Close()
	arc.Close()
	if err != nil {
		t.Fatal(err)
	}
	e.d = startDaemonWith(t, data, e.tweak)
}

// recording ingests a synthesized call of seconds as admin's.
func (e *shareEnv) recording(t *testing.T, n, seconds int) string {
	t.Helper()
	start := time.Date(2026, 11, 20, 9, n, 0, 0, time.UTC)
	return e.d.ingestSynth(t, fmt.Sprintf("5ea2ed%026x", n), "admin", synthCall{seconds: seconds, start: start, callID: fmt.Sprintf("share-%d@pbx", n),
		from: synthParty{"Kari Nordmann", "+4722000000"}, to: synthParty{"Support", "201"}})
}

type sentGrant struct {
	id      string
	expires time.Time
	link    string // the link in the mail
}

var linkInMail = regexp.MustCompile(`https?://\S+/p/[A-Za-z0-9_-]{32}`)

// send grants email the recordings through the API for today and days
// more, in lang, and returns the grant with the link its mail carries.
func (e *shareEnv) send(t *testing.T, email, name, lang string, days int, recs ...string) sentGrant {
	t.Helper()
	subject, body := share.DefaultExternalMail(lang)
	m := e.d.apiWant(t, "admin:"+testAdminPassword, "POST", "/api/v1/shares", map[string]any{
		"recordings": recs, "recipientName": name, "recipientEmail": email, "reason": "complaint 4711",
		"days": days, "subject": subject, "body": body, "language": lang, "showAccessNumber": true, "showQueueName": false,
	}, 201)
	g := sentGrant{id: fmt.Sprint(m["id"])}
	exp, err := time.Parse(time.RFC3339, fmt.Sprint(m["expiresAt"]))
	if err != nil || m["status"] != "valid" || g.id == "" {
		t.Fatalf("POST /api/v1/shares: %v (%v)", m, err)
	}
	g.expires = exp
	mail := e.nextMail(t, email)
	g.link = linkInMail.FindString(mail.Body)
	if g.link == "" || !strings.HasPrefix(g.link, e.d.url+"/p/") {
		t.Fatalf("no link to %s/p/… in the mail: %q", e.d.url, mail.Body)
	}
	return g
}

// nextMail waits for the next mail to the address to, at most 30 s.
func (e *shareEnv) nextMail(t *testing.T, to string) smtptest.Message {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		e.mu.Lock()
		n := 0
		for _, m := range e.smtp.Messages() {
			if !slices.ContainsFunc(m.To, func(r string) bool { return strings.EqualFold(r, to) }) {
				continue
			}
			if n == e.taken[to] {
				e.taken[to]++
				e.mu.Unlock()
				return m
			}
			n++
		}
		e.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no new mail to %s after 30 s; the daemon said:\n%s", to, e.d.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var sixDigits = regexp.MustCompile(`\b\d{6}\b`)

// codeMail waits for the next mail to to and returns the one-time code
// in it, checking the mail is the code mail in lang.
func (e *shareEnv) codeMail(t *testing.T, to, lang string) string {
	t.Helper()
	m := e.nextMail(t, to)
	code := sixDigits.FindString(m.Body)
	subject, body := share.CodeMail(lang, code)
	if code == "" || m.Subject != subject || strings.TrimSpace(m.Body) != body || !strings.HasPrefix(m.Body, recipientTexts[lang].codeMail) {
		t.Fatalf("code mail in %s: %q %q", lang, m.Subject, m.Body)
	}
	return code
}

const pageMessage = `document.getElementById("message").textContent`

func pageStep(step string) string { return `document.body.dataset.step === "` + step + `"` }

// signIn goes through the code and the terms to the recordings.
func (e *shareEnv) signIn(t *testing.T, ctx context.Context, link, email, lang string) {
	t.Helper()
	step(t, ctx, "open the link", chromedp.Navigate(link))
	poll(t, ctx, "the code step", pageStep("code"))
	step(t, ctx, "request a code", chromedp.Click(`#request-code`))
	code := e.codeMail(t, email, lang)
	step(t, ctx, "enter the code", setField(`#code`, code), chromedp.Click(`#submit-code`))
	poll(t, ctx, "the terms", pageStep("terms"))
	step(t, ctx, "accept the terms", chromedp.Click(`#accept-terms`))
	poll(t, ctx, "the recordings", pageStep("recordings")+` && document.querySelectorAll("#recordings audio").length > 0`)
}

func audioSel(id string) string { return `document.querySelector('audio[data-id="` + id + `"]')` }

// playing starts the recording's player and waits until it has played
// half a second.
func playing(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	step(t, ctx, "play "+id, chromedp.Evaluate[chromedp.Void](`(() => { const a = `+audioSel(id)+`; a.closest("details").open = true; a.play(); })()`))
	poll(t, ctx, id+" playing", `(() => { const a = `+audioSel(id)+`; return !!a && !a.paused && a.currentTime > 0.5; })()`)
}

// TestShareBrowserRecipient: the whole recipient's flow in Norwegian (two
// recordings) and English (one): the link from the mail, a code requested
// and read from the code mail in that language, a wrong code (attempts
// left shown), the right one, the terms in that language, the
// recordings (several collapsed, one expanded), playback, and no download
// control anywhere; each play is audited as the external recipient's.
func TestShareBrowserRecipient(t *testing.T) {
	ctx := newBrowser(t)
	e := newShareEnv(t)
	r1, r2, r3 := e.recording(t, 1, 12), e.recording(t, 2, 8), e.recording(t, 3, 10)
	for _, c := range []struct {
		lang, email, name string
		recs              []string
	}{
		{"no", "kari.nordmann@example.no", "Kari Nordmann", []string{r1, r2}},
		{"en", "john.smith@example.com", "John Smith", []string{r3}},
	} {
		want := recipientTexts[c.lang]
		g := e.send(t, c.email, c.name, c.lang, 7, c.recs...)

		step(t, ctx, "open the link ("+c.lang+")", chromedp.Navigate(g.link))
		poll(t, ctx, "the code step", pageStep("code"))
		if got := eval[string](t, ctx, `document.body.dataset.lang`); got != c.lang {
			t.Fatalf("the page is in %q, want the grant's %q", got, c.lang)
		}
		step(t, ctx, "request a code", chromedp.Click(`#request-code`))
		poll(t, ctx, "code sent", pageMessage+` === `+jsString(want.codeSent))
		code := e.codeMail(t, c.email, c.lang)

		wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1_000_000)
		step(t, ctx, "a wrong code", setField(`#code`, wrong), chromedp.Click(`#submit-code`))
		poll(t, ctx, "attempts left", pageMessage+` === `+jsString(fmt.Sprintf(want.wrongCode, 4)))

		step(t, ctx, "the right code", setField(`#code`, code), chromedp.Click(`#submit-code`))
		poll(t, ctx, "the terms", pageStep("terms"))
		if got := eval[string](t, ctx, `document.getElementById("terms").textContent`); got != share.DefaultTerms(c.lang) {
			t.Fatalf("terms in %s: %q", c.lang, got)
		}
		if !eval[bool](t, ctx, `document.getElementById("terms-fallback").hidden`) {
			t.Fatalf("the English-fallback note shows for %s terms", c.lang)
		}
		step(t, ctx, "accept the terms", chromedp.Click(`#accept-terms`))
		poll(t, ctx, "the recordings", pageStep("recordings")+fmt.Sprintf(` && document.querySelectorAll("#recordings audio").length === %d`, len(c.recs)))

		wantOpen := 0
		if len(c.recs) == 1 {
			wantOpen = 1
		}
		if open := eval[int](t, ctx, `document.querySelectorAll("#recordings details[open]").length`); open != wantOpen {
			t.Fatalf("%d recordings, %d expanded", len(c.recs), open)
		}
		if !eval[bool](t, ctx, `Array.from(document.querySelectorAll("#recordings details")).every(d => d.querySelector(".access-number") && !d.querySelector(".queue-name"))`) {
			t.Errorf("the access number (ticked) or the queue name (not ticked): %q", eval[string](t, ctx, `document.getElementById("recordings").textContent`))
		}
		// No download control: no link or download attribute, players
		// without the download item, no context menu on them.
		if n := eval[int](t, ctx, `document.querySelectorAll("a[download], [download], a[href*='/audio/']").length`); n != 0 {
			t.Fatalf("%d download links on the page", n)
		}
		if !eval[bool](t, ctx, `Array.from(document.querySelectorAll("audio")).every(a => a.controls && a.controlsList.contains("nodownload"))`) {
			t.Fatal("a player offers download")
		}
		if !eval[bool](t, ctx, `(() => { const e = new MouseEvent("contextmenu", {bubbles: true, cancelable: true}); return !`+audioSel(c.recs[0])+`.dispatchEvent(e); })()`) {
			t.Fatal("the player's context menu is not prevented")
		}
		playing(t, ctx, c.recs[0])
		step(t, ctx, "pause", chromedp.Evaluate[chromedp.Void](audioSel(c.recs[0])+`.pause()`))

		plays := e.d.auditEntries(t, "play")
		if !slices.ContainsFunc(plays, func(a map[string]any) bool {
			return a["target"] == c.recs[0] && a["actor"] == "external:"+c.email
		}) {
			t.Errorf("no play of %s by external:%s in the audit log: %v", c.recs[0], c.email, plays)
		}
	}
}

// jsString quotes s for JavaScript.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func atoi(s string) int {
	n := 0
	fmt.Sscan(s, &n)
	return n
}

// TestShareBrowserForwardedLink: someone else opening a forwarded link (a
// browser profile of their own) can ask for a code, but it goes to the
// recipient's address only, and they cannot get past the code step.
func TestShareBrowserForwardedLink(t *testing.T) {
	ctx := newBrowser(t)
	e := newShareEnv(t)
	r := e.recording(t, 1, 6)
	const owner = "owner@example.com"
	g := e.send(t, owner, "Olav Owner", "en", 3, r)
	e.signIn(t, ctx, g.link, owner, "en")

	other := newBrowser(t) // a browser of its own: another profile, no cookie
	step(t, other, "the forwarded link", chromedp.Navigate(g.link))
	poll(t, other, "the code step", pageStep("code"))
	if n := eval[int](t, other, `document.querySelectorAll("input").length - document.querySelectorAll("input#code").length`); n != 0 {
		t.Fatalf("the page has %d inputs besides the code (an address to send to?)", n)
	}
	step(t, other, "request a code", chromedp.Click(`#request-code`))
	poll(t, other, "code sent", pageMessage+` === `+jsString(recipientTexts["en"].codeSent))
	code := e.codeMail(t, owner, "en") // the request mails the owner
	for _, m := range e.smtp.Messages() {
		if len(m.To) != 1 || !strings.EqualFold(m.To[0], owner) || !strings.Contains(m.Header.Get("To"), owner) {
			t.Fatalf("a mail to %v (To: %s): only %s may receive mail", m.To, m.Header.Get("To"), owner)
		}
	}
	if n := len(e.smtp.Messages()); n != 3 {
		t.Fatalf("%d mails, want the link and two codes", n)
	}
	for left := 4; left >= 0; left-- {
		guess := fmt.Sprintf("%06d", (atoi(code)+5-left+1)%1_000_000)
		step(t, other, "guess a code", setField(`#code`, guess), chromedp.Click(`#submit-code`))
		msg := recipientTexts["en"].codeUsedUp
		if left > 0 {
			msg = fmt.Sprintf(recipientTexts["en"].wrongCode, left)
		}
		poll(t, other, "refused", pageMessage+` === `+jsString(msg)+` && `+pageStep("code"))
	}
	status, err := chromedp.Run(other, chromedp.Evaluate[int](`fetch(document.body.dataset.base + "/api/recordings").then(r => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil || status != 401 {
		t.Fatalf("the forwarded browser's recordings: %d %v", status, err)
	}
}

// TestShareBrowserCancelWhilePlaying: a grant cancelled through the API
// while its recording plays: the page stops it and takes it off within
// its poll interval.
func TestShareBrowserCancelWhilePlaying(t *testing.T) {
	ctx := newBrowser(t)
	e := newShareEnv(t)
	r := e.recording(t, 1, 40)
	const to = "listener@example.com"
	g := e.send(t, to, "Liv Listener", "en", 7, r)
	e.signIn(t, ctx, g.link, to, "en")
	playing(t, ctx, r)
	step(t, ctx, "keep the player", chromedp.Evaluate[chromedp.Void](`window.player = `+audioSel(r)+`; undefined`))

	e.d.apiWant(t, "admin:"+testAdminPassword, "POST", "/api/v1/shares/"+url.PathEscape(g.id)+"/cancel", nil, 200)
	poll(t, ctx, "the recording stopped and gone", `!document.querySelector('[data-id="`+r+`"]') && window.player.paused && !window.player.getAttribute("src")`)
	poll(t, ctx, "the expired state", pageStep("expired")+` && `+pageMessage+` === `+jsString(recipientTexts["en"].expired))
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch(document.body.dataset.base + "/audio/`+r+`").then(r => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil || status == 200 || status == 206 {
		t.Fatalf("the cancelled recording's audio: %d %v", status, err)
	}
}

// TestShareBrowserTwoGrantsOneAddress: two grants to one address, ending
// on different days, show on one page; past the first's 23:59:59 (the
// daemon's clock) only the second's recording remains, past the second's
// the page says the link has expired.
func TestShareBrowserTwoGrantsOneAddress(t *testing.T) {
	ctx := newBrowser(t)
	e := newShareEnv(t)
	r1, r2 := e.recording(t, 1, 10), e.recording(t, 2, 10)
	const to = "two.grants@example.com"
	g1 := e.send(t, to, "Tove Two", "en", 0, r1)
	g2 := e.send(t, to, "Tove Two", "en", 1, r2)
	if !g2.expires.Equal(g1.expires.Add(24*time.Hour)) || g1.expires.Second() != 59 || g1.expires.Minute() != 59 || g1.expires.Hour() != 23 {
		t.Fatalf("ends %v and %v, want 23:59:59 today and tomorrow", g1.expires, g2.expires)
	}
	// Sign in late on the first day (a session lasts two hours).
	e.clock.moveTo(g1.expires.Add(-30 * time.Minute))
	e.signIn(t, ctx, g1.link, to, "en")
	poll(t, ctx, "both recordings, collapsed", `!!`+audioSel(r1)+` && !!`+audioSel(r2)+` && !document.querySelector("#recordings details[open]")`)

	e.clock.moveTo(g1.expires.Add(time.Second))
	poll(t, ctx, "the first grant's recording gone", `!`+audioSel(r1)+` && !!`+audioSel(r2)+` && `+pageStep("recordings"))

	e.clock.moveTo(g2.expires.Add(time.Second))
	poll(t, ctx, "the link expired", pageStep("expired")+` && `+pageMessage+` === `+jsString(recipientTexts["en"].expired)+` && !document.querySelector("#recordings audio")`)

	// Opened again later, the link still says so.
	step(t, ctx, "open the link again", chromedp.Navigate(g2.link))
	poll(t, ctx, "still expired", pageStep("expired"))
}

// TestShareBrowserTermsFallback: a language whose terms an admin removed
// shows the English terms, with a note saying so in that language.
func TestShareBrowserTermsFallback(t *testing.T) {
	ctx := newBrowser(t)
	e := newShareEnv(t)
	r := e.recording(t, 1, 6)
	e.configure(t, func(c *share.Config) { delete(c.Terms, "lv") })
	const to = "janis@example.lv"
	g := e.send(t, to, "Jānis Bērziņš", "no", 2, r)

	step(t, ctx, "open the link", chromedp.Navigate(g.link))
	poll(t, ctx, "the code step in Norwegian", pageStep("code")+` && document.body.dataset.lang === "no"`)
	step(t, ctx, "switch to Latvian", selectValue(`#lang`, "lv"))
	poll(t, ctx, "the page in Latvian", `new URL(location.href).searchParams.get("lang") === "lv" && document.body.dataset.lang === "lv" && `+pageStep("code"))
	step(t, ctx, "request a code", chromedp.Click(`#request-code`))
	code := e.codeMail(t, to, "lv")
	step(t, ctx, "enter the code", setField(`#code`, code), chromedp.Click(`#submit-code`))
	poll(t, ctx, "the terms", pageStep("terms"))
	if got := eval[string](t, ctx, `document.getElementById("terms").textContent`); got != share.DefaultTerms("en") {
		t.Fatalf("terms for Latvian: %q, want the English", got)
	}
	if got := eval[string](t, ctx, `(() => { const f = document.getElementById("terms-fallback"); return f.hidden || f.offsetParent === null ? "" : f.textContent; })()`); got != recipientTexts["lv"].termsFallback {
		t.Fatalf("fallback note: %q", got)
	}
	step(t, ctx, "accept the English terms", chromedp.Click(`#accept-terms`))
	poll(t, ctx, "the recording, expanded", pageStep("recordings")+` && document.querySelectorAll("#recordings details[open]").length === 1`)
}
