package share

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/callvault/callvault/internal/browsertest"
)

// stubLink answers the playback zone's JSON API for one link, as the
// contract in api/openapi.yaml describes it, so the page's script can be
// driven in a browser on its own. Its state is set by the test.
type stubLink struct {
	mu            sync.Mutex
	codeAnswer    int // 202, or 429
	codeRequests  int
	attemptsLeft  int
	sessionValid  bool
	termsAccepted bool
	acceptedLang  string
	recordings    []map[string]any
	wav           []byte
}

func (s *stubLink) routes() http.Handler {
	const base = "/p/T"
	mux := http.NewServeMux()
	json200 := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	session := func(r *http.Request) bool {
		c, err := r.Cookie("s")
		return err == nil && c.Value == "ok" && s.sessionValid
	}
	mux.HandleFunc("GET "+base, func(w http.ResponseWriter, r *http.Request) {
		lang := PickLanguage(r.URL.Query().Get("lang"), "")
		if lang == "" {
			lang = "no" // the grant's language
		}
		w.Header().Set("Content-Security-Policy", pageCSP)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := renderPage(w, PageData{Lang: lang, Base: base, Footer: []string{"ACME <Support>", "+47 22 00 00 00"}}); err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
	})
	mux.Handle("GET "+base+"/static/", http.StripPrefix(base+"/static", staticHandler()))
	mux.HandleFunc("POST "+base+"/api/code", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.codeRequests++
		if s.codeAnswer == 429 {
			w.Header().Set("Retry-After", "600")
			json200(w, 429, map[string]string{"error": "too many codes"})
			return
		}
		s.attemptsLeft = 5
		json200(w, 202, struct{}{})
	})
	mux.HandleFunc("POST "+base+"/api/session", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		var req struct{ Code string }
		if err := decodeJSON(r, &req); err != nil { // the zone's own decoder: application/json only
			json200(w, statusOf(err), map[string]string{"error": err.Error()})
			return
		}
		if req.Code != "123456" || s.attemptsLeft == 0 {
			if s.attemptsLeft > 0 {
				s.attemptsLeft--
			}
			json200(w, 401, map[string]any{"error": "wrong code", "attemptsLeft": s.attemptsLeft})
			return
		}
		s.sessionValid = true
		http.SetCookie(w, &http.Cookie{Name: "s", Value: "ok", Path: base, HttpOnly: true, SameSite: http.SameSiteStrictMode})
		json200(w, 200, map[string]bool{"termsAccepted": s.termsAccepted})
	})
	mux.HandleFunc("GET "+base+"/api/terms", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !session(r) {
			json200(w, 401, map[string]string{"error": "no session"})
			return
		}
		lang := r.URL.Query().Get("language")
		if lang != "no" { // only English and Norwegian terms are configured
			lang = "en"
		}
		json200(w, 200, map[string]string{"language": lang, "text": DefaultTerms(lang)})
	})
	mux.HandleFunc("POST "+base+"/api/terms", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !session(r) {
			json200(w, 401, map[string]string{"error": "no session"})
			return
		}
		var req struct {
			Language string
			Accept   bool
		}
		if err := decodeJSON(r, &req); err != nil {
			json200(w, statusOf(err), map[string]string{"error": err.Error()})
			return
		}
		s.termsAccepted, s.acceptedLang = req.Accept, req.Language
		json200(w, 200, struct{}{})
	})
	mux.HandleFunc("GET "+base+"/api/recordings", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		switch {
		case !session(r):
			json200(w, 401, map[string]string{"error": "no session"})
		case !s.termsAccepted:
			json200(w, 403, map[string]string{"error": "terms not accepted"})
		default:
			json200(w, 200, map[string]any{"timeZone": "Europe/Oslo", "recordings": s.recordings})
		}
	})
	mux.HandleFunc("GET "+base+"/audio/{id}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		ok := session(r)
		s.mu.Unlock()
		if !ok {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "audio/wav")
		http.ServeContent(w, r, "a.wav", time.Time{}, bytes.NewReader(s.wav))
	})
	return http.NewCrossOriginProtection().Handler(mux) // as the zone's POST routes
}

func (s *stubLink) set(f func(s *stubLink)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// testWAV is seconds of a 440 Hz tone, 8 kHz 16-bit mono.
func testWAV(seconds int) []byte {
	const rate = 8000
	n := rate * seconds
	var b bytes.Buffer
	le := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	le(uint32(36 + 2*n))
	b.WriteString("WAVEfmt ")
	le(uint32(16))
	le(uint16(1))
	le(uint16(1))
	le(uint32(rate))
	le(uint32(2 * rate))
	le(uint16(2))
	le(uint16(16))
	b.WriteString("data")
	le(uint32(2 * n))
	for i := range n {
		le(int16(8000 * math.Sin(2*math.Pi*440*float64(i)/rate)))
	}
	return b.Bytes()
}

func pageType(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.value = %q; s.dispatchEvent(new Event("input", {bubbles: true})); })()`, sel, value))
}

const msg = `document.getElementById("message").textContent`

// TestPageBrowser drives the page's script through every step against a
// stand-in for the API, under a strict CSP, on a phone-sized screen too.
func TestPageBrowser(t *testing.T) {
	ctx := browsertest.New(t)
	stub := &stubLink{codeAnswer: 202, wav: testWAV(30), recordings: []map[string]any{
		{"id": "r1", "start": "2026-11-20T09:00:00Z", "durationMs": 30000, "accessNumber": "+4722000000", "queueName": "Support",
			"audio": "/p/T/audio/r1", "expiresAt": "2026-12-06T22:59:00Z"},
		{"id": "r2", "start": "2026-11-20T10:15:00Z", "durationMs": 3723000, "audio": "/p/T/audio/r2", "expiresAt": "2026-12-06T22:59:00Z"},
	}}
	srv := httptest.NewServer(stub.routes())
	t.Cleanup(srv.Close)
	no := langTexts["no"].page

	// The code step, in the grant's language, with the stylesheet applied under the CSP.
	browsertest.Do(t, ctx, "open the link", chromedp.Navigate(srv.URL+"/p/T"))
	browsertest.Wait(t, ctx, "code step", `document.body.dataset.step === "code"`)
	pageShot(t, ctx, "page-code")
	if got := browsertest.Eval[string](t, ctx, `document.getElementById("request-code").textContent`); got != no["requestCode"] {
		t.Fatalf("#request-code says %q", got)
	}
	if got := browsertest.Eval[string](t, ctx, `getComputedStyle(document.body).maxWidth`); got != "672px" {
		t.Fatalf("the stylesheet is not applied: body max-width %q", got)
	}
	if !browsertest.Eval[bool](t, ctx, `document.getElementById("step-terms").hidden && document.getElementById("step-recordings").hidden && document.getElementById("message").hidden`) {
		t.Fatal("more than the code step is shown")
	}

	browsertest.Do(t, ctx, "request a code", chromedp.Click(`#request-code`))
	browsertest.Wait(t, ctx, "code sent", msg+` === `+jsString(no["codeSent"]))

	browsertest.Do(t, ctx, "a malformed code", pageType(`#code`, "12ab"), chromedp.Click(`#submit-code`))
	browsertest.Wait(t, ctx, "format message", msg+` === `+jsString(no["codeFormat"]))
	browsertest.Do(t, ctx, "a wrong code", pageType(`#code`, "000 000"), chromedp.Click(`#submit-code`))
	browsertest.Wait(t, ctx, "attempts left", msg+` === `+jsString(strings.ReplaceAll(no["wrongCode"], "{n}", "4")))

	stub.set(func(s *stubLink) { s.codeAnswer = 429 })
	browsertest.Do(t, ctx, "too many codes", chromedp.Click(`#request-code`))
	browsertest.Wait(t, ctx, "wait message", msg+`.startsWith(`+jsString(strings.Split(no["tooManyUntil"], "{time}")[0])+`) && /\d\d:\d\d/.test(`+msg+`)`)
	stub.set(func(s *stubLink) { s.codeAnswer = 202 })

	// The right code: the terms in Norwegian, then the recordings.
	browsertest.Do(t, ctx, "the right code", pageType(`#code`, "123456"), chromedp.Click(`#submit-code`))
	browsertest.Wait(t, ctx, "terms step", `document.body.dataset.step === "terms"`)
	if got := browsertest.Eval[string](t, ctx, `document.getElementById("terms").textContent`); got != DefaultTerms("no") {
		t.Fatalf("terms shown: %q", got)
	}
	if !browsertest.Eval[bool](t, ctx, `document.getElementById("terms-fallback").hidden`) {
		t.Fatal("the English-fallback note shows for Norwegian terms")
	}
	browsertest.Do(t, ctx, "accept", chromedp.Click(`#accept-terms`))
	browsertest.Wait(t, ctx, "recordings step", `document.body.dataset.step === "recordings" && document.querySelectorAll("#recordings audio").length === 2`)
	stub.mu.Lock()
	accepted := stub.acceptedLang
	stub.mu.Unlock()
	if accepted != "no" {
		t.Fatalf("accepted terms in %q, want no", accepted)
	}

	// Several recordings: collapsed, each with its details and a player without download.
	if n := browsertest.Eval[int](t, ctx, `document.querySelectorAll("#recordings details[open]").length`); n != 0 {
		t.Fatalf("%d of two recordings open", n)
	}
	r1 := browsertest.Eval[string](t, ctx, `document.querySelector('details[data-id="r1"]').textContent`)
	for _, want := range []string{"20.11.2026", "10:00", "0:30", "+4722000000", "Support", "06.12.2026 23:59 (Europe/Oslo)", no["accessNumber"], no["queueName"], no["accessEnds"]} {
		if !strings.Contains(r1, want) {
			t.Errorf("recording r1 lacks %q: %q", want, r1)
		}
	}
	r2 := browsertest.Eval[string](t, ctx, `document.querySelector('details[data-id="r2"]').textContent`)
	if !strings.Contains(r2, "1:02:03") || strings.Contains(r2, no["accessNumber"]) || strings.Contains(r2, no["queueName"]) {
		t.Errorf("recording r2: %q", r2)
	}
	if bad := browsertest.Eval[int](t, ctx, `document.querySelectorAll("a, [download]").length`); bad != 0 {
		t.Fatalf("%d links or download attributes on the page", bad)
	}
	if !browsertest.Eval[bool](t, ctx, `Array.from(document.querySelectorAll("audio")).every(a => a.controls && a.controlsList.contains("nodownload") && a.getAttribute("src").startsWith("/p/T/audio/"))`) {
		t.Fatal("a player without controlslist=nodownload")
	}
	if !browsertest.Eval[bool](t, ctx, `(() => { const e = new MouseEvent("contextmenu", {bubbles: true, cancelable: true}); return !document.querySelector('audio[data-id="r1"]').dispatchEvent(e); })()`) {
		t.Fatal("the player's context menu is not suppressed")
	}

	// Play, and the time advances.
	browsertest.Do(t, ctx, "play", chromedp.Evaluate[chromedp.Void](`document.querySelector('details[data-id="r1"]').open = true; document.querySelector('audio[data-id="r1"]').play(); undefined`))
	browsertest.Wait(t, ctx, "playing", `(() => { const a = document.querySelector('audio[data-id="r1"]'); return !a.paused && a.currentTime > 0.5; })()`)

	// The playing recording is cancelled: it stops and leaves; the other stays.
	browsertest.Do(t, ctx, "keep a handle on the player", chromedp.Evaluate[chromedp.Void](`window.r1 = document.querySelector('audio[data-id="r1"]'); undefined`))
	stub.set(func(s *stubLink) { s.recordings = s.recordings[1:] })
	browsertest.Wait(t, ctx, "r1 removed", `!document.querySelector('[data-id="r1"]') && window.r1.paused && !!document.querySelector('audio[data-id="r2"]')`)

	// A phone: nothing wider than the screen, touch targets at least 44 px.
	browsertest.Do(t, ctx, "phone", chromedp.EmulateViewport(360, 740))
	pageShot(t, ctx, "page-phone")
	if w := browsertest.Eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 360 {
		t.Errorf("the page is %d px wide on a 360 px screen", w)
	}
	if h := browsertest.Eval[float64](t, ctx, `Math.min(...Array.from(document.querySelectorAll("button, select, summary")).filter(e => e.offsetParent).map(e => e.getBoundingClientRect().height))`); h < 44 {
		t.Errorf("a touch target is %.0f px high", h)
	}
	browsertest.Do(t, ctx, "desktop", chromedp.EmulateViewport(1280, 900))

	// The session ends while the page polls: back to the code step.
	stub.set(func(s *stubLink) { s.sessionValid = false })
	browsertest.Wait(t, ctx, "session ended", `document.body.dataset.step === "code" && `+msg+` === `+jsString(no["sessionEnded"])+` && !document.querySelector("#recordings audio")`)

	// Another language: Latvian page, terms changed (accept again), shown in English.
	browsertest.Do(t, ctx, "new code", pageType(`#code`, "123456"), chromedp.Click(`#submit-code`))
	browsertest.Wait(t, ctx, "recordings again", `document.body.dataset.step === "recordings"`)
	stub.set(func(s *stubLink) { s.termsAccepted = false })
	browsertest.Do(t, ctx, "switch to Latvian", chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById("lang"); s.value = "lv"; s.dispatchEvent(new Event("change")); })()`))
	browsertest.Wait(t, ctx, "Latvian page", `location.search === "?lang=lv" && document.documentElement.lang === "lv-LV" && document.body.dataset.step === "terms"`)
	lv := langTexts["lv"].page
	if got := browsertest.Eval[string](t, ctx, `document.getElementById("terms").textContent`); got != DefaultTerms("en") {
		t.Fatalf("fallback terms: %q", got)
	}
	if got := browsertest.Eval[string](t, ctx, `document.getElementById("terms-fallback").hidden ? "" : document.getElementById("terms-fallback").textContent`); got != lv["termsFallback"] {
		t.Fatalf("fallback note %q", got)
	}
	browsertest.Do(t, ctx, "accept English terms", chromedp.Click(`#accept-terms`))
	browsertest.Wait(t, ctx, "one recording, open", `document.body.dataset.step === "recordings" && document.querySelectorAll("#recordings details[open]").length === 1`)
	browsertest.Do(t, ctx, "phone", chromedp.EmulateViewport(360, 740))
	pageShot(t, ctx, "page-recording-phone")
	browsertest.Do(t, ctx, "desktop", chromedp.EmulateViewport(1280, 900))
	stub.mu.Lock()
	accepted = stub.acceptedLang
	stub.mu.Unlock()
	if accepted != "en" {
		t.Fatalf("accepted terms in %q, want en (the text shown)", accepted)
	}

	// The last recording expires: the link has expired.
	stub.set(func(s *stubLink) { s.recordings = nil })
	browsertest.Wait(t, ctx, "expired", `document.body.dataset.step === "expired" && `+msg+` === `+jsString(lv["expired"])+` && document.getElementById("step-recordings").hidden`)
}

// pageShot saves the page to $CALLVAULT_SCREENSHOTS, when set.
func pageShot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("CALLVAULT_SCREENSHOTS")
	if dir == "" {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestPageBrowserDark: under prefers-color-scheme: dark the playback page
// turns dark (background, text, fields and notices), with readable text;
// in light it stays light.
func TestPageBrowserDark(t *testing.T) {
	ctx := browsertest.New(t)
	stub := &stubLink{codeAnswer: 202, wav: testWAV(5), recordings: []map[string]any{
		{"id": "r1", "start": "2026-11-20T09:00:00Z", "durationMs": 5000, "audio": "/p/T/audio/r1", "expiresAt": "2026-12-06T22:59:00Z"},
	}}
	srv := httptest.NewServer(stub.routes())
	t.Cleanup(srv.Close)
	// lum is a colour's relative luminance; contrast two colours' ratio.
	const lookJS = `function lum(c) { const [r, g, b] = c.match(/[\d.]+/g).map(Number).slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; }
function contrast(a, b) { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); }
const bg = getComputedStyle(document.body).backgroundColor, fg = getComputedStyle(document.body).color;
const field = getComputedStyle(document.getElementById("code")).backgroundColor;
`
	for _, c := range []struct {
		scheme string
		check  string
	}{
		{"light", `lum(bg) > 0.9 && contrast(fg, bg) >= 7`},
		{"dark", `lum(bg) < 0.05 && lum(field) < 0.05 && contrast(fg, bg) >= 7 && contrast(getComputedStyle(document.getElementById("request-code")).color, getComputedStyle(document.getElementById("request-code")).backgroundColor) >= 4.5`},
	} {
		browsertest.Do(t, ctx, c.scheme, browsertest.ColorScheme(c.scheme), chromedp.Navigate(srv.URL+"/p/T"))
		browsertest.Wait(t, ctx, "code step", `document.body.dataset.step === "code"`)
		if !browsertest.Eval[bool](t, ctx, "(() => {"+lookJS+"return "+c.check+"; })()") {
			got := browsertest.Eval[string](t, ctx, `getComputedStyle(document.body).backgroundColor + " / " + getComputedStyle(document.body).color`)
			t.Errorf("%s: the page's colours are %s", c.scheme, got)
		}
		browsertest.Screenshot(t, ctx, "page-code-"+c.scheme)
	}
	// The notice of a sent code reads well in dark too.
	browsertest.Do(t, ctx, "request a code", chromedp.Click(`#request-code`))
	browsertest.Wait(t, ctx, "code sent", `!document.getElementById("message").hidden`)
	if !browsertest.Eval[bool](t, ctx, `(() => {`+lookJS+`const m = document.getElementById("message"); return lum(getComputedStyle(m).backgroundColor) < 0.1 && contrast(getComputedStyle(m).color, getComputedStyle(m).backgroundColor) >= 4.5; })()`) {
		t.Error("the notice stays light in dark")
	}
	browsertest.Screenshot(t, ctx, "page-code-sent-dark")
}
