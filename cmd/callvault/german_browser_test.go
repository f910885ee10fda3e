package main

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/callvault/callvault/internal/browsertest"
)

// English left over on a German page is found against the pages' own
// catalogue (ui/text.json): every English text German says otherwise.

// englishTexts are patterns of the English texts of ui/text.json whose
// German differs: each fixed part of a text (markup removed, split at its
// format verbs) as whole words.
func englishTexts(t *testing.T) map[string]*regexp.Regexp {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "ui", "text.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cat map[string]map[string]string
	if err := json.Unmarshal(b, &cat); err != nil {
		t.Fatal(err)
	}
	tags := regexp.MustCompile(`<[^>]*>`)
	verbs := regexp.MustCompile(`%(?:\[\d\])?[sdv]`)
	letters := regexp.MustCompile(`\pL{2,}`)
	var german strings.Builder
	for _, texts := range cat {
		german.WriteString(texts["de"] + "\n")
	}
	out := map[string]*regexp.Regexp{}
	for key, texts := range cat {
		en, de := texts["en"], texts["de"]
		if en == de {
			continue
		}
		for _, part := range verbs.Split(tags.ReplaceAllString(en, ""), -1) {
			part = strings.TrimSpace(part)
			if !letters.MatchString(part) {
				continue
			}
			// Whole words: not inside a longer word, a hyphenated one or
			// a {{placeholder}}.
			re := regexp.MustCompile(`(?:^|[^\pL\-{])` + regexp.QuoteMeta(part) + `(?:[^\pL\-}]|$)`)
			if re.MatchString(german.String()) {
				continue // German says it too ("Start", "Status")
			}
			out[key+": "+part] = re
		}
	}
	if len(out) < 500 {
		t.Fatalf("only %d English texts in the catalogue", len(out))
	}
	return out
}

// pageWords is what a person reads on the page in its language: its
// title, its visible text, and the attributes shown or spoken (titles,
// labels, placeholders, confirmations) — not what people typed into
// fields, nor content the page marks as another language (lang=…: the
// audit log's recorded details, mails).
const pageWords = `(() => {
  const lang = document.documentElement.lang;
  const own = el => { const l = el.closest("[lang]"); return !l || l.lang === lang; };
  const parts = [document.title];
  const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = w.nextNode(); n; n = w.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest("textarea, script, style") || !own(el) || !el.getClientRects().length) continue;
    parts.push(n.textContent);
  }
  for (const el of document.querySelectorAll("[title],[aria-label],[placeholder],[alt],[data-confirm]")) {
    if (!own(el)) continue;
    for (const a of ["title", "aria-label", "placeholder", "alt", "data-confirm"]) { const v = el.getAttribute(a); if (v) parts.push(v); }
  }
  for (const o of document.querySelectorAll("option")) if (own(o)) parts.push(o.textContent);
  return parts.join("\n");
})()`

// dataTexts are data the pages show that the catalogue happens to hold
// in English: the name the appliance gives its recording-device account
// on the first start (an admin may rename it).
var dataTexts = regexp.MustCompile(`Recording devices|https?://\S+`)

// germanPage opens path and fails the test for every English text of the
// catalogue on it, and for a date written the English way.
func germanPage(t *testing.T, ctx context.Context, base, path, wait string, english map[string]*regexp.Regexp) string {
	t.Helper()
	step(t, ctx, "open "+path, chromedp.Navigate(base+path), chromedp.WaitVisible(wait))
	return germanHere(t, ctx, path, english)
}

// germanHere is germanPage for the page the browser shows.
func germanHere(t *testing.T, ctx context.Context, path string, english map[string]*regexp.Regexp) string {
	t.Helper()
	if lang := eval[string](t, ctx, `document.documentElement.lang`); lang != "de" {
		t.Errorf("%s: <html lang=%q>", path, lang)
	}
	text := dataTexts.ReplaceAllString(eval[string](t, ctx, pageWords), " ")
	var left []string
	for what, re := range english {
		if re.MatchString(text) {
			left = append(left, what)
		}
	}
	slices.Sort(left)
	if len(left) > 0 {
		t.Errorf("%s: English left on the German page:\n  %s", path, strings.Join(left, "\n  "))
	}
	if iso := regexp.MustCompile(`\b20\d\d-\d\d-\d\d\b`).FindString(text); iso != "" {
		t.Errorf("%s: a date written the English way: %s", path, iso)
	}
	name := "de" + strings.NewReplacer("/", "-", "?", "-", "=", "-").Replace(regexp.MustCompile(`[0-9a-f]{32}`).ReplaceAllString(path, "id"))
	if path == "/" {
		name = "de-list"
	}
	screenshot(t, ctx, name, 1280, 900)
	return text
}

// germanBrowser is a browser of its own that asks for German.
func germanBrowser(t *testing.T, bctx context.Context, acceptLanguage string) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	step(t, ctx, "browser language "+acceptLanguage, browsertest.AcceptLanguage(acceptLanguage))
	return ctx
}

// TestBrowserGerman: with a browser set to German (Accept-Language
// de-DE) the pages of a user, a supervisor, a user under 4-eyes access and
// an admin are German throughout — no English text of the catalogue left,
// dates as 20.11.2026, numbers as 1.234,5 — and the account page's
// language overrides the browser's, both ways.
func TestBrowserGerman(t *testing.T) {
	english := englishTexts(t)
	bctx := newBrowser(t)
	e := newShareEnv(t)
	d := e.d
	admin := d.uiLogin(t, "admin", testAdminPassword)
	const samPW, alicePW, bobPW = "sam-german-pw-1", "alice-german-pw-1", "bob-german-pw-1"
	admin.createUser(t, "sam", samPW, "supervisor", url.Values{"name": {"Sam Šimkus"}, "email": {"sam@example.org"}})
	admin.createUser(t, "alice", alicePW, "user", url.Values{"extensions": {"201"}, "name": {"Åsa Øberg"}, "supervisor": {"sam"}})
	admin.createUser(t, "bob", bobPW, "user", url.Values{"extensions": {"202"}, "name": {"Björn Müller"}, "maySendLinks": {"on"}, "mayProtect": {"on"}})
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	bobRec := d.ingestSynth(t, "de000000000000000000000000000001", "bob", synthCall{seconds: 60, start: start, callID: "de1@pbx",
		from: synthParty{"Björn Müller", "202"}, to: synthParty{"Jürgen Weiß", "+4989123456"}})
	adminRec := e.recording(t, 1, 20)
	admin.post(t, "/recordings/"+bobRec+"/notes", url.Values{"text": {"Rückruf vereinbart."}})
	e.send(t, "kunde@example.net", "Karl Kunde", "en", 7, adminRec)

	// A user.
	usr := germanBrowser(t, bctx, "de-DE,de;q=0.9,en;q=0.8")
	login(t, usr, d.url, "bob", bobPW)
	germanPage(t, usr, d.url, "/", `table.list`, english)
	rec := germanPage(t, usr, d.url, "/recordings/"+bobRec, `#play`, english)
	for _, want := range []string{"20.11.2026 09:00:00", "Abspielen", "Notizen", "Rückruf vereinbart."} {
		if !strings.Contains(rec, want) {
			t.Errorf("the recording page lacks %q", want)
		}
	}
	// Numbers: the size in KiB with a decimal comma, packet counts grouped.
	if !regexp.MustCompile(`\d+,\d [KMG]iB`).MatchString(rec) {
		t.Errorf("the size is not written 1.234,5-style:\n%s", rec)
	}
	if !regexp.MustCompile(`\b\d\.\d{3}, verloren`).MatchString(rec) {
		t.Errorf("the packets are not grouped 1.234-style:\n%s", rec)
	}
	germanPage(t, usr, d.url, "/account", `#language`, english)
	germanPage(t, usr, d.url, "/recyclebin", `#main`, english)
	germanPage(t, usr, d.url, "/share/new?r="+bobRec, `#share-form`, english)
	germanPage(t, usr, d.url, "/share/internal?r="+bobRec, `#share-form`, english)
	germanPage(t, usr, d.url, "/no-such-page", `#main`, english)

	// The send form's end date, written by its script as German.
	step(t, usr, "days", chromedp.Navigate(d.url+"/share/new?r="+bobRec), chromedp.WaitVisible(`#share-days`), setField(`#share-days`, "10"))
	poll(t, usr, "end date in German", `/^bis \d{1,2}\.\d{1,2}\.20\d\d 23:59 \(/.test(document.getElementById("share-until").textContent)`)

	// A supervisor, with a request waiting from a user under 4-eyes access.
	sup := germanBrowser(t, bctx, "de-AT,de;q=0.9")
	login(t, sup, d.url, "sam", samPW)
	step(t, sup, "open the supervision page", chromedp.Navigate(d.url+"/supervise"), chromedp.WaitVisible(`#sv-conn.on`))
	ward := germanBrowser(t, bctx, "de")
	login(t, ward, d.url, "alice", alicePW)
	poll(t, ward, "waiting page in German", `document.getElementById("fe-status").textContent.includes("Warten auf die Freigabe durch Ihren Vorgesetzten Sam Šimkus")`)
	germanPage(t, ward, d.url, "/", `#fe-waiting`, english)
	poll(t, sup, "the request, live", `document.querySelectorAll("#sv-pending li").length === 1`)
	sv := germanPage(t, sup, d.url, "/supervise", `#sv-conn.on`, english)
	if !strings.Contains(sv, "Verbunden") || !strings.Contains(sv, "Freigeben") {
		t.Errorf("the supervision page's live parts are not German:\n%s", sv)
	}
	germanPage(t, sup, d.url, "/", `#fe-sup-waiting`, english)
	step(t, sup, "grant", chromedp.Navigate(d.url+"/supervise"), chromedp.WaitVisible(`#sv-conn.on`), chromedp.Click(`#sv-pending button.primary`))
	poll(t, ward, "the list after the grant", `!!document.querySelector("table.list")`)
	germanPage(t, ward, d.url, "/", `table.list`, english)
	step(t, sup, "end", chromedp.Click(`#sv-grants button`))
	poll(t, sup, "the grant ended", `!document.getElementById("sv-grants-empty").hidden`)
	germanPage(t, ward, d.url, "/", `#fe-waiting`, english)

	// The recipient's page of a link sent in German.
	g := e.send(t, "kunde@example.de", "Karl Kunde", "de", 7, adminRec)
	rcp := germanBrowser(t, bctx, "de-DE")
	step(t, rcp, "open the link", chromedp.Navigate(g.link))
	poll(t, rcp, "code step", pageStep("code"))
	if lang, got := eval[string](t, rcp, `document.documentElement.lang`), eval[string](t, rcp, `document.getElementById("request-code").textContent`); lang != "de-DE" || got != "Einmalcode anfordern" {
		t.Errorf("the recipient's page: lang %q, button %q", lang, got)
	}
	screenshot(t, rcp, "de-recipient", 1280, 900)

	// An admin.
	adm := germanBrowser(t, bctx, "de-DE")
	login(t, adm, d.url, "admin", testAdminPassword)
	for _, p := range []struct{ path, wait string }{
		{"/", `table.list`}, {"/recordings/" + adminRec, `#play`}, {"/admin/settings", `#settings-form`},
		{"/admin/users", `table.list`}, {"/admin/users/bob", `#user-form`}, {"/admin/users/new", `#user-form`},
		{"/admin/audit", `table.list`}, {"/external", `#external-log`}, {"/external/config", `#config-form`},
		{"/admin/outbox", `#outbox`}, {"/account", `#language`}, {"/recyclebin", `#main`},
		{"/admin/webhooks", `#webhook-form`},
	} {
		germanPage(t, adm, d.url, p.path, p.wait, english)
	}

	// The list's script in German: search as you type, the selection's
	// count, and a bulk action's result page.
	step(t, adm, "the list", chromedp.Navigate(d.url+"/"), chromedp.WaitVisible(`#sel-all`))
	step(t, adm, "type a search", setField(`input[name="q"]`, "Jürgen"))
	poll(t, adm, "results while typing", `document.getElementById("list-count").textContent.startsWith("1 Anruf") && location.search.includes("q=J")`)
	step(t, adm, "select all", chromedp.Click(`#sel-all`))
	poll(t, adm, "the selection's count", `document.getElementById("sel-count").textContent === "1 ausgewählt"`)
	step(t, adm, "protect", setField(`input[name="reason"]`, "Az. 4711"), chromedp.Click(`#bulk-protect`), chromedp.WaitVisible(`#bulk-summary`))
	if got := eval[string](t, adm, `document.getElementById("bulk-summary").textContent`); !strings.HasPrefix(got, "1 erledigt. Grund: Az. 4711") {
		t.Errorf("the bulk summary says %q", got)
	}
	germanHere(t, adm, "/recordings/bulk", english)
	germanPage(t, adm, d.url, "/?q=J%C3%BCrgen&sort=length&order=asc&size=25", `table.list`, english)

	// The account page's switch overrides the browser: English for this
	// German browser, until "as the browser asks" again.
	chooseLanguage := func(ctx context.Context, lang string) {
		step(t, ctx, "choose "+lang, chromedp.Navigate(d.url+"/account"), chromedp.WaitVisible(`#language select`),
			selectValue(`#language select`, lang), chromedp.Click(`#language button`), chromedp.WaitVisible(`p.flash`))
	}
	chooseLanguage(adm, "en")
	step(t, adm, "list", chromedp.Navigate(d.url+"/admin/users"), chromedp.WaitVisible(`table.list`))
	if lang, h1 := eval[string](t, adm, `document.documentElement.lang`), eval[string](t, adm, `document.querySelector("h1").textContent`); lang != "en" || h1 != "Users" {
		t.Errorf("after choosing English: lang %q, heading %q", lang, h1)
	}
	chooseLanguage(adm, "")
	if lang := eval[string](t, adm, `document.documentElement.lang`); lang != "de" {
		t.Errorf("back to the browser's language: %q", lang)
	}
	// And German for a browser set to English.
	eng := germanBrowser(t, bctx, "en-GB,en;q=0.9")
	login(t, eng, d.url, "bob", bobPW)
	if lang := eval[string](t, eng, `document.documentElement.lang`); lang != "en" {
		t.Fatalf("an English browser gets %q", lang)
	}
	chooseLanguage(eng, "de")
	if got := eval[string](t, eng, `document.querySelector("p.flash").textContent`); got != "Die Sprache wurde gespeichert." {
		t.Errorf("the confirmation says %q", got)
	}
	germanPage(t, eng, d.url, "/account", `#language`, english)
}
